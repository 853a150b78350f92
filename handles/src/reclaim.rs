//! Reclamation: dropping ended values once no scoped lookup can be reading them.
//!
//! An entry that ends (last reference released, or revoked with no other references) moves to
//! ENDED and onto its shard's retire list. Readers never write shared memory, so the revoker
//! cannot know cheaply whether some thread is inside `with` on that slot. Instead, reclamation
//! works in batches. When a shard's list reaches 1,024 entries (and on `flush`), a pass runs
//! over the whole table:
//!
//! 1. take every shard's whole retire list (one `swap` each);
//! 2. [`barrier::heavy`]: now every hazard published before a reader's light barrier is
//!    visible, and every reader whose hazard is not visible will see ENDED when it validates.
//!    The barrier is shared: passes, takes and flushes that overlap in time (in any table)
//!    wait for one barrier instead of each issuing their own;
//! 3. snapshot all hazards (sorted) from the thread registry;
//! 4. for each ended slot: if a hazard names it, put it back on its retire list for the next
//!    pass; otherwise drop the value and put the slot on the free list with the next
//!    generation, or mark the slot EXHAUSTED for good if its generation is used up.
//!
//! No lock is held anywhere, so a value's `Drop` may call back into any table. A panicking
//! `Drop` does not stop the pass: every other slot is still processed, then the first panic
//! resumes (later payloads are dropped, and forgotten if their own `Drop` panics).

use crate::barrier;
use crate::global::{self, registry};
use crate::handle::{GEN_SHIFT, SHARDS};
use crate::panics::FirstPanic;
use crate::shard::Shard;
use crate::slot::{DROPPING, ENDED, EXHAUSTED, PAYLOAD_MASK, Slot, generation_of, identity_of};
use crate::sync::Ordering;
use crate::table::{HandleTable, RECLAIM_BATCH, ReclaimPolicy};

impl<T: Send + Sync> HandleTable<T> {
    /// Drops an ENDED slot's value at once if the caller is alone; otherwise puts the slot on
    /// its shard's retire list, and then, by the table's policy: `Caller`, when the list is long
    /// and `may_reclaim` allows it, runs a pass over *every* shard (one heavy barrier covers all
    /// the entries the table has ended so far; a `Drop` panic in it is reported, not resumed);
    /// `Background`, wakes the reclaimer thread; `Explicit`, nothing.
    #[inline(always)]
    pub(crate) fn retire(
        &self,
        shard_index: usize,
        index: u64,
        slot: &Slot<T>,
        ended: u64,
        may_reclaim: bool,
    ) {
        if may_reclaim && self.drop_if_alone(shard_index, index, slot, ended) {
            return;
        }
        self.retire_to_list(shard_index, index, slot, ended, may_reclaim);
    }

    /// [`retire`](Self::retire) when the value cannot be dropped at once.
    #[inline(never)]
    fn retire_to_list(
        &self,
        shard_index: usize,
        index: u64,
        slot: &Slot<T>,
        ended: u64,
        may_reclaim: bool,
    ) {
        let shard = self.shard(shard_index);
        let pending = shard.push_retired(index, slot, ended);
        let full = pending >= RECLAIM_BATCH + shard.kept();
        match self.policy() {
            ReclaimPolicy::Caller if may_reclaim && full => {
                self.reclaim_due_reported(shard_index);
            }
            #[cfg(not(handles_loom))]
            ReclaimPolicy::Background => self.wake_reclaimer(full),
            // Explicit (and Caller below its batch): only `flush` and dropping the table reclaim.
            _ => {}
        }
    }

    /// Drops the value of a slot this thread has just ended (its ENDED state `ended`) at once,
    /// when no other thread can be reading it ([`Registry::alone`](crate::registry::Registry::alone):
    /// the calling thread is the only one with a record, and holds no hazard on the slot
    /// itself). Returns whether it did; otherwise the slot goes on the retire list as usual.
    /// A panic in the value's `Drop` unwinds after the slot is recycled.
    #[inline(always)]
    fn drop_if_alone(&self, shard_index: usize, index: u64, slot: &Slot<T>, ended: u64) -> bool {
        let Some(me) = global::local() else {
            return false;
        };
        if !registry().alone(me, slot as *const Slot<T> as usize) {
            return false;
        }
        if !core::mem::needs_drop::<T>() {
            // Nothing to run: the slot goes straight back to its free list.
            self.recycle(shard_index, index, slot, identity_of(ended));
            return true;
        }
        self.drop_alone(shard_index, index, slot, ended);
        true
    }

