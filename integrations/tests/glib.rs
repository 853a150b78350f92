//! GLib as a real client of `handles::callback`: Rust closures behind handles handed to
//! `g_idle_add_full`, `g_timeout_add_full`, `g_main_context_invoke_full` (from 4 threads into
//! one `GMainLoop`) and `g_signal_connect_data` on a `GObject`, each with a destroy-notify that
//! releases the reference given to GLib.
//!
//! Checked: every dispatch reaches its own closure on the right thread; a source whose closure
//! Rust revoked while it was pending is removed at its next dispatch (its `GSourceFunc` returns
//! `G_SOURCE_REMOVE`, the [`SourceControl`] fallback) and nothing crashes; a revoked signal
//! handler stays connected and does nothing; every `GDestroyNotify` / `GClosureNotify` runs
//! exactly once; every closure is dropped exactly once.
//!
//! Sizes: `HANDLES_GLIB_ITEMS` (default 250,000) invokes per producer thread, plus an idle
//! source every 4th and a repeating timeout every 256th; `HANDLES_GLIB_EMITS` (default
//! 100,000) signal emissions per emitting thread, 8 handlers each.

use core::ffi::{c_int, c_uint, c_ulong, c_void};
use handles::ReclaimPolicy;
use handles::callback::{self, CallError, Callback};
use handles_integrations::glib::*;
use handles_integrations::{
    LIMIT, assert_no_violations, check, count, flush_callbacks, thread_token, under_every_policy,
    wait_until,
};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::time::Instant;
use test_support::{Drops, Tracked};

const PRODUCERS: usize = 4;
/// GLib sources waiting for their destroy-notify, at most (producers wait below it): GLib's
/// `prepare`/`check` walk every source of the context on each iteration.
const MAX_PENDING: usize = 1024;
/// Revocable closures a producer keeps before revoking the oldest, while its source may still
/// be pending.
const RING: usize = 8;
/// Dispatches of a repeating timeout that nobody revokes.
const TIMEOUT_RUNS: u32 = 5;

/// `GDestroyNotify`s (and `GClosureNotify`s) run so far, and sources not yet destroyed.
static NOTIFIES: AtomicUsize = AtomicUsize::new(0);
static PENDING: AtomicUsize = AtomicUsize::new(0);

/// The destroy-notify given to GLib: counts, then releases GLib's reference
/// (`callback::destroy_notify`), which must succeed: an extra or a late release is an error.
extern "C" fn counted_notify(data: gpointer) {
    NOTIFIES.fetch_add(1, SeqCst);
    let _ = callback::take_last_error();
    callback::destroy_notify(data);
    if let Some(e) = callback::take_last_error() {
        handles_integrations::violation(format!("destroy_notify failed: {e}"));
    }
    PENDING.fetch_sub(1, SeqCst);
}

/// `g_signal_connect_data`'s destroy-notify has a second argument (the `GClosure`).
extern "C" fn counted_closure_notify(data: gpointer, _closure: *mut c_void) {
    counted_notify(data);
}

/// How the sources' closures ended, counted when each closure is dropped.
#[derive(Default)]
struct Outcomes {
    /// Not revocable: ran exactly its number of times.
    complete: AtomicUsize,
    /// Revoked before its first dispatch.
    revoked_unrun: AtomicUsize,
    /// Revoked after some but not all of its dispatches.
    revoked_partial: AtomicUsize,
    /// Revoked after its last dispatch (no effect).
    revoked_late: AtomicUsize,
}

/// What an idle or timeout closure owns: its drop-counted value and its dispatch count.
struct Source {
    tracked: Tracked,
    runs: Arc<AtomicU32>,
    max_runs: u32,
    revocable: bool,
    thread: usize,
    outcomes: Arc<Outcomes>,
}

