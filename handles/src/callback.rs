//! Callback registries: Rust closures behind handles that travel through C libraries as
//! `void *user_data`.
//!
//! A C library that takes a function pointer and a `void *user_data` (a thread pool, an event
//! loop, `sqlite3_create_function_v2`, `qsort_r`) calls back with that pointer from any thread,
//! possibly long after Rust has stopped caring. Passing a raw `Box` pointer as `user_data` turns
//! every late or duplicate call into a use-after-free. Here `user_data` is a [`Handle`] into one
//! process-wide table of closures, so a late call finds a stale handle and gets a clean error.
//!
//! * [`Callback::new`] registers a closure (`Fn(..) -> R + Send + Sync + 'static`) and owns its
//!   registration: dropping the [`Callback`] (or [`Callback::revoke`]) unregisters it at once,
//!   without waiting for calls in flight.
//! * [`Callback::user_data`] is the handle as a `void *`; [`Callback::trampoline0`] ..
//!   [`Callback::trampoline4`] (and the `_last` variants for APIs that pass `user_data` last)
//!   are generic `extern "C"` functions that look the handle up with a scoped lookup (no shared
//!   write), check the closure type, call it, and catch panics.
//! * When a call cannot reach its closure (stale, revoked, forged, wrong type) or the closure
//!   panics, the trampoline returns the return type's [`Fallback`] value and records why in
//!   [`last_error`].
//! * For C APIs with a destroy-notify, [`Callback::into_user_data`] gives C the registration,
//!   or [`Callback::user_data_owned`] gives C a reference of its own; [`destroy_notify`]
//!   releases it, and the closure is dropped once every owner has let go.
//! * For other callback shapes, [`invoke`] does the lookup, type check and panic catch and lets
//!   you call the closure yourself.
//!
//! Inside a callback, [`current`] is the handle of the callback being run, so a callback can
//! unregister itself ([`revoke`]): the call in progress finishes normally, later calls fail.
//!
//! # Worked example: a C thread pool
//!
//! ```
//! use core::ffi::c_void;
//! use ffi_handles::callback::{self, Callback};
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//!
//! // What a C library exposes: `void submit(void (*task)(void *), void *user_data)`.
//! // (Here it runs the task on a new thread, as a pool would.)
//! type Task = extern "C" fn(*mut c_void);
//! fn c_submit(task: Task, user_data: *mut c_void) -> std::thread::JoinHandle<()> {
//!     let carried = user_data as usize; // C would just keep the pointer
//!     std::thread::spawn(move || task(carried as *mut c_void))
//! }
//!
//! let hits = Arc::new(AtomicU32::new(0));
//! let counter = hits.clone();
//! let cb = Callback::new(move || {
//!     counter.fetch_add(1, Ordering::Relaxed);
//! });
//! // The trampoline's type comes from the closure's: `extern "C" fn(*mut c_void)`.
//! let task: Task = cb.trampoline0();
//! for worker in (0..4).map(|_| c_submit(task, cb.user_data())).collect::<Vec<_>>() {
//!     worker.join().unwrap();
//! }
//! assert_eq!(hits.load(Ordering::Relaxed), 4);
//!
//! // Unregistered: a late call from C is a clean, reported no-op, not a use-after-free.
//! let late = cb.user_data();
//! cb.revoke().unwrap();
//! task(late);
//! assert_eq!(hits.load(Ordering::Relaxed), 4);
//! assert_eq!(callback::last_error(), Some(callback::CallError::Handle(ffi_handles::Error::Stale)));
//! ```
//!
//! # A C API with a destroy-notify
//!
//! ```
//! use core::ffi::{c_int, c_void};
//! use ffi_handles::callback::{self, Callback};
//!
//! // `int register_filter(int (*f)(void *, int), void *user_data, void (*destroy)(void *))`:
//! // the library keeps `user_data` until it calls `destroy(user_data)`, once.
//! struct Library {
//!     f: extern "C" fn(*mut c_void, c_int) -> c_int,
//!     user_data: *mut c_void,
//!     destroy: extern "C" fn(*mut c_void),
//! }
//!
//! let cb = Callback::new(|x: c_int| x * 2);
//! let lib = Library {
//!     f: cb.trampoline1(),
//!     user_data: cb.user_data_owned().unwrap(), // C's own reference
//!     destroy: callback::destroy_notify,
//! };
//! assert_eq!((lib.f)(lib.user_data, 21), 42);
//! cb.revoke().unwrap(); // Rust unregisters: calls fail cleanly from now on...
//! assert_eq!((lib.f)(lib.user_data, 21), -1); // c_int's fallback
//! (lib.destroy)(lib.user_data); // ...and the closure goes once the library lets go too
//!
//! // Or hand the registration itself to C: the closure stays callable until `destroy`.
//! let cb = Callback::new(|x: c_int| x + 1);
//! let (f, user_data) = (cb.trampoline1(), cb.into_user_data());
//! assert_eq!(f(user_data, 1), 2);
//! callback::destroy_notify(user_data);
//! assert_eq!(f(user_data, 1), -1);
//! ```

