//! `HandleTable`: the public operations and the slot lifecycle.
//!
//! Lifecycle of one occupant (see `slot.rs` for the state word):
//!
//! ```text
//!  insert ──► LIVE(n) ──retain/release──► LIVE(n±1)
//!               │  └── release of last ref ──────────────┐
//!               ├── revoke: n == 1 ──────────────────────┤
//!               ├── revoke: n > 1 ──► REVOKED(n-1) ──────┤ last release
//!               └── take: n == 1 ──► TAKING ─┬─ borrowed ─► LIVE(1)  (Busy)
//!                                            └─ free ──► value moved out ─┐
//!                                                                         ▼
//!  ENDED (on the shard's retire list) ── reclaim: not hazarded ──► drop value ─► FREE(gen+1)
//!                                                                      or EXHAUSTED (gen used up)
//! ```
//!
//! Every transition of a counted state is one CAS on the slot's state word, so it is atomic
//! with respect to every other transition; a failed CAS changes nothing.

use crate::barrier;
use crate::error::{EndReason, Error, FailureKind, InsertError};
use crate::global;
use crate::guard::{Guard, Hold};
use crate::handle::{self, Handle, MAX_GENERATION, SHARDS, TAG_MASK, TAG_SHIFT};
use crate::panics::FirstPanic;
use crate::registry::Record;
use crate::shard::Shard;
use crate::slot::{
    self, DROPPING, END_RELEASED, END_REVOKED, END_TAKEN, ENDED, EXHAUSTED, GEN_FIELD, LIVE,
    MAX_REFS, PAYLOAD_MASK, REVOKED, Slot, TAKING, ended_identity, identity_of, is_counted_for,
    is_live_for, is_taking_for,
};
use crate::sync::{AtomicU64, AtomicUsize, Ordering};
use crate::tag;
use core::marker::PhantomData;

/// A table of `T` values addressed by [`Handle`]s.
///
/// Lookups are wait-free and write no memory shared with other threads; inserts and removes
/// are lock-free and touch only their own shard. The table can live in a `static`:
///
/// ```
/// use ffi_handles::HandleTable;
///
/// static NAMES: HandleTable<String> = HandleTable::new();
///
/// let h = NAMES.insert("ada".to_string());
/// assert_eq!(NAMES.with(h, |s| s.len()), Ok(3));
/// NAMES.revoke(h).unwrap();
/// assert_eq!(NAMES.with(h, |s| s.len()), Err(ffi_handles::Error::Stale));
/// ```
///
/// Values are dropped exactly once: when their entry ends and no scoped lookup still borrows
/// them (see [`HandleTable::revoke`] and [`HandleTable::flush`]), or when the table is dropped.
pub struct HandleTable<T> {
    shards: [Shard<T>; SHARDS],
    /// 0 before the first insert; then `slot::identity(tag, floor)`: the table's tag and the
    /// generation its never-used slots start at (see `tag.rs`). The init guard.
    tag: AtomicU64,
    /// Reuses of a slot after its first use before it is exhausted (`with_max_generation`).
    max_generation: u32,
    /// Whether this is the C API's registry, which gets the reserved registry tag.
    registry: bool,
    /// The [`ReclaimPolicy`], as its discriminant.
    policy: AtomicUsize,
    /// Background policy: whether the reclaimer waits for this table (`reclaimer.rs`); the
    /// next retired entry swaps it to 0 and wakes the thread.
    #[cfg_attr(handles_loom, allow(dead_code))]
    armed: AtomicUsize,
    /// Reclamation passes running on this table right now (`flush` waits for them): the count
    /// in the low 32 bits, the process image's fork generation (`global::fork_generation`)
    /// above it. A count from an earlier generation belongs to threads a fork left behind, and
    /// counts as zero.
    passes: AtomicU64,
    /// Whether the table is on the reclaimer's list (it never leaves it).
    #[cfg_attr(handles_loom, allow(dead_code))]
    in_reclaimer: AtomicUsize,
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

/// Which thread drops the values of ended entries that their ending call could not drop at once
/// (see [`HandleTable::set_reclaim_policy`]). In every policy, a value is dropped inside the
/// call that ended it when no other thread can be reading it (the caller is the only thread
/// using any table); the policies differ for the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(usize)]
pub enum ReclaimPolicy {
    /// A reclamation pass runs inside the ending call that fills a shard's batch (1,024 ended
    /// entries), on `flush`, and when the table is dropped. Values of *other* entries may be
    /// dropped inside any `release`, `revoke` or `hdl_release`; a `Drop` panic there is
    /// reported (`ThreadStats::drop_panics`), never resumed from the unrelated call. The
    /// default for Rust tables: no thread, nothing to set up.
    Caller = 0,
    /// A process-wide background thread runs the passes, a few milliseconds after entries end
    /// (so values are dropped promptly even if the program makes no further call); no caller's
    /// operation ever runs another entry's `Drop`. The thread starts on first need; `Drop`
    /// panics on it are reported. The C registry's default.
    Background = 1,
    /// Passes run only in `flush` and when the table is dropped: for programs that must not
    /// get a thread and must know exactly where destructors run. Ended entries accumulate
    /// until then.
    Explicit = 2,
}

impl ReclaimPolicy {
    fn from_usize(v: usize) -> ReclaimPolicy {
        match v {
            1 => ReclaimPolicy::Background,
            2 => ReclaimPolicy::Explicit,
            _ => ReclaimPolicy::Caller,
        }
    }
}

/// Entries a shard's retire list collects before a reclamation pass (over every shard) runs:
/// with one heavy barrier per pass, at least this many ended entries share each barrier.
pub(crate) const RECLAIM_BATCH: u64 = 1024;

impl<T: Send + Sync> HandleTable<T> {
    crate::sync::const_fn! {
        /// An empty table. `const`, so it can initialise a `static`; it allocates nothing until
        /// the first insert.
        #[must_use]
        pub fn new() -> HandleTable<T> {
            HandleTable::with_max_generation(MAX_GENERATION)
        }
    }

