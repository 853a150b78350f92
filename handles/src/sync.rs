//! The one place that chooses between `std` and `loom` primitives.
//!
//! Every atomic, fence and cell that takes part in a concurrency protocol is imported from here,
//! so `RUSTFLAGS="--cfg handles_loom"` swaps all of them for loom's model-checked versions at once.
//! Code outside this module never names `std::sync::atomic` for protocol state.

#[cfg(handles_loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, fence};
#[cfg(not(handles_loom))]
pub(crate) use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, fence};

pub(crate) use std::sync::atomic::Ordering;

/// Lets other threads run while this one waits for them; under loom, a loom yield.
pub(crate) fn yield_now() {
    #[cfg(handles_loom)]
    loom::thread::yield_now();
    #[cfg(not(handles_loom))]
    std::thread::yield_now();
}

/// A spin-wait hint; under loom a yield, so models of waiting loops stay finite.
#[inline(always)]
pub(crate) fn spin_hint() {
    #[cfg(handles_loom)]
    loom::thread::yield_now();
    #[cfg(not(handles_loom))]
    core::hint::spin_loop();
}

/// Declares `const fn` items that are plain `fn` under loom (whose atomics are not const).
macro_rules! const_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($args:tt)*) -> $ret:ty $body:block) => {
        #[cfg(not(handles_loom))]
        $(#[$m])* $vis const fn $name($($args)*) -> $ret $body
        #[cfg(handles_loom)]
        $(#[$m])* $vis fn $name($($args)*) -> $ret $body
    };
}
pub(crate) use const_fn;

/// An `UnsafeCell` with loom's closure-based access API, so loom can check every access to the
/// stored value for data races (for example a reader borrowing a value while it is dropped).
#[cfg(handles_loom)]
pub(crate) use loom::cell::UnsafeCell;

#[cfg(not(handles_loom))]
#[derive(Debug)]
#[repr(transparent)]
pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(handles_loom))]
impl<T> UnsafeCell<T> {
    #[allow(dead_code)] // pages are zero-allocated outside loom; kept for parity with loom's API
    pub(crate) const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }

    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
