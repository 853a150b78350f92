//! Own test binary: it expects generations from 0, i.e. tags that no earlier table has held.
//!
//! Slot retirement when a generation would wrap (the promise under test: a handle value is
//! never handed out twice by the same table), driven with small maximum generations through
//! `HandleTable::with_max_generation`: handles never repeat over many insert/remove cycles,
//! `stats().exhausted_slots` grows, and old handles stay stale forever.
//!
//! A table's first generation is its tag's floor, which is 0 only for a tag that no earlier
//! table of the process held. These tests check generations from 0, so they run where no other
//! test creates tables (the shared test binary creates thousands, and tags come round).

use handles::{Error, Handle, HandleTable};
use std::collections::HashSet;
use std::sync::Mutex;
use test_support::{Drops, layout};

/// Asserts that every operation on `h` fails with `Stale`.
fn assert_stale<T: Send + Sync>(table: &HandleTable<T>, h: Handle) {
    assert_eq!(table.with(h, |_| ()), Err(Error::Stale), "with {h:?}");
    assert_eq!(table.retain(h), Err(Error::Stale), "retain {h:?}");
    assert_eq!(table.release(h), Err(Error::Stale), "release {h:?}");
    assert_eq!(table.revoke(h), Err(Error::Stale), "remove {h:?}");
    assert_eq!(table.take(h).err(), Some(Error::Stale), "take {h:?}");
    assert!(!table.contains(h), "contains {h:?}");
}

#[test]
fn one_slot_cycled_is_retired_after_max_generation() {
    const MAX: u32 = 3;
    const CYCLES: usize = 4000;
    let drops = Drops::new(CYCLES);
    let table = HandleTable::with_max_generation(MAX);
    let mut seen = HashSet::new();
    let mut old = Vec::new();
    for i in 0..CYCLES {
        let h = table.insert(drops.value(i));
        assert!(seen.insert(h), "cycle {i}: handle {h:?} issued twice");
        let (generation, ..) = layout::fields(h.into_raw());
        assert!(
            generation <= u64::from(MAX),
            "{h:?} beyond the maximum generation"
        );
        // One thread, one value at a time: the slot is reused until it is exhausted.
        assert_eq!(generation, (i % (MAX as usize + 1)) as u64, "cycle {i}");
        assert_eq!(table.with(h, |v| v.check()), Ok(i));
        table.revoke(h).unwrap();
        assert_eq!(table.flush(), 0);
        assert_eq!(drops.of(i), 1);
        assert_eq!(
            table.stats().exhausted_slots,
            (i + 1) / (MAX as usize + 1),
            "cycle {i}"
        );
        old.push(h);
    }
    for &h in &old {
        assert_stale(&table, h);
    }
    let stats = table.stats();
    assert_eq!(stats.exhausted_slots, CYCLES / (MAX as usize + 1));
    assert!(stats.slots >= stats.exhausted_slots);
    assert_eq!(stats.live, 0);
    drop(table);
    drops.assert_all_once();
}

#[test]
fn generation_zero_means_single_use_slots() {
    const N: usize = 5000;
    let drops = Drops::new(N);
    let table = HandleTable::with_max_generation(0);
    let mut seen = HashSet::new();
    for i in 0..N {
        let h = table.insert(drops.value(i));
        assert!(seen.insert(h), "handle {h:?} issued twice");
        assert_eq!(layout::fields(h.into_raw()).0, 0);
        // No flush: reclamation passes run on their own every batch of ended entries.
        table.revoke(h).unwrap();
    }
    table.flush();
    assert_eq!(table.stats().exhausted_slots, N);
    assert_eq!(drops.total(), N);
    for &h in &seen {
        assert_stale(&table, h);
    }
    drop(table);
    drops.assert_all_once();
}

