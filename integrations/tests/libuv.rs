//! libuv as a real client of `handles::callback`: a loop thread whose `uv_async_t` handles
//! carry callback handles in `uv_handle_t.data`, woken with `uv_async_send` by 4 other threads,
//! and `uv_queue_work` requests whose `uv_work_t.data` is the handle of a Rust closure run on
//! libuv's thread pool, with the after-work callback on the loop thread; `uv_close` callbacks
//! and after-work callbacks release the handles.
//!
//! The senders reach each `uv_async_t` through a handle of [`PORTS`] (a `HandleTable<Port>`), so
//! a port revoked mid-flight is a clean `Stale` for every later send, and `uv_close` runs only
//! after the last send in flight: the port's `Drop` (which the scoped lookups defer) asks the
//! loop thread to close it. A quarter of the work closures are revoked while queued or running.
//!
//! Checked: every wake-up is seen, every work item is queued once, runs on a pool thread and
//! finishes on the loop thread (or, if revoked, fails cleanly from then on), every handle given
//! to libuv is released exactly once, every closure and port is dropped exactly once.
//!
//! Size: `HANDLES_UV_ITEMS` (default 1,000,000) work items, each sent with one `uv_async_send`,
//! from 4 threads.

use core::alloc::Layout;
use core::ffi::{CStr, c_int, c_void};
use handles::callback::{self, Callback};
use handles::{Error, Handle, HandleTable, ReclaimPolicy};
use handles_integrations::uv::*;
use handles_integrations::{
    LIMIT, assert_no_violations, check, count, flush_callbacks, thread_token, under_every_policy,
    violation, wait_until,
};
use std::collections::VecDeque;
use std::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, Ordering::SeqCst,
};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use test_support::{Drops, Tracked};

const SENDERS: usize = 4;
const NPORTS: usize = 6;
/// Work items queued or running, at most (senders wait below it).
const MAX_IN_FLIGHT: usize = 4096;
/// Revocable work closures a sender keeps before revoking the oldest.
const RING: usize = 512;

/// The loop's `uv_async_t`s, reached by the senders through handles.
static PORTS: HandleTable<Port> = HandleTable::new();

static LOOP: AtomicPtr<uv_loop_t> = AtomicPtr::new(core::ptr::null_mut());
static LOOP_THREAD: AtomicUsize = AtomicUsize::new(0);
/// The loop's control `uv_async_t`: ports to close, and shutdown.
static CONTROL: AtomicPtr<uv_async_t> = AtomicPtr::new(core::ptr::null_mut());
static TO_CLOSE: Mutex<Vec<usize>> = Mutex::new(Vec::new());
static SHUTDOWN: AtomicBool = AtomicBool::new(false);
static OPEN_PORTS: AtomicUsize = AtomicUsize::new(0);

/// Handles released by the close and after-work callbacks, and work items not yet finished.
static RELEASES: AtomicUsize = AtomicUsize::new(0);
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Outcomes of the libuv callbacks.
static ASYNC_CALLS: AtomicU64 = AtomicU64::new(0);
static WORK_OK: AtomicU64 = AtomicU64::new(0);
static WORK_FAILED: AtomicU64 = AtomicU64::new(0);
static AFTER_OK: AtomicU64 = AtomicU64::new(0);
static AFTER_FAILED: AtomicU64 = AtomicU64::new(0);

/// A loop-thread `uv_async_t` as shared with the senders.
#[derive(Clone, Copy)]
struct Async(*mut uv_async_t);
// SAFETY: the senders only call `uv_async_send` on it, the one thread-safe libuv function, and
// only inside a scoped lookup of its port, whose value is dropped (and only then the handle
// closed) after every such lookup has returned.
unsafe impl Send for Async {}
// SAFETY: as above.
unsafe impl Sync for Async {}

/// A port: one of the loop's `uv_async_t`s and the queue of work items sent through it.
struct Port {
    index: usize,
    handle: Async,
    queue: Arc<Mutex<Vec<usize>>>,
    _tracked: Tracked,
}

impl Drop for Port {
    /// No send is in flight any more: ask the loop thread to close the handle.
    fn drop(&mut self) {
        TO_CLOSE.lock().expect("close queue").push(self.index);
        // SAFETY: the control handle stays open until every port is closed (`on_control`), and
        // this port is not closed before this message is handled.
        let rc = unsafe { uv_async_send(CONTROL.load(SeqCst)) };
        check(rc == 0, || format!("uv_async_send(control): {rc}"));
    }
}

