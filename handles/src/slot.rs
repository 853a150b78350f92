//! A slot: one 64-bit state word and the value stored inline.
//!
//! State word layout (the top 36 bits line up with the handle's tag and generation):
//!
//! ```text
//!  63          38 37     28 27    23 22                  0
//! +--------------+---------+--------+---------------------+
//! | generation   |  tag    | flags  | payload (23 bits)   |
//! +--------------+---------+--------+---------------------+
//! ```
//!
//! | flags            | meaning                                   | payload            |
//! |------------------|-------------------------------------------|--------------------|
//! | none, word == 0  | never used                                | -                  |
//! | none             | FREE: on the shard's free list            | next free index+1  |
//! | `LIVE`           | live: lookups and retains succeed         | reference count    |
//! | `REVOKED`        | revoked, counted references outstanding   | reference count    |
//! | `ENDED`          | count hit 0; value awaits reclamation     | next retired idx+1 |
//! | `TAKING`         | `take` is checking for borrowers; 1 ref   | taker's token      |
//! | `EXHAUSTED`      | generation exhausted: never reused        | 0                  |
//!
//! For FREE slots the generation bits hold the generation the *next* occupant will get; for all
//! other states, the current (or last) occupant's. The value cell holds an initialised `T`
//! exactly in the LIVE, REVOKED, TAKING and ENDED states.
//!
//! A reclamation pass stores [`DROPPING`] (the `EXHAUSTED` bit) while it drops a value, before
//! the slot goes FREE: a process forked mid-drop then sees a slot without a value that it never
//! reuses, and stale handles to it stay stale.
//!
//! **End codes.** The tag field names the table only while the slot has an occupant that
//! handles can reach (LIVE, REVOKED, TAKING). In the ENDED, FREE and EXHAUSTED states the table's
//! tag is implied (every slot of a table carries the same tag, and no check reads it there:
//! `is_live_for` and `is_counted_for` need the LIVE or REVOKED flag), so the field records how
//! the last occupant ended instead: [`END_RELEASED`], [`END_REVOKED`] or [`END_TAKEN`]. The
//! code survives reclamation and the free list, and is lost when the slot is reused.

use crate::handle::{GEN_SHIFT, IDENTITY_MASK, TAG_MASK, TAG_SHIFT};
use crate::sync::{AtomicU64, Ordering, UnsafeCell};
use core::mem::MaybeUninit;

pub(crate) const PAYLOAD_MASK: u64 = (1 << 23) - 1;
pub(crate) const LIVE: u64 = 1 << 23;
pub(crate) const REVOKED: u64 = 1 << 24;
pub(crate) const ENDED: u64 = 1 << 25;
pub(crate) const TAKING: u64 = 1 << 26;
/// The slot's generation is exhausted: it holds no value and is never reused.
pub(crate) const EXHAUSTED: u64 = 1 << 27;
/// A reclamation pass is dropping the slot's value (transient, then FREE). The EXHAUSTED bit:
/// no value (for `has_value`), no reuse, and stale for every handle.
pub(crate) const DROPPING: u64 = EXHAUSTED;
/// Largest reference count.
pub(crate) const MAX_REFS: u64 = PAYLOAD_MASK;

/// End code (ENDED, FREE, EXHAUSTED states): the last reference was released.
pub(crate) const END_RELEASED: u64 = 1 << TAG_SHIFT;
/// End code: the entry was revoked (`revoke`), possibly ending later at its last release.
pub(crate) const END_REVOKED: u64 = 2 << TAG_SHIFT;
/// End code: the value was moved out with `take`.
pub(crate) const END_TAKEN: u64 = 3 << TAG_SHIFT;
/// The tag field, which holds an end code in the ENDED, FREE and EXHAUSTED states.
pub(crate) const END_MASK: u64 = TAG_MASK << TAG_SHIFT;
/// The generation field.
pub(crate) const GEN_FIELD: u64 = !((1 << GEN_SHIFT) - 1);

/// The identity bits of an ended occupant: its generation and the end code `end`.
#[inline(always)]
pub(crate) fn ended_identity(state: u64, end: u64) -> u64 {
    (state & GEN_FIELD) | end
}

/// The end code recorded in an ENDED, FREE or EXHAUSTED state word.
#[inline]
pub(crate) fn end_code(state: u64) -> u64 {
    state & END_MASK
}

/// Identity bits for `tag` and `generation`.
#[inline(always)]
pub(crate) fn identity(tag: u32, generation: u32) -> u64 {
    ((generation as u64) << GEN_SHIFT) | ((tag as u64) << TAG_SHIFT)
}

#[inline(always)]
pub(crate) fn generation_of(state: u64) -> u32 {
    (state >> GEN_SHIFT) as u32
}

/// True when `state` is LIVE and belongs to the occupant named by `raw`.
///
/// One OR, one XOR and one test, with a single branch: in `state ^ (raw | LIVE)`, the bits
/// from the tag up are 0 exactly when the identities match, and the LIVE bit is 0 exactly when
/// the state has the LIVE flag (flags are mutually exclusive, so then it is LIVE). Setting the
/// bit in `raw` first makes whatever a handle carries there (a shard bit) irrelevant.
#[inline(always)]
pub(crate) fn is_live_for(state: u64, raw: u64) -> bool {
    (state ^ (raw | LIVE)) & (IDENTITY_MASK | LIVE) == 0
}