    /// [`drop_if_alone`](Self::drop_if_alone)'s drop, once `alone` said yes.
    #[inline(never)]
    fn drop_alone(&self, shard_index: usize, index: u64, slot: &Slot<T>, ended: u64) {
        // As in a pass: a child forked mid-drop never drops the value again.
        slot.state
            .store(identity_of(ended) | DROPPING, Ordering::Relaxed);
        /// Recycles the slot when the drop returns or unwinds.
        struct Recycle<'a, T: Send + Sync>(&'a HandleTable<T>, usize, u64, &'a Slot<T>, u64);
        impl<T: Send + Sync> Drop for Recycle<'_, T> {
            fn drop(&mut self) {
                self.0.recycle(self.1, self.2, self.3, self.4);
            }
        }
        let _recycle = Recycle(self, shard_index, index, slot, identity_of(ended));
        // SAFETY: we ended the entry (no references), it is on no list, and no thread can hold
        // a hazard on it (`alone`), so nothing else can reach the value.
        unsafe { slot.drop_value() };
    }

    /// A reclamation pass over every shard with one shared heavy barrier and one hazard
    /// snapshot: takes every retire list, then the barrier, then the drops. Returns how many
    /// ended values remain borrowed. A panicking `Drop` does not stop the pass; the first
    /// panic resumes after every shard is done.
    pub(crate) fn reclaim_all(&self) -> usize {
        let mut panic = FirstPanic::default();
        let pending = self.reclaim_into(&mut panic, None);
        panic.resume();
        pending
    }

    /// [`reclaim_all`](Self::reclaim_all) for a pass nobody asked for (a background pass):
    /// a `Drop` panic is reported ([`FirstPanic::report`]), never resumed.
    #[cfg(not(handles_loom))] // the background reclaimer's pass; no reclaimer under loom
    pub(crate) fn reclaim_all_reported(&self) -> usize {
        let mut panic = FirstPanic::default();
        let pending = self.reclaim_into(&mut panic, None);
        panic.report();
        pending
    }

    /// The pass a caller runs when shard `due`'s retire list is full: that list, plus the
    /// list of any other shard that has not changed since the previous pass looked at it
    /// ([`Shard::take_if_idle`]), so entries ended by a thread that then went idle are dropped
    /// by the next two passes of anyone else. The lists of busy shards are left to their own
    /// threads: taking them would move their slots (and values) between cores on every pass.
    /// A `Drop` panic is reported, never resumed into the unrelated caller.
    pub(crate) fn reclaim_due_reported(&self, due: usize) -> usize {
        let mut panic = FirstPanic::default();
        let pending = self.reclaim_into(&mut panic, Some(due));
        panic.report();
        pending
    }

    /// A pass over every shard's list (`due == None`), or over shard `due`'s and the idle ones.
    fn reclaim_into(&self, panic: &mut FirstPanic, due: Option<usize>) -> usize {
        let _in_flight = self.pass_in_flight();
        let mut lists = [0u64; SHARDS];
        let mut any = false;
        for (i, list) in lists.iter_mut().enumerate() {
            let shard = self.shard(i);
            *list = match due {
                Some(d) if d != i => shard.take_if_idle(),
                _ => shard.take_retired(),
            };
            any |= *list != 0;
        }
        if !any {
            return 0;
        }
        barrier::heavy();
        let mut hazards = Vec::new();
        registry().hazards(&mut hazards);
        let mut pending = 0;
        for (i, &list) in lists.iter().enumerate() {
            if list != 0 {
                let shard = self.shard(i);
                pending += panic
                    .catch(|| self.reclaim_list(shard, list, &hazards))
                    .unwrap_or(0);
            }
        }
        pending
    }

    /// Drops the values of a retire list taken from `shard` (first index + 1, as
    /// `take_retired` returns it) that no hazard in `hazards` names, and puts the others back.
    /// `hazards` is a sorted snapshot taken after a heavy barrier that started after the list
    /// was taken.
    fn reclaim_list(&self, shard: &Shard<T>, mut next: u64, hazards: &[usize]) -> usize {
        let mut borrowed = Vec::new();
        let mut panic = FirstPanic::default();
        let max_generation = self.max_generation();
        while next != 0 {
            let index = next - 1;
            let slot = shard.slot(index).expect("retired slot has a page");
            // We own the list (taken by swap with Acquire), hence its ENDED slots.
            let state = slot.state.load(Ordering::Relaxed);
            debug_assert!(state & ENDED != 0);
            next = state & PAYLOAD_MASK;
            if hazards
                .binary_search(&(slot as *const Slot<T> as usize))
                .is_ok()
            {
                borrowed.push((index, state & !PAYLOAD_MASK));
                continue;
            }
            // Mark the cell empty before dropping: if the process forks mid-drop, the child
            // sees a slot without a value and never drops it a second time. (DROPPING also
            // keeps stale handles classified as stale.)
            slot.state
                .store(identity_of(state) | DROPPING, Ordering::Relaxed);
            panic.catch(|| {
                // SAFETY: the slot is ENDED (no references), it was taken off the retire list
                // by this pass alone, and no hazard names it after the heavy barrier, so no
                // thread can reach the value.
                unsafe { slot.drop_value() }
            });
            self.recycle_in(shard, index, slot, identity_of(state), max_generation);
        }
        let remaining = borrowed.len();
        // Entries still borrowed do not count toward the next pass's trigger, so long-lived
        // borrows cannot make every retire run a pass.
        shard.set_kept(remaining as u64);
        for (index, ended) in borrowed {
            let slot = shard.slot(index).expect("retired slot has a page");
            shard.push_retired(index, slot, ended);
        }
        panic.resume();
        remaining
    }

    /// Returns an emptied slot to its shard: free with the next generation, or EXHAUSTED for
    /// good when the generation is used up (so a handle value is never issued twice).
    pub(crate) fn recycle(&self, shard_index: usize, index: u64, slot: &Slot<T>, identity: u64) {
        let max_generation = self.max_generation();
        self.recycle_in(
            self.shard(shard_index),
            index,
            slot,
            identity,
            max_generation,
        );
    }

    fn recycle_in(
        &self,
        shard: &Shard<T>,
        index: u64,
        slot: &Slot<T>,
        identity: u64,
        max_generation: u32,
    ) {
        if generation_of(identity) >= max_generation {
            slot.state.store(identity | EXHAUSTED, Ordering::Release);
            shard.note_exhausted();
        } else {
            shard.push_free(index, slot, identity + (1 << GEN_SHIFT));
        }
    }
}