use crate::{Error, Handle, HandleTable, ReclaimPolicy};
use core::any::Any;
use core::ffi::c_void;
use core::fmt;
use core::marker::PhantomData;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

type Erased = Box<dyn Any + Send + Sync>;

/// Every registered closure, type-erased; the handle's table tag rejects handles of other
/// tables, the `TypeId` check rejects a handle passed to another closure type's trampoline.
static CALLBACKS: HandleTable<Erased> = HandleTable::new();

/// Why a trampoline (or [`invoke`]) could not run its closure to completion.
///
/// ```
/// use ffi_handles::{Error, callback::{self, CallError, Callback}};
///
/// let cb = Callback::new(|| -> u8 { panic!("on purpose") });
/// assert_eq!(callback::invoke(cb.user_data(), |f: &fn() -> u8| f()), Err(CallError::WrongType));
/// assert_eq!(callback::invoke(core::ptr::null(), |f: &fn()| f()), Err(CallError::Handle(Error::Null)));
/// # let hook = std::panic::take_hook();
/// # std::panic::set_hook(Box::new(|_| {}));
/// let f: extern "C" fn(*mut core::ffi::c_void) -> u8 = cb.trampoline0();
/// assert_eq!(f(cb.user_data()), u8::MAX); // the panic was caught: u8's fallback
/// # std::panic::set_hook(hook);
/// assert_eq!(callback::last_error(), Some(CallError::Panicked));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallError {
    /// `user_data` does not name a live callback: NULL, forged, from another table, revoked,
    /// ended, or busy (racing a `take`). The closure did not run.
    Handle(Error),
    /// `user_data` names a callback of another closure type (it was passed to the wrong
    /// trampoline). The closure did not run.
    WrongType,
    /// The closure panicked; the panic was caught at the trampoline.
    Panicked,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Handle(e) => write!(f, "callback not callable: {e}"),
            CallError::WrongType => f.write_str("callback has another closure type"),
            CallError::Panicked => f.write_str("callback panicked"),
        }
    }
}

impl std::error::Error for CallError {}

impl From<Error> for CallError {
    fn from(e: Error) -> CallError {
        CallError::Handle(e)
    }
}

