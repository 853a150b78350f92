//! Heavy barriers per 10^6 ended entries: `threads` threads churn (insert, then revoke) on one
//! table until `ends` entries have ended in all, and the process-wide barrier counter
//! (`thread_stats().heavy_barriers`) is read before and after.
//!
//! `cargo run --release -p bench --bin barriers -- [ends] [threads...]`
//! (defaults: 2000000 ended entries; 1 2 8 64 threads). Prints a TSV row per thread count.

use handles::HandleTable;
use std::sync::Barrier;

fn main() {
    let mut args = std::env::args().skip(1);
    let ends: u64 = args
        .next()
        .map_or(2_000_000, |a| a.parse().expect("ends: a number"));
    let mut threads: Vec<usize> = args.map(|a| a.parse().expect("threads: numbers")).collect();
    if threads.is_empty() {
        threads = vec![1, 2, 8, 64];
    }
    println!("threads\tended\theavy_barriers\tper_million_ended\tasymmetric");
    for &n in &threads {
        let table: HandleTable<u64> = HandleTable::new();
        let start = Barrier::new(n + 1);
        let per_thread = ends / n as u64;
        let before = std::thread::scope(|s| {
            for t in 0..n {
                let (table, start) = (&table, &start);
                s.spawn(move || {
                    start.wait();
                    for i in 0..per_thread {
                        let h = table.insert(t as u64 ^ i);
                        table.revoke(h).unwrap();
                    }
                });
            }
            let before = handles::thread_stats().heavy_barriers;
            start.wait();
            before
        });
        table.flush();
        let stats = handles::thread_stats();
        let barriers = stats.heavy_barriers - before;
        let ended = per_thread * n as u64;
        println!(
            "{n}\t{ended}\t{barriers}\t{:.1}\t{}",
            barriers as f64 * 1e6 / ended as f64,
            stats.asymmetric_barrier
        );
    }
}