    crate::sync::const_fn! {
        /// An empty table whose slots are exhausted after `max` reuses: each slot is used at most
        /// `max + 1` times (fewer if the table's first generation, which follows the
        /// generations earlier tables with the same tag issued, leaves less room below the
        /// layout's maximum, 2^26 - 1). A small `max` exercises slot exhaustion in tests.
        ///
        /// A test hook, hidden from the documentation and not part of the API: a program
        /// gains nothing from exhausting slots early (`new` uses the layout's maximum).
        ///
        /// ```
        /// let table = ffi_handles::HandleTable::with_max_generation(0);
        /// let a = table.insert(1);
        /// table.revoke(a).unwrap();
        /// table.flush();
        /// let b = table.insert(2);
        /// assert_ne!(a, b); // slot of `a` was exhausted, not reused
        /// assert_eq!(table.stats().exhausted_slots, 1);
        /// ```
        #[doc(hidden)]
        #[must_use]
        pub fn with_max_generation(max: u32) -> HandleTable<T> {
            HandleTable {
                #[cfg(not(handles_loom))]
                shards: [const { Shard::new() }; SHARDS],
                #[cfg(handles_loom)]
                shards: core::array::from_fn(|_| Shard::new()),
                tag: AtomicU64::new(0),
                max_generation: if max > MAX_GENERATION { MAX_GENERATION } else { max },
                registry: false,
                policy: AtomicUsize::new(ReclaimPolicy::Caller as usize),
                armed: AtomicUsize::new(1),
                passes: AtomicU64::new(0),
                in_reclaimer: AtomicUsize::new(0),
                #[cfg(feature = "debug-backtrace")]
                traces: crate::trace::Traces::new(),
                _owns: PhantomData,
            }
        }
    }

    crate::sync::const_fn! {
        /// The C API's registry table: like [`HandleTable::new`], but it takes the one tag that
        /// is reserved for the registry, so no other table's handle can reach a C object.
        /// For the `ffi-handles-capi` crate; a second live registry table gets no tag (its inserts
        /// fail with [`Error::Full`]).
        #[doc(hidden)]
        pub fn new_registry() -> HandleTable<T> {
            let mut table = HandleTable::new();
            table.registry = true;
            table
        }
    }

    /// Inserts `value` with one reference (the owner's) and returns its handle.
    ///
    /// # Panics
    /// If the table is full (2^28 slots), or no table tag is free (every one of the 1,022 tags
    /// is held by a live table, see [`Error::Full`]); use [`HandleTable::try_insert`] to handle
    /// that.
    ///
    /// ```
    /// let table = ffi_handles::HandleTable::new();
    /// let a = table.insert(42);
    /// let b = table.insert(42);
    /// assert_ne!(a, b); // the same value gets different handles
    /// ```
    #[inline]
    #[must_use = "the entry lives until its handle is revoked or released: without the handle it leaks until the table is dropped"]
    pub fn insert(&self, value: T) -> Handle {
        match self.try_insert(value) {
            Ok(handle) => handle,
            Err(e) => panic!("HandleTable::insert: {}", e.error),
        }
    }

