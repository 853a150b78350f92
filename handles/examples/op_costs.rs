//! Instruction counts per table operation, for callgrind, and heap bytes per live handle.
//!
//! Each operation runs `N` times inside its own `#[inline(never)]` function, so callgrind can
//! count just that function (`--toggle-collect`). `scripts/op-costs.sh` runs every mode and
//! subtracts the empty loop; run it as `bash scripts/op-costs.sh`.
//!
//! Modes: `empty`, `lookup`, `lookup-hot`, `insert`, `remove`, `retain-release`, `callback`
//! (one call through a callback trampoline: lookup, type check, closure), `memory`.

use handles::{Handle, HandleTable};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

const N: usize = 100_000;

/// Counts live heap bytes and their peak.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only adds counters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

static TABLE: HandleTable<u64> = HandleTable::new();

#[inline(never)]
fn measure_empty(hs: &[Handle]) -> u64 {
    let mut sum = 0;
    for &h in hs {
        sum += black_box(h).into_raw() & 1;
    }
    sum
}

#[inline(never)]
fn measure_lookup(hs: &[Handle]) -> u64 {
    let mut sum = 0;
    for &h in hs {
        sum += TABLE.with(black_box(h), |v| *v).unwrap_or(0) & 1;
    }
    sum
}

#[inline(never)]
fn measure_retain_release(hs: &[Handle]) -> u64 {
    let mut sum = 0;
    for &h in hs {
        let h = black_box(h);
        TABLE.retain(h).unwrap();
        sum += TABLE.release(h).unwrap() as u64;
    }
    sum
}

#[inline(never)]
fn measure_insert(out: &mut Vec<Handle>) {
    for i in 0..N as u64 {
        out.push(TABLE.insert(black_box(i)));
    }
}

#[inline(never)]
fn measure_remove(hs: &[Handle]) -> u64 {
    let mut sum = 0;
    for &h in hs {
        sum += TABLE.revoke(black_box(h)).is_ok() as u64;
    }
    sum
}

type Trampoline = extern "C" fn(*mut core::ffi::c_void, u64) -> u64;

#[inline(never)]
fn measure_callback(f: Trampoline, user_data: &[*mut core::ffi::c_void]) -> u64 {
    let mut sum = 0;
    for (i, &u) in user_data.iter().enumerate() {
        sum += f(black_box(u), i as u64) & 1;
    }
    sum
}

fn filled(n: usize) -> Vec<Handle> {
    (0..n as u64).map(|i| TABLE.insert(i)).collect()
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "lookup".into());
    match mode.as_str() {
        "empty" => {
            let hs = filled(1024);
            let hs: Vec<Handle> = (0..N).map(|i| hs[i & 1023]).collect();
            black_box(measure_empty(&hs));
        }
        "lookup" => {
            let hs = filled(1024);
            let hs: Vec<Handle> = (0..N).map(|i| hs[(i * 7) & 1023]).collect();
            black_box(measure_lookup(&hs));
        }
        "lookup-hot" => {
            let h = TABLE.insert(1);
            black_box(measure_lookup(&vec![h; N]));
        }
        "retain-release" => {
            let hs = filled(1024);
            let hs: Vec<Handle> = (0..N).map(|i| hs[(i * 7) & 1023]).collect();
            black_box(measure_retain_release(&hs));
        }
        "insert" => {
            // Steady state: pages exist and freed slots wait on the free list.
            let warm = filled(N);
            for h in warm {
                TABLE.revoke(h).unwrap();
            }
            TABLE.flush();
            let mut out = Vec::with_capacity(N);
            measure_insert(&mut out);
            black_box(out);
        }
        "remove" => {
            let hs = filled(N);
            black_box(measure_remove(&hs));
            TABLE.flush();
        }
        "callback" => {
            let cb = handles::callback::Callback::new(|x: u64| x + 1);
            let user_data = vec![cb.user_data(); N];
            black_box(measure_callback(cb.trampoline1(), &user_data));
        }
        "memory" => memory(),
        other => panic!("unknown mode {other}"),
    }
}

/// Heap bytes per live handle at 1,000,000 live `u64` values, live and peak during the fill.
fn memory() {
    const LIVE_HANDLES: usize = 1_000_000;
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let table: HandleTable<u64> = HandleTable::new();
    let mut worst = 0f64;
    for i in 0..LIVE_HANDLES as u64 {
        black_box(table.insert(i));
        if i >= 1 << 16 && (i - 1).is_power_of_two() || i + 1 == LIVE_HANDLES as u64 {
            // Right after a page is added the unused part is largest: track the worst ratio
            // (from 65,536 handles on, where the fixed 16 KiB table no longer dominates).
            let bytes = table.stats().bytes as f64;
            worst = worst.max(bytes / (i + 1) as f64);
        }
    }
    let stats = table.stats();
    let live = LIVE.load(Ordering::Relaxed) - before;
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let per = |b: usize| b as f64 / LIVE_HANDLES as f64;
    println!("live handles           {LIVE_HANDLES}");
    println!("value size             {} B", std::mem::size_of::<u64>());
    println!("heap bytes (allocator) {live} = {:.2} B/handle", per(live));
    println!("peak during fill       {peak} = {:.2} B/handle", per(peak));
    println!(
        "table bytes (stats)    {} = {:.2} B/handle ({:.2} B beyond the 8-byte value)",
        stats.bytes,
        per(stats.bytes),
        per(stats.bytes) - 8.0
    );
    println!("worst right after a page is added (>= 65,536 handles): {worst:.2} B/handle");
    println!("slots {} in {} pages", stats.slots, stats.pages);
}
