//! Writing the `extern "C"` entry points of a handle-backed type: a panic boundary, status
//! mapping, checked out-parameters, and ready-made constructor, free, retain and release
//! bodies, so that the common shapes need no `unsafe` in the library that uses them.
//!
//! * [`call`] runs an entry point's body under `catch_unwind`: the body returns
//!   `Result<(), S>` (so it can use `?`), a panic returns [`Status::PANIC`]. [`call_or`] does
//!   the same for an entry point that returns a plain value.
//! * [`with`] turns a `u64` argument into a scoped lookup and any failure into the status.
//! * Out-parameters are declared `Option<&mut T>`: the same ABI as a nullable `T *`
//!   (cbindgen writes `T *`), NULL is `None`, and [`out`] maps `None` to
//!   [`NullPointer`]. Rust never sees a raw pointer, so nothing needs `unsafe`; the C
//!   caller's contract is the usual one for an out-pointer (NULL, or valid for writing, and
//!   not aliasing another argument).
//! * [`insert`], [`insert_into`], [`revoke`], [`retain`], [`release`] and [`lookup_into`] are
//!   whole entry-point bodies; [`entry_points!`](crate::entry_points) writes the functions
//!   around the first five.
//!
//! The status type is the library's choice: anything [`Status`]. `u32` is one, with the
//! values of the C API's `hdl_status`; the C API's Rust type `hdl::HdlStatus` is another; a
//! library's own enum can be one (below).
//!
//! ```
//! use ffi_handles::{Error, HandleTable, ffi};
//!
//! /// The status a C caller sees (in C: `typedef uint32_t shape_status;`).
//! #[repr(u32)]
//! #[derive(Clone, Copy, Debug, PartialEq, Eq)]
//! pub enum ShapeStatus { Ok, NullPointer, BadHandle, Full, Panic }
//!
//! impl From<Error> for ShapeStatus {
//!     fn from(e: Error) -> ShapeStatus {
//!         if e == Error::Full { ShapeStatus::Full } else { ShapeStatus::BadHandle }
//!     }
//! }
//!
//! impl From<ffi::NullPointer> for ShapeStatus {
//!     fn from(_: ffi::NullPointer) -> ShapeStatus { ShapeStatus::NullPointer }
//! }
//!
//! impl ffi::Status for ShapeStatus {
//!     const OK: ShapeStatus = ShapeStatus::Ok;
//!     const PANIC: ShapeStatus = ShapeStatus::Panic;
//! }
//!
//! pub struct Shape { sides: u32 }
//! static SHAPES: HandleTable<Shape> = HandleTable::new();
//!
//! ffi_handles::entry_points! {
//!     table: SHAPES, status: ShapeStatus;
//!     /// `uint64_t shape_new(uint32_t sides)`: a new shape, or 0 if the table is full.
//!     new shape_new(sides: u32) = Shape { sides };
//!     /// `shape_status shape_free(uint64_t shape)`: revokes the handle.
//!     revoke shape_free;
//! }
//!
//! /// `shape_status shape_sides(uint64_t shape, uint32_t *out)`.
//! #[unsafe(no_mangle)]
//! pub extern "C" fn shape_sides(shape: u64, out: Option<&mut u32>) -> ShapeStatus {
//!     ffi::lookup_into(&SHAPES, shape, out, |s| s.sides)
//! }
//!
//! // What a C caller does:
//! let h = shape_new(5);
//! let mut sides = 0;
//! assert_eq!(shape_sides(h, Some(&mut sides)), ShapeStatus::Ok);
//! assert_eq!(sides, 5);
//! assert_eq!(shape_sides(h, None), ShapeStatus::NullPointer);
//! assert_eq!(shape_free(h), ShapeStatus::Ok);
//! assert_eq!(shape_sides(h, Some(&mut sides)), ShapeStatus::BadHandle);
//! assert_eq!(shape_free(0), ShapeStatus::BadHandle);
//! ```

use crate::error::Error;
use crate::handle::Handle;
use crate::panics::drop_payload;
use crate::table::HandleTable;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The status type of a library's entry points: a `#[repr(u32)]` (or other fixed-width) enum
/// or integer that C receives: the value of each [`Error`] (`From<Error>`, which also serves
/// [`Error::Null`] for a handle of 0), of a NULL out-pointer (`From<NullPointer>`), of success
/// and of a caught panic.
pub trait Status: Copy + From<Error> + From<NullPointer> {
    /// Success.
    const OK: Self;
    /// A panic was caught at the boundary (see [`call`]).
    const PANIC: Self;
}