/// The value a trampoline returns to C when it cannot run the closure or the closure panics
/// (the reason is in [`last_error`]).
///
/// | return type | fallback |
/// |---|---|
/// | `()` | `()` |
/// | `bool` | `false` |
/// | signed integers | `-1` (the POSIX "error" convention; for `sqlite3_exec`-style callbacks, "abort") |
/// | unsigned integers | all bits set (`(size_t)-1`) |
/// | `f32`, `f64` | NaN |
/// | `*const T`, `*mut T` | NULL |
/// | `Option<T>` | `None` |
/// | `Result<T, E>` with `E: From<CallError>` | `Err(error.into())` |
///
/// Implement it for your own `#[repr(transparent)]` return types when a C API wants something
/// else (for example a specific status code):
///
/// ```
/// use ffi_handles::callback::{CallError, Callback, Fallback};
///
/// /// A C library's status: 0 = ok, 2 = "user callback failed".
/// #[repr(transparent)]
/// #[derive(Debug, PartialEq)]
/// struct Status(i32);
/// impl Fallback for Status {
///     fn fallback(_: CallError) -> Status { Status(2) }
/// }
///
/// let cb = Callback::new(|| Status(0));
/// let f: extern "C" fn(*mut core::ffi::c_void) -> Status = cb.trampoline0();
/// assert_eq!(f(cb.user_data()), Status(0));
/// assert_eq!(f(core::ptr::null_mut()), Status(2));
/// ```
pub trait Fallback {
    /// The value to return when the call failed with `error`.
    ///
    /// ```
    /// use ffi_handles::callback::{CallError, Fallback};
    /// assert_eq!(<i32 as Fallback>::fallback(CallError::WrongType), -1);
    /// assert_eq!(<Option<u8> as Fallback>::fallback(CallError::Panicked), None);
    /// ```
    fn fallback(error: CallError) -> Self;
}

impl Fallback for () {
    fn fallback(_: CallError) {}
}

impl Fallback for bool {
    fn fallback(_: CallError) -> bool {
        false
    }
}

macro_rules! fallback_int {
    ($($t:ty => $v:expr),* $(,)?) => {$(
        impl Fallback for $t {
            fn fallback(_: CallError) -> $t {
                $v
            }
        }
    )*};
}

fallback_int! {
    i8 => -1, i16 => -1, i32 => -1, i64 => -1, isize => -1,
    u8 => u8::MAX, u16 => u16::MAX, u32 => u32::MAX, u64 => u64::MAX, usize => usize::MAX,
    f32 => f32::NAN, f64 => f64::NAN,
}

impl<T> Fallback for *const T {
    fn fallback(_: CallError) -> *const T {
        core::ptr::null()
    }
}

impl<T> Fallback for *mut T {
    fn fallback(_: CallError) -> *mut T {
        core::ptr::null_mut()
    }
}

impl<T> Fallback for Option<T> {
    fn fallback(_: CallError) -> Option<T> {
        None
    }
}

impl<T, E: From<CallError>> Fallback for Result<T, E> {
    fn fallback(error: CallError) -> Result<T, E> {
        Err(error.into())
    }
}

thread_local! {
    /// The callback this thread is running (0: none); saved and restored around each call.
    static CURRENT: Cell<u64> = const { Cell::new(0) };
    /// Why this thread's last failed trampoline call failed.
    static LAST_ERROR: Cell<Option<CallError>> = const { Cell::new(None) };
}

/// The handle of the callback this thread is running, if any: lets a closure unregister itself
/// (`callback::revoke(callback::current().unwrap())`). Nested callbacks see their own handle.
///
/// ```
/// use ffi_handles::callback::{self, Callback};
///
/// let cb = Callback::new(|| callback::current());
/// assert_eq!(callback::current(), None); // not inside a callback
/// let f: extern "C" fn(*mut core::ffi::c_void) -> Option<ffi_handles::Handle> = cb.trampoline0();
/// assert_eq!(f(cb.user_data()), Some(cb.handle()));
/// ```
#[must_use]
pub fn current() -> Option<Handle> {
    CURRENT
        .try_with(|c| Handle::from_raw(c.get()))
        .ok()
        .flatten()
}

/// Why the last trampoline call on this thread that returned a [`Fallback`] value failed.
/// Successful calls do not clear it; use [`take_last_error`] to consume it.
///
/// ```
/// use ffi_handles::{Error, callback::{self, CallError, Callback}};
///
/// let cb = Callback::new(|x: i32| x + 1);
/// let f: extern "C" fn(*mut core::ffi::c_void, i32) -> i32 = cb.trampoline1();
/// let user_data = cb.user_data();
/// drop(cb);
/// assert_eq!(f(user_data, 1), -1); // i32's fallback
/// assert_eq!(callback::last_error(), Some(CallError::Handle(Error::Stale)));
/// ```
#[must_use]
pub fn last_error() -> Option<CallError> {
    LAST_ERROR.try_with(Cell::get).ok().flatten()
}

