//! The exported `hdl_*` functions. Each one runs inside the C boundary (`boundary.rs`: no
//! panic crosses `extern "C"`), checks its arguments, and writes its outputs only on success.

use crate::boundary::{boundary, handle, out_ptr};
use crate::entry::{Entry, HdlDestructor, Kind};
use crate::registry::registry;
use crate::status::HdlStatus;
use core::ffi::{c_char, c_int, c_void};
use handles::{Handle, ReclaimPolicy};

/// Major version of the library these declarations come from.
pub const HDL_VERSION_MAJOR: u32 = 0;
/// Minor version of the library these declarations come from.
pub const HDL_VERSION_MINOR: u32 = 1;
/// Patch version of the library these declarations come from.
pub const HDL_VERSION_PATCH: u32 = 0;
/// `(MAJOR << 16) | (MINOR << 8) | PATCH`: compare with `hdl_version()` at run time.
pub const HDL_VERSION: u32 =
    (HDL_VERSION_MAJOR << 16) | (HDL_VERSION_MINOR << 8) | HDL_VERSION_PATCH;

/// Returns the version of the loaded library as `(major << 16) | (minor << 8) | patch`, the
/// encoding of `HDL_VERSION`.
///
/// Thread-safety: any thread. Errors: none.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_version() -> u32 {
    boundary(|| HDL_VERSION)
}

/// Returns the version of the loaded library as a static string, e.g. `"0.1.0"`.
///
/// Ownership: static; do not free. Thread-safety: any thread. Errors: none.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_version_string() -> *const c_char {
    boundary(|| concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
}

/// Inserts a C object and writes its new handle (never 0) to `*out_handle`. The entry starts
/// with one reference, owned by the caller.
///
/// Ownership: the registry takes charge of `object`: when the entry's last reference is released
/// (or it is revoked with none outstanding), `destructor(object)` runs exactly once, outside any
/// lock: inside that `hdl_release`/`hdl_revoke` when no other thread uses the library, else on
/// whichever thread runs the next reclamation pass (when a shard has 1,024 ended entries, or
/// `hdl_flush`). `destructor` may be NULL (nothing to run); it must
/// not unwind or `longjmp`, and it may call any `hdl_*` function. `hdl_take` gives the object
/// back without running the destructor. `type_tag` is yours to choose; 0 means untagged (only
/// `expected_tag == 0` matches it).
///
/// Thread-safety: any thread; the object may be used and destroyed from any thread.
///
/// Errors: `HDL_STATUS_NULL_POINTER` (`object` or `out_handle` is NULL), `HDL_STATUS_FULL` (no
/// slot left), `HDL_STATUS_PANIC`. On error the registry does not keep `object` and runs no
/// destructor.
///
/// # Safety
/// `out_handle` must be NULL or valid for writing a `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_insert(
    object: *mut c_void,
    type_tag: u32,
    destructor: HdlDestructor,
    out_handle: *mut u64,
) -> HdlStatus {
    boundary(|| {
        if object.is_null() {
            return Err(HdlStatus::NullPointer);
        }
        let out_handle = out_ptr!(out_handle).ok_or(HdlStatus::NullPointer)?;
        let h = match registry().try_insert(Entry::c(object, type_tag, destructor)) {
            Ok(h) => h,
            Err(e) => {
                // Hand the object back untouched: no destructor on failure.
                let error = e.error;
                e.into_inner().into_c_object();
                return Err(error.into());
            }
        };
        out_handle.write(h.into_raw());
        Ok(())
    })
}

