//! Re-entrancy and panics: user code (a closure inside `with`, a value's
//! `Drop`) calls back into the same table, the same handle included, without deadlock; nesting
//! deeper than a thread's inline hazard cells (and than one overflow chunk) stays correct and
//! leak-free; panics in closures and in `Drop` (during `flush`, an automatic reclamation pass,
//! or the table's own drop) leave the table consistent and usable, with every value still
//! dropped exactly once.

use handles::{Error, Handle, HandleTable};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use test_support::{Drops, Tracked};

/// Hazard cells held inline in a thread's record; guards beyond them use overflow cells.
const HAZARDS: usize = 4;

#[test]
fn closure_removes_its_own_handle_and_uses_the_table() {
    test_support::not_alone();
    let drops = Drops::new(1000);
    let table = HandleTable::new();
    let h = table.insert(drops.value(0));
    let others: Vec<Handle> = (1..400).map(|i| table.insert(drops.value(i))).collect();
    let inserted = table
        .with(h, |v| {
            assert_eq!(table.revoke(h), Ok(()));
            assert_eq!(table.revoke(h), Err(Error::Stale));
            assert_eq!(table.with(h, |_| ()), Err(Error::Stale));
            assert_eq!(table.take(h).err(), Some(Error::Stale));
            assert_eq!(v.check(), 0, "value gone inside its own closure");
            // Lookups of other handles, nested.
            for (i, &o) in others.iter().enumerate().step_by(37) {
                assert_eq!(table.with(o, |w| w.check()), Ok(i + 1));
            }
            // Remove most of the others: several automatic reclamation passes run while our
            // own ended value is still borrowed.
            for &o in &others[..300] {
                table.revoke(o).unwrap();
            }
            assert_eq!(table.flush(), 1, "only our own value is still borrowed");
            assert_eq!(drops.of(0), 0);
            assert_eq!(v.check(), 0);
            // Inserts into the same table, reusing the slots just freed.
            let new: Vec<Handle> = (400..700).map(|i| table.insert(drops.value(i))).collect();
            for (k, &n) in new.iter().enumerate() {
                assert_eq!(table.with(n, |w| w.check()), Ok(400 + k));
            }
            assert_eq!(v.check(), 0);
            new
        })
        .unwrap();
    assert_eq!(table.flush(), 0);
    drops.assert_exactly((0..301).collect::<Vec<_>>());
    assert_eq!(table.len(), 99 + inserted.len());
    drop(table);
    drops.assert_exactly((0..700).collect::<Vec<_>>());
}

#[test]
fn closure_releases_and_takes_its_own_handle() {
    test_support::not_alone();
    let drops = Drops::new(1);
    let table = HandleTable::new();
    let h = table.insert(drops.value(0));
    table
        .with(h, |v| {
            // Borrowed by this very closure: take must refuse and change nothing.
            assert_eq!(table.take(h).err(), Some(Error::Busy));
            assert!(table.contains(h));
            table.retain(h).unwrap();
            assert_eq!(table.release(h), Ok(false));
            assert_eq!(table.release(h), Ok(true));
            assert_eq!(table.flush(), 1);
            assert_eq!(v.check(), 0);
        })
        .unwrap();
    assert_eq!(table.flush(), 0);
    drops.assert_all_once();
}

/// A value whose `Drop` uses the table it lives in.
struct Node {
    tracked: Tracked,
    depth: u32,
    /// Another entry this one removes when dropped (a chain of drops).
    next: Option<Handle>,
    table: &'static HandleTable<Node>,
    ids: &'static AtomicUsize,
    drops: Drops,
}

