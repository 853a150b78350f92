//! Callback registries: closures registered as callbacks, called through `extern "C"`
//! trampolines with the handle as `void *user_data`.

use core::ffi::c_void;
use handles::Error;
use handles::callback::{self, CallError, Callback};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts its drops.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counter() -> (Arc<AtomicUsize>, DropCounter) {
    let n = Arc::new(AtomicUsize::new(0));
    (n.clone(), DropCounter(n))
}

/// Every arity, user_data first and last, calls its closure with the arguments in order.
#[test]
fn trampolines_pass_arguments_in_order() {
    test_support::not_alone();
    let cb0 = Callback::new(|| 7u64);
    let f0: extern "C" fn(*mut c_void) -> u64 = cb0.trampoline0();
    assert_eq!(f0(cb0.user_data()), 7);

    let cb1 = Callback::new(|a: i32| a * 10);
    assert_eq!(cb1.trampoline1()(cb1.user_data(), 4), 40);
    assert_eq!(cb1.trampoline1_last()(4, cb1.user_data()), 40);

    let cb2 = Callback::new(|a: i64, b: i64| a - b);
    assert_eq!(cb2.trampoline2()(cb2.user_data(), 9, 2), 7);
    assert_eq!(cb2.trampoline2_last()(9, 2, cb2.user_data()), 7);

    let cb3 = Callback::new(|a: u8, b: u16, c: u32| {
        u64::from(a) * 100 + u64::from(b) * 10 + u64::from(c)
    });
    assert_eq!(cb3.trampoline3()(cb3.user_data(), 1, 2, 3), 123);
    assert_eq!(cb3.trampoline3_last()(1, 2, 3, cb3.user_data()), 123);

    let cb4 = Callback::new(|a: f64, b: f64, c: f64, d: *const u8| {
        a + b + c + if d.is_null() { 0.0 } else { 1.0 }
    });
    assert_eq!(
        cb4.trampoline4()(cb4.user_data(), 1.0, 2.0, 3.0, std::ptr::null()),
        6.0
    );
    assert_eq!(
        cb4.trampoline4_last()(1.0, 2.0, 3.0, b"x".as_ptr(), cb4.user_data()),
        7.0
    );
}

/// The `qsort_r` shape (GNU: user_data last), driven by a C library function (glibc's: other C
/// libraries order the arguments differently or lack it).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn glibc_qsort_r_calls_a_registered_comparator() {
    use core::ffi::c_int;
    test_support::not_alone();
    unsafe extern "C" {
        fn qsort_r(
            base: *mut c_void,
            nmemb: usize,
            size: usize,
            compar: extern "C" fn(*const c_void, *const c_void, *mut c_void) -> c_int,
            arg: *mut c_void,
        );
    }
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    // Descending order, counting comparisons.
    let cb = Callback::new(move |a: *const c_void, b: *const c_void| -> c_int {
        seen.fetch_add(1, Ordering::Relaxed);
        // SAFETY: qsort_r passes pointers to two elements of the i32 array below.
        let (a, b) = unsafe { (*a.cast::<i32>(), *b.cast::<i32>()) };
        b.cmp(&a) as c_int
    });
    let mut values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5];
    // SAFETY: base/nmemb/size describe `values`; the comparator reads only those elements.
    unsafe {
        qsort_r(
            values.as_mut_ptr().cast(),
            values.len(),
            size_of::<i32>(),
            cb.trampoline2_last(),
            cb.user_data(),
        )
    };
    assert_eq!(values, [9, 6, 5, 5, 5, 4, 3, 3, 2, 1, 1]);
    assert!(calls.load(Ordering::Relaxed) >= values.len() - 1);
}

/// Late, forged, foreign and wrong-type user_data get the fallback and a reason, never UB.
#[test]
fn bad_user_data_returns_the_fallback_and_records_why() {
    test_support::not_alone();
    let cb = Callback::new(|x: i32| x + 1);
    let f = cb.trampoline1();
    let user_data = cb.user_data();

    callback::take_last_error();
    assert_eq!(f(core::ptr::null_mut(), 1), -1);
    assert_eq!(
        callback::take_last_error(),
        Some(CallError::Handle(Error::Null))
    );

    // A handle from another table.
    let other = handles::HandleTable::new();
    let foreign = other.insert(0u8);
    assert_eq!(f(foreign.into_ptr(), 1), -1);
    assert_eq!(
        callback::take_last_error(),
        Some(CallError::Handle(Error::WrongTable))
    );

    // Forged values: never reach the closure.
    for forged in [
        1u64,
        0xdead_beef,
        u64::MAX,
        user_data as u64 ^ (1 << 40),
        user_data as u64 + 1,
    ] {
        assert_eq!(f(forged as usize as *mut c_void, 1), -1, "{forged:#x}");
        assert!(callback::take_last_error().is_some());
    }

    // Right handle, wrong trampoline type.
    let g = Callback::new(|x: i32| x as u32).trampoline1();
    assert_eq!(g(user_data, 1), u32::MAX);
    assert_eq!(callback::take_last_error(), Some(CallError::WrongType));

    assert_eq!(f(user_data, 1), 2);
    drop(cb);
    assert_eq!(f(user_data, 1), -1);
    assert_eq!(
        callback::take_last_error(),
        Some(CallError::Handle(Error::Stale))
    );
}