/// True when a `take` is deciding on the occupant `raw` (TAKING). Such an entry is live with
/// one reference for every other operation: see [`settled`].
#[inline(always)]
pub(crate) fn is_taking_for(state: u64, raw: u64) -> bool {
    (state ^ raw) & IDENTITY_MASK == 0 && state & TAKING != 0
}

/// The LIVE state with one reference that a TAKING state stands for. Any other operation on the
/// entry replaces the TAKING word with its own result computed from this, so the take's final
/// CAS fails and the operation behaves as if no take had been in flight.
#[inline(always)]
pub(crate) fn settled(taking: u64) -> u64 {
    identity_of(taking) | LIVE | 1
}

/// True when `state` holds counted references (LIVE or REVOKED) for the occupant `raw`.
#[inline(always)]
pub(crate) fn is_counted_for(state: u64, raw: u64) -> bool {
    (state ^ raw) & IDENTITY_MASK == 0 && state & (LIVE | REVOKED) != 0
}

pub(crate) struct Slot<T> {
    pub(crate) state: AtomicU64,
    value: UnsafeCell<MaybeUninit<T>>,
}

impl<T> Slot<T> {
    #[cfg(handles_loom)]
    pub(crate) fn new() -> Self {
        Slot {
            state: AtomicU64::new(0),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Stores a value into an empty slot.
    ///
    /// # Safety
    /// The caller owns the slot exclusively (popped from a free list or never used) and the
    /// value cell holds no initialised value.
    #[inline(always)]
    pub(crate) unsafe fn write(&self, value: T) {
        // SAFETY: exclusive ownership per the caller's contract; no other thread reads the cell
        // until the Release store of a LIVE state publishes it.
        self.value.with_mut(|p| unsafe { (*p).write(value) });
    }

    /// Borrows the value.
    ///
    /// # Safety
    /// The value is initialised and cannot be dropped or moved while the borrow lives: the caller holds a
    /// validated hazard on this slot, or a counted reference to its occupant.
    #[inline(always)]
    pub(crate) unsafe fn value(&self) -> &T {
        // SAFETY: initialised and kept alive for the borrow, per the caller's contract.
        self.value.with(|p| unsafe { (*p).assume_init_ref() })
    }

    /// Moves the value out.
    ///
    /// # Safety
    /// The value is initialised and no other thread can reach it (no hazard, no reference); the
    /// caller then treats the cell as empty.
    pub(crate) unsafe fn move_out(&self) -> T {
        // SAFETY: per the caller's contract, nobody else accesses the initialised value.
        self.value.with_mut(|p| unsafe { (*p).assume_init_read() })
    }

    /// Drops the value in place.
    ///
    /// # Safety
    /// Same as [`Slot::move_out`].
    pub(crate) unsafe fn drop_value(&self) {
        // SAFETY: per the caller's contract, nobody else accesses the initialised value.
        self.value.with_mut(|p| unsafe { (*p).assume_init_drop() });
    }
}

impl<T> Slot<T> {
    /// Settles an entry a `take` is deciding on (its TAKING word `taking`) back to LIVE with
    /// one reference, so the take's final CAS fails; returns the state now in the slot. For
    /// lookups and counted operations, which then apply their own check or transition to it.
    /// Inline, not a call, so the counted operations' fast paths need no extra saved registers.
    #[inline(always)]
    pub(crate) fn settle(&self, taking: u64) -> u64 {
        let live = settled(taking);
        // Acquire on success: the value was published by the insert whose Release heads the
        // release sequence the taker's CAS continued.
        match self
            .state
            .compare_exchange(taking, live, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => live,
            Err(current) => current,
        }
    }
}

/// A FREE state word (generation 1, no link) for unit tests of the lists.
#[cfg(all(test, not(handles_loom)))]
pub(crate) const FREE_FOR_TESTS: u64 = 1 << GEN_SHIFT;

/// True when the state word says the cell holds a value.
#[inline(always)]
pub(crate) fn has_value(state: u64) -> bool {
    state & (LIVE | REVOKED | ENDED | TAKING) != 0
}

#[inline(always)]
pub(crate) fn identity_of(state: u64) -> u64 {
    state & IDENTITY_MASK
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The arithmetic `is_live_for` agrees with the plain definition on every state shape.
    #[test]
    fn live_check_matches_definition() {
        let ids = [
            identity(1, 0),
            identity(1, 1),
            identity(2, 0),
            identity(1023, (1 << 26) - 1),
        ];
        let flags = [0, LIVE, REVOKED, ENDED, TAKING, EXHAUSTED];
        let payloads = [0, 1, 2, PAYLOAD_MASK - 1, PAYLOAD_MASK];
        for &id_state in &ids {
            for &f in &flags {
                for &p in &payloads {
                    let state = id_state | f | p;
                    for &id_handle in &ids {
                        for low in [0, 1, (1 << 28) - 1] {
                            let raw = id_handle | low;
                            let plain = (state ^ raw) & IDENTITY_MASK == 0 && state & LIVE != 0;
                            assert_eq!(is_live_for(state, raw), plain, "{state:#x} {raw:#x}");
                        }
                    }
                }
            }
        }
        assert!(!is_live_for(0, identity(1, 0)));
        // Raw 0 (C's "no handle") matches no LIVE state: a LIVE state's tag is never 0.
        for &id_state in &ids {
            assert!(!is_live_for(id_state | LIVE | 1, 0));
        }
    }
}
