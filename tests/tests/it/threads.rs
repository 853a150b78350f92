//! Concurrency: mixed operations from several threads on shared handles
//! with exact drop counts at the end; races on one handle where exactly one thread may win;
//! lookups racing removal; concurrent first use of a fresh table; thread-local destructors
//! that use tables; and thread churn (100,000 short-lived threads) with bounded per-thread
//! records and bounded table memory.

use handles::{Error, Handle, HandleTable};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex, mpsc};
use test_support::{Drops, Item, XorShift};

/// A lookup of `h` that may fail only because the entry ended (a `take` in flight on another
/// thread never makes it fail); returns the id it saw.
fn read(table: &HandleTable<Item>, h: Handle) -> Option<usize> {
    match table.with(h, |v| v.check(h)) {
        Ok(id) => Some(id),
        Err(Error::Stale) => None,
        Err(e) => panic!("lookup of {h:?}: {e:?}"),
    }
}

#[test]
fn mixed_operations_on_shared_handles() {
    test_support::not_alone();
    const THREADS: usize = 4;
    const SHARED: usize = 64;
    const ITERS: usize = 20_000;
    const MAILBOX: usize = 256;
    let drops = Drops::new(SHARED + THREADS * ITERS);
    let table = HandleTable::new();
    let shared: Vec<Handle> = (0..SHARED)
        .map(|i| Item::insert(&table, &drops, i))
        .collect();
    // Each thread owns one reference to every shared entry; the owner's goes at once.
    for &h in &shared {
        for _ in 0..THREADS {
            table.retain(h).unwrap();
        }
        assert_eq!(table.revoke(h), Ok(()));
    }
    // Handles other threads may look up and race to remove.
    let mailbox: Vec<AtomicU64> = (0..MAILBOX).map(|_| AtomicU64::new(0)).collect();
    let last_releases = AtomicUsize::new(0);
    let removed_by_others = AtomicUsize::new(0);
    let taken = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (table, drops, shared, mailbox) = (&table, &drops, &shared, &mailbox);
            let (last_releases, removed_by_others, taken) =
                (&last_releases, &removed_by_others, &taken);
            s.spawn(move || {
                let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ ((t as u64 + 1) * 0x1234_5678_9abc));
                let mut mine: Vec<(usize, Handle)> = Vec::new();
                let mut guards = Vec::new();
                for i in 0..ITERS {
                    let id = SHARED + t * ITERS + i;
                    let h = Item::insert(table, drops, id);
                    assert_eq!(read(table, h), Some(id));
                    mine.push((id, h));
                    mailbox[rng.below(MAILBOX as u64) as usize]
                        .store(h.into_raw(), Ordering::Relaxed);
                    match rng.below(12) {
                        // Shared entries are revoked but referenced: stale for lookups.
                        0 => {
                            assert_eq!(read(table, shared[rng.below(SHARED as u64) as usize]), None)
                        }
                        1 => {
                            let s = shared[rng.below(SHARED as u64) as usize];
                            assert_eq!(table.retain(s), Err(Error::Stale));
                        }
                        2 | 3 => {
                            // Someone else's entry, maybe removed already.
                            let raw =
                                mailbox[rng.below(MAILBOX as u64) as usize].load(Ordering::Relaxed);
                            if let Some(o) = Handle::from_raw(raw) {
                                read(table, o);
                                if rng.below(4) == 0 && table.revoke(o).is_ok() {
                                    removed_by_others.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                        4 => {
                            let raw =
                                mailbox[rng.below(MAILBOX as u64) as usize].load(Ordering::Relaxed);
                            if let Some(g) = Handle::from_raw(raw).and_then(|o| table.get(o).ok()) {
                                guards.push((Handle::from_raw(raw).unwrap(), g));
                            }
                        }
                        5 if !guards.is_empty() => {
                            let k = rng.below(guards.len() as u64) as usize;
                            let (o, g) = guards.swap_remove(k);
                            g.check(o);
                        }
                        6 | 7 if !mine.is_empty() => {
                            let k = rng.below(mine.len() as u64) as usize;
                            let (id, h) = mine.swap_remove(k);
                            match rng.below(3) {
                                0 => {
                                    let _ = table.revoke(h);
                                }
                                1 => {
                                    let _ = table.release(h);
                                }
                                _ => match table.take(h) {
                                    Ok(v) => {
                                        assert_eq!(v.check(h), id);
                                        taken.fetch_add(1, Ordering::Relaxed);
                                    }
                                    // Borrowed by another thread's lookup or guard, or
                                    // removed by another thread already.
                                    Err(Error::Busy) => {
                                        let _ = table.revoke(h);
                                    }
                                    Err(Error::Stale) => {}
                                    Err(e) => panic!("take {h:?}: {e:?}"),
                                },
                            }
                        }
                        8 if !mine.is_empty() => {
                            let (_, h) = mine[rng.below(mine.len() as u64) as usize];
                            if table.retain(h).is_ok() {
                                read(table, h);
                                let _ = table.release(h);
                            }
                        }
                        _ => {
                            if mine.len() > 32 {
                                let (_, h) = mine.remove(0);
                                let _ = table.revoke(h);
                            }
                        }
                    }
                    if guards.len() > 6 {
                        let (o, g) = guards.remove(0);
                        g.check(o);
                    }
                }
                drop(guards);
                for (_, h) in mine {
                    let _ = table.revoke(h);
                }
                for &h in shared {
                    if table.release(h) == Ok(true) {
                        last_releases.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(
        last_releases.load(Ordering::Relaxed),
        SHARED,
        "one last release per entry"
    );
    assert!(removed_by_others.load(Ordering::Relaxed) > 0);
    assert!(taken.load(Ordering::Relaxed) > 0);
    assert_eq!(table.len(), 0, "{:?}", table.handles());
    assert_eq!(table.flush(), 0);
    assert_eq!(table.stats().pending_drops, 0);
    drops.assert_all_once();
    drop(table);
    drops.assert_all_once();
}

#[test]
fn one_winner_per_race() {
    test_support::not_alone();
    const THREADS: usize = 4;
    const ROUNDS: usize = 1500;
    let drops = Drops::new(ROUNDS);
    let table: HandleTable<Item> = HandleTable::new();
    let current = AtomicU64::new(0);
    let wins = AtomicUsize::new(0);
    let start = Barrier::new(THREADS + 1);
    let end = Barrier::new(THREADS + 1);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            let (table, current, wins, start, end) = (&table, &current, &wins, &start, &end);
            s.spawn(move || {
                for round in 0..ROUNDS {
                    start.wait();
                    let h = Handle::from_raw(current.load(Ordering::SeqCst)).unwrap();
                    let won = match round % 3 {
                        0 => table.revoke(h).is_ok(),
                        // Each thread holds one reference: exactly one release is the last.
                        1 => table.release(h).unwrap(),
                        _ => match table.take(h) {
                            Ok(v) => {
                                v.check(h);
                                true
                            }
                            Err(Error::Busy | Error::Stale) => false,
                            Err(e) => panic!("take: {e:?}"),
                        },
                    };
                    if won {
                        wins.fetch_add(1, Ordering::SeqCst);
                    }
                    end.wait();
                }
            });
        }
        for round in 0..ROUNDS {
            let h = Item::insert(&table, &drops, round);
            if round % 3 == 1 {
                for _ in 1..THREADS {
                    table.retain(h).unwrap();
                }
            }
            current.store(h.into_raw(), Ordering::SeqCst);
            start.wait();
            end.wait();
            let w = wins.swap(0, Ordering::SeqCst);
            if round % 3 == 2 {
                // A taker that sees another's TAKING state gets Busy; one of them must win
                // unless all saw each other, which cannot happen: the first CAS wins alone.
                assert_eq!(w, 1, "round {round}: {w} takes succeeded");
            } else {
                assert_eq!(w, 1, "round {round}: {w} winners");
            }
            assert!(!table.contains(h));
        }
    });
    assert_eq!(table.flush(), 0);
    drops.assert_all_once();
}

#[test]
fn lookups_race_removal() {
    test_support::not_alone();
    const READERS: usize = 3;
    const ROUNDS: usize = 3000;
    let drops = Drops::new(ROUNDS);
    let table: HandleTable<Item> = HandleTable::new();
    let current = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let hits = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..READERS {
            let (table, current, stop, hits) = (&table, &current, &stop, &hits);
            s.spawn(move || {
                let mut guard = None;
                while !stop.load(Ordering::Relaxed) {
                    let Some(h) = Handle::from_raw(current.load(Ordering::Acquire)) else {
                        continue;
                    };
                    if read(table, h).is_some() {
                        hits.fetch_add(1, Ordering::Relaxed);
                    }
                    // Hold a guard across the remover's next steps now and then.
                    if let Ok(g) = table.get(h)
                        && let Some((o, old)) = guard.replace((h, g))
                    {
                        old.check(o);
                    }
                }
            });
        }
        let mut rng = XorShift(7);
        for round in 0..ROUNDS {
            let h = Item::insert(&table, &drops, round);
            current.store(h.into_raw(), Ordering::Release);
            if round % 16 == 0 {
                // Make sure readers really run against live entries now and then.
                // (Bounded, so a panicked reader cannot hang the test.)
                let seen = hits.load(Ordering::Relaxed);
                for _ in 0..1_000_000 {
                    if hits.load(Ordering::Relaxed) != seen {
                        break;
                    }
                    std::thread::yield_now();
                }
            }
            for _ in 0..rng.below(50) {
                std::hint::spin_loop();
            }
            match round % 3 {
                0 => table.revoke(h).unwrap(),
                1 => assert_eq!(table.release(h), Ok(true)),
                _ => match table.take(h) {
                    Ok(v) => drop(v),
                    Err(Error::Busy) => table.revoke(h).unwrap(),
                    Err(e) => panic!("take: {e:?}"),
                },
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(hits.load(Ordering::Relaxed) > 0);
    assert_eq!(table.flush(), 0);
    drops.assert_all_once();
}

/// A handle one thread inserted into a fresh table, and the value it holds.
type Published = (Handle, (usize, usize));

#[test]
fn concurrent_first_use_of_fresh_tables() {
    test_support::not_alone();
    const THREADS: usize = 4;
    const TABLES: usize = 200;
    let tables: Vec<HandleTable<(usize, usize)>> =
        (0..TABLES).map(|_| HandleTable::new()).collect();
    let published: Vec<Mutex<Vec<Published>>> =
        (0..TABLES).map(|_| Mutex::new(Vec::new())).collect();
    let start = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (tables, published, start) = (&tables, &published, &start);
            s.spawn(move || {
                for (r, table) in tables.iter().enumerate() {
                    start.wait();
                    // Every thread's first insert races to initialise the table.
                    let h = table.insert((r, t));
                    published[r].lock().unwrap().push((h, (r, t)));
                    start.wait();
                    for &(h, v) in published[r].lock().unwrap().iter() {
                        assert_eq!(table.with(h, |x| *x), Ok(v), "table {r}");
                    }
                }
            });
        }
    });
    for (r, table) in tables.iter().enumerate() {
        assert_eq!(table.len(), THREADS);
        let hs = published[r].lock().unwrap();
        // One tag per table, shared by every thread's handles.
        let tags: std::collections::HashSet<u64> = hs
            .iter()
            .map(|(h, _)| test_support::layout::fields(h.into_raw()).1)
            .collect();
        assert_eq!(tags.len(), 1, "table {r} has several tags");
        // Handles of neighbouring tables are foreign.
        if let Some(other) = tables.get(r + 1) {
            assert_eq!(other.with(hs[0].0, |_| ()), Err(Error::WrongTable));
        }
    }
}

static TLS_TABLE: HandleTable<Item> = HandleTable::new();
static TLS_DROPS: std::sync::OnceLock<Drops> = std::sync::OnceLock::new();
static TLS_IDS: AtomicUsize = AtomicUsize::new(0);

fn tls_drops() -> &'static Drops {
    TLS_DROPS.get_or_init(|| Drops::new(1000))
}

/// A thread-local whose destructor uses a table.
struct UsesTableOnExit;

impl Drop for UsesTableOnExit {
    fn drop(&mut self) {
        let drops = tls_drops();
        let id = TLS_IDS.fetch_add(1, Ordering::SeqCst);
        let h = Item::insert(&TLS_TABLE, drops, id);
        assert_eq!(TLS_TABLE.with(h, |v| v.check(h)), Ok(id));
        let g = TLS_TABLE.get(h).unwrap();
        assert_eq!(TLS_TABLE.take(h).err(), Some(Error::Busy));
        TLS_TABLE.revoke(h).unwrap();
        assert_eq!(g.check(h), id);
        drop(g);
        TLS_TABLE.flush();
    }
}

/// A table used only to register threads with the thread registry.
static REGISTER: HandleTable<u8> = HandleTable::new();

thread_local! {
    static ON_EXIT: UsesTableOnExit = const { UsesTableOnExit };
}

#[test]
fn thread_local_destructors_use_tables() {
    test_support::not_alone();
    let before = TLS_IDS.load(Ordering::SeqCst);
    for k in 0..20 {
        std::thread::spawn(move || {
            if k % 2 == 0 {
                // Register with the registry first, then the thread-local: the local's
                // destructor runs while the thread still has its record.
                let h = REGISTER.insert(0);
                REGISTER.revoke(h).unwrap();
                ON_EXIT.with(|_| ());
            } else {
                // Thread-local first: its destructor runs after the exit hook released the
                // thread's record.
                ON_EXIT.with(|_| ());
                let h = REGISTER.insert(0);
                REGISTER.revoke(h).unwrap();
            }
        })
        .join()
        .unwrap();
    }
    let after = TLS_IDS.load(Ordering::SeqCst);
    assert_eq!(after - before, 20);
    // Only this test uses TLS_TABLE's tracked ids.
    TLS_TABLE.flush();
    tls_drops().assert_exactly(0..after);
}

/// A guard kept in a thread-local, dropped during thread-local teardown after the exit hook.
struct LateGuard {
    guard: Option<(Handle, handles::Guard<'static, Item>)>,
    in_teardown: mpsc::Sender<()>,
    resume: mpsc::Receiver<()>,
    /// Whether the value was intact when the guard was finally dropped. (A panic in a
    /// thread-local destructor would abort the whole test binary, so report instead.)
    verdict: mpsc::Sender<bool>,
}

impl Drop for LateGuard {
    fn drop(&mut self) {
        if let Some((h, g)) = self.guard.take() {
            let _ = self.in_teardown.send(());
            let _ = self.resume.recv();
            // Another thread removed the entry and ran reclamation meanwhile.
            let intact =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.check(h))).is_ok();
            let _ = self.verdict.send(intact);
        }
    }
}

