//! Statistics: counters that describe a table, its shards and the thread registry. They only
//! read the core (shard counters, page lists, registry records); nothing in the core reads them.

use crate::barrier;
use crate::error::FailureKind;
use crate::global;
use crate::handle::SHARDS;
use crate::slot::Slot;
use crate::table::HandleTable;

/// Counters describing one table, from [`HandleTable::stats`]. Per-shard figures come from
/// [`HandleTable::shard_stats`]; failed lookups by reason from [`thread_stats`] (they are
/// counted per thread, over all tables).
///
/// ```
/// let table = ffi_handles::HandleTable::new();
/// let _kept = table.insert("a");
/// let s: ffi_handles::Stats = table.stats();
/// assert_eq!((s.live, s.pending_drops), (1, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Live entries.
    pub live: usize,
    /// Ended entries whose values await a reclamation pass (or a borrower to finish).
    pub pending_drops: usize,
    /// Slots in allocated pages.
    pub slots: usize,
    /// Pages allocated, over all shards.
    pub pages: usize,
    /// Slots exhausted for good: their generation was used up, so they are never reused.
    pub exhausted_slots: usize,
    /// Bytes the table occupies: the table itself plus its pages.
    pub bytes: usize,
}

/// Process-wide counters of the thread registry, from [`thread_stats`].
///
/// ```
/// let t: ffi_handles::ThreadStats = ffi_handles::thread_stats();
/// if !t.asymmetric_barrier {
///     assert_eq!(t.heavy_barriers, 0); // lookups fence themselves instead
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadStats {
    /// Thread records ever allocated: the peak number of threads that used tables at once.
    pub records: usize,
    /// Records held by live threads right now.
    pub active: usize,
    /// Whether scoped lookups run fence-free: the OS has a heavy barrier (Linux `membarrier`,
    /// Windows `FlushProcessWriteBuffers`) and `HANDLES_BARRIER=symmetric` is not set.
    pub asymmetric_barrier: bool,
    /// Heavy barriers (`membarrier` calls) the process has issued so far, for every table.
    /// Reclamation passes, `take`s and `flush`es that overlap in time share one barrier, so
    /// this grows with the number of passes, not with the number of threads. Always 0 without
    /// an asymmetric barrier (each pass then fences only itself).
    pub heavy_barriers: u64,
    /// Panics of values' `Drop`s that ran in a reclamation pass nobody asked for (on the
    /// background reclaimer, or inside an unrelated caller's operation): each was reported here
    /// and on stderr instead of unwinding out of that caller. Panics in `flush`, in dropping a
    /// table, or in a value's own ending call propagate to that call instead.
    pub drop_panics: u64,
    /// Failed handle checks by reason, over all threads and tables. Counted per thread on the
    /// failure path only, so successful lookups pay nothing for them.
    pub failures: Failures,
}

/// Counters of the process-wide thread registry, shared by all tables.
///
/// Records are recycled when threads exit, so `records` stays at the peak number of threads
/// alive at once, however many threads come and go.
///
/// ```
/// let table = ffi_handles::HandleTable::new();
/// let h = table.insert(1);
/// std::thread::spawn(move || { table.with(h, |_| ()).unwrap(); }).join().unwrap();
/// let stats = ffi_handles::thread_stats();
/// assert!(stats.records >= 1);
/// assert!(stats.active >= 1 && stats.active <= stats.records);
/// println!("{} heavy barriers, {} failed lookups", stats.heavy_barriers, stats.failures.total());
/// ```
#[must_use]
pub fn thread_stats() -> ThreadStats {
    let (records, active) = global::counts();
    ThreadStats {
        records,
        active,
        asymmetric_barrier: barrier::is_asymmetric(),
        heavy_barriers: barrier::issued(),
        drop_panics: crate::panics::reported(),
        failures: Failures::from_counts(global::failure_counts()),
    }
}

/// Failed handle checks by reason, summed over all threads and all tables of the process
/// (see [`ThreadStats::failures`](crate::ThreadStats::failures)).
///
/// Counted whenever an operation (lookup, retain, release, revoke, take, ...) rejects a
/// handle. A stale handle is counted under the reason its slot showed to the failing
/// operation itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failures {
    /// Handles never issued by the table (forged, corrupted).
    pub invalid: u64,
    /// Handles of another table.
    pub wrong_table: u64,
    /// Operations that raced with a `take`.
    pub busy: u64,
    /// Stale handles whose entry was released to zero.
    pub stale_released: u64,
    /// Stale handles whose entry was revoked.
    pub stale_revoked: u64,
    /// Stale handles whose entry was taken.
    pub stale_taken: u64,
    /// Stale handles whose slot had been reused (reason no longer known).
    pub stale_unknown: u64,
}