    /// Inserts `value`, or gives it back with [`Error::Full`] when no slot is left.
    ///
    /// ```
    /// let table = ffi_handles::HandleTable::new();
    /// let h = table.try_insert(String::from("x")).expect("room");
    /// assert!(table.contains(h));
    /// ```
    ///
    /// # Errors
    /// [`InsertError`] with [`Error::Full`] and the value: every slot is used (2^28), or on the
    /// table's first insert no table tag is free (see [`Error::Full`]).
    #[inline]
    pub fn try_insert(&self, value: T) -> Result<Handle, InsertError<T>> {
        let Some(base) = self.tag() else {
            return Err(InsertError {
                value,
                error: Error::Full,
            });
        };
        let home = global::local().map_or(0, |r| r.index & (SHARDS - 1));
        let Some((shard_index, index, slot)) = self.allocate(home) else {
            return Err(InsertError {
                value,
                error: Error::Full,
            });
        };
        let shard = &self.shards[shard_index];
        // We own the slot: it came off a free list or the unused index.
        // A never-used slot (state 0) starts at the tag's floor generation; a free one holds
        // the next generation (never below the floor), with the previous occupant's end code
        // where the tag goes.
        let old = slot.state.load(Ordering::Relaxed);
        let identity = (old & GEN_FIELD).max(base & GEN_FIELD) | (base & !GEN_FIELD);
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
    /// thread (or `f` itself) revokes the handle; that is deferred, never blocked.
    ///
    /// ```
    /// let table = ffi_handles::HandleTable::new();
    /// let h = table.insert(vec![1, 2, 3]);
    /// let sum = table.with(h, |v| v.iter().sum::<i32>());
    /// assert_eq!(sum, Ok(6));
    /// ```
    ///
    /// # Errors
    /// [`Error::Invalid`] (never issued by this table), [`Error::Stale`] (the entry has ended, or
    /// was revoked), [`Error::WrongTable`] (a handle of another table); `f` is not called.
    ///
    /// # Panics
    /// If `f` panics; the entry is unaffected and the borrow ends as the panic unwinds.
    #[inline]
    pub fn with<R>(&self, handle: Handle, f: impl FnOnce(&T) -> R) -> Result<R, Error> {
        self.with_raw(handle.into_raw(), f)
    }

    /// [`HandleTable::with`] for a raw handle value, where 0 is [`Error::Null`]: the body of
    /// `ffi::with`. Needs no test for 0 on the fast path: 0 names slot 0 of shard 0, which no
    /// LIVE state ever matches (a LIVE state carries a non-zero tag), so 0 fails the state
    /// check (or finds no page) and the failure path reports it.
    #[inline(always)]
    pub(crate) fn with_raw<R>(&self, raw: u64, f: impl FnOnce(&T) -> R) -> Result<R, Error> {
        let index = handle::index_of(raw);
        let pre = self.shards[handle::shard_of(raw)].page_of_index(index);
        let record = global::local_or_sentinel();
        // A missing page of a zero-backed slot type is the zero region, whose slots fail the
        // state check (`page::absent`), so `has_slots` tests nothing for those.
        // Taken: a nested lookup, an unregistered thread, or thread-local teardown.
        // SAFETY: `first_hazard_is_free`'s requirement: this thread's own record or the
        // sentinel.
        if Shard::has_slots(pre) && unsafe { record.first_hazard_is_free() } {
            // SAFETY: `pre` is the page pointer for the index, of a shard of `self`, and has
            // slots (tested above).
            let slot = unsafe { Shard::slot_in(pre, index) };
            let hold = Hold::Hazard(record.first_hazard());
            let protected =
                // SAFETY: `Guard::protect`'s requirements: 1. the first cell of this thread's
                // own record (the sentinel's is never 0), and free; 2. `is_live_for` accepts
                // only LIVE for `raw`; 3. `slot` is in a page of `self`, borrowed for this
                // call; 4. that first cell, found 0 just now (a sentinel's never is).
                unsafe { Guard::protect::<false, true>(slot, hold, raw, is_live_for) };
            if let Ok((guard, _)) = protected {
                // The guard clears the hazard when `f` returns or unwinds; `f` cannot keep the
                // borrow (its lifetime is generic).
                return Ok(f(&guard));
            }
        }
        // Everything else takes one cold call, which looks the handle up again: a missing
        // page, a taken first cell, a failed check (classified there), or a take deciding on
        // the entry (settled there). One call site keeps the fast path to its checks (no
        // classification or TAKING test inline). `f`'s result comes back through `out`, not in
        // the returned `Result`: a `Result<R, Error>` that is not a pair of scalars is returned
        // through a stack slot, which the fast path's result then shared (two stores per
        // lookup).
        let mut out = None;
        self.with_slow(raw, f, &mut out)
            .map(|()| out.expect("with_slow stores the result on success"))
    }

    #[cold]
    #[inline(never)]
    fn with_slow<R>(
        &self,
        raw: u64,
        f: impl FnOnce(&T) -> R,
        out: &mut Option<R>,
    ) -> Result<(), Error> {
        let guard = self.get(Handle::from_raw(raw).ok_or(Error::Null)?)?;
        *out = Some(f(&guard));
        Ok(())
    }

    /// Borrows the value until the returned guard is dropped; the guard derefs to `&T`.
    ///
    /// Like [`HandleTable::with`], it writes no shared memory. A thread may hold any number
    /// of guards at once; the first four use hazard cells inline in the thread's record, more
    /// grow the record once.
    ///
    /// ```
    /// let table = ffi_handles::HandleTable::new();
    /// let h = table.insert(String::from("abc"));
    /// let guard = table.get(h).unwrap();
    /// table.revoke(h).unwrap();      // does not wait for the guard
    /// assert_eq!(guard.as_str(), "abc"); // still readable
    /// drop(guard);                   // now the value may be dropped
    /// ```
    ///
    /// # Errors
    /// [`Error::Invalid`] (never issued by this table), [`Error::Stale`] (the entry has ended, or
    /// was revoked), [`Error::WrongTable`] (a handle of another table).
    #[inline]
    #[must_use = "the guard is the borrow: dropping it at once reads nothing"]
    pub fn get(&self, handle: Handle) -> Result<Guard<'_, T>, Error> {
        let Some(slot) = self.shards[handle.shard()].slot(handle.index()) else {
            return Err(self.classify(handle, None));
        };
        let raw = handle.into_raw();
        let record = global::local_or_sentinel();
        // SAFETY: as in `with`.
        if unsafe { record.first_hazard_is_free() } {
            let hold = Hold::Hazard(record.first_hazard());
            // SAFETY: `Guard::protect`'s requirements 1-4, as in `with`.
            match unsafe { Guard::protect::<false, true>(slot, hold, raw, is_live_for) } {
                Ok((guard, _)) => return Ok(guard),
                Err(seen) if !is_taking_for(seen, raw) => {
                    return Err(self.classify(handle, Some(seen)));
                }
                Err(_) => {} // a take is deciding: the slow path settles it
            }
        }
        self.get_slow(handle, slot, record)
    }

