//! Diagnostics of the C registry: `hdl_stats`, `hdl_leak_report(_stderr)`, `hdl_diagnose` and
//! `hdl_diagnose_text`. Only reads the registry; the report at exit is registered with the
//! registry itself (`registry.rs`).

use crate::boundary::{boundary, out_ptr};
use crate::leak_report::{self, HdlLeakVisitor};
use crate::registry::registry;
use crate::status::HdlStatus;
use core::ffi::{c_char, c_void};
use handles::{EndReason, Error, Handle};

/// Counters of the registry, filled by `hdl_stats`.
///
/// The struct grows at its end, never changes a field's place, and is versioned by its first
/// field: the caller sets `size` to `sizeof(hdl_registry_stats)` as its header declares it, and
/// `hdl_stats` fills only the fields that lie inside both that size and the library's own
/// struct, then sets `size` to the number of bytes it wrote. A program built against an older
/// header gets the fields it knows; one built against a newer header than the library can tell
/// from `size` which fields were filled (zero the struct first, and the rest stay 0).
/// Per-shard figures: `hdl_shard_count` and `hdl_shard_stats`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct HdlRegistryStats {
    /// In: the size of the caller's struct, `sizeof(hdl_registry_stats)`. Out: the bytes
    /// `hdl_stats` wrote.
    pub size: usize,
    /// Live entries (inserted, not revoked, not ended).
    pub live: usize,
    /// Ended entries whose destructors await a reclamation pass (see `hdl_flush`).
    pub pending_drops: usize,
    /// Slots in allocated pages.
    pub slots: usize,
    /// Pages allocated, over all shards.
    pub pages: usize,
    /// Slots retired for good because their generation was exhausted.
    pub exhausted_slots: usize,
    /// Bytes the registry occupies (table and pages; not the objects).
    pub bytes: usize,
    /// Thread records allocated (the peak number of threads that used handles at once).
    pub thread_records: usize,
    /// Thread records held by live threads.
    pub threads_active: usize,
    /// Failed handle checks, process-wide (every handle table, every thread): never issued.
    pub failed_invalid: u64,
    /// Failed handle checks: handle of another table.
    pub failed_wrong_table: u64,
    /// Failed handle checks: raced with `hdl_take`.
    pub failed_busy: u64,
    /// Failed handle checks: stale, the entry was released to zero.
    pub failed_stale_released: u64,
    /// Failed handle checks: stale, the entry was revoked.
    pub failed_stale_revoked: u64,
    /// Failed handle checks: stale, the entry was taken.
    pub failed_stale_taken: u64,
    /// Failed handle checks: stale, the slot had been reused (reason no longer known).
    pub failed_stale_unknown: u64,
    /// Heavy barriers (`membarrier` calls) the process has issued, for every handle table:
    /// reclamation passes, takes and flushes that overlap share one. 0 where lookups need a
    /// fence of their own instead (no `membarrier`).
    pub heavy_barriers: u64,
    /// Panics of Rust objects' `Drop`s in reclamation passes nobody asked for (on the
    /// background reclaimer, or inside another caller's call), reported on stderr instead of
    /// returned to that caller as `HDL_STATUS_PANIC`; every handle table of the process.
    pub drop_panics: u64,
}

/// The smallest `size` `hdl_stats` accepts: the struct of the first version of this header
/// (through `drop_panics`). Later versions add fields after it and keep this value.
const STATS_MIN_SIZE: usize = size_of::<HdlRegistryStats>();

