//! The demo: a Rust library keeps its objects in a static typed table and exposes them to
//! C as `uint64_t` handles through `extern "C"` functions. This program plays the C side: it
//! creates widgets, shares their handles with several threads that call the entry points
//! millions of times, then shows what happens to stale, forged and double-freed handles.
//!
//! Run: `cargo run --release -p ffi-handles --example demo`

use ffi_handles::{HandleTable, ffi};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---- The Rust library ---------------------------------------------------------------------

/// A Rust object that C holds by handle.
pub struct Widget {
    name: String,
    id: u32,
}

static DROPPED: AtomicUsize = AtomicUsize::new(0);

impl Drop for Widget {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

static WIDGETS: HandleTable<Widget> = HandleTable::new();

/// Status codes the C side sees: the C API's `hdl_status` values.
pub const OK: u32 = 0;
/// The handle was 0 (`HDL_STATUS_NULL_HANDLE`).
pub const ERR_NULL: u32 = 1;

ffi_handles::entry_points! {
    table: WIDGETS, status: u32;
    /// `uint64_t widget_new(uint32_t id)`: creates a widget; returns its handle (0 if full).
    new widget_new(id: u32) = Widget { name: format!("widget-{id}"), id };
    /// `uint32_t widget_free(uint64_t h)`: revokes the handle.
    revoke widget_free;
}

/// `uint32_t widget_id(uint64_t h, uint32_t *out)`: a hot callback doing a scoped lookup.
#[unsafe(no_mangle)]
pub extern "C" fn widget_id(h: u64, out: Option<&mut u32>) -> u32 {
    ffi::lookup_into(&WIDGETS, h, out, |w| w.id)
}

/// `int widget_name_len(uint64_t h)`: length of the name, or -1.
#[unsafe(no_mangle)]
pub extern "C" fn widget_name_len(h: u64) -> i32 {
    ffi::call_or(-1, || {
        ffi::with(&WIDGETS, h, |w| w.name.len() as i32).unwrap_or(-1)
    })
}

// ---- The "C" side ---------------------------------------------------------------------------

fn describe(code: u32) -> &'static str {
    match code {
        OK => "ok",
        ERR_NULL => "rejected: null handle",
        _ => "rejected: bad handle",
    }
}

fn main() {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    println!("handles demo: a static HandleTable<Widget> behind extern \"C\" entry points\n");

    let handles: Vec<u64> = (0..1024).map(|id| widget_new(id)).collect();
    println!(
        "created {} widgets; first handle {:#018x}",
        handles.len(),
        handles[0]
    );

    // Many threads call the hot entry point with shared handles at once.
    let per_thread = 5_000_000usize;
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let handles = &handles;
            s.spawn(move || {
                let mut sum = 0u64;
                let mut out = 0u32;
                for i in 0..per_thread {
                    let h = handles[(i * 7 + t) & 1023];
                    let rc = widget_id(black_box(h), Some(&mut out));
                    assert_eq!(rc, OK);
                    sum += u64::from(out);
                }
                black_box(sum);
            });
        }
    });
    let elapsed = start.elapsed();
    let calls = threads * per_thread;
    println!(
        "{threads} threads made {calls} widget_id() calls in {:.1} ms: {:.1} M calls/s ({:.2} ns per call per thread)",
        ms(elapsed),
        calls as f64 / elapsed.as_secs_f64() / 1e6,
        elapsed.as_nanos() as f64 * threads as f64 / calls as f64,
    );

    // Misuse from C is a clean error, never undefined behaviour.
    let victim = handles[0];
    println!(
        "\nwidget_name_len(live)        -> {}",
        widget_name_len(victim)
    );
    println!(
        "widget_free(live)            -> {}",
        describe(widget_free(victim))
    );
    println!(
        "widget_id(stale)             -> {}",
        describe(widget_id(victim, Some(&mut 0)))
    );
    println!(
        "widget_free(stale)           -> {}",
        describe(widget_free(victim))
    );
    println!(
        "widget_id(0)                 -> {}",
        describe(widget_id(0, Some(&mut 0)))
    );
    // Flipping index bits can land on another live handle (that is just a valid handle);
    // a forged value with a generation never issued is caught.
    let forged = handles[5] | (1 << 60);
    println!(
        "widget_id(forged)            -> {}",
        describe(widget_id(forged, Some(&mut 0)))
    );
    WIDGETS.flush(); // reclaim the freed widget now, so its slot is reused below
    let reused = widget_new(4242);
    println!(
        "slot reused: new handle {reused:#018x} (next generation) != old {victim:#018x}; old still {}",
        describe(widget_id(victim, Some(&mut 0)))
    );

    for &h in &handles[1..] {
        assert_eq!(widget_free(h), OK);
    }
    widget_free(reused);
    WIDGETS.flush();
    println!(
        "\nfreed everything: {} live, {} widgets dropped (each exactly once)",
        WIDGETS.len(),
        DROPPED.load(Ordering::Relaxed)
    );
    println!(
        "thread records: {} (recycled as threads exit); fence-free lookups: {}",
        ffi_handles::thread_stats().records,
        ffi_handles::thread_stats().asymmetric_barrier
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