impl Drop for Source {
    fn drop(&mut self) {
        let runs = self.runs.load(SeqCst);
        let o = &self.outcomes;
        if !self.revocable {
            check(runs == self.max_runs, || {
                format!(
                    "source {}: {runs} runs of {}",
                    self.tracked.id, self.max_runs
                )
            });
            o.complete.fetch_add(1, SeqCst);
        } else if runs == 0 {
            o.revoked_unrun.fetch_add(1, SeqCst);
        } else if runs < self.max_runs {
            o.revoked_partial.fetch_add(1, SeqCst);
        } else {
            o.revoked_late.fetch_add(1, SeqCst);
        }
    }
}

/// The closure of an idle or timeout source: one type for both, so one ring holds both.
fn source_closure(s: Source) -> impl Fn() -> SourceControl + Send + Sync + 'static {
    move || {
        s.tracked.check();
        let n = s.runs.fetch_add(1, SeqCst) + 1;
        check(n <= s.max_runs, || {
            format!(
                "source {} ran {n} times, at most {}",
                s.tracked.id, s.max_runs
            )
        });
        check(thread_token() == s.thread, || {
            format!("source {} dispatched on another thread", s.tracked.id)
        });
        if n >= s.max_runs {
            SourceControl::REMOVE
        } else {
            SourceControl::CONTINUE
        }
    }
}

/// Adds an idle (`timeout: None`) or timeout source for `cb`: GLib gets its own reference when
/// `keep` (the caller keeps `cb` to revoke later), else the registration itself.
fn add_source<F>(
    cb: Callback<F>,
    timeout: Option<c_uint>,
    keep: bool,
) -> (c_uint, Option<Callback<F>>)
where
    F: Fn() -> SourceControl + Send + Sync + 'static,
{
    let function: GSourceFunc = cb.trampoline0();
    let (data, kept) = if keep {
        (cb.user_data_owned().expect("a fresh callback"), Some(cb))
    } else {
        (cb.into_user_data(), None)
    };
    PENDING.fetch_add(1, SeqCst);
    // SAFETY: `function` is an `extern "C" fn(gpointer) -> gboolean` (`SourceControl` is a
    // transparent `c_int`) that accepts any `data`; `counted_notify` releases exactly the one
    // reference `data` carries, and GLib calls it once when the source is destroyed.
    let id = unsafe {
        match timeout {
            None => g_idle_add_full(
                G_PRIORITY_DEFAULT_IDLE,
                function,
                data,
                Some(counted_notify),
            ),
            Some(ms) => {
                g_timeout_add_full(G_PRIORITY_DEFAULT, ms, function, data, Some(counted_notify))
            }
        }
    };
    assert_ne!(id, 0, "GLib returned source id 0");
    (id, kept)
}

/// Failed lookups of stale handles so far, in the whole process (the trampolines' clean
/// failures; counted per thread, on the failure path only).
fn stale_failures() -> u64 {
    handles::thread_stats().failures.stale()
}

/// Raw pointers that the test hands to other threads (GLib's objects are thread-safe where used).
#[derive(Clone, Copy)]
struct Shared(*mut c_void);
// SAFETY: the pointee is a `GMainLoop` or a `GObject`, whose functions used here
// (`g_main_loop_quit`, `g_signal_emit`, `g_signal_handler_disconnect`) are thread-safe.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