/// Fills the caller's `hdl_registry_stats` with the registry's counters. The caller sets
/// `out->size` to `sizeof(hdl_registry_stats)` first; `hdl_stats` writes the fields that fit in
/// both that size and its own struct and sets `out->size` to the bytes written (see the
/// struct).
///
/// ```c
/// hdl_registry_stats s = { .size = sizeof s };
/// if (hdl_stats(&s) == HDL_STATUS_OK) printf("%zu live\n", s.live);
/// ```
///
/// Failed handle checks are counted per thread, on the failure path only (successful calls
/// pay nothing for them), and summed over all threads and all handle tables of the process,
/// Rust tables included. The figures are a snapshot; exact when no other thread is changing
/// the registry.
///
/// Thread-safety: any thread. Errors: `HDL_STATUS_NULL_POINTER` (`out` is NULL),
/// `HDL_STATUS_INVALID_ARGUMENT` (`out->size` is smaller than this version's struct: the
/// caller did not set it; nothing else is written), `HDL_STATUS_PANIC`.
///
/// # Safety
/// `out` must be NULL or point to a `size_t` (its `size` field) that is valid for reading, and
/// to memory valid for writing `out->size` bytes (at most `sizeof(hdl_registry_stats)` of them
/// are written).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_stats(out: *mut HdlRegistryStats) -> HdlStatus {
    boundary(|| {
        if out.is_null() {
            return Err(HdlStatus::NullPointer);
        }
        // SAFETY: `out` is not NULL, and the caller promises its `size` field is readable (an
        // aligned `size_t` at its start, as in every version of the struct).
        let size = unsafe { out.cast::<usize>().read() };
        if size < STATS_MIN_SIZE {
            return Err(HdlStatus::InvalidArgument);
        }
        let table = registry();
        let s = table.stats();
        let t = handles::thread_stats();
        let f = t.failures;
        let written = size.min(size_of::<HdlRegistryStats>());
        let stats = HdlRegistryStats {
            size: written,
            live: s.live,
            pending_drops: s.pending_drops,
            slots: s.slots,
            pages: s.pages,
            exhausted_slots: s.exhausted_slots,
            bytes: s.bytes,
            thread_records: t.records,
            threads_active: t.active,
            failed_invalid: f.invalid,
            failed_wrong_table: f.wrong_table,
            failed_busy: f.busy,
            failed_stale_released: f.stale_released,
            failed_stale_revoked: f.stale_revoked,
            failed_stale_taken: f.stale_taken,
            failed_stale_unknown: f.stale_unknown,
            heavy_barriers: t.heavy_barriers,
            drop_panics: t.drop_panics,
        };
        // SAFETY: the caller promises `out` is writable for `size` bytes, and `written <= size`;
        // `stats` is a local, so the two cannot overlap. `written` is whole fields: today it
        // is the whole struct (`size >= STATS_MIN_SIZE == size_of`).
        unsafe {
            core::ptr::copy_nonoverlapping(
                (&raw const stats).cast::<u8>(),
                out.cast::<u8>(),
                written,
            );
        }
        Ok(())
    })
}

/// The number of shards of the registry: the shard indices `hdl_shard_stats` accepts are
/// `0 .. hdl_shard_count()`. Thread-safety: any thread. Errors: none.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_shard_count() -> usize {
    boundary(|| handles::SHARDS)
}

/// Writes the live entries and the allocated slots of one shard of the registry (`shard` below
/// `hdl_shard_count()`), for a picture of how entries spread over shards. Summed over all
/// shards they give `hdl_registry_stats`'s `live` and `slots` (when no other thread changes
/// the registry meanwhile).
///
/// Thread-safety: any thread. Errors: `HDL_STATUS_INVALID_ARGUMENT` (no such shard),
/// `HDL_STATUS_NULL_POINTER` (an out-pointer is NULL), `HDL_STATUS_PANIC`.
///
/// # Safety
/// `out_live` and `out_slots` must each be NULL or valid for writing a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_shard_stats(
    shard: usize,
    out_live: *mut usize,
    out_slots: *mut usize,
) -> HdlStatus {
    boundary(|| {
        let out_live = out_ptr!(out_live).ok_or(HdlStatus::NullPointer)?;
        let out_slots = out_ptr!(out_slots).ok_or(HdlStatus::NullPointer)?;
        let stats = registry().shard_stats();
        let s = stats.get(shard).ok_or(HdlStatus::InvalidArgument)?;
        out_live.write(s.live);
        out_slots.write(s.slots);
        Ok(())
    })
}

/// Calls `visitor(entry, ctx)` for every live entry of the registry, and every revoked entry
/// that references still keep alive: what a program that ends now leaks. If `out_count` is
/// not NULL, writes the number of entries visited.
///
/// The visitor runs on the calling thread with the entry's object kept alive for the call (as
/// in a scoped lookup; no lock is held), and may call any `hdl_*` function; it must not unwind
/// or `longjmp`. Entries inserted or ended meanwhile may or may not be visited.
///
/// Thread-safety: any thread. Errors: `HDL_STATUS_NULL_POINTER` (`visitor` is NULL),
/// `HDL_STATUS_PANIC`.
///
/// # Safety
/// `visitor` must be NULL or a function safe to call with the entry and `ctx`; `out_count`
/// must be NULL or valid for writing a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_leak_report(
    visitor: HdlLeakVisitor,
    ctx: *mut c_void,
    out_count: *mut usize,
) -> HdlStatus {
    boundary(|| {
        let Some(visitor) = visitor else {
            return Err(HdlStatus::NullPointer);
        };
        let out_count = out_ptr!(out_count);
        let mut count = 0;
        leak_report::visit(registry(), |entry| {
            count += 1;
            // SAFETY: the caller promises `visitor` may be called with an entry and `ctx`;
            // `entry` and its strings live for the call.
            unsafe { visitor(entry, ctx) };
        });
        if let Some(out_count) = out_count {
            out_count.write(count);
        }
        Ok(())
    })
}

