//! Own test binary: failure counters are process-wide; no other test may fail lookups meanwhile.
//!
//! Failed-lookup counters (`thread_stats().failures`). They are process-wide, so this binary
//! holds a single test: no other test fails lookups concurrently, and the deltas below are
//! exact.

use handles::{Failures, Handle, HandleTable, thread_stats};

fn delta(before: Failures, after: Failures) -> [u64; 7] {
    [
        after.invalid - before.invalid,
        after.wrong_table - before.wrong_table,
        after.busy - before.busy,
        after.stale_released - before.stale_released,
        after.stale_revoked - before.stale_revoked,
        after.stale_taken - before.stale_taken,
        after.stale_unknown - before.stale_unknown,
    ]
}

#[test]
fn failures_are_counted_by_reason_on_every_thread() {
    let table = HandleTable::new();
    let other = HandleTable::new();
    let released = table.insert(1);
    let revoked = table.insert(2);
    let taken = table.insert(3);
    let live = table.insert(4);
    let foreign = other.insert(5);
    table.release(released).unwrap();
    table.revoke(revoked).unwrap();
    table.take(taken).unwrap();
    let forged = Handle::from_raw(live.into_raw() ^ (1 << 62)).unwrap();

    let before = thread_stats().failures;
    // Successful operations count nothing.
    for _ in 0..100 {
        table.with(live, |_| ()).unwrap();
    }
    assert_eq!(thread_stats().failures, before);

    let _ = table.with(released, |_| ());
    let _ = table.get(released).map(drop);
    let _ = table.retain(revoked);
    let _ = table.revoke(revoked);
    let _ = table.release(taken);
    let _ = table.with(forged, |_| ());
    let _ = table.with(foreign, |_| ());
    let _ = table.retain(foreign);
    // Diagnosis counts nothing.
    let _ = table.diagnose(released);
    assert_eq!(
        delta(before, thread_stats().failures),
        [1, 2, 0, 2, 2, 1, 0]
    );

    // Other threads count too (in their own records), and the counts outlive the threads.
    let mid = thread_stats().failures;
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                for _ in 0..10 {
                    let _ = table.with(released, |_| ());
                }
            });
        }
    });
    assert_eq!(delta(mid, thread_stats().failures), [0, 0, 0, 30, 0, 0, 0]);

    // Once the slot is reused, the reason is unknown.
    table.flush();
    let _reuse: Vec<Handle> = (0..4).map(|i| table.insert(i)).collect();
    let mid = thread_stats().failures;
    let _ = table.with(released, |_| ());
    let _ = table.with(revoked, |_| ());
    let d = delta(mid, thread_stats().failures);
    assert_eq!(d[6], 2, "{d:?}");
    let total = thread_stats().failures;
    assert_eq!(
        total.total(),
        total.invalid + total.wrong_table + total.busy + total.stale()
    );
}
