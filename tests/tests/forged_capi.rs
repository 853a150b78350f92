//! Own test binary: it checks exact live counts of the process-wide C registry.
//!
//! Forged handles through the C API: the sweep of `it/forged.rs`, at a configurable
//! scale, through `hdl_lookup` with a type tag (and, for a sample, every other `hdl_*` function)
//! on a populated process-wide registry: C objects with two type tags, Rust objects, entries
//! revoked, released, taken, and revoked with a reference outstanding.
//!
//! Every result is checked exactly: 0 is `NULL_HANDLE`, another table's tag `WRONG_TABLE`, an
//! ended or revoked entry `STALE`, anything never issued `INVALID`, a live entry under another
//! expected tag `WRONG_TYPE`; a successful lookup must yield that handle's own object (each
//! object records its id and handle), and its reference is released again. At the end every
//! destructor ran exactly once, and taken objects never.
//!
//! This binary has one test: the registry is process-wide.

use core::ffi::c_void;
use handles::HandleTable;
use hdl::HdlStatus as S;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use test_support::{XorShift, layout};

const TAG_A: u32 = 11;
const TAG_B: u32 = 12;
const OBJECTS: usize = 40_000;
const MAGIC: u64 = 0x0b1e_c7ed_0b1e_c7ed;

/// An object the registry holds: a C object (boxed, passed as `void *`) or the payload of a
/// Rust object.
struct Obj {
    magic: AtomicU64,
    id: usize,
    handle: AtomicU64,
}

/// A Rust object in the registry; `hdl_lookup` yields a pointer to it, which is a pointer to
/// its `Obj`.
#[repr(transparent)]
struct RustObj(Obj);

static ENDS: [AtomicU32; OBJECTS] = [const { AtomicU32::new(0) }; OBJECTS];

fn ended(id: usize) {
    assert_eq!(
        ENDS[id].fetch_add(1, Ordering::SeqCst),
        0,
        "object {id} ended twice"
    );
}

extern "C" fn destroy(object: *mut c_void) {
    // SAFETY: every object inserted with this destructor is a `Box<Obj>` from `Populated::new`,
    // and the registry runs the destructor once.
    let obj = unsafe { Box::from_raw(object.cast::<Obj>()) };
    assert_eq!(obj.magic.swap(0, Ordering::SeqCst), MAGIC);
    ended(obj.id);
}

impl Drop for RustObj {
    fn drop(&mut self) {
        assert_eq!(self.0.magic.swap(0, Ordering::SeqCst), MAGIC);
        ended(self.0.id);
    }
}

