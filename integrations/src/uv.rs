//! Hand-written declarations of the libuv functions the tests call (libuv 1.19 or later). The
//! structs stay opaque: their sizes come from `uv_loop_size`, `uv_handle_size` and
//! `uv_req_size`, and `data` is read and written with `uv_handle_get_data` / `uv_req_get_data`
//! and their setters, so nothing here depends on libuv's struct layouts.

#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_int, c_void};

/// Opaque `uv_loop_t`.
#[repr(C)]
pub struct uv_loop_t {
    _opaque: [u8; 0],
}

/// Opaque `uv_handle_t` (the common prefix of every handle type).
#[repr(C)]
pub struct uv_handle_t {
    _opaque: [u8; 0],
}

/// Opaque `uv_async_t` (a `uv_handle_t`).
#[repr(C)]
pub struct uv_async_t {
    _opaque: [u8; 0],
}

/// Opaque `uv_work_t` (a `uv_req_t`).
#[repr(C)]
pub struct uv_work_t {
    _opaque: [u8; 0],
}

/// `uv_async_cb`.
pub type uv_async_cb = extern "C" fn(handle: *mut uv_async_t);
/// `uv_close_cb`.
pub type uv_close_cb = extern "C" fn(handle: *mut uv_handle_t);
/// `uv_work_cb`.
pub type uv_work_cb = extern "C" fn(req: *mut uv_work_t);
/// `uv_after_work_cb`.
pub type uv_after_work_cb = extern "C" fn(req: *mut uv_work_t, status: c_int);

/// `UV_ASYNC` of `uv_handle_type` (checked against `uv_handle_type_name` at run time).
pub const UV_ASYNC: c_int = 1;
/// `UV_WORK` of `uv_req_type` (checked against `uv_req_type_name` at run time).
pub const UV_WORK: c_int = 7;
/// `UV_RUN_DEFAULT`.
pub const UV_RUN_DEFAULT: c_int = 0;

// SAFETY (for every declaration below): the signatures are those of libuv's public header
// (uv.h), with its enums passed as `c_int`.
unsafe extern "C" {
    /// `uv_loop_size`.
    pub fn uv_loop_size() -> usize;
    /// `uv_handle_size`.
    pub fn uv_handle_size(type_: c_int) -> usize;
    /// `uv_req_size`.
    pub fn uv_req_size(type_: c_int) -> usize;
    /// `uv_handle_type_name`.
    pub fn uv_handle_type_name(type_: c_int) -> *const c_char;
    /// `uv_req_type_name`.
    pub fn uv_req_type_name(type_: c_int) -> *const c_char;
    /// `uv_loop_init`.
    pub fn uv_loop_init(event_loop: *mut uv_loop_t) -> c_int;
    /// `uv_run`.
    pub fn uv_run(event_loop: *mut uv_loop_t, mode: c_int) -> c_int;
    /// `uv_loop_close`.
    pub fn uv_loop_close(event_loop: *mut uv_loop_t) -> c_int;
    /// `uv_async_init`.
    pub fn uv_async_init(
        event_loop: *mut uv_loop_t,
        handle: *mut uv_async_t,
        async_cb: uv_async_cb,
    ) -> c_int;
    /// `uv_async_send`: the one libuv function any thread may call.
    pub fn uv_async_send(handle: *mut uv_async_t) -> c_int;
    /// `uv_close`.
    pub fn uv_close(handle: *mut uv_handle_t, close_cb: Option<uv_close_cb>);
    /// `uv_handle_get_data`.
    pub fn uv_handle_get_data(handle: *const uv_handle_t) -> *mut c_void;
    /// `uv_handle_set_data`.
    pub fn uv_handle_set_data(handle: *mut uv_handle_t, data: *mut c_void);
    /// `uv_req_get_data` (a `uv_work_t` is a `uv_req_t`).
    pub fn uv_req_get_data(req: *const uv_work_t) -> *mut c_void;
    /// `uv_req_set_data`.
    pub fn uv_req_set_data(req: *mut uv_work_t, data: *mut c_void);
    /// `uv_queue_work`.
    pub fn uv_queue_work(
        event_loop: *mut uv_loop_t,
        req: *mut uv_work_t,
        work_cb: uv_work_cb,
        after_work_cb: uv_after_work_cb,
    ) -> c_int;
    /// `uv_strerror`.
    pub fn uv_strerror(err: c_int) -> *const c_char;
}
