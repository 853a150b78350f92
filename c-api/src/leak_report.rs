//! Leak reports of a table of registry entries: the C view of each live entry
//! (`hdl_leak_entry`) and the text that `hdl_leak_report_stderr` and the report at exit print.
//! Works on any `HandleTable<Entry>` it is given; it does not reach the registry itself.

use crate::entry::{Entry, Kind};
use core::ffi::{c_char, c_void};
use handles::{HandleTable, LiveEntry};
use std::ffi::CString;

/// One entry of a leak report, passed to an `hdl_leak_visitor`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct HdlLeakEntry {
    /// The entry's handle.
    pub handle: u64,
    /// Its type tag.
    pub type_tag: u32,
    /// Counted references outstanding (the owner's included while not revoked).
    pub refs: u32,
    /// Whether it was revoked (only references taken before keep it alive).
    pub revoked: bool,
    /// The object pointer (a `const T *` for a Rust object). Valid during the visit.
    pub object: *mut c_void,
    /// For a Rust object, its Rust type name; NULL for a C object. Valid during the visit.
    pub rust_type: *const c_char,
    /// Where the entry was inserted (a multi-line backtrace) when the library is built with
    /// the `debug-backtrace` feature; NULL otherwise. Valid during the visit.
    pub created_at: *const c_char,
}

/// A leak-report visitor: called once per live entry with the entry and your `ctx`.
pub type HdlLeakVisitor =
    Option<unsafe extern "C" fn(entry: *const HdlLeakEntry, ctx: *mut c_void)>;

/// Builds an `HdlLeakEntry` for each live entry (strings owned for the call) and passes it on.
pub(crate) fn visit(table: &HandleTable<Entry>, mut f: impl FnMut(&HdlLeakEntry)) {
    table.visit_live(|live: &LiveEntry, e: &Entry| {
        let rust_type = match e.kind {
            Kind::Rust(vt) => CString::new((vt.type_name)()).ok(),
            Kind::C(_) => None,
        };
        let created_at = created_at(live);
        f(&HdlLeakEntry {
            handle: live.handle.into_raw(),
            type_tag: e.tag,
            refs: live.refs,
            revoked: live.revoked,
            object: e.object,
            rust_type: rust_type
                .as_deref()
                .map_or(core::ptr::null(), |s| s.as_ptr()),
            created_at: created_at
                .as_deref()
                .map_or(core::ptr::null(), |s| s.as_ptr()),
        });
    });
}

#[cfg(feature = "debug-backtrace")]
fn created_at(live: &LiveEntry) -> Option<CString> {
    let text = live.created_at.as_ref()?.to_string().replace('\0', " ");
    CString::new(text).ok()
}

#[cfg(not(feature = "debug-backtrace"))]
fn created_at(_: &LiveEntry) -> Option<CString> {
    None
}

/// The leak report of `table` as text (for the registry, what `HANDLES_LEAK_REPORT=1` prints at
/// exit), and the number of entries.
pub(crate) fn text(table: &HandleTable<Entry>) -> (String, usize) {
    use core::fmt::Write;
    let mut lines = String::new();
    let mut count = 0;
    visit(table, |e| {
        count += 1;
        let _ = write!(
            lines,
            "\n  {:#018x} tag={} refs={}{}",
            e.handle,
            e.type_tag,
            e.refs,
            if e.revoked { " revoked" } else { "" }
        );
        if e.rust_type.is_null() {
            lines.push_str(" (C object)");
        } else {
            // SAFETY: a NUL-terminated string that lives for this visit.
            let name = unsafe { core::ffi::CStr::from_ptr(e.rust_type) };
            let _ = write!(lines, " (Rust {})", name.to_string_lossy());
        }
        if !e.created_at.is_null() {
            // SAFETY: as above.
            let bt = unsafe { core::ffi::CStr::from_ptr(e.created_at) };
            let _ = write!(lines, "\n    inserted at:\n{}", bt.to_string_lossy());
        }
    });
    (
        format!("hdl: {count} live handle(s) in the registry{lines}"),
        count,
    )
}

/// Prints a report and a newline to stderr, at once.
pub(crate) fn eprint(text: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
    let _ = err.flush();
}
