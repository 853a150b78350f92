//! Criterion benches of single-operation costs for handles and every baseline (one thread):
//! scoped lookup, counted lookup (retain + release), insert and remove.
//!
//! `cargo bench -p bench --bench ops` (filter with e.g. `-- lookup/handles`). Each benchmark
//! is `OP/DESIGN`, a group per operation, so criterion writes its estimates to
//! `target/criterion/OP/DESIGN/new/estimates.json` (read by the `criterion_tsv` binary).

use bench::designs::{ALL, Design};
use bench::with_design;
use bench::workload::{Rng, drain, fill};
use criterion::Criterion;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Live ids in the table while lookups run.
const LIVE: usize = 1024;

fn bench_design<D: Design>(c: &mut Criterion) {
    let table = Box::new(D::create());
    let ids = fill(&*table, LIVE);
    let mut rng = Rng::new(7);
    let order: Vec<u64> = (0..4096).map(|_| ids[rng.below(LIVE)]).collect();

    let mut i = 0;
    c.benchmark_group("lookup").bench_function(D::NAME, |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            // SAFETY: the ids in `order` stay live until `drain` below.
            unsafe { table.with(black_box(order[i]), |v| *v) }
        })
    });
    c.benchmark_group("retain-release")
        .bench_function(D::NAME, |b| {
            b.iter(|| {
                i = (i + 1) & 4095;
                // SAFETY: as above.
                unsafe { table.counted(black_box(order[i])) }
            })
        });
    // Insert and remove are timed in chunks of `LIVE` operations, and the table is put back
    // (untimed) after each chunk, so every sample sees the same steady-state table however
    // many iterations criterion asks for.
    c.benchmark_group("insert").bench_function(D::NAME, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut out = Vec::with_capacity(LIVE);
            let mut left = iters;
            while left > 0 {
                let k = left.min(LIVE as u64);
                let start = Instant::now();
                for v in 0..k {
                    out.push(table.insert(black_box(v)));
                }
                total += start.elapsed();
                drain(&*table, &out);
                out.clear();
                left -= k;
            }
            total
        })
    });
    c.benchmark_group("remove").bench_function(D::NAME, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let k = left.min(LIVE as u64);
                let fresh = fill(&*table, k as usize);
                let start = Instant::now();
                for &id in &fresh {
                    // SAFETY: fresh ids, each removed once.
                    black_box(unsafe { table.remove(black_box(id)) });
                }
                total += start.elapsed();
                left -= k;
            }
            total
        })
    });
    drain(&*table, &ids);
}

fn ops(c: &mut Criterion) {
    for name in ALL {
        with_design!(name, D => bench_design::<D>(c)).expect("known design");
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    ops(&mut c);
    c.final_summary();
}