    /// `get` when the first hazard cell is taken (a nested lookup, a thread not registered
    /// yet, whose record is the sentinel, or a thread in thread-local teardown), or when a
    /// take is deciding on the entry.
    #[cold]
    #[inline(never)]
    fn get_slow<'a>(
        &'a self,
        handle: Handle,
        slot: &'a Slot<T>,
        record: &'static Record,
    ) -> Result<Guard<'a, T>, Error> {
        let hold = match global::registered(record) {
            Some(record) => Hold::Hazard(record.free_hazard()),
            None => Self::detached_hold(),
        };
        // SAFETY: `Guard::protect`'s requirements: 1. a free cell of this thread's record, or of a temporary
        // record it claimed; 2. `is_live_for` accepts only LIVE for the handle; 3. `slot` is
        // in a page of `self`.
        match unsafe { Guard::protect::<true, false>(slot, hold, handle.into_raw(), is_live_for) } {
            Ok((guard, _)) => Ok(guard),
            Err(seen) => Err(self.classify(handle, Some(seen))),
        }
    }

    /// What protects a guard of a thread whose thread-locals are being destroyed: a record
    /// borrowed from the registry for the guard's lifetime.
    #[cold]
    pub(crate) fn detached_hold() -> Hold {
        let record = global::claim_temporary();
        Hold::Detached(record.free_hazard(), record)
    }

    /// `get` as a thread in thread-local teardown does it (a temporary record), for loom
    /// models, where a model thread otherwise always has its record.
    #[cfg(all(handles_loom, test))]
    pub(crate) fn get_in_teardown(&self, handle: Handle) -> Result<Guard<'_, T>, Error> {
        let Some(slot) = self.shards[handle.shard()].slot(handle.index()) else {
            return Err(self.classify(handle, None));
        };
        // SAFETY: `Guard::protect`'s requirements: 1. a temporary record's free cell; 2. as in `get_slow`;
        // 3. `slot` is in a page of `self`.
        match unsafe {
            Guard::protect::<true, false>(
                slot,
                Self::detached_hold(),
                handle.into_raw(),
                is_live_for,
            )
        } {
            Ok((guard, _)) => Ok(guard),
            Err(seen) => Err(self.classify(handle, Some(seen))),
        }
    }

    /// Adds a reference. The entry lives until every reference is released.
    ///
    /// ```
    /// let table = ffi_handles::HandleTable::new();
    /// let h = table.insert(5);
    /// table.retain(h).unwrap();
    /// assert_eq!(table.release(h), Ok(false)); // one reference left
    /// assert_eq!(table.release(h), Ok(true));  // that was the last
    /// assert!(!table.contains(h));
    /// ```
    ///
    /// # Errors
    /// [`Error::Invalid`] (never issued by this table), [`Error::Stale`] (the entry has ended, or
    /// was revoked), [`Error::WrongTable`] (a handle of another table), [`Error::Full`] (the reference count is at its maximum, 2^23 - 1).
    pub fn retain(&self, handle: Handle) -> Result<(), Error> {
        let slot = self.locate(handle)?;
        self.retain_slot(handle, slot)
    }

    /// Adds a reference and reads the value under it, atomically with respect to `revoke`:
    /// if this succeeds, the reference was taken while the entry was live, and `f` saw that
    /// entry's value. This is what a C `lookup` that hands out a pointer needs: the value stays
    /// valid (and in place) until the matching [`HandleTable::release`].
    ///
    /// ```
    /// let table = ffi_handles::HandleTable::new();
    /// let h = table.insert(String::from("kept"));
    /// let ptr = table.retain_with(h, |s| s as *const String).unwrap();
    /// table.revoke(h).unwrap(); // revoked, but our reference keeps the value alive
    /// // SAFETY: we hold a counted reference until the release below.
    /// assert_eq!(unsafe { &*ptr }, "kept");
    /// assert_eq!(table.release(h), Ok(true));
    /// ```
    ///
    /// # Errors
    /// As [`HandleTable::retain`]; on an error no reference is taken and `f` is not called.
    ///
    /// # Panics
    /// If `f` panics; the reference is released again before the panic propagates.
    pub fn retain_with<R>(&self, handle: Handle, f: impl FnOnce(&T) -> R) -> Result<R, Error> {
        // The hazard, not the reference, protects `f`'s borrow: a reference count is safe API
        // (anyone holding the `Copy` handle may release it, even twice), so it cannot keep a
        // `&T` alive. The reference is for the caller, after `f` returns.
        let guard = self.get(handle)?;
        self.retain_slot(handle, guard.slot())?;
        // If `f` panics the caller never learns it holds a reference: give it back, without
        // running a reclamation pass (a `Drop` that panicked while unwinding would abort).
        struct ReleaseOnUnwind<'a, T: Send + Sync>(&'a HandleTable<T>, Handle);
        impl<T: Send + Sync> Drop for ReleaseOnUnwind<'_, T> {
            fn drop(&mut self) {
                let _ = self.0.release_deferred(self.1);
            }
        }
        let on_unwind = ReleaseOnUnwind(self, handle);
        let result = f(&guard);
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
                if is_taking_for(state, raw) {
                    state = slot.settle(state); // the take then fails with `Busy`
                    continue;
                }
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
    /// handle becomes stale and the value is dropped; see [`HandleTable::revoke`] for when).
    /// Works on revoked entries too, for references taken before the revoke.
    ///
    /// If this call runs a reclamation pass and a value's `Drop` panics, the panic propagates
    /// after the release (and the rest of the pass) has completed.
    ///
    /// # Errors
    /// [`Error::Invalid`] (never issued by this table), [`Error::Stale`] (the entry has ended, or
    /// was revoked), [`Error::WrongTable`] (a handle of another table): a release after the last one (a double release) is `Stale`.
    ///
    /// # Panics
    /// If a value's `Drop` panics in a reclamation pass this call runs (see above).
    pub fn release(&self, handle: Handle) -> Result<bool, Error> {
        self.release_then(handle, true)
    }

    /// `release` that never runs a reclamation pass (an ended entry only joins its shard's
    /// retire list): for paths that must not run other values' `Drop`, such as unwinding.
    pub(crate) fn release_deferred(&self, handle: Handle) -> Result<bool, Error> {
        self.release_then(handle, false)
    }

    #[inline(always)]
    fn release_then(&self, handle: Handle, may_reclaim: bool) -> Result<bool, Error> {
        let raw = handle.into_raw();
        let slot = self.locate(handle)?;
        let mut state = slot.state.load(Ordering::Relaxed);
        loop {
            if !is_counted_for(state, raw) {
                if is_taking_for(state, raw) {
                    state = slot.settle(state); // the take then fails
                    continue;
                }
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
                        self.end_released(handle, slot, state, new, may_reclaim);
                    }
                    return Ok(last);
                }
                Err(current) => state = current,
            }
        }
    }

    /// The end of an entry by its last `release` (from state `old` to the ENDED word `new`):
    /// out of line, so the fast path of a release that is not the last saves no registers for
    /// it.
    #[inline(never)]
    fn end_released(&self, handle: Handle, slot: &Slot<T>, old: u64, new: u64, may_reclaim: bool) {
        #[cfg(feature = "debug-backtrace")]
        self.traces.ended(handle, true);
        if old & LIVE != 0 {
            self.shards[handle.shard()].add_live(-1);
        }
        self.retire(handle.shard(), handle.index(), slot, new, may_reclaim);
    }

    /// Revokes the handle: it is stale for new lookups and retains at once, and the owner's
    /// reference is dropped. References taken earlier stay valid and their `release` still
    /// succeeds; the entry ends with the last of them (at once if there are none). Never
    /// blocks and never waits for other threads.
    ///
    /// When the entry ends, the value is dropped once no scoped lookup can still be reading
    /// it: inside this call when no other thread uses any table (and this one holds no guard
    /// on the entry); otherwise, because lookups publish nothing but a per-thread hazard, in
    /// batches: when a shard has 1,024 ended entries (a pass over the whole table), on
    /// [`HandleTable::flush`], and when the table is dropped. A `Drop` that panics here
    /// propagates after the revoke is complete.
    ///
    /// ```
    /// let table = ffi_handles::HandleTable::new();
    /// let h = table.insert("x");
    /// assert_eq!(table.revoke(h), Ok(()));
    /// assert_eq!(table.revoke(h), Err(ffi_handles::Error::Stale)); // deleting twice is an error
    /// ```
    ///
    /// # Errors
    /// [`Error::Invalid`] (never issued by this table), [`Error::Stale`] (the entry has ended, or
    /// was revoked), [`Error::WrongTable`] (a handle of another table): revoking twice is `Stale`.
    ///
    /// # Panics
    /// If a value's `Drop` panics while this call drops values (see above).
    pub fn revoke(&self, handle: Handle) -> Result<(), Error> {
        let raw = handle.into_raw();
        let slot = self.locate(handle)?;
        let mut state = slot.state.load(Ordering::Relaxed);
        loop {
            if !is_live_for(state, raw) {
                if is_taking_for(state, raw) {
                    state = slot.settle(state); // the take then fails
                    continue;
                }
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
                        self.retire(handle.shard(), handle.index(), slot, new, true);
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
    /// let table = ffi_handles::HandleTable::new();
    /// let h = table.insert(String::from("mine"));
    /// table.retain(h).unwrap();
    /// assert_eq!(table.take(h), Err(ffi_handles::Error::Busy));
    /// table.release(h).unwrap();
    /// assert_eq!(table.take(h).unwrap(), "mine");
    /// ```
    ///
    /// # Errors
    /// [`Error::Busy`] (other references or borrows exist, or another take of the entry is
    /// deciding), and [`Error::Invalid`] (never issued by this table), [`Error::Stale`] (the entry has ended, or
    /// was revoked), [`Error::WrongTable`] (a handle of another table).
    pub fn take(&self, handle: Handle) -> Result<T, Error> {
        let raw = handle.into_raw();
        let slot = self.locate(handle)?;
        // The TAKING word carries a token unique among threads taking at this moment (the
        // registry index of the calling thread's record), so a take's final CAS cannot succeed
        // on a TAKING word written by a later take of the same entry (ABA).
        let token = match global::local() {
            Some(record) => record.index as u64 + 1,
            None => return self.take_detached(handle, raw, slot),
        };
        self.take_with_token(handle, raw, slot, token)
    }

    /// `take` from a thread in thread-local teardown: borrows a record for its token.
    #[cold]
    fn take_detached(&self, handle: Handle, raw: u64, slot: &Slot<T>) -> Result<T, Error> {
        let record = global::claim_temporary();
        let result = self.take_with_token(handle, raw, slot, record.index as u64 + 1);
        global::release_temporary(record);
        result
    }

    fn take_with_token(
        &self,
        handle: Handle,
        raw: u64,
        slot: &Slot<T>,
        token: u64,
    ) -> Result<T, Error> {
        if token > PAYLOAD_MASK {
            // More than 2^23 threads at once: no token to tell their takes apart.
            return Err(Error::Full);
        }
        let mut state = slot.state.load(Ordering::Relaxed);
        let identity = loop {
            if !is_live_for(state, raw) {
                // Includes another take deciding on the entry: `Busy`.
                return Err(self.classify(handle, Some(state)));
            }
            if state & PAYLOAD_MASK != 1 {
                return Err(Error::Busy);
            }
            match slot.state.compare_exchange_weak(
                state,
                identity_of(state) | TAKING | token,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break identity_of(state),
                Err(current) => state = current,
            }
        };
        let taking = identity | TAKING | token;
        // If no other thread has a record and we hold no hazard on the slot, nobody can be
        // reading it (`Registry::alone`): no barrier. Otherwise make every hazard published
        // before a reader's barrier visible, with a heavy barrier shared with concurrent
        // takers and passes. A reader whose hazard we miss sees TAKING and settles the entry
        // back to LIVE (`Guard::protect`), and so does every retain, release and revoke
        // meanwhile: then our final CAS fails.
        let addr = slot as *const Slot<T> as usize;
        let alone = global::local().is_some_and(|me| global::registry().alone(me, addr));
        let borrowed = !alone && {
            barrier::heavy();
            global::registry()
                .iter()
                .any(|rec| rec.cells().any(|h| h.load(Ordering::Acquire) == addr))
        };
        if borrowed {
            // Put it back unless an operation has settled it already. Release: anything we did
            // stays ordered before the next owner's operations.
            let _ = slot.state.compare_exchange(
                taking,
                identity | LIVE | 1,
                Ordering::Release,
                Ordering::Relaxed,
            );
            return Err(Error::Busy);
        }
        // Claim the value. DROPPING with the end code marks the cell as being emptied by us (a
        // forked child never drops it); `recycle` below frees the slot. Acquire: the
        // value's initialisation and every earlier user's accesses happen before our move.
        if let Err(now) = slot.state.compare_exchange(
            taking,
            ended_identity(identity, END_TAKEN) | DROPPING,
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            // Settled by a lookup or retain (still live: `Busy`), or ended by a release or
            // revoke (`Stale`); either way the take changed nothing they could observe.
            return Err(if is_live_for(now, raw) {
                Error::Busy
            } else {
                self.classify(handle, Some(now))
            });
        }
        #[cfg(feature = "debug-backtrace")]
        self.traces.ended(handle, false);
        self.shards[handle.shard()].add_live(-1);
        // SAFETY: our CAS from our own TAKING word succeeded, so no lookup settled the entry
        // after our heavy barrier, no hazard named the slot at the scan, and no reference but
        // ours existed: nothing else can reach the value, and the state now says it is ours.
        let value = unsafe { slot.move_out() };
        self.recycle(
            handle.shard(),
            handle.index(),
            slot,
            ended_identity(identity, END_TAKEN),
        );
        Ok(value)
    }

    /// Whether the handle names a live entry of this table.
    #[must_use]
    pub fn contains(&self, handle: Handle) -> bool {
        let Some(slot) = self.shards[handle.shard()].slot(handle.index()) else {
            return false;
        };
        let state = slot.state.load(Ordering::Acquire);
        is_live_for(state, handle.into_raw()) || is_taking_for(state, handle.into_raw())
    }

    /// Number of live entries (inserted, not yet revoked, released to zero or taken). Exact
    /// when no other thread is changing the table.
    #[must_use]
    pub fn len(&self) -> usize {
        let live: i64 = self.shards.iter().map(Shard::live).sum();
        live.max(0) as usize
    }

    /// Whether [`HandleTable::len`] is 0.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of the live handles, for leak reports. Entries changed concurrently may or
    /// may not appear.
    ///
    /// ```
    /// let table = ffi_handles::HandleTable::new();
    /// let h = table.insert(());
    /// assert_eq!(table.handles(), vec![h]);
    /// ```
    #[must_use]
    pub fn handles(&self) -> Vec<Handle> {
        let mut out = Vec::new();
        for (shard_index, shard) in self.shards.iter().enumerate() {
            for (index, slot) in shard.used_slots() {
                let state = slot.state.load(Ordering::Acquire);
                if state & (LIVE | TAKING) != 0 {
                    out.push(Handle::from_parts(identity_of(state), shard_index, index));
                }
            }
        }
        out
    }

    /// The table's [`ReclaimPolicy`] (`Caller` until set).
    #[must_use]
    pub fn reclaim_policy(&self) -> ReclaimPolicy {
        ReclaimPolicy::from_usize(self.policy.load(Ordering::Relaxed))
    }

    /// Sets which thread drops the values of ended entries that could not be dropped at once
    /// (see [`ReclaimPolicy`]). For tables that live for the whole program (a `static`, or a
    /// leaked box), which is where a background thread may keep a reference to the table.
    /// Takes effect for entries that end afterwards; switching away from `Background` leaves
    /// the table registered with the (then idle) thread.
    ///
    /// ```
    /// use ffi_handles::{HandleTable, ReclaimPolicy};
    /// static TABLE: HandleTable<String> = HandleTable::new();
    /// TABLE.set_reclaim_policy(ReclaimPolicy::Background);
    /// assert_eq!(TABLE.reclaim_policy(), ReclaimPolicy::Background);
    /// ```
    pub fn set_reclaim_policy(&'static self, policy: ReclaimPolicy)
    where
        T: 'static,
    {
        #[cfg(not(handles_loom))]
        if policy == ReclaimPolicy::Background && self.in_reclaimer.swap(1, Ordering::AcqRel) == 0 {
            crate::reclaimer::register(self);
        }
        self.policy.store(policy as usize, Ordering::Release);
    }

    /// The policy, for the retire path.
    #[inline(always)]
    pub(crate) fn policy(&self) -> ReclaimPolicy {
        ReclaimPolicy::from_usize(self.policy.load(Ordering::Relaxed))
    }

    /// Background policy: wakes the reclaimer if it waits for this table, or if `urgent` (a
    /// shard just reached its batch). If no thread can be started, runs the pass here.
    #[cfg(not(handles_loom))]
    pub(crate) fn wake_reclaimer(&self, urgent: bool) {
        if (self.disarm() || urgent) && !crate::reclaimer::wake(global::unregister_current) {
            self.reclaim_all_reported();
        }
    }

    /// The caller's half of the wake-up handshake (`reclaimer.rs`), after its push onto a
    /// retire list: a `SeqCst` fence, then whether the reclaimer waits for this table,
    /// disarming it (so only one caller wakes the thread per round).
    #[inline]
    #[cfg_attr(all(handles_loom, not(test)), allow(dead_code))]
    pub(crate) fn disarm(&self) -> bool {
        crate::sync::fence(Ordering::SeqCst);
        self.armed.load(Ordering::Relaxed) != 0 && self.armed.swap(0, Ordering::AcqRel) != 0
    }

    /// The reclaimer's half: arms the table, then (`SeqCst` fence) whether any entry is
    /// waiting on a retire list. Either this sees the entry a caller pushed, or that caller's
    /// `disarm` sees the table armed.
    #[cfg(all(handles_loom, test))]
    pub(crate) fn arm_and_check(&self) -> bool {
        self.armed.store(1, Ordering::Relaxed);
        crate::sync::fence(Ordering::SeqCst);
        (0..SHARDS).any(|i| self.shards[i].retired_len() > 0)
    }

    /// Runs a reclamation pass on every shard now: drops every ended value that no scoped
    /// lookup is borrowing, and waits for passes other threads are running on this table (so
    /// do not hold, across `flush`, a lock that values' `Drop`s take). Returns how many ended
    /// values are still waiting (borrowed, or, when it waited for another pass, also ended
    /// meanwhile).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// static DROPS: AtomicUsize = AtomicUsize::new(0);
    /// struct Noisy;
    /// impl Drop for Noisy { fn drop(&mut self) { DROPS.fetch_add(1, Ordering::SeqCst); } }
    ///
    /// let table = ffi_handles::HandleTable::new();
    /// let h = table.insert(Noisy);
    /// table.revoke(h).unwrap();
    /// assert_eq!(table.flush(), 0);
    /// assert_eq!(DROPS.load(Ordering::SeqCst), 1);
    /// ```
    ///
    /// # Panics
    /// If a value's `Drop` panics: the first such panic propagates once the pass is complete
    /// (every other value is still dropped; later panics' payloads are dropped).
    pub fn flush(&self) -> usize {
        // One heavy barrier for every shard; a panicking `Drop` does not leave the remaining
        // shards unreclaimed (the first panic resumes at the end). Then wait for passes other
        // threads were running (they hold lists we could not take): when `flush` returns,
        // every value that ended before it and is not borrowed has been dropped.
        let pending = self.reclaim_all();
        if in_pass() {
            // Called from a `Drop` inside a pass (this thread's, on any table): waiting for
            // other threads' passes could wait for a pass that waits for ours.
            return pending;
        }
        let generation = global::fork_generation();
        let mut waited = false;
        loop {
            let word = self.passes.load(Ordering::Acquire);
            if word >> 32 != generation || word as u32 == 0 {
                break;
            }
            waited = true;
            crate::sync::yield_now();
        }
        if waited {
            // Another pass held lists ours could not take; what it found borrowed is back on
            // the retire lists now, with whatever ended meanwhile.
            (0..SHARDS)
                .map(|i| self.shards[i].retired_len() as usize)
                .sum()
        } else {
            pending
        }
    }

    /// Counts a pass in flight on this table (for `flush`), until the returned guard drops.
    pub(crate) fn pass_in_flight(&self) -> impl Drop + '_ {
        struct InFlight<'a>(&'a AtomicU64, u64);
        impl Drop for InFlight<'_> {
            fn drop(&mut self) {
                #[cfg(not(handles_loom))]
                let _ = IN_PASS.try_with(|d| d.set(d.get() - 1));
                let mut word = self.0.load(Ordering::Relaxed);
                // A fork since we started reset the count: ours is no longer in it.
                while word >> 32 == self.1 {
                    // Release: our drops happen before a waiting `flush` returns.
                    match self.0.compare_exchange_weak(
                        word,
                        word - 1,
                        Ordering::Release,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return,
                        Err(current) => word = current,
                    }
                }
            }
        }
        #[cfg(not(handles_loom))]
        let _ = IN_PASS.try_with(|d| d.set(d.get() + 1));
        let generation = global::fork_generation();
        let mut word = self.passes.load(Ordering::Relaxed);
        loop {
            let new = if word >> 32 == generation {
                word + 1
            } else {
                (generation << 32) | 1
            };
            match self
                .passes
                .compare_exchange_weak(word, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return InFlight(&self.passes, generation),
                Err(current) => word = current,
            }
        }
    }

    #[inline(always)]
    pub(crate) fn shard(&self, index: usize) -> &Shard<T> {
        &self.shards[index]
    }

    #[cfg(feature = "debug-backtrace")]
    pub(crate) fn traces(&self) -> &crate::trace::Traces {
        &self.traces
    }

    /// Generation after which a slot is exhausted instead of reused: `max_generation` past the
    /// table's first generation (its tag's floor), capped by the layout.
    pub(crate) fn max_generation(&self) -> u32 {
        let floor = slot::generation_of(self.tag.load(Ordering::Relaxed));
        floor
            .saturating_add(self.max_generation)
            .min(MAX_GENERATION)
    }

    /// The slot a handle points at, or why there is none.
    #[inline(always)]
    fn locate(&self, handle: Handle) -> Result<&Slot<T>, Error> {
        self.shards[handle.shard()]
            .slot(handle.index())
            .ok_or_else(|| self.classify(handle, None))
    }

    /// The table's tag word (`identity(tag, floor)`), assigning a tag on first use (the lazy,
    /// lock-free init guard: one Acquire load once initialised); `None` when no tag is free.
    #[inline(always)]
    fn tag(&self) -> Option<u64> {
        let word = self.tag.load(Ordering::Acquire);
        if word != 0 {
            Some(word)
        } else {
            self.init_tag()
        }
    }

    /// The tag, or 0 before the first insert (for error classification).
    fn tag_if_set(&self) -> u32 {
        tag_of(self.tag.load(Ordering::Acquire))
    }

    #[cold]
    fn init_tag(&self) -> Option<u64> {
        let lease = if self.registry {
            match tag::acquire_registry() {
                Some(lease) => lease,
                // The registry has one tag: a concurrent first user of this table may hold it
                // and be about to install it. Give it a moment (it has a few instructions
                // left), then report the tag as taken (another live registry table has it).
                None => return self.tag_installed_by_another_first_user(),
            }
        } else {
            tag::acquire()?
        };
        let word = slot::identity(lease.tag, lease.floor);
        // Concurrent first users race here; all of them adopt the winner's tag.
        match self
            .tag
            .compare_exchange(0, word, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Some(word),
            Err(winner) => {
                tag::release(lease, lease.floor);
                Some(winner)
            }
        }
    }

    #[cold]
    fn tag_installed_by_another_first_user(&self) -> Option<u64> {
        for _ in 0..1_000 {
            let word = self.tag.load(Ordering::Acquire);
            if word != 0 {
                return Some(word);
            }
            crate::sync::yield_now();
        }
        None
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
            let slot = self.shards[s]
                .slot(index)
                .expect("an unused slot has a page");
            (s, index, slot)
        };
        if let Some(index) = self.shards[home].take_unused(false) {
            return Some(with_slot(home, index));
        }
        // A home shard that never had a slot gets its first page (512 slots: a per-thread
        // constant) rather than stealing. A thread that steals inserts into another shard and
        // its revokes retire there, so its home would never fill and it would keep competing
        // with that shard's owner for its free list (2-thread churn fell 4x that way).
        if self.shards[home].used() == 0
            && let Some(index) = self.shards[home].take_unused(true)
        {
            return Some(with_slot(home, index));
        }
        let others = (1..SHARDS).map(|k| (home + k) % SHARDS);
        for s in others.clone() {
            if let Some((index, slot)) = self.shards[s].pop_free() {
                return Some((s, index, slot));
            }
        }
        for s in core::iter::once(home).chain(others) {
            if let Some(index) = self.shards[s].take_unused(true) {
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
        if let Some(kind) = FailureKind::of(error, ended) {
            global::count_failure(kind);
        }
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
        if wanted < slot::generation_of(self.tag.load(Ordering::Acquire)) {
            // Below the table's first generation: issued, if at all, by an earlier table with
            // the same tag, never by this one.
            return (Error::Invalid, None);
        }
        let occupied = state & (LIVE | REVOKED | ENDED | TAKING | EXHAUSTED) != 0;
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
            _ if state & (ENDED | EXHAUSTED) != 0 => {
                (Error::Stale, EndReason::from_code(slot::end_code(state)))
            }
            // LIVE at the handle's generation: callers classify only states that failed their
            // check, so this one was seen while it changed under them; stale, as before.
            _ if state & LIVE != 0 => (Error::Stale, None),
            // A state this classification does not know (a flag added to `occupied` above
            // without an arm here): never a live entry, so not `Stale` by default.
            _ => {
                debug_assert!(false, "explain: unclassified slot state {state:#x}");
                (Error::Invalid, None)
            }
        }
    }
}

