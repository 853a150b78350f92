//! The scaling workloads and the runner of fixed-time cells, round robin across designs.
//!
//! - `churn`: each thread loops insert → 4 scoped lookups → remove of its own id (6 ops).
//! - `take-churn`: the same with `take` (the value moved out) instead of `remove`.
//! - `read-1k`, `read-1m`, `read-10m`: scoped lookups of uniformly random ids among P live ids
//!   filled before the cell (P = 10^3, 10^6, 10^7).
//! - `read-hot`: every thread looks up the same id.
//! - `mixed`: 90% scoped lookups of random ids among 100,000 live shared ids, 5% inserts and 5%
//!   removes of the thread's own ids (threads remove only their own ids, so the unchecked
//!   `raw` design stays sound).
//!
//! Values ([`Workload::writes`]): the write workloads (churn, take-churn, mixed) store
//! `Arc<u64>` in every design, each insert a clone of the worker's own `Arc` (made when the
//! worker starts its run: one per thread, so no two threads share its reference count); the
//! shared ids are filled with distinct `Arc`s, and a lookup reads the `u64` behind the `Arc`.
//! The read workloads store `u64`.
//!
//! One op is one table operation. Threads run until the main thread raises a stop flag after
//! the run's duration; they check it every 64 ops. A cell's worker threads are spawned once
//! ([`run_point`]) and run every repeat of every design, round robin (design A run 1, B run 1,
//! …, A run 2, …), so a burst of background load hits all designs alike.

use crate::designs::{Design, Value};
use crate::sys;
use std::hint::black_box;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
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

/// Live shared ids for `mixed`.
pub const MIXED_LIVE: usize = 100_000;

/// Live ids in the table `churn`, `take-churn` and `read-hot` run on.
pub const SMALL_LIVE: usize = 1000;

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
            Workload::Mixed => MIXED_LIVE,
            Workload::Churn | Workload::TakeChurn | Workload::ReadHot => SMALL_LIVE,
        }
    }

    /// Whether the workload inserts and ends entries (churn, take-churn, mixed): these store
    /// `Arc<u64>` values; the read workloads store `u64`.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Workload::Churn | Workload::TakeChurn | Workload::Mixed
        )
    }
}

