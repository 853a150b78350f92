//! `fork()` at the awkward moments of registration and thread teardown, forced with the
//! test-only hooks of `global::hooks`. Each child runs the library only (it allocates, which
//! glibc makes safe after a fork), reports through raw `write(2)`, and `_exit`s; an alarm kills
//! a child that hangs, so a deadlock fails the test instead of hanging it.

use crate::global::{self, fork, hooks};
use crate::registry;
use crate::{Guard, Handle, HandleTable};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

/// These tests fork one at a time, and reset the handler's installation state.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The fork-child helpers the integration tests use too (one file, included by path).
#[path = "../../test-support/src/fork.rs"]
#[allow(dead_code)]
mod child_process;
use child_process::{fork_run, run_child, wait_child};

/// A value that counts its drops.
struct Probe {
    id: u64,
    drops: Arc<AtomicUsize>,
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn probe(id: u64, drops: &Arc<AtomicUsize>) -> Probe {
    Probe {
        id,
        drops: drops.clone(),
    }
}

/// Claims as many records as the registry has free ones (as temporaries), checks that none of
/// them is `mine` and that exactly `held_back` free records could not be claimed (a new record
/// was allocated instead), then releases them.
fn claim_every_free_record(mine: Option<&registry::Record>, held_back: usize) {
    let (records, active) = global::counts();
    let temps: Vec<&registry::Record> = (0..records - active)
        .map(|_| global::claim_temporary())
        .collect();
    let (after, _) = global::counts();
    for t in &temps {
        assert!(
            mine.is_none_or(|m| !core::ptr::eq(*t, m)),
            "another claim was handed this thread's record"
        );
        global::release_temporary(t);
    }
    assert_eq!(
        after - records,
        held_back,
        "free records that could not be claimed (held back by hazards)"
    );
}

/// (On the targets CI runs; the constructor covers the other ELF systems too.)
#[cfg(any(target_os = "linux", target_vendor = "apple"))]
#[test]
fn the_handler_is_installed_at_load_time() {
    let _serial = serial();
    assert!(fork::INSTALLED_AT_LOAD.load(Ordering::Relaxed));
    assert!(fork::installed());
}

static INSIDE_INSTALL: AtomicBool = AtomicBool::new(false);
static FORKED: AtomicBool = AtomicBool::new(false);

/// The install hook: tells the forking thread we are inside, then stays until it forked.
fn wait_for_fork() {
    INSIDE_INSTALL.store(true, Ordering::SeqCst);
    let start = Instant::now();
    while !FORKED.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(30) {
        std::thread::yield_now();
    }
}

/// A fork while another thread is in the middle of installing the fork handler: in the
/// child that thread's install is frozen for good, and the child's first registration must
/// still complete (and install the handler for the child's own forks).
#[test]
fn fork_while_another_thread_installs_the_handler() {
    let _serial = serial();
    INSIDE_INSTALL.store(false, Ordering::SeqCst);
    FORKED.store(false, Ordering::SeqCst);
    // As if no constructor had run: the next registration takes the fallback path.
    fork::forget_installed();
    let installer = std::thread::spawn(|| {
        hooks::IN_INSTALL.with(|h| h.set(Some(wait_for_fork)));
        fork::install_handler();
    });
    // A thread that has never registered forks while the installer is inside the install.
    let forker = std::thread::spawn(|| {
        while !INSIDE_INSTALL.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let result = fork_run(|| {
            assert!(!fork::installed(), "the install was not cut short");
            // This thread's first registration, through the install.
            let table = HandleTable::new();
            let h = table.insert(7u32);
            assert_eq!(table.with(h, |v| *v), Ok(7));
            assert!(fork::installed());
            table.revoke(h).unwrap();
            assert_eq!(table.flush(), 0);
            assert_eq!(global::counts().1, 1);
        });
        FORKED.store(true, Ordering::SeqCst);
        result
    });
    let result = forker.join().unwrap();
    installer.join().unwrap();
    result.unwrap();
    assert!(fork::installed());
}

static TEARDOWN_TABLE: HandleTable<Probe> = HandleTable::new();

/// What the forking destructor does: the handles of the late and the detached guard, and
/// where to send the verdict.
type TeardownJob = (Handle, Handle, mpsc::Sender<Result<(), String>>);

/// Forks from its destructor, which runs after the exit hook released the thread's record,
/// holding a guard made there (on a temporary record).
struct ForkInTeardown {
    job: Option<TeardownJob>,
}

impl Drop for ForkInTeardown {
    fn drop(&mut self) {
        let Some((late, detached, verdict)) = self.job.take() else {
            return;
        };
        let result = (|| {
            if global::local().is_some() {
                return Err("the exit hook has not run yet".to_string());
            }
            let g = TEARDOWN_TABLE.get(detached).map_err(|e| e.to_string())?;
            fork_run(|| {
                // Only this thread exists, and it holds two guards: one on the record the exit
                // hook released (kept in `LATE_GUARD`), one on a temporary record.
                assert_eq!(global::counts().1, 1, "the temporary record was released");
                TEARDOWN_TABLE.revoke(late).unwrap();
                TEARDOWN_TABLE.revoke(detached).unwrap();
                assert_eq!(
                    TEARDOWN_TABLE.flush(),
                    2,
                    "a value was dropped under a guard of the forking thread"
                );
                assert_eq!(g.id, 2);
                assert_eq!(g.drops.load(Ordering::SeqCst), 0);
                // The released record keeps the late guard's hazard, so it is not claimable.
                claim_every_free_record(None, 1);
                assert_eq!(global::counts().1, 1);
            })
        })();
        let _ = verdict.send(result);
    }
}

thread_local! {
    static LATE_GUARD: RefCell<Option<Guard<'static, Probe>>> = const { RefCell::new(None) };
    static FORK_IN_TEARDOWN: RefCell<ForkInTeardown> =
        const { RefCell::new(ForkInTeardown { job: None }) };
}

/// A fork from a thread-local destructor, while the thread holds a guard on a temporary
/// record and another on the record its exit hook released: the child must keep both.
#[test]
fn fork_from_thread_local_destructor_keeps_the_threads_guards() {
    let _serial = serial();
    let drops = Arc::new(AtomicUsize::new(0));
    let late = TEARDOWN_TABLE.insert(probe(1, &drops));
    let detached = TEARDOWN_TABLE.insert(probe(2, &drops));
    let (verdict_tx, verdict_rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Both before the first table use: destroyed after the exit hook, in reverse order.
        LATE_GUARD.with(|_| ());
        FORK_IN_TEARDOWN.with(|_| ());
        let g = TEARDOWN_TABLE.get(late).unwrap();
        LATE_GUARD.with(|l| *l.borrow_mut() = Some(g));
        FORK_IN_TEARDOWN.with(|f| f.borrow_mut().job = Some((late, detached, verdict_tx)));
    })
    .join()
    .unwrap();
    verdict_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("no verdict from the destructor")
        .unwrap();
    TEARDOWN_TABLE.revoke(late).unwrap();
    TEARDOWN_TABLE.revoke(detached).unwrap();
    assert_eq!(TEARDOWN_TABLE.flush(), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

/// The fork's result, as the signal handler saw it (0 in the child).
static FORK_PID: AtomicI32 = AtomicI32::new(-1);

extern "C" fn fork_in_signal_handler(_: libc::c_int) {
    // SAFETY: fork is async-signal-safe and has no preconditions.
    let pid = unsafe { libc::fork() };
    FORK_PID.store(pid, Ordering::SeqCst);
}

/// The registration hook: a signal whose handler forks.
fn raise_forking_signal() {
    // SAFETY: raise has no preconditions; the handler for SIGUSR1 is installed.
    unsafe { libc::raise(libc::SIGUSR1) };
}

/// A fork from a signal handler that interrupts a thread's registration between claiming its
/// record and storing it in the thread-local: in the child the record must stay the thread's,
/// and no other claim may be handed it.
#[test]
fn fork_from_signal_handler_between_claim_and_store() {
    let _serial = serial();
    // SAFETY: an all-zero sigaction is valid; the handler is a plain `extern "C" fn(c_int)`.
    let mut action: libc::sigaction = unsafe { core::mem::zeroed() };
    action.sa_sigaction = fork_in_signal_handler as *const () as libc::sighandler_t;
    // SAFETY: a valid, writable signal set.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: zeroed storage for the previous action.
    let mut previous: libc::sigaction = unsafe { core::mem::zeroed() };
    // SAFETY: valid pointers to a complete action and to storage for the old one.
    let installed = unsafe { libc::sigaction(libc::SIGUSR1, &action, &mut previous) };
    assert_eq!(installed, 0);
    let result = std::thread::spawn(|| {
        FORK_PID.store(-1, Ordering::SeqCst);
        hooks::AFTER_CLAIM.with(|h| h.set(Some(raise_forking_signal)));
        let table = HandleTable::new();
        // This thread's first registration: claim, signal (fork), store.
        let h = table.insert(3u32);
        let pid = FORK_PID.load(Ordering::SeqCst);
        if pid == 0 {
            run_child(|| {
                let mine = global::local().unwrap();
                assert_eq!(global::counts().1, 1, "this thread's record was released");
                claim_every_free_record(Some(mine), 0);
                assert_eq!(table.with(h, |v| *v), Ok(3));
                table.revoke(h).unwrap();
                assert_eq!(table.flush(), 0);
            });
        }
        assert!(pid > 0, "the hook did not fork");
        wait_child(pid)
    })
    .join()
    .unwrap();
    // SAFETY: restores the action saved above.
    unsafe { libc::sigaction(libc::SIGUSR1, &previous, core::ptr::null_mut()) };
    result.unwrap();
}

static LATE_TABLE: HandleTable<Probe> = HandleTable::new();

/// A guard kept in a thread-local, dropped after the exit hook once the test says so.
struct ParkedGuard {
    guard: Option<Guard<'static, Probe>>,
    parked: mpsc::Sender<()>,
    resume: mpsc::Receiver<()>,
}

impl Drop for ParkedGuard {
    fn drop(&mut self) {
        if self.guard.is_some() {
            let _ = self.parked.send(());
            let _ = self.resume.recv_timeout(Duration::from_secs(60));
        }
    }
}

thread_local! {
    static PARKED: RefCell<Option<ParkedGuard>> = const { RefCell::new(None) };
}

/// Another thread is past its exit hook with a guard still alive (its released record keeps
/// the hazard) when a third thread, holding its own guard, forks. In the child the dead
/// thread's guard does not exist: its hazard must not hold the value or the record back,
/// while the forking thread's guard keeps protecting its value.
#[test]
fn fork_clears_hazards_of_other_threads_late_guards() {
    let _serial = serial();
    let drops = Arc::new(AtomicUsize::new(0));
    let theirs = LATE_TABLE.insert(probe(1, &drops));
    let ours = LATE_TABLE.insert(probe(2, &drops));
    let (parked_tx, parked_rx) = mpsc::channel();
    let (resume_tx, resume_rx) = mpsc::channel();
    let exiting = std::thread::spawn(move || {
        // Before the first table use, so it is destroyed after the exit hook.
        PARKED.with(|_| ());
        let guard = Some(LATE_TABLE.get(theirs).unwrap());
        PARKED.with(|p| {
            *p.borrow_mut() = Some(ParkedGuard {
                guard,
                parked: parked_tx,
                resume: resume_rx,
            })
        });
    });
    parked_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let child_drops = drops.clone();
    let result = std::thread::spawn(move || {
        let drops = child_drops;
        let g = LATE_TABLE.get(ours).unwrap();
        fork_run(|| {
            assert_eq!(global::counts().1, 1);
            LATE_TABLE.revoke(theirs).unwrap();
            LATE_TABLE.revoke(ours).unwrap();
            assert_eq!(
                LATE_TABLE.flush(),
                1,
                "only the forking thread's guard may hold a value back"
            );
            assert_eq!(g.id, 2);
            assert_eq!(drops.load(Ordering::SeqCst), 1);
            claim_every_free_record(None, 0);
            drop(g);
            assert_eq!(LATE_TABLE.flush(), 0);
            assert_eq!(drops.load(Ordering::SeqCst), 2);
        })
    })
    .join()
    .unwrap();
    resume_tx.send(()).unwrap();
    exiting.join().unwrap();
    result.unwrap();
    LATE_TABLE.revoke(theirs).unwrap();
    LATE_TABLE.revoke(ours).unwrap();
    assert_eq!(LATE_TABLE.flush(), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

/// Fork while the background reclaimer runs: the child's first ending call starts a new
/// reclaimer, which drops the child's ended values without further calls; nothing the parent's
/// reclaimer had in hand is dropped twice.
#[test]
fn fork_with_the_background_reclaimer_running() {
    static TABLE: HandleTable<Probe> = HandleTable::new();
    TABLE.set_reclaim_policy(crate::ReclaimPolicy::Background);
    let _serial = serial();
    let drops = Arc::new(AtomicUsize::new(0));
    // A second registered thread, so ends go to the reclaimer rather than being dropped at once.
    let (stop, parked) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        let _ = global::local();
        let _ = parked.recv();
    });
    std::thread::sleep(std::time::Duration::from_millis(10));
    for i in 0..300 {
        let h = TABLE.insert(probe(i, &drops));
        TABLE.revoke(h).unwrap();
    }
    let before_fork = drops.load(Ordering::SeqCst);
    fork_run(|| {
        // In the child only this thread exists: it is alone, so keep a guard on one entry
        // to exercise the background path, and end the rest.
        let child_drops = Arc::new(AtomicUsize::new(0));
        let keep = TABLE.insert(probe(10_000, &child_drops));
        let guard = TABLE.get(keep).unwrap();
        TABLE.revoke(keep).unwrap(); // guarded: goes to the retire list
        drop(guard);
        // A second thread in the child makes later ends go to the (new) reclaimer.
        let t = std::thread::spawn(|| {
            let _ = global::local();
            std::thread::sleep(std::time::Duration::from_millis(200));
        });
        for i in 0..50 {
            let h = TABLE.insert(probe(20_000 + i, &child_drops));
            TABLE.revoke(h).unwrap();
        }
        for _ in 0..5_000 {
            if child_drops.load(Ordering::SeqCst) == 51 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(
            child_drops.load(Ordering::SeqCst),
            51,
            "the child's reclaimer ran"
        );
        t.join().unwrap();
    })
    .unwrap();
    drop(stop);
    other.join().unwrap();
    assert!(drops.load(Ordering::SeqCst) >= before_fork);
    TABLE.flush();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        300,
        "every parent value dropped once"
    );
}
