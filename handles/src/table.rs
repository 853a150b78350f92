//! `HandleTable`: the public operations and the slot lifecycle.
//!
//! Lifecycle of one occupant (see `slot.rs` for the state word):
//!
//! ```text
//!  insert ──► LIVE(n) ──retain/release──► LIVE(n±1)
//!               │  └── release of last ref ──────────────┐
//!               ├── remove: n == 1 ──────────────────────┤
//!               ├── remove: n > 1 ──► REVOKED(n-1) ──────┤ last release
//!               └── take: n == 1 ──► TAKING ─┬─ borrowed ─► LIVE(1)  (Busy)
//!                                            └─ free ──► value moved out ─┐
//!                                                                         ▼
//!  ENDED (on the shard's retire list) ── reclaim: not hazarded ──► drop value ─► FREE(gen+1)
//!                                                                         or RETIRED (gen exhausted)
//! ```
//!
//! Every transition of a counted state is one CAS on the slot's state word, so it is atomic
//! with respect to every other transition; a failed CAS changes nothing.

use crate::barrier;
use crate::diag::EndReason;
use crate::error::{Error, InsertError};
use crate::guard::{Guard, Hold};
use crate::handle::{Handle, MAX_GENERATION, MAX_TAG, SHARDS};
use crate::registry;
use crate::shard::Shard;
use crate::slot::{
    self, END_RELEASED, END_REVOKED, END_TAKEN, ENDED, GEN_FIELD, LIVE, MAX_REFS, PAYLOAD_MASK,
    RETIRED, REVOKED, Slot, TAKING, ended_identity, identity_of, is_counted_for, is_live_for,
};
use crate::sync::{AtomicU32, AtomicUsize, Ordering};
use crate::tag;
use core::marker::PhantomData;

/// A table of `T` values addressed by [`Handle`]s.
///
/// Lookups are wait-free and write no memory shared with other threads; inserts and removes
/// are lock-free and touch only their own shard. The table can live in a `static`:
///
/// ```
/// use handles::HandleTable;
///
/// static NAMES: HandleTable<String> = HandleTable::new();
///
/// let h = NAMES.insert("ada".to_string());
/// assert_eq!(NAMES.with(h, |s| s.len()), Ok(3));
/// NAMES.remove(h).unwrap();
/// assert_eq!(NAMES.with(h, |s| s.len()), Err(handles::Error::Stale));
/// ```
///
/// Values are dropped exactly once: when their entry ends and no scoped lookup still borrows
/// them (see [`HandleTable::remove`] and [`HandleTable::flush`]), or when the table is dropped.
pub struct HandleTable<T> {
    shards: [Shard<T>; SHARDS],
    /// This table's tag (1..=MAX_TAG) plus `TAG_OWNED` if the table reserved it, or 0 before
    /// the first insert. The init guard.
    tag: AtomicU32,
    /// Generation after which a slot is retired instead of reused.
    max_generation: u32,
    /// Insert and end backtraces per slot (`debug-backtrace` feature only).
    #[cfg(feature = "debug-backtrace")]
    traces: crate::trace::Traces,
    _owns: PhantomData<T>,
}

// SAFETY: the table hands `&T` to any thread (needs `T: Sync`) and drops or moves values on
// whichever thread ends them (needs `T: Send`). All shared mutable state is atomic; value cells
// are accessed only under the ownership rules documented in `slot.rs` and `reclaim.rs`.
unsafe impl<T: Send + Sync> Sync for HandleTable<T> {}
// SAFETY: moving the table moves its values to another thread.
unsafe impl<T: Send> Send for HandleTable<T> {}

/// Set in `HandleTable::tag` when the table reserved its tag and must release it on drop.
const TAG_OWNED: u32 = 1 << 16;

/// Entries a shard's retire list collects before a reclamation pass runs.
pub(crate) const RECLAIM_BATCH: u64 = 128;

