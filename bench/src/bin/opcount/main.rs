//! Single-thread operation loops for callgrind: each operation runs `N` times inside its own
//! `#[inline(never)]` function, so `--toggle-collect` on that function counts just the loop.
//!
//! ```text
//! opcount DESIGN OP      through the Design trait; OP: empty, lookup, retain-release, insert, remove
//! opcount --direct MODE  handles called directly (direct.rs); MODE: empty, lookup, lookup-hot,
//!                        insert, remove, retain-release, callback
//! ```
//! Through the trait, each loop is `opcount::measure_<op>` and `scripts/bench-callgrind.sh` runs
//! every design and operation; called directly, `scripts/op-costs.sh` runs every mode. Both
//! subtract their empty loop. Lookups cycle over 1,024 live ids in a scrambled order; insert
//! runs in steady state (the table has held `N` entries before, so no growth is counted);
//! remove removes `N` fresh ids.

mod direct;

use bench::designs::Design;
use bench::with_design;
use bench::workload::{drain, fill};
use std::hint::black_box;

/// Operations per measured loop.
const N: usize = 100_000;

#[inline(never)]
fn measure_empty(ids: &[u64]) -> u64 {
    let mut sum = 0;
    for &id in ids {
        sum += black_box(id) & 1;
    }
    sum
}

#[inline(never)]
fn measure_lookup<D: Design>(table: &D, ids: &[u64]) -> u64 {
    let mut sum = 0;
    for &id in ids {
        // SAFETY: ids are live until the caller drains them.
        sum += unsafe { table.with(black_box(id), |v| *v) }.unwrap_or(0) & 1;
    }
    sum
}

#[inline(never)]
fn measure_retain_release<D: Design>(table: &D, ids: &[u64]) -> u64 {
    let mut sum = 0;
    for &id in ids {
        // SAFETY: as above.
        sum += unsafe { table.counted(black_box(id)) }.unwrap_or(0) & 1;
    }
    sum
}

#[inline(never)]
fn measure_insert<D: Design>(table: &D, out: &mut Vec<u64>) {
    for i in 0..N as u64 {
        out.push(table.insert(black_box(i)));
    }
}

#[inline(never)]
fn measure_remove<D: Design>(table: &D, ids: &[u64]) -> u64 {
    let mut sum = 0;
    for &id in ids {
        // SAFETY: fresh ids, each removed once.
        sum += unsafe { table.remove(black_box(id)) } as u64;
    }
    sum
}

fn run<D: Design>(op: &str) -> Result<(), String> {
    let table = D::create();
    let live = fill(&table, 1024);
    let scrambled: Vec<u64> = (0..N).map(|i| live[(i * 7) & 1023]).collect();
    match op {
        "empty" => {
            black_box(measure_empty(&scrambled));
        }
        "lookup" => {
            black_box(measure_lookup(&table, &scrambled));
        }
        "retain-release" => {
            black_box(measure_retain_release(&table, &scrambled));
        }
        "insert" => {
            let warm = fill(&table, N);
            drain(&table, &warm);
            let mut out = Vec::with_capacity(N);
            measure_insert(&table, &mut out);
            drain(&table, &out);
        }
        "remove" => {
            let fresh = fill(&table, N);
            black_box(measure_remove(&table, &fresh));
        }
        other => return Err(format!("unknown op {other}")),
    }
    drain(&table, &live);
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(design), Some(op)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: opcount DESIGN OP | opcount --direct MODE");
        std::process::exit(2);
    };
    let result = if design == "--direct" {
        Some(direct::run(op))
    } else {
        with_design!(design.as_str(), D => run::<D>(op))
    };
    match result {
        Some(Ok(())) => {}
        Some(Err(e)) => {
            eprintln!("opcount: {e}");
            std::process::exit(2);
        }
        None => {
            eprintln!("opcount: unknown design {design}");
            std::process::exit(2);
        }
    }
}