/// A required out-pointer was NULL (see [`out`]); a [`Status`] says which value C gets for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NullPointer;

impl core::fmt::Display for NullPointer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a required out-pointer was NULL")
    }
}

impl std::error::Error for NullPointer {}

/// `u32` statuses are the values of the C API's `hdl_status` (a `uint32_t` in C): 0 success,
/// 1 handle 0, 2 NULL out-pointer, 3 invalid, 4 stale, 5 another table's handle, 7 busy,
/// 8 full, 9 panic; so a library that returns them can tell its C users to read them with
/// `hdl_status_name`, or simply declare them `hdl_status`.
impl From<Error> for u32 {
    fn from(e: Error) -> u32 {
        match e {
            Error::Null => 1,
            Error::Invalid => 3,
            Error::Stale => 4,
            Error::WrongTable => 5,
            Error::Busy => 7,
            Error::Full => 8,
        }
    }
}

/// `HDL_STATUS_NULL_POINTER`.
impl From<NullPointer> for u32 {
    fn from(_: NullPointer) -> u32 {
        2
    }
}

/// `hdl_status` values (see `From<Error> for u32`).
impl Status for u32 {
    const OK: u32 = 0;
    const PANIC: u32 = 9;
}

/// Runs the body of an entry point that returns a status: `Ok(())` is [`Status::OK`], `Err(s)`
/// is `s`, and a panic is [`Status::PANIC`] (its payload dropped; a payload whose own `Drop`
/// panics is forgotten), so no panic crosses `extern "C"`.
///
/// ```
/// # use ffi_handles::{Error, ffi};
/// # #[derive(Clone, Copy, Debug, PartialEq)] enum St { Ok, Null, Bad, Panic }
/// # impl From<Error> for St { fn from(_: Error) -> St { St::Bad } }
/// # impl From<ffi::NullPointer> for St { fn from(_: ffi::NullPointer) -> St { St::Null } }
/// # impl ffi::Status for St { const OK: St = St::Ok; const PANIC: St = St::Panic; }
/// extern "C" fn parse_digit(c: u8, out: Option<&mut u8>) -> St {
///     ffi::call(|| {
///         let out = ffi::out(out)?;
///         *out = (c as char).to_digit(10).expect("a digit") as u8;
///         Ok(())
///     })
/// }
/// let mut d = 0;
/// assert_eq!(parse_digit(b'7', Some(&mut d)), St::Ok);
/// assert_eq!(d, 7);
/// assert_eq!(parse_digit(b'x', Some(&mut d)), St::Panic); // caught: C sees a status
/// assert_eq!(d, 7); // outputs are written on success only
/// ```
#[inline]
pub fn call<S: Status>(body: impl FnOnce() -> Result<(), S>) -> S {
    match call_or(Err(S::PANIC), body) {
        Ok(()) => S::OK,
        Err(status) => status,
    }
}

/// Runs the body of an entry point that returns a plain value (a handle, a length, a flag),
/// returning `on_panic` if the body panics.
///
/// ```
/// # use ffi_handles::{HandleTable, ffi};
/// static NAMES: HandleTable<String> = HandleTable::new();
/// /// `int64_t name_len(uint64_t name)`: the name's length, or -1.
/// extern "C" fn name_len(name: u64) -> i64 {
///     ffi::call_or(-1, || ffi::with(&NAMES, name, |s| s.len() as i64).unwrap_or(-1))
/// }
/// let h = NAMES.insert("seven".into());
/// assert_eq!(name_len(h.into_raw()), 5);
/// assert_eq!(name_len(0), -1);
/// ```
#[inline]
pub fn call_or<R>(on_panic: R, body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            drop_payload(payload);
            on_panic
        }
    }
}

/// The handle behind a `u64` argument; 0 is [`Error::Null`].
///
/// # Errors
/// [`Error::Null`] for 0.
#[inline]
pub fn handle(raw: u64) -> Result<Handle, Error> {
    Handle::from_raw(raw).ok_or(Error::Null)
}

