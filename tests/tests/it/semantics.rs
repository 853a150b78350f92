//! The semantics users know from Go's `cgo.Handle` and Mozilla's `ffi-support` handle maps,
//! checked on `HandleTable`: 0 is never a handle, deleting twice is an error, the same value
//! gets different handles, nothing leaks, handles from another table are rejected, values are
//! dropped exactly once; plus the reference-count lifecycle (retain / release / revoke / take)
//! and the error classification (null, invalid, stale, wrong table, busy, full).

use handles::{Error, Handle, HandleTable};
use std::collections::HashSet;
use std::sync::{Arc, mpsc};
use test_support::{Drops, layout};

/// Every fallible operation on `h`, as results without values, for "all operations agree".
fn all_ops<T: Send + Sync>(table: &HandleTable<T>, h: Handle) -> [Result<(), Error>; 5] {
    [
        table.with(h, |_| ()),
        table.get(h).map(drop),
        table.retain(h),
        table.release(h).map(drop),
        table.revoke(h),
    ]
}

/// Asserts that every operation on `h` fails with `want` and that `take` does too.
fn assert_all_fail<T: Send + Sync>(table: &HandleTable<T>, h: Handle, want: Error) {
    for (i, r) in all_ops(table, h).into_iter().enumerate() {
        assert_eq!(r, Err(want), "operation #{i} on {h:?}");
    }
    assert_eq!(table.take(h).err(), Some(want), "take on {h:?}");
    assert!(!table.contains(h), "contains({h:?})");
}

#[test]
fn zero_is_never_a_handle() {
    test_support::not_alone();
    assert_eq!(Handle::from_raw(0), None);
    assert_eq!(Handle::try_from(0u64), Err(Error::Null));
    assert_eq!(Handle::from_ptr(core::ptr::null()), None);

    let table = HandleTable::new();
    for i in 0..1000u32 {
        let h = table.insert(i);
        assert_ne!(h.into_raw(), 0);
        assert!(!h.into_ptr().is_null());
        assert_eq!(Handle::try_from(h.into_raw()), Ok(h));
    }
    assert_ne!(Error::Null.to_string(), "");
}

#[test]
fn deleting_twice_is_an_error() {
    test_support::not_alone();
    let drops = Drops::new(1);
    let table = HandleTable::new();
    let h = table.insert(drops.value(0));
    assert_eq!(table.revoke(h), Ok(()));
    assert_all_fail(&table, h, Error::Stale);
    // Still stale after the slot is reclaimed and reused by another entry.
    assert_eq!(table.flush(), 0);
    drops.assert_all_once();
    assert_all_fail(&table, h, Error::Stale);
    drop(table);
    drops.assert_all_once();
}

#[test]
fn deleting_twice_after_reuse_is_still_an_error() {
    test_support::not_alone();
    let table = HandleTable::new();
    let h = table.insert(String::from("first"));
    table.revoke(h).unwrap();
    table.flush();
    // Reuse the slot (and others) many times over.
    let mut later = Vec::new();
    for i in 0..300 {
        later.push(table.insert(format!("later {i}")));
    }
    assert_all_fail(&table, h, Error::Stale);
    for (i, &l) in later.iter().enumerate() {
        assert_ne!(l, h);
        assert_eq!(table.with(l, |s| s.clone()), Ok(format!("later {i}")));
    }
    assert_eq!(table.len(), 300);
}

#[test]
fn same_value_gets_different_handles() {
    test_support::not_alone();
    let shared = Arc::new(String::from("same"));
    let table = HandleTable::new();
    let handles: Vec<Handle> = (0..2000)
        .map(|_| table.insert(Arc::clone(&shared)))
        .collect();
    let unique: HashSet<Handle> = handles.iter().copied().collect();
    assert_eq!(unique.len(), handles.len(), "a handle was given twice");
    for &h in &handles {
        assert_eq!(table.with(h, |v| Arc::ptr_eq(v, &shared)), Ok(true));
    }
    // Removing one of them leaves the others.
    table.revoke(handles[0]).unwrap();
    assert_eq!(table.with(handles[0], |_| ()), Err(Error::Stale));
    assert_eq!(table.with(handles[1], |v| v.len()), Ok(4));
    drop(table);
    assert_eq!(
        Arc::strong_count(&shared),
        1,
        "the table leaked or over-dropped clones"
    );
}