/// Prints the registry's leak report (every live entry with its handle, type tag, reference
/// count, kind, and with `debug-backtrace` its insert backtrace) to stderr. If `out_count` is
/// not NULL, writes the number of entries listed. This is what the library prints at exit when
/// the environment variable `HANDLES_LEAK_REPORT` is `1` (and only if entries are left then).
///
/// Thread-safety: any thread. Errors: `HDL_STATUS_PANIC`.
///
/// # Safety
/// `out_count` must be NULL or valid for writing a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_leak_report_stderr(out_count: *mut usize) -> HdlStatus {
    boundary(|| {
        let out_count = out_ptr!(out_count);
        let (text, count) = leak_report::text(registry());
        leak_report::eprint(&text);
        if let Some(out_count) = out_count {
            out_count.write(count);
        }
        Ok(())
    })
}

/// How a stale handle's entry ended, in `hdl_diagnosis`. In C a `uint32_t` (in C++, an enum
/// whose underlying type is `uint32_t`), with the `HDL_END_REASON_*` enumerators as values.
// Like `HdlStatus`: Rust writes it into C memory and never reads one from C.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HdlEndReason {
    /// The handle is not stale (live, invalid, foreign, busy or 0).
    None = 0,
    /// Stale, but its slot has been reused since, so how it ended is no longer known.
    Unknown = 1,
    /// Its last reference was released (`hdl_release` to zero).
    Released = 2,
    /// It was revoked (`hdl_revoke`), possibly ending later at its last release.
    Revoked = 3,
    /// Its object was taken back with `hdl_take`.
    Taken = 4,
}

/// What the registry knows about a handle, filled by `hdl_diagnose`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct HdlDiagnosis {
    /// What `hdl_retain` would return now: `HDL_STATUS_OK` for a live handle, else
    /// `HDL_STATUS_NULL_HANDLE`, `HDL_STATUS_INVALID`, `HDL_STATUS_STALE`,
    /// `HDL_STATUS_WRONG_TABLE` or `HDL_STATUS_BUSY`.
    pub status: HdlStatus,
    /// For `HDL_STATUS_STALE`: how the entry ended; `HDL_END_REASON_NONE` otherwise.
    pub end: HdlEndReason,
    /// Counted references outstanding (live entries, and revoked ones references keep alive).
    pub refs: u32,
    /// The type tag of a live entry; 0 otherwise.
    pub type_tag: u32,
}

const _: () = assert!(size_of::<HdlEndReason>() == 4 && align_of::<HdlEndReason>() == 4);

fn end_reason(e: Option<EndReason>) -> HdlEndReason {
    match e {
        Some(EndReason::Released) => HdlEndReason::Released,
        Some(EndReason::Revoked) => HdlEndReason::Revoked,
        Some(EndReason::Taken) => HdlEndReason::Taken,
        // `EndReason` is non-exhaustive; a future reason is still an ended entry.
        _ => HdlEndReason::Unknown,
    }
}

/// Explains a handle: live (with its reference count and type tag) or why calls on it fail,
/// and for a stale handle whether its entry was released, revoked or taken. Writes `*out`.
///
/// The end is known from the moment the entry is revoked or ends until its slot is reused by a
/// newer entry (freed slots are reused soon on a busy registry); after that `end` is
/// `HDL_END_REASON_UNKNOWN`. Diagnosing changes nothing and is not counted as a failure.
///
/// Thread-safety: any thread; the answer may be outdated as soon as it returns.
/// Errors: `HDL_STATUS_NULL_POINTER` (`out` is NULL), `HDL_STATUS_PANIC`. Every handle value,
/// 0 included, is diagnosed with `HDL_STATUS_OK`.
///
/// # Safety
/// `out` must be NULL or valid for writing an `hdl_diagnosis`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_diagnose(handle: u64, out: *mut HdlDiagnosis) -> HdlStatus {
    boundary(|| {
        let out = out_ptr!(out).ok_or(HdlStatus::NullPointer)?;
        let diagnosis = match Handle::from_raw(handle) {
            None => HdlDiagnosis {
                status: HdlStatus::NullHandle,
                end: HdlEndReason::None,
                refs: 0,
                type_tag: 0,
            },
            Some(h) => {
                let table = registry();
                let d = table.diagnose(h);
                HdlDiagnosis {
                    status: d.error.map_or(HdlStatus::Ok, HdlStatus::from),
                    end: match d.error {
                        Some(Error::Stale) => end_reason(d.ended),
                        _ => HdlEndReason::None,
                    },
                    refs: d.refs,
                    type_tag: if d.error.is_none() {
                        table.with(h, |e| e.tag).unwrap_or(0)
                    } else {
                        0
                    },
                }
            }
        };
        out.write(diagnosis);
        Ok(())
    })
}