fn count() -> u64 {
    match std::env::var("HANDLES_FORGED_COUNT") {
        Ok(s) => s
            .trim()
            .replace('_', "")
            .parse()
            .expect("HANDLES_FORGED_COUNT: a number"),
        Err(_) if cfg!(debug_assertions) => 500_000,
        Err(_) => 8_000_000,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Live,
    /// Revoked with one reference outstanding (released at the end).
    Revoked,
    Ended,
    Taken,
}

struct Populated {
    tag: u64,
    /// Live handles: (object id, type tag, object pointer).
    live: HashMap<u64, (usize, u32, usize)>,
    issued: HashSet<u64>,
    fates: Vec<(u64, Fate)>,
    taken: Vec<usize>,
}

impl Populated {
    /// Fills the registry from several threads, reusing slots (ended entries are flushed now
    /// and then).
    fn new(threads: usize) -> Populated {
        let per = OBJECTS / threads;
        let out = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for t in 0..threads {
                let out = &out;
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for id in t * per..(t + 1) * per {
                        let tag = if id % 2 == 0 { TAG_A } else { TAG_B };
                        let obj = Obj {
                            magic: AtomicU64::new(MAGIC),
                            id,
                            handle: AtomicU64::new(0),
                        };
                        let (h, ptr) = if id % 5 == 0 {
                            let h = hdl::insert(tag, RustObj(obj)).unwrap().into_raw();
                            let mut p = core::ptr::null_mut();
                            // SAFETY: `p` is writable.
                            assert_eq!(unsafe { hdl::hdl_lookup(h, tag, &mut p) }, S::Ok);
                            assert_eq!(hdl::hdl_release(h), S::Ok);
                            (h, p.cast::<Obj>())
                        } else {
                            let p = Box::into_raw(Box::new(obj));
                            let mut h = 0;
                            // SAFETY: `p` is a valid object for `destroy`; `h` is writable.
                            let s =
                                unsafe { hdl::hdl_insert(p.cast(), tag, Some(destroy), &mut h) };
                            assert_eq!(s, S::Ok);
                            (h, p)
                        };
                        // SAFETY: we hold the owner reference; the object is alive.
                        unsafe { (*ptr).handle.store(h, Ordering::SeqCst) };
                        let fate = match id % 7 {
                            0 | 1 => {
                                assert_eq!(hdl::hdl_revoke(h), S::Ok);
                                if id % 70 == 0 {
                                    hdl::flush();
                                }
                                Fate::Ended
                            }
                            2 => {
                                assert_eq!(hdl::hdl_retain(h), S::Ok);
                                assert_eq!(hdl::hdl_revoke(h), S::Ok);
                                Fate::Revoked
                            }
                            3 if id % 5 != 0 => {
                                let mut p = core::ptr::null_mut();
                                // SAFETY: `p` is writable.
                                let s = unsafe { hdl::hdl_take(h, tag, &mut p) };
                                assert_eq!((s, p.cast::<Obj>()), (S::Ok, ptr));
                                // SAFETY: the object is ours again; nothing refers to it.
                                drop(unsafe { Box::from_raw(ptr) });
                                Fate::Taken
                            }
                            _ => Fate::Live,
                        };
                        mine.push((h, id, tag, ptr as usize, fate));
                    }
                    out.lock().unwrap().extend(mine);
                });
            }
        });
        let all = out.into_inner().unwrap();
        let tag = layout::fields(all[0].0).1;
        let mut p = Populated {
            tag,
            live: HashMap::new(),
            issued: HashSet::new(),
            fates: Vec::new(),
            taken: Vec::new(),
        };
        for (h, id, etag, ptr, fate) in all {
            assert!(p.issued.insert(h), "{h:#x} issued twice");
            assert_eq!(layout::fields(h).1, tag);
            p.fates.push((h, fate));
            match fate {
                Fate::Live => {
                    p.live.insert(h, (id, etag, ptr));
                }
                Fate::Taken => p.taken.push(id),
                _ => {}
            }
        }
        assert!(
            p.issued.iter().any(|&h| layout::fields(h).0 > 0),
            "no slot reused"
        );
        assert_eq!(hdl::hdl_live_count(), p.live.len());
        p
    }

    fn expected(&self, raw: u64, expected_tag: u32) -> S {
        if raw == 0 {
            S::NullHandle
        } else if layout::fields(raw).1 != self.tag {
            S::WrongTable
        } else if let Some(&(_, tag, _)) = self.live.get(&raw) {
            if expected_tag != 0 && expected_tag != tag {
                S::WrongType
            } else {
                S::Ok
            }
        } else if self.issued.contains(&raw) {
            S::Stale
        } else {
            S::Invalid
        }
    }

    fn probe(&self, raw: u64, expected_tag: u32, all_functions: bool) -> S {
        let want = self.expected(raw, expected_tag);
        let mut p = core::ptr::null_mut();
        // SAFETY: `p` is writable.
        let got = unsafe { hdl::hdl_lookup(raw, expected_tag, &mut p) };
        assert_eq!(got, want, "hdl_lookup({raw:#x}, {expected_tag})");
        if got == S::Ok {
            let (id, _, ptr) = self.live[&raw];
            assert_eq!(p as usize, ptr, "hdl_lookup({raw:#x}) gave another object");
            // SAFETY: the reference the lookup took keeps the object alive until released.
            let obj = unsafe { &*p.cast::<Obj>() };
            assert_eq!(obj.magic.load(Ordering::SeqCst), MAGIC);
            assert_eq!((obj.id, obj.handle.load(Ordering::SeqCst)), (id, raw));
            assert_eq!(hdl::hdl_release(raw), S::Ok);
        } else {
            assert!(p.is_null(), "output written on failure");
            assert!(!hdl::hdl_is_live(raw) || want == S::WrongType);
        }
        if all_functions && want != S::Ok && want != S::WrongType {
            let mut tag = 0u32;
            // SAFETY: `tag` and `p` are writable.
            unsafe {
                assert_eq!(hdl::hdl_type_tag(raw, &mut tag), want);
                assert_eq!(hdl::hdl_take(raw, 0, &mut p), want);
            }
            assert_eq!(hdl::hdl_retain(raw), want);
            assert_eq!(hdl::hdl_revoke(raw), want);
            // Revoked entries hold a reference release would drop: not forged for release.
            if want != S::Stale {
                assert_eq!(hdl::hdl_release(raw), want);
            }
            assert!(!hdl::hdl_is_live(raw));
        }
        want
    }
}

