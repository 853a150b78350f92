//! The scaling workloads and the fixed-time cell runner.
//!
//! - `churn`: each thread loops insert → 4 scoped lookups → remove of its own id (6 ops).
//! - `take-churn`: the same with `take` (the value moved out) instead of `remove`.
//! - `read-1k`, `read-1m`, `read-10m`: scoped lookups of uniformly random ids among P live ids
//!   filled before the cell (P = 10^3, 10^6, 10^7).
//! - `read-hot`: every thread looks up the same id.
//! - `mixed`: 90% scoped lookups of random ids among 1,000 live shared ids, 5% inserts and 5%
//!   removes of the thread's own ids (threads remove only their own ids, so the unchecked
//!   `raw` design stays sound).
//!
//! One op is one table operation. Threads run until the main thread raises a stop flag after
//! the cell's duration; they check it every 64 ops.

use crate::designs::Design;
use crate::sys;
use std::hint::black_box;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A workload of the scaling binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// insert → 4 lookups → remove, own id.
    Churn,
    /// insert → 4 lookups → take, own id.
    TakeChurn,
    /// Uniform random lookups over this many live ids.
    ReadUniform(usize),
    /// All threads look up one id.
    ReadHot,
    /// 90% lookup, 5% insert, 5% remove.
    Mixed,
}

/// Live shared ids for `mixed` (and the table `read-hot` and `churn` run on).
pub const MIXED_LIVE: usize = 1000;

impl Workload {
    /// All workloads, in table order.
    pub const ALL: [Workload; 7] = [
        Workload::Churn,
        Workload::TakeChurn,
        Workload::ReadUniform(1_000),
        Workload::ReadUniform(1_000_000),
        Workload::ReadUniform(10_000_000),
        Workload::ReadHot,
        Workload::Mixed,
    ];

    /// Name on the command line and in tables.
    pub fn name(self) -> String {
        match self {
            Workload::Churn => "churn".into(),
            Workload::TakeChurn => "take-churn".into(),
            Workload::ReadUniform(1_000) => "read-1k".into(),
            Workload::ReadUniform(1_000_000) => "read-1m".into(),
            Workload::ReadUniform(10_000_000) => "read-10m".into(),
            Workload::ReadUniform(p) => format!("read-{p}"),
            Workload::ReadHot => "read-hot".into(),
            Workload::Mixed => "mixed".into(),
        }
    }

    /// Parses a name made by [`Workload::name`] (`read-N` takes any N).
    pub fn parse(s: &str) -> Option<Workload> {
        Some(match s {
            "churn" => Workload::Churn,
            "take-churn" => Workload::TakeChurn,
            "read-1k" => Workload::ReadUniform(1_000),
            "read-1m" => Workload::ReadUniform(1_000_000),
            "read-10m" => Workload::ReadUniform(10_000_000),
            "read-hot" => Workload::ReadHot,
            "mixed" => Workload::Mixed,
            _ => Workload::ReadUniform(s.strip_prefix("read-")?.parse().ok()?),
        })
    }

    /// Live ids the workload needs before it starts.
    pub fn prefill(self) -> usize {
        match self {
            Workload::ReadUniform(p) => p,
            _ => MIXED_LIVE,
        }
    }
}

/// One measured cell.
#[derive(Clone, Debug)]
pub struct Cell {
    /// Design name.
    pub design: String,
    /// Workload name.
    pub workload: String,
    /// Worker threads.
    pub threads: usize,
    /// Operations done by all threads.
    pub ops: u64,
    /// Wall time from the first worker's start to the last worker's stop, seconds.
    pub wall_s: f64,
    /// Process CPU time (user + system) during the cell, seconds.
    pub cpu_s: f64,
    /// 1-minute load average before the cell.
    pub load1: f64,
    /// Cores busy with other work just before the cell.
    pub background_cores: f64,
}

impl Cell {
    /// Million operations per second, all threads together.
    pub fn mops(&self) -> f64 {
        self.ops as f64 / self.wall_s / 1e6
    }
    /// Wall nanoseconds per operation as seen by one thread.
    pub fn ns_per_op_thread(&self) -> f64 {
        self.wall_s * 1e9 * self.threads as f64 / self.ops as f64
    }
    /// Process CPU nanoseconds per operation.
    pub fn cpu_ns_per_op(&self) -> f64 {
        self.cpu_s * 1e9 / self.ops as f64
    }
    /// TSV header matching [`Cell::tsv`].
    pub const TSV_HEADER: &'static str = "design\tworkload\tthreads\tops\twall_s\tmops\tns_per_op_thread\tcpu_ns_per_op\tload1\tbackground_cores";
    /// One TSV line.
    pub fn tsv(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{:.4}\t{:.3}\t{:.3}\t{:.3}\t{:.2}\t{:.2}",
            self.design,
            self.workload,
            self.threads,
            self.ops,
            self.wall_s,
            self.mops(),
            self.ns_per_op_thread(),
            self.cpu_ns_per_op(),
            self.load1,
            self.background_cores
        )
    }
}

