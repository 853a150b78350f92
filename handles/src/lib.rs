//! Opaque 64-bit handles to Rust-owned objects, safe to hand to C and fast on any number of
//! cores.
//!
//! A [`HandleTable<T>`] owns values and gives out [`Handle`]s: non-zero `u64`s that C code can
//! store, copy and pass back. Looking a handle up is pure bit arithmetic plus a generation
//! check, so stale, forged, double-released and wrong-table handles are clean [`Error`]s, never
//! undefined behaviour.
//!
//! * **Scoped lookups write no shared memory.** [`HandleTable::with`] and [`HandleTable::get`]
//!   publish a hazard in the calling thread's own record and read the slot; they never store
//!   to, or run an atomic read-modify-write on, memory other threads use. A hot handle read by
//!   every core costs what it costs on one.
//! * **Counted references** ([`HandleTable::retain`] / [`HandleTable::release`]) for C code that
//!   keeps an object across calls, and **revocation** ([`HandleTable::revoke`]) that never
//!   blocks: outstanding references and borrows stay valid, new lookups fail at once.
//! * **No locks at all**: inserts and revokes are lock-free and stay in the caller's home
//!   shard; user code (`Drop`, closures) may re-enter any table; `fork()` is safe.
//!
//! # Exposing Rust objects to C
//!
//! ```
//! use handles::{Handle, HandleTable};
//!
//! pub struct Widget { name: String }
//!
//! static WIDGETS: HandleTable<Widget> = HandleTable::new();
//!
//! #[unsafe(no_mangle)]
//! pub extern "C" fn widget_new() -> u64 {
//!     WIDGETS.insert(Widget { name: "gear".into() }).into_raw()
//! }
//!
//! /// Returns the name length, or -1 for a bad handle.
//! #[unsafe(no_mangle)]
//! pub extern "C" fn widget_name_len(h: u64) -> i64 {
//!     let Some(h) = Handle::from_raw(h) else { return -1 };
//!     WIDGETS.with(h, |w| w.name.len() as i64).unwrap_or(-1)
//! }
//!
//! #[unsafe(no_mangle)]
//! pub extern "C" fn widget_free(h: u64) -> bool {
//!     Handle::from_raw(h).is_some_and(|h| WIDGETS.revoke(h).is_ok())
//! }
//!
//! let w = widget_new();
//! assert_eq!(widget_name_len(w), 4);
//! assert!(widget_free(w));
//! assert!(!widget_free(w));              // double free: a clean error
//! assert_eq!(widget_name_len(w), -1);    // use after free: a clean error
//! assert_eq!(widget_name_len(0xdead_beef_0000_0001), -1); // forged
//! ```
//!
//! See `ARCHITECTURE.md` in the repository for the bit layout, the slot lifecycle and the
//! reclamation protocol.

#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod barrier;
#[cfg(not(handles_loom))]
pub mod callback;
mod diag;
mod error;
mod guard;
mod handle;
mod page;
mod panics;
mod reclaim;
mod registry;
mod shard;
mod slot;
mod sync;
mod table;
mod tag;
#[cfg(feature = "debug-backtrace")]
mod trace;

#[cfg(all(test, unix, not(any(handles_loom, miri))))]
mod fork_tests;
#[cfg(all(test, handles_loom))]
mod loom_models;
#[cfg(all(test, not(handles_loom)))]
mod tests;

pub use diag::{
    Diagnosis, EndReason, Failures, LeakReport, LiveEntry, ShardStats, at_exit_if_enabled,
    leak_report_enabled,
};
pub use error::{Error, InsertError};
pub use guard::Guard;
pub use handle::Handle;
pub use table::HandleTable;

impl TryFrom<u64> for Handle {
    type Error = Error;

    /// `Err(Error::Null)` for 0; every other value is checked when used.
    fn try_from(raw: u64) -> Result<Handle, Error> {
        Handle::from_raw(raw).ok_or(Error::Null)
    }
}

/// Number of shards in every table: the length of [`HandleTable::shard_stats`].
pub const SHARDS: usize = handle::SHARDS;

/// Counters describing one table, from [`HandleTable::stats`]. Per-shard figures come from
/// [`HandleTable::shard_stats`]; failed lookups by reason from [`thread_stats`] (they are
/// counted per thread, over all tables).
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
    /// Slots retired for good because their generation was exhausted.
    pub exhausted_slots: usize,
    /// Bytes the table occupies: the table itself plus its pages.
    pub bytes: usize,
}

/// Process-wide counters of the thread registry, from [`thread_stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadStats {
    /// Thread records ever allocated: the peak number of threads that used tables at once.
    pub records: usize,
    /// Records held by live threads right now.
    pub active: usize,
    /// Whether scoped lookups run fence-free (Linux `membarrier` available).
    pub asymmetric_barrier: bool,
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
/// let table = handles::HandleTable::new();
/// let h = table.insert(1);
/// std::thread::spawn(move || { table.with(h, |_| ()).unwrap(); }).join().unwrap();
/// let stats = handles::thread_stats();
/// assert!(stats.records >= 1);
/// ```
pub fn thread_stats() -> ThreadStats {
    let (records, active) = registry::counts();
    ThreadStats {
        records,
        active,
        asymmetric_barrier: barrier::is_asymmetric(),
        failures: diag::failures(),
    }
}