#[test]
fn nothing_leaks() {
    test_support::not_alone();
    const N: usize = 1000;
    let drops = Drops::new(N);
    let table = HandleTable::new();
    let handles: Vec<Handle> = (0..N).map(|i| table.insert(drops.value(i))).collect();
    let mut taken = Vec::new();
    let mut ended = Vec::new();
    for (i, &h) in handles.iter().enumerate() {
        match i % 5 {
            0 => {
                table.revoke(h).unwrap();
                ended.push(i);
            }
            1 => {
                assert_eq!(table.release(h), Ok(true));
                ended.push(i);
            }
            2 => taken.push(table.take(h).unwrap()),
            3 => {
                // Revoked with one outstanding reference, released later.
                table.retain(h).unwrap();
                table.revoke(h).unwrap();
            }
            _ => {} // left live
        }
    }
    assert_eq!(table.flush(), 0);
    drops.assert_exactly(ended.iter().copied());
    assert_eq!(table.stats().pending_drops, 0);
    assert_eq!(table.len(), N / 5, "only the live fifth is live");
    // Release the revoked ones.
    for (i, &h) in handles.iter().enumerate().filter(|(i, _)| i % 5 == 3) {
        assert_eq!(table.release(h), Ok(true), "value {i}");
        ended.push(i);
    }
    assert_eq!(table.flush(), 0);
    drops.assert_exactly(ended.iter().copied());
    // Taken values belong to the caller: the table never drops them.
    let taken_ids: Vec<usize> = taken.iter().map(|t| t.id).collect();
    drop(taken);
    ended.extend(taken_ids);
    drops.assert_exactly(ended.iter().copied());
    // Live values go with the table.
    drop(table);
    drops.assert_all_once();
}

#[test]
fn handles_from_another_table_are_rejected() {
    test_support::not_alone();
    let a = HandleTable::new();
    let b = HandleTable::new();
    let ha = a.insert(1u32);
    let hb = b.insert(2u32);
    // Both tables have slots at the same place (same thread, same shard, index 0), so only
    // the table identity can tell the handles apart.
    let (_, tag_a, shard_a, index_a) = layout::fields(ha.into_raw());
    let (_, tag_b, shard_b, index_b) = layout::fields(hb.into_raw());
    assert_eq!((shard_a, index_a), (shard_b, index_b));
    assert_ne!(tag_a, tag_b);
    assert_ne!(ha, hb);
    assert_all_fail(&b, ha, Error::WrongTable);
    assert_all_fail(&a, hb, Error::WrongTable);
    // Nothing changed in either table.
    assert_eq!(a.with(ha, |v| *v), Ok(1));
    assert_eq!(b.with(hb, |v| *v), Ok(2));
    assert_eq!(a.release(ha), Ok(true));
    assert_eq!(b.release(hb), Ok(true));

    // A table that never issued anything rejects everything as foreign.
    let fresh: HandleTable<u32> = HandleTable::new();
    let hc = a.insert(3);
    assert_all_fail(&fresh, hc, Error::WrongTable);
    // So does a table of another type.
    let strings: HandleTable<String> = HandleTable::new();
    let _ = strings.insert(String::from("s"));
    assert_all_fail(&strings, hc, Error::WrongTable);
    assert_eq!(a.with(hc, |v| *v), Ok(3));
}

#[test]
fn values_live_at_table_drop_are_dropped_once() {
    test_support::not_alone();
    let drops = Drops::new(500);
    let table = HandleTable::new();
    for i in 0..500 {
        let _ = table.insert(drops.value(i));
    }
    assert_eq!(drops.total(), 0);
    drop(table);
    drops.assert_all_once();
}

#[test]
fn revoked_and_pending_values_at_table_drop_are_dropped_once() {
    test_support::not_alone();
    let drops = Drops::new(3);
    let table = HandleTable::new();
    let revoked = table.insert(drops.value(0));
    let pending = table.insert(drops.value(1));
    let _live = table.insert(drops.value(2));
    table.retain(revoked).unwrap();
    table.revoke(revoked).unwrap(); // REVOKED with one reference, never released
    table.revoke(pending).unwrap(); // ended, awaiting a reclamation pass
    assert_eq!(drops.total(), 0);
    assert_eq!(table.stats().pending_drops, 1);
    drop(table);
    drops.assert_all_once();
}