/// A small, fast per-thread random generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    /// Seeded generator (the seed is mixed so 0 is fine).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Next 64 random bits.
    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform index below `n` (multiply-shift, no division).
    #[inline(always)]
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// Inserts `n` values and returns their ids (single thread).
pub fn fill<D: Design>(table: &D, n: usize) -> Vec<u64> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n as u64 {
        ids.push(table.insert(i));
    }
    ids
}

/// Removes every id in `ids` (each once).
pub fn drain<D: Design>(table: &D, ids: &[u64]) {
    for &id in ids {
        // SAFETY: the caller passes ids it inserted and has not removed.
        unsafe { table.remove(id) };
    }
}

const BATCH: u64 = 64;

/// Runs one worker thread of `workload` until `stop`; returns its op count.
fn worker<D: Design>(table: &D, shared: &[u64], w: Workload, seed: u64, stop: &AtomicBool) -> u64 {
    let mut rng = Rng::new(seed);
    let mut ops = 0u64;
    let mut sum = 0u64;
    match w {
        Workload::Churn | Workload::TakeChurn => {
            let take = w == Workload::TakeChurn;
            while !stop.load(Ordering::Relaxed) {
                for i in 0..BATCH / 8 {
                    let id = table.insert(i);
                    for _ in 0..4 {
                        // SAFETY: `id` is this thread's own live id until the remove below.
                        sum += unsafe { table.with(black_box(id), |v| *v) }.unwrap_or(1);
                    }
                    if take {
                        // SAFETY: taken once, by its owner, with no lookup left.
                        sum += unsafe { table.take(id) }.expect("take of an unborrowed entry");
                    } else {
                        // SAFETY: removed once, by its owner.
                        unsafe { table.remove(id) };
                    }
                }
                ops += BATCH / 8 * 6;
            }
        }
        Workload::ReadUniform(_) | Workload::ReadHot => {
            let hot = matches!(w, Workload::ReadHot);
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..BATCH {
                    let id = if hot {
                        shared[0]
                    } else {
                        shared[rng.below(shared.len())]
                    };
                    // SAFETY: shared ids stay live for the whole cell.
                    sum += unsafe { table.with(black_box(id), |v| *v) }.unwrap_or(1);
                }
                ops += BATCH;
            }
        }
        Workload::Mixed => {
            let mut own: Vec<u64> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..BATCH {
                    let r = rng.next_u64() % 100;
                    if r < 90 {
                        let id = shared[rng.below(shared.len())];
                        // SAFETY: shared ids stay live for the whole cell.
                        sum += unsafe { table.with(black_box(id), |v| *v) }.unwrap_or(1);
                    } else if r < 95 || own.is_empty() {
                        own.push(table.insert(r));
                    } else {
                        let i = rng.below(own.len());
                        let id = own.swap_remove(i);
                        // SAFETY: an own id, removed once.
                        unsafe { table.remove(id) };
                    }
                }
                ops += BATCH;
            }
            drain(table, &own);
        }
    }
    black_box(sum);
    ops
}

/// Runs one fixed-time cell of `workload` at `threads` threads on `table`, whose `shared` ids
/// are live. `sample` is how long the background load is sampled before the cell.
pub fn run_cell<D: Design>(
    table: &D,
    shared: &[u64],
    workload: Workload,
    threads: usize,
    duration: Duration,
    sample: Duration,
) -> Cell {
    let load1 = sys::loadavg1();
    let background_cores = sys::background_busy_cores(sample);
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(threads + 1);
    let (ops, wall_s, cpu_s) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (stop, barrier) = (&stop, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let ops = worker(table, shared, workload, t as u64 + 1, stop);
                    (ops, start, Instant::now())
                })
            })
            .collect();
        let cpu0 = sys::process_cpu_ns();
        barrier.wait();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        let runs: Vec<(u64, Instant, Instant)> = workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect();
        let cpu = (sys::process_cpu_ns() - cpu0) as f64 / 1e9;
        // Wall time from the first worker's start to the last one's end, as the workers saw it
        // (the main thread may be descheduled after the barrier on a busy machine).
        let first = runs.iter().map(|r| r.1).min().expect("at least one thread");
        let last = runs.iter().map(|r| r.2).max().expect("at least one thread");
        let ops = runs.iter().map(|r| r.0).sum();
        (ops, (last - first).as_secs_f64(), cpu)
    });
    Cell {
        design: D::NAME.into(),
        workload: workload.name(),
        threads,
        ops,
        wall_s,
        cpu_s,
        load1,
        background_cores,
    }
}