#[test]
fn batches_with_every_way_of_ending_never_repeat() {
    const MAX: u32 = 2;
    const ROUNDS: usize = 60;
    const BATCH: usize = 200;
    let drops = Drops::new(ROUNDS * BATCH);
    let table = HandleTable::with_max_generation(MAX);
    let mut seen = HashSet::new();
    let mut old = Vec::new();
    let mut last_exhausted = 0;
    for round in 0..ROUNDS {
        let batch: Vec<(usize, Handle)> = (0..BATCH)
            .map(|k| {
                let id = round * BATCH + k;
                (id, table.insert(drops.value(id)))
            })
            .collect();
        for &(id, h) in &batch {
            assert!(seen.insert(h), "round {round}: handle {h:?} issued twice");
            assert_eq!(table.with(h, |v| v.check()), Ok(id));
            match id % 4 {
                0 => table.revoke(h).unwrap(),
                1 => assert_eq!(table.release(h), Ok(true)),
                2 => drop(table.take(h).unwrap()), // take recycles the slot itself
                _ => {
                    table.retain(h).unwrap();
                    table.revoke(h).unwrap();
                    assert_eq!(table.release(h), Ok(true));
                }
            }
        }
        assert_eq!(table.flush(), 0);
        assert_eq!(drops.total(), (round + 1) * BATCH);
        let exhausted = table.stats().exhausted_slots;
        assert!(exhausted >= last_exhausted);
        last_exhausted = exhausted;
        old.extend(batch.iter().map(|&(_, h)| h));
        // Old handles stay stale, whatever happened to their slots since.
        for &h in old.iter().step_by(7) {
            assert_stale(&table, h);
        }
    }
    // Every slot serves at most MAX + 1 occupants. At the end only the slots on the free
    // list (at most one batch: each round's inserts take from it first) are not exhausted.
    let used_slots_min = ROUNDS * BATCH / (MAX as usize + 1);
    assert!(
        last_exhausted + BATCH >= used_slots_min,
        "only {last_exhausted} slots exhausted after {} entries",
        ROUNDS * BATCH
    );
    for &h in &old {
        assert_stale(&table, h);
    }
    drop(table);
    drops.assert_all_once();
}

#[test]
fn retired_slot_classifies_old_as_stale_and_next_as_invalid() {
    let table = HandleTable::with_max_generation(1);
    let a = table.insert(1u32);
    table.revoke(a).unwrap();
    table.flush();
    let b = table.insert(2u32);
    let (gen_b, tag, shard, index) = layout::fields(b.into_raw());
    assert_eq!(gen_b, 1, "slot reused once");
    table.revoke(b).unwrap();
    table.flush();
    assert_eq!(table.stats().exhausted_slots, 1);
    // The slot is retired: both of its handles are stale, the generation after is invalid.
    assert_stale(&table, a);
    assert_stale(&table, b);
    let next = Handle::from_raw(layout::join(2, tag, shard, index)).unwrap();
    assert_eq!(table.with(next, |_| ()), Err(Error::Invalid));
    // New inserts go elsewhere.
    let c = table.insert(3u32);
    assert_ne!(layout::fields(c.into_raw()).3, index);
    assert_stale(&table, a);
    assert_stale(&table, b);
}

#[test]
fn max_generation_is_clamped() {
    let table = HandleTable::with_max_generation(u32::MAX);
    let a = table.insert(1u32);
    table.revoke(a).unwrap();
    table.flush();
    let b = table.insert(2u32);
    assert_eq!(layout::fields(b.into_raw()).0, 1);
    assert_eq!(table.stats().exhausted_slots, 0);
    assert_stale(&table, a);
}

#[test]
fn concurrent_cycles_never_repeat_a_handle() {
    const THREADS: usize = 4;
    const CYCLES: usize = 5000;
    let drops = Drops::new(THREADS * CYCLES);
    let table = HandleTable::with_max_generation(1);
    let all = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (table, drops, all) = (&table, &drops, &all);
            s.spawn(move || {
                let mut mine = Vec::with_capacity(CYCLES);
                let mut held = Vec::new();
                for i in 0..CYCLES {
                    let id = t * CYCLES + i;
                    let h = table.insert(drops.value(id));
                    mine.push(h);
                    held.push((id, h));
                    // Keep a few entries live so slots are shared across shards and reused
                    // from free lists in different orders.
                    if held.len() > 3 || i % 3 == 0 {
                        let (id, h) = held.remove(0);
                        assert_eq!(table.with(h, |v| v.check()), Ok(id));
                        table.revoke(h).unwrap();
                    }
                }
                for (_, h) in held {
                    table.revoke(h).unwrap();
                }
                all.lock().unwrap().extend(mine);
            });
        }
    });
    let all = all.into_inner().unwrap();
    let unique: HashSet<Handle> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "a handle was issued twice");
    assert_eq!(table.flush(), 0);
    drops.assert_all_once();
    assert!(table.stats().exhausted_slots > 0);
    for &h in all.iter().step_by(11) {
        assert_stale(&table, h);
    }
}