/// Writes a one-line (with `debug-backtrace`: multi-line, with the backtraces of the insert
/// and of the revoke, last release or take) human-readable diagnosis of `handle` into `buf`,
/// like `snprintf`: at most `len - 1` bytes and a NUL when `len > 0`. Returns the length of
/// the whole message (without the NUL), so a return value `>= len` means it was truncated.
/// `buf` may be NULL when `len` is 0.
///
/// Example: `handle 0x0000004001000000: stale: revoked`.
///
/// Thread-safety: any thread. Errors: none (returns 0 if a panic was caught).
///
/// # Safety
/// `buf` must be valid for writing `len` bytes (or NULL, then `len` is treated as 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_diagnose_text(handle: u64, buf: *mut c_char, len: usize) -> usize {
    boundary(|| {
        let text = match Handle::from_raw(handle) {
            None => format!("handle {handle:#018x}: null handle"),
            Some(h) => registry().diagnose(h).to_string(),
        };
        let bytes = text.as_bytes();
        if !buf.is_null() && len > 0 {
            let n = bytes.len().min(len - 1);
            // SAFETY: the caller promises `buf` is writable for `len` bytes; `n + 1 <= len`,
            // and `bytes` cannot overlap a buffer we just allocated the text for.
            unsafe {
                core::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
                buf.add(n).write(0);
            }
        }
        bytes.len()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdl_insert;

    fn text(handle: u64) -> String {
        // SAFETY: NULL with length 0 is allowed.
        let n = unsafe { hdl_diagnose_text(handle, core::ptr::null_mut(), 0) };
        let mut buf = vec![0u8; n + 1];
        // SAFETY: `buf` is writable for its length.
        let m = unsafe { hdl_diagnose_text(handle, buf.as_mut_ptr().cast(), buf.len()) };
        assert_eq!(m, n);
        assert_eq!(buf[n], 0);
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[inline(never)]
    fn insert_here(object: &mut u8) -> u64 {
        let mut h = 0;
        // SAFETY: valid object and out-pointer; no destructor.
        let status = unsafe { hdl_insert((object as *mut u8).cast(), 5, None, &mut h) };
        assert_eq!(status, HdlStatus::Ok);
        h
    }

    #[test]
    fn diagnose_text_and_struct() {
        let mut object = 0u8;
        let h = insert_here(&mut object);
        let mut d = HdlDiagnosis {
            status: HdlStatus::Panic,
            end: HdlEndReason::Unknown,
            refs: 9,
            type_tag: 9,
        };
        // SAFETY: `d` is writable.
        assert_eq!(unsafe { hdl_diagnose(h, &mut d) }, HdlStatus::Ok);
        assert_eq!(
            (d.status, d.end, d.refs, d.type_tag),
            (HdlStatus::Ok, HdlEndReason::None, 1, 5)
        );
        assert!(text(h).contains("live, 1 reference(s)"));
        assert_eq!(crate::hdl_revoke(h), HdlStatus::Ok);
        // SAFETY: as above.
        assert_eq!(unsafe { hdl_diagnose(h, &mut d) }, HdlStatus::Ok);
        assert_eq!(
            (d.status, d.end, d.refs, d.type_tag),
            (HdlStatus::Stale, HdlEndReason::Revoked, 0, 0)
        );
        let t = text(h);
        assert!(t.contains("stale: revoked"), "{t}");
        #[cfg(feature = "debug-backtrace")]
        assert!(
            t.contains("inserted at:") && t.contains("insert_here") && t.contains("revoked at:"),
            "{t}"
        );
        assert_eq!(text(0), "handle 0x0000000000000000: null handle");
    }
}
