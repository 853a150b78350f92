//! Fuzzer for the C API: drives the exported `hdl_*` functions (and the typed Rust functions
//! of the same registry) with an operation sequence decoded from the input, against a model
//! (the reference model of `test_support::model`, plus what the C API adds: type tags, kinds of
//! object, destructors).
//!
//! Covered: C objects with and without destructors, Rust objects (`hdl::insert`), type tags
//! (matching, wrong, 0 = any), lookup / retain / release / revoke / take / is_live / type_tag /
//! live_count / flush, NULL out-pointers and NULL objects, handle 0, forged values (random,
//! under the registry's own tag, issued handles with a bit flipped or a shifted generation),
//! handles of another table, `void *` round trips, status names, and a revoke plus flush from
//! inside a scoped Rust lookup (the value must survive until the lookup ends).
//!
//! Every object records its id and handle; each lookup checks that it got its own object.
//! Destructor calls and Rust drops are counted per id: after every flush exactly the ended
//! entries' destructors have run, once; taken objects and objects without destructors never.
//!
//! The registry is process-wide, so each run ends every entry it made and checks the registry
//! is empty again. Values the registry issued in earlier runs are stale now: an unknown value
//! under the registry's tag must be `INVALID` or `STALE`, never accepted.

#![no_main]

use core::ffi::{CStr, c_void};
use handles::{Handle, HandleTable};
use hdl::HdlStatus as S;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use test_support::model::{Lifecycle, State};
use test_support::{Bytes, layout};

const MAGIC: u64 = 0x0b1e_c7ed_0b1e_c7ed;

/// A C object (boxed and passed as `void *`) or the payload of a Rust object.
struct Obj {
    magic: AtomicU64,
    id: u64,
    handle: AtomicU64,
}

impl Obj {
    /// Asserts the object has not ended and, given the handle it was reached by, that it is
    /// that handle's object (or too new to know its handle); returns its id.
    fn check(&self, raw: Option<u64>) -> u64 {
        assert_eq!(
            self.magic.load(Ordering::Relaxed),
            MAGIC,
            "object {} read after its end",
            self.id
        );
        let own = self.handle.load(Ordering::Relaxed);
        if let Some(raw) = raw {
            assert!(
                own == 0 || own == raw,
                "lookup of {raw:#x} reached the object of {own:#x}"
            );
        }
        self.id
    }
}

/// Destructor calls (C) and drops (Rust) by object id, for every object still tracked.
static ENDS: LazyLock<Mutex<HashMap<u64, u32>>> = LazyLock::new(Mutex::default);
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn record_end(id: u64) {
    let mut ends = ENDS.lock().unwrap();
    let n = ends.get_mut(&id).expect("unknown object");
    *n += 1;
    assert_eq!(*n, 1, "object {id} ended twice");
}

fn ends_of(id: u64) -> u32 {
    ENDS.lock().unwrap().get(&id).copied().unwrap_or(0)
}

/// The C destructor: counts the call and frees the object.
extern "C" fn destroy(object: *mut c_void) {
    // SAFETY: every object inserted with this destructor is a `Box<Obj>` made by `new_obj`,
    // and the registry calls the destructor once.
    let obj = unsafe { Box::from_raw(object.cast::<Obj>()) };
    obj.check(None);
    obj.magic.store(0, Ordering::Relaxed);
    record_end(obj.id);
}

/// The Rust object type: its `Drop` counts.
struct RustObj(Obj);

impl Drop for RustObj {
    fn drop(&mut self) {
        self.0.check(None);
        self.0.magic.store(0, Ordering::Relaxed);
        record_end(self.0.id);
    }
}

fn new_obj() -> Obj {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    ENDS.lock().unwrap().insert(id, 0);
    Obj {
        magic: AtomicU64::new(MAGIC),
        id,
        handle: AtomicU64::new(0),
    }
}

/// Type tags the fuzzer chooses from (0 = untagged / any).
const TAGS: [u32; 4] = [0, 1, 2, 0xdead_beef];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// C object; whether it has a destructor.
    C(bool),
    Rust,
}