/// A scoped lookup of the `u64` argument `raw` in `table` (see [`HandleTable::with`]): `f`'s
/// result, or why the handle was rejected (0 included; `?` turns it into the status).
///
/// # Errors
/// [`Error::Null`] for 0, and every error of [`HandleTable::with`].
#[inline]
pub fn with<T: Send + Sync, R>(
    table: &HandleTable<T>,
    raw: u64,
    f: impl FnOnce(&T) -> R,
) -> Result<R, Error> {
    table.with_raw(raw, f)
}

/// A required out-parameter: the reference to write, or [`NullPointer`] for NULL (`?` turns it
/// into the status). Check it before doing the work, and write it once the work succeeded.
///
/// # Errors
/// [`NullPointer`] when `out` is `None` (C passed NULL).
#[inline]
pub fn out<T>(out: Option<&mut T>) -> Result<&mut T, NullPointer> {
    out.ok_or(NullPointer)
}

/// A getter's whole body: writes `f(value)` to `out` (after a scoped lookup of `raw`) and
/// returns [`Status::OK`]; a NULL `out`, a rejected handle or a panic in `f` returns its status
/// and writes nothing.
#[inline]
pub fn lookup_into<T: Send + Sync, R, S: Status>(
    table: &HandleTable<T>,
    raw: u64,
    out: Option<&mut R>,
    f: impl FnOnce(&T) -> R,
) -> S {
    call(|| {
        let out = self::out(out)?;
        *out = with(table, raw, f)?;
        Ok(())
    })
}

/// A constructor's whole body, for one that returns the new handle: inserts `make()` and
/// returns the handle, or 0 if the table is full or `make` panicked (C reads 0 as "no handle").
#[inline]
pub fn insert<T: Send + Sync>(table: &HandleTable<T>, make: impl FnOnce() -> T) -> u64 {
    call_or(0, || table.try_insert(make()).map_or(0, Handle::into_raw))
}

/// A constructor's whole body, for one that returns a status: checks `out` first (NULL makes
/// nothing), inserts `make()` and writes the new handle to `out`. Errors: the status of
/// [`Error::Full`], [`NullPointer`], [`Status::PANIC`] (`make` panicked).
#[inline]
pub fn insert_into<T: Send + Sync, S: Status>(
    table: &HandleTable<T>,
    out: Option<&mut u64>,
    make: impl FnOnce() -> T,
) -> S {
    call(|| {
        let out = self::out(out)?;
        let handle = table.try_insert(make()).map_err(|e| S::from(e.error))?;
        *out = handle.into_raw();
        Ok(())
    })
}

/// A "free" entry point's whole body: revokes `raw` ([`HandleTable::revoke`]). A panic in the
/// value's `Drop` (when it ran inside this call) is [`Status::PANIC`]; the handle is revoked.
#[inline]
pub fn revoke<T: Send + Sync, S: Status>(table: &HandleTable<T>, raw: u64) -> S {
    call(|| Ok(table.revoke(handle(raw)?)?))
}

/// A "retain" (clone) entry point's whole body: one more counted reference to `raw`'s entry
/// ([`HandleTable::retain`]), for its holder to give back with [`release`].
#[inline]
pub fn retain<T: Send + Sync, S: Status>(table: &HandleTable<T>, raw: u64) -> S {
    call(|| Ok(table.retain(handle(raw)?)?))
}

/// A "release" entry point's whole body: gives back one counted reference
/// ([`HandleTable::release`]); the last one ends the entry. A panic in the value's `Drop` is
/// [`Status::PANIC`]; the reference is released.
#[inline]
pub fn release<T: Send + Sync, S: Status>(table: &HandleTable<T>, raw: u64) -> S {
    call(|| table.release(handle(raw)?).map(drop).map_err(S::from))
}

