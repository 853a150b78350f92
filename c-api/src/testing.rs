//! Extra entry points for the C tests and the call-cost bench (feature `testing`; not part of
//! the header or of the API).

use crate::boundary::{boundary, handle, out_ptr};
use crate::status::HdlStatus;
use crate::{
    HdlCallbackFn, HdlDestructor, HdlDiagnosis, HdlEndReason, HdlLeakEntry, HdlLeakVisitor,
    HdlRegistryStats,
};
use core::ffi::{CStr, c_char};
use core::mem::offset_of;
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

/// Inserts a Rust `TestObject` through the typed API, as a Rust library would.
///
/// # Safety
/// `out_handle` must be NULL or valid for writing a `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_testing_insert_rust(
    type_tag: u32,
    value: u64,
    panic_on_drop: bool,
    out_handle: *mut u64,
) -> HdlStatus {
    boundary(|| {
        let out_handle = out_ptr!(out_handle).ok_or(HdlStatus::NullPointer)?;
        let object = TestObject {
            value,
            panic_on_drop,
        };
        out_handle.write(crate::insert(type_tag, object)?.into_raw());
        Ok(())
    })
}

/// Typed scoped lookup of a `TestObject`; `as_string` asks for the wrong Rust type.
///
/// # Safety
/// `out_value` must be NULL or valid for writing a `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_testing_rust_value(
    handle: u64,
    as_string: bool,
    out_value: *mut u64,
) -> HdlStatus {
    boundary(|| {
        let h = self::handle(handle)?;
        let value = if as_string {
            crate::with(h, |s: &String| s.len() as u64)
        } else {
            crate::with(h, |o: &TestObject| o.value)
        }?;
        out_ptr!(out_value)
            .ok_or(HdlStatus::NullPointer)?
            .write(value);
        Ok(())
    })
}

/// How many `TestObject`s have been dropped.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_testing_rust_drops() -> u64 {
    boundary(|| DROPS.load(Ordering::SeqCst))
}

// ---- call-cost bench: a Rust library's own static table, no registry -------------------------

static BENCH: HandleTable<u64> = HandleTable::new();

/// An empty C→Rust call (the baseline).
#[unsafe(no_mangle)]
pub extern "C" fn hdl_testing_empty(handle: u64) -> u64 {
    boundary(|| handle)
}

/// Inserts into a static `HandleTable<u64>` (a handle of another table than the registry).
#[unsafe(no_mangle)]
pub extern "C" fn hdl_testing_static_insert(value: u64) -> u64 {
    boundary(|| BENCH.insert(value).into_raw())
}

/// A C→Rust entry doing a scoped lookup in a static table; 0 for a bad handle.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_testing_static_get(handle: u64) -> u64 {
    boundary(|| handles::ffi::with(&BENCH, handle, |v| *v).unwrap_or(0))
}

/// Revokes a static-table handle.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_testing_static_remove(handle: u64) -> bool {
    boundary(|| Handle::from_raw(handle).is_some_and(|h| BENCH.revoke(h).is_ok()))
}

// ---- layout of the header's types as Rust sees it (tests/c/test_layout.c) -------------------