/// What the model records with each entry (its references and state are the model's).
#[derive(Debug)]
struct Entry {
    id: u64,
    object: *mut c_void,
    kind: Kind,
    tag: u32,
}

/// The registry's table tag (learned from the first handle of the process).
static REGISTRY_TAG: AtomicU64 = AtomicU64::new(0);

struct Model {
    entries: Lifecycle<u64, Entry>,
    /// Objects the model owns: C objects inserted without a destructor, and taken objects.
    owned: Vec<*mut c_void>,
    other: HandleTable<u8>,
    other_issued: Vec<Handle>,
}

fn out_ptr<T>(null: bool, slot: &mut T) -> *mut T {
    if null { core::ptr::null_mut() } else { slot }
}

/// The status the C API returns for what the model says.
fn status<T>(r: Result<T, handles::Error>) -> S {
    match r {
        Ok(_) => S::Ok,
        Err(e) => e.into(),
    }
}

impl Model {
    fn pick(&self, sel: u16) -> Option<u64> {
        self.entries.pick(sel as usize)
    }

    fn is_live(&self, h: u64) -> bool {
        self.entries.is_live(h)
    }

    fn live_count(&self) -> usize {
        self.entries.live_count()
    }

    fn learn(&mut self, h: u64, object: *mut c_void, kind: Kind, tag: u32, id: u64) {
        assert_ne!(h, 0);
        let t = layout::tag(h);
        let known = REGISTRY_TAG.swap(t, Ordering::Relaxed);
        assert!(known == 0 || known == t, "registry tag changed");
        self.entries.insert(
            h,
            Entry {
                id,
                object,
                kind,
                tag,
            },
        );
    }

    fn insert_c(&mut self, tag: u32, with_destructor: bool, null_out: bool) {
        let obj = new_obj();
        let id = obj.id;
        let obj = Box::into_raw(Box::new(obj));
        let mut h = 0u64;
        let destructor: hdl::HdlDestructor = if with_destructor { Some(destroy) } else { None };
        // SAFETY: `h` is writable; NULL is allowed and must be rejected.
        let s = unsafe { hdl::hdl_insert(obj.cast(), tag, destructor, out_ptr(null_out, &mut h)) };
        if null_out {
            assert_eq!(s, S::NullPointer);
            self.owned.push(obj.cast());
            return;
        }
        assert_eq!(s, S::Ok);
        // SAFETY: the entry is live and we hold its owner reference.
        unsafe { (*obj).handle.store(h, Ordering::Relaxed) };
        if !with_destructor {
            self.owned.push(obj.cast());
        }
        self.learn(h, obj.cast(), Kind::C(with_destructor), tag, id);
    }

    fn insert_null_object(&mut self) {
        let mut h = 0u64;
        // SAFETY: `h` is writable.
        let s = unsafe { hdl::hdl_insert(core::ptr::null_mut(), 1, Some(destroy), &mut h) };
        assert_eq!((s, h), (S::NullPointer, 0));
    }

    fn insert_rust(&mut self, tag: u32) {
        let obj = new_obj();
        let id = obj.id;
        let h = hdl::insert(tag, RustObj(obj)).expect("insert").into_raw();
        let mut ptr = core::ptr::null_mut();
        // SAFETY: `ptr` is writable.
        assert_eq!(unsafe { hdl::hdl_lookup(h, tag, &mut ptr) }, S::Ok);
        // SAFETY: a Rust entry's lookup pointer is its `*const RustObj`, kept alive by the
        // reference the lookup took.
        unsafe {
            (*ptr.cast::<RustObj>())
                .0
                .handle
                .store(h, Ordering::Relaxed)
        };
        assert_eq!(hdl::hdl_release(h), S::Ok);
        self.learn(h, ptr, Kind::Rust, tag, id);
    }

