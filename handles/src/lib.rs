#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
// Every public fallible or panicking function says how (checked by clippy in CI).
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

mod acquire;
mod barrier;
#[cfg(not(handles_loom))]
pub mod callback;
#[cfg(not(handles_loom))]
mod current;
mod diag;
mod error;
pub mod ffi;
mod global;
mod guard;
mod handle;
mod page;
mod panics;
mod reclaim;
#[cfg(not(handles_loom))]
mod reclaimer;
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

/// The lookup path's Acquire load of a pointer (RCpc on aarch64), for the C API's init guard.
#[doc(hidden)]
pub use acquire::load_ptr as acquire_load_ptr;

/// The address range of the calling thread's record (its inline hazard cells and failure
/// counters), registering the thread first; `None` during thread-local teardown. For the
/// store-tracing check (`scripts/store-trace.sh`), which shows that a lookup's only stores
/// outside its stack land here.
#[doc(hidden)]
pub fn thread_record_range() -> Option<core::ops::Range<usize>> {
    let record = global::local()?;
    let start = core::ptr::from_ref(record).addr();
    Some(start..start + core::mem::size_of::<registry::Record>())
}
pub use diag::{Diagnosis, LeakReport, LiveEntry};
#[doc(hidden)]
pub use diag::{at_exit_if_enabled, leak_report_enabled};
pub use error::{EndReason, Error, InsertError};
pub use guard::Guard;
pub use handle::Handle;
pub use stats::{Failures, ShardStats, Stats, ThreadStats, thread_stats};
pub use table::{HandleTable, ReclaimPolicy};

impl TryFrom<u64> for Handle {
    type Error = Error;

    /// `Err(Error::Null)` for 0; every other value is checked when used.
    fn try_from(raw: u64) -> Result<Handle, Error> {
        Handle::from_raw(raw).ok_or(Error::Null)
    }
}

/// Number of shards in every table: the length of [`HandleTable::shard_stats`]. Plumbing for
/// the C API crate (`hdl_shard_count`), hidden from the documentation and not part of the API:
/// the shard count is a property of the layout that may change.
#[doc(hidden)]
pub const SHARDS: usize = handle::SHARDS;
