//! Own test binary: it bounds the process's thread records and expects an empty C registry.
//!
//! Soak test: for `HANDLES_SOAK_SECS` seconds (default 20 in release builds, 3 in
//! debug builds), Rust threads and C threads (pthreads created by C code, `tests/c/soak.c`)
//! mix every operation while threads churn: two supervisors, one Rust and one C, keep
//! starting short-lived workers (a few thousand operations each) until time is up.
//!
//! * Rust workers use every `HandleTable` operation on a table of their own (insert, with, get
//!   with guards held across operations, retain, retain_with, release, remove, take, contains,
//!   len, handles, flush, forged lookups), and the C API's registry through the typed Rust
//!   functions and the `hdl_*` functions (Rust objects next to the C threads' C objects).
//! * C workers use every `hdl_*` function on the registry (see `soak.c`).
//!
//! Handles are shared through slot arrays; a slot owns its entry's owner reference, and whoever
//! swaps a handle out ends it (take or revoke/remove/release). Every value and object records
//! its id and handle, so a lookup reaching another entry is caught.
//!
//! At the end all entries are ended and flushed, then: every Rust value of the table and every
//! Rust object of the registry was dropped exactly once, every C object ended exactly once
//! (destructor or take), the registry is empty, and memory stayed bounded throughout (table
//! slots and pages, thread records; sampled every 50 ms).

use handles::{Error, Guard, Handle, HandleTable};
// The C half (`c/soak.c`) is linked through this crate's library.
use handles_tests as _;
use hdl::HdlStatus as S;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use test_support::XorShift;

unsafe extern "C" {
    fn soak_c_start();
    fn soak_c_stop(threads: *mut u64, ops: *mut u64, objects: *mut u64);
    fn soak_c_check_ends() -> u64;
    fn soak_c_end_owned(h: u64, prefer_take: i32);
    fn soak_slot_swap(slot: u32, h: u64) -> u64;
    fn soak_slot_get(slot: u32) -> u64;
}

/// Type tag of the Rust objects in the registry (the C objects use 0xC0).
const TAG_RUST: u32 = 0x5A;
const MAGIC: u64 = 0x0b1e_c7ed_0b1e_c7ed;
const SLOTS: usize = 64;
const WORKERS: usize = 2;
const OPS_PER_WORKER: usize = 3000;

/// Drop counts by id, in chunks allocated on first use (the run length is not known ahead).
struct Counts {
    chunks: Vec<OnceLock<Box<[AtomicU8]>>>,
    next: AtomicU64,
}

const CHUNK: u64 = 1 << 16;

impl Counts {
    fn new() -> Counts {
        Counts {
            chunks: (0..4096).map(|_| OnceLock::new()).collect(),
            next: AtomicU64::new(0),
        }
    }

    fn new_id(&self) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        assert!(id < CHUNK * self.chunks.len() as u64, "too many values");
        id
    }

    fn cell(&self, id: u64) -> &AtomicU8 {
        let chunk = self.chunks[(id / CHUNK) as usize]
            .get_or_init(|| (0..CHUNK).map(|_| AtomicU8::new(0)).collect());
        &chunk[(id % CHUNK) as usize]
    }

    fn dropped(&self, id: u64) {
        let was = self.cell(id).fetch_add(1, Ordering::SeqCst);
        assert_eq!(was, 0, "value {id} dropped twice");
    }

    /// Asserts every id handed out was dropped exactly once; returns how many there were.
    fn assert_all_once(&self) -> u64 {
        let n = self.next.load(Ordering::SeqCst);
        for id in 0..n {
            let c = self.cell(id).load(Ordering::SeqCst);
            assert_eq!(c, 1, "value {id} dropped {c} times");
        }
        n
    }
}

/// A value (in the Rust table) or object (in the registry), laid out as `struct obj` of
/// `soak.c`, so C code can check the Rust objects it looks up too.
#[repr(C)]
struct Obj {
    magic: AtomicU64,
    id: u64,
    handle: AtomicU64,
    #[allow(dead_code)] // read only through C
    counts: &'static Counts,
}

impl Obj {
    fn new(counts: &'static Counts) -> Obj {
        Obj {
            magic: AtomicU64::new(MAGIC),
            id: counts.new_id(),
            handle: AtomicU64::new(0),
            counts,
        }
    }