    fn lookup(&mut self, h: u64, expected: u32, null_out: bool) {
        let mut ptr = core::ptr::null_mut();
        // SAFETY: `ptr` is writable; NULL is allowed.
        let s = unsafe { hdl::hdl_lookup(h, expected, out_ptr(null_out, &mut ptr)) };
        let e = self.entries.entry(h);
        let want = if null_out {
            S::NullPointer
        } else if e.state != State::Live {
            S::Stale
        } else if expected != 0 && expected != e.value.tag {
            S::WrongType
        } else {
            S::Ok
        };
        assert_eq!(s, want, "lookup {h:#x} ({e:?})");
        if s == S::Ok {
            let e = &e.value;
            assert_eq!(ptr, e.object, "lookup {h:#x} gave another object");
            let obj = match e.kind {
                // SAFETY: the reference we now hold keeps the object alive.
                Kind::Rust => unsafe { &(*ptr.cast::<RustObj>()).0 },
                // SAFETY: as above.
                Kind::C(_) => unsafe { &*ptr.cast::<Obj>() },
            };
            assert_eq!(obj.check(Some(h)), e.id);
            // The lookup holds a reference, as a retain does.
            self.entries.retain(h).unwrap();
        } else {
            assert!(ptr.is_null(), "output written on failure");
        }
    }

    fn retain(&mut self, h: u64) {
        let s = hdl::hdl_retain(h);
        assert_eq!(s, status(self.entries.retain(h)), "retain {h:#x}");
    }

    fn release(&mut self, h: u64) {
        let s = hdl::hdl_release(h);
        assert_eq!(s, status(self.entries.release(h)), "release {h:#x}");
    }

    /// Revokes `h`; returns whether its entry has ended.
    fn revoke(&mut self, h: u64) -> bool {
        let s = hdl::hdl_revoke(h);
        assert_eq!(s, status(self.entries.revoke(h)), "revoke {h:#x}");
        self.entries.entry(h).state == State::Ended
    }

    fn take(&mut self, h: u64, expected: u32, null_out: bool) {
        let mut ptr = core::ptr::null_mut();
        // SAFETY: `ptr` is writable; NULL is allowed.
        let s = unsafe { hdl::hdl_take(h, expected, out_ptr(null_out, &mut ptr)) };
        let e = &self.entries.entry(h).value;
        let (id, object, kind) = (e.id, e.object, e.kind);
        let want = if null_out {
            S::NullPointer
        } else if !self.is_live(h) {
            S::Stale
        } else if kind == Kind::Rust || (expected != 0 && expected != e.tag) {
            S::WrongType
        } else {
            // Busy unless the owner's reference is the only one; then taken.
            status(self.entries.take(h, false))
        };
        assert_eq!(s, want, "take {h:#x} ({:?})", self.entries.entry(h));
        if s == S::Ok {
            assert_eq!(ptr, object);
            // SAFETY: the object is ours again.
            assert_eq!(unsafe { &*ptr.cast::<Obj>() }.check(Some(h)), id);
            if kind == Kind::C(true) {
                self.owned.push(ptr);
            }
        } else {
            assert!(ptr.is_null(), "output written on failure");
        }
    }

    fn type_tag(&mut self, h: u64, null_out: bool) {
        let mut tag = 0xffff_ffffu32;
        // SAFETY: `tag` is writable; NULL is allowed.
        let s = unsafe { hdl::hdl_type_tag(h, out_ptr(null_out, &mut tag)) };
        let e = self.entries.entry(h);
        if null_out {
            assert_eq!(s, S::NullPointer);
        } else if e.state == State::Live {
            assert_eq!((s, tag), (S::Ok, e.value.tag));
        } else {
            assert_eq!((s, tag), (S::Stale, 0xffff_ffff));
        }
    }

