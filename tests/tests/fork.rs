//! Own test binary: the child counts thread records, so no other test's threads may come or go.
//!
//! `fork()` (the promise under test: after `fork()`, the child can keep using every table): the
//! parent forks while other threads are in the middle of lookups, inserts, removes, takes and
//! reclamation passes; the child, where those threads no longer exist, inserts, looks up,
//! removes and flushes successfully, sees its own values dropped exactly once, and exits with
//! `_exit` and a status code the parent checks.
//!
//! After a fork in a multithreaded process the child only runs the library and allocates
//! (glibc resets its malloc locks in its own fork handlers); it never spawns threads, prints
//! through `std`, or returns into the test harness.
#![cfg(unix)]

use handles::{Error, Handle, HandleTable};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use test_support::fork::fork_run;
use test_support::{Drops, Item, XorShift};

/// Fork tests run one at a time, so no test's threads are starting up or exiting while
/// another forks (the child checks the exact number of active thread records).
static SERIAL: Mutex<()> = Mutex::new(());

/// What every child does with a table: its own entries, looked up, removed, flushed, and the
/// parent's stable entries still readable.
fn child_work(table: &HandleTable<Item>, stable: &[(usize, Handle)]) {
    let stats = handles::thread_stats();
    assert_eq!(
        stats.active, 1,
        "records of the parent's other threads not released: {stats:?}"
    );
    for &(id, h) in stable {
        assert_eq!(table.with(h, |v| v.check(h)), Ok(id), "stable entry {id}");
    }
    const N: usize = 600;
    let drops = Drops::new(N);
    let mut mine: Vec<(usize, Handle)> = (0..N)
        .map(|i| (i, Item::insert(table, &drops, i)))
        .collect();
    for &(id, h) in &mine {
        assert_eq!(table.with(h, |v| v.check(h)), Ok(id));
    }
    let g = table.get(mine[0].1).unwrap();
    for (k, &(id, h)) in mine.iter().enumerate() {
        match k % 3 {
            0 => table.revoke(h).unwrap(),
            1 => assert_eq!(table.release(h), Ok(true)),
            _ => assert_eq!(table.take(h).map(|v| v.check(h)), Ok(id)),
        }
        assert_eq!(table.with(h, |_| ()), Err(Error::Stale));
    }
    // Hazards of the parent's threads, which do not exist here, must not hold values back:
    // only our own guard does.
    assert_eq!(table.flush(), 1);
    drop(g);
    assert_eq!(table.flush(), 0);
    drops.assert_all_once();
    // A fresh table in the child, dropped in the child.
    let fresh: HandleTable<Item> = HandleTable::new();
    let drops2 = Drops::new(100);
    mine = (0..100)
        .map(|i| (i, Item::insert(&fresh, &drops2, i)))
        .collect();
    for &(_, h) in mine.iter().step_by(2) {
        fresh.revoke(h).unwrap();
    }
    drop(fresh);
    drops2.assert_all_once();
}

#[test]
fn child_uses_tables_while_parent_threads_were_mid_operation() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const SPINNERS: usize = 3;
    const FORKS: usize = 40;
    const PER: usize = 1_000_000;
    let parent_drops = Drops::new(64 + SPINNERS * PER);
    let table: HandleTable<Item> = HandleTable::new();
    let stable: Vec<(usize, Handle)> = (0..64)
        .map(|i| (i, Item::insert(&table, &parent_drops, i)))
        .collect();
    let stop = AtomicBool::new(false);
    let ready = AtomicUsize::new(0);
    let mailbox: Vec<AtomicU64> = (0..64).map(|_| AtomicU64::new(0)).collect();
    let ops = AtomicUsize::new(0);
    let counts: Vec<usize> = std::thread::scope(|s| {
        let mut spinners = Vec::new();
        for t in 0..SPINNERS {
            let (table, drops, stop, ready, mailbox, stable, ops) = (
                &table,
                &parent_drops,
                &stop,
                &ready,
                &mailbox,
                &stable,
                &ops,
            );
            spinners.push(s.spawn(move || {
                let mut rng = XorShift(t as u64 * 7919 + 1);
                ready.fetch_add(1, Ordering::SeqCst);
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) && i < PER {
                    let id = 64 + t * PER + i;
                    i += 1;
                    let h = Item::insert(table, drops, id);
                    mailbox[rng.below(64) as usize].store(h.into_raw(), Ordering::Relaxed);
                    let (sid, sh) = stable[rng.below(64) as usize];
                    table.with(sh, |v| assert_eq!(v.check(sh), sid)).unwrap();
                    let raw = mailbox[rng.below(64) as usize].load(Ordering::Relaxed);
                    if let Some(o) = Handle::from_raw(raw)
                        && let Ok(g) = table.get(o)
                    {
                        let _ = table.revoke(o);
                        g.check(o);
                    }
                    match rng.below(4) {
                        0 => drop(table.take(h)),
                        1 => {
                            if table.retain(h).is_ok() {
                                let _ = table.release(h);
                            }
                            let _ = table.release(h);
                        }
                        2 => {
                            let _ = table.revoke(h);
                            if rng.below(16) == 0 {
                                table.flush();
                            }
                        }
                        _ => {
                            let _ = table.revoke(h);
                        }
                    }
                    ops.fetch_add(1, Ordering::Relaxed);
                }
                i
            }));
        }
        while ready.load(Ordering::SeqCst) < SPINNERS {
            std::thread::yield_now();
        }
        let mut failures = Vec::new();
        for k in 0..FORKS {
            // Let the spinners make progress between forks.
            let seen = ops.load(Ordering::Relaxed);
            for _ in 0..100_000 {
                if ops.load(Ordering::Relaxed) >= seen + 50 {
                    break;
                }
                std::thread::yield_now();
            }
            if let Err(e) = fork_run(|| child_work(&table, &stable)) {
                failures.push(format!("fork {k}: {e}"));
            }
        }
        stop.store(true, Ordering::Relaxed);
        assert!(failures.is_empty(), "{failures:#?}");
        spinners.into_iter().map(|j| j.join().unwrap()).collect()
    });
    // The parent is unaffected.
    for &(id, h) in &stable {
        assert_eq!(table.with(h, |v| v.check(h)), Ok(id));
    }
    drop(table);
    let used = (0..64).chain(
        counts
            .iter()
            .enumerate()
            .flat_map(|(t, &n)| (64 + t * PER..).take(n)),
    );
    parent_drops.assert_exactly(used);
}

static STATIC_TABLE: HandleTable<Item> = HandleTable::new();

#[test]
fn child_and_grandchild_use_a_static_table() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let drops = Drops::new(8);
    let stable: Vec<(usize, Handle)> = (0..8)
        .map(|i| (i, Item::insert(&STATIC_TABLE, &drops, i)))
        .collect();
    // A guard held across the fork: in the child, the forking thread still holds it.
    let g = STATIC_TABLE.get(stable[0].1).unwrap();
    fork_run(|| {
        assert_eq!(g.check(stable[0].1), 0);
        child_work(&STATIC_TABLE, &stable);
        // Fork again from the child.
        fork_run(|| child_work(&STATIC_TABLE, &stable)).unwrap();
        child_work(&STATIC_TABLE, &stable);
        assert_eq!(g.check(stable[0].1), 0);
    })
    .unwrap();
    drop(g);
    for &(_, h) in &stable {
        STATIC_TABLE.revoke(h).unwrap();
    }
    assert_eq!(STATIC_TABLE.flush(), 0);
    drops.assert_all_once();
}