impl<T: Send + Sync> HandleTable<T> {
    crate::sync::const_fn! {
        /// An empty table. `const`, so it can initialise a `static`; it allocates nothing until
        /// the first insert.
        pub fn new() -> HandleTable<T> {
            HandleTable::with_max_generation(MAX_GENERATION)
        }
    }

    crate::sync::const_fn! {
        /// An empty table whose slots are retired after reaching generation `max` (clamped to
        /// the layout's maximum, 2^26 - 1): each slot is used at most `max + 1` times. A small
        /// `max` exercises slot retirement in tests.
        ///
        /// ```
        /// let table = handles::HandleTable::with_max_generation(0);
        /// let a = table.insert(1);
        /// table.remove(a).unwrap();
        /// table.flush();
        /// let b = table.insert(2);
        /// assert_ne!(a, b); // slot of `a` was retired, not reused
        /// assert_eq!(table.stats().exhausted_slots, 1);
        /// ```
        pub fn with_max_generation(max: u32) -> HandleTable<T> {
            HandleTable {
                #[cfg(not(loom))]
                shards: [const { Shard::new() }; SHARDS],
                #[cfg(loom)]
                shards: core::array::from_fn(|_| Shard::new()),
                tag: AtomicU32::new(0),
                max_generation: if max > MAX_GENERATION { MAX_GENERATION } else { max },
                #[cfg(feature = "debug-backtrace")]
                traces: crate::trace::Traces::new(),
                _owns: PhantomData,
            }
        }
    }

    /// Inserts `value` with one reference (the owner's) and returns its handle.
    ///
    /// # Panics
    /// If the table is full (2^28 slots); use [`HandleTable::try_insert`] to handle that.
    ///
    /// ```
    /// let table = handles::HandleTable::new();
    /// let a = table.insert(42);
    /// let b = table.insert(42);
    /// assert_ne!(a, b); // the same value gets different handles
    /// ```
    #[inline]
    pub fn insert(&self, value: T) -> Handle {
        match self.try_insert(value) {
            Ok(handle) => handle,
            Err(e) => panic!("HandleTable::insert: {}", e.error),
        }
    }

    /// Inserts `value`, or gives it back with [`Error::Full`] when no slot is left.
    ///
    /// ```
    /// let table = handles::HandleTable::new();
    /// let h = table.try_insert(String::from("x")).expect("room");
    /// assert!(table.contains(h));
    /// ```
    #[inline]
    pub fn try_insert(&self, value: T) -> Result<Handle, InsertError<T>> {
        let tag = self.tag();
        let home = registry::current().map_or(0, |r| r.index & (SHARDS - 1));
        let Some((shard_index, index, slot)) = self.allocate(home) else {
            return Err(InsertError {
                value,
                error: Error::Full,
            });
        };
        let shard = &self.shards[shard_index];
        // We own the slot: it came off a free list or the bump index.
        // A never-used slot (state 0) starts at generation 0; a free one holds the next
        // generation, with the previous occupant's end code where the tag goes.
        let old = slot.state.load(Ordering::Relaxed);
        let identity = (old & GEN_FIELD) | slot::identity(tag, 0);
        let handle = Handle::from_parts(identity, shard_index, index);
        #[cfg(feature = "debug-backtrace")]
        self.traces.created(handle);
        // SAFETY: the slot is exclusively ours and empty (FREE or never used).
        unsafe { slot.write(value) };
        shard.add_live(1);
        // Release publishes the value to lookups' Acquire loads of the state.
        slot.state.store(identity | LIVE | 1, Ordering::Release);
        Ok(handle)
    }