/// Sources revoked while pending, dispatched by this thread with `g_main_context_iteration`:
/// the revoked idles never run, revoked timeouts stop exactly where they were, every source is
/// removed, and every notify runs once.
fn revoked_while_pending() {
    const N: usize = 64;
    /// Dispatches of each timeout (interval 0) that is not revoked: enough that none can
    /// finish while this thread waits for every timeout's first dispatch.
    const PUMPED_TIMEOUT_RUNS: u32 = 100;
    let drops = Drops::new(2 * N);
    let outcomes = Arc::new(Outcomes::default());
    let source = |id: usize, max_runs: u32, revocable: bool| Source {
        tracked: drops.value(id),
        runs: Arc::new(AtomicU32::new(0)),
        max_runs,
        revocable,
        thread: thread_token(),
        outcomes: outcomes.clone(),
    };
    let notifies = NOTIFIES.load(SeqCst);
    let mut idles = Vec::new();
    let mut timeouts = Vec::new();
    for i in 0..N {
        let (id, cb) = add_source(
            Callback::new(source_closure(source(i, 1, true))),
            None,
            true,
        );
        idles.push((id, cb.expect("kept")));
        let s = source(N + i, PUMPED_TIMEOUT_RUNS, true);
        let runs = s.runs.clone();
        let (id, cb) = add_source(Callback::new(source_closure(s)), Some(0), true);
        timeouts.push((id, cb.expect("kept"), runs));
    }
    // Revoke every other idle before any dispatch.
    let mut kept_idles = Vec::new();
    for (i, (id, cb)) in idles.into_iter().enumerate() {
        if i % 2 == 0 {
            cb.revoke().expect("revoke a pending idle's closure");
            kept_idles.push((id, None));
        } else {
            kept_idles.push((id, Some(cb)));
        }
    }
    // SAFETY: the default context exists for the life of the process; this thread acquires it
    // for each iteration (the loop thread has not started or has finished).
    let ctx = unsafe { g_main_context_default() };
    let deadline = Instant::now() + LIMIT;
    while timeouts.iter().any(|(_, _, runs)| runs.load(SeqCst) == 0) {
        assert!(Instant::now() < deadline, "timeouts not dispatched");
        // SAFETY: as above.
        unsafe { g_main_context_iteration(ctx, 0) };
    }
    // Revoke every other timeout after its first dispatch (and before its last).
    let mut kept_timeouts = Vec::new();
    let mut cut = Vec::new();
    for (i, (id, cb, runs)) in timeouts.into_iter().enumerate() {
        if i % 2 == 0 {
            cb.revoke().expect("revoke a pending timeout's closure");
            let at = runs.load(SeqCst);
            assert!(at < PUMPED_TIMEOUT_RUNS, "timeout {i} already finished");
            cut.push((runs, at));
            kept_timeouts.push((id, None));
        } else {
            kept_timeouts.push((id, Some(cb)));
        }
    }
    let stale = stale_failures();
    let deadline = Instant::now() + LIMIT;
    while NOTIFIES.load(SeqCst) < notifies + 2 * N {
        assert!(Instant::now() < deadline, "sources not all destroyed");
        // SAFETY: as above.
        unsafe { g_main_context_iteration(ctx, 0) };
    }
    // Each revoked source was dispatched once more: a clean failure (a stale handle, the
    // `G_SOURCE_REMOVE` fallback), after which GLib removed it.
    assert_eq!(
        stale_failures() - stale,
        N as u64,
        "one failed dispatch per revoked source"
    );
    for &(id, _) in kept_idles.iter().chain(&kept_timeouts) {
        // SAFETY: looking up a source id is valid for any id.
        let found = unsafe { g_main_context_find_source_by_id(ctx, id) };
        assert!(found.is_null(), "source {id} was not removed");
    }
    assert_eq!(
        NOTIFIES.load(SeqCst),
        notifies + 2 * N,
        "one notify per source"
    );
    for (runs, at) in cut {
        assert_eq!(
            runs.load(SeqCst),
            at,
            "a timeout ran after its closure was revoked"
        );
    }
    drop(kept_idles);
    drop(kept_timeouts);
    flush_callbacks();
    drops.assert_all_once();
    // Revoked idles never ran, revoked timeouts stopped part-way; the others (revocable, but
    // never revoked) ran to completion.
    assert_eq!(outcomes.revoked_unrun.load(SeqCst), N / 2);
    assert_eq!(outcomes.revoked_partial.load(SeqCst), N / 2);
    assert_eq!(outcomes.revoked_late.load(SeqCst), N);
    assert_eq!(outcomes.complete.load(SeqCst), 0);
    assert_no_violations();
    println!(
        "revoked while pending: {} sources, every notify once, every closure dropped once",
        2 * N
    );
}

/// What one producer's `g_main_context_invoke_full` closure counts.
struct Invoked {
    tracked: Tracked,
    hits: AtomicU64,
    loop_thread: usize,
}