/// Looks up a handle, adds one reference, and writes the object pointer to `*out_object`. The
/// pointer stays valid (the entry cannot end) until you release that reference with
/// `hdl_release`, even if the handle is revoked meanwhile.
///
/// `expected_tag` is the type tag you expect, or 0 to accept any. For a Rust object inserted
/// through the crate's typed API, the pointer is its `*const T`.
///
/// Ownership: the object stays owned by the registry; you own the new reference.
/// Thread-safety: any thread, concurrently with every other call on the same handle.
///
/// Errors: `HDL_STATUS_NULL_HANDLE`, `HDL_STATUS_NULL_POINTER` (`out_object` NULL),
/// `HDL_STATUS_INVALID`, `HDL_STATUS_STALE`, `HDL_STATUS_WRONG_TABLE`, `HDL_STATUS_WRONG_TYPE`
/// (tag mismatch; no reference is kept), `HDL_STATUS_BUSY` (racing `hdl_take`),
/// `HDL_STATUS_FULL` (reference count at its maximum, 2^23 - 1), `HDL_STATUS_PANIC`.
///
/// # Safety
/// `out_object` must be NULL or valid for writing a `void *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_lookup(
    handle: u64,
    expected_tag: u32,
    out_object: *mut *mut c_void,
) -> HdlStatus {
    boundary(|| {
        let h = self::handle(handle)?;
        let out_object = out_ptr!(out_object).ok_or(HdlStatus::NullPointer)?;
        let table = registry();
        let (object, tag) = table.retain_with(h, |e| (e.object, e.tag))?;
        if expected_tag != 0 && tag != expected_tag {
            // Give back the reference we took; if the entry was revoked and released meanwhile,
            // ours was the last and ends it, as the other release would have.
            table.release(h)?;
            return Err(HdlStatus::WrongType);
        }
        out_object.write(object);
        Ok(())
    })
}

/// Adds one reference to a live entry.
///
/// Ownership: you own the new reference; give it back with `hdl_release`.
/// Thread-safety: any thread.
///
/// Errors: `HDL_STATUS_NULL_HANDLE`, `HDL_STATUS_INVALID`, `HDL_STATUS_STALE` (ended or
/// revoked), `HDL_STATUS_WRONG_TABLE`, `HDL_STATUS_BUSY`, `HDL_STATUS_FULL`, `HDL_STATUS_PANIC`.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_retain(handle: u64) -> HdlStatus {
    boundary(|| Ok(registry().retain(self::handle(handle)?)?))
}

/// Drops one reference (from `hdl_insert`, `hdl_lookup` or `hdl_retain`). When it is the last,
/// the entry ends: the handle becomes stale and the destructor runs exactly once, at the next
/// reclamation pass of the entry's shard (see `hdl_insert`, `hdl_flush`). Works on revoked
/// entries, for references taken before the revoke.
///
/// Thread-safety: any thread. Releasing a reference you do not own is a logic error the
/// registry cannot detect while other references remain; it never corrupts memory.
///
/// Errors: `HDL_STATUS_NULL_HANDLE`, `HDL_STATUS_INVALID`, `HDL_STATUS_STALE` (no reference
/// left), `HDL_STATUS_WRONG_TABLE`, `HDL_STATUS_BUSY`, `HDL_STATUS_PANIC` (a Rust object's
/// `Drop` panicked during a reclamation pass this call ran; the release itself happened).
#[unsafe(no_mangle)]
pub extern "C" fn hdl_release(handle: u64) -> HdlStatus {
    boundary(|| {
        registry()
            .release(self::handle(handle)?)
            .map(drop)
            .map_err(Into::into)
    })
}

/// Revokes a handle (drops the owner's reference from `hdl_insert` and makes the handle stale
/// for new lookups and retains at once). References taken earlier stay valid and their
/// `hdl_release` still succeeds; the entry ends with the last of them (at once if none). Never
/// blocks or waits for other threads.
///
/// Thread-safety: any thread.
///
/// Errors: `HDL_STATUS_NULL_HANDLE`, `HDL_STATUS_INVALID`, `HDL_STATUS_STALE` (already revoked
/// or ended), `HDL_STATUS_WRONG_TABLE`, `HDL_STATUS_BUSY`, `HDL_STATUS_PANIC` (as for
/// `hdl_release`; the revoke itself happened).
#[unsafe(no_mangle)]
pub extern "C" fn hdl_revoke(handle: u64) -> HdlStatus {
    boundary(|| Ok(registry().revoke(self::handle(handle)?)?))
}

