//! Own test binary: other tests' threads would hold thread records, and could share home shards.
//!
//! Home shards: each thread inserts into its own shard. In its own test binary, so that no
//! other test's threads hold thread records (with more than 64 records, two live threads can
//! share a home shard by design).

use handles::{Handle, HandleTable};
use std::sync::Barrier;
use test_support::layout;

/// The shard a handle lives in.
fn shard_of(h: Handle) -> u64 {
    layout::shard(h.into_raw())
}

/// A thread whose home shard has no page yet gives it its first page rather than stealing
/// another live thread's free slots: stealing would make it insert into (and retire into) that
/// thread's shard from then on, sharing its free list (2-thread churn ran 4x slower that way).
#[test]
fn a_new_thread_inserts_into_its_own_home_shard() {
    let table: HandleTable<u64> = HandleTable::new();
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let first = s.spawn(|| {
            // Fill the free list of this thread's shard, then stay alive (keeping its record,
            // hence its home shard) while the second thread inserts.
            let hs: Vec<Handle> = (0..300).map(|i| table.insert(i)).collect();
            let shard = shard_of(hs[0]);
            assert!(hs.iter().all(|&h| shard_of(h) == shard));
            for h in hs {
                table.revoke(h).unwrap();
            }
            table.flush();
            barrier.wait(); // free slots are waiting in `shard`
            barrier.wait(); // the second thread has inserted
            shard
        });
        let second = s.spawn(|| {
            barrier.wait();
            let h = table.insert(1);
            barrier.wait();
            shard_of(h)
        });
        let (a, b) = (first.join().unwrap(), second.join().unwrap());
        assert_ne!(
            a, b,
            "the second thread stole the first thread's free slots"
        );
    });
}