    /// Typed scoped lookups of the Rust API on any entry.
    fn rust_with(&mut self, h: u64) {
        let handle = Handle::from_raw(h).unwrap();
        let e = self.entries.entry(h);
        let got = hdl::with(handle, |o: &RustObj| o.0.check(Some(h)));
        let wrong = hdl::with(handle, |_: &u32| ());
        match (e.state, e.value.kind) {
            (State::Live, Kind::Rust) => {
                assert_eq!(got, Ok(e.value.id));
                assert_eq!(wrong, Err(S::WrongType));
            }
            (State::Live, Kind::C(_)) => {
                assert_eq!(got, Err(S::WrongType));
                assert_eq!(wrong, Err(S::WrongType));
            }
            _ => {
                assert_eq!(got, Err(S::Stale));
                assert_eq!(wrong, Err(S::Stale));
            }
        }
    }

    /// Revokes an entry and flushes from inside a scoped lookup of it: the value survives until
    /// the lookup ends, and the flush reports it as pending.
    fn revoke_inside_with(&mut self, h: u64) {
        if !(self.is_live(h) && self.entries.entry(h).value.kind == Kind::Rust) {
            return self.rust_with(h);
        }
        let id = self.entries.entry(h).value.id;
        let handle = Handle::from_raw(h).unwrap();
        let mut ended = false;
        let r = hdl::with(handle, |o: &RustObj| {
            ended = self.revoke(h);
            let mut pending = usize::MAX;
            // SAFETY: `pending` is writable.
            assert_eq!(unsafe { hdl::hdl_flush(&mut pending) }, S::Ok);
            assert_eq!(
                pending,
                usize::from(ended),
                "pending inside a scoped lookup"
            );
            // Still readable: the drop is deferred while we borrow it.
            o.0.check(Some(h))
        });
        assert_eq!(r, Ok(id));
        assert_eq!(ends_of(id), 0);
        self.flush(false);
    }

    fn flush(&mut self, null_out: bool) {
        let mut pending = usize::MAX;
        // SAFETY: `pending` is writable; NULL is allowed.
        let s = unsafe { hdl::hdl_flush(out_ptr(null_out, &mut pending)) };
        assert_eq!(s, S::Ok);
        if !null_out {
            assert_eq!(pending, 0);
        }
        for (h, e) in self.entries.entries() {
            let want = u32::from(matches!(
                (e.state, e.value.kind),
                (State::Ended, Kind::C(true) | Kind::Rust)
            ));
            assert_eq!(ends_of(e.value.id), want, "ends of {h:#x} ({e:?})");
        }
        assert_eq!(hdl::hdl_live_count(), self.live_count());
    }

    /// An unknown value (0, forged, foreign) used with every function.
    fn unknown(&self, raw: u64, foreign: bool) {
        let reg = REGISTRY_TAG.load(Ordering::Relaxed);
        let ok = |s: S| match raw {
            0 => s == S::NullHandle,
            _ if foreign || reg == 0 || layout::tag(raw) != reg => s == S::WrongTable,
            // Own tag: never issued (INVALID), or issued in an earlier run (STALE).
            _ => s == S::Invalid || s == S::Stale,
        };
        let mut ptr = core::ptr::null_mut();
        let mut tag = 7u32;
        for expected in [0, 1] {
            // SAFETY: `ptr` is writable.
            let s = unsafe { hdl::hdl_lookup(raw, expected, &mut ptr) };
            assert!(ok(s), "lookup {raw:#x}: {s}");
            // SAFETY: `ptr` is writable.
            let s = unsafe { hdl::hdl_take(raw, expected, &mut ptr) };
            assert!(ok(s), "take {raw:#x}: {s}");
        }
        assert!(ptr.is_null());
        for s in [
            hdl::hdl_retain(raw),
            hdl::hdl_release(raw),
            hdl::hdl_revoke(raw),
        ] {
            assert!(ok(s), "retain/release/revoke {raw:#x}: {s}");
        }
        // SAFETY: `tag` is writable.
        let s = unsafe { hdl::hdl_type_tag(raw, &mut tag) };
        assert!(ok(s) && tag == 7, "type_tag {raw:#x}: {s}");
        if raw != 0 {
            // SAFETY: NULL out-pointers are allowed and rejected.
            unsafe {
                assert_eq!(
                    hdl::hdl_lookup(raw, 0, core::ptr::null_mut()),
                    S::NullPointer
                );
                assert_eq!(hdl::hdl_take(raw, 0, core::ptr::null_mut()), S::NullPointer);
                assert_eq!(
                    hdl::hdl_type_tag(raw, core::ptr::null_mut()),
                    S::NullPointer
                );
            }
        }
        assert!(!hdl::hdl_is_live(raw));
        let hr = Handle::from_raw(raw);
        if let Some(h) = hr {
            assert!(ok(hdl::with(h, |_: &RustObj| ()).unwrap_err()));
        }
        assert_eq!(hdl::hdl_live_count(), self.live_count());
    }