impl Node {
    fn new(
        table: &'static HandleTable<Node>,
        ids: &'static AtomicUsize,
        drops: &Drops,
        depth: u32,
    ) -> Node {
        Node {
            tracked: drops.value(ids.fetch_add(1, Ordering::SeqCst)),
            depth,
            next: None,
            table,
            ids,
            drops: drops.clone(),
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let table = self.table;
        // Still readable: we are being dropped, not yet dropped.
        self.tracked.check();
        if let Some(next) = self.next {
            // Ends another entry from inside a reclamation pass.
            let _ = table.revoke(next);
        }
        if self.depth > 0 {
            let child = table.insert(Node::new(table, self.ids, &self.drops, self.depth - 1));
            assert!(table.with(child, |c| c.depth) == Ok(self.depth - 1));
            match self.depth % 3 {
                0 => table.revoke(child).unwrap(),
                1 => assert_eq!(table.release(child), Ok(true)),
                _ => {
                    table.revoke(child).unwrap();
                    // A reclamation pass inside a reclamation pass.
                    table.flush();
                }
            }
        }
    }
}

/// Flushes until no ended value is waiting (drops may end more entries).
fn flush_all<T: Send + Sync>(table: &HandleTable<T>) {
    for _ in 0..1000 {
        table.flush();
        if table.stats().pending_drops == 0 {
            return;
        }
    }
    panic!("flush never settles: {:?}", table.stats());
}

#[test]
fn drop_reenters_the_same_table() {
    test_support::not_alone();
    const ROOTS: usize = 200;
    const DEPTH: u32 = 4;
    let table: &'static HandleTable<Node> = Box::leak(Box::new(HandleTable::new()));
    let ids: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
    let total = ROOTS * (DEPTH as usize + 1);
    let drops = Drops::new(total);
    let mut roots: Vec<Handle> = (0..ROOTS)
        .map(|_| table.insert(Node::new(table, ids, &drops, DEPTH)))
        .collect();
    // Chain: dropping root k removes root k + 1 (for the first half). Linked from the end, so
    // each link names the final handle of its target.
    for k in (0..ROOTS / 2).rev() {
        let next = roots[k + 1];
        // No `&mut` access to values: rebuild the node with the link instead.
        let mut node = table.take(roots[k]).unwrap();
        node.next = Some(next);
        roots[k] = table.insert(node);
    }
    // Only the first root of the chain is removed by hand; the chain removes the rest.
    table.revoke(roots[0]).unwrap();
    for &r in &roots[ROOTS / 2 + 1..] {
        table.revoke(r).unwrap();
    }
    flush_all(table);
    assert_eq!(ids.load(Ordering::SeqCst), total);
    assert_eq!(table.len(), 0);
    for &r in &roots {
        assert_eq!(table.with(r, |_| ()), Err(Error::Stale));
    }
    drops.assert_all_once();
    // Still usable.
    let fresh: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
    let h = table.insert(Node::new(table, fresh, &Drops::new(1), 0));
    assert_eq!(table.take(h).map(|n| n.depth).ok(), Some(0));
}

#[test]
fn drops_reenter_each_other_across_tables() {
    test_support::not_alone();
    struct Ping {
        _tracked: Tracked,
        other: &'static HandleTable<Ping>,
        target: Option<Handle>,
    }
    impl Drop for Ping {
        fn drop(&mut self) {
            if let Some(t) = self.target {
                let _ = self.other.revoke(t);
            }
        }
    }
    let a: &'static HandleTable<Ping> = Box::leak(Box::new(HandleTable::new()));
    let b: &'static HandleTable<Ping> = Box::leak(Box::new(HandleTable::new()));
    const N: usize = 300;
    let drops = Drops::new(2 * N);
    // a[i] removes b[i] when dropped; b[i] removes a[i + 1]. Built from the end, so every
    // target exists when its pointer is made.
    let mut next_a: Option<Handle> = None;
    let mut a_handles = Vec::new();
    for i in (0..N).rev() {
        let bi = b.insert(Ping {
            _tracked: drops.value(2 * i + 1),
            other: a,
            target: next_a,
        });
        let ai = a.insert(Ping {
            _tracked: drops.value(2 * i),
            other: b,
            target: Some(bi),
        });
        a_handles.push(ai);
        next_a = Some(ai);
    }
    a_handles.reverse();
    a.revoke(a_handles[0]).unwrap();
    for _ in 0..10 * N {
        a.flush();
        b.flush();
        if a.stats().pending_drops + b.stats().pending_drops == 0 && a.is_empty() && b.is_empty() {
            break;
        }
    }
    assert!(
        a.is_empty() && b.is_empty(),
        "chain stopped: {} {}",
        a.len(),
        b.len()
    );
    drops.assert_all_once();
}

/// Nests `with` over `handles[level..]`, checking values on the way down and up, and runs
/// `innermost` at the bottom.
fn nest(table: &HandleTable<Tracked>, handles: &[(usize, Handle)], innermost: &mut dyn FnMut()) {
    match handles.split_first() {
        None => innermost(),
        Some((&(id, h), rest)) => {
            table
                .with(h, |v| {
                    assert_eq!(v.check(), id);
                    nest(table, rest, innermost);
                    assert_eq!(v.check(), id, "value changed under a nested borrow");
                })
                .unwrap();
        }
    }
}

#[test]
fn nested_with_deeper_than_hazards() {
    test_support::not_alone();
    const DEPTH: usize = 6 * HAZARDS + 1;
    let drops = Drops::new(DEPTH);
    let table = HandleTable::new();
    let handles: Vec<(usize, Handle)> = (0..DEPTH)
        .map(|i| (i, table.insert(drops.value(i))))
        .collect();
    nest(&table, &handles, &mut || {
        // Every level borrows its value: take refuses all of them, changing nothing.
        for &(_, h) in &handles {
            assert_eq!(table.take(h).err(), Some(Error::Busy));
        }
        // Revoke everything while borrowed.
        for &(_, h) in &handles {
            table.revoke(h).unwrap();
            assert!(!table.contains(h));
        }
        table.flush();
        assert_eq!(drops.total(), 0, "a borrowed value was dropped");
    });
    assert_eq!(table.flush(), 0);
    drops.assert_all_once();
    assert!(table.is_empty());
}

#[test]
fn nested_with_of_one_handle() {
    test_support::not_alone();
    let drops = Drops::new(1);
    let table = HandleTable::new();
    let h = table.insert(drops.value(0));
    let same = vec![(0, h); 10];
    nest(&table, &same, &mut || {
        assert_eq!(table.take(h).err(), Some(Error::Busy));
    });
    // Nothing left over from the nesting: no reference, no borrow.
    let v = table.take(h).unwrap();
    assert_eq!(v.check(), 0);
    drop(v);
    drops.assert_all_once();
}

#[test]
fn many_guards_held_then_removed() {
    test_support::not_alone();
    const N: usize = 3 * HAZARDS + 30;
    let drops = Drops::new(N);
    let table = HandleTable::new();
    let handles: Vec<Handle> = (0..N).map(|i| table.insert(drops.value(i))).collect();
    let guards: Vec<_> = handles.iter().map(|&h| table.get(h).unwrap()).collect();
    for &h in &handles {
        assert_eq!(table.take(h).err(), Some(Error::Busy));
        table.revoke(h).unwrap();
    }
    assert_eq!(table.len(), 0);
    // Every entry has ended, and every one waits for its guard, including those guarded by
    // overflow hazard cells.
    assert_eq!(table.flush(), N);
    assert_eq!(drops.total(), 0);
    for (i, g) in guards.iter().enumerate() {
        assert_eq!(g.check(), i);
    }
    drop(guards);
    assert_eq!(table.flush(), 0);
    drops.assert_all_once();
}

#[test]
fn panic_in_with_closure_leaves_no_borrow() {
    test_support::not_alone();
    let drops = Drops::new(1);
    let table = HandleTable::new();
    let h = table.insert(drops.value(0));
    for _ in 0..10 {
        let r = catch_unwind(AssertUnwindSafe(|| {
            table.with(h, |_| panic!("user closure panics")).unwrap();
        }));
        assert!(r.is_err());
    }
    assert_eq!(table.with(h, |v| v.check()), Ok(0));
    // No hazard and no reference was left behind: take succeeds.
    let v = table.take(h).unwrap();
    drop(v);
    drops.assert_all_once();
}

#[test]
fn panic_in_deeply_nested_closure_unwinds_every_level() {
    test_support::not_alone();
    const DEPTH: usize = 9;
    let drops = Drops::new(DEPTH);
    let table = HandleTable::new();
    let handles: Vec<(usize, Handle)> = (0..DEPTH)
        .map(|i| (i, table.insert(drops.value(i))))
        .collect();
    let r = catch_unwind(AssertUnwindSafe(|| {
        nest(&table, &handles, &mut || panic!("innermost panics"));
    }));
    assert!(r.is_err());
    // Every level's borrow and counted reference is gone: each entry has exactly the owner's
    // reference again.
    for &(id, h) in &handles {
        let v = table.take(h).unwrap();
        assert_eq!(v.check(), id);
    }
    drops.assert_all_once();
    assert_eq!(table.stats().live, 0);
}

/// A value whose `Drop` panics when asked to (after its `Tracked` field counted the drop:
/// fields are dropped even when `Drop::drop` panics).
struct Bomb {
    _tracked: Tracked,
    explode: bool,
}

impl Drop for Bomb {
    fn drop(&mut self) {
        if self.explode {
            panic!("Drop panics");
        }
    }
}

#[test]
fn panic_in_drop_during_flush() {
    test_support::not_alone();
    const N: usize = 30;
    let drops = Drops::new(N + 30);
    let table = HandleTable::new();
    let handles: Vec<Handle> = (0..N)
        .map(|i| {
            table.insert(Bomb {
                _tracked: drops.value(i),
                explode: i % 3 == 0,
            })
        })
        .collect();
    for &h in &handles {
        table.revoke(h).unwrap();
    }
    let slots = table.stats().slots;
    let r = catch_unwind(AssertUnwindSafe(|| table.flush()));
    assert!(r.is_err(), "the Drop panic must reach flush's caller");
    // Every value was dropped once, panicking or not, and nothing is left pending.
    drops.assert_exactly(0..N);
    assert_eq!(table.stats().pending_drops, 0);
    assert_eq!(table.flush(), 0);
    drops.assert_exactly(0..N);
    // The table is usable and the slots were recycled.
    let again: Vec<Handle> = (N..N + 30)
        .map(|i| {
            table.insert(Bomb {
                _tracked: drops.value(i),
                explode: false,
            })
        })
        .collect();
    assert_eq!(
        table.stats().slots,
        slots,
        "panicking slots were not recycled"
    );
    for (k, &h) in again.iter().enumerate() {
        assert!(!handles.contains(&h));
        assert_eq!(table.with(h, |b| b._tracked.check()), Ok(N + k));
    }
    drop(table);
    drops.assert_all_once();
}

#[test]
fn panic_in_drop_during_automatic_reclamation() {
    test_support::not_alone();
    const N: usize = 3000; // more than a shard's batch (1,024), so passes run during the revokes
    let drops = Drops::new(N);
    let table = HandleTable::new();
    // `not_alone` above: values wait for passes that run inside these revokes (the Caller
    // policy), deterministically.
    let handles: Vec<Handle> = (0..N)
        .map(|i| {
            table.insert(Bomb {
                _tracked: drops.value(i),
                explode: i % 97 == 5,
            })
        })
        .collect();
    let reported = handles::thread_stats().drop_panics;
    for &h in &handles {
        // A pass that runs inside this revoke drops other entries' values: their Drop panics
        // are reported, never carried out of the unrelated revoke.
        assert_eq!(table.revoke(h), Ok(()));
        assert!(!table.contains(h));
        assert_eq!(table.revoke(h), Err(Error::Stale));
    }
    assert!(
        handles::thread_stats().drop_panics > reported,
        "no pass ran during the revokes, or its panics were lost"
    );
    let _ = catch_unwind(AssertUnwindSafe(|| table.flush()));
    assert_eq!(table.flush(), 0);
    drops.assert_all_once();
    assert!(table.is_empty());
    // Still usable.
    let h = table.insert(Bomb {
        _tracked: Drops::new(1).value(0),
        explode: false,
    });
    assert!(table.contains(h));
}

#[test]
fn panic_in_drop_during_table_drop() {
    test_support::not_alone();
    const N: usize = 100;
    let drops = Drops::new(N);
    let table = HandleTable::new();
    for i in 0..N {
        let h = table.insert(Bomb {
            _tracked: drops.value(i),
            explode: i % 10 == 3,
        });
        if i % 4 == 0 {
            table.revoke(h).unwrap(); // some pending, some live
        }
    }
    let r = catch_unwind(AssertUnwindSafe(move || drop(table)));
    assert!(r.is_err());
    drops.assert_all_once();
}

#[test]
fn panic_in_drop_inside_with_of_the_same_table() {
    test_support::not_alone();
    // A Drop panic surfaces from a remove inside a closure; the closure's own borrow survives.
    let drops = Drops::new(200);
    let table = HandleTable::new();
    let outer = table.insert(Bomb {
        _tracked: drops.value(0),
        explode: false,
    });
    let rest: Vec<Handle> = (1..200)
        .map(|i| {
            table.insert(Bomb {
                _tracked: drops.value(i),
                explode: i == 7,
            })
        })
        .collect();
    let mut panics = 0;
    let id = table
        .with(outer, |v| {
            table.revoke(outer).unwrap();
            for &h in &rest {
                // The pass that a remove triggers may carry the Drop panic out of it.
                if catch_unwind(AssertUnwindSafe(|| table.revoke(h).unwrap())).is_err() {
                    panics += 1;
                }
            }
            if catch_unwind(AssertUnwindSafe(|| table.flush())).is_err() {
                panics += 1;
            }
            assert_eq!(drops.of(0), 0, "borrowed value dropped");
            v._tracked.check()
        })
        .unwrap();
    assert_eq!(id, 0);
    assert_eq!(panics, 1, "one Drop panicked, once");
    assert!(table.is_empty());
    assert_eq!(table.flush(), 0);
    drops.assert_all_once();
}

/// Regression: guards past the inline hazard cells used to hold a counted reference, which an
/// extra `release` could steal, freeing the value under the guard.
#[test]
fn over_release_cannot_free_a_value_under_a_guard() {
    test_support::not_alone();
    let drops = Drops::new(6);
    let table = HandleTable::new();
    let busy: Vec<Handle> = (0..HAZARDS).map(|i| table.insert(drops.value(i))).collect();
    let _hazards: Vec<_> = busy.iter().map(|&b| table.get(b).unwrap()).collect();
    let h = table.insert(drops.value(4));
    let guard = table.get(h).unwrap(); // past the inline hazard cells
    table.revoke(h).unwrap(); // the owner's reference
    // A caller that never retained releases anyway: this must not end the entry while the
    // guard borrows it (an error, or a deferred end, would both be sound).
    let _ = table.release(h);
    table.flush();
    assert_eq!(drops.of(4), 0, "value dropped while a guard borrows it");
    let _other = table.insert(drops.value(5)); // would reuse the slot
    assert_eq!(guard.check(), 4);
}

/// Regression: with the inline hazard cells in use, a scoped lookup used to be a counted
/// reference; after the owner released its own, `take` moved the value out from under it.
#[test]
fn take_cannot_move_a_value_out_from_under_a_guard() {
    test_support::not_alone();
    let drops = Drops::new(5);
    let table = HandleTable::new();
    let busy: Vec<Handle> = (0..HAZARDS).map(|i| table.insert(drops.value(i))).collect();
    let _hazards: Vec<_> = busy.iter().map(|&b| table.get(b).unwrap()).collect();
    let h = table.insert(drops.value(4));
    table
        .with(h, |v| {
            // The owner gives up its reference while the value is borrowed (with a hazard
            // guard this ends the entry, and take then fails with Stale)...
            let _ = table.release(h);
            // ...so nothing may move the value out while this closure borrows it.
            let taken = table.take(h);
            assert!(taken.is_err(), "take moved a borrowed value out");
            assert_eq!(v.check(), 4);
        })
        .unwrap();
}

#[test]
fn panic_in_retain_with_closure_leaves_no_reference() {
    test_support::not_alone();
    let drops = Drops::new(1);
    let table = HandleTable::new();
    let h = table.insert(drops.value(0));
    let r = catch_unwind(AssertUnwindSafe(|| {
        table.retain_with(h, |_| -> () { panic!("closure panics") })
    }));
    assert!(r.is_err());
    // Only the owner's reference may be left.
    assert_eq!(
        table.release(h),
        Ok(true),
        "the panicking retain_with kept a reference"
    );
    table.flush();
    drops.assert_all_once();
}
