//! `Guard`: a scoped borrow of a table entry, and the hazard protocol that makes one.
//!
//! [`Guard::protect`] is the only way to build a guard: it publishes a hazard naming the slot,
//! runs the light barrier, and validates the slot's state; a guard exists only once that
//! validation succeeded, so its `Deref` may rely on it. The reclamation side of the protocol is
//! in `reclaim.rs` (heavy barrier, hazard scan).

use crate::acquire;
use crate::barrier;
use crate::global;
use crate::registry::Record;
use crate::slot::{Slot, is_taking_for};
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
/// While the guard lives, the value is not dropped, even if the handle is revoked. The guard
/// is tied to the thread that made it (`!Send`), because it occupies one of that thread's
/// hazard cells.
///
/// ```
/// let table = ffi_handles::HandleTable::new();
/// let h = table.insert(10u32);
/// let g = table.get(h).unwrap();
/// assert_eq!(*g + 1, 11);
/// ```
#[must_use = "the guard is the borrow: dropping it at once reads nothing"]
pub struct Guard<'a, T: Send + Sync> {
    slot: &'a Slot<T>,
    hold: Hold,
    /// Hazards belong to the creating thread.
    _not_send: PhantomData<*const ()>,
}

impl<'a, T: Send + Sync> Guard<'a, T> {
    /// The hazard protocol: publishes the hazard cell of `hold` for `slot`, then checks the
    /// slot's state with `accept(state, raw)`. On success returns a guard on the slot and the
    /// accepted state. On failure clears the cell (and releases a temporary record) and returns
    /// the state that failed.
    ///
    /// When the state is not accepted because a `take` is deciding on the occupant `raw` names
    /// (TAKING), `SETTLE == true` settles it back to LIVE and checks again (so the take fails
    /// with `Busy` and this lookup succeeds); `SETTLE == false` returns the TAKING state, for a
    /// fast path that retries on its slow path, keeping one cold call site.
    ///
    /// `FIRST_CELL == true` runs the fast path's light barrier
    /// ([`barrier::light_first_cell`]: no load of the barrier mode, no branch, and so no call
    /// on the path that would make the caller save registers); requirement 4 says when.
    ///
    /// # Safety
    ///
    /// 1. The hazard cell in `hold` belongs to a record the calling thread owns (its
    ///    registered record, or a temporary record it claimed and moved into `hold`), and holds
    ///    0: no other guard or lookup uses it.
    /// 2. `accept(state, raw)` is true only for states in which the slot's value cell holds the
    ///    value of the occupant `raw` names and that occupant has not ended: LIVE or REVOKED
    ///    for `raw` (never TAKING, ENDED, FREE or EXHAUSTED).
    /// 3. `slot` is a slot of a table page that stays allocated for `'a` (pages are freed only
    ///    when the table is dropped).
    /// 4. If `FIRST_CELL`: the cell is the first hazard cell of a record the calling thread
    ///    claimed (not a sentinel), and the caller loaded it as 0 after the claim. A claimed
    ///    record's first cell is 0 only when the barrier mode allows a compiler fence on this
    ///    side (its claim marked it otherwise: `registry::FENCED`).
    #[inline(always)]
    pub(crate) unsafe fn protect<const SETTLE: bool, const FIRST_CELL: bool>(
        slot: &'a Slot<T>,
        hold: Hold,
        raw: u64,
        accept: fn(u64, u64) -> bool,
    ) -> Result<(Guard<'a, T>, u64), u64> {
        let hazard = hold.cell();
        // Publish the hazard, then read the state. A reclaimer that misses this hazard is
        // ordered before our state load by the barrier pair (light here, heavy in the pass),
        // so we then see the entry ended and back off. Release (a plain store on x86): a
        // reclaimer that reads this value instead of our previous clear of the same cell is
        // still ordered after our reads under that previous hazard.
        hazard.store(slot as *const Slot<T> as usize, Ordering::Release);
        if FIRST_CELL {
            // Requirement 4: the mode is asymmetric, or this is a real fence.
            barrier::light_first_cell();
        } else {
            barrier::light();
        }
        // Acquire pairs with insert's Release: the value is initialised. RCpc on aarch64
        // (`ldapr`, see `acquire.rs`): the hazard store before it and the clear after it are
        // `stlr`, and an RCsc `ldar` here would wait for them; the barrier pair, not this load,
        // orders the hazard store before it.
        let state = acquire::load_u64(&slot.state);
        if accept(state, raw) {
            return Ok((Guard::validated(slot, hold), state));
        }
        let seen = if SETTLE {
            match Self::protect_contended(slot, raw, accept, state) {
                Ok(state) => return Ok((Guard::validated(slot, hold), state)),
                Err(seen) => seen,
            }
        } else {
            state
        };
        // The cell is ours (requirement 1), so we may clear it; a temporary record is ours to
        // release.
        hold.give_back();
        Err(seen)
    }

    /// `protect` when the state was not accepted: a failure, or a `take` deciding on the entry.
    ///
    /// A `take` moves the slot to TAKING, runs the heavy barrier and scans hazards. A taker
    /// that missed our hazard has stored TAKING before its barrier, so we see TAKING (or what
    /// came after it). We then *settle* the entry back to LIVE with one CAS: the taker's final
    /// CAS from its own TAKING word fails, it reports `Busy`, and we read the value as from any
    /// live entry. Either our CAS or the taker's wins; nobody waits for anybody. Returns the
    /// accepted state, or the state that failed.
    #[cold]
    #[inline(never)]
    fn protect_contended(
        slot: &Slot<T>,
        raw: u64,
        accept: fn(u64, u64) -> bool,
        mut state: u64,
    ) -> Result<u64, u64> {
        loop {
            if accept(state, raw) {
                return Ok(state);
            }
            if !is_taking_for(state, raw) {
                return Err(state);
            }
            // Acquire on success (in `settle`): the value was published by the insert whose
            // Release heads the release sequence the taker's CAS continued.
            state = slot.settle(state);
        }
    }

    /// The guard, once `protect` validated its hazard (private: `protect` is the only way in).
    #[inline(always)]
    fn validated(slot: &'a Slot<T>, hold: Hold) -> Self {
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

impl Hold {
    /// The hazard cell.
    #[inline(always)]
    fn cell(&self) -> &'static AtomicUsize {
        match *self {
            Hold::Hazard(hazard) | Hold::Detached(hazard, _) => hazard,
        }
    }

    /// Clears the cell (Release orders our reads of the value before a reclaimer's Acquire
    /// load of the cell; after that it may drop the value) and gives back a temporary record.
    #[inline(always)]
    fn give_back(&self) {
        match *self {
            Hold::Hazard(hazard) => hazard.store(0, Ordering::Release),
            Hold::Detached(hazard, record) => {
                hazard.store(0, Ordering::Release);
                global::release_temporary(record);
            }
        }
    }
}

impl<T: Send + Sync> Deref for Guard<'_, T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: guards are built only by `protect`, after validating the published hazard
        // (its requirements 1-3); no reclamation pass drops a value a hazard names, so it stays
        // initialised and in place until the guard clears the hazard on drop.
        unsafe { self.slot.value() }
    }
}

impl<T: Send + Sync> Drop for Guard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        self.hold.give_back();
    }
}

impl<T: Send + Sync + core::fmt::Debug> core::fmt::Debug for Guard<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&**self, f)
    }
}
