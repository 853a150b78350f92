//! Rust objects in the C registry, so that C's generic `hdl_retain` / `hdl_release` /
//! `hdl_revoke` / `hdl_lookup` work on them.

use crate::entry::Entry;
use crate::registry::registry;
use crate::status::HdlStatus;
use handles::Handle;

/// Puts a Rust object into the process-wide C registry with a type tag (0 = untagged) and
/// returns its handle, with one reference (the caller's). C code can then use every `hdl_*`
/// function on it; `hdl_lookup` yields a `*const T`. The value is boxed (one allocation) and
/// dropped, exactly once, when its entry ends and the next reclamation pass runs
/// ([`flush`] forces one).
///
/// # Errors
/// [`HdlStatus::Full`] when no slot is left (the value is dropped).
///
/// ```
/// let h = hdl::insert(7, String::from("gear")).unwrap();
/// assert_eq!(hdl::with(h, |s: &String| s.len()), Ok(4));
/// assert_eq!(hdl::with(h, |n: &u32| *n), Err(hdl::HdlStatus::WrongType));
/// assert_eq!(hdl::hdl_retain(h.into_raw()), hdl::HdlStatus::Ok); // the generic C functions
/// assert_eq!(hdl::hdl_release(h.into_raw()), hdl::HdlStatus::Ok);
/// assert_eq!(hdl::hdl_revoke(h.into_raw()), hdl::HdlStatus::Ok);
/// hdl::flush();
/// ```
pub fn insert<T: Send + Sync + 'static>(type_tag: u32, value: T) -> Result<Handle, HdlStatus> {
    registry()
        .try_insert(Entry::rust(type_tag, value))
        .map_err(|e| e.error.into())
}

/// Like [`insert`], but gives the value back on failure instead of dropping it.
pub(crate) fn try_insert<T: Send + Sync + 'static>(
    type_tag: u32,
    value: T,
) -> Result<Handle, (T, HdlStatus)> {
    registry()
        .try_insert(Entry::rust(type_tag, value))
        .map_err(|e| {
            let error = e.error.into();
            match e.into_inner().into_rust::<T>() {
                Some(value) => (value, error),
                None => unreachable!("the registry gave back another entry"),
            }
        })
}

/// A scoped lookup with a type check: runs `f` on the `T` behind `handle`. Like
/// `HandleTable::with`, it writes no shared memory and takes no reference; a concurrent revoke
/// is deferred until `f` returns.
///
/// # Errors
/// [`HdlStatus::WrongType`] if the entry is a C object or another Rust type (`f` is not
/// called), and the handle errors (`Invalid`, `Stale`, `WrongTable`, ...).
///
/// ```
/// let h = hdl::insert(0, 41u64).unwrap();
/// assert_eq!(hdl::with(h, |n: &u64| n + 1), Ok(42));
/// assert_eq!(hdl::with(h, |s: &String| s.len()), Err(hdl::HdlStatus::WrongType));
/// assert_eq!(hdl::hdl_revoke(h.into_raw()), hdl::HdlStatus::Ok);
/// assert_eq!(hdl::with(h, |n: &u64| *n), Err(hdl::HdlStatus::Stale));
/// ```
pub fn with<T: 'static, R>(handle: Handle, f: impl FnOnce(&T) -> R) -> Result<R, HdlStatus> {
    registry()
        .with(handle, |e| e.downcast::<T>().map(f))?
        .ok_or(HdlStatus::WrongType)
}

/// Runs a reclamation pass over the whole registry (see `hdl_flush`); returns how many ended
/// entries are still borrowed.
///
/// # Panics
/// If a value's `Drop` panics (the first panic propagates once the pass is complete).
pub fn flush() -> usize {
    registry().flush()
}
