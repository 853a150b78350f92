//! Own binary: prompt drops happen only while the test's thread is the only one using the
//! library, which a test binary shared with other tests cannot promise.
//!
//! While a thread is alone (no other thread has a registry record, and it holds no guard on
//! the entry), a value is dropped inside the call that ended it, and `take` runs no heavy
//! barrier; as soon as a second thread registers, ended values wait for a pass.

use handles::{Error, HandleTable, ReclaimPolicy};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts its drops and remembers whether the last one ran on the thread that made it.
struct Noted {
    drops: Arc<AtomicUsize>,
    maker: std::thread::ThreadId,
    on_maker: Arc<AtomicUsize>,
}

impl Drop for Noted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if std::thread::current().id() == self.maker {
            self.on_maker.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[test]
fn alone_means_dropped_inside_the_ending_call() {
    let drops = Arc::new(AtomicUsize::new(0));
    let on_maker = Arc::new(AtomicUsize::new(0));
    let noted = || Noted {
        drops: drops.clone(),
        maker: std::thread::current().id(),
        on_maker: on_maker.clone(),
    };
    let count = || drops.load(Ordering::SeqCst);
    for policy in [
        ReclaimPolicy::Caller,
        ReclaimPolicy::Explicit,
        ReclaimPolicy::Background,
    ] {
        let table: &'static HandleTable<Noted> = Box::leak(Box::new(HandleTable::new()));
        table.set_reclaim_policy(policy);
        let base = count();

        // revoke, release to zero: dropped before the call returns, on this thread.
        let h = table.insert(noted());
        table.revoke(h).unwrap();
        assert_eq!(count(), base + 1, "{policy:?}: revoke dropped the value");
        let h = table.insert(noted());
        table.retain(h).unwrap();
        table.release(h).unwrap();
        assert_eq!(count(), base + 1, "{policy:?}: a reference is left");
        table.release(h).unwrap();
        assert_eq!(count(), base + 2, "{policy:?}: the last release dropped it");
        assert_eq!(table.stats().pending_drops, 0);

        // Our own guard on the entry keeps the value until a pass.
        let h = table.insert(noted());
        let guard = table.get(h).unwrap();
        table.revoke(h).unwrap();
        assert_eq!(count(), base + 2, "{policy:?}: dropped under our own guard");
        drop(guard);
        assert_eq!(table.flush(), 0);
        assert_eq!(count(), base + 3);

        // take needs no heavy barrier while alone.
        let barriers = handles::thread_stats().heavy_barriers;
        for i in 0..1_000 {
            let h = table.insert(noted());
            let value = table.take(h).unwrap();
            assert_eq!(table.take(h).err(), Some(Error::Stale), "take {i}");
            drop(value);
        }
        let ends = 10_000;
        for _ in 0..ends {
            let h = table.insert(noted());
            table.revoke(h).unwrap();
        }
        assert_eq!(count(), base + 3 + 1_000 + ends);
        assert_eq!(
            handles::thread_stats().heavy_barriers,
            barriers,
            "{policy:?}: no heavy barrier while alone"
        );
    }
    assert_eq!(
        on_maker.load(Ordering::SeqCst),
        count(),
        "every drop ran on this thread"
    );

    // A second registered thread: ended values now wait for a pass.
    let table: HandleTable<Noted> = HandleTable::new();
    let witness = test_support::Witness::new();
    let before = count();
    let h = table.insert(noted());
    table.revoke(h).unwrap();
    assert_eq!(count(), before, "not alone: the value waits for a pass");
    assert_eq!(table.stats().pending_drops, 1);
    drop(witness);
    // The other thread has exited (its record is free): alone again.
    let h = table.insert(noted());
    table.revoke(h).unwrap();
    assert_eq!(count(), before + 1, "alone again: dropped at once");
    assert_eq!(table.flush(), 0);
    assert_eq!(count(), before + 2);
}
