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
    for bad in [-1, HdlStatus::ALL.len() as i32, i32::MAX, i32::MIN] {
        // SAFETY: as above.
        let name = unsafe { CStr::from_ptr(hdl_status_name(bad)) };
        assert_eq!(name, c"HDL_STATUS_UNKNOWN");
    }
}

#[test]
fn status_messages() {
    let mut seen = std::collections::HashSet::new();
    for (i, s) in HdlStatus::ALL.iter().enumerate() {
        // SAFETY: a static NUL-terminated string.
        let message = unsafe { CStr::from_ptr(hdl_status_message(i as i32)) };
        assert_eq!(message, s.message());
        assert!(
            !message.is_empty() && seen.insert(message),
            "{s:?}: {message:?}"
        );
    }
    for bad in [-1, HdlStatus::ALL.len() as i32, i32::MAX] {
        // SAFETY: as above.
        let message = unsafe { CStr::from_ptr(hdl_status_message(bad)) };
        assert_eq!(message, c"unknown status");
    }
}

/// `hdl_stats` writes what the caller's `size` covers, and says how much it wrote.
#[test]
fn stats_size_field() {
    // SAFETY: NULL is allowed.
    let status = unsafe { hdl_stats(core::ptr::null_mut()) };
    assert_eq!(status, HdlStatus::NullPointer);
    let mut s = HdlRegistryStats::default();
    // SAFETY: `s` is readable and writable (size 0: rejected before anything is written).
    assert_eq!(unsafe { hdl_stats(&mut s) }, HdlStatus::InvalidArgument);
    assert_eq!(s.size, 0);
    s.size = size_of::<HdlRegistryStats>() - 8;
    // SAFETY: as above; a size smaller than the struct's first version is rejected.
    assert_eq!(unsafe { hdl_stats(&mut s) }, HdlStatus::InvalidArgument);
    assert_eq!(s.thread_records, 0);

    // A caller whose header declares a larger struct (a newer version): the fields the library
    // knows are written, `size` says how many bytes, and the rest is untouched.
    #[repr(C)]
    struct Newer {
        stats: HdlRegistryStats,
        later_field: u64,
    }
    let mut newer = Newer {
        stats: HdlRegistryStats {
            size: size_of::<Newer>(),
            ..HdlRegistryStats::default()
        },
        later_field: 0xfeed,
    };
    // SAFETY: `newer` is readable and writable for `size_of::<Newer>()` bytes.
    let status = unsafe { hdl_stats((&raw mut newer).cast::<HdlRegistryStats>()) };
    assert_eq!(status, HdlStatus::Ok);
    assert_eq!(newer.stats.size, size_of::<HdlRegistryStats>());
    assert_eq!(newer.later_field, 0xfeed);
    assert!(newer.stats.thread_records >= 1);
    let t = handles::thread_stats();
    assert!(newer.stats.heavy_barriers <= t.heavy_barriers);
    assert!(newer.stats.drop_panics <= t.drop_panics);

    let (mut live, mut slots) = (0, 0);
    for shard in 0..hdl_shard_count() {
        let (mut l, mut n) = (usize::MAX, usize::MAX);
        // SAFETY: valid out-pointers.
        let status = unsafe { hdl_shard_stats(shard, &mut l, &mut n) };
        assert_eq!(status, HdlStatus::Ok);
        live += l;
        slots += n;
    }
    assert!(slots >= live);
    let mut untouched = 7;
    // SAFETY: valid out-pointers, NULL allowed.
    unsafe {
        assert_eq!(
            hdl_shard_stats(hdl_shard_count(), &mut untouched, &mut untouched),
            HdlStatus::InvalidArgument
        );
        assert_eq!(
            hdl_shard_stats(0, core::ptr::null_mut(), &mut untouched),
            HdlStatus::NullPointer
        );
    }
    assert_eq!(untouched, 7);
}