    /// Borrows the value for the duration of `f`: a scoped lookup.
    ///
    /// It writes no memory shared with other threads (only this thread's hazard cell), so hot
    /// handles scale across cores. While `f` runs, the value stays alive even if another
    /// thread (or `f` itself) removes the handle; removal is deferred, never blocked.
    ///
    /// ```
    /// let table = handles::HandleTable::new();
    /// let h = table.insert(vec![1, 2, 3]);
    /// let sum = table.with(h, |v| v.iter().sum::<i32>());
    /// assert_eq!(sum, Ok(6));
    /// ```
    #[inline]
    pub fn with<R>(&self, handle: Handle, f: impl FnOnce(&T) -> R) -> Result<R, Error> {
        let Some(slot) = self.shards[handle.shard()].slot(handle.index()) else {
            return Err(self.classify(handle, None));
        };
        let hazard = registry::current_record().first_hazard();
        if hazard.load(Ordering::Relaxed) != 0 {
            // Nested lookup, unregistered thread, or thread-local teardown.
            return self.with_slow(handle, f);
        }
        self.protect(handle, slot, hazard)?;
        let _clear = ClearHazard(hazard); // also on unwind
        // SAFETY: the validated hazard keeps the value initialised and in place until
        // `_clear` drops; `f` cannot keep the borrow beyond its call (its lifetime is generic).
        Ok(f(unsafe { slot.value() }))
    }

    #[cold]
    #[inline(never)]
    fn with_slow<R>(&self, handle: Handle, f: impl FnOnce(&T) -> R) -> Result<R, Error> {
        let guard = self.get(handle)?;
        Ok(f(&guard))
    }