thread_local! {
    static LATE: std::cell::RefCell<Option<LateGuard>> = const { std::cell::RefCell::new(None) };
}

static LATE_TABLE: HandleTable<Item> = HandleTable::new();

#[test]
#[cfg_attr(
    windows,
    ignore = "starts threads while another thread waits in its thread-local destructors, which \
              Windows runs under the loader lock: no thread can start until they return"
)]
fn guard_in_thread_local_outlives_exit_hook() {
    test_support::not_alone();
    let drops = Drops::new(100);
    let h = Item::insert(&LATE_TABLE, &drops, 0);
    let (stored_tx, stored_rx) = mpsc::channel();
    let (teardown_tx, teardown_rx) = mpsc::channel();
    let (resume_tx, resume_rx) = mpsc::channel();
    let (verdict_tx, verdict_rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        // Touch the thread-local before the table, so its destructor runs after the hook.
        LATE.with(|_| ());
        let g = LATE_TABLE.get(h).unwrap();
        LATE.with(|l| {
            *l.borrow_mut() = Some(LateGuard {
                guard: Some((h, g)),
                in_teardown: teardown_tx,
                resume: resume_rx,
                verdict: verdict_tx,
            })
        });
        stored_tx.send(()).unwrap();
    });
    stored_rx.recv().unwrap();
    LATE_TABLE.revoke(h).unwrap();
    teardown_rx.recv().unwrap();
    // The thread is between its exit hook and its guard's drop. New threads must not take
    // over its hazard cells, and reclamation must still respect the guard.
    std::thread::scope(|s| {
        for t in 0..4 {
            let drops = &drops;
            s.spawn(move || {
                for i in 0..10 {
                    let id = 1 + t * 10 + i;
                    let o = Item::insert(&LATE_TABLE, drops, id);
                    let g = LATE_TABLE.get(o).unwrap();
                    LATE_TABLE.revoke(o).unwrap();
                    assert_eq!(g.check(o), id);
                }
            });
        }
    });
    let waiting = LATE_TABLE.flush();
    let dropped_early = drops.of(0);
    resume_tx.send(()).unwrap();
    let intact = verdict_rx.recv().unwrap();
    thread.join().unwrap();
    assert_eq!(waiting, 1, "the late guard's value must wait");
    assert_eq!(dropped_early, 0, "value dropped under the late guard");
    assert!(intact, "the late guard read a dropped value");
    assert_eq!(LATE_TABLE.flush(), 0);
    drops.assert_exactly(0..41);
}

