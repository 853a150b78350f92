//! The thread registry algorithm: one record per live thread, recycled when threads exit.
//!
//! A record holds the thread's hazards: the addresses of the slots it is reading inside scoped
//! lookups. Only the owning thread writes them; reclaimers read them all. Records are allocated
//! on a thread's first use of any table, linked into one lock-free list, and never freed: when a
//! thread exits its record is marked unclaimed and the next new thread claims it. So the list is
//! as long as the largest number of threads that were ever alive at once, however many threads
//! come and go over the life of the process.
//!
//! Records are cache-line aligned: a hazard store touches only the owner's line, so lookups on
//! many cores never write a shared cache line.
//!
//! This file is the algorithm, for any [`Registry`] and any owner tokens. The one process-wide
//! registry, the calling thread's record, its token and the `fork()` child handler live in
//! `global.rs`.

use crate::error::FailureKind;
use crate::sync::{AtomicPtr, AtomicU64, AtomicUsize, Ordering, fence};
use core::ptr;

/// Hazard cells held inline in a record: a thread can hold this many scoped lookups at once
/// before its record grows a chain of overflow chunks.
pub(crate) const HAZARDS: usize = 4;
/// Hazard cells per overflow chunk.
const CHUNK: usize = 16;

/// The value of a claimed record's first hazard cell while the barrier mode is not
/// asymmetric on a target where it could be (`barrier::marks_first_cell`): not a hazard (no
/// slot has this address), it only keeps the cell from looking free, so that the lookup fast
/// path, whose light barrier is a compiler fence (`barrier::light_first_cell`), is never taken
/// in a mode that needs a real fence. The record's claim writes it and its release clears it.
pub(crate) const FENCED: usize = 1;

/// More hazard cells for a thread that nests scoped lookups deeply. Chunks are appended by the
/// record's owner, never freed while the registry lives, and reused by the record's next owner.
struct HazardChunk {
    cells: [AtomicUsize; CHUNK],
    next: AtomicPtr<HazardChunk>,
}

#[repr(align(128))]
pub(crate) struct Record {
    /// Slot addresses this thread is reading (0 = unused). Written only by the owner.
    hazards: [AtomicUsize; HAZARDS],
    /// Overflow chunks (null until the first time more than `HAZARDS` are needed).
    overflow: AtomicPtr<HazardChunk>,
    /// Who holds the record: the owning thread's token (`global::token`) while claimed; the last owner's
    /// token with the [`FREE`] bit set once released. Claimed and owner change in one CAS, so
    /// the fork child handler can always tell the forking thread's records from the others.
    owner: AtomicUsize,
    /// Position in the registry; picks the thread's home shard.
    pub(crate) index: usize,
    /// Next record in the registry list; written once before the record is published.
    next: *const Record,
    /// 1 while the record counts in [`Registry::claimed`]: from its claim until a release
    /// that left no hazard behind. Written by the owner (and the fork child handler).
    counted: AtomicUsize,
    /// Failed handle checks by kind ([`FailureKind`]). Only the record's owner writes them
    /// (a load and a store, no read-modify-write), on the failure path only; `thread_stats`
    /// sums them over all records.
    failures: [AtomicU64; FailureKind::COUNT],
}

// SAFETY: every mutable field is atomic; `next` is written before the record is published and
// never again, and points to another record that lives as long as the registry.
unsafe impl Sync for Record {}
// SAFETY: as above.
unsafe impl Send for Record {}

impl Record {
    /// The first hazard cell: the one a non-nested scoped lookup uses.
    #[inline(always)]
    pub(crate) fn first_hazard(&self) -> &AtomicUsize {
        &self.hazards[0]
    }