/// 4 producer threads feed one `GMainLoop` running on its own thread: invokes (one long-lived
/// closure per producer, a reference per call), one-shot idle sources and repeating timeouts
/// (a new closure each), some of them revoked while pending.
fn main_loop_from_threads(policy: ReclaimPolicy) {
    let items = count("HANDLES_GLIB_ITEMS", 250_000);
    let idles_per = items.div_ceil(4);
    let timeouts_per = items.div_ceil(256);
    let per_producer = 1 + idles_per + timeouts_per;
    let drops = Drops::new(PRODUCERS * per_producer + 1);
    let outcomes = Arc::new(Outcomes::default());
    let notifies = NOTIFIES.load(SeqCst);

    // SAFETY: a new loop on the default context.
    let main_loop = Shared(unsafe { g_main_loop_new(core::ptr::null_mut(), 0) }.cast());
    let loop_token = Arc::new(AtomicUsize::new(0));
    let runner = {
        let token = loop_token.clone();
        std::thread::spawn(move || {
            token.store(thread_token(), SeqCst);
            let main_loop = main_loop;
            // SAFETY: the loop stays alive until this thread is joined.
            unsafe { g_main_loop_run(main_loop.0.cast()) };
        })
    };
    // Producers start once the loop thread owns the context: before that an invoke from a
    // producer could acquire it and run the function on the producer's own thread.
    let running = Arc::new(AtomicBool::new(false));
    let started = {
        let running = running.clone();
        let tracked = drops.value(PRODUCERS * per_producer);
        Callback::new(move || {
            tracked.check();
            running.store(true, SeqCst);
            SourceControl::REMOVE
        })
    };
    add_source(started, None, false);
    wait_until("the main loop to run", LIMIT, || running.load(SeqCst));
    let loop_thread = loop_token.load(SeqCst);

    let revocable = Arc::new(AtomicUsize::new(0));
    let stale = stale_failures();
    let start = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let drops = drops.clone();
            let outcomes = outcomes.clone();
            let revocable = revocable.clone();
            std::thread::spawn(move || {
                let base = p * per_producer;
                let invoked = Arc::new(Invoked {
                    tracked: drops.value(base),
                    hits: AtomicU64::new(0),
                    loop_thread,
                });
                let inv = {
                    let invoked = invoked.clone();
                    Callback::new(move || {
                        invoked.tracked.check();
                        invoked.hits.fetch_add(1, SeqCst);
                        check(thread_token() == invoked.loop_thread, || {
                            "an invoke ran off the loop thread".to_string()
                        });
                        SourceControl::REMOVE
                    })
                };
                let invoke: GSourceFunc = inv.trampoline0();
                let mut ring = VecDeque::new();
                let mut next_id = base + 1;
                let mut source = |max_runs: u32, revoke: bool| {
                    next_id += 1;
                    Source {
                        tracked: drops.value(next_id - 1),
                        runs: Arc::new(AtomicU32::new(0)),
                        max_runs,
                        revocable: revoke,
                        thread: loop_thread,
                        outcomes: outcomes.clone(),
                    }
                };
                for i in 0..items {
                    while PENDING.load(SeqCst) > MAX_PENDING {
                        std::thread::yield_now();
                    }
                    let data = inv.user_data_owned().expect("a reference for GLib");
                    PENDING.fetch_add(1, SeqCst);
                    // SAFETY: `invoke` accepts any data; `counted_notify` releases the
                    // reference `data` carries, once, when GLib is done with it.
                    unsafe {
                        g_main_context_invoke_full(
                            g_main_context_default(),
                            G_PRIORITY_DEFAULT,
                            invoke,
                            data,
                            Some(counted_notify),
                        )
                    };
                    let timeout = i % 256 == 0;
                    if i % 4 == 0 || timeout {
                        // A third of the idles and half the timeouts are revocable.
                        let keep = match timeout {
                            true => (i / 256) % 2 == 0,
                            false => (i / 4) % 3 == 0,
                        };
                        let (max_runs, interval) = match timeout {
                            true => (TIMEOUT_RUNS, Some(1)),
                            false => (1, None),
                        };
                        let cb = Callback::new(source_closure(source(max_runs, keep)));
                        let (_, kept) = add_source(cb, interval, keep);
                        if let Some(cb) = kept {
                            revocable.fetch_add(1, SeqCst);
                            ring.push_back(cb);
                            if ring.len() > RING {
                                drop(ring.pop_front()); // revoked, maybe still pending
                            }
                        }
                    }
                    if policy == ReclaimPolicy::Explicit && i % 16_384 == 0 {
                        callback::flush();
                    }
                }
                drop(ring);
                // Unregistering now would cut off this producer's pending invokes.
                wait_until("the producer's invokes", LIMIT, || {
                    invoked.hits.load(SeqCst) == items as u64
                });
                drop(inv);
                (invoked, next_id - base)
            })
        })
        .collect();
    let mut registered = 0;
    let mut invoked = Vec::new();
    let mut ids = vec![PRODUCERS * per_producer]; // the closure that saw the loop start
    for (p, producer) in producers.into_iter().enumerate() {
        let (inv, n) = producer.join().expect("producer");
        registered += n;
        invoked.push(inv);
        ids.extend(p * per_producer..p * per_producer + n);
    }
    wait_until("every source's destroy-notify", LIMIT, || {
        PENDING.load(SeqCst) == 0
    });
    let elapsed = start.elapsed();
    // SAFETY: the loop is alive; quitting from another thread is thread-safe.
    unsafe { g_main_loop_quit(main_loop.0.cast()) };
    runner.join().expect("loop thread");
    // SAFETY: the loop thread has returned from `g_main_loop_run`; ours is the last reference.
    unsafe { g_main_loop_unref(main_loop.0.cast()) };

    for (p, inv) in invoked.iter().enumerate() {
        assert_eq!(
            inv.hits.load(SeqCst),
            items as u64,
            "producer {p}'s invokes"
        );
    }
    drop(invoked);
    let sources = registered - PRODUCERS; // less the invoke closures
    assert_eq!(
        NOTIFIES.load(SeqCst) - notifies,
        PRODUCERS * items + sources + 1,
        "one destroy-notify per invoke and per source"
    );
    flush_callbacks();
    drops.assert_exactly(ids);
    let o = &outcomes;
    let revoked =
        o.revoked_unrun.load(SeqCst) + o.revoked_partial.load(SeqCst) + o.revoked_late.load(SeqCst);
    assert_eq!(revoked, revocable.load(SeqCst));
    assert_eq!(o.complete.load(SeqCst), sources - revocable.load(SeqCst));
    assert_no_violations();
    println!(
        "main loop from {PRODUCERS} threads: {} invokes, {sources} sources ({} revocable: {} revoked \
         before their first dispatch, {} mid-way, {} after their last; {} failed dispatches) in \
         {:.2} s; {} destroy-notifies, each once; every closure dropped once",
        PRODUCERS * items,
        revocable.load(SeqCst),
        o.revoked_unrun.load(SeqCst),
        o.revoked_partial.load(SeqCst),
        o.revoked_late.load(SeqCst),
        stale_failures() - stale,
        elapsed.as_secs_f64(),
        NOTIFIES.load(SeqCst) - notifies,
    );
}

