//! Process CPU time and the machine's background load (Linux `/proc`, `getrusage`).

/// User + system CPU time of the whole process so far, in nanoseconds.
pub fn process_cpu_ns() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a valid, writable `rusage`; RUSAGE_SELF is always a valid target.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return 0;
    }
    // SAFETY: getrusage succeeded and filled the struct (it was zeroed before anyway).
    let usage = unsafe { usage.assume_init() };
    let ns = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1000;
    ns(usage.ru_utime) + ns(usage.ru_stime)
}

/// Logical CPUs available to this process.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The 1-minute load average from `/proc/loadavg` (NaN when unavailable).
pub fn loadavg1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Busy clock ticks summed over all CPUs (everything but idle and iowait), from the first line
/// of `/proc/stat`. Only the first eight fields count: guest time is already in user time.
fn busy_ticks() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = s
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    Some(total - idle)
}

/// CPU seconds the whole machine has been busy since boot (all processes, this one included):
/// the difference over a run less this process's CPU time is the load of other processes.
/// Resolution one clock tick (10 ms per CPU with the usual 100 Hz). NaN when unavailable.
pub fn machine_busy_s() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    match busy_ticks() {
        Some(t) if hz > 0 => t as f64 / hz as f64,
        _ => f64::NAN,
    }
}