/// The stage a work closure is called for.
#[derive(Clone, Copy)]
enum Stage {
    /// In `uv_work_cb`, on a pool thread.
    Run,
    /// In `uv_after_work_cb`, on the loop thread.
    After,
}

/// The closure type behind every `uv_work_t.data`.
type WorkFn = Box<dyn Fn(Stage) + Send + Sync>;
/// The closure type behind every `uv_async_t`'s `data`.
type AsyncFn = Box<dyn Fn() + Send + Sync>;

/// How the revocable work closures ended, counted when each is dropped.
#[derive(Default)]
struct Outcomes {
    complete: AtomicUsize,
    revoked_before_work: AtomicUsize,
    revoked_before_after: AtomicUsize,
    revoked_late: AtomicUsize,
}

/// What a work closure owns.
struct Job {
    tracked: Tracked,
    input: u64,
    result: AtomicU64,
    stage: AtomicU8,
    revocable: bool,
    outcomes: Arc<Outcomes>,
}

fn work(input: u64) -> u64 {
    let mut x = input | 1;
    for _ in 0..32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

impl Drop for Job {
    fn drop(&mut self) {
        let stage = self.stage.load(SeqCst);
        let o = &self.outcomes;
        let counter = match (self.revocable, stage) {
            (false, 2) => &o.complete,
            (false, _) => {
                violation(format!(
                    "work item {}: dropped at stage {stage}",
                    self.tracked.id
                ));
                return;
            }
            (true, 0) => &o.revoked_before_work,
            (true, 1) => &o.revoked_before_after,
            (true, _) => &o.revoked_late,
        };
        counter.fetch_add(1, SeqCst);
    }
}

fn job_closure(job: Job) -> WorkFn {
    Box::new(move |stage| {
        job.tracked.check();
        let id = job.tracked.id;
        let on_loop = thread_token() == LOOP_THREAD.load(SeqCst);
        match stage {
            Stage::Run => {
                check(!on_loop, || {
                    format!("work item {id} ran on the loop thread")
                });
                check(job.stage.load(SeqCst) == 0, || {
                    format!("work item {id} ran twice")
                });
                job.result.store(work(job.input), SeqCst);
                job.stage.store(1, SeqCst);
            }
            Stage::After => {
                check(on_loop, || {
                    format!("work item {id}: after-work off the loop thread")
                });
                check(job.stage.load(SeqCst) == 1, || {
                    format!("work item {id}: after without work")
                });
                check(job.result.load(SeqCst) == work(job.input), || {
                    format!("work item {id}: result")
                });
                job.stage.store(2, SeqCst);
            }
        }
    })
}

/// Releases a handle libuv held (`callback::destroy_notify`), which must succeed.
fn release(data: *mut c_void) {
    RELEASES.fetch_add(1, SeqCst);
    let _ = callback::take_last_error();
    callback::destroy_notify(data);
    if let Some(e) = callback::take_last_error() {
        violation(format!("destroy_notify failed: {e}"));
    }
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 16).expect("libuv struct layout")
}

/// Zeroed memory for a libuv handle or request of `size` bytes.
fn alloc(size: usize) -> *mut u8 {
    // SAFETY: libuv's struct sizes are not zero.
    let p = unsafe { std::alloc::alloc_zeroed(layout(size)) };
    assert!(!p.is_null(), "out of memory");
    p
}

/// `uv_async_cb`: runs the closure that `data` names.
extern "C" fn on_async(handle: *mut uv_async_t) {
    // SAFETY: a live handle of this loop (libuv calls back only for open handles).
    let data = unsafe { uv_handle_get_data(handle.cast()) };
    if let Err(e) = callback::invoke(data, |f: &AsyncFn| f()) {
        violation(format!("async callback failed: {e}"));
    }
}

/// `uv_close_cb`: releases the handle in `data`, then frees the `uv_async_t`.
extern "C" fn on_closed(handle: *mut uv_handle_t) {
    // SAFETY: libuv is done with the handle: read its data, then free it (allocated by
    // `new_async` with this size).
    unsafe {
        release(uv_handle_get_data(handle));
        std::alloc::dealloc(handle.cast(), layout(uv_handle_size(UV_ASYNC)));
    }
}