#[test]
fn taken_values_are_dropped_by_the_caller_not_the_table() {
    test_support::not_alone();
    let drops = Drops::new(2);
    let table = HandleTable::new();
    let h = table.insert(drops.value(0));
    let other = table.insert(drops.value(1));
    let value = table.take(h).unwrap();
    assert_eq!(value.check(), 0);
    assert_all_fail(&table, h, Error::Stale);
    assert_eq!(table.flush(), 0);
    assert_eq!(drops.total(), 0, "take must not drop anything");
    assert_eq!(table.len(), 1);
    drop(table);
    drops.assert_exactly([1]);
    drop(value);
    drops.assert_all_once();
    let _ = other;
}

#[test]
fn release_to_zero_ends_the_entry() {
    test_support::not_alone();
    let drops = Drops::new(1);
    let table = HandleTable::new();
    let h = table.insert(drops.value(0));
    assert_eq!(table.len(), 1);
    assert_eq!(table.release(h), Ok(true));
    assert_eq!(table.len(), 0);
    assert!(table.handles().is_empty());
    assert_all_fail(&table, h, Error::Stale);
    table.flush();
    drops.assert_all_once();
}

#[test]
fn retain_and_release_count() {
    test_support::not_alone();
    let drops = Drops::new(1);
    let table = HandleTable::new();
    let h = table.insert(drops.value(0));
    for _ in 0..10 {
        table.retain(h).unwrap();
    }
    for _ in 0..10 {
        assert_eq!(table.release(h), Ok(false));
        assert_eq!(table.with(h, |v| v.check()), Ok(0));
    }
    assert_eq!(table.release(h), Ok(true));
    assert_eq!(table.release(h), Err(Error::Stale));
    table.flush();
    drops.assert_all_once();
}

#[test]
fn revoke_with_outstanding_references() {
    test_support::not_alone();
    let drops = Drops::new(1);
    let table = HandleTable::new();
    let h = table.insert(drops.value(0));
    table.retain(h).unwrap();
    table.retain(h).unwrap();
    assert_eq!(table.revoke(h), Ok(()));
    // Stale at once for everything but release.
    assert!(!table.contains(h));
    assert_eq!(table.len(), 0);
    assert!(table.handles().is_empty());
    assert_eq!(table.with(h, |_| ()), Err(Error::Stale));
    assert_eq!(table.retain(h), Err(Error::Stale));
    assert_eq!(table.revoke(h), Err(Error::Stale));
    assert_eq!(table.take(h).err(), Some(Error::Stale));
    // The references taken earlier keep the value alive.
    assert_eq!(table.flush(), 0);
    assert_eq!(drops.total(), 0);
    assert_eq!(table.release(h), Ok(false));
    assert_eq!(table.flush(), 0);
    assert_eq!(drops.total(), 0);
    assert_eq!(table.release(h), Ok(true));
    assert_eq!(table.release(h), Err(Error::Stale));
    assert_eq!(table.flush(), 0);
    drops.assert_all_once();
}

#[test]
fn guard_outlives_remove() {
    test_support::not_alone();
    let drops = Drops::new(1);
    let table = HandleTable::new();
    let h = table.insert(drops.value(0));
    let guard = table.get(h).unwrap();
    table.revoke(h).unwrap();
    assert_eq!(table.with(h, |_| ()), Err(Error::Stale));
    assert_eq!(table.flush(), 1, "the guarded value must wait");
    assert_eq!(table.stats().pending_drops, 1);
    assert_eq!(guard.check(), 0);
    drop(guard);
    assert_eq!(table.flush(), 0);
    drops.assert_all_once();
}

#[test]
fn take_is_busy_while_referenced() {
    test_support::not_alone();
    let table = HandleTable::new();
    let h = table.insert(String::from("mine"));
    table.retain(h).unwrap();
    assert_eq!(table.take(h).err(), Some(Error::Busy));
    // Nothing changed: the extra reference is still there and the value still readable.
    assert!(table.contains(h));
    assert_eq!(table.with(h, |s| s.clone()), Ok(String::from("mine")));
    assert_eq!(table.release(h), Ok(false));
    assert_eq!(table.take(h), Ok(String::from("mine")));
    assert_eq!(table.len(), 0);
}