    /// Borrows the value until the returned guard is dropped; the guard derefs to `&T`.
    ///
    /// Like [`HandleTable::with`], it writes no shared memory. A thread may hold any number
    /// of guards at once; the first four use hazard cells inline in the thread's record, more
    /// grow the record once.
    ///
    /// ```
    /// let table = handles::HandleTable::new();
    /// let h = table.insert(String::from("abc"));
    /// let guard = table.get(h).unwrap();
    /// table.remove(h).unwrap();      // does not wait for the guard
    /// assert_eq!(guard.as_str(), "abc"); // still readable
    /// drop(guard);                   // now the value may be dropped
    /// ```
    #[inline]
    pub fn get(&self, handle: Handle) -> Result<Guard<'_, T>, Error> {
        let Some(slot) = self.shards[handle.shard()].slot(handle.index()) else {
            return Err(self.classify(handle, None));
        };
        let record = registry::current_record();
        let hazard = record.first_hazard();
        if hazard.load(Ordering::Relaxed) != 0 {
            return self.get_slow(handle, slot, record);
        }
        self.protect(handle, slot, hazard)?;
        Ok(Guard::new(slot, Hold::Hazard(hazard)))
    }

    /// `get` when the first hazard cell is taken: a nested lookup, a thread not registered
    /// yet (its record is the sentinel), or a thread in thread-local teardown.
    #[cold]
    #[inline(never)]
    fn get_slow<'a>(
        &'a self,
        handle: Handle,
        slot: &'a Slot<T>,
        record: &'static registry::Record,
    ) -> Result<Guard<'a, T>, Error> {
        let Some(record) = registry::resolve(record) else {
            return self.get_detached(handle, slot);
        };
        let hazard = record.free_hazard();
        self.protect(handle, slot, hazard)?;
        Ok(Guard::new(slot, Hold::Hazard(hazard)))
    }

    /// Publishes `hazard` for `slot` and validates the handle; on failure clears the hazard.
    #[inline(always)]
    fn protect(&self, handle: Handle, slot: &Slot<T>, hazard: &AtomicUsize) -> Result<(), Error> {
        // Publish the hazard, then read the state. A reclaimer that misses this hazard is
        // ordered before our state load by the barrier pair, so we then see the entry ended
        // and back off. Release (a plain store on x86): a reclaimer that reads this value
        // instead of our previous clear of the same cell is still ordered after our reads
        // under that previous hazard.
        hazard.store(slot as *const Slot<T> as usize, Ordering::Release);
        barrier::light();
        // Acquire pairs with insert's Release: the value is initialised.
        let state = slot.state.load(Ordering::Acquire);
        if !is_live_for(state, handle.into_raw()) {
            hazard.store(0, Ordering::Release);
            return Err(self.classify(handle, Some(state)));
        }
        Ok(())
    }

    /// A scoped lookup from a thread whose thread-locals are being destroyed: it borrows a
    /// registry record for the guard's lifetime.
    #[cold]
    fn get_detached<'a>(
        &'a self,
        handle: Handle,
        slot: &'a Slot<T>,
    ) -> Result<Guard<'a, T>, Error> {
        let record = registry::claim_temporary();
        let hazard = record.free_hazard();
        match self.protect(handle, slot, hazard) {
            Ok(()) => Ok(Guard::new(slot, Hold::Detached(hazard, record))),
            Err(e) => {
                registry::registry().release(record);
                Err(e)
            }
        }
    }

    /// `get` as a thread in thread-local teardown does it (a temporary record), for loom
    /// models, where a model thread otherwise always has its record.
    #[cfg(all(loom, test))]
    pub(crate) fn get_in_teardown(&self, handle: Handle) -> Result<Guard<'_, T>, Error> {
        let Some(slot) = self.shards[handle.shard()].slot(handle.index()) else {
            return Err(self.classify(handle, None));
        };
        self.get_detached(handle, slot)
    }

    /// Adds a reference. The entry lives until every reference is released.
    ///
    /// ```
    /// let table = handles::HandleTable::new();
    /// let h = table.insert(5);
    /// table.retain(h).unwrap();
    /// assert_eq!(table.release(h), Ok(false)); // one reference left
    /// assert_eq!(table.release(h), Ok(true));  // that was the last
    /// assert!(!table.contains(h));
    /// ```
    pub fn retain(&self, handle: Handle) -> Result<(), Error> {
        let slot = self.locate(handle)?;
        self.retain_slot(handle, slot)
    }

    /// Adds a reference and reads the value under it, atomically with respect to `remove`:
    /// if this succeeds, the reference was taken while the entry was live, and `f` saw that
    /// entry's value. This is what a C `lookup` that hands out a pointer needs: the value stays
    /// valid (and in place) until the matching [`HandleTable::release`].
    ///
    /// ```
    /// let table = handles::HandleTable::new();
    /// let h = table.insert(String::from("kept"));
    /// let ptr = table.retain_with(h, |s| s as *const String).unwrap();
    /// table.remove(h).unwrap(); // revoked, but our reference keeps the value alive
    /// // SAFETY: we hold a counted reference until the release below.
    /// assert_eq!(unsafe { &*ptr }, "kept");
    /// assert_eq!(table.release(h), Ok(true));
    /// ```
    pub fn retain_with<R>(&self, handle: Handle, f: impl FnOnce(&T) -> R) -> Result<R, Error> {
        let slot = self.locate(handle)?;
        self.retain_slot(handle, slot)?;
        // If `f` panics the caller never learns it holds a reference: give it back.
        struct ReleaseOnUnwind<'a, T: Send + Sync>(&'a HandleTable<T>, Handle);
        impl<T: Send + Sync> Drop for ReleaseOnUnwind<'_, T> {
            fn drop(&mut self) {
                let _ = self.0.release(self.1);
            }
        }
        let on_unwind = ReleaseOnUnwind(self, handle);
        // SAFETY: we hold a counted reference to this occupant, taken while it was LIVE (the
        // CAS validated tag and generation). The entry cannot end, and so its value cannot be
        // dropped or moved, before that reference is released.
        let result = f(unsafe { slot.value() });
        core::mem::forget(on_unwind);
        Ok(result)
    }

    fn retain_slot(&self, handle: Handle, slot: &Slot<T>) -> Result<(), Error> {
        // Counted references never protect guards (a safe but wrong extra `release` could
        // otherwise end an entry under a live guard); they are for C-style holders only.
        let raw = handle.into_raw();
        let mut state = slot.state.load(Ordering::Relaxed);
        loop {
            if !is_live_for(state, raw) {
                return Err(self.classify(handle, Some(state)));
            }
            if state & PAYLOAD_MASK == MAX_REFS {
                return Err(Error::Full);
            }
            // Acquire: a counted reference may read the value, so sync with insert's Release.
            match slot.state.compare_exchange_weak(
                state,
                state + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(current) => state = current,
            }
        }
    }

    /// Drops a reference; returns `true` when it was the last one, which ends the entry (the
    /// handle becomes stale and the value is dropped; see [`HandleTable::remove`] for when).
    /// Works on revoked entries too, for references taken before the revoke.
    ///
    /// If this call runs a reclamation pass and a value's `Drop` panics, the panic propagates
    /// after the release (and the rest of the pass) has completed.
    pub fn release(&self, handle: Handle) -> Result<bool, Error> {
        let raw = handle.into_raw();
        let slot = self.locate(handle)?;
        let mut state = slot.state.load(Ordering::Relaxed);
        loop {
            if !is_counted_for(state, raw) {
                return Err(self.classify(handle, Some(state)));
            }
            let last = state & PAYLOAD_MASK == 1;
            let new = if last {
                // A revoked entry ended by its last release still ended because of the revoke.
                let end = if state & REVOKED != 0 {
                    END_REVOKED
                } else {
                    END_RELEASED
                };
                ended_identity(state, end) | ENDED
            } else {
                state - 1
            };
            // AcqRel: our earlier uses of the value happen before whoever ends the entry.
            match slot
                .state
                .compare_exchange_weak(state, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    if last {
                        #[cfg(feature = "debug-backtrace")]
                        self.traces.ended(handle, true);
                        if state & LIVE != 0 {
                            self.shards[handle.shard()].add_live(-1);
                        }
                        self.retire(handle.shard(), handle.index(), slot, new);
                    }
                    return Ok(last);
                }
                Err(current) => state = current,
            }
        }
    }

    /// Revokes the handle: it is stale for new lookups and retains at once, and the owner's
    /// reference is dropped. References taken earlier stay valid and their `release` still
    /// succeeds; the entry ends with the last of them (at once if there are none). Never
    /// blocks and never waits for other threads.
    ///
    /// When the entry ends, the value is dropped once no scoped lookup can still be reading
    /// it. Lookups publish nothing but a per-thread hazard, so that check runs in batches (a
    /// shard reclaims after every 128 ended entries), on [`HandleTable::flush`], and when the
    /// table is dropped.
    ///
    /// ```
    /// let table = handles::HandleTable::new();
    /// let h = table.insert("x");
    /// assert_eq!(table.remove(h), Ok(()));
    /// assert_eq!(table.remove(h), Err(handles::Error::Stale)); // deleting twice is an error
    /// ```
    pub fn remove(&self, handle: Handle) -> Result<(), Error> {
        let raw = handle.into_raw();
        let slot = self.locate(handle)?;
        let mut state = slot.state.load(Ordering::Relaxed);
        loop {
            if !is_live_for(state, raw) {
                return Err(self.classify(handle, Some(state)));
            }
            let refs = state & PAYLOAD_MASK;
            let new = if refs == 1 {
                ended_identity(state, END_REVOKED) | ENDED
            } else {
                identity_of(state) | REVOKED | (refs - 1)
            };
            match slot
                .state
                .compare_exchange_weak(state, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    #[cfg(feature = "debug-backtrace")]
                    self.traces.ended(handle, false);
                    self.shards[handle.shard()].add_live(-1);
                    if refs == 1 {
                        self.retire(handle.shard(), handle.index(), slot, new);
                    }
                    return Ok(());
                }
                Err(current) => state = current,
            }
        }
    }

    /// Removes the entry and returns its value, if nothing else references or borrows it
    /// (exactly one reference, no scoped lookup in progress on any thread). Otherwise returns
    /// [`Error::Busy`] and changes nothing.
    ///
    /// ```
    /// let table = handles::HandleTable::new();
    /// let h = table.insert(String::from("mine"));
    /// table.retain(h).unwrap();
    /// assert_eq!(table.take(h), Err(handles::Error::Busy));
    /// table.release(h).unwrap();
    /// assert_eq!(table.take(h).unwrap(), "mine");
    /// ```
    pub fn take(&self, handle: Handle) -> Result<T, Error> {
        let raw = handle.into_raw();
        let slot = self.locate(handle)?;
        let mut state = slot.state.load(Ordering::Relaxed);
        let identity = loop {
            if !is_live_for(state, raw) {
                return Err(self.classify(handle, Some(state)));
            }
            if state & PAYLOAD_MASK != 1 {
                return Err(Error::Busy);
            }
            // Acquire: we may move the value out. While TAKING, every other transition fails.
            match slot.state.compare_exchange_weak(
                state,
                identity_of(state) | TAKING,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break identity_of(state),
                Err(current) => state = current,
            }
        };
        // Make every hazard published before a reader's barrier visible; readers that publish
        // later will see TAKING and back off.
        barrier::heavy();
        let addr = slot as *const Slot<T> as usize;
        let borrowed = registry::registry()
            .iter()
            .any(|rec| rec.cells().any(|h| h.load(Ordering::Acquire) == addr));
        if borrowed {
            // Release: anything we did stays ordered before the next owner's operations.
            slot.state.store(identity | LIVE | 1, Ordering::Release);
            return Err(Error::Busy);
        }
        #[cfg(feature = "debug-backtrace")]
        self.traces.ended(handle, false);
        self.shards[handle.shard()].add_live(-1);
        // SAFETY: TAKING excludes every other transition, one reference (ours) was left, and no
        // hazard names the slot, so nothing else can reach the value.
        let value = unsafe { slot.read() };
        self.recycle(
            handle.shard(),
            handle.index(),
            slot,
            ended_identity(identity, END_TAKEN),
        );
        Ok(value)
    }

    /// Whether the handle names a live entry of this table.
    pub fn contains(&self, handle: Handle) -> bool {
        let Some(slot) = self.shards[handle.shard()].slot(handle.index()) else {
            return false;
        };
        is_live_for(slot.state.load(Ordering::Acquire), handle.into_raw())
    }

    /// Number of live entries (inserted, not yet removed, released to zero or taken). Exact
    /// when no other thread is changing the table.
    pub fn len(&self) -> usize {
        let live: i64 = self.shards.iter().map(Shard::live).sum();
        live.max(0) as usize
    }

    /// Whether [`HandleTable::len`] is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of the live handles, for leak reports. Entries changed concurrently may or
    /// may not appear.
    ///
    /// ```
    /// let table = handles::HandleTable::new();
    /// let h = table.insert(());
    /// assert_eq!(table.handles(), vec![h]);
    /// ```
    pub fn handles(&self) -> Vec<Handle> {
        let mut out = Vec::new();
        for (shard_index, shard) in self.shards.iter().enumerate() {
            for (index, slot) in shard.used_slots() {
                let state = slot.state.load(Ordering::Acquire);
                if state & LIVE != 0 {
                    out.push(Handle::from_parts(identity_of(state), shard_index, index));
                }
            }
        }
        out
    }

    /// Counters describing the table's memory and entries.
    pub fn stats(&self) -> crate::Stats {
        let mut stats = crate::Stats {
            live: self.len(),
            ..crate::Stats::default()
        };
        for shard in &self.shards {
            stats.pending_drops += shard.retired_len() as usize;
            stats.exhausted_slots += shard.exhausted() as usize;
            stats.slots += shard.capacity() as usize;
            stats.pages += shard.pages().count();
        }
        stats.bytes = core::mem::size_of::<Self>() + stats.slots * core::mem::size_of::<Slot<T>>();
        stats
    }

    /// Runs a reclamation pass on every shard now: drops every ended value that no scoped
    /// lookup is borrowing. Returns how many ended values are still waiting (borrowed).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// static DROPS: AtomicUsize = AtomicUsize::new(0);
    /// struct Noisy;
    /// impl Drop for Noisy { fn drop(&mut self) { DROPS.fetch_add(1, Ordering::SeqCst); } }
    ///
    /// let table = handles::HandleTable::new();
    /// let h = table.insert(Noisy);
    /// table.remove(h).unwrap();
    /// assert_eq!(table.flush(), 0);
    /// assert_eq!(DROPS.load(Ordering::SeqCst), 1);
    /// ```
    pub fn flush(&self) -> usize {
        // A panicking `Drop` must not leave the remaining shards unreclaimed: finish them all,
        // then resume the first panic.
        let mut pending = 0;
        let mut panic = None;
        for shard in &self.shards {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.reclaim(shard))) {
                Ok(n) => pending += n,
                Err(payload) => {
                    panic.get_or_insert(payload);
                }
            }
        }
        if let Some(payload) = panic {
            std::panic::resume_unwind(payload);
        }
        pending
    }

    #[inline(always)]
    pub(crate) fn shard(&self, index: usize) -> &Shard<T> {
        &self.shards[index]
    }

    #[cfg(feature = "debug-backtrace")]
    pub(crate) fn traces(&self) -> &crate::trace::Traces {
        &self.traces
    }

    pub(crate) fn max_generation(&self) -> u32 {
        self.max_generation
    }

    /// The slot a handle points at, or why there is none.
    #[inline(always)]
    fn locate(&self, handle: Handle) -> Result<&Slot<T>, Error> {
        self.shards[handle.shard()]
            .slot(handle.index())
            .ok_or_else(|| self.classify(handle, None))
    }

    /// The table's tag, assigning one on first use (the lazy, lock-free init guard: one
    /// Acquire load once initialised).
    #[inline(always)]
    fn tag(&self) -> u32 {
        let tag = self.tag.load(Ordering::Acquire);
        if tag != 0 {
            tag & MAX_TAG
        } else {
            self.init_tag()
        }
    }

    /// The tag, or 0 before the first insert (for error classification).
    fn tag_if_set(&self) -> u32 {
        self.tag.load(Ordering::Acquire) & MAX_TAG
    }

    #[cold]
    fn init_tag(&self) -> u32 {
        let (candidate, owned) = tag::acquire();
        let word = candidate | if owned { TAG_OWNED } else { 0 };
        // Concurrent first users race here; all of them adopt the winner's tag.
        match self
            .tag
            .compare_exchange(0, word, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => candidate,
            Err(winner) => {
                if owned {
                    tag::release(candidate);
                }
                winner & MAX_TAG
            }
        }
    }

    /// Finds a slot for an insert: home shard first, then stealing free slots from other
    /// shards before allocating a new page anywhere (so memory tracks peak live entries).
    #[inline]
    fn allocate(&self, home: usize) -> Option<(usize, u64, &Slot<T>)> {
        let shard = &self.shards[home];
        if let Some((index, slot)) = shard.pop_free() {
            return Some((home, index, slot));
        }
        self.allocate_slow(home)
    }

    #[cold]
    fn allocate_slow(&self, home: usize) -> Option<(usize, u64, &Slot<T>)> {
        let with_slot = |s: usize, index: u64| {
            let slot = self.shards[s].slot(index).expect("bumped slot has a page");
            (s, index, slot)
        };
        if let Some(index) = self.shards[home].bump(false) {
            return Some(with_slot(home, index));
        }
        // A home shard that never had a slot gets its first page (256 slots: a per-thread
        // constant) rather than stealing. A thread that steals inserts into another shard and
        // its removes retire there, so its home would never fill and it would keep competing
        // with that shard's owner for its free list (2-thread churn fell 4x that way).
        if self.shards[home].fresh() == 0 {
            if let Some(index) = self.shards[home].bump(true) {
                return Some(with_slot(home, index));
            }
        }
        let others = (1..SHARDS).map(|k| (home + k) % SHARDS);
        for s in others.clone() {
            if let Some((index, slot)) = self.shards[s].pop_free() {
                return Some((s, index, slot));
            }
        }
        for s in core::iter::once(home).chain(others) {
            if let Some(index) = self.shards[s].bump(true) {
                return Some(with_slot(s, index));
            }
        }
        None
    }

    /// Explains why an operation on `handle` failed, from the slot state that operation saw
    /// (`None` when the handle's page does not exist), and counts the failure in this thread's
    /// record. Slow path only.
    #[cold]
    #[inline(never)]
    pub(crate) fn classify(&self, handle: Handle, seen: Option<u64>) -> Error {
        let (error, ended) = self.explain(handle, seen);
        crate::diag::count_failure(error, ended);
        error
    }

    /// The error for `handle` given the slot state `seen`, and for [`Error::Stale`], how the
    /// entry ended when the slot still records it (see `slot.rs`, end codes).
    pub(crate) fn explain(&self, handle: Handle, seen: Option<u64>) -> (Error, Option<EndReason>) {
        let tag = self.tag_if_set();
        if tag == 0 || handle.tag() != tag {
            return (Error::WrongTable, None);
        }
        let Some(state) = seen else {
            return (Error::Invalid, None); // no such page: never issued
        };
        if state == 0 {
            return (Error::Invalid, None); // slot never used
        }
        let (wanted, current) = (handle.generation(), slot::generation_of(state));
        let occupied = state & (LIVE | REVOKED | ENDED | TAKING | RETIRED) != 0;
        if !occupied {
            // FREE: `current` is the generation the next occupant will get, and the end code
            // is that of the occupant before it (generation `current - 1`).
            return if wanted.wrapping_add(1) == current {
                (Error::Stale, EndReason::from_code(slot::end_code(state)))
            } else if wanted < current {
                (Error::Stale, None) // an older generation: how it ended is forgotten
            } else {
                (Error::Invalid, None)
            };
        }
        match wanted.cmp(&current) {
            // The slot has a newer occupant: how this generation ended is forgotten.
            core::cmp::Ordering::Less => (Error::Stale, None),
            core::cmp::Ordering::Greater => (Error::Invalid, None),
            // A `take` is deciding: it either ends the entry or puts it back.
            _ if state & TAKING != 0 => (Error::Busy, None),
            _ if state & REVOKED != 0 => (Error::Stale, Some(EndReason::Revoked)),
            _ if state & (ENDED | RETIRED) != 0 => {
                (Error::Stale, EndReason::from_code(slot::end_code(state)))
            }
            _ => (Error::Stale, None),
        }
    }
}