/// Thread churn: 100,000 threads over the test (`HANDLES_CHURN_THREADS` to change it; CI runs
/// it once with 10^6), in waves of `WAVE` concurrent threads, each registering with the thread
/// registry, inserting, looking up and removing.
///
/// The same sizes in both profiles: 100,000 threads take about 4-5 s on 2 cores in the debug
/// build (`cargo test`) and about 4 s with `cargo test --release` (thread creation dominates).
#[test]
fn thread_churn_keeps_records_and_memory_bounded() {
    test_support::not_alone();
    const WAVE: usize = 100;
    let threads: usize = std::env::var("HANDLES_CHURN_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let waves = threads.div_ceil(WAVE);
    let table: HandleTable<Item> = HandleTable::new();
    let drops = Drops::new(waves * WAVE);
    let spawned = AtomicUsize::new(0);
    let mut peak_slots = 0;
    for wave in 0..waves {
        std::thread::scope(|s| {
            for k in 0..WAVE {
                let (table, drops, spawned) = (&table, &drops, &spawned);
                std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn_scoped(s, move || {
                        spawned.fetch_add(1, Ordering::Relaxed);
                        let id = wave * WAVE + k;
                        let h = Item::insert(table, drops, id);
                        assert_eq!(read(table, h), Some(id));
                        let g = table.get(h).unwrap();
                        if k % 2 == 0 {
                            table.revoke(h).unwrap();
                        } else {
                            assert_eq!(table.release(h), Ok(true));
                        }
                        assert_eq!(g.check(h), id);
                    })
                    .unwrap();
            }
        });
        if wave % 100 == 99 {
            let stats = handles::thread_stats();
            // Records are recycled: the registry holds at most about one wave's worth (plus
            // threads of other tests in this binary, and slack for threads that exit while
            // others register), never one per thread ever created.
            assert!(
                stats.records <= 2 * WAVE + 64,
                "after {} threads: {} records",
                spawned.load(Ordering::Relaxed),
                stats.records
            );
            assert!(stats.active <= stats.records);
            let t = table.stats();
            peak_slots = peak_slots.max(t.slots);
            // Memory tracks what is live or pending (at most one wave, plus a reclamation
            // batch per shard), not the 100,000 entries made so far.
            assert!(t.slots <= 64 * 1024, "after wave {wave}: {t:?}");
            assert!(t.pages <= 64 * 12, "after wave {wave}: {t:?}");
        }
    }
    assert_eq!(spawned.load(Ordering::Relaxed), waves * WAVE);
    assert_eq!(table.len(), 0);
    assert_eq!(table.flush(), 0);
    drops.assert_all_once();
    let stats = handles::thread_stats();
    assert!(stats.records <= 2 * WAVE + 64, "{stats:?}");
    assert!(peak_slots > 0);
}

/// A `take` that fails disturbs nobody: while one thread holds a guard (so every take fails
/// with `Busy`) and another takes in a loop, lookups, guards, retains and releases of the live
/// entry from two more threads never fail.
///
/// The guard is held until the taking thread has stopped, and the operating threads go on past
/// `ROUNDS` until a take has failed while they operate, so on a loaded machine (other tests of
/// the binary, other processes) neither a late take nor a starved taking thread decides the
/// outcome.
#[test]
fn failing_takes_never_fail_other_operations() {
    test_support::not_alone();
    const ROUNDS: usize = 200_000;
    let drops = Drops::new(1);
    let table = HandleTable::new();
    let h = Item::insert(&table, &drops, 0);
    let start = Barrier::new(4);
    let operating = AtomicUsize::new(2);
    let done = AtomicBool::new(false);
    let taking = AtomicBool::new(true);
    let failures = AtomicUsize::new(0);
    let busy = AtomicU64::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            let guard = table.get(h).unwrap();
            start.wait();
            while taking.load(Ordering::Acquire) {
                assert_eq!(guard.check(h), 0);
                std::thread::yield_now();
            }
        });
        s.spawn(|| {
            /// Clears `taking` when the taking thread stops, panicking or not.
            struct Stopped<'a>(&'a AtomicBool);
            impl Drop for Stopped<'_> {
                fn drop(&mut self) {
                    self.0.store(false, Ordering::Release);
                }
            }
            let _stopped = Stopped(&taking);
            start.wait();
            while !done.load(Ordering::Relaxed) {
                match table.take(h) {
                    Err(Error::Busy) => busy.fetch_add(1, Ordering::Relaxed),
                    Ok(_) => panic!("take succeeded while a guard is held"),
                    Err(e) => panic!("take while a guard is held: {e:?}"),
                };
            }
        });
        for _ in 0..2 {
            s.spawn(|| {
                start.wait();
                let more = |i: &usize| {
                    *i < ROUNDS
                        || (busy.load(Ordering::Relaxed) == 0 && taking.load(Ordering::Acquire))
                };
                for i in (0..).take_while(more) {
                    let ok = match i % 4 {
                        0 => table.with(h, |v| v.check(h)).is_ok(),
                        1 => table.get(h).map(|g| g.check(h)).is_ok(),
                        2 => table.retain(h).is_ok() && table.release(h) == Ok(false),
                        _ => {
                            table.retain_with(h, |v| v.check(h)).is_ok()
                                && table.release(h) == Ok(false)
                        }
                    };
                    if !ok {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if operating.fetch_sub(1, Ordering::AcqRel) == 1 {
                    done.store(true, Ordering::Relaxed);
                }
            });
        }
    });
    assert!(busy.load(Ordering::Relaxed) > 0, "the takes ran");
    assert_eq!(failures.load(Ordering::Relaxed), 0, "spurious failures");
    table.revoke(h).unwrap();
    table.flush();
    drops.assert_all_once();
}