#[test]
fn take_is_busy_while_borrowed_on_this_thread() {
    test_support::not_alone();
    let table = HandleTable::new();
    let h = table.insert(String::from("mine"));
    let guard = table.get(h).unwrap();
    assert_eq!(table.take(h).err(), Some(Error::Busy));
    assert_eq!(*guard, "mine");
    drop(guard);
    assert_eq!(
        table.with(h, |_| table.take(h).err()),
        Ok(Some(Error::Busy))
    );
    assert!(table.contains(h));
    assert_eq!(table.take(h), Ok(String::from("mine")));
}

#[test]
fn take_is_busy_while_borrowed_on_another_thread() {
    test_support::not_alone();
    let table = HandleTable::new();
    let h = table.insert(String::from("mine"));
    let (held_tx, held_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let table = &table;
        s.spawn(move || {
            let guard = table.get(h).unwrap();
            held_tx.send(()).unwrap();
            done_rx.recv().unwrap();
            assert_eq!(*guard, "mine");
        });
        held_rx.recv().unwrap();
        for _ in 0..10 {
            assert_eq!(table.take(h).err(), Some(Error::Busy));
        }
        assert!(table.contains(h));
        done_tx.send(()).unwrap();
    });
    assert_eq!(table.take(h), Ok(String::from("mine")));
}

#[test]
fn handle_round_trips_through_void_pointer() {
    test_support::not_alone();
    let table = HandleTable::new();
    let h = table.insert(42u64);
    let p: *mut core::ffi::c_void = h.into_ptr();
    assert_eq!(p as usize as u64, h.into_raw());
    let back = Handle::from_ptr(p).unwrap();
    assert_eq!(back, h);
    assert_eq!(table.with(back, |v| *v), Ok(42));
    assert_eq!(u64::from(h), h.into_raw());
}

#[test]
fn display_is_hex() {
    test_support::not_alone();
    let table = HandleTable::new();
    for i in 0..100u32 {
        let h = table.insert(i);
        let s = h.to_string();
        assert!(s.starts_with("0x"), "{s}");
        assert_eq!(s.len(), 18, "{s}: 0x and 16 digits");
        assert_eq!(u64::from_str_radix(&s[2..], 16), Ok(h.into_raw()));
        assert_eq!(format!("{h:x}"), format!("{:x}", h.into_raw()));
        assert!(format!("{h:?}").contains(&format!("{:x}", h.into_raw())));
    }
}

#[test]
fn layout_is_as_documented() {
    test_support::not_alone();
    // The forging tests rely on this layout; if it changes, update `test_support::layout`.
    let table = HandleTable::new();
    let a = table.insert(0u8);
    let b = table.insert(1u8);
    let (ga, ta, sa, ia) = layout::fields(a.into_raw());
    let (gb, tb, sb, ib) = layout::fields(b.into_raw());
    // A never-used slot starts at its tag's floor: 0 for a tag no earlier table held, past
    // every generation of the tag's earlier tables otherwise.
    assert_eq!(
        ga, gb,
        "first use of every slot is the table's floor generation"
    );
    assert_ne!(ta, 0);
    assert_eq!(ta, tb, "one table, one tag");
    assert_eq!(sa, sb, "one thread inserts into its home shard");
    assert_eq!(ib, ia + 1);
    table.revoke(a).unwrap();
    table.flush();
    let c = table.insert(2u8);
    assert_eq!(
        c.into_raw(),
        layout::join(ga + 1, ta, sa, ia),
        "reuse bumps the generation"
    );
}

#[test]
fn stale_versus_invalid() {
    test_support::not_alone();
    let table = HandleTable::new();
    let old = table.insert(String::from("old"));
    let (g0, tag, shard, index) = layout::fields(old.into_raw());
    // Generations relative to the table's first one (its tag's floor).
    let forge = |g, s, i| Handle::from_raw(layout::join(g0 + g, tag, s, i)).unwrap();

    // A generation the live slot has not reached: never issued.
    assert_all_fail(&table, forge(1, shard, index), Error::Invalid);
    assert_all_fail(&table, forge(12345, shard, index), Error::Invalid);
    // A slot of an allocated page that was never used.
    assert_all_fail(&table, forge(0, shard, index + 5), Error::Invalid);
    // A page that does not exist, in this shard and in another.
    assert_all_fail(&table, forge(0, shard, 1 << 21), Error::Invalid);
    assert_all_fail(&table, forge(0, (shard + 1) % 64, index), Error::Invalid);
    assert!(table.contains(old));

    table.revoke(old).unwrap();
    // ENDED, awaiting reclamation.
    assert_all_fail(&table, old, Error::Stale);
    assert_all_fail(&table, forge(1, shard, index), Error::Invalid);
    table.flush();
    // FREE, ready for generation 1.
    assert_all_fail(&table, old, Error::Stale);
    assert_all_fail(&table, forge(1, shard, index), Error::Invalid);
    let new = table.insert(String::from("new"));
    assert_eq!(
        new,
        forge(1, shard, index),
        "the slot is reused with the next generation"
    );
    // LIVE at generation 1.
    assert_all_fail(&table, old, Error::Stale);
    assert_all_fail(&table, forge(2, shard, index), Error::Invalid);
    assert_eq!(table.with(new, |s| s.clone()), Ok(String::from("new")));
    // Revoked (references outstanding): stale for everything but release.
    table.retain(new).unwrap();
    table.revoke(new).unwrap();
    assert_eq!(table.with(new, |_| ()), Err(Error::Stale));
    assert_eq!(table.with(old, |_| ()), Err(Error::Stale));
    assert_eq!(
        table.with(forge(2, shard, index), |_| ()),
        Err(Error::Invalid)
    );
    assert_eq!(table.release(new), Ok(true));
}