/// Returns [`last_error`] and clears it.
///
/// ```
/// use ffi_handles::callback::{self, Callback};
///
/// let cb = Callback::new(|| 7u32);
/// let f: extern "C" fn(*mut core::ffi::c_void) -> u32 = cb.trampoline0();
/// assert_eq!(f(core::ptr::null_mut()), u32::MAX); // NULL user_data: the fallback
/// assert!(callback::take_last_error().is_some());
/// assert_eq!(callback::last_error(), None); // cleared
/// ```
pub fn take_last_error() -> Option<CallError> {
    LAST_ERROR.try_with(|e| e.take()).ok().flatten()
}

fn record(error: CallError) {
    let _ = LAST_ERROR.try_with(|e| e.set(Some(error)));
}

/// Restores the previous [`current`] handle, also on unwind.
struct RestoreCurrent(u64);

impl Drop for RestoreCurrent {
    #[inline]
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.set(self.0));
    }
}

/// Runs `f` on the closure of type `F` that `user_data` names, with a scoped lookup: no
/// shared write, no reference counted; a concurrent [`revoke`] (even by `f` itself) waits for
/// nothing and takes effect for later calls. Panics in `f` are caught.
///
/// Use it to write trampolines for callback shapes the `trampolineN` functions do not cover,
/// such as SQLite's `xFunc(sqlite3_context *, int, sqlite3_value **)`, which finds its
/// `user_data` through `sqlite3_user_data(ctx)`:
///
/// ```
/// use core::ffi::c_void;
/// use ffi_handles::callback::{self, Callback, CallError};
///
/// let cb = Callback::new(|a: i64, b: i64| a + b);
/// fn shape<F: Fn(i64, i64) -> i64 + 'static>(_: &Callback<F>, user_data: *mut c_void) -> Result<i64, CallError> {
///     callback::invoke(user_data, |f: &F| f(2, 3))
/// }
/// assert_eq!(shape(&cb, cb.user_data()), Ok(5));
/// assert_eq!(callback::invoke(cb.user_data(), |f: &fn()| f()), Err(CallError::WrongType));
/// ```
///
/// # Errors
/// [`CallError::Handle`] with the handle's error (`Null` for a NULL `user_data`, `Stale` once
/// unregistered, ...), [`CallError::WrongType`] if the closure is not an `F` (`f` is not
/// called), [`CallError::Panicked`] if `f` panicked (the panic is caught).
#[inline]
pub fn invoke<F: 'static, R>(
    user_data: *const c_void,
    f: impl FnOnce(&F) -> R,
) -> Result<R, CallError> {
    let handle = Handle::from_ptr(user_data).ok_or(CallError::Handle(Error::Null))?;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        CALLBACKS.with(handle, |erased| {
            let closure = erased.downcast_ref::<F>().ok_or(CallError::WrongType)?;
            let previous = CURRENT
                .try_with(|c| c.replace(handle.into_raw()))
                .unwrap_or(0);
            let _restore = RestoreCurrent(previous);
            Ok(f(closure))
        })
    }));
    match outcome {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(CallError::Handle(e)),
        Err(payload) => {
            // Dropping the payload may panic again; never let that unwind into C.
            crate::panics::drop_payload(payload);
            Err(CallError::Panicked)
        }
    }
}

/// [`invoke`] for the trampolines: failures become the [`Fallback`] value and [`last_error`].
#[inline]
fn call<F: 'static, R: Fallback>(user_data: *const c_void, f: impl FnOnce(&F) -> R) -> R {
    invoke(user_data, f).unwrap_or_else(|e| {
        record(e);
        R::fallback(e)
    })
}

