//! SQLite as a real C client of the callback registry: Rust scalar and aggregate SQL functions
//! whose `pApp` is a callback handle and whose `xDestroy` releases it.
//!
//! SQLite calls `xFunc(ctx, argc, argv)` and finds `pApp` through `sqlite3_user_data(ctx)`, a
//! shape the generic trampolines do not cover, so the `x_*` functions here are hand-written
//! trampolines on top of [`callback::invoke`]: a scoped lookup, a type check and a caught
//! panic, with failures reported to SQLite as SQL errors.

use core::ffi::{CStr, c_int, c_void};
use handles::callback::{self, CallError, Callback};
use libsqlite3_sys as ffi;
use std::ffi::CString;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Calls of [`counting_destroy`] so far (every `xDestroy` SQLite made).
pub static DESTROYS: AtomicUsize = AtomicUsize::new(0);

/// The `xDestroy` given to SQLite: counts, then releases the connection's reference
/// ([`callback::destroy_notify`]).
pub extern "C" fn counting_destroy(user_data: *mut c_void) {
    DESTROYS.fetch_add(1, Ordering::SeqCst);
    callback::destroy_notify(user_data);
}

/// An aggregate SQL function over `i64`s, with an `i64` state that starts at 0.
pub trait Aggregate: Send + Sync + 'static {
    /// Folds one row's arguments into `state`.
    fn step(&self, state: &mut i64, args: &[i64]);
    /// The result for a group.
    fn finish(&self, state: i64) -> i64;
}

/// `xFunc`, `xStep`, `xFinal` as `sqlite3_create_function_v2` takes them.
type XFunc = unsafe extern "C" fn(*mut ffi::sqlite3_context, c_int, *mut *mut ffi::sqlite3_value);
type Trampolines = (
    Option<XFunc>,
    Option<XFunc>,
    Option<unsafe extern "C" fn(*mut ffi::sqlite3_context)>,
);

/// An open SQLite connection (one per thread in the tests); closed on drop, which makes SQLite
/// call every function's `xDestroy`.
pub struct Connection(*mut ffi::sqlite3);

// SAFETY: the bundled SQLite is built thread-safe (SQLITE_THREADSAFE=1, serialized), so a
// connection may move between threads.
unsafe impl Send for Connection {}

fn args(argc: c_int, argv: *mut *mut ffi::sqlite3_value) -> Vec<i64> {
    (0..usize::try_from(argc).unwrap_or(0))
        // SAFETY: SQLite passes `argc` valid value pointers in `argv` for this call.
        .map(|i| unsafe { ffi::sqlite3_value_int64(*argv.add(i)) })
        .collect()
}

fn report(ctx: *mut ffi::sqlite3_context, error: CallError) {
    let message = CString::new(format!("handles: {error}")).unwrap_or_default();
    // SAFETY: `ctx` is the live context of this call; SQLite copies the message (-1: up to
    // the NUL).
    unsafe { ffi::sqlite3_result_error(ctx, message.as_ptr(), -1) };
}

/// `xFunc` of a scalar function: `F` is the registered closure's type.
unsafe extern "C" fn x_scalar<F: Fn(&[i64]) -> i64 + Send + Sync + 'static>(
    ctx: *mut ffi::sqlite3_context,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) {
    // SAFETY: `ctx` is live for this call; pApp is the handle we registered.
    let user_data = unsafe { ffi::sqlite3_user_data(ctx) };
    match callback::invoke(user_data, |f: &F| f(&args(argc, argv))) {
        // SAFETY: live context.
        Ok(v) => unsafe { ffi::sqlite3_result_int64(ctx, v) },
        Err(e) => report(ctx, e),
    }
}

/// The group's state, in SQLite's zero-initialised aggregate context; NULL when out of memory.
fn state(ctx: *mut ffi::sqlite3_context, allocate: bool) -> *mut i64 {
    let size = if allocate {
        size_of::<i64>() as c_int
    } else {
        0
    };
    // SAFETY: live context; SQLite returns zeroed memory of `size` bytes, 8-aligned, the same
    // block for every call of one group (or NULL when `size` is 0 and nothing was allocated).
    unsafe { ffi::sqlite3_aggregate_context(ctx, size).cast() }
}

/// `xStep` of an aggregate function.
unsafe extern "C" fn x_step<A: Aggregate>(
    ctx: *mut ffi::sqlite3_context,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) {
    let state = state(ctx, true);
    if state.is_null() {
        // SAFETY: live context.
        return unsafe { ffi::sqlite3_result_error_nomem(ctx) };
    }
    // SAFETY: live context.
    let user_data = unsafe { ffi::sqlite3_user_data(ctx) };
    // SAFETY: `state` is this group's private, aligned i64 (see `state`); SQLite runs one
    // group's calls on one thread, one at a time.
    let state = unsafe { &mut *state };
    if let Err(e) = callback::invoke(user_data, |a: &A| a.step(state, &args(argc, argv))) {
        report(ctx, e);
    }
}