/// `uv_work_cb`, on a pool thread: the closure's `Run` stage; a revoked one fails cleanly.
extern "C" fn on_work(req: *mut uv_work_t) {
    // SAFETY: a queued request; its data was set before `uv_queue_work`.
    let data = unsafe { uv_req_get_data(req) };
    match callback::invoke(data, |f: &WorkFn| f(Stage::Run)) {
        Ok(()) => WORK_OK.fetch_add(1, SeqCst),
        Err(_) => WORK_FAILED.fetch_add(1, SeqCst),
    };
}

/// `uv_after_work_cb`, on the loop thread: the closure's `After` stage, then the release of
/// the handle in `uv_work_t.data` and the request's memory.
extern "C" fn on_after(req: *mut uv_work_t, status: c_int) {
    check(status == 0, || format!("after-work status {status}"));
    // SAFETY: as in `on_work`; libuv is done with the request after this callback.
    let data = unsafe { uv_req_get_data(req) };
    match callback::invoke(data, |f: &WorkFn| f(Stage::After)) {
        Ok(()) => AFTER_OK.fetch_add(1, SeqCst),
        Err(_) => AFTER_FAILED.fetch_add(1, SeqCst),
    };
    release(data);
    // SAFETY: allocated by `queue_work` with this size; libuv no longer uses it.
    unsafe { std::alloc::dealloc(req.cast(), layout(uv_req_size(UV_WORK))) };
    IN_FLIGHT.fetch_sub(1, SeqCst);
}

/// On the loop thread: queues the work item whose handle is `data`.
fn queue_work(data: usize) {
    // SAFETY: `uv_req_size` takes any request type.
    let req: *mut uv_work_t = alloc(unsafe { uv_req_size(UV_WORK) }).cast();
    // SAFETY: a zeroed request of the right size; the loop thread owns the loop.
    let rc = unsafe {
        uv_req_set_data(req, data as *mut c_void);
        uv_queue_work(LOOP.load(SeqCst), req, on_work, on_after)
    };
    assert_eq!(rc, 0, "uv_queue_work");
}

/// On the loop thread: takes every item sent through a port's queue and queues its work.
fn drain(queue: &Mutex<Vec<usize>>) {
    let items = core::mem::take(&mut *queue.lock().expect("port queue"));
    for data in items {
        queue_work(data);
    }
}

/// On the loop thread: a new `uv_async_t` whose `data` is the registration of `f`.
fn new_async(f: AsyncFn) -> *mut uv_async_t {
    // SAFETY: `uv_handle_size` takes any handle type.
    let handle: *mut uv_async_t = alloc(unsafe { uv_handle_size(UV_ASYNC) }).cast();
    // SAFETY: zeroed memory of the right size; this thread runs the loop. `on_closed` releases
    // the registration given to `data` and frees the memory.
    unsafe {
        let rc = uv_async_init(LOOP.load(SeqCst), handle, on_async);
        assert_eq!(rc, 0, "uv_async_init");
        uv_handle_set_data(handle.cast(), Callback::new(f).into_user_data());
    }
    handle
}

/// The loop thread: sets up the loop, the control handle and the ports (their handles go to
/// `ports`), runs the loop until every handle is closed, and closes it.
fn run_loop(ports: Arc<Mutex<Option<Vec<Handle>>>>, port_drops: Drops) {
    LOOP_THREAD.store(thread_token(), SeqCst);
    // SAFETY: `uv_loop_size` has no preconditions.
    let event_loop: *mut uv_loop_t = alloc(unsafe { uv_loop_size() }).cast();
    // SAFETY: zeroed memory of the right size.
    assert_eq!(unsafe { uv_loop_init(event_loop) }, 0, "uv_loop_init");
    LOOP.store(event_loop, SeqCst);
    let queues: Vec<Arc<Mutex<Vec<usize>>>> = (0..NPORTS).map(|_| Arc::default()).collect();
    let asyncs: Vec<Async> = queues
        .iter()
        .map(|q| {
            let q = q.clone();
            Async(new_async(Box::new(move || {
                ASYNC_CALLS.fetch_add(1, SeqCst);
                drain(&q);
            })))
        })
        .collect();
    let control = {
        let (queues, asyncs) = (queues.clone(), asyncs.clone());
        new_async(Box::new(move || {
            let closing = core::mem::take(&mut *TO_CLOSE.lock().expect("close queue"));
            for index in closing {
                // Items sent before the port's last send whose wake-up was merged into one
                // that has not run yet: `uv_close` cancels pending wake-ups.
                drain(&queues[index]);
                // SAFETY: an open handle of this loop; `on_closed` releases its data.
                unsafe { uv_close(asyncs[index].0.cast(), Some(on_closed)) };
                OPEN_PORTS.fetch_sub(1, SeqCst);
            }
            if SHUTDOWN.load(SeqCst) && OPEN_PORTS.load(SeqCst) == 0 {
                // SAFETY: as above; every port is dropped, so nothing sends on it any more.
                unsafe { uv_close(CONTROL.load(SeqCst).cast(), Some(on_closed)) };
            }
        }))
    };
    CONTROL.store(control, SeqCst);
    OPEN_PORTS.store(NPORTS, SeqCst);
    let handles = (0..NPORTS)
        .map(|index| {
            PORTS.insert(Port {
                index,
                handle: asyncs[index],
                queue: queues[index].clone(),
                _tracked: port_drops.value(index),
            })
        })
        .collect();
    *ports.lock().expect("port handles") = Some(handles);
    // SAFETY: the loop and its handles were set up on this thread.
    let rc = unsafe { uv_run(event_loop, UV_RUN_DEFAULT) };
    assert_eq!(rc, 0, "uv_run returned with live handles");
    // SAFETY: every handle is closed and every request done.
    let rc = unsafe { uv_loop_close(event_loop) };
    assert_eq!(rc, 0, "uv_loop_close: {:?}", uv_error(rc));
    LOOP.store(core::ptr::null_mut(), SeqCst);
    // SAFETY: allocated above with this size; closed.
    unsafe { std::alloc::dealloc(event_loop.cast(), layout(uv_loop_size())) };
}

