//! C callbacks registered with the registry. C hands over a function pointer, its
//! `user_data` and a destroy function, and gets a handle that Rust code or any C thread can
//! invoke; `destroy(user_data)` runs exactly once, when the entry ends.

use crate::boundary::{boundary, handle, out_ptr};
use crate::entry::HdlDestructor;
use crate::rust_api;
use crate::status::HdlStatus;
use core::ffi::c_void;
use handles::Handle;

/// A C callback: called with the `user_data` it was registered with and the caller's `arg`;
/// returns an `int32_t` of its choosing, which `hdl_callback_invoke` passes back. Never NULL
/// in a registration.
pub type HdlCallbackFn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, arg: *mut c_void) -> i32>;

type CallbackFn = unsafe extern "C" fn(user_data: *mut c_void, arg: *mut c_void) -> i32;

/// The type tag of callback entries (ASCII `"hdlc"`): `hdl_type_tag` reports it, and
/// `hdl_lookup` with it as `expected_tag` yields an opaque pointer to the callback record.
pub const HDL_CALLBACK_TAG: u32 = 0x6864_6c63;

/// A registered C callback; its `Drop` is the entry's end.
struct CCallback {
    function: CallbackFn,
    user_data: *mut c_void,
    destroy: HdlDestructor,
}

// SAFETY: `hdl_callback_new`'s contract: the function may be called, and `destroy` run, from any
// thread with this `user_data`. The pointer itself is only passed back to C, never dereferenced.
unsafe impl Send for CCallback {}
// SAFETY: as above; invocations from several threads at once are part of that contract.
unsafe impl Sync for CCallback {}

impl Drop for CCallback {
    fn drop(&mut self) {
        if let Some(destroy) = self.destroy {
            // SAFETY: `hdl_callback_new`'s caller gave us `destroy` to be called exactly once
            // with `user_data` when the entry ends; an entry's value is dropped exactly once.
            unsafe { destroy(self.user_data) };
        }
    }
}

/// Invokes the C callback behind `handle` with `arg` from Rust, with a scoped lookup: no
/// reference is counted and no shared memory is written; a concurrent `hdl_revoke` (even from
/// inside the callback) takes effect for later calls, and `destroy` waits for this call.
///
/// # Errors
/// [`HdlStatus::WrongType`] if the handle names something other than a callback, and
/// the handle errors (`Stale` once revoked, `Invalid`, `WrongTable`, ...).
///
/// ```
/// use core::ffi::c_void;
/// unsafe extern "C" fn add_one(user_data: *mut c_void, arg: *mut c_void) -> i32 {
///     (user_data as usize + arg as usize) as i32
/// }
/// let mut h = 0u64;
/// // SAFETY: `h` is writable; `add_one` never dereferences its arguments.
/// let st = unsafe { hdl::hdl_callback_new(Some(add_one), 40 as *mut c_void, None, &mut h) };
/// assert_eq!(st, hdl::HdlStatus::Ok);
/// let h = handles::Handle::from_raw(h).unwrap();
/// // SAFETY: `add_one` accepts any `arg`.
/// assert_eq!(unsafe { hdl::invoke_callback(h, 2 as *mut c_void) }, Ok(42));
/// assert_eq!(hdl::hdl_revoke(h.into_raw()), hdl::HdlStatus::Ok);
/// // SAFETY: as above (and a stale handle calls nothing).
/// assert_eq!(unsafe { hdl::invoke_callback(h, 2 as *mut c_void) }, Err(hdl::HdlStatus::Stale));
/// ```
///
/// # Safety
/// `arg` must be what the registered C function expects (it may dereference it).
pub unsafe fn invoke_callback(handle: Handle, arg: *mut c_void) -> Result<i32, HdlStatus> {
    rust_api::with(handle, |cb: &CCallback| {
        // SAFETY: the function and user_data were registered together by `hdl_callback_new`,
        // whose caller promised the function may be called with that user_data from any
        // thread until `destroy` runs; the scoped lookup holds `destroy` off until we return.
        // `arg` is what the function expects: our caller's promise.
        unsafe { (cb.function)(cb.user_data, arg) }
    })
}

/// Registers a C callback and writes its new handle (never 0) to `*out_handle`. The entry starts
/// with one reference, owned by the caller: unregister with `hdl_revoke` (calls in progress
/// finish, later ones fail with `HDL_STATUS_STALE`), or share it with `hdl_retain` /
/// `hdl_release` like any entry. Invoke it with `hdl_callback_invoke`.
///
/// Ownership: `destroy(user_data)` runs exactly once when the entry ends (its last reference is
/// released, or it is revoked with none outstanding), after every invocation in progress has
/// returned, on the thread that runs the next reclamation pass (see `hdl_flush`). `destroy` may
/// be NULL. `user_data` may be NULL; the registry never dereferences it.
///
/// Thread-safety: `function` may be called from any thread, concurrently, and may call any
/// `hdl_*` function (including `hdl_revoke` on its own handle); it must not unwind or `longjmp`
/// out. The same holds for `destroy`.
///
/// Errors: `HDL_STATUS_NULL_POINTER` (`function` or `out_handle` NULL), `HDL_STATUS_FULL`,
/// `HDL_STATUS_PANIC`. On error nothing is registered and `destroy` is not called.
///
/// # Safety
/// `out_handle` must be NULL or valid for writing a `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_callback_new(
    function: HdlCallbackFn,
    user_data: *mut c_void,
    destroy: HdlDestructor,
    out_handle: *mut u64,
) -> HdlStatus {
    boundary(|| {
        let Some(function) = function else {
            return Err(HdlStatus::NullPointer);
        };
        let out_handle = out_ptr!(out_handle).ok_or(HdlStatus::NullPointer)?;
        let callback = CCallback {
            function,
            user_data,
            destroy,
        };
        let h = match rust_api::try_insert(HDL_CALLBACK_TAG, callback) {
            Ok(h) => h,
            Err((callback, error)) => {
                // Not registered: the caller keeps user_data, and destroy must not run.
                core::mem::forget(callback);
                return Err(error);
            }
        };
        out_handle.write(h.into_raw());
        Ok(())
    })
}

/// Invokes the callback behind `handle` with `arg` and, if `out_result` is not NULL, writes the
/// callback's return value to it. Takes no reference and writes no shared memory (a scoped
/// lookup), so any number of threads may invoke one callback at once at full speed.
///
/// Thread-safety: any thread.
///
/// Errors: `HDL_STATUS_NULL_HANDLE`, `HDL_STATUS_INVALID`, `HDL_STATUS_STALE` (revoked or
/// ended: the callback was not called), `HDL_STATUS_WRONG_TABLE`, `HDL_STATUS_WRONG_TYPE` (not
/// a callback entry), `HDL_STATUS_BUSY`, `HDL_STATUS_PANIC`.
///
/// # Safety
/// `out_result` must be NULL or valid for writing an `int32_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hdl_callback_invoke(
    handle: u64,
    arg: *mut c_void,
    out_result: *mut i32,
) -> HdlStatus {
    boundary(|| {
        let out_result = out_ptr!(out_result);
        // SAFETY: `arg` comes from C, which promises it suits the callback it invokes.
        let result = unsafe { invoke_callback(self::handle(handle)?, arg)? };
        if let Some(out_result) = out_result {
            out_result.write(result);
        }
        Ok(())
    })
}