#[test]
fn reference_count_overflow_is_full_and_changes_nothing() {
    test_support::not_alone();
    let drops = Drops::new(1);
    let table = HandleTable::new();
    let h = table.insert(drops.value(0));
    let mut refs = 1u64;
    let err = loop {
        match table.retain(h) {
            Ok(()) => refs += 1,
            Err(e) => break e,
        }
        assert!(refs < 1 << 32, "no limit on references");
    };
    assert_eq!(err, Error::Full);
    assert!(refs >= 1 << 20, "only {refs} references possible");
    // Nothing changed: one release, one retain, and it is full again.
    assert_eq!(table.retain(h), Err(Error::Full));
    assert_eq!(table.release(h), Ok(false));
    assert_eq!(table.retain(h), Ok(()));
    assert_eq!(table.retain(h), Err(Error::Full));
    assert_eq!(table.take(h).err(), Some(Error::Busy));
    // Scoped lookups still work while the count is full.
    assert_eq!(table.with(h, |v| v.check()), Ok(0));
    table.revoke(h).unwrap();
    table.flush();
    assert_eq!(drops.total(), 0, "outstanding references keep the value");
    drop(table);
    drops.assert_all_once();
}

#[test]
fn len_contains_and_handles_agree() {
    test_support::not_alone();
    let table = HandleTable::new();
    assert!(table.is_empty());
    let hs: Vec<Handle> = (0..300u32).map(|i| table.insert(i)).collect();
    for (i, &h) in hs.iter().enumerate() {
        if i % 3 == 0 {
            table.revoke(h).unwrap();
        }
    }
    let live: HashSet<Handle> = hs
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, &h)| h)
        .collect();
    assert_eq!(table.len(), live.len());
    assert_eq!(table.stats().live, live.len());
    let snapshot: HashSet<Handle> = table.handles().into_iter().collect();
    assert_eq!(snapshot, live);
    for &h in &hs {
        assert_eq!(table.contains(h), live.contains(&h));
    }
}

static STATIC_TABLE: HandleTable<&'static str> = HandleTable::new();

#[test]
fn static_tables_work() {
    test_support::not_alone();
    let h = STATIC_TABLE.insert("static");
    assert_eq!(STATIC_TABLE.with(h, |s| *s), Ok("static"));
    let from_thread = std::thread::spawn(move || STATIC_TABLE.with(h, |s| s.len()))
        .join()
        .unwrap();
    assert_eq!(from_thread, Ok(6));
    assert_eq!(STATIC_TABLE.take(h), Ok("static"));
}

#[test]
fn errors_have_distinct_names() {
    test_support::not_alone();
    let all = [
        Error::Null,
        Error::Invalid,
        Error::Stale,
        Error::WrongTable,
        Error::Busy,
        Error::Full,
    ];
    let names: HashSet<String> = all.iter().map(|e| e.to_string()).collect();
    assert_eq!(names.len(), all.len());
    for e in all {
        assert_eq!(e.to_string(), e.as_str());
        let _: &dyn std::error::Error = &e;
    }
}