fn uv_error(rc: c_int) -> String {
    // SAFETY: `uv_strerror` returns a static string for any code (leaking for unknown ones).
    unsafe { CStr::from_ptr(uv_strerror(rc)) }
        .to_string_lossy()
        .into_owned()
}

/// The enum values declared in `uv.rs` name the types they should.
fn check_declarations() {
    // SAFETY: both take any value of their enum.
    let (handle, req) = unsafe { (uv_handle_type_name(UV_ASYNC), uv_req_type_name(UV_WORK)) };
    // SAFETY: non-NULL results are static strings.
    assert_eq!(unsafe { CStr::from_ptr(handle) }, c"async");
    // SAFETY: as above.
    assert_eq!(unsafe { CStr::from_ptr(req) }, c"work");
}

/// Sends one work item through the first live port from `start` on; returns the failed sends.
fn send(ports: &[Handle], dead: &mut [bool], start: usize, data: usize) -> u64 {
    let mut failed = 0;
    for j in (0..NPORTS).map(|j| (start + j) % NPORTS) {
        if dead[j] {
            continue;
        }
        let sent = PORTS.with(ports[j], |port| {
            port.queue.lock().expect("port queue").push(data);
            // SAFETY: the scoped lookup keeps the port, and so the open handle, alive.
            unsafe { uv_async_send(port.handle.0) }
        });
        match sent {
            Ok(rc) => {
                check(rc == 0, || format!("uv_async_send: {}", uv_error(rc)));
                return failed;
            }
            Err(e) => {
                check(e == Error::Stale, || format!("send to a revoked port: {e}"));
                failed += 1;
                dead[j] = true;
            }
        }
    }
    panic!("no live port");
}