/// A destroy-notify (`void (*)(void *)`) for C APIs that take one: releases the reference that
/// [`Callback::user_data_owned`] gave C. When it was the last, the closure is dropped (at the
/// next reclamation pass; see [`flush`]). Errors (a stale or forged pointer, a panicking
/// `Drop`) are recorded in [`last_error`] and otherwise ignored: nothing unwinds into C.
///
/// ```
/// use ffi_handles::callback::{self, Callback};
///
/// let cb = Callback::new(|| ());
/// let h = cb.handle();
/// let user_data = cb.user_data_owned().unwrap(); // a reference for C
/// cb.revoke().unwrap();                          // not callable any more; C's reference remains
/// callback::destroy_notify(user_data);           // C is done: the last reference goes
/// assert!(!callback::is_registered(h));
/// callback::destroy_notify(user_data);           // once too often: recorded, not a crash
/// assert!(callback::last_error().is_some());
/// ```
pub extern "C" fn destroy_notify(user_data: *mut c_void) {
    let outcome = catch_unwind(|| match Handle::from_ptr(user_data) {
        Some(h) => CALLBACKS.release(h).map(drop).map_err(CallError::Handle),
        None => Err(CallError::Handle(Error::Null)),
    });
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => record(e),
        Err(payload) => {
            crate::panics::drop_payload(payload);
            record(CallError::Panicked);
        }
    }
}

/// Unregisters a callback by handle (for registrations kept with [`Callback::into_handle`],
/// or from inside the callback with [`current`]). New calls fail at once; calls in flight
/// finish; references given to C with [`Callback::user_data_owned`] keep the closure alive
/// (not callable) until [`destroy_notify`]. Never blocks.
///
/// # Errors
/// [`Error::Stale`] if already unregistered, and the other handle errors.
///
/// ```
/// use ffi_handles::callback::{self, Callback};
///
/// let h = Callback::new(|| ()).into_handle();
/// assert!(callback::is_registered(h));
/// callback::revoke(h).unwrap();
/// assert!(!callback::is_registered(h));
/// assert!(callback::revoke(h).is_err());
/// ```
pub fn revoke(handle: Handle) -> Result<(), Error> {
    CALLBACKS.revoke(handle)
}

/// Whether `handle` names a registered (not revoked) callback.
///
/// ```
/// let cb = ffi_handles::callback::Callback::new(|| ());
/// let h = cb.handle();
/// assert!(ffi_handles::callback::is_registered(h));
/// drop(cb);
/// assert!(!ffi_handles::callback::is_registered(h));
/// ```
#[must_use]
pub fn is_registered(handle: Handle) -> bool {
    CALLBACKS.contains(handle)
}

/// Number of registered callbacks (revoked ones still referenced by C are not counted).
///
/// ```
/// let before = ffi_handles::callback::registered();
/// let cb = ffi_handles::callback::Callback::new(|| ());
/// assert!(ffi_handles::callback::registered() > before || before > 0); // other tests may run
/// drop(cb);
/// ```
#[must_use]
pub fn registered() -> usize {
    CALLBACKS.len()
}

/// Drops unregistered closures now instead of at the next reclamation pass; returns how many
/// still wait for a call in flight. Call it before counting drops, and at shutdown.
///
/// ```
/// let cb = ffi_handles::callback::Callback::new(|| ());
/// drop(cb);
/// ffi_handles::callback::flush(); // the closure is dropped now (no call was in flight)
/// ```
///
/// # Panics
/// If a closure's `Drop` panics (see [`HandleTable::flush`](crate::HandleTable::flush)).
pub fn flush() -> usize {
    CALLBACKS.flush()
}

/// Sets when unregistered closures are dropped: the [`ReclaimPolicy`] of the registry's table
/// (`Caller` until set, as for every Rust table). `Background` drops them on the background
/// reclaimer thread, so no [`destroy_notify`], [`revoke`] or `Callback` drop ever runs another
/// closure's `Drop` (for closures that take locks the C library holds around its callbacks);
/// `Explicit` drops them only in [`flush`]. Takes effect for closures unregistered afterwards.
///
/// ```
/// use ffi_handles::{ReclaimPolicy, callback};
/// callback::set_reclaim_policy(ReclaimPolicy::Background);
/// assert_eq!(callback::reclaim_policy(), ReclaimPolicy::Background);
/// ```
pub fn set_reclaim_policy(policy: ReclaimPolicy) {
    CALLBACKS.set_reclaim_policy(policy);
}

