//! The registry's init guard: a lock-free "racy once" box.
//!
//! The state is one pointer: null until the first user installs the value with a CAS. Once
//! initialised, `get_or_init` is one Acquire load and a null check (a plain `mov` on x86).
//! Concurrent first users each build a candidate; one CAS wins, the losers drop theirs and
//! adopt the winner's. No lock, no `Once`, nothing to deadlock on re-entry or after `fork()`;
//! a panic in `init` leaves the guard uninitialised, so the next caller simply retries.

use crate::sync::{AtomicPtr, Ordering};
use core::marker::PhantomData;

/// A value allocated and published by its first user.
pub(crate) struct InitGuard<T> {
    ptr: AtomicPtr<T>,
    _owns: PhantomData<Box<T>>,
}

// SAFETY: the guard hands `&T` to every thread (needs `T: Sync`) and drops the value on
// whichever thread drops the guard, or drops a losing candidate on the thread that built it
// (needs `T: Send`).
unsafe impl<T: Send + Sync> Sync for InitGuard<T> {}
// SAFETY: as above; moving the guard moves ownership of the boxed value.
unsafe impl<T: Send> Send for InitGuard<T> {}

impl<T> InitGuard<T> {
    /// An uninitialised guard. `const` (except under loom, whose atomics are not const).
    #[cfg(not(handles_loom))]
    pub(crate) const fn new() -> InitGuard<T> {
        InitGuard {
            ptr: AtomicPtr::new(core::ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// An uninitialised guard.
    #[cfg(handles_loom)]
    pub(crate) fn new() -> InitGuard<T> {
        InitGuard {
            ptr: AtomicPtr::new(core::ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// The value, built by `init` if no one has installed one yet.
    #[inline(always)]
    pub(crate) fn get_or_init<'a>(
        &'a self,
        init: impl FnOnce() -> Box<T>,
        published: impl FnOnce(&'a T),
    ) -> &'a T {
        // Acquire pairs with the winning CAS's Release: the value is fully built. RCpc on
        // aarch64 (`ldapr`, the core's `acquire_load_ptr`): a lookup's hazard clear is an `stlr`,
        // and an RCsc `ldar` here in the next call would wait for it.
        #[cfg(not(handles_loom))]
        let ptr = handles::acquire_load_ptr(&self.ptr);
        #[cfg(handles_loom)]
        let ptr = self.ptr.load(Ordering::Acquire);
        if !ptr.is_null() {
            // SAFETY: a non-null pointer was installed by `init_slow` from `Box::into_raw` and
            // is freed only by `Drop`, which `&self` excludes.
            return unsafe { &*ptr };
        }
        self.init_slow(init, published)
    }

    /// The first use: builds a candidate, installs it unless another thread won, and runs
    /// `published` on the installed value in the winning thread only (a losing candidate is
    /// dropped without it ever having been seen).
    #[cold]
    #[inline(never)]
    fn init_slow<'a>(
        &'a self,
        init: impl FnOnce() -> Box<T>,
        published: impl FnOnce(&'a T),
    ) -> &'a T {
        let candidate = Box::into_raw(init());
        match self.ptr.compare_exchange(
            core::ptr::null_mut(),
            candidate,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                // SAFETY: we just installed `candidate`; it lives until the guard is dropped.
                let value = unsafe { &*candidate };
                published(value);
                value
            }
            Err(winner) => {
                // SAFETY: `candidate` came from `Box::into_raw` above and was never published.
                drop(unsafe { Box::from_raw(candidate) });
                // SAFETY: `winner` is the installed value (Acquire on failure synchronises with
                // its Release), freed only by `Drop`.
                unsafe { &*winner }
            }
        }
    }
}

impl<T> Drop for InitGuard<T> {
    fn drop(&mut self) {
        let ptr = self.ptr.load(Ordering::Acquire);
        if !ptr.is_null() {
            // SAFETY: the pointer came from `Box::into_raw` and `&mut self` excludes readers.
            drop(unsafe { Box::from_raw(ptr) });
        }
    }
}