/// Removes a C object's entry and gives the object back in `*out_object` without running its
/// destructor, if nothing else references or borrows it (exactly one reference left).
///
/// Ownership: on success you own `object` again; the handle is stale.
/// Thread-safety: any thread.
///
/// Errors: `HDL_STATUS_NULL_HANDLE`, `HDL_STATUS_NULL_POINTER`, `HDL_STATUS_INVALID`,
/// `HDL_STATUS_STALE`, `HDL_STATUS_WRONG_TABLE`, `HDL_STATUS_WRONG_TYPE` (tag mismatch, or a
/// Rust object, which C cannot own), `HDL_STATUS_BUSY` (other references or borrows),
/// `HDL_STATUS_PANIC`. On error nothing changes.
///
/// # Safety
/// `out_object` must be NULL or valid for writing a `void *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_take(
    handle: u64,
    expected_tag: u32,
    out_object: *mut *mut c_void,
) -> HdlStatus {
    boundary(|| {
        let h = self::handle(handle)?;
        let out_object = out_ptr!(out_object).ok_or(HdlStatus::NullPointer)?;
        let table = registry();
        // Kind and tag never change for one handle value, so checking first is not racy.
        let takeable = table.with(h, |e| {
            matches!(e.kind, Kind::C(_)) && (expected_tag == 0 || e.tag == expected_tag)
        })?;
        if !takeable {
            return Err(HdlStatus::WrongType);
        }
        out_object.write(table.take(h)?.into_c_object());
        Ok(())
    })
}

/// Whether `handle` names a live (inserted, not revoked, not ended) entry of the registry.
/// False for 0, forged, stale and foreign handles.
///
/// Thread-safety: any thread; the answer may be outdated as soon as it returns.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_is_live(handle: u64) -> bool {
    boundary(|| Handle::from_raw(handle).is_some_and(|h| registry().contains(h)))
}

/// Number of live entries in the registry. Exact when no other thread is changing it.
///
/// Thread-safety: any thread. Errors: none.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_live_count() -> usize {
    boundary(|| registry().len())
}

/// Writes the type tag of a live entry to `*out_tag`.
///
/// Thread-safety: any thread.
///
/// Errors: `HDL_STATUS_NULL_HANDLE`, `HDL_STATUS_NULL_POINTER`, `HDL_STATUS_INVALID`,
/// `HDL_STATUS_STALE`, `HDL_STATUS_WRONG_TABLE`, `HDL_STATUS_BUSY`, `HDL_STATUS_PANIC`.
///
/// # Safety
/// `out_tag` must be NULL or valid for writing a `uint32_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_type_tag(handle: u64, out_tag: *mut u32) -> HdlStatus {
    boundary(|| {
        let h = self::handle(handle)?;
        let out_tag = out_ptr!(out_tag).ok_or(HdlStatus::NullPointer)?;
        out_tag.write(registry().with(h, |e| e.tag)?);
        Ok(())
    })
}

/// A handle as a `void *` (for `user_data` parameters). The pointer is never dereferenced; it
/// carries the 64 bits. 0 gives NULL. Thread-safety: any thread. Errors: none.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_to_ptr(handle: u64) -> *mut c_void {
    boundary(|| Handle::from_raw(handle).map_or(core::ptr::null_mut(), Handle::into_ptr))
}

/// The handle carried by a `void *` made by `hdl_to_ptr`. NULL gives 0. Any other pointer gives
/// a value that every function checks like a handle. Thread-safety: any thread. Errors: none.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_from_ptr(ptr: *const c_void) -> u64 {
    boundary(|| Handle::from_ptr(ptr).map_or(0, Handle::into_raw))
}

/// Runs a reclamation pass on every shard now: runs the destructor of every ended entry that
/// no scoped lookup is borrowing. If `out_pending` is not NULL, writes how many ended entries
/// are still waiting (borrowed by a concurrent Rust scoped lookup). Call it before checking
/// that destructors ran, and at shutdown: the registry is never destroyed, so entries still
/// ended-but-unreclaimed at exit never have their destructors run.
///
/// Thread-safety: any thread; destructors run on the calling thread, outside any lock. Returns
/// once passes other threads (the background reclaimer included) were running are done too, so
/// do not hold a lock that destructors take across `hdl_flush`.
///
/// Errors: `HDL_STATUS_PANIC` (a Rust object's `Drop` panicked; the rest of the pass
/// completed).
///
/// # Safety
/// `out_pending` must be NULL or valid for writing a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_flush(out_pending: *mut usize) -> HdlStatus {
    boundary(|| {
        let out_pending = out_ptr!(out_pending);
        let pending = registry().flush();
        if let Some(out_pending) = out_pending {
            out_pending.write(pending);
        }
        Ok(())
    })
}