/// The registry's [`ReclaimPolicy`] (see [`set_reclaim_policy`]).
pub fn reclaim_policy() -> ReclaimPolicy {
    CALLBACKS.reclaim_policy()
}

/// A registered closure of type `F`, owning its registration: dropping it unregisters the
/// closure (see [`Callback::revoke`]). `Callback` is `Send + Sync` and only a handle wide.
///
/// ```
/// use ffi_handles::callback::Callback;
///
/// let cb = Callback::new(|s: *const core::ffi::c_char| !s.is_null());
/// // What a C library does with (trampoline, user_data):
/// let f: extern "C" fn(*mut core::ffi::c_void, *const core::ffi::c_char) -> bool = cb.trampoline1();
/// assert!(f(cb.user_data(), c"x".as_ptr()));
/// ```
#[must_use = "dropping a Callback unregisters its closure at once"]
pub struct Callback<F> {
    handle: Handle,
    _closure: PhantomData<fn() -> F>,
}

impl<F: Send + Sync + 'static> Callback<F> {
    /// Registers `f`. Panics when the registry is full (2^22 slots per shard × 64 shards); see
    /// [`Callback::try_new`].
    ///
    /// # Panics
    /// When the registry is full; [`Callback::try_new`] gives the closure back instead.
    ///
    /// ```
    /// let cb = ffi_handles::callback::Callback::new(|x: u8| x * 2);
    /// assert!(ffi_handles::callback::is_registered(cb.handle()));
    /// ```
    pub fn new(f: F) -> Callback<F> {
        match Callback::try_new(f) {
            Ok(cb) => cb,
            Err(e) => panic!("callback registry: {}", e.error),
        }
    }

    /// Registers `f`, or gives it back when the registry is full.
    ///
    /// # Errors
    /// [`InsertError`](crate::InsertError) with [`Error::Full`] and the closure, when the
    /// registry is full.
    ///
    /// ```
    /// let cb = ffi_handles::callback::Callback::try_new(|| 1).unwrap_or_else(|e| panic!("{e:?}"));
    /// assert!(ffi_handles::callback::is_registered(cb.handle()));
    /// ```
    pub fn try_new(f: F) -> Result<Callback<F>, crate::InsertError<F>> {
        match CALLBACKS.try_insert(Box::new(f)) {
            Ok(handle) => Ok(Callback {
                handle,
                _closure: PhantomData,
            }),
            Err(e) => {
                let error = e.error;
                match e.into_inner().downcast::<F>() {
                    Ok(f) => Err(crate::InsertError { value: *f, error }),
                    Err(_) => unreachable!("the registry gave back another value"),
                }
            }
        }
    }
}

impl<F> Callback<F> {
    /// The registration's handle.
    ///
    /// ```
    /// let cb = ffi_handles::callback::Callback::new(|| ());
    /// assert_eq!(ffi_handles::Handle::from_ptr(cb.user_data()), Some(cb.handle()));
    /// ```
    #[must_use]
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// The handle as `void *user_data`, borrowed: valid for calls while this `Callback` lives
    /// and is not revoked; afterwards calls fail cleanly.
    ///
    /// ```
    /// let cb = ffi_handles::callback::Callback::new(|| ());
    /// assert!(!cb.user_data().is_null());
    /// ```
    #[must_use]
    pub fn user_data(&self) -> *mut c_void {
        self.handle.into_ptr()
    }