/// Tags of live tables are reserved, so however many tables a process creates over time, a
/// table never accepts the handle of another table that is alive at the same time (up to
/// 1023 tables alive at once; see ARCHITECTURE.md).
#[test]
fn handles_from_another_table_are_rejected_after_many_tables() {
    test_support::not_alone();
    // Both tables are alive at the same time; all inserts come from this thread, so every
    // table's first entry sits in the same shard at index 0, generation 0.
    let first: HandleTable<usize> = HandleTable::new();
    let h = first.insert(0);
    // 1100 short-lived tables (more than there are tags), each alive next to `first`.
    for i in 1..=1100usize {
        let table = Box::new(HandleTable::new());
        let _ = table.insert(i);
        assert_eq!(
            table.with(h, |v| *v),
            Err(Error::WrongTable),
            "table #{i} accepted a handle of table #0",
        );
    }
    // A few hundred tables alive at once also get distinct tags.
    let live: Vec<HandleTable<usize>> = (0..300).map(|_| HandleTable::new()).collect();
    let firsts: Vec<Handle> = live.iter().enumerate().map(|(i, t)| t.insert(i)).collect();
    for (i, t) in live.iter().enumerate() {
        for (j, &other) in firsts.iter().enumerate() {
            let expected = if i == j {
                Ok(i)
            } else {
                Err(Error::WrongTable)
            };
            assert_eq!(
                t.with(other, |v| *v),
                expected,
                "table {i}, handle of table {j}"
            );
        }
    }
    assert_eq!(first.with(h, |v| *v), Ok(0));
}

#[test]
fn retain_with_takes_a_reference_and_reads_under_it() {
    test_support::not_alone();
    let drops = Drops::new(1);
    let table = HandleTable::new();
    let h = table.insert(drops.value(0));
    let ptr = table
        .retain_with(h, |v| v as *const test_support::Tracked)
        .unwrap();
    table.revoke(h).unwrap();
    assert_eq!(table.with(h, |_| ()), Err(Error::Stale));
    assert_eq!(table.flush(), 0);
    // SAFETY: the reference taken by retain_with keeps the value in place until released.
    assert_eq!(unsafe { &*ptr }.check(), 0);
    assert_eq!(drops.total(), 0);
    assert_eq!(table.release(h), Ok(true));
    table.flush();
    drops.assert_all_once();
    // On a stale handle it fails, runs nothing and takes nothing.
    let mut ran = false;
    assert_eq!(table.retain_with(h, |_| ran = true), Err(Error::Stale));
    assert!(!ran);
    let other: HandleTable<u8> = HandleTable::new();
    let _ = other.insert(0);
    assert_eq!(other.retain_with(h, |_| ()), Err(Error::WrongTable));
}

#[test]
fn zero_sized_values_are_counted_and_dropped_once() {
    test_support::not_alone();
    use std::sync::atomic::{AtomicUsize, Ordering};
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    struct Zst;
    impl Drop for Zst {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }
    let table = HandleTable::new();
    let hs: Vec<Handle> = (0..300).map(|_| table.insert(Zst)).collect();
    assert_eq!(hs.iter().collect::<HashSet<_>>().len(), 300);
    assert!(hs.iter().all(|&h| table.with(h, |_| ()).is_ok()));
    for &h in &hs[..100] {
        table.revoke(h).unwrap();
    }
    drop(table.take(hs[100]).unwrap());
    table.flush();
    assert_eq!(DROPPED.load(Ordering::SeqCst), 101);
    drop(table);
    assert_eq!(DROPPED.load(Ordering::SeqCst), 300);
}

#[test]
fn over_aligned_and_large_values() {
    test_support::not_alone();
    #[repr(align(256))]
    struct Aligned(u64);
    let table = HandleTable::new();
    let hs: Vec<Handle> = (0..500u64).map(|i| table.insert(Aligned(i))).collect();
    for (i, &h) in hs.iter().enumerate() {
        let (addr, v) = table
            .with(h, |a| (a as *const Aligned as usize, a.0))
            .unwrap();
        assert_eq!(addr % 256, 0, "value {i} misaligned");
        assert_eq!(v, i as u64);
    }

    let big = HandleTable::new();
    let hs: Vec<Handle> = (0..300u32).map(|i| big.insert([i; 1024])).collect();
    for (i, &h) in hs.iter().enumerate() {
        assert_eq!(big.with(h, |a| a.iter().all(|&x| x == i as u32)), Ok(true));
    }
    let stats = big.stats();
    assert!(stats.slots >= 300);
    assert!(stats.bytes >= stats.slots * 4096, "{stats:?}");
}
