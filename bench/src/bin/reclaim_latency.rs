//! Latency of ending entries, per reclamation policy.
//!
//! * `revoke` and `release` (to zero) latency while 2 threads churn (insert, then end), each
//!   call timed with `Instant`: p50, p99, p99.9 and max, per policy. The value is an `Arc`
//!   clone, as in the churn workload.
//! * Drop latency with the program idle (Background policy): a second thread is registered
//!   (so the value cannot be dropped inside `revoke`), the main thread revokes one entry and
//!   then makes no call; the time until the value's `Drop` runs, over many rounds.
//!
//! `cargo run --release -p bench --bin reclaim_latency -- [ms per policy] [idle rounds]`
//! (defaults 1000 and 200). Prints TSV.

use handles::{HandleTable, ReclaimPolicy};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn churn_latency(table: &'static HandleTable<Arc<u64>>, ms: u64, release: bool) -> Vec<u64> {
    let stop = AtomicBool::new(false);
    let value = Arc::new(7u64);
    let mut all = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (stop, value) = (&stop, value.clone());
                s.spawn(move || {
                    let mut samples = Vec::with_capacity(1 << 20);
                    while !stop.load(Ordering::Relaxed) {
                        let h = table.insert(value.clone());
                        let t = Instant::now();
                        if release {
                            table.release(h).unwrap();
                        } else {
                            table.revoke(h).unwrap();
                        }
                        samples.push(t.elapsed().as_nanos() as u64);
                    }
                    samples
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(ms));
        stop.store(true, Ordering::Relaxed);
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect::<Vec<_>>()
    });
    table.flush();
    all.sort_unstable();
    all
}

static DROPPED_AT: AtomicU64 = AtomicU64::new(0);

struct Stamp(Instant);

impl Drop for Stamp {
    fn drop(&mut self) {
        DROPPED_AT.store(self.0.elapsed().as_nanos() as u64 + 1, Ordering::SeqCst);
    }
}

fn idle_drop_latency(rounds: usize) -> Vec<u64> {
    static TABLE: HandleTable<Stamp> = HandleTable::new();
    TABLE.set_reclaim_policy(ReclaimPolicy::Background);
    let (stop, parked) = std::sync::mpsc::channel::<()>();
    let (ready, registered) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        let t = HandleTable::new();
        t.revoke(t.insert(0u8)).unwrap();
        ready.send(()).unwrap();
        let _ = parked.recv();
    });
    registered.recv().unwrap();
    let mut out = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        DROPPED_AT.store(0, Ordering::SeqCst);
        let h = TABLE.insert(Stamp(Instant::now()));
        // The clock starts at the insert; the revoke follows at once. No call afterwards.
        TABLE.revoke(h).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while DROPPED_AT.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        out.push(DROPPED_AT.load(Ordering::SeqCst));
        std::thread::sleep(Duration::from_millis(20)); // idle between rounds
    }
    drop(stop);
    other.join().unwrap();
    out.sort_unstable();
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let ms: u64 = args.next().map_or(1000, |a| a.parse().expect("ms"));
    let rounds: usize = args.next().map_or(200, |a| a.parse().expect("rounds"));
    println!("what\tpolicy\tsamples\tp50_ns\tp99_ns\tp99.9_ns\tmax_ns");
    for (name, policy) in [
        ("caller", ReclaimPolicy::Caller),
        ("background", ReclaimPolicy::Background),
        ("explicit", ReclaimPolicy::Explicit),
    ] {
        let table: &'static HandleTable<Arc<u64>> = Box::leak(Box::new(HandleTable::new()));
        table.set_reclaim_policy(policy);
        for (op, release) in [("revoke", false), ("release", true)] {
            let s = churn_latency(table, ms, release);
            println!(
                "{op} (2-thread churn)\t{name}\t{}\t{}\t{}\t{}\t{}",
                s.len(),
                percentile(&s, 0.5),
                percentile(&s, 0.99),
                percentile(&s, 0.999),
                s.last().copied().unwrap_or(0)
            );
        }
    }
    let d = idle_drop_latency(rounds);
    println!(
        "drop after end (idle)\tbackground\t{}\t{}\t{}\t{}\t{}",
        d.len(),
        percentile(&d, 0.5),
        percentile(&d, 0.99),
        percentile(&d, 0.999),
        d.last().copied().unwrap_or(0)
    );
}