    /// The handle as `void *user_data` with a new reference that C owns, for C APIs that call a
    /// destroy-notify: pass [`destroy_notify`] as that function. The closure stays alive until
    /// both this `Callback` is dropped (or revoked) and C has called `destroy_notify`; it stays
    /// callable only until this `Callback` is dropped or revoked.
    ///
    /// # Errors
    /// [`Error::Stale`] if revoked meanwhile (by [`revoke`]); [`Error::Full`] if the
    /// reference count is at its maximum.
    ///
    /// ```
    /// use ffi_handles::callback::{self, Callback};
    ///
    /// let cb = Callback::new(|| ());
    /// let user_data = cb.user_data_owned().unwrap(); // C's reference
    /// drop(cb);                                      // unregistered: calls now fail
    /// let f: extern "C" fn(*mut core::ffi::c_void) = callback::destroy_notify;
    /// f(user_data);                                  // C releases its reference
    /// ```
    pub fn user_data_owned(&self) -> Result<*mut c_void, Error> {
        CALLBACKS.retain(self.handle)?;
        Ok(self.handle.into_ptr())
    }

    /// Unregisters the closure now: new calls fail, calls in flight finish, and the closure is
    /// dropped once C's references (if any) are released. Never blocks.
    ///
    /// # Errors
    /// [`Error::Stale`] if it was already unregistered by handle ([`revoke`]).
    ///
    /// ```
    /// let cb = ffi_handles::callback::Callback::new(|| ());
    /// let h = cb.handle();
    /// cb.revoke().unwrap();
    /// assert!(!ffi_handles::callback::is_registered(h));
    /// ```
    pub fn revoke(self) -> Result<(), Error> {
        let handle = self.handle;
        core::mem::forget(self);
        CALLBACKS.revoke(handle)
    }

    /// Gives the registration to C as `void *user_data`, for C APIs that call a destroy-notify
    /// ([`destroy_notify`]) when done: the closure stays callable until then, and is dropped
    /// after. Rust can still cut it off early with [`revoke`] on [`Callback::handle`].
    ///
    /// ```
    /// use ffi_handles::callback::{self, Callback};
    ///
    /// let user_data = Callback::new(|| ()).into_user_data(); // C owns the registration now
    /// let h = ffi_handles::Handle::from_ptr(user_data).unwrap();
    /// assert!(callback::is_registered(h));
    /// callback::destroy_notify(user_data);                  // C is done with it
    /// assert!(!callback::is_registered(h));
    /// ```
    #[must_use = "the registration lives until destroy_notify is called with this user_data"]
    pub fn into_user_data(self) -> *mut c_void {
        self.into_handle().into_ptr()
    }

    /// Keeps the closure registered without an owner, e.g. for a callback that unregisters
    /// itself ([`current`] + [`revoke`]). Unregister it with [`revoke`].
    ///
    /// ```
    /// use ffi_handles::callback::{self, Callback};
    ///
    /// let h = Callback::new(|| ()).into_handle();
    /// assert!(callback::is_registered(h));
    /// callback::revoke(h).unwrap();
    /// ```
    #[must_use = "without the handle the closure stays registered until the process ends"]
    pub fn into_handle(self) -> Handle {
        let handle = self.handle;
        core::mem::forget(self);
        handle
    }
}

impl<F> Drop for Callback<F> {
    fn drop(&mut self) {
        // `Stale` means it was already unregistered by handle: nothing left to do.
        let _ = CALLBACKS.revoke(self.handle);
    }
}

impl<F> fmt::Debug for Callback<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Callback").field(&self.handle).finish()
    }
}

