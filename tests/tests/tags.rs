//! Own test binary: it holds every table tag of the process (other tables would get `Full`).
//!
//! Table tags over the life of the process: handles stay unique across tables, live tables
//! never share a tag, and Rust tables' handles never reach the C registry's objects. One test:
//! at its peak it holds every tag of the process at once, which would make tables created by
//! concurrent tests fail with `Full`.

use core::ffi::c_void;
use handles::{Error, Handle, HandleTable};
use hdl::HdlStatus as S;
use std::collections::HashSet;
use test_support::layout;

#[test]
fn tags_over_the_life_of_the_process() {
    dropped_tables_never_reach_later_tables();
    live_tables_never_share_a_tag_and_never_reach_c_objects();
}

/// Every fallible operation on `h` fails (and `contains` is false).
fn assert_unreachable(table: &HandleTable<u64>, h: Handle, why: &str) {
    assert!(!table.contains(h), "{why}: contains {h:?}");
    assert!(table.with(h, |_| ()).is_err(), "{why}: with {h:?}");
    assert!(table.retain(h).is_err(), "{why}: retain {h:?}");
    assert!(table.release(h).is_err(), "{why}: release {h:?}");
    assert!(table.revoke(h).is_err(), "{why}: remove {h:?}");
    assert!(table.take(h).is_err(), "{why}: take {h:?}");
}

/// Tables are created and dropped 2 x 1,100 times (every tag comes round at least twice). No
/// handle value is ever issued twice, and no handle of a dropped table reaches an entry of a
/// later one, although later tables reuse the dropped tables' tags.
fn dropped_tables_never_reach_later_tables() {
    let mut old: Vec<Handle> = Vec::new();
    let mut issued = HashSet::new();
    let mut tags = HashSet::new();
    for i in 0..2_200u64 {
        let table = HandleTable::new();
        let mut mine = Vec::new();
        for k in 0..4 {
            // Churn one slot a few times so generations differ between tables.
            for _ in 0..(i + k) % 3 {
                let h = table.insert(0);
                table.revoke(h).unwrap();
                table.flush();
                mine.push(h);
            }
            mine.push(table.insert(i));
        }
        tags.insert(layout::tag(mine[0].into_raw()));
        for &h in &mine {
            assert!(issued.insert(h.into_raw()), "handle {h:?} issued twice");
        }
        for &h in &old {
            assert_unreachable(&table, h, "a dropped table's handle");
        }
        old.extend(mine);
    }
    assert!(
        tags.len() >= 1_000,
        "tags were reused: only {} seen",
        tags.len()
    );
    assert!(old.len() > 2_200 * 4);
}

/// 1,100 live tables: tables beyond the free tags get none (their first insert fails with
/// `Full` and gives the value back), every table that got one has its own, no handle reaches
/// an entry of another table, and no Rust table's handle reaches a C object of the registry
/// through `hdl_lookup`. Dropping a table frees a tag for a table that got none.
fn live_tables_never_share_a_tag_and_never_reach_c_objects() {
    // The C registry holds a few C objects (its tag is reserved: no Rust table gets it).
    let mut c_object = 7u64;
    let c_handles: Vec<u64> = (0..8)
        .map(|_| {
            let mut h = 0;
            let p = (&raw mut c_object).cast::<c_void>();
            // SAFETY: `p` outlives the registry entry (revoked below); no destructor.
            assert_eq!(unsafe { hdl::hdl_insert(p, 1, None, &mut h) }, S::Ok);
            h
        })
        .collect();
    let tables: Vec<HandleTable<u64>> = (0..1_100).map(|_| HandleTable::new()).collect();
    let mut handles: Vec<Option<Vec<Handle>>> = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        match table.try_insert(i as u64) {
            Ok(first) => {
                let mut hs = vec![first];
                hs.extend((0..3).map(|_| table.insert(i as u64)));
                handles.push(Some(hs));
            }
            Err(e) => {
                assert_eq!(e.error, Error::Full, "table {i}");
                assert_eq!(e.value, i as u64, "the value comes back");
                handles.push(None);
            }
        }
    }
    let got: Vec<usize> = (0..tables.len())
        .filter(|&i| handles[i].is_some())
        .collect();
    assert!(
        got.len() >= 1_000 && got.len() <= 1_022,
        "{} tables got a tag",
        got.len()
    );
    assert!(
        got.len() < tables.len(),
        "some tables must have found no tag"
    );
    let tags: HashSet<u64> = got
        .iter()
        .map(|&i| layout::tag(handles[i].as_ref().unwrap()[0].into_raw()))
        .collect();
    assert_eq!(tags.len(), got.len(), "two live tables share a tag");
    let c_tag = layout::tag(c_handles[0]);
    assert!(
        !tags.contains(&c_tag),
        "a Rust table has the registry's tag"
    );

    let mut cross = 0u64;
    for &i in &got {
        for &h in handles[i].as_ref().unwrap() {
            assert_eq!(tables[i].with(h, |v| *v), Ok(i as u64));
            let mut p = core::ptr::null_mut();
            // SAFETY: `p` is a valid out-pointer.
            let status = unsafe { hdl::hdl_lookup(h.into_raw(), 0, &mut p) };
            assert_eq!(status, S::WrongTable, "a Rust handle reached the registry");
            assert!(p.is_null(), "nothing written on failure");
            for (j, other) in tables.iter().enumerate() {
                if j != i {
                    assert!(other.with(h, |_| ()).is_err(), "table {j} accepted {h:?}");
                    cross += 1;
                }
            }
        }
        for &c in &c_handles {
            let h = Handle::from_raw(c).unwrap();
            assert_eq!(tables[i].with(h, |_| ()), Err(Error::WrongTable));
        }
    }
    assert!(cross > 4_000_000, "{cross} cross-table lookups");

    // A table that found no tag gets one once another table is dropped.
    let mut tables = tables;
    let waiting = (0..tables.len()).find(|&i| handles[i].is_none()).unwrap();
    tables.swap_remove(got[0]); // drops a table that had a tag
    let waiting = if waiting == tables.len() {
        got[0]
    } else {
        waiting
    };
    let h = tables[waiting].insert(99);
    assert_eq!(tables[waiting].with(h, |v| *v), Ok(99));
    drop(tables);
    for c in c_handles {
        assert_eq!(hdl::hdl_revoke(c), S::Ok);
    }
}