/// Reclamation policy: destructors of entries that could not be destroyed inside the call that
/// ended them run in passes inside whichever `hdl_release`/`hdl_revoke` fills a shard's batch
/// (1,024 ended entries), and at `hdl_flush`.
pub const HDL_RECLAIM_CALLER: u32 = 0;
/// Reclamation policy (the default): a background thread of the library runs those
/// destructors a few milliseconds after their entries end, so no `hdl_*` call ever runs the
/// destructor of another entry (a caller may hold its own mutex across `hdl_release` even if
/// other entries' destructors take it). The thread starts on first need: never in a program
/// that uses the library from one thread only.
pub const HDL_RECLAIM_BACKGROUND: u32 = 1;
/// Reclamation policy: those destructors run only inside `hdl_flush`; no thread is started.
pub const HDL_RECLAIM_EXPLICIT: u32 = 2;

/// Sets the registry's reclamation policy: which thread runs the destructors of ended entries
/// that could not run inside the call that ended them (`HDL_RECLAIM_CALLER`,
/// `HDL_RECLAIM_BACKGROUND` or `HDL_RECLAIM_EXPLICIT`). In every policy, when no other thread
/// uses the library, the destructor runs inside the `hdl_release`/`hdl_revoke` that ended the
/// entry. The default is `HDL_RECLAIM_BACKGROUND`, or what the environment variable
/// `HANDLES_RECLAIM` (`caller`, `background`, `explicit`) says when the registry is first used.
/// Takes effect for entries that end afterwards.
///
/// Thread-safety: any thread. Errors: `HDL_STATUS_INVALID_ARGUMENT` (not a policy; nothing
/// changes).
#[unsafe(no_mangle)]
pub extern "C" fn hdl_set_reclaim_policy(policy: u32) -> HdlStatus {
    boundary(|| {
        let policy = match policy {
            HDL_RECLAIM_CALLER => ReclaimPolicy::Caller,
            HDL_RECLAIM_BACKGROUND => ReclaimPolicy::Background,
            HDL_RECLAIM_EXPLICIT => ReclaimPolicy::Explicit,
            _ => return Err(HdlStatus::InvalidArgument),
        };
        registry().set_reclaim_policy(policy);
        Ok(())
    })
}

/// The registry's reclamation policy (`HDL_RECLAIM_*`). Thread-safety: any thread. Errors:
/// none.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_reclaim_policy() -> u32 {
    boundary(|| match registry().reclaim_policy() {
        ReclaimPolicy::Background => HDL_RECLAIM_BACKGROUND,
        ReclaimPolicy::Explicit => HDL_RECLAIM_EXPLICIT,
        _ => HDL_RECLAIM_CALLER,
    })
}

/// The status `status` stands for, if it is one (C passes any integer).
fn status_of(status: c_int) -> Option<HdlStatus> {
    usize::try_from(status)
        .ok()
        .and_then(|i| HdlStatus::ALL.get(i))
        .copied()
}

/// Returns the name of a status as a static, NUL-terminated string (`"HDL_STATUS_STALE"`), or
/// `"HDL_STATUS_UNKNOWN"` for a value that is not a status.
///
/// Ownership: the string is static; do not free it. Thread-safety: any thread. Errors: none.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_status_name(status: c_int) -> *const c_char {
    boundary(|| {
        status_of(status)
            .map_or(c"HDL_STATUS_UNKNOWN", HdlStatus::name)
            .as_ptr()
    })
}

/// Returns a short human-readable description of a status as a static, NUL-terminated English
/// string (`"stale handle: its entry has ended (released, revoked or taken)"`), or
/// `"unknown status"` for a value that is not a status. For messages to people; programs
/// compare the status itself (the text may change between versions).
///
/// Ownership: the string is static; do not free it. Thread-safety: any thread. Errors: none.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_status_message(status: c_int) -> *const c_char {
    boundary(|| {
        status_of(status)
            .map_or(c"unknown status", HdlStatus::message)
            .as_ptr()
    })
}