/// `xFinal` of an aggregate function.
unsafe extern "C" fn x_final<A: Aggregate>(ctx: *mut ffi::sqlite3_context) {
    let state = state(ctx, false);
    let value = if state.is_null() {
        0 // no row was stepped
    } else {
        // SAFETY: as in `x_step`: this group's private, aligned, initialised i64.
        unsafe { *state }
    };
    // SAFETY: live context.
    let user_data = unsafe { ffi::sqlite3_user_data(ctx) };
    match callback::invoke(user_data, |a: &A| a.finish(value)) {
        // SAFETY: live context.
        Ok(v) => unsafe { ffi::sqlite3_result_int64(ctx, v) },
        Err(e) => report(ctx, e),
    }
}

impl Connection {
    /// Opens a private in-memory database.
    pub fn open_in_memory() -> Connection {
        let mut db = core::ptr::null_mut();
        let flags = ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE | ffi::SQLITE_OPEN_MEMORY;
        // SAFETY: valid NUL-terminated name, out-pointer and flags.
        let rc = unsafe {
            ffi::sqlite3_open_v2(c":memory:".as_ptr(), &mut db, flags, core::ptr::null())
        };
        assert_eq!(rc, ffi::SQLITE_OK, "sqlite3_open_v2");
        Connection(db)
    }

    fn error(&self) -> String {
        // SAFETY: live connection; the message is a NUL-terminated string SQLite owns.
        unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.0)) }
            .to_string_lossy()
            .into_owned()
    }

    /// Registers `name(arg, ...)` (`n_args` integer arguments) calling `cb`'s closure. The
    /// connection takes its own reference to the callback (`pApp`), released by `xDestroy` when
    /// the function is replaced or the connection closes.
    pub fn create_scalar<F>(&self, name: &CStr, n_args: c_int, cb: &Callback<F>)
    where
        F: Fn(&[i64]) -> i64 + Send + Sync + 'static,
    {
        self.create_function(name, n_args, cb, (Some(x_scalar::<F>), None, None));
    }

    /// Registers the aggregate `name(arg, ...)` calling `cb`'s [`Aggregate`], like
    /// [`Connection::create_scalar`].
    pub fn create_aggregate<A: Aggregate>(&self, name: &CStr, n_args: c_int, cb: &Callback<A>) {
        self.create_function(
            name,
            n_args,
            cb,
            (None, Some(x_step::<A>), Some(x_final::<A>)),
        );
    }

    /// `sqlite3_create_function_v2` with `pApp` = a new reference to `cb` (C's own) and
    /// `xDestroy` = [`counting_destroy`]; `x` are the trampolines for `F`.
    fn create_function<F>(&self, name: &CStr, n_args: c_int, cb: &Callback<F>, x: Trampolines) {
        let user_data = cb.user_data_owned().expect("callback registered");
        let (x_func, x_step, x_final) = x;
        // SAFETY: live connection; SQLite keeps `user_data` until it calls xDestroy (also when
        // registration fails), and the trampolines match SQLite's signatures and were
        // instantiated for `F`, the type `user_data` names.
        let rc = unsafe {
            ffi::sqlite3_create_function_v2(
                self.0,
                name.as_ptr(),
                n_args,
                ffi::SQLITE_UTF8,
                user_data,
                x_func,
                x_step,
                x_final,
                Some(counting_destroy),
            )
        };
        assert_eq!(rc, ffi::SQLITE_OK, "create_function: {}", self.error());
    }

    /// Runs a query and returns the integer columns of its rows, or SQLite's error message.
    pub fn query(&self, sql: &str) -> Result<Vec<Vec<i64>>, String> {
        let sql = CString::new(sql).expect("no NUL in SQL");
        let mut stmt = core::ptr::null_mut();
        // SAFETY: live connection, NUL-terminated SQL, valid out-pointer.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(self.0, sql.as_ptr(), -1, &mut stmt, core::ptr::null_mut())
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.error());
        }
        let mut rows = Vec::new();
        let outcome = loop {
            // SAFETY: `stmt` is a prepared statement of this connection, finalized below.
            match unsafe { ffi::sqlite3_step(stmt) } {
                ffi::SQLITE_ROW => {
                    // SAFETY: a row is available.
                    let n = unsafe { ffi::sqlite3_column_count(stmt) };
                    // SAFETY: column indexes below the count.
                    rows.push(
                        (0..n)
                            .map(|i| unsafe { ffi::sqlite3_column_int64(stmt, i) })
                            .collect(),
                    );
                }
                ffi::SQLITE_DONE => break Ok(rows),
                _ => break Err(self.error()),
            }
        };
        // SAFETY: finalized once; the error message was copied above.
        unsafe { ffi::sqlite3_finalize(stmt) };
        outcome
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // SAFETY: live connection, closed once; every statement was finalized by `query`.
        let rc = unsafe { ffi::sqlite3_close(self.0) };
        assert_eq!(rc, ffi::SQLITE_OK, "sqlite3_close");
    }
}