    /// A raw value: an issued handle behaves as that handle; anything else is unknown.
    fn raw(&mut self, raw: u64, how: u8) {
        if self.entries.knows(raw) {
            return match how % 6 {
                0 => self.lookup(raw, TAGS[(how as usize / 8) % 4], false),
                1 => self.retain(raw),
                2 => self.release(raw),
                3 => {
                    self.revoke(raw);
                }
                4 => self.take(raw, 0, false),
                _ => self.type_tag(raw, false),
            };
        }
        self.unknown(raw, false);
    }

    fn cross_table(&mut self, sel: u16) {
        if sel & 1 == 0 || self.other_issued.is_empty() {
            let h = self.other.insert(sel as u8);
            self.other_issued.push(h);
        }
        let h = self.other_issued[sel as usize % self.other_issued.len()];
        self.unknown(h.into_raw(), true);
        if let Some(raw) = self.pick(sel) {
            let h = Handle::from_raw(raw).unwrap();
            assert_eq!(self.other.with(h, |_| ()), Err(handles::Error::WrongTable));
        }
    }

    fn step(&mut self, b: &mut Bytes) {
        let op = b.u8();
        let hi = op >> 5; // flags for some operations
        macro_rules! on_pick {
            ($f:expr) => {{
                let sel = b.u16();
                if let Some(h) = self.pick(sel) {
                    #[allow(clippy::redundant_closure_call)]
                    ($f)(self, h, b)
                }
            }};
        }
        match op % 24 {
            0 | 1 => {
                let tag = TAGS[(hi & 3) as usize];
                self.insert_c(tag, hi & 4 == 0, op % 24 == 1 && op >= 128)
            }
            2 => self.insert_rust(TAGS[(hi & 3) as usize]),
            3 => {
                for _ in 0..=(b.u8() % 64) {
                    self.insert_c(TAGS[(hi & 3) as usize], true, false);
                }
            }
            4 => self.insert_null_object(),
            5 => on_pick!(|m: &mut Model, h, b: &mut Bytes| {
                let t = b.u8();
                m.lookup(h, TAGS[(t & 3) as usize], t & 0x80 != 0 && t & 0x40 != 0)
            }),
            6 => on_pick!(|m: &mut Model, h, _| m.retain(h)),
            7 | 8 => on_pick!(|m: &mut Model, h, _| m.release(h)),
            9 => on_pick!(|m: &mut Model, h, _| {
                m.revoke(h);
            }),
            10 => {
                // Revoke many live entries: more than a reclamation batch at once.
                let n = b.u8() as usize + 1;
                for h in self.entries.sweep(n) {
                    self.revoke(h);
                }
            }
            11 => on_pick!(|m: &mut Model, h, b: &mut Bytes| {
                let t = b.u8();
                m.take(h, TAGS[(t & 3) as usize], t & 0xc0 == 0xc0)
            }),
            12 => on_pick!(|m: &mut Model, h, _| {
                assert_eq!(hdl::hdl_is_live(h), m.is_live(h));
            }),
            13 => assert_eq!(hdl::hdl_live_count(), self.live_count()),
            14 => on_pick!(|m: &mut Model, h, b: &mut Bytes| m.type_tag(h, b.u8() & 0xc0 == 0xc0)),
            15 => self.flush(hi & 1 != 0),
            16 => {
                let raw = b.u64();
                self.raw(raw, raw as u8)
            }
            17 => {
                // Random fields under the registry's own tag, mostly small ones.
                let raw = b.u64();
                let reg = REGISTRY_TAG.load(Ordering::Relaxed);
                let (g, _, s, i) = layout::fields(raw);
                let (g, i) = if hi & 4 == 0 {
                    (g & 7, i & 0x3ff)
                } else {
                    (g, i)
                };
                self.raw(layout::join(g, reg, s, i), raw as u8)
            }
            18 => on_pick!(|m: &mut Model, h: u64, b: &mut Bytes| {
                let bit = b.u8();
                m.raw(h ^ (1 << (bit % 64)), bit)
            }),
            19 => on_pick!(|m: &mut Model, h: u64, b: &mut Bytes| {
                let delta = b.u8() as i8;
                let (g, t, s, i) = layout::fields(h);
                let g = g.wrapping_add_signed(i64::from(delta));
                m.raw(layout::join(g, t, s, i), delta as u8)
            }),
            20 => self.cross_table(b.u16()),
            21 => on_pick!(|m: &mut Model, h, b: &mut Bytes| {
                if b.u8() & 1 == 0 {
                    m.rust_with(h)
                } else {
                    m.revoke_inside_with(h)
                }
            }),
            22 => {
                let raw = b.u64();
                let p = hdl::hdl_to_ptr(raw);
                assert_eq!(p.is_null(), raw == 0);
                assert_eq!(hdl::hdl_from_ptr(p), raw);
                let name = hdl::hdl_status_name(i32::from(b.u8() as i8));
                // SAFETY: status names are static NUL-terminated strings.
                let name = unsafe { CStr::from_ptr(name) };
                assert!(name.to_bytes().starts_with(b"HDL_STATUS_"));
                // SAFETY: the version string is static and NUL-terminated.
                let version = unsafe { CStr::from_ptr(hdl::hdl_version_string()) };
                let want = format!(
                    "{}.{}.{}",
                    hdl::HDL_VERSION_MAJOR,
                    hdl::HDL_VERSION_MINOR,
                    hdl::HDL_VERSION_PATCH
                );
                assert_eq!(version.to_str(), Ok(want.as_str()));
                assert_eq!(hdl::hdl_version(), hdl::HDL_VERSION);
            }
            _ => self.unknown(0, false),
        }
    }

