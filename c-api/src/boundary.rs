//! The C boundary: how every `extern "C"` function of this crate runs its body, reads its
//! handle argument and writes its outputs.
//!
//! * [`boundary`] runs the body under `catch_unwind`, so no panic crosses `extern "C"`. The
//!   function's return type picks both what the body returns ([`Boundary::Body`]:
//!   `Result<(), HdlStatus>` for a status, so the body can use `?`; the value itself otherwise)
//!   and what a caught panic returns ([`Boundary::ON_PANIC`]: `HDL_STATUS_PANIC` for a status).
//! * [`out_ptr!`] checks an out-pointer parameter for NULL, and [`Out::write`] writes it: the
//!   one place where this crate writes a value through a pointer C gave it.
//! * [`handle`] turns a `uint64_t` argument into a [`Handle`] (0 is `HDL_STATUS_NULL_HANDLE`).

use crate::status::HdlStatus;
use core::ptr::NonNull;
use handles::Handle;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A return type of an `extern "C"` function: what its body returns, and what the function
/// returns when the body panicked.
pub(crate) trait Boundary: Sized {
    /// What the body of a function returning `Self` returns.
    type Body;
    /// What the function returns when its body panicked.
    const ON_PANIC: Self;
    /// The function's return value for what its body returned.
    fn from_body(body: Self::Body) -> Self;
}

/// A status: the body returns `Ok(())` or the error status; a panic is `HDL_STATUS_PANIC`.
impl Boundary for HdlStatus {
    type Body = Result<(), HdlStatus>;
    const ON_PANIC: HdlStatus = HdlStatus::Panic;

    #[inline(always)]
    fn from_body(body: Result<(), HdlStatus>) -> HdlStatus {
        match body {
            Ok(()) => HdlStatus::Ok,
            Err(e) => e,
        }
    }
}

/// Plain values: the body returns the value itself; a panic returns the given one.
macro_rules! plain_boundary {
    ($($t:ty => $on_panic:expr),+ $(,)?) => {$(
        impl Boundary for $t {
            type Body = $t;
            const ON_PANIC: $t = $on_panic;

            #[inline(always)]
            fn from_body(body: $t) -> $t {
                body
            }
        }
    )+};
}

plain_boundary!(bool => false, u32 => 0, u64 => 0, usize => 0);

/// A pointer: NULL on panic.
impl<T> Boundary for *const T {
    type Body = *const T;
    const ON_PANIC: *const T = core::ptr::null();

    #[inline(always)]
    fn from_body(body: *const T) -> *const T {
        body
    }
}

/// A pointer: NULL on panic.
impl<T> Boundary for *mut T {
    type Body = *mut T;
    const ON_PANIC: *mut T = core::ptr::null_mut();

    #[inline(always)]
    fn from_body(body: *mut T) -> *mut T {
        body
    }
}

/// Runs the body of an `extern "C"` function returning `R`, turning a panic into
/// `R::ON_PANIC`. A panic payload whose own `drop` panics is forgotten: nothing unwinds out.
#[inline(always)]
pub(crate) fn boundary<R: Boundary>(body: impl FnOnce() -> R::Body) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(body) => R::from_body(body),
        Err(payload) => {
            drop_payload(payload);
            R::ON_PANIC
        }
    }
}

/// Drops a caught panic's payload; if that panics again, forgets the second payload.
#[cold]
#[inline(never)]
fn drop_payload(payload: Box<dyn core::any::Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        core::mem::forget(again);
    }
}

/// The handle behind a `uint64_t` argument; 0 is `HDL_STATUS_NULL_HANDLE`.
#[inline(always)]
pub(crate) fn handle(raw: u64) -> Result<Handle, HdlStatus> {
    Handle::from_raw(raw).ok_or(HdlStatus::NullHandle)
}

/// A non-null out-pointer of an `extern "C"` function, made by [`out_ptr!`]. Writing it
/// consumes it: each output is written at most once, after the operation succeeded.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// `Some` if `ptr` is not NULL. Use [`out_ptr!`], which states the contract once.
    ///
    /// # Safety
    /// `ptr` must be NULL or valid for writing one `T` (non-dangling and aligned) until the
    /// returned `Out` is written or dropped.
    #[inline(always)]
    pub(crate) unsafe fn new(ptr: *mut T) -> Option<Out<T>> {
        NonNull::new(ptr).map(Out)
    }

    /// Writes the output (without reading or dropping what the pointer held).
    #[inline(always)]
    pub(crate) fn write(self, value: T) {
        // SAFETY: the pointer is non-null (checked by `new`) and valid for writing a `T` until
        // now: the promise of `new`'s caller, which `out_ptr!` takes from the C caller.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// Checks an out-pointer parameter: `Some(Out)` to write it, `None` if it is NULL. Required
/// outputs map `None` to `HDL_STATUS_NULL_POINTER`; optional ones are skipped when NULL.
///
/// Use it only on a raw-pointer parameter of the `extern "C"` function it is called in, and only
/// where that function's `# Safety` section requires the parameter to be "NULL or valid for
/// writing" one value of its type: that requirement on the C caller is what makes the write
/// sound.
macro_rules! out_ptr {
    ($param:ident) => {{
        let ptr = $param;
        // SAFETY: `ptr` is a parameter of the exported function we are in, whose `# Safety`
        // section requires it to be NULL or valid for writing for the whole call (the contract
        // of this macro).
        unsafe { $crate::boundary::Out::new(ptr) }
    }};
}
pub(crate) use out_ptr;

#[cfg(test)]
mod tests {
    use super::*;

    struct PanicsOnDrop;

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            // A zero-sized payload: the boundary forgets this second payload, and a forgotten
            // allocation would be a leak under Miri.
            std::panic::panic_any(());
        }
    }

    #[test]
    fn a_panic_returns_the_types_value() {
        assert_eq!(
            boundary::<HdlStatus>(|| panic!("on purpose")),
            HdlStatus::Panic
        );
        assert!(!boundary::<bool>(|| panic!("on purpose")));
        assert_eq!(boundary::<usize>(|| panic!("on purpose")), 0);
        assert!(boundary::<*const u8>(|| panic!("on purpose")).is_null());
        // A payload that panics again when dropped does not unwind out either.
        let status: HdlStatus = boundary(|| std::panic::panic_any(PanicsOnDrop));
        assert_eq!(status, HdlStatus::Panic);
    }

    #[test]
    fn a_body_returns_its_value() {
        assert_eq!(boundary::<HdlStatus>(|| Ok(())), HdlStatus::Ok);
        assert_eq!(
            boundary::<HdlStatus>(|| Err(HdlStatus::Busy)),
            HdlStatus::Busy
        );
        assert_eq!(boundary::<usize>(|| 7), 7);
        assert_eq!(handle(0), Err(HdlStatus::NullHandle));
    }

    /// Shaped like an exported function: NULL or valid for writing.
    ///
    /// # Safety
    /// `out` must be NULL or valid for writing a `u64`.
    unsafe fn write_seven(out: *mut u64) -> HdlStatus {
        boundary(|| {
            out_ptr!(out).ok_or(HdlStatus::NullPointer)?.write(7);
            Ok(())
        })
    }

    #[test]
    fn out_pointers() {
        let mut v = 0u64;
        // SAFETY: NULL, then a valid `u64`.
        unsafe {
            assert_eq!(write_seven(core::ptr::null_mut()), HdlStatus::NullPointer);
            assert_eq!(write_seven(&mut v), HdlStatus::Ok);
        }
        assert_eq!(v, 7);
    }
}