/// The `GObject` subclass whose "ping" signal (one `gint`) the handlers connect to, and the
/// signal's id; registered once.
fn pinger_type() -> (GType, c_uint) {
    static TYPE: std::sync::OnceLock<GType> = std::sync::OnceLock::new();
    static SIGNAL: AtomicU32 = AtomicU32::new(0);
    extern "C" fn class_init(class: gpointer, _data: gpointer) {
        // SAFETY: a `GTypeClass` starts with its `GType`; "ping" is a new signal of that type
        // with no class handler, GLib's generic marshaller, no return value and one `gint`.
        let id = unsafe {
            let itype = *class.cast::<GType>();
            g_signal_new(
                c"ping".as_ptr(),
                itype,
                G_SIGNAL_RUN_LAST,
                0,
                core::ptr::null(),
                core::ptr::null_mut(),
                core::ptr::null(),
                G_TYPE_NONE,
                1,
                G_TYPE_INT,
            )
        };
        SIGNAL.store(id, SeqCst);
    }
    let t = *TYPE.get_or_init(|| {
        let mut q = GTypeQuery {
            type_: 0,
            type_name: core::ptr::null(),
            class_size: 0,
            instance_size: 0,
        };
        // SAFETY: `q` is writable; a subclass of `GObject` with GObject's own struct sizes
        // (it adds no fields) and a class initialiser that adds the signal.
        unsafe {
            g_type_query(g_object_get_type(), &mut q);
            g_type_register_static_simple(
                g_object_get_type(),
                c"HandlesPinger".as_ptr(),
                q.class_size,
                class_init,
                q.instance_size,
                None,
                0,
            )
        }
    });
    assert_ne!(t, 0, "g_type_register_static_simple failed");
    // SAFETY: a new instance of the registered type (its class, and so the signal, is created
    // here on first use); no properties.
    let probe = unsafe { g_object_new_with_properties(t, 0, core::ptr::null(), core::ptr::null()) };
    // SAFETY: our reference.
    unsafe { g_object_unref(probe) };
    (t, SIGNAL.load(SeqCst))
}

