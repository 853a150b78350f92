//! Hand-written declarations of the GLib and GObject functions the tests call (GLib 2.54 or
//! later), and [`SourceControl`], the return type of a Rust closure behind a `GSourceFunc`.

#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_int, c_uint, c_ulong, c_void};
use handles::callback::{CallError, Fallback};

/// `gpointer`.
pub type gpointer = *mut c_void;
/// `GType` (a `gsize`).
pub type GType = usize;
/// `GDestroyNotify`: `void (*)(gpointer data)`.
pub type GDestroyNotify = extern "C" fn(data: gpointer);
/// `GClosureNotify`: `void (*)(gpointer data, GClosure *closure)`, the destroy-notify of
/// `g_signal_connect_data`.
pub type GClosureNotify = extern "C" fn(data: gpointer, closure: *mut c_void);
/// `GSourceFunc`: `gboolean (*)(gpointer user_data)`, with the `gboolean` as [`SourceControl`].
pub type GSourceFunc = extern "C" fn(user_data: gpointer) -> SourceControl;
/// `GCallback`: `void (*)(void)`, the type-erased handler of `g_signal_connect_data` (GLib calls
/// it with the signal's own signature).
pub type GCallback = unsafe extern "C" fn();
/// `GClassInitFunc`: `void (*)(gpointer g_class, gpointer class_data)`.
pub type GClassInitFunc = extern "C" fn(g_class: gpointer, class_data: gpointer);

/// Opaque `GMainContext`.
#[repr(C)]
pub struct GMainContext {
    _opaque: [u8; 0],
}

/// Opaque `GMainLoop`.
#[repr(C)]
pub struct GMainLoop {
    _opaque: [u8; 0],
}

/// `GTypeQuery`, filled by `g_type_query`: the sizes of a type's class and instance structs.
#[repr(C)]
pub struct GTypeQuery {
    /// The type.
    pub type_: GType,
    /// Its name.
    pub type_name: *const c_char,
    /// `sizeof` its class struct.
    pub class_size: c_uint,
    /// `sizeof` its instance struct.
    pub instance_size: c_uint,
}

/// `G_PRIORITY_DEFAULT`.
pub const G_PRIORITY_DEFAULT: c_int = 0;
/// `G_PRIORITY_DEFAULT_IDLE`.
pub const G_PRIORITY_DEFAULT_IDLE: c_int = 200;
/// `G_TYPE_NONE` (`G_TYPE_MAKE_FUNDAMENTAL (1)`).
pub const G_TYPE_NONE: GType = 1 << 2;
/// `G_TYPE_INT` (`G_TYPE_MAKE_FUNDAMENTAL (6)`).
pub const G_TYPE_INT: GType = 6 << 2;
/// `G_SIGNAL_RUN_LAST`.
pub const G_SIGNAL_RUN_LAST: c_uint = 1 << 1;

// SAFETY (for every declaration below): the signatures are those of GLib's and GObject's public
// headers (glib/gmain.h, gobject/gtype.h, gobject/gsignal.h, gobject/gobject.h), with `gint` as
// `c_int`, `guint` as `c_uint`, `gulong` as `c_ulong`, `gboolean` as `c_int` and `GQuark` as `u32`.
unsafe extern "C" {
    /// `g_main_context_default`.
    pub fn g_main_context_default() -> *mut GMainContext;
    /// `g_main_context_iteration`.
    pub fn g_main_context_iteration(context: *mut GMainContext, may_block: c_int) -> c_int;
    /// `g_main_context_find_source_by_id`.
    pub fn g_main_context_find_source_by_id(context: *mut GMainContext, id: c_uint) -> gpointer;
    /// `g_main_context_invoke_full`.
    pub fn g_main_context_invoke_full(
        context: *mut GMainContext,
        priority: c_int,
        function: GSourceFunc,
        data: gpointer,
        notify: Option<GDestroyNotify>,
    );
    /// `g_main_loop_new`.
    pub fn g_main_loop_new(context: *mut GMainContext, is_running: c_int) -> *mut GMainLoop;
    /// `g_main_loop_run`.
    pub fn g_main_loop_run(main_loop: *mut GMainLoop);
    /// `g_main_loop_quit`.
    pub fn g_main_loop_quit(main_loop: *mut GMainLoop);
    /// `g_main_loop_unref`.
    pub fn g_main_loop_unref(main_loop: *mut GMainLoop);
    /// `g_idle_add_full`.
    pub fn g_idle_add_full(
        priority: c_int,
        function: GSourceFunc,
        data: gpointer,
        notify: Option<GDestroyNotify>,
    ) -> c_uint;
    /// `g_timeout_add_full`.
    pub fn g_timeout_add_full(
        priority: c_int,
        interval: c_uint,
        function: GSourceFunc,
        data: gpointer,
        notify: Option<GDestroyNotify>,
    ) -> c_uint;

    /// `g_object_get_type` (`G_TYPE_OBJECT`).
    pub fn g_object_get_type() -> GType;
    /// `g_type_query`.
    pub fn g_type_query(type_: GType, query: *mut GTypeQuery);
    /// `g_type_register_static_simple`.
    pub fn g_type_register_static_simple(
        parent_type: GType,
        type_name: *const c_char,
        class_size: c_uint,
        class_init: GClassInitFunc,
        instance_size: c_uint,
        instance_init: Option<extern "C" fn(instance: gpointer, g_class: gpointer)>,
        flags: c_uint,
    ) -> GType;
    /// `g_object_new_with_properties` (no properties).
    pub fn g_object_new_with_properties(
        object_type: GType,
        n_properties: c_uint,
        names: *const *const c_char,
        values: *const c_void,
    ) -> gpointer;
    /// `g_object_unref`.
    pub fn g_object_unref(object: gpointer);
    /// `g_signal_new` (variadic: one `GType` per parameter).
    pub fn g_signal_new(
        signal_name: *const c_char,
        itype: GType,
        signal_flags: c_uint,
        class_offset: c_uint,
        accumulator: *const c_void,
        accu_data: gpointer,
        c_marshaller: *const c_void,
        return_type: GType,
        n_params: c_uint,
        ...
    ) -> c_uint;
    /// `g_signal_emit` (variadic: the signal's parameters).
    pub fn g_signal_emit(instance: gpointer, signal_id: c_uint, detail: u32, ...);
    /// `g_signal_connect_data`.
    pub fn g_signal_connect_data(
        instance: gpointer,
        detailed_signal: *const c_char,
        c_handler: GCallback,
        data: gpointer,
        destroy_data: Option<GClosureNotify>,
        connect_flags: c_uint,
    ) -> c_ulong;
    /// `g_signal_handler_disconnect`.
    pub fn g_signal_handler_disconnect(instance: gpointer, handler_id: c_ulong);
}

/// A `GSourceFunc`'s `gboolean`: [`SourceControl::CONTINUE`] keeps the source,
/// [`SourceControl::REMOVE`] removes it. Its [`Fallback`] is `REMOVE`, so a source whose
/// closure was unregistered (or panicked) is removed at its next dispatch, and GLib then calls
/// its `GDestroyNotify`; `c_int`'s fallback of -1 would read as `TRUE` and keep the source
/// spinning forever.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceControl(pub c_int);

impl SourceControl {
    /// `G_SOURCE_CONTINUE`.
    pub const CONTINUE: SourceControl = SourceControl(1);
    /// `G_SOURCE_REMOVE`.
    pub const REMOVE: SourceControl = SourceControl(0);
}

impl Fallback for SourceControl {
    fn fallback(_: CallError) -> SourceControl {
        SourceControl::REMOVE
    }
}
