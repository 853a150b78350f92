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
mod global;
mod guard;
mod handle;
mod page;
mod panics;
mod reclaim;
mod registry;
mod shard;
mod slot;
mod stats;
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

pub use diag::{Diagnosis, LeakReport, LiveEntry};
#[doc(hidden)]
pub use diag::{at_exit_if_enabled, leak_report_enabled};
pub use error::{EndReason, Error, InsertError};
pub use guard::Guard;
pub use handle::Handle;
pub use stats::{Failures, ShardStats, Stats, ThreadStats, thread_stats};
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
