//! Unit tests that drive every `unsafe` path of the crate, sized to run under Miri
//! (`cargo +nightly miri test -p ffi-handles --lib`).

use crate::{Error, Handle, HandleTable};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts drops; its payload is a heap value, so Miri notices a use after drop.
struct Tracked {
    payload: Box<u64>,
    drops: Arc<AtomicUsize>,
}

impl Tracked {
    fn new(v: u64, drops: &Arc<AtomicUsize>) -> Tracked {
        Tracked {
            payload: Box::new(v),
            drops: drops.clone(),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// Another registered thread, parked until dropped. While one lives the calling thread is never
/// alone (`Registry::alone`), so ended values always wait for a reclamation pass: tests of
/// passes use it to be deterministic whatever else runs in the process.
struct Witness {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn witness() -> Witness {
    let (stop, parked) = std::sync::mpsc::channel::<()>();
    let (ready, registered) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let _ = crate::global::local(); // registers this thread
        ready.send(()).unwrap();
        let _ = parked.recv();
    });
    registered.recv().unwrap();
    Witness {
        stop: Some(stop),
        thread: Some(thread),
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

#[test]
fn lifecycle_and_drop_exactly_once() {
    let drops = counter();
    let table = HandleTable::new();
    let a = table.insert(Tracked::new(1, &drops));
    let b = table.insert(Tracked::new(2, &drops));
    assert_eq!(table.with(a, |t| *t.payload), Ok(1));
    assert_eq!(*table.get(b).unwrap().payload, 2);
    table.revoke(a).unwrap();
    assert_eq!(table.with(a, |t| *t.payload), Err(Error::Stale));
    assert_eq!(table.flush(), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(table); // b is still live: dropped with the table
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn guard_keeps_value_alive_across_reclamation() {
    let drops = counter();
    let table = HandleTable::new();
    let h = table.insert(Tracked::new(7, &drops));
    let guard = table.get(h).unwrap();
    table.revoke(h).unwrap();
    assert_eq!(table.flush(), 1, "borrowed value must wait");
    assert_eq!(*guard.payload, 7);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(guard);
    assert_eq!(table.flush(), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn counted_fallback_beyond_hazard_cells() {
    let drops = counter();
    let table = HandleTable::new();
    let hs: Vec<Handle> = (0..6)
        .map(|i| table.insert(Tracked::new(i, &drops)))
        .collect();
    // Six guards at once: four hazards, then two counted references.
    let guards: Vec<_> = hs.iter().map(|&h| table.get(h).unwrap()).collect();
    for (i, &h) in hs.iter().enumerate() {
        table.revoke(h).unwrap();
        assert_eq!(*guards[i].payload, i as u64);
    }
    table.flush();
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(guards);
    table.flush();
    assert_eq!(drops.load(Ordering::SeqCst), 6);
    assert!(table.is_empty());
}

#[test]
fn take_moves_out_or_reports_busy() {
    let drops = counter();
    let table = HandleTable::new();
    let h = table.insert(Tracked::new(3, &drops));
    {
        let _g = table.get(h).unwrap();
        assert_eq!(table.take(h).err(), Some(Error::Busy));
    }
    table.retain(h).unwrap();
    assert_eq!(table.take(h).err(), Some(Error::Busy));
    table.release(h).unwrap();
    let value = table.take(h).unwrap();
    assert_eq!(*value.payload, 3);
    assert_eq!(table.with(h, |_| ()), Err(Error::Stale));
    drop(value);
    drop(table);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn revoked_entries_with_references_drop_with_table() {
    let drops = counter();
    let table = HandleTable::new();
    let h = table.insert(Tracked::new(4, &drops));
    table.retain(h).unwrap();
    table.revoke(h).unwrap(); // REVOKED with one reference left
    let ended = table.insert(Tracked::new(5, &drops));
    table.revoke(ended).unwrap(); // ENDED, pending reclamation
    drop(table);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn panicking_drop_leaves_table_consistent() {
    let _witness = witness(); // passes, not prompt drops
    struct Bomb(Arc<AtomicUsize>);
    impl Drop for Bomb {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
            panic!("boom");
        }
    }
    let drops = counter();
    let table = HandleTable::new();
    let bombs: Vec<Handle> = (0..3).map(|_| table.insert(Bomb(drops.clone()))).collect();
    for &h in &bombs {
        table.revoke(h).unwrap();
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| table.flush()));
    assert!(result.is_err());
    assert_eq!(
        drops.load(Ordering::SeqCst),
        3,
        "every value dropped despite the panic"
    );
    let h = table.insert(Bomb(drops.clone()));
    assert!(table.contains(h));
    let bomb = table.take(h).unwrap();
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(bomb))).is_err());
    assert_eq!(table.stats().pending_drops, 0);
}

#[test]
fn reentrant_closure_and_drop() {
    struct Reenter(&'static HandleTable<Reenter>, Option<Handle>);
    impl Drop for Reenter {
        fn drop(&mut self) {
            if let Some(h) = self.1 {
                let _ = self.0.revoke(h);
                let inner = self.0.insert(Reenter(self.0, None));
                self.0.revoke(inner).unwrap();
            }
        }
    }
    static TABLE: HandleTable<Reenter> = HandleTable::new();
    let table = &TABLE;
    let other = table.insert(Reenter(table, None));
    let h = table.insert(Reenter(table, Some(other)));
    let seen = table.with(h, |v| {
        table.revoke(h).unwrap(); // remove our own handle while borrowing it
        let fresh = table.insert(Reenter(table, None));
        assert!(table.with(other, |_| ()).is_ok());
        table.flush(); // our value is hazarded, so it must survive this
        table.revoke(fresh).unwrap();
        v.1
    });
    assert_eq!(seen, Ok(Some(other)));
    table.flush(); // drops h's value, whose Drop removes `other` and churns the table
    table.flush();
    assert!(table.is_empty());
    assert_eq!(table.stats().pending_drops, 0);
}

#[test]
fn threads_share_and_exit() {
    let drops = counter();
    let table = Arc::new(HandleTable::new());
    let shared = table.insert(Tracked::new(9, &drops));
    let workers: Vec<_> = (0..3)
        .map(|i| {
            let (table, drops) = (table.clone(), drops.clone());
            std::thread::spawn(move || {
                for j in 0..4 {
                    assert_eq!(table.with(shared, |t| *t.payload), Ok(9));
                    let mine = table.insert(Tracked::new(i * 10 + j, &drops));
                    assert_eq!(table.with(mine, |t| *t.payload), Ok(i * 10 + j));
                    table.revoke(mine).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    table.revoke(shared).unwrap();
    assert_eq!(table.flush(), 0, "exited threads leave no hazards");
    assert_eq!(drops.load(Ordering::SeqCst), 13);
    let stats = crate::thread_stats();
    assert!(stats.records >= 1);
}

#[test]
fn generation_exhaustion_never_reissues_a_handle() {
    let table = HandleTable::with_max_generation(1);
    let mut seen = std::collections::HashSet::new();
    for i in 0..8 {
        let h = table.insert(i);
        assert!(seen.insert(h), "handle reissued");
        table.revoke(h).unwrap();
        table.flush();
    }
    assert_eq!(table.stats().exhausted_slots, 4);
}

#[test]
fn forged_handles_are_rejected() {
    let table = HandleTable::new();
    let other = HandleTable::new();
    let h = table.insert(1u32);
    let foreign = other.insert(2u32);
    assert_eq!(table.with(foreign, |_| ()), Err(Error::WrongTable));
    let raw = h.into_raw();
    for bit in 0..64 {
        // A single-bit handle (tag 1, shard 0, index 0, generation 0) flips to 0: not a handle.
        let Some(forged) = Handle::from_raw(raw ^ (1 << bit)) else {
            continue;
        };
        match table.with(forged, |v| *v) {
            Ok(v) => panic!("forged handle {forged:?} reached value {v}"),
            Err(e) => assert!(matches!(
                e,
                Error::Invalid | Error::WrongTable | Error::Stale
            )),
        }
    }
    for raw in [1, u64::MAX, 1 << 63, (1 << 22) - 1] {
        assert!(table.with(Handle::from_raw(raw).unwrap(), |_| ()).is_err());
    }
}

/// Handles into pages that were never allocated are `Invalid` for every operation, both for a
/// slot type whose missing pages are the zero region and for one whose missing pages are null
/// (`page::absent`); and the zero region stays all zeros.
#[test]
fn handles_into_missing_pages_are_invalid() {
    use crate::handle::{IDENTITY_MASK, INDEX_MASK, SHARDS};
    fn check<T: Send + Sync + Clone + core::fmt::Debug>(value: T) {
        let table = HandleTable::new();
        let h = table.insert(value);
        // Same tag and generation, another shard's last index, and the last index of this one:
        // pages no table of one entry has.
        let identity = h.into_raw() & IDENTITY_MASK;
        let other_shard = (h.shard() + 1) % SHARDS;
        for (shard, index) in [
            (other_shard, 0),
            (other_shard, INDEX_MASK),
            (h.shard(), INDEX_MASK),
            (h.shard(), 1 << 12),
        ] {
            let forged = Handle::from_parts(identity, shard, index);
            assert_eq!(table.with(forged, |_| ()), Err(Error::Invalid));
            assert_eq!(table.get(forged).err(), Some(Error::Invalid));
            assert_eq!(table.retain(forged), Err(Error::Invalid));
            assert_eq!(table.release(forged), Err(Error::Invalid));
            assert_eq!(table.revoke(forged), Err(Error::Invalid));
            assert_eq!(table.take(forged).err(), Some(Error::Invalid));
            assert!(!table.contains(forged));
            assert_eq!(table.diagnose(forged).error, Some(Error::Invalid));
        }
        assert_eq!(table.stats().pages, 1);
        table.revoke(h).unwrap();
    }
    const { assert!(crate::page::zero_backed::<u64>()) };
    const { assert!(!crate::page::zero_backed::<[u64; 8]>()) };
    check(1u64);
    check([1u64; 8]);
    assert!(crate::page::zeros_are_zero());
}

/// Regression: guards beyond the inline hazard cells used to hold a counted reference, so a
/// safe but wrong extra `release` could end the entry and free the value under the guard.
#[test]
fn extra_release_cannot_free_a_guarded_value() {
    let drops = counter();
    let table = HandleTable::new();
    let hs: Vec<Handle> = (0..6)
        .map(|i| table.insert(Tracked::new(i, &drops)))
        .collect();
    let guards: Vec<_> = hs.iter().map(|&h| table.get(h).unwrap()).collect();
    let last = hs[5];
    table.revoke(last).unwrap();
    assert_eq!(
        table.release(last),
        Err(Error::Stale),
        "no reference left to release"
    );
    assert_eq!(table.flush(), 1, "the sixth guard still protects its value");
    assert_eq!(*guards[5].payload, 5);
    drop(guards);
    table.flush();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// Regression: a guard kept in a thread-local that is destroyed after the thread's exit hook
/// (thread-locals die in reverse order of first use) must keep protecting its value, and its
/// record must not be handed to another thread while the guard lives.
#[test]
fn guard_outliving_the_exit_hook_still_protects() {
    use std::cell::RefCell;
    use std::sync::Barrier;

    static TABLE: HandleTable<Tracked> = HandleTable::new();
    static STEP: Barrier = Barrier::new(2);

    struct Keep(RefCell<Option<crate::Guard<'static, Tracked>>>);
    impl Drop for Keep {
        fn drop(&mut self) {
            STEP.wait(); // 1: our exit hook has run; the other thread removes and reclaims
            STEP.wait(); // 2: reclamation done
            let guard = self.0.borrow_mut().take().expect("guard kept");
            assert_eq!(*guard.payload, 11, "value freed under a live guard");
        }
    }
    thread_local! {
        static KEEP: Keep = const { Keep(RefCell::new(None)) };
    }

    let drops = counter();
    let h = TABLE.insert(Tracked::new(11, &drops));
    // The thread that checks the record is not handed on, running before the holder starts
    // but registering only when told: on Windows a thread in its thread-local destructors holds
    // the loader lock, so a thread that had not begun to run before the holder waits in
    // `Keep::drop` could not begin until that wait ended. Nor could it end (a thread's exit
    // takes the loader lock too): its result comes back on a channel, and it is joined only
    // once the holder has left `Keep::drop`.
    let (check, checking) = std::sync::mpsc::channel::<()>();
    let (running, started) = std::sync::mpsc::channel::<()>();
    let (checked, check_result) = std::sync::mpsc::channel::<bool>();
    let checker = std::thread::spawn(move || {
        running.send(()).unwrap();
        checking.recv().unwrap();
        // Its first use of the library: it registers now, while the holder's record is free
        // but still carries the kept guard's hazard.
        checked.send(TABLE.get(h).is_err()).unwrap();
    });
    started.recv().unwrap();
    let holder = std::thread::spawn(move || {
        KEEP.with(|_| ()); // first use: destroyed after the exit hook registered below
        let guard = TABLE.get(h).unwrap();
        KEEP.with(|k| *k.0.borrow_mut() = Some(guard));
    });
    STEP.wait(); // 1
    TABLE.revoke(h).unwrap();
    assert_eq!(
        TABLE.flush(),
        1,
        "the kept guard must still count as a borrower"
    );
    // A new thread must not be given the exiting thread's record while its hazard is set.
    check.send(()).unwrap();
    let refused = check_result.recv().unwrap();
    STEP.wait(); // 2
    holder.join().unwrap();
    checker.join().unwrap();
    assert!(
        refused,
        "a new thread was given the exiting thread's record"
    );
    assert_eq!(TABLE.flush(), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// `visit_live` reads live and revoked-but-referenced values under a hazard (the unsafe read
/// of `get_counted`): a value removed during the visit is not dropped until the visit ends.
#[test]
fn leak_visit_reads_live_and_revoked_values() {
    let drops = counter();
    let table = HandleTable::new();
    let live = table.insert(Tracked::new(1, &drops));
    let revoked = table.insert(Tracked::new(2, &drops));
    table.retain(revoked).unwrap();
    table.revoke(revoked).unwrap(); // REVOKED, one reference left
    let ended = table.insert(Tracked::new(3, &drops));
    table.revoke(ended).unwrap(); // ENDED: not visited
    let mut seen = Vec::new();
    table.visit_live(|entry, value| {
        // Remove while visiting: the hazard keeps the value alive until the visit returns.
        if entry.handle == live {
            table.revoke(live).unwrap();
            assert_eq!(table.flush(), 1);
        }
        seen.push((entry.handle, *value.payload, entry.refs, entry.revoked));
    });
    seen.sort_by_key(|s| s.1);
    assert_eq!(seen, [(live, 1, 1, false), (revoked, 2, 1, true)]);
    assert_eq!(table.flush(), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    assert_eq!(table.release(revoked), Ok(true));
    assert_eq!(table.leak_report().entries.len(), 0);
    assert_eq!(table.flush(), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

/// End codes survive the ENDED state, reclamation and the free list, and are forgotten (never
/// misreported) once the slot is reused.
#[test]
fn end_codes_through_reclamation_and_reuse() {
    use crate::EndReason;
    let drops = counter();
    let table = HandleTable::new();
    let released = table.insert(Tracked::new(1, &drops));
    let revoked = table.insert(Tracked::new(2, &drops));
    let taken = table.insert(Tracked::new(3, &drops));
    assert_eq!(table.release(released), Ok(true));
    table.revoke(revoked).unwrap();
    drop(table.take(taken).unwrap());
    for (h, why) in [
        (released, EndReason::Released),
        (revoked, EndReason::Revoked),
        (taken, EndReason::Taken),
    ] {
        assert_eq!(table.diagnose(h).error, Some(Error::Stale));
        assert_eq!(table.diagnose(h).ended, Some(why), "ENDED or FREE");
    }
    assert_eq!(table.flush(), 0);
    for (h, why) in [
        (released, EndReason::Released),
        (revoked, EndReason::Revoked),
    ] {
        assert_eq!(table.diagnose(h).ended, Some(why), "FREE after reclamation");
    }
    // Reuse every freed slot: the old handles are still stale, their end now unknown.
    let fresh: Vec<Handle> = (0..3)
        .map(|i| table.insert(Tracked::new(i, &drops)))
        .collect();
    for h in [released, revoked, taken] {
        let d = table.diagnose(h);
        assert_eq!((d.error, d.ended), (Some(Error::Stale), None));
    }
    for &h in &fresh {
        assert_eq!(table.diagnose(h).error, None);
        assert_eq!(table.diagnose(h).refs, 1);
    }
    // A table whose slots are exhausted after one use keeps the end code in EXHAUSTED.
    let once = HandleTable::with_max_generation(0);
    let h = once.insert(Tracked::new(9, &drops));
    once.revoke(h).unwrap();
    once.flush();
    assert_eq!(once.diagnose(h).ended, Some(EndReason::Revoked));
    assert_eq!(once.stats().exhausted_slots, 1);
}

/// Regression: `retain_with` used to protect its closure's `&T` with the reference it had just
/// taken. References are safe API, so a closure that releases twice and flushes (or releases
/// and takes) freed the value under the borrow; Miri reported the use after free.
#[test]
fn retain_with_closure_cannot_free_its_own_value() {
    let drops = counter();
    let table = HandleTable::new();
    let h = table.insert(Tracked::new(41, &drops));
    let seen = table
        .retain_with(h, |t| {
            assert_eq!(table.release(h), Ok(false)); // the reference retain_with just took
            assert_eq!(table.release(h), Ok(true)); // the owner's: the entry ends
            table.flush();
            assert_eq!(drops.load(Ordering::SeqCst), 0, "dropped under the borrow");
            *t.payload + 1 // still readable
        })
        .unwrap();
    assert_eq!(seen, 42);
    assert_eq!(table.flush(), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    // The same with release + take from inside the closure: the take sees the borrow.
    let h = table.insert(Tracked::new(7, &drops));
    let seen = table.retain_with(h, |t| {
        assert_eq!(table.release(h), Ok(false));
        assert_eq!(
            table.take(h).err(),
            Some(Error::Busy),
            "the closure borrows it"
        );
        *t.payload
    });
    assert_eq!(seen, Ok(7));
    assert_eq!(table.release(h), Ok(true));
    table.flush();
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

/// Regression: while `retain_with` unwound from a panicking closure, its release could run a
/// reclamation pass whose `Drop` panicked: a panic while unwinding aborts the process. The
/// release on unwind now only retires the entry; the pass runs later.
#[test]
fn retain_with_unwinding_never_runs_a_pass() {
    let _witness = witness(); // passes, not prompt drops
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("boom");
        }
    }
    let table: HandleTable<Option<Bomb>> = HandleTable::new();
    // Fill the home shard's retire list to one short of a pass, with a bomb in it.
    let bomb = table.insert(Some(Bomb));
    table.revoke(bomb).unwrap();
    for _ in 1..crate::table::RECLAIM_BATCH - 1 {
        let h = table.insert(None);
        table.revoke(h).unwrap();
    }
    let h = table.insert(None);
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        table.retain_with(h, |_| {
            table.revoke(h).unwrap(); // our reference is now the last
            panic!("closure fails");
        })
    }));
    assert!(unwound.is_err(), "the closure's panic, not an abort");
    assert!(
        !table.contains(h),
        "the reference was given back and the entry ended"
    );
    assert_eq!(
        table.stats().pending_drops as u64,
        crate::table::RECLAIM_BATCH
    );
    let flushed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| table.flush()));
    assert!(flushed.is_err(), "the bomb goes off in the flush");
    assert_eq!(table.stats().pending_drops, 0);
}

/// Regression: a reclamation pass kept the first panic and dropped later payloads in place; a
/// payload whose own `Drop` panicked unwound out of the pass halfway through its private
/// list, so the rest of the list was never dropped.
#[test]
fn panicking_payloads_do_not_cut_a_pass_short() {
    let _witness = witness(); // passes, not prompt drops
    struct LoudPayload;
    impl Drop for LoudPayload {
        fn drop(&mut self) {
            panic!("payload drop");
        }
    }
    struct Bomb(Arc<AtomicUsize>);
    impl Drop for Bomb {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
            std::panic::panic_any(LoudPayload);
        }
    }
    let drops = counter();
    let table = HandleTable::new();
    let hs: Vec<Handle> = (0..4).map(|_| table.insert(Bomb(drops.clone()))).collect();
    for &h in &hs {
        table.revoke(h).unwrap();
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| table.flush()));
    let payload = result.expect_err("the first panic resumes");
    assert!(payload.is::<LoudPayload>());
    crate::panics::drop_payload(payload); // its Drop panics
    assert_eq!(drops.load(Ordering::SeqCst), 4, "every value dropped");
    assert_eq!(table.stats().pending_drops, 0, "nothing left on any list");

    // And when the table itself drops them.
    let table = HandleTable::new();
    for _ in 0..3 {
        let _ = table.insert(Bomb(drops.clone()));
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(table)));
    crate::panics::drop_payload(result.expect_err("the first panic resumes"));
    assert_eq!(drops.load(Ordering::SeqCst), 7);
}

/// A `take` in flight (the slot in its TAKING state) never makes another operation fail:
/// lookups, retains, releases and revokes act on the live entry, and the take then fails.
/// (Drives the taker's intermediate state directly; the racing versions are loom models.)
#[test]
fn operations_during_a_take_succeed_and_the_take_fails() {
    use crate::slot::{TAKING, identity_of};
    let drops = counter();
    let table = HandleTable::new();
    let h = table.insert(Tracked::new(3, &drops));
    let slot = table.shard(h.shard()).slot(h.index()).unwrap();
    let live = slot.state.load(Ordering::Relaxed);
    let taking = identity_of(live) | TAKING | 1;
    let begin_take = || slot.state.store(taking, Ordering::Relaxed);
    let take_would_win = || slot.state.load(Ordering::Relaxed) == taking;

    begin_take();
    assert!(table.contains(h));
    assert_eq!(table.with(h, |t| *t.payload), Ok(3));
    assert!(!take_would_win(), "the lookup settled the entry");
    begin_take();
    assert_eq!(*table.get(h).unwrap().payload, 3);
    begin_take();
    assert_eq!(table.handles(), vec![h]);
    let mut visited = 0;
    table.visit_live(|_, t| visited += *t.payload);
    assert_eq!(visited, 3);
    begin_take();
    assert_eq!(table.retain(h), Ok(()));
    assert_eq!(
        slot.state.load(Ordering::Relaxed),
        live + 1,
        "LIVE with 2 references"
    );
    assert_eq!(table.release(h), Ok(false));
    begin_take();
    assert_eq!(table.retain_with(h, |t| *t.payload), Ok(3));
    assert_eq!(table.release(h), Ok(false));
    begin_take();
    assert_eq!(
        table.take(h).err(),
        Some(Error::Busy),
        "another take is deciding"
    );
    assert_eq!(table.release(h), Ok(true), "the last release ends it");
    table.flush();
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    let h = table.insert(Tracked::new(4, &drops));
    let slot = table.shard(h.shard()).slot(h.index()).unwrap();
    slot.state.store(
        identity_of(slot.state.load(Ordering::Relaxed)) | TAKING | 1,
        Ordering::Relaxed,
    );
    assert_eq!(table.revoke(h), Ok(()));
    assert_eq!(table.with(h, |_| ()), Err(Error::Stale));
    table.flush();
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

/// A value that records which thread dropped it.
struct Where(Arc<std::sync::Mutex<Vec<std::thread::ThreadId>>>);

impl Drop for Where {
    fn drop(&mut self) {
        self.0.lock().unwrap().push(std::thread::current().id());
    }
}

/// Polls `done` for up to 10 s (a functional "eventually", not a timing assertion).
fn eventually(done: impl Fn() -> bool) -> bool {
    for _ in 0..10_000 {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    done()
}

#[cfg_attr(miri, ignore)] // a background thread that parks with timeouts
#[test]
fn background_policy_drops_off_the_caller_without_further_calls() {
    static TABLE: HandleTable<Where> = HandleTable::new();
    TABLE.set_reclaim_policy(crate::ReclaimPolicy::Background);
    let _witness = witness(); // not alone: values cannot be dropped inside the ending call
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let n = 2 * crate::table::RECLAIM_BATCH as usize + 7;
    for _ in 0..n {
        let h = TABLE.insert(Where(seen.clone()));
        TABLE.retain(h).unwrap();
        TABLE.revoke(h).unwrap();
        TABLE.release(h).unwrap();
    }
    // No further call: the reclaimer drops them all by itself.
    assert!(
        eventually(|| seen.lock().unwrap().len() == n),
        "{} of {n} dropped",
        seen.lock().unwrap().len()
    );
    let me = std::thread::current().id();
    assert!(
        seen.lock().unwrap().iter().all(|&t| t != me),
        "a value was dropped inside the caller's operation"
    );
    assert_eq!(TABLE.stats().pending_drops, 0);
}

#[test]
fn explicit_policy_drops_only_in_flush() {
    static TABLE: HandleTable<Tracked> = HandleTable::new();
    let table = &TABLE;
    table.set_reclaim_policy(crate::ReclaimPolicy::Explicit);
    let _witness = witness();
    let drops = counter();
    let n = 3 * crate::table::RECLAIM_BATCH;
    for i in 0..n {
        let h = table.insert(Tracked::new(i, &drops));
        table.revoke(h).unwrap();
    }
    assert_eq!(drops.load(Ordering::SeqCst), 0, "dropped outside flush");
    assert_eq!(table.stats().pending_drops as u64, n);
    assert_eq!(table.flush(), 0);
    assert_eq!(drops.load(Ordering::SeqCst), n as usize);
}

#[test]
fn caller_policy_reports_drop_panics_instead_of_unwinding_into_other_calls() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("boom in a pass");
        }
    }
    let _witness = witness();
    let table: HandleTable<Option<Bomb>> = HandleTable::new();
    let before = crate::thread_stats().drop_panics;
    let bomb = table.insert(Some(Bomb));
    table.revoke(bomb).unwrap();
    // Enough unrelated ends to run a pass inside one of these calls: none of them panics.
    for _ in 0..2 * crate::table::RECLAIM_BATCH {
        let h = table.insert(None);
        table.revoke(h).unwrap();
    }
    assert!(
        crate::thread_stats().drop_panics > before,
        "the panic was reported"
    );
    assert_eq!(table.diagnose(bomb).error, Some(Error::Stale));
}

/// A claimed record's first hazard cell is free exactly when the lookup fast path may use a
/// compiler fence for its light barrier: where the barrier mode can vary, a record claimed in
/// the symmetric mode keeps the cell marked (`FENCED`), so lookups take the path that fences.
/// Nested lookups leave the mark alone, and releasing the record clears it.
#[test]
fn first_hazard_cell_marks_the_barrier_mode() {
    use crate::registry::FENCED;
    let table = HandleTable::new();
    let h = table.insert(7u64);
    let want = if crate::barrier::marks_first_cell(crate::barrier::init()) {
        FENCED
    } else {
        0
    };
    // The switch `.ci/run` sets: on Linux it must mark (outside Miri, where the mode is fixed).
    if cfg!(all(target_os = "linux", not(miri)))
        && std::env::var_os("HANDLES_BARRIER").is_some_and(|v| v == "symmetric")
    {
        assert_eq!(want, FENCED);
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(table.with(h, |v| *v), Ok(7));
            let rec = crate::global::local().unwrap();
            assert_eq!(rec.first_hazard().load(Ordering::Relaxed), want);
            let nested = table.with(h, |a| table.with(h, |b| a + b));
            assert_eq!(nested, Ok(Ok(14)));
            let guard = table.get(h).unwrap();
            assert_eq!(*guard, 7);
            drop(guard);
            assert_eq!(rec.first_hazard().load(Ordering::Relaxed), want);
            crate::global::unregister_current();
            assert_eq!(rec.first_hazard().load(Ordering::Relaxed), 0);
        });
    });
}

/// The thread's record pointer (`current.rs`): every thread starts with the sentinel, has a
/// word of its own at an address no other live thread shares (the owner token), reads back
/// what it stored, and registering stores its record there.
#[test]
fn record_pointer_is_per_thread() {
    use crate::current::{self, UNREGISTERED};
    let here = current::address();
    let (there, fresh) = std::thread::spawn(|| {
        let fresh = core::ptr::eq(current::get(), &UNREGISTERED);
        let rec = crate::global::local().unwrap();
        assert!(core::ptr::eq(current::get(), rec));
        assert_eq!(current::address(), crate::global::token());
        assert_eq!(current::address() % 8, 0);
        let old = current::replace(&UNREGISTERED);
        assert!(core::ptr::eq(old, rec));
        assert!(core::ptr::eq(current::get(), &UNREGISTERED));
        current::set(old);
        (current::address(), fresh)
    })
    .join()
    .unwrap();
    assert!(fresh, "a new thread starts unregistered");
    assert_ne!(here, there);
    assert_eq!(here, current::address());
}
