//! Process CPU time and the machine's background load (Linux `/proc`, `getrusage`).

use std::time::Duration;

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

/// (busy, total) jiffies summed over all CPUs, from the first line of `/proc/stat`.
fn stat_jiffies() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = s
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// Cores kept busy by the whole machine while this process sleeps for `window` (so: by other
/// processes): sampled from `/proc/stat` before a cell. NaN when unavailable.
pub fn background_busy_cores(window: Duration) -> f64 {
    if window.is_zero() {
        return f64::NAN;
    }
    let Some((b0, t0)) = stat_jiffies() else {
        return f64::NAN;
    };
    std::thread::sleep(window);
    let Some((b1, t1)) = stat_jiffies() else {
        return f64::NAN;
    };
    if t1 == t0 {
        return f64::NAN;
    }
    (b1 - b0) as f64 / (t1 - t0) as f64 * cores() as f64
}
