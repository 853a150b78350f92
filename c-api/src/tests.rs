//! Unit tests of the Rust side of the C API (the C tests in `tests/c/` cover the C side).

use crate::*;
use core::ffi::{CStr, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn version_macros_match_the_package() {
    let major: u32 = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap();
    let minor: u32 = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap();
    let patch: u32 = env!("CARGO_PKG_VERSION_PATCH").parse().unwrap();
    assert_eq!(
        (HDL_VERSION_MAJOR, HDL_VERSION_MINOR, HDL_VERSION_PATCH),
        (major, minor, patch)
    );
    assert_eq!(HDL_VERSION, (major << 16) | (minor << 8) | patch);
    assert_eq!(hdl_version(), HDL_VERSION);
    // SAFETY: a static NUL-terminated string.
    let s = unsafe { CStr::from_ptr(hdl_version_string()) };
    assert_eq!(s.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn status_names() {
    for (i, s) in HdlStatus::ALL.iter().enumerate() {
        assert_eq!(*s as usize, i);
        // SAFETY: a static NUL-terminated string.
        let name = unsafe { CStr::from_ptr(hdl_status_name(i as i32)) };
        assert_eq!(name, s.name());
    }
    for bad in [-1, 10, i32::MAX, i32::MIN] {
        // SAFETY: as above.
        let name = unsafe { CStr::from_ptr(hdl_status_name(bad)) };
        assert_eq!(name, c"HDL_STATUS_UNKNOWN");
    }
}

static C_DROPS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_drop(_: *mut c_void) {
    C_DROPS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn c_object_lifecycle() {
    let mut object = 5u8;
    let p = (&raw mut object).cast::<c_void>();
    let mut h = 0u64;
    // SAFETY: valid out-pointers throughout.
    unsafe {
        assert_eq!(hdl_insert(p, 9, Some(count_drop), &mut h), HdlStatus::Ok);
        let mut out: *mut c_void = core::ptr::null_mut();
        assert_eq!(hdl_lookup(h, 8, &mut out), HdlStatus::WrongType);
        assert!(out.is_null());
        assert_eq!(hdl_lookup(h, 9, &mut out), HdlStatus::Ok);
        assert_eq!(out, p);
        assert_eq!(hdl_revoke(h), HdlStatus::Ok);
        assert!(!hdl_is_live(h));
        assert_eq!(hdl_release(h), HdlStatus::Ok);
        assert_eq!(hdl_release(h), HdlStatus::Stale);
        assert_eq!(hdl_flush(core::ptr::null_mut()), HdlStatus::Ok);
    }
    assert_eq!(C_DROPS.load(Ordering::SeqCst), 1);
}

#[test]
fn rust_objects_share_the_registry() {
    let h = insert(3, vec![1u8, 2, 3]).unwrap();
    assert_eq!(with(h, |v: &Vec<u8>| v.len()), Ok(3));
    assert_eq!(with(h, |_: &String| ()), Err(HdlStatus::WrongType));
    let mut tag = 0;
    // SAFETY: valid out-pointers.
    unsafe {
        assert_eq!(hdl_type_tag(h.into_raw(), &mut tag), HdlStatus::Ok);
        let mut out: *mut c_void = core::ptr::null_mut();
        assert_eq!(hdl_lookup(h.into_raw(), 3, &mut out), HdlStatus::Ok);
        assert_eq!((&*out.cast::<Vec<u8>>())[2], 3);
        assert_eq!(hdl_take(h.into_raw(), 0, &mut out), HdlStatus::WrongType);
    }
    assert_eq!(tag, 3);
    assert_eq!(hdl_release(h.into_raw()), HdlStatus::Ok);
    assert_eq!(hdl_revoke(h.into_raw()), HdlStatus::Ok);
    assert_eq!(with(h, |_: &Vec<u8>| ()), Err(HdlStatus::Stale));
    flush();
}

#[test]
fn pointer_round_trip() {
    assert!(hdl_to_ptr(0).is_null());
    assert_eq!(hdl_from_ptr(core::ptr::null()), 0);
    assert_eq!(hdl_from_ptr(hdl_to_ptr(0x1234_5678_9abc)), 0x1234_5678_9abc);
}