    /// Alive, and `raw`'s own value (or too new to know its handle).
    fn check(&self, raw: u64) -> u64 {
        assert_eq!(
            self.magic.load(Ordering::SeqCst),
            MAGIC,
            "value {} read after its drop",
            self.id
        );
        let own = self.handle.load(Ordering::SeqCst);
        assert!(
            own == 0 || own == raw,
            "lookup of {raw:#x} reached the value of {own:#x}"
        );
        self.id
    }
}

impl Drop for Obj {
    fn drop(&mut self) {
        assert_eq!(self.magic.swap(0, Ordering::SeqCst), MAGIC);
        self.counts.dropped(self.id);
    }
}

struct Shared {
    table: HandleTable<Obj>,
    table_counts: &'static Counts,
    rust_obj_counts: &'static Counts,
    slots: [AtomicU64; SLOTS],
    stop: AtomicBool,
    rust_ops: AtomicU64,
    rust_threads: AtomicU64,
}

impl Shared {
    /// Ends a table entry whose owner reference we hold.
    fn end_owned(&self, raw: u64, how: u64) {
        let Some(h) = Handle::from_raw(raw) else {
            return;
        };
        match how % 3 {
            0 => match self.table.take(h) {
                Ok(v) => assert_eq!(v.check(raw), v.id),
                Err(Error::Busy) => assert_eq!(self.table.revoke(h), Ok(())),
                Err(e) => panic!("take of an owned {h:?}: {e:?}"),
            },
            1 => assert_eq!(self.table.revoke(h), Ok(())),
            _ => assert!(self.table.release(h).is_ok()),
        }
    }

    fn insert(&self) -> u64 {
        let h = self.table.insert(Obj::new(self.table_counts));
        self.table
            .with(h, |v| v.handle.store(h.into_raw(), Ordering::SeqCst))
            .unwrap();
        h.into_raw()
    }

    fn insert_rust_object(&self) -> u64 {
        let h = hdl::insert(TAG_RUST, Obj::new(self.rust_obj_counts)).unwrap();
        hdl::with(h, |o: &Obj| o.handle.store(h.into_raw(), Ordering::SeqCst)).unwrap();
        h.into_raw()
    }