fn wake_ups_and_work(policy: ReclaimPolicy) {
    check_declarations();
    PORTS.set_reclaim_policy(policy);
    SHUTDOWN.store(false, SeqCst);
    let items = count("HANDLES_UV_ITEMS", 1_000_000);
    let per_sender = items.div_ceil(SENDERS);
    let jobs = per_sender * SENDERS;
    let drops = Drops::new(jobs);
    let port_drops = Drops::new(NPORTS);
    let outcomes = Arc::new(Outcomes::default());

    // (A mutex rather than a channel: std's channels keep a thread-local context that valgrind
    // reports as possibly lost at exit.)
    let handoff = Arc::new(Mutex::new(None));
    let runner = {
        let (handoff, port_drops) = (handoff.clone(), port_drops.clone());
        std::thread::spawn(move || run_loop(handoff, port_drops))
    };
    wait_until("the loop thread's ports", LIMIT, || {
        handoff.lock().expect("port handles").is_some()
    });
    let ports: Arc<Vec<Handle>> =
        Arc::new(handoff.lock().expect("port handles").take().expect("ports"));
    let failed_sends = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let senders: Vec<_> = (0..SENDERS)
        .map(|t| {
            let (drops, outcomes, ports) = (drops.clone(), outcomes.clone(), ports.clone());
            let failed_sends = failed_sends.clone();
            std::thread::spawn(move || {
                let mut dead = [false; NPORTS];
                let mut ring = VecDeque::new();
                for k in 0..per_sender {
                    // Two ports are revoked mid-flight, while every sender uses them.
                    if (t, k) == (0, per_sender / 3) || (t, k) == (1, 2 * per_sender / 3) {
                        PORTS.revoke(ports[NPORTS - 1 - t]).expect("revoke a port");
                        PORTS.flush(); // under Explicit, nothing else would drop it
                    }
                    while IN_FLIGHT.load(SeqCst) >= MAX_IN_FLIGHT {
                        std::thread::yield_now();
                    }
                    let id = t * per_sender + k;
                    let revocable = k % 4 == 0;
                    let cb = Callback::new(job_closure(Job {
                        tracked: drops.value(id),
                        input: id as u64,
                        result: AtomicU64::new(0),
                        stage: AtomicU8::new(0),
                        revocable,
                        outcomes: outcomes.clone(),
                    }));
                    let data = if revocable {
                        let data = cb.user_data_owned().expect("a reference for libuv");
                        ring.push_back(cb);
                        data
                    } else {
                        cb.into_user_data()
                    };
                    IN_FLIGHT.fetch_add(1, SeqCst);
                    let failed = send(&ports, &mut dead, k + t, data as usize);
                    failed_sends.fetch_add(failed, SeqCst);
                    if ring.len() > RING {
                        drop(ring.pop_front()); // revoked: queued, running or done
                    }
                    if policy == ReclaimPolicy::Explicit && k % 16_384 == 0 {
                        callback::flush();
                    }
                }
            })
        })
        .collect();
    for s in senders {
        s.join().expect("sender");
    }
    wait_until("every work item", LIMIT, || IN_FLIGHT.load(SeqCst) == 0);
    let elapsed = start.elapsed();
    for &port in ports.iter().take(NPORTS - 2) {
        PORTS.revoke(port).expect("revoke a port");
    }
    wait_until("every port dropped", LIMIT, || PORTS.flush() == 0);
    SHUTDOWN.store(true, SeqCst);
    // SAFETY: the control handle is open until it has seen SHUTDOWN with every port closed.
    unsafe { uv_async_send(CONTROL.load(SeqCst)) };
    runner.join().expect("loop thread");

    let jobs64 = jobs as u64;
    assert_eq!(
        WORK_OK.load(SeqCst) + WORK_FAILED.load(SeqCst),
        jobs64,
        "work callbacks"
    );
    assert_eq!(
        AFTER_OK.load(SeqCst) + AFTER_FAILED.load(SeqCst),
        jobs64,
        "after-work callbacks"
    );
    assert_eq!(
        RELEASES.load(SeqCst),
        jobs + NPORTS + 1,
        "one release per handle given to libuv"
    );
    assert!(failed_sends.load(SeqCst) >= 1, "no send met a revoked port");
    flush_callbacks();
    drops.assert_all_once();
    port_drops.assert_all_once();
    let o = &outcomes;
    let revocable = SENDERS * per_sender.div_ceil(4);
    assert_eq!(
        o.complete.load(SeqCst),
        jobs - revocable,
        "every unrevoked item completes"
    );
    assert_eq!(
        o.revoked_before_work.load(SeqCst)
            + o.revoked_before_after.load(SeqCst)
            + o.revoked_late.load(SeqCst),
        revocable
    );
    assert_eq!(PORTS.len(), 0);
    assert_no_violations();
    println!(
        "libuv: {jobs} work items and {jobs} wake-ups (uv_async_send) from {SENDERS} threads in \
         {:.2} s: {} async callbacks; {} sends met one of 2 ports revoked mid-flight; {revocable} \
         revocable items: {} revoked before their work, {} between work and after-work, {} after; \
         {} handles released by after-work and close callbacks, each once; every closure and port \
         dropped once",
        elapsed.as_secs_f64(),
        ASYNC_CALLS.load(SeqCst),
        failed_sends.load(SeqCst),
        o.revoked_before_work.load(SeqCst),
        o.revoked_before_after.load(SeqCst),
        o.revoked_late.load(SeqCst),
        RELEASES.load(SeqCst),
    );
}

fn main() {
    under_every_policy(|policy| {
        println!("libuv: policy {policy:?}");
        wake_ups_and_work(policy);
        assert_eq!(callback::registered(), 0, "closures left registered");
    });
}
