//! A C thread pool (`examples/c/pool.c`) driven from Rust through callback handles: several
//! Rust threads submit tasks whose `user_data` is a callback handle; pool workers (threads
//! created by C) run them through the `extern "C"` trampoline. Some callbacks unregister
//! themselves from inside the callback, and some tasks resubmit work from a pool worker.

use core::ffi::c_void;
use handles::callback::{self, Callback};
use handles_tests::pool::{Pool, Task};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counted {
    calls: AtomicUsize,
    /// The call count right after a self-revoking callback's revoke returned (0 before).
    at_revoke: AtomicUsize,
    drops: AtomicUsize,
}

/// Lives inside each closure; counts the closure's drop.
struct DropToken(Arc<Counted>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.drops.fetch_add(1, Ordering::SeqCst);
    }
}

const CALLBACKS: usize = 32;
const SUBMITTERS: usize = 4;
const TASKS_PER_SUBMITTER: usize = 50_000;
/// Callbacks with an index divisible by this unregister themselves after `LIMIT` calls.
const SELF_REVOKING: usize = 4;
const LIMIT: usize = 100;
const WORKERS: usize = 4;

#[test]
fn c_thread_pool_runs_rust_callbacks_by_handle() {
    test_support::not_alone();
    // Closures keep the pool alive; this thread holds the last reference (dropped after the
    // closures), so `pool_free` never runs on a pool worker.
    let pool = Arc::new(Pool::new(WORKERS));

    let stats: Vec<Arc<Counted>> = (0..CALLBACKS)
        .map(|_| {
            Arc::new(Counted {
                calls: AtomicUsize::new(0),
                at_revoke: AtomicUsize::new(0),
                drops: AtomicUsize::new(0),
            })
        })
        .collect();
    let resubmitted = Arc::new(AtomicUsize::new(0));
    let mut registrations = Vec::new();
    let mut task: Option<Task> = None;
    for (i, counted) in stats.iter().enumerate() {
        let token = DropToken(counted.clone());
        let resubmitted = resubmitted.clone();
        let pool = pool.clone();
        let cb = Callback::new(move || {
            let counted = &token.0;
            let n = counted.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if i % SELF_REVOKING == 0 && n == LIMIT {
                // Re-entrancy across the boundary: unregister ourselves from inside a call
                // that C made; this call finishes normally, later ones fail.
                callback::revoke(callback::current().unwrap()).unwrap();
                // Other workers may have called it between our increment and the revoke (a
                // worker preempted there sees many): the bound below counts from here.
                counted
                    .at_revoke
                    .store(counted.calls.load(Ordering::SeqCst), Ordering::SeqCst);
            }
            if i == 1 && n.is_multiple_of(1000) {
                // A task that submits more work from the pool's own worker thread.
                resubmitted.fetch_add(1, Ordering::SeqCst);
                let me = callback::current().unwrap();
                // SAFETY: the trampoline checks its user_data, a callback handle.
                unsafe { pool.submit(callback::trampoline0_fn::<NoopTask, ()>, noop(me)) };
            }
        });
        task.get_or_insert(cb.trampoline0());
        // Self-revoking callbacks own themselves; the rest stay owned here.
        if i % SELF_REVOKING == 0 {
            registrations.push((cb.user_data() as usize, None));
            let _ = cb.into_handle();
        } else {
            registrations.push((cb.user_data() as usize, Some(cb)));
        }
    }
    // All closures share one type here, so one trampoline serves them all.
    let task = task.unwrap();
    let user_data: Vec<usize> = registrations.iter().map(|(u, _)| *u).collect();

    std::thread::scope(|s| {
        for t in 0..SUBMITTERS {
            let (user_data, pool) = (&user_data, &pool);
            s.spawn(move || {
                for k in 0..TASKS_PER_SUBMITTER {
                    let user_data = user_data[(t * 7 + k) % CALLBACKS] as *mut c_void;
                    // SAFETY: `task` is a trampoline; it checks `user_data`, a callback handle.
                    unsafe { pool.submit(task, user_data) };
                }
            });
        }
    });
    pool.wait();
    let completed = pool.completed();
    let resubmitted = resubmitted.load(Ordering::SeqCst);
    assert_eq!(completed, SUBMITTERS * TASKS_PER_SUBMITTER + resubmitted);

    let mut submitted = [0usize; CALLBACKS];
    for t in 0..SUBMITTERS {
        for k in 0..TASKS_PER_SUBMITTER {
            submitted[(t * 7 + k) % CALLBACKS] += 1;
        }
    }
    for (i, counted) in stats.iter().enumerate() {
        let calls = counted.calls.load(Ordering::SeqCst);
        if i % SELF_REVOKING == 0 {
            // Once the self-revoke has returned, only calls already in progress on the other
            // workers (their lookups done before it) can still count.
            let at_revoke = counted.at_revoke.load(Ordering::SeqCst);
            assert!(
                at_revoke >= LIMIT,
                "callback {i}: revoked at {at_revoke} calls"
            );
            assert!(
                (at_revoke..at_revoke + WORKERS).contains(&calls),
                "callback {i}: {calls} calls, {at_revoke} when its revoke returned"
            );
        } else {
            assert_eq!(calls, submitted[i], "callback {i}");
        }
    }
    assert!(resubmitted > 0);

    // Unregister the rest; every closure drops exactly once.
    for (_, cb) in registrations {
        if let Some(cb) = cb {
            cb.revoke().unwrap();
        }
    }
    // A late task is a clean no-op.
    // SAFETY: as above; the handle is stale now, which the trampoline reports.
    unsafe { pool.submit(task, user_data[1] as *mut c_void) };
    pool.wait();
    callback::flush();
    assert_eq!(Arc::strong_count(&pool), 1);
    drop(pool); // pool_free: joins the C workers
    for (i, counted) in stats.iter().enumerate() {
        assert_eq!(counted.drops.load(Ordering::SeqCst), 1, "callback {i}");
    }
}

/// The resubmitted task's callback: a different closure type with its own registration.
type NoopTask = Box<dyn Fn() + Send + Sync>;

fn noop(parent: handles::Handle) -> *mut c_void {
    let cb: Callback<NoopTask> = Callback::new(Box::new(move || {
        // Runs on a pool worker; its parent may already be revoked, which is fine.
        let _ = callback::is_registered(parent);
        callback::revoke(callback::current().unwrap()).unwrap();
    }));
    cb.into_user_data()
}