/// Clears a hazard cell when a scoped lookup ends, including by unwinding.
struct ClearHazard<'a>(&'a AtomicUsize);

impl Drop for ClearHazard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        // Release orders our reads of the value before a reclaimer's Acquire load of the cell.
        self.0.store(0, Ordering::Release);
    }
}

impl<T: Send + Sync> Default for HandleTable<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> core::fmt::Debug for HandleTable<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let live: i64 = self.shards.iter().map(Shard::live).sum();
        f.debug_struct("HandleTable")
            .field("tag", &(self.tag.load(Ordering::Relaxed) & MAX_TAG))
            .field("live", &live)
            .finish_non_exhaustive()
    }
}

impl<T> Drop for HandleTable<T> {
    /// Drops every value still in the table (live, revoked or awaiting reclamation) exactly
    /// once, then frees the pages. `&mut self` proves no guard or lookup is in progress.
    fn drop(&mut self) {
        let mut panic = None;
        for shard in &self.shards {
            for (_, slot) in shard.used_slots() {
                if slot::has_value(slot.state.load(Ordering::Relaxed)) {
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        // SAFETY: the state says the cell holds a value, and `&mut self`
                        // excludes every other access.
                        unsafe { slot.drop_value() }
                    }));
                    if let Err(payload) = result {
                        panic.get_or_insert(payload);
                    }
                }
            }
            for (p, pre) in shard.pages() {
                // SAFETY: the page came from `page::alloc(p)`; all its values are dropped and
                // no reference into it survives `&mut self`.
                unsafe { crate::page::free(p, pre) };
            }
        }
        let tag = self.tag.load(Ordering::Relaxed);
        if tag & TAG_OWNED != 0 {
            tag::release(tag & MAX_TAG);
        }
        if let Some(payload) = panic {
            std::panic::resume_unwind(payload);
        }
    }
}
