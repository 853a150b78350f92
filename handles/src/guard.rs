//! `Guard`: a scoped borrow of a table entry.

use crate::registry::Record;
use crate::slot::Slot;
use crate::sync::{AtomicUsize, Ordering};
use core::marker::PhantomData;
use core::ops::Deref;

/// What keeps the value alive while a guard exists: always a hazard cell naming the slot.
pub(crate) enum Hold {
    /// A cell of this thread's record (the normal case).
    Hazard(&'static AtomicUsize),
    /// A cell of a record claimed for this guard alone, during thread-local teardown; the
    /// record is released with the guard.
    Detached(&'static AtomicUsize, &'static Record),
}

/// A borrow of a table entry, returned by [`HandleTable::get`](crate::HandleTable::get);
/// derefs to `&T`.
///
/// While the guard lives, the value is not dropped, even if the handle is removed. The guard
/// is tied to the thread that made it (`!Send`), because it occupies one of that thread's
/// hazard cells.
///
/// ```
/// let table = handles::HandleTable::new();
/// let h = table.insert(10u32);
/// let g = table.get(h).unwrap();
/// assert_eq!(*g + 1, 11);
/// ```
pub struct Guard<'a, T: Send + Sync> {
    slot: &'a Slot<T>,
    hold: Hold,
    /// Hazards belong to the creating thread.
    _not_send: PhantomData<*const ()>,
}

impl<'a, T: Send + Sync> Guard<'a, T> {
    #[inline(always)]
    pub(crate) fn new(slot: &'a Slot<T>, hold: Hold) -> Self {
        Guard {
            slot,
            hold,
            _not_send: PhantomData,
        }
    }

    /// The slot this guard protects.
    #[inline(always)]
    pub(crate) fn slot(&self) -> &'a Slot<T> {
        self.slot
    }
}

impl<T: Send + Sync> Deref for Guard<'_, T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds a hazard naming the slot, validated after publication; no
        // reclamation pass drops a value a hazard names, so it stays initialised and in place
        // until the guard clears the hazard on drop.
        unsafe { self.slot.value() }
    }
}

impl<T: Send + Sync> Drop for Guard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        match self.hold {
            // Release orders our reads of the value before a reclaimer's Acquire load of the
            // hazard; after that it may drop the value.
            Hold::Hazard(hazard) => hazard.store(0, Ordering::Release),
            Hold::Detached(hazard, record) => {
                hazard.store(0, Ordering::Release);
                crate::registry::registry().release(record);
            }
        }
    }
}

impl<T: Send + Sync + core::fmt::Debug> core::fmt::Debug for Guard<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&**self, f)
    }
}