/// The names Rust derives are the header's enumerators, with the same values, and the header
/// has no other `HDL_STATUS_*` enumerator.
#[test]
fn status_names_match_the_header() {
    let header = include_str!("../include/hdl.h");
    for s in HdlStatus::ALL {
        let name = s.name().to_str().unwrap();
        let line = format!("  {name} = {},\n", s as u32);
        assert!(header.contains(&line), "include/hdl.h lacks {line:?}");
    }
    let enumerators = header
        .lines()
        .filter(|l| l.trim_start().starts_with("HDL_STATUS_"))
        .count();
    assert_eq!(enumerators, HdlStatus::ALL.len());
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

static CALLBACK_DESTROYS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_destroy(user_data: *mut c_void) {
    assert_eq!(user_data.addr(), 0x5eed);
    CALLBACK_DESTROYS.fetch_add(1, Ordering::SeqCst);
}

/// `arg` points at the callback's own handle: it revokes itself and still returns normally.
unsafe extern "C" fn revoke_self(user_data: *mut c_void, arg: *mut c_void) -> i32 {
    // SAFETY: the tests pass a pointer to a live u64.
    let h = unsafe { *arg.cast::<u64>() };
    assert_eq!(hdl_revoke(h), HdlStatus::Ok);
    user_data.addr() as i32
}

#[test]
fn c_callback_lifecycle() {
    let user_data = core::ptr::without_provenance_mut::<c_void>(0x5eed);
    let mut h = 0u64;
    // SAFETY: valid out-pointers; `revoke_self` gets a pointer to `h` as its arg.
    unsafe {
        assert_eq!(
            hdl_callback_new(None, user_data, Some(count_destroy), &mut h),
            HdlStatus::NullPointer
        );
        assert_eq!(
            hdl_callback_new(Some(revoke_self), user_data, Some(count_destroy), &mut h),
            HdlStatus::Ok
        );
        let mut result = 0;
        let arg = (&raw mut h).cast::<c_void>();
        assert_eq!(hdl_callback_invoke(h, arg, &mut result), HdlStatus::Ok);
        assert_eq!(result, 0x5eed);
        // Revoked from inside: the next call is refused, the output untouched.
        result = 7;
        assert_eq!(hdl_callback_invoke(h, arg, &mut result), HdlStatus::Stale);
        assert_eq!(result, 7);
        assert_eq!(hdl_flush(core::ptr::null_mut()), HdlStatus::Ok);
    }
    assert_eq!(CALLBACK_DESTROYS.load(Ordering::SeqCst), 1);
    // A callback handle is not some other Rust type, and other entries are not callbacks.
    let other = insert(1, 5u32).unwrap();
    // SAFETY: NULL out-pointer is allowed; the registry never calls anything for `other`.
    unsafe {
        assert_eq!(
            hdl_callback_invoke(
                other.into_raw(),
                core::ptr::null_mut(),
                core::ptr::null_mut()
            ),
            HdlStatus::WrongType
        );
    }
    assert_eq!(hdl_revoke(other.into_raw()), HdlStatus::Ok);
    flush();
}

#[test]
fn u32_statuses_of_rust_entry_points_are_hdl_status_values() {
    use handles::Error;
    use handles::ffi::{NullPointer, Status};
    let errors = [
        Error::Null,
        Error::Invalid,
        Error::Stale,
        Error::WrongTable,
        Error::Busy,
        Error::Full,
    ];
    for e in errors {
        assert_eq!(u32::from(e), HdlStatus::from(e) as u32, "{e:?}");
    }
    assert_eq!(u32::from(NullPointer), HdlStatus::from(NullPointer) as u32);
    assert_eq!(<u32 as Status>::OK, HdlStatus::OK as u32);
    assert_eq!(<u32 as Status>::PANIC, HdlStatus::PANIC as u32);
    assert_eq!(HdlStatus::OK, HdlStatus::Ok);
    assert_eq!(HdlStatus::PANIC, HdlStatus::Panic);
    assert_eq!(HdlStatus::from(NullPointer), HdlStatus::NullPointer);
}