/// `retain_with`'s closure reads its value while other threads release the entry's references
/// (more releases than they own, which safe code may do) and flush: the closure never sees a
/// dropped value. Every value is dropped exactly once.
#[test]
fn retain_with_survives_foreign_releases() {
    test_support::not_alone();
    const ENTRIES: usize = 20_000;
    let drops = Drops::new(ENTRIES);
    let table = HandleTable::new();
    let mailbox: Vec<AtomicU64> = (0..64).map(|_| AtomicU64::new(0)).collect();
    let produced = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for id in 0..ENTRIES {
                let h = Item::insert(&table, &drops, id);
                mailbox[id % 64].store(h.into_raw(), Ordering::Release);
                let seen = table.retain_with(h, |v| {
                    std::hint::spin_loop();
                    v.check(h)
                });
                match seen {
                    Ok(seen) => {
                        assert_eq!(seen, id);
                        let _ = table.release(h);
                    }
                    Err(e) => assert_eq!(e, Error::Stale),
                }
                let _ = table.release(h);
            }
            produced.store(true, Ordering::Release);
        });
        for _ in 0..2 {
            s.spawn(|| {
                let mut rng = XorShift(7);
                while !produced.load(Ordering::Acquire) {
                    let raw = mailbox[rng.below(64) as usize].load(Ordering::Acquire);
                    if let Some(h) = Handle::from_raw(raw) {
                        while table.release(h).is_ok() {}
                        table.flush();
                    }
                }
            });
        }
    });
    table.flush();
    drops.assert_all_once();
}