    /// True when the first hazard cell is 0 (free), read by the thread that owns the record.
    ///
    /// A plain load, not an atomic one, so that the lookup fast path tests the cell in memory
    /// (`cmp [cell], 0` on x86_64) instead of loading it into a register first.
    ///
    /// # Safety
    /// The calling thread owns the record (it claimed it and has not released it), or the
    /// record is the `UNREGISTERED` sentinel. Either way no other thread writes the cell
    /// meanwhile: only a record's owner stores to its cells, a claim takes a record only once
    /// its last owner's cells are all 0 (so no late guard of that owner clears this one), and
    /// nobody ever stores to the sentinel's. Other threads only load the cell (reclaimers'
    /// hazard scans), and loads do not race with a plain load.
    #[inline(always)]
    pub(crate) unsafe fn first_hazard_is_free(&self) -> bool {
        #[cfg(not(handles_loom))]
        // SAFETY: per the caller's contract, no store to the cell can race with this load;
        // the owner's own earlier stores are sequenced before it.
        let value = unsafe { *self.hazards[0].as_ptr() };
        // Loom checks the contract: `unsync_load` fails a model if any store to the cell is
        // not visible to (happens before) this load.
        #[cfg(handles_loom)]
        // SAFETY: as above.
        let value = unsafe { self.hazards[0].unsync_load() };
        value == 0
    }

    /// A hazard cell this thread is not using (growing the overflow chain if needed).
    #[inline(always)]
    pub(crate) fn free_hazard(&self) -> &AtomicUsize {
        // Only the owning thread writes its hazards, so a Relaxed load sees its own latest
        // store. The fast path (no nesting) is the first cell.
        let first = &self.hazards[0];
        if first.load(Ordering::Relaxed) == 0 {
            return first;
        }
        self.free_hazard_slow()
    }

    #[cold]
    fn free_hazard_slow(&self) -> &AtomicUsize {
        if let Some(cell) = self.cells().find(|c| c.load(Ordering::Relaxed) == 0) {
            return cell;
        }
        // Every cell is in use: append a chunk to the end of the chain. Only the owner
        // appends, so the tail cannot change under us.
        let mut link = &self.overflow;
        loop {
            let chunk = link.load(Ordering::Acquire);
            if chunk.is_null() {
                break;
            }
            // SAFETY: published chunks are never freed while the registry lives.
            link = unsafe { &(*chunk).next };
        }
        let chunk = Box::into_raw(Box::new(HazardChunk {
            cells: core::array::from_fn(|_| AtomicUsize::new(0)),
            next: AtomicPtr::new(ptr::null_mut()),
        }));
        // Release publishes the zeroed chunk to reclaimers' Acquire loads in `cells`.
        link.store(chunk, Ordering::Release);
        // SAFETY: just allocated and published; never freed while the registry lives.
        unsafe { &(*chunk).cells[0] }
    }

    /// Every hazard cell of this record, inline ones first.
    pub(crate) fn cells(&self) -> impl Iterator<Item = &AtomicUsize> {
        let mut chunk = self.overflow.load(Ordering::Acquire);
        let chunks = core::iter::from_fn(move || {
            if chunk.is_null() {
                return None;
            }
            // SAFETY: published chunks are initialised and never freed while the registry
            // lives; Acquire pairs with the Release that published them.
            let c = unsafe { &*chunk };
            chunk = c.next.load(Ordering::Acquire);
            Some(c.cells.iter())
        });
        self.hazards.iter().chain(chunks.flatten())
    }

