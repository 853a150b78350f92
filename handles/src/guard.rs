//! `Guard`: a scoped borrow of a table entry.

use crate::handle::Handle;
use crate::slot::Slot;
use crate::sync::{AtomicUsize, Ordering};
use crate::table::HandleTable;
use core::marker::PhantomData;
use core::ops::Deref;

/// What keeps the value alive while a guard exists.
pub(crate) enum Hold {
    /// This thread's hazard cell names the slot (the normal, write-free case).
    Hazard(&'static AtomicUsize),
    /// A counted reference (fallback when all hazard cells are in use, or during thread-local
    /// teardown).
    Counted(Handle),
}

/// A borrow of a table entry, returned by [`HandleTable::get`]; derefs to `&T`.
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
    table: &'a HandleTable<T>,
    slot: &'a Slot<T>,
    hold: Hold,
    /// Hazards belong to the creating thread.
    _not_send: PhantomData<*const ()>,
}

impl<'a, T: Send + Sync> Guard<'a, T> {
    #[inline(always)]
    pub(crate) fn new(table: &'a HandleTable<T>, slot: &'a Slot<T>, hold: Hold) -> Self {
        Guard {
            table,
            slot,
            hold,
            _not_send: PhantomData,
        }
    }
}

impl<T: Send + Sync> Deref for Guard<'_, T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds a validated hazard on the slot or a counted reference to its
        // occupant; either keeps the value initialised and in place until the guard drops.
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
            Hold::Counted(handle) => {
                // Cannot fail: our reference keeps the entry counted until this release.
                let _ = self.table.release(handle);
            }
        }
    }
}

impl<T: Send + Sync + core::fmt::Debug> core::fmt::Debug for Guard<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&**self, f)
    }
}