/// One type of the header: its C name, size, alignment and fields (name, offset, size).
struct Layout {
    name: &'static str,
    size: usize,
    align: usize,
    fields: Vec<(&'static str, usize, usize)>,
}

/// The size of the field that `field` picks out.
fn field_size<T, F>(_field: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

macro_rules! layout {
    // A struct: every field must be listed (the pattern below has no `..`).
    ($c_name:literal, struct $t:ident { $($field:ident),* $(,)? }) => {{
        let _every_field = |v: $t| {
            let $t { $($field: _),* } = v;
        };
        Layout {
            name: $c_name,
            size: size_of::<$t>(),
            align: align_of::<$t>(),
            fields: vec![$((
                stringify!($field),
                offset_of!($t, $field),
                field_size(|v: &$t| &v.$field),
            )),*],
        }
    }};
    ($c_name:literal, $t:ty) => {
        Layout {
            name: $c_name,
            size: size_of::<$t>(),
            align: align_of::<$t>(),
            fields: Vec::new(),
        }
    };
}

/// Every type of `include/hdl.h`, under its C name.
fn layouts() -> [Layout; 8] {
    [
        layout!("hdl_status", HdlStatus),
        layout!("hdl_end_reason", HdlEndReason),
        layout!("hdl_callback_fn", HdlCallbackFn),
        layout!("hdl_destructor", HdlDestructor),
        layout!("hdl_leak_visitor", HdlLeakVisitor),
        layout!(
            "hdl_registry_stats",
            struct HdlRegistryStats {
                size,
                live,
                pending_drops,
                slots,
                pages,
                exhausted_slots,
                bytes,
                thread_records,
                threads_active,
                failed_invalid,
                failed_wrong_table,
                failed_busy,
                failed_stale_released,
                failed_stale_revoked,
                failed_stale_taken,
                failed_stale_unknown,
                heavy_barriers,
                drop_panics,
            }
        ),
        layout!(
            "hdl_leak_entry",
            struct HdlLeakEntry {
                handle,
                type_tag,
                refs,
                revoked,
                object,
                rust_type,
                created_at,
            }
        ),
        layout!(
            "hdl_diagnosis",
            struct HdlDiagnosis {
                status,
                end,
                refs,
                type_tag,
            }
        ),
    ]
}

/// The layout of the header type named `type_name`, if Rust knows it.
///
/// # Safety
/// `type_name` must be NULL or a NUL-terminated string.
unsafe fn find(type_name: *const c_char) -> Option<Layout> {
    if type_name.is_null() {
        return None;
    }
    // SAFETY: non-null, and NUL-terminated by the caller's promise.
    let name = unsafe { CStr::from_ptr(type_name) }.to_bytes();
    layouts().into_iter().find(|l| l.name.as_bytes() == name)
}

/// Offset and size of the field `field` of the header struct `type_name`, if Rust knows it.
///
/// # Safety
/// `type_name` and `field` must be NULL or NUL-terminated strings.
unsafe fn find_field(type_name: *const c_char, field: *const c_char) -> Option<(usize, usize)> {
    if field.is_null() {
        return None;
    }
    // SAFETY: non-null, and NUL-terminated by the caller's promise.
    let field = unsafe { CStr::from_ptr(field) }.to_bytes();
    // SAFETY: the caller's promise.
    let layout = unsafe { find(type_name) }?;
    layout
        .fields
        .into_iter()
        .find(|(name, ..)| name.as_bytes() == field)
        .map(|(_, offset, size)| (offset, size))
}

/// `sizeof` of a header type (by its C name) as Rust lays it out; `SIZE_MAX` if unknown.
///
/// # Safety
/// `type_name` must be NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_testing_sizeof(type_name: *const c_char) -> usize {
    // SAFETY: our caller's promise.
    boundary(|| unsafe { find(type_name) }.map_or(usize::MAX, |l| l.size))
}

/// Alignment of a header type as Rust lays it out; `SIZE_MAX` if unknown.
///
/// # Safety
/// `type_name` must be NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_testing_alignof(type_name: *const c_char) -> usize {
    // SAFETY: our caller's promise.
    boundary(|| unsafe { find(type_name) }.map_or(usize::MAX, |l| l.align))
}

/// Number of fields of a header struct in Rust (0 for a type that is not a struct); `SIZE_MAX`
/// if unknown.
///
/// # Safety
/// `type_name` must be NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_testing_field_count(type_name: *const c_char) -> usize {
    // SAFETY: our caller's promise.
    boundary(|| unsafe { find(type_name) }.map_or(usize::MAX, |l| l.fields.len()))
}

/// `offsetof` of a field of a header struct in Rust; `SIZE_MAX` if either name is unknown.
///
/// # Safety
/// `type_name` and `field` must be NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_testing_offsetof(
    type_name: *const c_char,
    field: *const c_char,
) -> usize {
    // SAFETY: our caller's promise.
    boundary(|| unsafe { find_field(type_name, field) }.map_or(usize::MAX, |(offset, _)| offset))
}

/// `sizeof` of a field of a header struct in Rust; `SIZE_MAX` if either name is unknown.
///
/// # Safety
/// `type_name` and `field` must be NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_testing_field_sizeof(
    type_name: *const c_char,
    field: *const c_char,
) -> usize {
    // SAFETY: our caller's promise.
    boundary(|| unsafe { find_field(type_name, field) }.map_or(usize::MAX, |(_, size)| size))
}