    /// Counts one failed handle check of kind `kind` (owner only).
    #[cfg(not(handles_loom))]
    pub(crate) fn count_failure(&self, kind: FailureKind) {
        let cell = &self.failures[kind as usize];
        // Only the owner writes the counter, so load + store loses nothing; ownership passes
        // between threads through `owner` (Release in `release`, Acquire in `claim`).
        cell.store(
            cell.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    /// This record's failure counters, indexed by [`FailureKind`].
    pub(crate) fn failures(&self) -> [u64; FailureKind::COUNT] {
        core::array::from_fn(|k| self.failures[k].load(Ordering::Relaxed))
    }

    /// Whether some hazard cell's value satisfies `test`: the inline cells first, unrolled,
    /// and the overflow chain only if the record has one.
    #[inline(always)]
    fn any_cell(&self, ordering: Ordering, test: impl Fn(usize) -> bool) -> bool {
        self.hazards.iter().any(|c| test(c.load(ordering)))
            || (!self.overflow.load(Ordering::Acquire).is_null()
                && self.cells().any(|c| test(c.load(ordering))))
    }

    fn has_hazards(&self) -> bool {
        self.any_cell(Ordering::Acquire, |c| c != 0)
    }
}

impl Record {
    /// A record that is never in any registry, whose first hazard cell is permanently
    /// non-zero (see `global.rs`, `UNREGISTERED`).
    #[cfg(not(handles_loom))]
    pub(crate) const fn sentinel() -> Record {
        Record {
            hazards: [
                AtomicUsize::new(usize::MAX),
                AtomicUsize::new(0),
                AtomicUsize::new(0),
                AtomicUsize::new(0),
            ],
            overflow: AtomicPtr::new(ptr::null_mut()),
            // Never claimed or released: it is not in the list.
            owner: AtomicUsize::new(0),
            index: 0,
            next: ptr::null(),
            counted: AtomicUsize::new(0),
            failures: [const { AtomicU64::new(0) }; FailureKind::COUNT],
        }
    }
}

/// The bit of [`Record::owner`] that marks a record free. Tokens are addresses of a
/// pointer-sized thread-local, so they never have it set.
const FREE: usize = 1;

pub(crate) struct Registry {
    head: AtomicPtr<Record>,
    /// Indices handed out to new records (their home shards). Statistics count the list
    /// instead, which stays exact in a child forked while another thread was allocating.
    next_index: AtomicUsize,
    /// Records that may hold hazards of a live owner: claimed ones, and released ones whose
    /// owner left late guards behind (until a new owner claims them). [`Registry::alone`]
    /// reads it instead of walking the list.
    claimed: AtomicUsize,
}

// SAFETY: the registry only hands out shared references to records, whose mutable parts are
// atomics; `next` is written before publication and never again.
unsafe impl Sync for Registry {}
// SAFETY: as above; the raw pointers are owned by the registry.
unsafe impl Send for Registry {}

impl Registry {
    crate::sync::const_fn! {
        pub(crate) fn new() -> Registry {
            Registry {
                head: AtomicPtr::new(ptr::null_mut()),
                next_index: AtomicUsize::new(0),
                claimed: AtomicUsize::new(0),
            }
        }
    }

    /// Claims a free record for the calling thread, or allocates a new one.
    ///
    /// Hazards in a record belong to its owner, or to its last owner while it is free: a
    /// released record may still carry hazards of guards that outlive their thread's exit
    /// hook (guards kept in other thread-locals), and `claim` skips it until they are cleared.
    /// Its last owner can only clear those cells, never publish new ones (a thread publishes
    /// only into records it owns). So two owners never share a hazard cell, and the fork
    /// child handler knows whose guards a record's hazards are.
    ///
    /// `me` is the calling thread's owner token: non-zero, without the [`FREE`] bit, and
    /// different from every other live thread's.
    pub(crate) fn claim(&self, me: usize) -> &Record {
        // Decide the barrier mode before this thread can publish its first hazard.
        let first = if crate::barrier::marks_first_cell(crate::barrier::init()) {
            FENCED
        } else {
            0
        };
        for rec in self.iter() {
            // Acquire pairs with the Release in `release`: every hazard the last owner
            // published before releasing is visible to `has_hazards` below, so a record still
            // in use by its last owner's late guards is seen as such. (With a Relaxed load the
            // hazard check could read cells older than the release it follows.)
            let word = rec.owner.load(Ordering::Acquire);
            // The CAS succeeds only if the word still names the same last owner: unchanged
            // since the check, or claimed and released again by that same thread in between
            // (a temporary record), which it can only have claimed once its own hazards there
            // were gone, and which it released after clearing the one it published. Either
            // way no hazard of another thread is left. Acquire: the previous owner's clears
            // happen before we reuse the cells.
            if word & FREE != 0
                && !rec.has_hazards()
                && rec
                    .owner
                    .compare_exchange(word, me, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                #[cfg(handles_loom)]
                assert!(
                    !rec.has_hazards(),
                    "claimed a record that carries another thread's hazards"
                );
                // A record released with late guards is still counted; the claim takes over
                // its count. We own the record now, so nobody else writes `counted`.
                if rec.counted.swap(1, Ordering::Relaxed) == 0 {
                    self.claimed.fetch_add(1, Ordering::Relaxed);
                }
                // Only the owner writes its cells (and the first one was 0: no hazards).
                rec.hazards[0].store(first, Ordering::Relaxed);
                // Pairs with the fence in `alone`: see there.
                fence(Ordering::SeqCst);
                return rec;
            }
        }
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        self.claimed.fetch_add(1, Ordering::Relaxed);
        // Created claimed by us: an allocation cut short by a fork from this thread's signal
        // handler is still ours in the child.
        let rec = Box::into_raw(Box::new(Record {
            hazards: core::array::from_fn(|i| AtomicUsize::new(if i == 0 { first } else { 0 })),
            overflow: AtomicPtr::new(ptr::null_mut()),
            owner: AtomicUsize::new(me),
            index,
            next: ptr::null(),
            counted: AtomicUsize::new(1),
            failures: core::array::from_fn(|_| AtomicU64::new(0)),
        }));
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: `rec` is not published yet, so this thread owns it exclusively.
            unsafe { (*rec).next = head };
            // Release publishes the initialised record (and its `next`) to `iter`'s Acquire.
            match self
                .head
                .compare_exchange_weak(head, rec, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(current) => head = current,
            }
        }
        // Pairs with the fence in `alone`: see there.
        fence(Ordering::SeqCst);
        // SAFETY: records are never freed while the registry exists (it is a static).
        unsafe { &*rec }
    }

    /// Whether no thread but the caller (whose record is `me`) can be reading the slot at
    /// `addr` under a hazard, so that the caller, which has just ended the slot's entry (or
    /// moved it to TAKING), may drop or move its value at once, without a heavy barrier.
    ///
    /// True when the caller's record is the only one counted in `claimed` (every other record
    /// is free, and none was released with guards still alive), and no hazard cell of `me`
    /// names the slot: one fence, one load and the caller's own cells, whatever the number of
    /// records. Why that is enough: a thread reads a value only under a hazard in a record it
    /// has claimed, and it counts the claim before it publishes. Here: the caller's ending
    /// store, the fence, then the load of the count. In `claim`: the increment, the fence,
    /// then (later) the hazard store and the state load. By the two `SeqCst` fences, either we
    /// see the increment (and say no), or the claimer's state load sees the entry ended (and
    /// it backs off). A record released with late guards stays counted until a new owner
    /// claims it.
    #[inline]
    pub(crate) fn alone(&self, me: &Record, addr: usize) -> bool {
        fence(Ordering::SeqCst);
        // Acquire pairs with the Release decrement in `release`: a thread that released its
        // record finished every read under its hazards before it stopped counting.
        self.claimed.load(Ordering::Acquire) == 1 && !me.any_cell(Ordering::Relaxed, |c| c == addr)
    }

    /// Returns the calling thread's record to the pool (at thread exit, or when a temporary
    /// guard ends). Only the owner releases.
    ///
    /// Hazards are left alone: a guard that outlives its thread's exit hook (one kept in
    /// another thread-local) still protects its value, and `claim` skips the record until
    /// that guard clears its cell. The word keeps the owner's token, so a fork from this
    /// thread before then leaves those hazards in place in the child.
    /// `me` is the caller's owner token, as given to [`Registry::claim`].
    pub(crate) fn release(&self, rec: &Record, me: usize) {
        // Only the owner writes the word while it is claimed: this reads our own claim.
        let word = rec.owner.load(Ordering::Relaxed);
        if cfg!(any(debug_assertions, handles_loom)) {
            assert_eq!(
                word, me,
                "a record released by a thread that does not own it"
            );
        }
        // The mark is no hazard: a free record's cells hold only late guards' hazards.
        let first = &rec.hazards[0];
        if first.load(Ordering::Relaxed) == FENCED {
            first.store(0, Ordering::Relaxed);
        }
        // Stop counting the record unless guards it published are still alive (kept in other
        // thread-locals past the exit hook): `alone` must keep seeing those hazards' owner.
        // Only the owner writes its cells, so this reads their latest values.
        if !rec.any_cell(Ordering::Relaxed, |c| c != 0)
            && rec.counted.swap(0, Ordering::Relaxed) == 1
        {
            // Release: our reads under earlier hazards happen before an `alone` that reads
            // the decremented count.
            self.claimed.fetch_sub(1, Ordering::Release);
        }
        // Release orders the owner's hazard stores and clears before the next claimer's
        // Acquire load of the word.
        rec.owner.store(word | FREE, Ordering::Release);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Record> {
        // Acquire pairs with the publishing CAS in `claim`.
        let mut cur = self.head.load(Ordering::Acquire).cast_const();
        core::iter::from_fn(move || {
            if cur.is_null() {
                return None;
            }
            // SAFETY: published records are initialised and never freed while the registry
            // lives; `next` was written before publication.
            let rec = unsafe { &*cur };
            cur = rec.next;
            Some(rec)
        })
    }

    /// Appends every published hazard to `out`, sorted.
    ///
    /// Call after [`crate::barrier::heavy`]: any reader whose hazard is not seen here is
    /// guaranteed to see the caller's earlier stores (an ended state) and back off.
    pub(crate) fn hazards(&self, out: &mut Vec<usize>) {
        out.clear();
        for rec in self.iter() {
            for h in rec.cells() {
                // Acquire pairs with the Release of every hazard store (publish or clear): if
                // we read 0 or another address, the reader's accesses under the hazard that
                // named our slot happened before our reclamation of it.
                let addr = h.load(Ordering::Acquire);
                if addr != 0 && addr != FENCED {
                    out.push(addr);
                }
            }
        }
        out.sort_unstable();
    }

    /// Records in the list, and records claimed by live threads (a walk: for statistics).
    pub(crate) fn counts(&self) -> (usize, usize) {
        self.iter().fold((0, 0), |(records, claimed), rec| {
            let free = rec.owner.load(Ordering::Relaxed) & FREE != 0;
            (records + 1, claimed + usize::from(!free))
        })
    }
}

impl Registry {
    /// After `fork()`, in the child: frees every record that does not belong to `me` (the
    /// forking thread's token), clearing its hazards.
    ///
    /// The forking thread's records are recognised by their owner token: the record it is
    /// registered with; temporary records of guards it holds while its thread-locals are
    /// destroyed; a record it claimed in code that a signal handler interrupted before
    /// registering it; and the free record it last owned, whose hazards may be guards it keeps
    /// in other thread-locals past its exit hook. All its guards still exist in the child, so
    /// those records are left exactly as they are.
    ///
    /// Every other record belonged to a thread that does not exist in the child, and so do the
    /// guards behind its hazards (the hazards of a record are its owner's, or its last owner's
    /// while it is free: see [`Registry::claim`]). Their hazards are cleared, of free records
    /// too, so those become claimable again, and claimed ones are released.
    ///
    /// Idempotent, lock-free, allocation-free, and it cannot panic.
    #[cfg(all(unix, not(any(handles_loom, miri))))]
    pub(crate) fn release_all_but(&self, me: usize) {
        for rec in self.iter() {
            let word = rec.owner.load(Ordering::Relaxed);
            if word & !FREE == me {
                continue;
            }
            for cell in rec.cells() {
                cell.store(0, Ordering::Release);
            }
            if word & FREE == 0 {
                rec.owner.store(word | FREE, Ordering::Release);
            }
        }
        // Only the forking thread's records are left claimed; their hazards are its own.
        let mut claimed = 0;
        for rec in self.iter() {
            let mine = rec.owner.load(Ordering::Relaxed) & FREE == 0;
            rec.counted.store(usize::from(mine), Ordering::Relaxed);
            claimed += usize::from(mine);
        }
        self.claimed.store(claimed, Ordering::Relaxed);
    }
}

#[cfg(handles_loom)]
impl Drop for Registry {
    fn drop(&mut self) {
        // Loom recreates the registry for every execution; free the records it allocated.
        let mut cur = self.head.load(Ordering::Relaxed);
        while !cur.is_null() {
            // SAFETY: the registry is being dropped, so no thread can reach its records; each
            // was allocated by `Box::into_raw` in `claim`, each chunk in `free_hazard_slow`.
            let rec = unsafe { Box::from_raw(cur) };
            let mut chunk = rec.overflow.load(Ordering::Relaxed);
            while !chunk.is_null() {
                // SAFETY: as above.
                let c = unsafe { Box::from_raw(chunk) };
                chunk = c.next.load(Ordering::Relaxed);
            }
            cur = rec.next.cast_mut();
        }
    }
}