/// Defines `#[unsafe(no_mangle)] pub extern "C"` entry points of a handle-backed type over a
/// static [`HandleTable`](crate::HandleTable), with the given [`Status`](crate::ffi::Status)
/// type. Each item carries its doc comment (the functions are public) and is one of:
///
/// | item | generated function | body |
/// |---|---|---|
/// | `new NAME(ARGS) = EXPR;` | `fn NAME(ARGS) -> u64` | [`ffi::insert`](crate::ffi::insert): the handle, 0 on failure |
/// | `new_into NAME(ARGS) = EXPR;` | `fn NAME(ARGS, out_handle: Option<&mut u64>) -> S` | [`ffi::insert_into`](crate::ffi::insert_into) |
/// | `revoke NAME;` | `fn NAME(handle: u64) -> S` | [`ffi::revoke`](crate::ffi::revoke) |
/// | `retain NAME;` | `fn NAME(handle: u64) -> S` | [`ffi::retain`](crate::ffi::retain) |
/// | `release NAME;` | `fn NAME(handle: u64) -> S` | [`ffi::release`](crate::ffi::release) |
///
/// `EXPR` may use the `ARGS` (`name: Type`, FFI-safe types). cbindgen sees the functions
/// when it expands macros (`[parse.expand] crates = ["your-crate"]` in `cbindgen.toml`, which
/// runs rustc's `-Zunpretty=expanded`: a nightly toolchain); without expansion, write the
/// functions yourself with the [`ffi`](crate::ffi) bodies, one line each.
///
/// ```
/// # use ffi_handles::{Error, ffi};
/// # #[derive(Clone, Copy, Debug, PartialEq)] pub enum St { Ok, Null, Bad, Full, Panic }
/// # impl From<Error> for St { fn from(e: Error) -> St { if e == Error::Full { St::Full } else { St::Bad } } }
/// # impl From<ffi::NullPointer> for St { fn from(_: ffi::NullPointer) -> St { St::Null } }
/// # impl ffi::Status for St { const OK: St = St::Ok; const PANIC: St = St::Panic; }
/// pub struct Counter(u32);
/// static COUNTERS: ffi_handles::HandleTable<Counter> = ffi_handles::HandleTable::new();
///
/// ffi_handles::entry_points! {
///     table: COUNTERS, status: St;
///     /// `St counter_create(uint32_t start, uint64_t *out_handle)`.
///     new_into counter_create(start: u32) = Counter(start);
///     /// `St counter_retain(uint64_t counter)`: one more reference.
///     retain counter_retain;
///     /// `St counter_release(uint64_t counter)`: one reference less; the last ends it.
///     release counter_release;
/// }
///
/// let mut h = 0;
/// assert_eq!(counter_create(1, Some(&mut h)), St::Ok);
/// assert_eq!(counter_create(1, None), St::Null);
/// assert_eq!(counter_retain(h), St::Ok);
/// assert_eq!(counter_release(h), St::Ok);
/// assert_eq!(counter_release(h), St::Ok); // the last reference: the entry ends
/// assert_eq!(counter_retain(h), St::Bad);
/// ```
#[macro_export]
macro_rules! entry_points {
    (table: $table:path, status: $status:ty; $($items:tt)*) => {
        $crate::entry_points!(@items ($table, $status) $($items)*);
    };
    (@items ($table:path, $status:ty)) => {};
    (@items ($table:path, $status:ty)
        $(#[$attr:meta])* new $name:ident($($arg:ident: $ty:ty),* $(,)?) = $make:expr;
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        #[unsafe(no_mangle)]
        pub extern "C" fn $name($($arg: $ty),*) -> u64 {
            $crate::ffi::insert(&$table, move || $make)
        }
        $crate::entry_points!(@items ($table, $status) $($rest)*);
    };
    (@items ($table:path, $status:ty)
        $(#[$attr:meta])* new_into $name:ident($($arg:ident: $ty:ty),* $(,)?) = $make:expr;
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        #[unsafe(no_mangle)]
        pub extern "C" fn $name($($arg: $ty,)* out_handle: Option<&mut u64>) -> $status {
            $crate::ffi::insert_into(&$table, out_handle, move || $make)
        }
        $crate::entry_points!(@items ($table, $status) $($rest)*);
    };
    (@items ($table:path, $status:ty)
        $(#[$attr:meta])* $op:ident $name:ident;
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        #[unsafe(no_mangle)]
        pub extern "C" fn $name(handle: u64) -> $status {
            $crate::entry_points!(@op $op, &$table, handle)
        }
        $crate::entry_points!(@items ($table, $status) $($rest)*);
    };
    (@op revoke, $table:expr, $h:ident) => { $crate::ffi::revoke($table, $h) };
    (@op retain, $table:expr, $h:ident) => { $crate::ffi::retain($table, $h) };
    (@op release, $table:expr, $h:ident) => { $crate::ffi::release($table, $h) };
}

#[cfg(all(test, not(handles_loom)))]
mod tests {
    use super::*;
    use crate::HandleTable;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[repr(u32)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum TestStatus {
        Ok,
        NullHandle,
        NullPointer,
        Stale,
        Other,
        Full,
        Panic,
    }

    impl From<Error> for TestStatus {
        fn from(e: Error) -> TestStatus {
            match e {
                Error::Null => TestStatus::NullHandle,
                Error::Stale => TestStatus::Stale,
                Error::Full => TestStatus::Full,
                _ => TestStatus::Other,
            }
        }
    }

    impl From<NullPointer> for TestStatus {
        fn from(_: NullPointer) -> TestStatus {
            TestStatus::NullPointer
        }
    }

    impl Status for TestStatus {
        const OK: TestStatus = TestStatus::Ok;
        const PANIC: TestStatus = TestStatus::Panic;
    }

    static DROPS: AtomicUsize = AtomicUsize::new(0);

    /// Panics in `Drop` when its value is `u32::MAX`.
    struct Gadget(u32);

    impl Drop for Gadget {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::Relaxed);
            if self.0 == u32::MAX {
                panic!("gadget drop panics on purpose");
            }
        }
    }

    fn gadget(id: u32) -> Gadget {
        assert!(id != 13, "gadget 13 panics on purpose");
        Gadget(id)
    }

    static GADGETS: HandleTable<Gadget> = HandleTable::new();

    crate::entry_points! {
        table: GADGETS, status: TestStatus;
        /// A test constructor that returns the handle.
        new ffi_test_gadget_new(id: u32) = gadget(id);
        /// A test constructor with an out-parameter.
        new_into ffi_test_gadget_create(id: u32, _unused: u8,) = gadget(id);
        /// A test free.
        revoke ffi_test_gadget_free;
        /// A test retain.
        retain ffi_test_gadget_retain;
        /// A test release.
        release ffi_test_gadget_release;
    }

    /// A hand-written getter, the shape the module's helpers are for.
    extern "C" fn ffi_test_gadget_id(gadget: u64, out: Option<&mut u32>) -> TestStatus {
        lookup_into(&GADGETS, gadget, out, |g| {
            assert!(g.0 != 7, "reading gadget 7 panics on purpose");
            g.0
        })
    }

    /// `with` reports 0 as `Null` on both of its paths, for a zero-backed slot type and for
    /// one whose missing pages are null: the fast path, where 0 names slot 0 of shard 0 (no
    /// page yet, then possibly a page), and the slow path of a nested lookup. (No LIVE state
    /// matches 0 at all: `slot::tests::live_check_matches_definition`.)
    #[test]
    fn with_reports_zero_as_null() {
        fn check<T: Send + Sync + PartialEq + core::fmt::Debug + Clone>(value: T) {
            let table: HandleTable<T> = HandleTable::new();
            assert_eq!(with(&table, 0, |v| v.clone()), Err(Error::Null));
            let hs: Vec<_> = (0..3).map(|_| table.insert(value.clone())).collect();
            assert_eq!(with(&table, 0, |v| v.clone()), Err(Error::Null));
            let nested = table
                .with(hs[0], |_| with(&table, 0, |v| v.clone()))
                .unwrap();
            assert_eq!(nested, Err(Error::Null));
            assert_eq!(with(&table, hs[2].into_raw(), |v| v.clone()), Ok(value));
        }
        const { assert!(crate::page::zero_backed::<u64>()) };
        const { assert!(!crate::page::zero_backed::<[u64; 8]>()) };
        check(7u64);
        check([7u64; 8]);
    }

    #[test]
    fn generated_entry_points_follow_the_status_conventions() {
        let h = ffi_test_gadget_new(1);
        assert_ne!(h, 0);
        let mut out = 0;
        assert_eq!(ffi_test_gadget_id(h, Some(&mut out)), TestStatus::Ok);
        assert_eq!(out, 1);
        assert_eq!(ffi_test_gadget_retain(h), TestStatus::Ok);
        assert_eq!(ffi_test_gadget_release(h), TestStatus::Ok);
        assert_eq!(ffi_test_gadget_free(h), TestStatus::Ok);
        assert_eq!(ffi_test_gadget_free(h), TestStatus::Stale);
        assert_eq!(ffi_test_gadget_retain(h), TestStatus::Stale);
        assert_eq!(ffi_test_gadget_release(h), TestStatus::Stale);
        assert_eq!(ffi_test_gadget_id(h, Some(&mut out)), TestStatus::Stale);
        for zero in [
            ffi_test_gadget_free(0),
            ffi_test_gadget_retain(0),
            ffi_test_gadget_release(0),
            ffi_test_gadget_id(0, Some(&mut out)),
        ] {
            assert_eq!(zero, TestStatus::NullHandle);
        }
        assert_eq!(out, 1, "failed calls write nothing");

        let mut created = 0;
        assert_eq!(
            ffi_test_gadget_create(2, 0, Some(&mut created)),
            TestStatus::Ok
        );
        assert!(GADGETS.contains(Handle::from_raw(created).unwrap()));
        let live = GADGETS.len();
        assert_eq!(ffi_test_gadget_create(3, 0, None), TestStatus::NullPointer);
        assert_eq!(GADGETS.len(), live, "a NULL out-pointer creates nothing");
        assert_eq!(ffi_test_gadget_id(created, None), TestStatus::NullPointer);
        assert_eq!(ffi_test_gadget_release(created), TestStatus::Ok);
    }

    #[test]
    fn a_panic_inside_an_entry_point_is_a_status() {
        // In the constructor's expression: 0, or PANIC, and nothing inserted.
        assert_eq!(ffi_test_gadget_new(13), 0);
        let mut h = 0;
        assert_eq!(
            ffi_test_gadget_create(13, 0, Some(&mut h)),
            TestStatus::Panic
        );
        assert_eq!(h, 0);
        // In a lookup's closure: PANIC, the output untouched, the entry still usable.
        let seven = ffi_test_gadget_new(7);
        let mut out = 99;
        assert_eq!(ffi_test_gadget_id(seven, Some(&mut out)), TestStatus::Panic);
        assert_eq!(out, 99);
        assert_eq!(ffi_test_gadget_free(seven), TestStatus::Ok);
        assert_eq!(ffi_test_gadget_id(seven, Some(&mut out)), TestStatus::Stale);
    }

    static BOMB_DROPS: AtomicUsize = AtomicUsize::new(0);

    /// Panics in `Drop`.
    struct Bomb;

    impl Drop for Bomb {
        fn drop(&mut self) {
            BOMB_DROPS.fetch_add(1, Ordering::Relaxed);
            panic!("bomb drop panics on purpose");
        }
    }

    static BOMBS: HandleTable<Bomb> = HandleTable::new();

    #[test]
    fn a_drop_panic_in_a_free_is_a_status_or_waits_for_the_flush() {
        let bomb = insert(&BOMBS, || Bomb);
        assert_ne!(bomb, 0);
        // The value is dropped inside the free when this thread is alone (the panic is the
        // free's status), or at the flush (which resumes it): exactly one of the two.
        let status: TestStatus = revoke(&BOMBS, bomb);
        let flush = catch_unwind(|| BOMBS.flush());
        match status {
            TestStatus::Panic => assert!(flush.is_ok()),
            TestStatus::Ok => drop_payload(flush.expect_err("the flush resumes the drop panic")),
            other => panic!("unexpected status {other:?}"),
        }
        assert_eq!(BOMB_DROPS.load(Ordering::Relaxed), 1);
        assert_eq!(revoke::<Bomb, TestStatus>(&BOMBS, bomb), TestStatus::Stale);
    }

    #[test]
    fn call_and_call_or() {
        assert_eq!(call::<TestStatus>(|| Ok(())), TestStatus::Ok);
        assert_eq!(call(|| Err(TestStatus::Full)), TestStatus::Full);
        assert_eq!(
            call::<TestStatus>(|| panic!("on purpose")),
            TestStatus::Panic
        );
        assert_eq!(call_or(-1, || 5), 5);
        assert_eq!(call_or(-1, || panic!("on purpose")), -1);
        assert_eq!(handle(0), Err(Error::Null));
        let mut x = 0u8;
        assert!(out(Some(&mut x)).is_ok());
        assert_eq!(out::<u8>(None), Err(NullPointer));
    }
}
