//! Heap bytes per live handle for every design, at 10^6 and 10^7 live `u64` values: live after
//! the fill and peak during it, measured with a counting global allocator.
//!
//! ```text
//! cargo run --release -p bench --bin memory -- [--designs a,b] [--sizes 1000000,10000000] [--out PATH]
//! ```
//! Columns: total heap bytes per handle (value included), the overhead beyond the 8-byte
//! value, the peak during the fill (divided by the final count), and the worst ratio of live
//! bytes to handles inserted so far at any moment of the fill (from 65,536 handles on). The ids themselves live in a `Vec<u64>` allocated
//! before the measurement starts, so they are not counted. Writes a TSV (default
//! bench/results/memory.tsv). For handles it also prints the table's own account
//! (`HandleTable::stats`: bytes, slots, pages) at the end of the fill.

use bench::designs::{ALL, Design, Handles};
use bench::with_design;
use std::alloc::{GlobalAlloc, Layout, System};
use std::any::Any;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live heap bytes (requested sizes) and their peak.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(size: usize) {
    let now = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: forwards to the system allocator unchanged; only adds counters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as the allocator sees it: old and new block both live at the peak.
        grew(new_size);
        // SAFETY: same contract as ours.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

struct Row {
    design: &'static str,
    n: usize,
    live: usize,
    peak: usize,
    worst: f64,
    /// handles only: the table's statistics at the end of the fill.
    stats: Option<handles::Stats>,
}

/// The worst bytes-per-handle ratio is tracked from this many handles on (below it, fixed
/// costs such as an empty table's 32 KiB dominate any ratio).
const WORST_FROM: u64 = 65_536;

fn measure<D: Design>(n: usize) -> Row {
    let mut ids: Vec<u64> = Vec::with_capacity(n);
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let table = Box::new(D::create());
    let mut worst = 0f64;
    for i in 0..n as u64 {
        ids.push(table.insert(black_box(i)));
        if i >= WORST_FROM {
            let now = (LIVE.load(Ordering::Relaxed) - before) as f64 / (i + 1) as f64;
            worst = worst.max(now);
        }
    }
    let live = LIVE.load(Ordering::Relaxed) - before;
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let stats = (&*table as &dyn Any)
        .downcast_ref::<Handles>()
        .map(|t| t.table().stats());
    for &id in &ids {
        // SAFETY: each id removed once.
        unsafe { table.remove(id) };
    }
    drop(table);
    Row {
        design: D::NAME,
        n,
        live,
        peak,
        worst,
        stats,
    }
}

fn main() {
    let mut designs: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
    let mut sizes = vec![1_000_000usize, 10_000_000];
    let mut out = "bench/results/memory.tsv".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--designs" => designs = v.split(',').map(str::to_string).collect(),
            "--sizes" => sizes = v.split(',').filter_map(|s| s.parse().ok()).collect(),
            "--out" => out = v,
            other => {
                eprintln!("memory: unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    let mut tsv = String::from(
        "design\tlive_handles\ttotal_B_per_handle\toverhead_B_per_handle\tpeak_B_per_handle\tpeak_overhead_B_per_handle\tworst_B_per_handle_during_fill\n",
    );
    println!(
        "{:<15} {:>10} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "design", "handles", "B/handle", "overhead", "peak B/h", "peak ovh", "worst B/h"
    );
    for n in sizes {
        for d in &designs {
            let Some(r) = with_design!(d.as_str(), D => measure::<D>(n)) else {
                eprintln!("memory: unknown design {d}");
                std::process::exit(2);
            };
            let per = |b: usize| b as f64 / r.n as f64;
            let value = std::mem::size_of::<u64>() as f64;
            println!(
                "{:<15} {:>10} {:>12.2} {:>12.2} {:>12.2} {:>12.2} {:>12.2}",
                r.design,
                r.n,
                per(r.live),
                per(r.live) - value,
                per(r.peak),
                per(r.peak) - value,
                r.worst
            );
            if let Some(s) = &r.stats {
                println!(
                    "{:<15} table stats: {} B = {:.2} B/handle ({:.2} B beyond the value); {} slots in {} pages",
                    "",
                    s.bytes,
                    per(s.bytes),
                    per(s.bytes) - value,
                    s.slots,
                    s.pages
                );
            }
            tsv.push_str(&format!(
                "{}\t{}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\n",
                r.design,
                r.n,
                per(r.live),
                per(r.live) - value,
                per(r.peak),
                per(r.peak) - value,
                r.worst
            ));
        }
    }
    if let Some(dir) = std::path::Path::new(&out).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&out, tsv).expect("write TSV");
    println!("wrote {out}");
}
