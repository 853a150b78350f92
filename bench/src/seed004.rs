//! The Rust side of the seed-004 workload (`bench/seed004/seed004.c`): a library's own static
//! `HandleTable` of 32-byte values and the `extern "C"` entry points a C program calls. Each
//! task of the workload is one call of [`seed004_get_value`]: a scoped lookup through the
//! handle that copies the 32 bytes out. This is what a Rust library exposing its objects to C
//! would write: no registry, no type tags, just a static table.

use handles::{Handle, HandleTable};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The values C holds handles to.
static VALUES: HandleTable<[u8; 32]> = HandleTable::new();

/// Stores a copy of the 32 bytes at `value32` and returns its handle (0 on failure).
///
/// # Safety
/// `value32` must point to 32 readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn seed004_insert(value32: *const u8) -> u64 {
    if value32.is_null() {
        return 0;
    }
    // SAFETY: non-null, and the caller promises 32 readable bytes.
    let value = unsafe { value32.cast::<[u8; 32]>().read_unaligned() };
    catch_unwind(|| VALUES.try_insert(value).map_or(0, Handle::into_raw)).unwrap_or(0)
}

/// The per-task callback: copies the 32-byte value behind `handle` to `out32`. Returns 1 on
/// success, 0 for a null, stale or forged handle (then `out32` is untouched).
///
/// # Safety
/// `out32` must point to 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn seed004_get_value(handle: u64, out32: *mut u8) -> i32 {
    let Some(h) = Handle::from_raw(handle) else {
        return 0;
    };
    let copy = |v: &[u8; 32]| {
        // SAFETY: the caller promises 32 writable bytes at `out32`; `v` is a distinct
        // Rust-owned value, so the ranges do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), out32, 32) }
    };
    // No panic may cross `extern "C"`: the lookup does not panic, but stay on the safe side.
    match catch_unwind(AssertUnwindSafe(|| VALUES.with(h, copy))) {
        Ok(Ok(())) => 1,
        _ => 0,
    }
}

/// Revokes `handle`; returns 1 if it was live.
#[unsafe(no_mangle)]
pub extern "C" fn seed004_remove(handle: u64) -> i32 {
    let ok = Handle::from_raw(handle).is_some_and(|h| VALUES.revoke(h).is_ok());
    i32::from(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_value_copies_and_rejects_stale_handles() {
        let value: [u8; 32] = core::array::from_fn(|i| i as u8 * 3);
        // SAFETY: 32 readable bytes.
        let h = unsafe { seed004_insert(value.as_ptr()) };
        assert_ne!(h, 0);
        let mut out = [0u8; 32];
        // SAFETY: 32 writable bytes.
        assert_eq!(unsafe { seed004_get_value(h, out.as_mut_ptr()) }, 1);
        assert_eq!(out, value);
        assert_eq!(seed004_remove(h), 1);
        let mut after = [7u8; 32];
        // SAFETY: 32 writable bytes.
        assert_eq!(unsafe { seed004_get_value(h, after.as_mut_ptr()) }, 0);
        assert_eq!(after, [7u8; 32]);
        // SAFETY: 32 writable bytes (never written: 0 is not a handle).
        assert_eq!(unsafe { seed004_get_value(0, after.as_mut_ptr()) }, 0);
    }
}