impl Failures {
    /// All stale-handle failures.
    ///
    /// ```
    /// let table = ffi_handles::HandleTable::new();
    /// let h = table.insert(1);
    /// table.revoke(h).unwrap();
    /// let before = ffi_handles::thread_stats().failures;
    /// assert!(table.with(h, |_| ()).is_err());
    /// let after = ffi_handles::thread_stats().failures;
    /// assert_eq!(after.stale() - before.stale(), 1); // counted on this thread
    /// assert_eq!(after.total() - before.total(), 1);
    /// ```
    #[must_use]
    pub fn stale(&self) -> u64 {
        self.stale_released + self.stale_revoked + self.stale_taken + self.stale_unknown
    }

    /// All failures.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.invalid + self.wrong_table + self.busy + self.stale()
    }

    fn from_counts(c: [u64; FailureKind::COUNT]) -> Failures {
        Failures {
            invalid: c[FailureKind::Invalid as usize],
            wrong_table: c[FailureKind::WrongTable as usize],
            busy: c[FailureKind::Busy as usize],
            stale_released: c[FailureKind::StaleReleased as usize],
            stale_revoked: c[FailureKind::StaleRevoked as usize],
            stale_taken: c[FailureKind::StaleTaken as usize],
            stale_unknown: c[FailureKind::StaleUnknown as usize],
        }
    }
}

/// Counters of one shard, from [`HandleTable::shard_stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShardStats {
    /// Live entries whose slot is in this shard.
    pub live: usize,
    /// Slots in the shard's allocated pages.
    pub slots: usize,
    /// Pages allocated.
    pub pages: usize,
    /// Ended entries awaiting a reclamation pass.
    pub pending_drops: usize,
}

impl<T: Send + Sync> HandleTable<T> {
    /// Counters describing the table's memory and entries.
    ///
    /// ```
    /// let table = ffi_handles::HandleTable::new();
    /// let h = table.insert([0u8; 64]);
    /// let s = table.stats();
    /// assert_eq!(s.live, 1);
    /// assert!(s.slots >= 1 && s.pages >= 1 && s.bytes > 64);
    /// table.revoke(h).unwrap();
    /// table.flush();
    /// assert_eq!(table.stats().pending_drops, 0);
    /// ```
    #[must_use]
    pub fn stats(&self) -> Stats {
        let mut stats = Stats {
            live: self.len(),
            ..Stats::default()
        };
        for shard in (0..SHARDS).map(|i| self.shard(i)) {
            stats.pending_drops += shard.retired_len() as usize;
            stats.exhausted_slots += shard.exhausted() as usize;
            stats.slots += shard.capacity() as usize;
            stats.pages += shard.pages().count();
        }
        stats.bytes = core::mem::size_of::<Self>() + stats.slots * core::mem::size_of::<Slot<T>>();
        stats
    }

    /// Per-shard counters: live entries, slots, pages and pending drops of each of the 64
    /// shards, in shard order. Each thread inserts into its own home shard, so this shows how
    /// a program's threads spread their entries (and where ended entries wait for a pass); the
    /// C registry's figures are `hdl_shard_stats`. The number of shards is a property of the
    /// handle layout: read it as the length of the result.
    ///
    /// ```
    /// let table = ffi_handles::HandleTable::new();
    /// table.insert(1);
    /// let shards = table.shard_stats();
    /// assert_eq!(shards.len(), 64);
    /// assert_eq!(shards.iter().map(|s| s.live).sum::<usize>(), 1);
    /// ```
    #[must_use]
    pub fn shard_stats(&self) -> Vec<ShardStats> {
        (0..SHARDS)
            .map(|i| {
                let shard = self.shard(i);
                ShardStats {
                    live: shard.live().max(0) as usize,
                    slots: shard.capacity() as usize,
                    pages: shard.pages().count(),
                    pending_drops: shard.retired_len() as usize,
                }
            })
            .collect()
    }
}