    /// Ends every entry (revoke, then release every outstanding reference), flushes and checks
    /// that every destructor ran exactly when it should, then frees the objects the model owns.
    fn finish(mut self) {
        let handles: Vec<u64> = self.entries.issued().to_vec();
        for &h in &handles {
            if self.is_live(h) {
                self.revoke(h);
            }
            while self.entries.entry(h).state == State::Revoked {
                self.release(h);
            }
        }
        self.flush(false);
        assert_eq!(hdl::hdl_live_count(), 0);
        let ids: Vec<u64> = self.entries.entries().map(|(_, e)| e.value.id).collect();
        for p in self.owned.drain(..) {
            // SAFETY: objects the model owns are `Box<Obj>`s no entry refers to any more.
            drop(unsafe { Box::from_raw(p.cast::<Obj>()) });
        }
        let mut ends = ENDS.lock().unwrap();
        for id in ids {
            ends.remove(&id);
        }
        // Objects that never became entries (rejected inserts) were never destroyed.
        assert!(
            ends.values().all(|&n| n == 0),
            "destructor of a rejected insert ran"
        );
        ends.clear();
    }
}

fuzz_target!(|data: &[u8]| {
    assert_eq!(hdl::hdl_live_count(), 0, "entries left by an earlier run");
    let mut bytes = Bytes(data);
    let mut model = Model {
        entries: Lifecycle::new(),
        owned: Vec::new(),
        other: HandleTable::new(),
        other_issued: Vec::new(),
    };
    let mut steps = 0;
    while !bytes.0.is_empty() && steps < 4096 {
        model.step(&mut bytes);
        steps += 1;
    }
    model.finish();
});