/// One measured cell: the best of its repeats, with the background load over all of them.
#[derive(Clone, Debug)]
pub struct Cell {
    /// Design name.
    pub design: String,
    /// Workload name.
    pub workload: String,
    /// The value type every design stored (`u64` or `Arc<u64>`).
    pub value: &'static str,
    /// Worker threads.
    pub threads: usize,
    /// Operations done by all threads in the best run.
    pub ops: u64,
    /// Wall time of the best run, from the first worker's start to the last worker's stop, s.
    pub wall_s: f64,
    /// Process CPU time (user + system) during the best run, seconds.
    pub cpu_s: f64,
    /// 1-minute load average before the cell's first run.
    pub load1: f64,
    /// Cores other processes kept busy during the cell's runs: the highest of its repeats.
    pub background_cores: f64,
    /// The same, the mean over the cell's repeats.
    pub background_cores_mean: f64,
    /// Runs of this cell (the best is kept).
    pub repeats: usize,
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
    pub const TSV_HEADER: &'static str = "design\tworkload\tthreads\tops\twall_s\tmops\tns_per_op_thread\tcpu_ns_per_op\tload1\tbackground_cores\tbackground_cores_mean\trepeats\tvalue";
    /// One TSV line.
    pub fn tsv(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{:.4}\t{:.3}\t{:.3}\t{:.3}\t{:.2}\t{:.2}\t{:.2}\t{}\t{}",
            self.design,
            self.workload,
            self.threads,
            self.ops,
            self.wall_s,
            self.mops(),
            self.ns_per_op_thread(),
            self.cpu_ns_per_op(),
            self.load1,
            self.background_cores,
            self.background_cores_mean,
            self.repeats,
            self.value
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

/// Inserts `n` values (`V::make(0..n)`) and returns their ids (single thread).
pub fn fill<V: Value, D: Design<V>>(table: &D, n: usize) -> Vec<u64> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n as u64 {
        ids.push(table.insert(V::make(i)));
    }
    ids
}

/// Removes every id in `ids` (each once).
pub fn drain<V: Value, D: Design<V>>(table: &D, ids: &[u64]) {
    for &id in ids {
        // SAFETY: the caller passes ids it inserted and has not removed.
        unsafe { table.remove(id) };
    }
}

const BATCH: u64 = 64;

/// Runs one worker thread of `workload` until `stop`; returns its op count.
fn worker<V: Value, D: Design<V>>(
    table: &D,
    shared: &[u64],
    w: Workload,
    seed: u64,
    stop: &AtomicBool,
) -> u64 {
    let mut rng = Rng::new(seed);
    let mut ops = 0u64;
    let mut sum = 0u64;
    // This thread's value: every insert stores a clone of it.
    let mine = V::make(seed);
    match w {
        Workload::Churn | Workload::TakeChurn => {
            let take = w == Workload::TakeChurn;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..BATCH / 8 {
                    let id = table.insert(mine.clone());
                    for _ in 0..4 {
                        // SAFETY: `id` is this thread's own live id until the remove below.
                        sum += unsafe { table.with(black_box(id), V::read) }.unwrap_or(1);
                    }
                    if take {
                        // SAFETY: taken once, by its owner, with no lookup left.
                        let v = unsafe { table.take(id) }.expect("take of an unborrowed entry");
                        sum += v.read();
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
                    sum += unsafe { table.with(black_box(id), V::read) }.unwrap_or(1);
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
                        sum += unsafe { table.with(black_box(id), V::read) }.unwrap_or(1);
                    } else if r < 95 || own.is_empty() {
                        own.push(table.insert(mine.clone()));
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

/// One design's table with its live shared ids, behind a trait object so that the runs of
/// several designs (of different types) can be interleaved on the same worker threads.
pub trait Subject: Sync {
    /// The design's name.
    fn name(&self) -> &'static str;
    /// The value type the table stores.
    fn value(&self) -> &'static str;
    /// One worker thread's part of a run of `w`, until `stop`; returns its op count.
    fn work(&self, w: Workload, thread: usize, stop: &AtomicBool) -> u64;
}

/// A design's table filled with `n` shared ids; drained when dropped.
pub struct Prepared<V: Value, D: Design<V>> {
    table: Box<D>,
    ids: Vec<u64>,
    _value: PhantomData<fn() -> V>,
}

impl<V: Value, D: Design<V>> Prepared<V, D> {
    /// A new table of design `D` with `n` values `V::make(0..n)`.
    pub fn new(n: usize) -> Self {
        let table = Box::new(D::create());
        let ids = fill(&*table, n);
        Prepared {
            table,
            ids,
            _value: PhantomData,
        }
    }
}

impl<V: Value, D: Design<V>> Drop for Prepared<V, D> {
    fn drop(&mut self) {
        drain(&*self.table, &self.ids);
    }
}

impl<V: Value, D: Design<V>> Subject for Prepared<V, D> {
    fn name(&self) -> &'static str {
        D::NAME
    }
    fn value(&self) -> &'static str {
        value_name::<V>()
    }
    fn work(&self, w: Workload, thread: usize, stop: &AtomicBool) -> u64 {
        worker(&*self.table, &self.ids, w, thread as u64 + 1, stop)
    }
}

/// `u64` or `Arc<u64>`, for tables.
pub fn value_name<V: Value>() -> &'static str {
    if std::any::TypeId::of::<V>() == std::any::TypeId::of::<Arc<u64>>() {
        "Arc<u64>"
    } else {
        "u64"
    }
}

/// What one run measured.
struct Run {
    ops: u64,
    wall_s: f64,
    cpu_s: f64,
    background_cores: f64,
}

/// Runs the cells of `workload` at `threads` threads for every subject: `threads` workers are
/// spawned once and run `repeats` rounds, each round one run of `duration` per subject in
/// order. Each run samples the cores other processes kept busy during it (machine busy time
/// from `/proc/stat` less this process's CPU time). Returns one cell per subject, in order:
/// its best run, and the highest and the mean background load over its runs.
pub fn run_point(
    subjects: &[&dyn Subject],
    workload: Workload,
    threads: usize,
    duration: Duration,
    repeats: usize,
) -> Vec<Cell> {
    assert!(threads > 0 && repeats > 0 && !subjects.is_empty());
    let load1 = sys::loadavg1();
    let stop = AtomicBool::new(false);
    // The subject the next run is for; `None` tells the workers to exit.
    let job: Mutex<Option<usize>> = Mutex::new(None);
    let ends: Mutex<Vec<(u64, Instant, Instant)>> = Mutex::new(Vec::with_capacity(threads));
    let start = Barrier::new(threads + 1);
    let done = Barrier::new(threads + 1);
    let mut runs: Vec<Vec<Run>> = subjects.iter().map(|_| Vec::new()).collect();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (stop, job, ends, start, done) = (&stop, &job, &ends, &start, &done);
            s.spawn(move || {
                loop {
                    start.wait();
                    let Some(i) = *job.lock().unwrap_or_else(|e| e.into_inner()) else {
                        return;
                    };
                    let t0 = Instant::now();
                    let ops = subjects[i].work(workload, t, stop);
                    let t1 = Instant::now();
                    ends.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((ops, t0, t1));
                    done.wait();
                }
            });
        }
        for _ in 0..repeats {
            for (i, runs) in runs.iter_mut().enumerate() {
                *job.lock().unwrap_or_else(|e| e.into_inner()) = Some(i);
                stop.store(false, Ordering::Relaxed);
                let busy0 = sys::machine_busy_s();
                let cpu0 = sys::process_cpu_ns();
                let w0 = Instant::now();
                start.wait();
                std::thread::sleep(duration);
                stop.store(true, Ordering::Relaxed);
                done.wait();
                let window = w0.elapsed().as_secs_f64();
                let cpu = (sys::process_cpu_ns() - cpu0) as f64 / 1e9;
                let busy = sys::machine_busy_s() - busy0;
                let mut ends = ends.lock().unwrap_or_else(|e| e.into_inner());
                // Wall time from the first worker's start to the last one's end, as the workers
                // saw it (the main thread may be descheduled after the barrier on a busy machine).
                let first = ends.iter().map(|r| r.1).min().expect("at least one thread");
                let last = ends.iter().map(|r| r.2).max().expect("at least one thread");
                runs.push(Run {
                    ops: ends.iter().map(|r| r.0).sum(),
                    wall_s: (last - first).as_secs_f64(),
                    cpu_s: cpu,
                    background_cores: if busy.is_finite() {
                        ((busy - cpu) / window).max(0.0)
                    } else {
                        f64::NAN
                    },
                });
                ends.clear();
            }
        }
        *job.lock().unwrap_or_else(|e| e.into_inner()) = None;
        start.wait();
    });
    subjects
        .iter()
        .zip(runs)
        .map(|(s, runs)| {
            // NaN (unknown) if any run's sample is.
            let bg_max = runs
                .iter()
                .map(|r| r.background_cores)
                .fold(0.0, |a: f64, b| {
                    if a.is_nan() || b.is_nan() {
                        f64::NAN
                    } else {
                        a.max(b)
                    }
                });
            let bg_mean = runs.iter().map(|r| r.background_cores).sum::<f64>() / runs.len() as f64;
            let best = runs
                .iter()
                .max_by(|a, b| {
                    let m = |r: &Run| r.ops as f64 / r.wall_s;
                    m(a).total_cmp(&m(b))
                })
                .expect("at least one run");
            Cell {
                design: s.name().into(),
                workload: workload.name(),
                value: s.value(),
                threads,
                ops: best.ops,
                wall_s: best.wall_s,
                cpu_s: best.cpu_s,
                load1,
                background_cores: bg_max,
                background_cores_mean: bg_mean,
                repeats: runs.len(),
            }
        })
        .collect()
}
