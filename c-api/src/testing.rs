//! Extra entry points for the C tests and the call-cost bench (feature `testing`; not part of
//! the header or of the API).

use crate::status::HdlStatus;
use handles::{Handle, HandleTable};
use std::sync::atomic::{AtomicU64, Ordering};

static DROPS: AtomicU64 = AtomicU64::new(0);

/// A Rust object for the registry tests.
pub struct TestObject {
    /// Its payload.
    pub value: u64,
    panic_on_drop: bool,
}

impl Drop for TestObject {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
        if self.panic_on_drop {
            panic!("TestObject {} panics on drop (on purpose)", self.value);
        }
    }
}

/// Inserts a Rust `TestObject` through the typed API (UC1).
///
/// # Safety
/// `out_handle` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_testing_insert_rust(
    type_tag: u32,
    value: u64,
    panic_on_drop: bool,
    out_handle: *mut u64,
) -> HdlStatus {
    if out_handle.is_null() {
        return HdlStatus::NullPointer;
    }
    match crate::insert(
        type_tag,
        TestObject {
            value,
            panic_on_drop,
        },
    ) {
        Ok(h) => {
            // SAFETY: checked non-null; the caller promises it is writable.
            unsafe { out_handle.write(h.into_raw()) };
            HdlStatus::Ok
        }
        Err(e) => e,
    }
}

/// Typed scoped lookup of a `TestObject`; `as_string` asks for the wrong Rust type.
///
/// # Safety
/// `out_value` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_testing_rust_value(
    handle: u64,
    as_string: bool,
    out_value: *mut u64,
) -> HdlStatus {
    let Some(h) = Handle::from_raw(handle) else {
        return HdlStatus::NullHandle;
    };
    let r = if as_string {
        crate::with(h, |s: &String| s.len() as u64)
    } else {
        crate::with(h, |o: &TestObject| o.value)
    };
    match r {
        Ok(v) => {
            // SAFETY: the caller promises it is writable.
            unsafe { out_value.write(v) };
            HdlStatus::Ok
        }
        Err(e) => e,
    }
}

/// How many `TestObject`s have been dropped.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_testing_rust_drops() -> u64 {
    DROPS.load(Ordering::SeqCst)
}

// ---- call-cost bench: a UC1 library's own static table, no registry --------------------------

static BENCH: HandleTable<u64> = HandleTable::new();

/// An empty C→Rust call (the baseline).
#[unsafe(no_mangle)]
pub extern "C" fn hdl_testing_empty(handle: u64) -> u64 {
    handle
}

/// Inserts into a static `HandleTable<u64>` (a handle of another table than the registry).
#[unsafe(no_mangle)]
pub extern "C" fn hdl_testing_static_insert(value: u64) -> u64 {
    BENCH.insert(value).into_raw()
}

/// A C→Rust entry doing a scoped lookup in a static table; 0 for a bad handle.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_testing_static_get(handle: u64) -> u64 {
    let Some(h) = Handle::from_raw(handle) else {
        return 0;
    };
    BENCH.with(h, |v| *v).unwrap_or(0)
}

/// Revokes a static-table handle.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_testing_static_remove(handle: u64) -> bool {
    Handle::from_raw(handle).is_some_and(|h| BENCH.remove(h).is_ok())
}