#[test]
fn forged_handles_through_the_c_api() {
    let count = count();
    let p = Populated::new(4);
    // Another table in the same process: its handles use the same shards and indices.
    let other: HandleTable<u8> = HandleTable::new();
    let foreign: Vec<u64> = (0..4000)
        .map(|i| other.insert(i as u8).into_raw())
        .collect();
    let issued: Vec<u64> = p.issued.iter().copied().collect();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let start = std::time::Instant::now();
    let tally = Mutex::new([0u64; 10]);
    let gen_mask = (1u64 << layout::GEN_BITS) - 1;
    std::thread::scope(|s| {
        for t in 0..threads {
            let (p, issued, foreign, tally) = (&p, &issued, &foreign, &tally);
            s.spawn(move || {
                let mut rng = XorShift(0x5151_5151_0000_0001 ^ (t + 1).wrapping_mul(0x9e37_79b9));
                let mut mine = [0u64; 10];
                let n = count / threads + u64::from(t < count % threads);
                for i in 0..n {
                    let pick = |rng: &mut XorShift| issued[rng.below(issued.len() as u64) as usize];
                    let raw = match i % 7 {
                        0 => rng.next_u64(),
                        1 => layout::join(rng.below(8), p.tag, rng.below(64), rng.below(4096)),
                        2 => pick(&mut rng) ^ (1 << rng.below(64)),
                        3 => {
                            let h = foreign[rng.below(foreign.len() as u64) as usize];
                            let (g, _, shard, index) = layout::fields(h);
                            match rng.below(2) {
                                0 => h,
                                _ => layout::join(g, rng.below(1024), shard, index),
                            }
                        }
                        4 => {
                            let (g, tag, shard, index) = layout::fields(pick(&mut rng));
                            let g = g.wrapping_add(rng.below(17)).wrapping_sub(8) & gen_mask;
                            layout::join(g, tag, shard, index)
                        }
                        5 => match rng.below(6) {
                            0 => 0,
                            1 => u64::MAX,
                            2 => 1 << rng.below(64),
                            3 => layout::join(gen_mask, p.tag, 63, (1 << 22) - 1),
                            4 => layout::join(0, p.tag, rng.below(64), 0),
                            _ => !(1u64 << rng.below(64)),
                        },
                        _ => pick(&mut rng),
                    };
                    let expected_tag = [0, TAG_A, TAG_B][rng.below(3) as usize];
                    mine[p.probe(raw, expected_tag, i % 64 == 0) as usize] += 1;
                }
                let mut all = tally.lock().unwrap();
                for (a, m) in all.iter_mut().zip(mine) {
                    *a += m;
                }
            });
        }
    });
    let tally = tally.into_inner().unwrap();
    assert_eq!(tally.iter().sum::<u64>(), count);
    let names: Vec<String> = (0..)
        .map_while(S::from_raw)
        .zip(tally)
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    eprintln!(
        "C API forged sweep: {count} hdl_lookup calls on {threads} threads in {:.1} s, 0 crashes, \
         0 lookups reaching another object; {}",
        start.elapsed().as_secs_f64(),
        names.join(", ")
    );
    if count >= 100_000 {
        for s in [
            S::Ok,
            S::NullHandle,
            S::Invalid,
            S::Stale,
            S::WrongTable,
            S::WrongType,
        ] {
            assert!(tally[s as usize] > 0, "no {s} in {names:?}");
        }
    }

    // Nothing changed: the live entries are intact; then end them all and check destructors.
    assert_eq!(hdl::hdl_live_count(), p.live.len());
    for &(h, fate) in &p.fates {
        match fate {
            Fate::Live => {
                p.probe(h, 0, false);
                assert_eq!(hdl::hdl_revoke(h), S::Ok);
            }
            Fate::Revoked => assert_eq!(hdl::hdl_release(h), S::Ok),
            _ => {}
        }
    }
    let mut pending = usize::MAX;
    // SAFETY: `pending` is writable.
    assert_eq!(unsafe { hdl::hdl_flush(&mut pending) }, S::Ok);
    assert_eq!((pending, hdl::hdl_live_count()), (0, 0));
    let taken: HashSet<usize> = p.taken.iter().copied().collect();
    for (id, n) in ENDS.iter().enumerate() {
        let want = u32::from(!taken.contains(&id));
        assert_eq!(n.load(Ordering::SeqCst), want, "object {id}");
    }
}
