//! A Rust library exposing widgets to C through handles, written with
//! [`handles::entry_points!`] and [`handles::ffi`]: no `unsafe`, every entry point catches
//! panics, and statuses are `hdl_status` values (`u32`). `scripts/c-tests.sh` generates
//! `widgets_ffi.h` from it with cbindgen and runs `tests/c/test_widgets_ffi.c` against it.

use handles::{HandleTable, ffi};

/// A Rust object that C holds by handle.
pub struct Widget {
    size: u32,
}

static WIDGETS: HandleTable<Widget> = HandleTable::new();

handles::entry_points! {
    table: WIDGETS, status: u32;
    /// A new widget of `size`: its handle, or 0 if the table is full.
    new widget_new(size: u32) = Widget { size };
    /// A new widget of `size`, its handle written to `*out_handle`. Returns a status.
    new_into widget_create(size: u32) = Widget { size };
    /// Revokes the handle; the widget is dropped once nothing references it.
    revoke widget_free;
    /// One more counted reference, for `widget_release`.
    retain widget_retain;
    /// One reference less; the last one ends the widget.
    release widget_release;
}

/// Writes the widget's size to `*out`. Returns a status (`HDL_STATUS_NULL_POINTER` for a NULL
/// `out`, which is then not written; likewise on every other error).
#[unsafe(no_mangle)]
pub extern "C" fn widget_size(widget: u64, out: Option<&mut u32>) -> u32 {
    ffi::lookup_into(&WIDGETS, widget, out, |w| {
        assert!(w.size != 666, "widget_size panics for size 666, on purpose");
        w.size
    })
}

/// The number of live widgets.
#[unsafe(no_mangle)]
pub extern "C" fn widget_count() -> usize {
    ffi::call_or(0, || WIDGETS.len())
}