macro_rules! trampolines {
    ($($first:ident, $method:ident: ($($a:ident $A:ident),*);)*) => {$(
        #[doc = concat!(
            "Trampoline for C callbacks shaped `R (*)(void *user_data",
            $(", ", stringify!($A),)* ")`, calling an `F: Fn(", $(stringify!($A), ", ",)*
            ") -> R` registered as a [`Callback`]. See [`Callback::", stringify!($method), "`].",
            "\n\n```\nuse ffi_handles::callback::Callback;\n\nlet cb = Callback::new(|x: i32| x + 1);\n\
             let f: extern \"C\" fn(*mut core::ffi::c_void, i32) -> i32 = cb.trampoline1();\n\
             assert_eq!(f(cb.user_data(), 1), 2);\n```")]
        pub extern "C" fn $first<F, $($A,)* R>(user_data: *mut c_void, $($a: $A),*) -> R
        where
            F: Fn($($A),*) -> R + Send + Sync + 'static,
            R: Fallback,
        {
            call(user_data, |f: &F| f($($a),*))
        }

        impl<F: Send + Sync + 'static> Callback<F> {
            #[doc = concat!(
                "The `extern \"C\"` trampoline for this closure, for C callbacks shaped `R \
                 (*)(void *user_data", $(", ", stringify!($A),)* ")`; pass \
                 [`Callback::user_data`] as its `user_data`. It does a scoped lookup, checks \
                 the closure type, calls it and catches panics; when the call fails it returns \
                 `R`'s [`Fallback`] and records the reason in [`last_error`].",
                    "\n\n```\nuse ffi_handles::callback::Callback;\n\nlet cb = Callback::new(|x: i32| x + 1);\n\
                 let f: extern \"C\" fn(*mut core::ffi::c_void, i32) -> i32 = cb.trampoline1();\n\
                 assert_eq!(f(cb.user_data(), 1), 2);\n```")]
            pub fn $method<$($A,)* R>(&self) -> extern "C" fn(*mut c_void, $($A),*) -> R
            where
                F: Fn($($A),*) -> R,
                R: Fallback,
            {
                $first::<F, $($A,)* R>
            }
        }
    )*};
}

macro_rules! trampolines_last {
    ($($last:ident, $method:ident: ($($a:ident $A:ident),*);)*) => {$(
        #[doc = concat!(
            "Trampoline for C callbacks that pass `user_data` last: `R (*)(",
            $(stringify!($A), ", ",)* "void *user_data)`. See [`Callback::",
            stringify!($method), "`].",
            "\n\n```\nuse ffi_handles::callback::Callback;\n\nlet cb = Callback::new(|x: i32| x + 1);\n\
             let f: extern \"C\" fn(i32, *mut core::ffi::c_void) -> i32 = cb.trampoline1_last();\n\
             assert_eq!(f(1, cb.user_data()), 2);\n```")]
        pub extern "C" fn $last<F, $($A,)* R>($($a: $A,)* user_data: *mut c_void) -> R
        where
            F: Fn($($A),*) -> R + Send + Sync + 'static,
            R: Fallback,
        {
            call(user_data, |f: &F| f($($a),*))
        }

        impl<F: Send + Sync + 'static> Callback<F> {
            #[doc = concat!(
                "The `extern \"C\"` trampoline for this closure, for C callbacks that pass \
                 `user_data` last: `R (*)(", $(stringify!($A), ", ",)* "void *user_data)`. \
                 Otherwise like [`Callback::trampoline0`].",
                    "\n\n```\nuse ffi_handles::callback::Callback;\n\nlet cb = Callback::new(|x: i32| x + 1);\n\
                 let f: extern \"C\" fn(i32, *mut core::ffi::c_void) -> i32 = cb.trampoline1_last();\n\
                 assert_eq!(f(1, cb.user_data()), 2);\n```")]
            pub fn $method<$($A,)* R>(&self) -> extern "C" fn($($A,)* *mut c_void) -> R
            where
                F: Fn($($A),*) -> R,
                R: Fallback,
            {
                $last::<F, $($A,)* R>
            }
        }
    )*};
}

trampolines! {
    trampoline0_fn, trampoline0: ();
    trampoline1_fn, trampoline1: (a A);
    trampoline2_fn, trampoline2: (a A, b B);
    trampoline3_fn, trampoline3: (a A, b B, c C);
    trampoline4_fn, trampoline4: (a A, b B, c C, d D);
}

trampolines_last! {
    trampoline1_last_fn, trampoline1_last: (a A);
    trampoline2_last_fn, trampoline2_last: (a A, b B);
    trampoline3_last_fn, trampoline3_last: (a A, b B, c C);
    trampoline4_last_fn, trampoline4_last: (a A, b B, c C, d D);
}