    /// One short-lived Rust worker.
    fn worker(&self, seed: u64) {
        let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut guards: Vec<(u64, Guard<'_, Obj>)> = Vec::new();
        let mut held: Vec<u64> = Vec::new();
        let mut c_held: Vec<u64> = Vec::new();
        for _ in 0..OPS_PER_WORKER {
            let r = rng.next_u64();
            let slot = (r % SLOTS as u64) as usize;
            let raw = self.slots[slot].load(Ordering::SeqCst);
            let h = Handle::from_raw(raw);
            // Takes run concurrently (`end_owned`), but never make another operation fail.
            let ok_err = |e: Error| e == Error::Stale;
            match (r >> 8) % 20 {
                0 | 1 => {
                    let fresh = self.insert();
                    let old = self.slots[slot].swap(fresh, Ordering::SeqCst);
                    self.end_owned(old, r >> 16);
                }
                2 => {
                    let old = self.slots[slot].swap(0, Ordering::SeqCst);
                    self.end_owned(old, r >> 16);
                }
                3 | 4 => {
                    if let Some(h) = h {
                        match self.table.with(h, |v| v.check(raw)) {
                            Ok(_) => {}
                            Err(e) => assert!(ok_err(e), "with {h:?}: {e:?}"),
                        }
                    }
                }
                5 => {
                    if let Some(h) = h {
                        match self.table.get(h) {
                            Ok(g) => {
                                g.check(raw);
                                if guards.len() >= 6 {
                                    let (graw, g) = guards.remove(0);
                                    g.check(graw);
                                }
                                guards.push((raw, g));
                            }
                            Err(e) => assert!(ok_err(e), "get {h:?}: {e:?}"),
                        }
                    }
                }
                6 => {
                    if let Some((graw, g)) = guards.pop() {
                        g.check(graw);
                    }
                }
                7 => {
                    if let Some(h) = h {
                        let got = if r & (1 << 20) == 0 {
                            self.table.retain(h)
                        } else {
                            self.table.retain_with(h, |v| {
                                v.check(raw);
                            })
                        };
                        match got {
                            Ok(()) => held.push(raw),
                            Err(e) => assert!(ok_err(e), "retain {h:?}: {e:?}"),
                        }
                    }
                }
                8 => {
                    if let Some(raw) = held.pop() {
                        // A counted reference keeps the entry until released.
                        assert!(self.table.release(Handle::from_raw(raw).unwrap()).is_ok());
                    }
                }
                9 => {
                    if let Some(h) = h {
                        let _ = self.table.contains(h);
                    }
                    assert!(self.table.len() <= SLOTS + 64 * WORKERS);
                }
                10 => {
                    // A forged value: a slot handle with a bit flipped.
                    let forged = raw ^ (1 << ((r >> 24) % 64));
                    if let Some(f) = Handle::from_raw(forged) {
                        match self.table.with(f, |v| v.check(forged)) {
                            Ok(_) => {}
                            Err(e) => assert_ne!(e, Error::Full),
                        }
                    }
                }
                11 => match (r >> 32) % 256 {
                    0 => {
                        self.table.flush();
                    }
                    1 => assert!(self.table.handles().len() <= SLOTS + 64 * WORKERS),
                    _ => {}
                },
                // The registry, next to the C threads.
                12 | 13 => {
                    let fresh = self.insert_rust_object();
                    // SAFETY: plain calls into soak.c with values it accepts.
                    unsafe {
                        let old = soak_slot_swap(slot as u32, fresh);
                        soak_c_end_owned(old, (r >> 16) as i32 & 1);
                    }
                }
                14 | 15 => {
                    // SAFETY: a plain call into soak.c.
                    let raw = unsafe { soak_slot_get(slot as u32) };
                    if let Some(h) = Handle::from_raw(raw) {
                        match hdl::with(h, |o: &Obj| o.check(raw)) {
                            Ok(_) => {}
                            Err(e) => assert!(
                                matches!(e, S::Stale | S::WrongType),
                                "hdl::with {h:?}: {e}"
                            ),
                        }
                    }
                }
                16 | 17 => {
                    // SAFETY: a plain call into soak.c.
                    let raw = unsafe { soak_slot_get(slot as u32) };
                    let mut p = core::ptr::null_mut();
                    // SAFETY: `p` is writable.
                    match unsafe { hdl::hdl_lookup(raw, TAG_RUST, &mut p) } {
                        S::Ok => {
                            // SAFETY: a Rust object's pointer, kept alive by our reference.
                            unsafe { &*p.cast::<Obj>() }.check(raw);
                            c_held.push(raw);
                        }
                        s => assert!(
                            matches!(s, S::Stale | S::WrongType | S::NullHandle),
                            "hdl_lookup {raw:#x}: {s}"
                        ),
                    }
                }
                18 => {
                    if let Some(raw) = c_held.pop() {
                        assert_eq!(hdl::hdl_release(raw), S::Ok);
                    }
                }
                _ => {
                    // SAFETY: a plain call into soak.c.
                    let raw = unsafe { soak_slot_get(slot as u32) };
                    match hdl::hdl_retain(raw) {
                        S::Ok => assert_eq!(hdl::hdl_release(raw), S::Ok),
                        s => assert!(matches!(s, S::Stale | S::NullHandle), "{s}"),
                    }
                    let _ = hdl::hdl_is_live(raw);
                }
            }
        }
        for (graw, g) in guards.drain(..) {
            g.check(graw);
        }
        for raw in held {
            assert!(self.table.release(Handle::from_raw(raw).unwrap()).is_ok());
        }
        for raw in c_held {
            assert_eq!(hdl::hdl_release(raw), S::Ok);
        }
        self.rust_ops
            .fetch_add(OPS_PER_WORKER as u64, Ordering::Relaxed);
        self.rust_threads.fetch_add(1, Ordering::Relaxed);
    }
}

fn soak_secs() -> f64 {
    match std::env::var("HANDLES_SOAK_SECS") {
        Ok(s) => s.trim().parse().expect("HANDLES_SOAK_SECS: seconds"),
        Err(_) if cfg!(debug_assertions) => 3.0,
        Err(_) => 20.0,
    }
}

fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

#[test]
fn soak() {
    let secs = soak_secs();
    let shared: &'static Shared = Box::leak(Box::new(Shared {
        table: HandleTable::new(),
        table_counts: Box::leak(Box::new(Counts::new())),
        rust_obj_counts: Box::leak(Box::new(Counts::new())),
        slots: [const { AtomicU64::new(0) }; SLOTS],
        stop: AtomicBool::new(false),
        rust_ops: AtomicU64::new(0),
        rust_threads: AtomicU64::new(0),
    }));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    // SAFETY: starts the C supervisor; stopped below.
    unsafe { soak_c_start() };
    let supervisor = std::thread::spawn(move || {
        let mut n = 0u64;
        while !shared.stop.load(Ordering::SeqCst) {
            let workers: Vec<_> = (0..WORKERS)
                .map(|_| {
                    n += 1;
                    let seed = n;
                    std::thread::spawn(move || shared.worker(seed))
                })
                .collect();
            for w in workers {
                w.join().expect("Rust worker panicked");
            }
        }
    });
    let (mut peak_slots, mut peak_pages, mut peak_records, mut peak_rss) = (0, 0, 0, 0f64);
    while Instant::now() < deadline && !supervisor.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
        let t = shared.table.stats();
        let threads = handles::thread_stats();
        peak_slots = peak_slots.max(t.slots);
        peak_pages = peak_pages.max(t.pages);
        peak_records = peak_records.max(threads.records);
        peak_rss = peak_rss.max(rss_mib());
        // Memory tracks the peak of live plus not-yet-reclaimed entries (at most 64 slots, a
        // few per worker in flight, and under 128 awaiting each shard's batch), not the number
        // of operations: at most 3 pages (1024 slots) per shard.
        assert!(t.slots <= 64 * 1024, "{t:?}");
        assert!(t.pages <= 64 * 3, "{t:?}");
        // Records are recycled: bounded by the threads alive at once (workers, supervisors,
        // this thread and the test harness), not by the thousands that come and go.
        assert!(threads.records <= 32, "{threads:?}");
    }
    shared.stop.store(true, Ordering::SeqCst);
    supervisor.join().expect("Rust supervisor panicked");
    let (mut c_threads, mut c_ops, mut c_objects) = (0, 0, 0);
    // SAFETY: stops and joins the C supervisor; the pointers are writable.
    unsafe { soak_c_stop(&mut c_threads, &mut c_ops, &mut c_objects) };
    let elapsed = start.elapsed().as_secs_f64();

    // Drain: end every entry still in a slot, flush, and check every drop and destructor.
    for slot in &shared.slots {
        shared.end_owned(slot.swap(0, Ordering::SeqCst), 1);
    }
    for slot in 0..SLOTS as u32 {
        // SAFETY: plain calls into soak.c; every worker has stopped.
        unsafe { soak_c_end_owned(soak_slot_swap(slot, 0), 0) };
    }
    assert_eq!(shared.table.flush(), 0);
    assert_eq!(shared.table.len(), 0);
    assert_eq!(shared.table.stats().pending_drops, 0);
    let table_values = shared.table_counts.assert_all_once();
    let mut pending = usize::MAX;
    // SAFETY: `pending` is writable.
    assert_eq!(unsafe { hdl::hdl_flush(&mut pending) }, S::Ok);
    assert_eq!(pending, 0);
    assert_eq!(hdl::hdl_live_count(), 0);
    let rust_objects = shared.rust_obj_counts.assert_all_once();
    // SAFETY: a plain call into soak.c, after everything ended.
    let bad = unsafe { soak_c_check_ends() };
    assert_eq!(bad, 0, "C objects that did not end exactly once");
    let rust_ops = shared.rust_ops.load(Ordering::Relaxed);
    let rust_threads = shared.rust_threads.load(Ordering::Relaxed);
    assert!(rust_threads >= 2 && c_threads >= 2, "no churn");
    // soak.c has room for 2^28 C objects; past that its workers stop inserting.
    assert!(
        c_objects < 1 << 28,
        "C object ids exhausted: shorten HANDLES_SOAK_SECS"
    );
    eprintln!(
        "soak: {elapsed:.1} s; Rust: {rust_threads} threads, {rust_ops} ops, {table_values} \
         table values and {rust_objects} registry objects, each dropped exactly once; C: \
         {c_threads} pthreads, {c_ops} ops, {c_objects} objects, each ended exactly once; peak \
         table slots {peak_slots} ({peak_pages} pages), peak thread records {peak_records}, peak \
         RSS {peak_rss:.0} MiB"
    );
}