/// What a signal handler's closure counts.
struct Handler {
    tracked: Tracked,
    hits: AtomicU64,
    instance: usize,
}

/// 8 Rust closures connected to one `GObject`'s signal with `g_signal_connect_data`, emitted
/// from 4 threads while a fifth revokes two closures (their handlers stay connected and fail
/// cleanly) and disconnects two others (their `GClosureNotify` runs once); then exact counts.
fn signal_handlers() {
    const HANDLERS: usize = 8;
    const EMITTERS: usize = 4;
    let emits = count("HANDLES_GLIB_EMITS", 100_000);
    let (pinger, signal) = pinger_type();
    // SAFETY: a new instance; no properties.
    let object =
        unsafe { g_object_new_with_properties(pinger, 0, core::ptr::null(), core::ptr::null()) };
    let object = Shared(object);
    let drops = Drops::new(HANDLERS);
    let notifies = NOTIFIES.load(SeqCst);
    let mut owners = Vec::new();
    let mut handlers = Vec::new();
    let mut ids: Vec<c_ulong> = Vec::new();
    for h in 0..HANDLERS {
        let state = Arc::new(Handler {
            tracked: drops.value(h),
            hits: AtomicU64::new(0),
            instance: object.0 as usize,
        });
        handlers.push(state.clone());
        let cb = Callback::new(move |instance: gpointer, arg: c_int| {
            state.tracked.check();
            check(instance as usize == state.instance, || {
                "handler got another instance".into()
            });
            check((arg as usize) <= EMITTERS, || {
                format!("handler got argument {arg}")
            });
            state.hits.fetch_add(1, SeqCst);
        });
        let handler: extern "C" fn(gpointer, c_int, gpointer) = cb.trampoline2_last();
        let data = cb.user_data_owned().expect("a reference for GLib");
        PENDING.fetch_add(1, SeqCst);
        // SAFETY: GLib calls the handler with the signal's signature,
        // `void (*)(gpointer instance, gint arg, gpointer user_data)`, which is `handler`'s;
        // `counted_closure_notify` releases `data`'s reference once, when the handler goes.
        let id = unsafe {
            let handler = core::mem::transmute::<extern "C" fn(gpointer, c_int, gpointer), GCallback>(
                handler,
            );
            g_signal_connect_data(
                object.0,
                c"ping".as_ptr(),
                handler,
                data,
                Some(counted_closure_notify),
                0,
            )
        };
        assert_ne!(id, 0, "g_signal_connect_data failed");
        ids.push(id);
        owners.push(Some(cb));
    }
    let emit = move |arg: c_int| {
        let object = object; // the whole `Shared`, not its pointer field
        // SAFETY: "ping" takes one `gint`; the object lives until the end of this function.
        unsafe { g_signal_emit(object.0, signal, 0, arg) };
    };
    let progress = Arc::new(AtomicU64::new(0));
    let cut = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let emitters: Vec<_> = (0..EMITTERS)
        .map(|t| {
            let (progress, cut) = (progress.clone(), cut.clone());
            std::thread::spawn(move || {
                // At least `emits`, and at least one after the last cut-off, however slowly
                // the cutting thread is scheduled.
                let mut n = 0;
                while n < emits || !cut.load(SeqCst) {
                    emit(t as c_int);
                    progress.fetch_add(1, SeqCst);
                    n += 1;
                }
                emit(t as c_int);
                progress.fetch_add(1, SeqCst);
            })
        })
        .collect();
    // Mid-flight: revoke handlers 0 and 1 (Rust side), disconnect 2 and 3 (GLib side).
    let planned = (EMITTERS * emits) as u64;
    for (h, fifth) in [(0, 1), (2, 2), (1, 3), (3, 4)] {
        wait_until("emissions to progress", LIMIT, || {
            progress.load(SeqCst) >= fifth * planned / 5
        });
        if h < 2 {
            owners[h]
                .take()
                .expect("owner")
                .revoke()
                .expect("revoke a connected handler");
        } else {
            // SAFETY: a handler id of this object, disconnected once.
            unsafe { g_signal_handler_disconnect(object.0, ids[h]) };
        }
    }
    cut.store(true, SeqCst);
    for e in emitters {
        e.join().expect("emitter");
    }
    let total = progress.load(SeqCst);
    let elapsed = start.elapsed();
    assert_eq!(
        NOTIFIES.load(SeqCst) - notifies,
        2,
        "the disconnected handlers' notifies"
    );
    let before: Vec<u64> = handlers.iter().map(|h| h.hits.load(SeqCst)).collect();
    // Afterwards: revoked and disconnected handlers get nothing, the rest every emission.
    let stale = stale_failures();
    for _ in 0..100 {
        emit(0);
    }
    assert_eq!(
        callback::take_last_error(),
        Some(CallError::Handle(handles::Error::Stale)),
        "a revoked handler's call fails with Stale"
    );
    assert_eq!(
        stale_failures() - stale,
        200,
        "the 2 revoked handlers fail cleanly"
    );
    for (h, state) in handlers.iter().enumerate() {
        let hits = state.hits.load(SeqCst);
        if h < 4 {
            assert!(
                before[h] < total,
                "handler {h} was cut off mid-flight ({} hits)",
                before[h]
            );
            assert_eq!(
                hits, before[h],
                "handler {h} ran after it was revoked or disconnected"
            );
        } else {
            assert_eq!(hits, total + 100, "handler {h}'s hits");
        }
    }
    drop(handlers);
    drop(owners); // revokes 2..8: those still connected stay connected, and fail cleanly
    // SAFETY: our reference; finalizing the object disconnects the remaining handlers.
    unsafe { g_object_unref(object.0) };
    assert_eq!(
        NOTIFIES.load(SeqCst) - notifies,
        HANDLERS,
        "one GClosureNotify per handler"
    );
    flush_callbacks();
    drops.assert_all_once();
    assert_no_violations();
    println!(
        "signal handlers: {} emissions from {EMITTERS} threads to {HANDLERS} handlers in {:.2} s \
         (2 revoked and 2 disconnected mid-flight); every notify once, every closure dropped once",
        total + 100,
        elapsed.as_secs_f64()
    );
}

fn main() {
    under_every_policy(|policy| {
        println!("glib: policy {policy:?}");
        revoked_while_pending();
        signal_handlers();
        main_loop_from_threads(policy);
        assert_eq!(PENDING.load(SeqCst), 0);
        assert_eq!(callback::registered(), 0, "closures left registered");
    });
}