/// A panicking closure returns the fallback through the trampoline and stays registered.
#[test]
fn panics_are_caught_at_the_trampoline() {
    test_support::not_alone();
    let cb = Callback::new(|x: i32| -> Option<i32> {
        if x < 0 {
            panic!("negative");
        }
        Some(x)
    });
    let f = cb.trampoline1();
    assert_eq!(f(cb.user_data(), -5), None);
    assert_eq!(callback::take_last_error(), Some(CallError::Panicked));
    assert_eq!(f(cb.user_data(), 5), Some(5));
    assert!(callback::is_registered(cb.handle()));

    let with_result = Callback::new(|| -> Result<(), CallError> { panic!("boom") });
    assert_eq!(
        with_result.trampoline0()(with_result.user_data()),
        Err(CallError::Panicked)
    );
}

/// `current()` names the running callback (nested ones included); a callback can unregister
/// itself, finishing the call in progress.
#[test]
fn callbacks_unregister_themselves() {
    test_support::not_alone();
    let (drops, token) = counter();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let cb = Callback::new(move || -> bool {
        let _keep = &token;
        seen.fetch_add(1, Ordering::SeqCst);
        let me = callback::current().expect("inside a callback");
        callback::revoke(me).unwrap();
        // Still running, still borrowed: the closure (and `token`) are alive.
        true
    });
    let f = cb.trampoline0();
    let user_data = cb.user_data();
    let handle = cb.into_handle();
    assert_eq!(callback::current(), None);
    assert!(f(user_data));
    assert!(!f(user_data));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(!callback::is_registered(handle));
    callback::flush();
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    // Nested: the inner callback sees itself, the outer sees itself again afterwards.
    let inner = Callback::new(|| callback::current().map(|h| h.into_raw()));
    let inner_f = inner.trampoline0();
    let inner_ud = inner.user_data() as usize;
    let outer = Callback::new(move || {
        let me = callback::current().unwrap().into_raw();
        let seen_inner = inner_f(inner_ud as *mut c_void).unwrap();
        Some((me, seen_inner, callback::current().unwrap().into_raw()))
    });
    let (me, seen_inner, me_again) = outer.trampoline0()(outer.user_data()).unwrap();
    assert_eq!(me, outer.handle().into_raw());
    assert_eq!(seen_inner, inner.handle().into_raw());
    assert_eq!(me_again, me);
}

/// The destroy-notify protocol: each owner lets go once; the closure drops exactly once, after
/// the last.
#[test]
fn destroy_notify_drops_the_closure_exactly_once() {
    test_support::not_alone();
    // Rust keeps the registration, C gets a reference.
    let (drops, token) = counter();
    let cb = Callback::new(move |x: i32| {
        let _keep = &token;
        x
    });
    let f = cb.trampoline1();
    let c_ref = cb.user_data_owned().unwrap();
    assert_eq!(f(c_ref, 3), 3);
    cb.revoke().unwrap(); // not callable any more, but C still holds it
    assert_eq!(f(c_ref, 3), -1);
    callback::flush();
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    callback::destroy_notify(c_ref);
    callback::flush();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    // A second destroy is a recorded no-op.
    callback::take_last_error();
    callback::destroy_notify(c_ref);
    assert_eq!(
        callback::take_last_error(),
        Some(CallError::Handle(Error::Stale))
    );
    callback::flush();
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    // C owns the registration.
    let (drops, token) = counter();
    let cb = Callback::new(move || {
        let _keep = &token;
    });
    let f = cb.trampoline0();
    let user_data = cb.into_user_data();
    f(user_data);
    callback::destroy_notify(user_data);
    callback::flush();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// Many threads call one callback while another thread revokes it: every call either runs the
/// closure or returns the fallback with `Stale`; the closure drops once, after the last call.
#[test]
fn revoke_races_calls_from_many_threads() {
    test_support::not_alone();
    for _round in 0..20 {
        let (drops, token) = counter();
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let cb = Callback::new(move |x: u32| -> u32 {
            let _keep = &token;
            seen.fetch_add(1, Ordering::Relaxed);
            x
        });
        let f = cb.trampoline1();
        let user_data = cb.user_data() as usize;
        let (ok, failed) = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(move || {
                        let (mut ok, mut failed) = (0usize, 0usize);
                        for i in 0..20_000u32 {
                            match f(user_data as *mut c_void, i % 1000) {
                                u32::MAX => {
                                    assert_eq!(
                                        callback::take_last_error(),
                                        Some(CallError::Handle(Error::Stale))
                                    );
                                    failed += 1;
                                }
                                x => {
                                    assert_eq!(x, i % 1000);
                                    assert_eq!(failed, 0, "a call succeeded after a stale one");
                                    ok += 1;
                                }
                            }
                        }
                        (ok, failed)
                    })
                })
                .collect();
            std::thread::yield_now();
            cb.revoke().unwrap();
            workers
                .into_iter()
                .map(|w| w.join().unwrap())
                .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
        });
        assert_eq!(ok + failed, 80_000);
        assert_eq!(calls.load(Ordering::Relaxed), ok);
        callback::flush();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}

/// `invoke` serves shapes the trampolines do not cover, with the same checks.
#[test]
fn invoke_checks_type_and_catches_panics() {
    test_support::not_alone();
    fn len_of<F: Fn(&str) -> usize + 'static>(
        cb: &Callback<F>,
        s: &str,
    ) -> Result<usize, CallError> {
        callback::invoke(cb.user_data(), |f: &F| f(s))
    }
    let cb = Callback::new(|s: &str| {
        assert!(!s.is_empty(), "empty");
        s.len()
    });
    assert_eq!(len_of(&cb, "four"), Ok(4));
    assert_eq!(len_of(&cb, ""), Err(CallError::Panicked));
    assert_eq!(
        callback::invoke(cb.user_data(), |f: &fn() -> usize| f()),
        Err(CallError::WrongType)
    );
}