#[cfg(not(handles_loom))]
thread_local! {
    /// Reclamation passes this thread is running (on any table): a `flush` from a `Drop`
    /// inside one does not wait for other threads' passes.
    static IN_PASS: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// Whether this thread is inside a reclamation pass.
fn in_pass() -> bool {
    #[cfg(not(handles_loom))]
    {
        IN_PASS.try_with(|d| d.get() > 0).unwrap_or(true)
    }
    #[cfg(handles_loom)]
    false
}

/// The tag in a table's tag word (`slot::identity(tag, floor)`, or 0 before the first insert).
#[inline(always)]
fn tag_of(word: u64) -> u32 {
    ((word >> TAG_SHIFT) & TAG_MASK) as u32
}

#[cfg(not(handles_loom))]
impl<T: Send + Sync + 'static> crate::reclaimer::Reclaimable for HandleTable<T> {
    fn arm(&self) {
        // The fence that orders this before the reclaimer's list loads follows in its loop.
        self.armed.store(1, Ordering::Relaxed);
    }

    fn background_pass(&self) -> bool {
        self.reclaim_all_reported() > 0
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
            .field("tag", &tag_of(self.tag.load(Ordering::Relaxed)))
            .field("live", &live)
            .finish_non_exhaustive()
    }
}

impl<T> Drop for HandleTable<T> {
    /// Drops every value still in the table (live, revoked or awaiting reclamation) exactly
    /// once, then frees the pages. `&mut self` proves no guard or lookup is in progress.
    fn drop(&mut self) {
        let mut panic = FirstPanic::default();
        let mut next_floor = 0;
        for shard in &self.shards {
            for (_, slot) in shard.used_slots() {
                let state = slot.state.load(Ordering::Relaxed);
                // One past the slot's generation (a FREE slot holds the next one: one more
                // than needed, which is harmless).
                next_floor = next_floor.max(slot::generation_of(state) + 1);
                if slot::has_value(state) {
                    panic.catch(|| {
                        // SAFETY: the state says the cell holds a value, and `&mut self`
                        // excludes every other access.
                        unsafe { slot.drop_value() }
                    });
                }
            }
            for (p, pre) in shard.pages() {
                // SAFETY: the page came from `page::alloc(p)`; all its values are dropped and
                // no reference into it survives `&mut self`.
                unsafe { crate::page::free(p, pre) };
            }
        }
        // Give the tag back with a floor past every generation this table issued, so none of
        // its handles can reach an entry of the tag's next holder (see `tag.rs`).
        let word = self.tag.load(Ordering::Relaxed);
        if word != 0 {
            let lease = tag::Lease {
                tag: tag_of(word),
                floor: slot::generation_of(word),
            };
            tag::release(lease, next_floor);
        }
        panic.resume();
    }
}
