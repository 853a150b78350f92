//! Loom models of every concurrency protocol in the crate.
//!
//! Run with `RUSTFLAGS="--cfg handles_loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p ffi-handles --release
//! --lib loom_models`. Under loom, pages are 2 slots (so growth is cheap to reach), both
//! barriers are `SeqCst` fences (the semantics membarrier provides), and every access to a
//! stored value goes through loom's `UnsafeCell`, so a value read while it is being dropped is
//! reported as a data race.

use crate::{Error, Handle, HandleTable};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// `loom::thread::spawn`, plus what the thread-exit hook does when the closure returns.
mod thread {
    pub(super) use loom::thread::JoinHandle;

    pub(super) fn spawn<R: Send + 'static>(
        f: impl FnOnce() -> R + Send + 'static,
    ) -> JoinHandle<R> {
        loom::thread::spawn(move || {
            let result = f();
            crate::global::exit_current();
            result
        })
    }
}

/// A value that counts its drops and whose payload is a loom-tracked cell: reading it while
/// (or after) it is dropped is a detected race.
struct Tracked {
    id: u64,
    payload: UnsafeCell<u64>,
    drops: Arc<AtomicUsize>,
}

// SAFETY: `payload` is written only in `drop` (with `&mut self`), read through `&self`
// otherwise; loom checks that those never overlap, which is exactly what the models test.
unsafe impl Sync for Tracked {}

impl Tracked {
    fn new(id: u64, drops: &Arc<AtomicUsize>) -> Tracked {
        Tracked {
            id,
            payload: UnsafeCell::new(id),
            drops: drops.clone(),
        }
    }

    /// Reads the payload (a tracked access) and checks it still holds the id.
    fn read(&self) -> u64 {
        // SAFETY: a plain read of the cell; loom reports it if it races with `drop`.
        let v = self.payload.with(|p| unsafe { *p });
        assert_eq!(v, self.id, "read a dropped or foreign value");
        v
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // SAFETY: `&mut self`; loom reports it if a reader still accesses the payload.
        self.payload.with_mut(|p| unsafe { *p = u64::MAX });
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// Runs `f` under loom (preemption bound from `LOOM_MAX_PREEMPTIONS`, default 3).
///
/// The body runs on a spawned loom thread: loom tears down lazy statics (our thread registry)
/// before the main thread's thread-locals, so a record claimed on the main thread could not be
/// released. Spawned threads release theirs when they finish, as real threads do.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    // A pass and `stats` load every shard's page pointers: 64 x 77 under loom's 2-slot first
    // pages, more than loom's default budget of 1,000 branches per execution.
    builder.max_branches = 20_000;
    let f = std::sync::Arc::new(f);
    builder.check(move || {
        let f = f.clone();
        thread::spawn(move || f()).join().unwrap();
    });
}

fn table() -> Arc<HandleTable<Tracked>> {
    Arc::new(HandleTable::new())
}

/// Insert publishes the value: a lookup that sees the handle (through a Relaxed channel, so no
/// help from outside the table) either misses the entry or reads the fully written value.
#[test]
fn insert_vs_lookup() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let channel = Arc::new(AtomicU64::new(0));
        let writer = {
            let (table, drops, channel) = (table.clone(), drops.clone(), channel.clone());
            thread::spawn(move || {
                let h = table.insert(Tracked::new(7, &drops));
                channel.store(h.into_raw(), Ordering::Relaxed);
            })
        };
        if let Some(h) = Handle::from_raw(channel.load(Ordering::Relaxed)) {
            match table.with(h, Tracked::read) {
                Ok(v) => assert_eq!(v, 7),
                Err(e) => assert!(matches!(e, Error::Invalid | Error::WrongTable), "{e:?}"),
            }
        }
        writer.join().unwrap();
        drop(table);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// Remove racing a scoped lookup: the value is dropped exactly once, never while borrowed.
#[test]
fn remove_vs_scoped_lookup() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let h = table.insert(Tracked::new(1, &drops));
        let reader = {
            let table = table.clone();
            thread::spawn(move || match table.with(h, Tracked::read) {
                Ok(v) => assert_eq!(v, 1),
                Err(e) => assert_eq!(e, Error::Stale),
            })
        };
        table.revoke(h).unwrap();
        table.flush();
        reader.join().unwrap();
        table.flush();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(table.with(h, Tracked::read), Err(Error::Stale));
    });
}

/// The last release races a lookup and a retain: exactly one release reports "last", the
/// value is dropped once, and no lookup reads it after that.
#[test]
fn release_to_zero_vs_lookup_and_retain() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let h = table.insert(Tracked::new(3, &drops));
        table.retain(h).unwrap(); // two references
        let other = {
            let table = table.clone();
            thread::spawn(move || {
                let mut last = 0;
                if table.retain(h).is_ok() {
                    assert_eq!(table.with(h, Tracked::read), Ok(3));
                    last += table.release(h).unwrap() as usize;
                }
                if let Ok(v) = table.with(h, Tracked::read) {
                    assert_eq!(v, 3);
                }
                last
            })
        };
        let mut last = table.release(h).unwrap() as usize;
        last += table.release(h).unwrap() as usize;
        last += other.join().unwrap();
        assert_eq!(last, 1, "exactly one release is the last");
        table.flush();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// Revoke with an outstanding counted reference: new lookups fail at once, the outstanding
/// reference stays usable, and its release ends the entry.
#[test]
fn revoke_with_outstanding_references() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let h = table.insert(Tracked::new(4, &drops));
        table.retain(h).unwrap(); // the reference C would hold
        let revoker = {
            let table = table.clone();
            thread::spawn(move || {
                table.revoke(h).unwrap();
                assert_eq!(table.with(h, Tracked::read), Err(Error::Stale));
                assert_eq!(table.retain(h), Err(Error::Stale));
            })
        };
        // The holder of the counted reference may still use the value...
        let g = table.get(h);
        if let Ok(g) = &g {
            g.read();
        }
        drop(g);
        revoker.join().unwrap();
        assert_eq!(
            drops.load(Ordering::SeqCst),
            0,
            "a reference is still outstanding"
        );
        // ...and its release is the last one.
        assert_eq!(table.release(h), Ok(true));
        assert_eq!(table.release(h), Err(Error::Stale));
        table.flush();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// A slot is reused (generation + 1) while a lookup with the old handle is in flight: the old
/// handle never reaches the new value.
#[test]
fn slot_reuse_vs_old_handle() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let old = table.insert(Tracked::new(1, &drops));
        let reuser = {
            let (table, drops) = (table.clone(), drops.clone());
            thread::spawn(move || {
                table.revoke(old).unwrap();
                table.flush();
                table.insert(Tracked::new(2, &drops))
            })
        };
        match table.with(old, Tracked::read) {
            Ok(v) => assert_eq!(v, 1, "old handle reached the new value"),
            Err(e) => assert_eq!(e, Error::Stale),
        }
        let new = reuser.join().unwrap();
        assert_ne!(new, old);
        assert_eq!(table.with(new, Tracked::read), Ok(2));
        assert_eq!(table.with(old, Tracked::read), Err(Error::Stale));
        drop(table);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// Page growth racing lookups: a lookup of a handle in a newly installed page sees the page
/// and the value, or misses cleanly; a lookup in an existing page is unaffected.
#[test]
fn page_growth_vs_lookup() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let channel = Arc::new(AtomicU64::new(0));
        let grower = {
            let (table, drops, channel) = (table.clone(), drops.clone(), channel.clone());
            thread::spawn(move || {
                // Pages hold 2 slots under loom: the third insert installs page 1.
                let first = table.insert(Tracked::new(10, &drops));
                let _ = table.insert(Tracked::new(11, &drops));
                let third = table.insert(Tracked::new(12, &drops));
                assert_ne!(first.into_raw() >> 22 << 22, 0);
                channel.store(third.into_raw(), Ordering::Relaxed);
                first
            })
        };
        if let Some(h) = Handle::from_raw(channel.load(Ordering::Relaxed)) {
            match table.with(h, Tracked::read) {
                Ok(v) => assert_eq!(v, 12),
                Err(e) => assert!(matches!(e, Error::Invalid | Error::WrongTable), "{e:?}"),
            }
        }
        let first = grower.join().unwrap();
        assert_eq!(table.with(first, Tracked::read), Ok(10));
        assert_eq!(table.stats().pages, 2);
        drop(table);
        assert_eq!(drops.load(Ordering::SeqCst), 3);
    });
}

/// Concurrent first users of a fresh table agree on its tag (the lazy init guard): both
/// handles work, from both threads.
#[test]
fn init_guard_concurrent_first_users() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let other = {
            let (table, drops) = (table.clone(), drops.clone());
            thread::spawn(move || table.insert(Tracked::new(1, &drops)))
        };
        let mine = table.insert(Tracked::new(2, &drops));
        let theirs = other.join().unwrap();
        assert_ne!(mine, theirs);
        assert_eq!(
            mine.into_raw() >> 28 & 0x3ff,
            theirs.into_raw() >> 28 & 0x3ff,
            "one tag"
        );
        assert_eq!(table.with(theirs, Tracked::read), Ok(1));
        assert_eq!(table.with(mine, Tracked::read), Ok(2));
        drop(table);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// A thread that read a value exits; its record is recycled by another thread while the value
/// is removed and reclaimed. The exited thread's hazard never blocks or breaks reclamation,
/// and records stay bounded by the number of threads alive at once.
#[test]
fn thread_exit_recycling() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let h = table.insert(Tracked::new(5, &drops));
        let first = {
            let table = table.clone();
            thread::spawn(move || {
                let _ = table.with(h, Tracked::read);
            })
        };
        first.join().unwrap();
        let second = {
            let table = table.clone();
            thread::spawn(move || {
                let _ = table.with(h, Tracked::read);
            })
        };
        table.revoke(h).unwrap();
        table.flush();
        second.join().unwrap();
        assert_eq!(table.flush(), 0, "no hazard survives its thread");
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        let (records, _) = crate::global::counts();
        assert!(
            records <= 2,
            "model thread + one recycled record, got {records}"
        );
    });
}

/// Records claimed during thread teardown. One thread keeps a guard past its exit hook (its
/// record is released with the guard's hazard still in it) and then borrows a temporary record
/// for one more lookup, while another thread registers (claiming a free record or allocating
/// one), removes the entry and reclaims. No record is claimed while it carries another
/// thread's hazards (asserted in `Registry::claim`), every release is by the record's owner
/// (asserted in `Registry::release`), and neither guard sees its value dropped.
#[test]
fn records_claimed_during_thread_teardown() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let h = table.insert(Tracked::new(8, &drops));
        let exiting = {
            let table = table.clone();
            thread::spawn(move || {
                let late = table.get(h).ok();
                // The exit hook runs; `late` lives on, as in another thread-local.
                crate::global::exit_current();
                if let Ok(g) = table.get_in_teardown(h) {
                    g.read();
                }
                if let Some(g) = late {
                    g.read();
                }
            })
        };
        let other = {
            let table = table.clone();
            thread::spawn(move || {
                let _ = table.with(h, Tracked::read);
                let _ = table.revoke(h);
                table.flush();
            })
        };
        exiting.join().unwrap();
        other.join().unwrap();
        assert_eq!(table.flush(), 0, "no hazard survives its guard");
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// `take` racing a scoped lookup: either take wins (the reader fails with `Stale`, the value
/// moves out unread by anyone else) or it reports Busy and the entry is unchanged. The reader
/// never fails because a take was deciding: a failed take disturbs nobody.
#[test]
fn take_vs_scoped_lookup() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let h = table.insert(Tracked::new(6, &drops));
        let reader = {
            let table = table.clone();
            thread::spawn(move || match table.with(h, Tracked::read) {
                Ok(v) => assert_eq!(v, 6),
                Err(e) => assert_eq!(e, Error::Stale),
            })
        };
        let taken = match table.take(h) {
            Ok(value) => {
                assert_eq!(value.read(), 6);
                drop(value); // races with the reader unless take excluded it
                true
            }
            Err(e) => {
                assert_eq!(e, Error::Busy);
                false
            }
        };
        reader.join().unwrap();
        if !taken {
            // Unchanged: live with the owner's one reference.
            assert_eq!(table.with(h, Tracked::read), Ok(6));
            assert!(table.take(h).is_ok(), "nothing borrows it now");
        }
        drop(table);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// `take` racing a retain and release of the same live entry: neither fails because of the
/// take (a failed take is invisible); if the retain came first, the take fails.
#[test]
fn take_vs_retain_and_release() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let h = table.insert(Tracked::new(8, &drops));
        let holder = {
            let table = table.clone();
            thread::spawn(move || match table.retain(h) {
                Ok(()) => {
                    assert_eq!(table.release(h), Ok(false), "the owner still holds one");
                    true
                }
                Err(e) => {
                    assert_eq!(e, Error::Stale, "only a successful take ends it");
                    false
                }
            })
        };
        let taken = table.take(h);
        let retained = holder.join().unwrap();
        match taken {
            Ok(value) => assert_eq!(value.read(), 8),
            Err(e) => {
                assert_eq!(e, Error::Busy);
                assert!(retained, "a take fails only for a real holder");
                assert_eq!(table.release(h), Ok(true));
            }
        }
        table.flush();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// Two takes and a lookup on one entry. A lookup that settles the first take's TAKING word back
/// to LIVE lets a second take write a TAKING word again: the first take's final CAS must not
/// mistake it for its own (each take's word carries its thread's token). At most one take
/// succeeds, and never while the lookup reads.
#[test]
fn two_takes_and_a_lookup() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let h = table.insert(Tracked::new(9, &drops));
        let takers: Vec<_> = (0..2)
            .map(|_| {
                let table = table.clone();
                thread::spawn(move || match table.take(h) {
                    Ok(value) => {
                        assert_eq!(value.read(), 9);
                        drop(value);
                        true
                    }
                    Err(e) => {
                        assert!(matches!(e, Error::Busy | Error::Stale), "{e:?}");
                        false
                    }
                })
            })
            .collect();
        match table.with(h, Tracked::read) {
            Ok(v) => assert_eq!(v, 9),
            Err(e) => assert_eq!(e, Error::Stale),
        }
        let wins = takers
            .into_iter()
            .filter(|_| true)
            .map(|t| t.join().unwrap() as usize);
        let wins: usize = wins.sum();
        assert!(wins <= 1);
        if wins == 0 {
            assert_eq!(table.revoke(h), Ok(()));
        }
        table.flush();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// `retain_with`'s closure reads the value while another thread releases the entry's
/// references (both of them: safe code may release a reference it does not own) and flushes:
/// the hazard, not the reference count, keeps the value alive for the closure.
#[test]
fn retain_with_vs_extra_releases_and_flush() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let h = table.insert(Tracked::new(2, &drops));
        let releaser = {
            let table = table.clone();
            thread::spawn(move || {
                while let Ok(false) = table.release(h) {}
                table.flush();
            })
        };
        match table.retain_with(h, |t| {
            let v = t.read();
            loom::thread::yield_now();
            assert_eq!(t.read(), v);
            v
        }) {
            Ok(v) => assert_eq!(v, 2),
            Err(e) => assert_eq!(e, Error::Stale),
        }
        releaser.join().unwrap();
        let _ = table.release(h); // the reference retain_with may have left
        table.flush();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// A closure inside `with` ends its own entry (releases the owner's reference) and tries to
/// take another entry it is reading, while another thread runs reclamation passes: the ended
/// value stays readable until the closure returns, and the take reports the closure's borrow.
#[test]
fn closure_releases_and_takes_its_own_entry() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let h = table.insert(Tracked::new(1, &drops));
        let g = table.insert(Tracked::new(2, &drops));
        let reclaimer = {
            let table = table.clone();
            thread::spawn(move || {
                table.flush();
            })
        };
        let v = table.with(h, |v| {
            assert_eq!(table.release(h), Ok(true)); // ends its own entry
            table.flush();
            v.read()
        });
        assert_eq!(v, Ok(1));
        let v = table.with(g, |v| {
            assert_eq!(
                table.take(g).err(),
                Some(Error::Busy),
                "the closure borrows it"
            );
            v.read()
        });
        assert_eq!(v, Ok(2));
        reclaimer.join().unwrap();
        assert!(table.take(g).is_ok());
        table.flush();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// A thread holding more guards than its record has inline hazard cells publishes the fifth
/// in an overflow chunk it appends while a reclaimer scans: the reclaimer sees that hazard
/// (or the reader sees the entry ended), and the value is never dropped under the guard.
#[test]
fn overflow_hazards_vs_reclaimer() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let a = table.insert(Tracked::new(1, &drops));
        let h = table.insert(Tracked::new(5, &drops));
        let reclaimer = {
            let table = table.clone();
            thread::spawn(move || {
                table.revoke(h).unwrap();
                table.flush();
            })
        };
        let reader = {
            let table = table.clone();
            thread::spawn(move || {
                let inline: Vec<_> = (0..crate::registry::HAZARDS)
                    .map(|_| table.get(a).unwrap())
                    .collect();
                if let Ok(g) = table.get(h) {
                    assert_eq!(g.read(), 5);
                }
                drop(inline);
            })
        };
        reclaimer.join().unwrap();
        reader.join().unwrap();
        table.flush();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(table);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// Two reclamation passes on one shard at once (two threads end entries of the main thread's
/// shard and flush): every value is dropped exactly once, by one of the passes.
#[test]
fn concurrent_passes_on_one_shard() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let hs = [
            table.insert(Tracked::new(1, &drops)),
            table.insert(Tracked::new(2, &drops)),
        ];
        let passes: Vec<_> = hs
            .into_iter()
            .map(|h| {
                let table = table.clone();
                thread::spawn(move || {
                    table.revoke(h).unwrap();
                    table.flush();
                })
            })
            .collect();
        for p in passes {
            p.join().unwrap();
        }
        assert_eq!(table.flush(), 0);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        assert_eq!(table.stats().pending_drops, 0);
    });
}

/// Generation exhaustion under concurrency: a slot that reaches the table's last generation
/// is exhausted, never reused, even while a lookup of its last handle is in flight; the old
/// handle stays stale and the next insert gets another slot.
#[test]
fn generation_exhaustion_vs_lookup() {
    model(|| {
        let table = Arc::new(HandleTable::with_max_generation(0));
        let drops = Arc::new(AtomicUsize::new(0));
        let h = table.insert(Tracked::new(3, &drops));
        let reader = {
            let table = table.clone();
            thread::spawn(move || match table.with(h, Tracked::read) {
                Ok(v) => assert_eq!(v, 3),
                Err(e) => assert_eq!(e, Error::Stale),
            })
        };
        table.revoke(h).unwrap();
        table.flush();
        let next = table.insert(Tracked::new(4, &drops));
        assert_ne!(
            next.into_raw() & 0x3f_ffff,
            h.into_raw() & 0x3f_ffff,
            "slot reused"
        );
        reader.join().unwrap();
        table.flush();
        assert_eq!(table.stats().exhausted_slots, 1);
        assert_eq!(table.with(h, Tracked::read), Err(Error::Stale));
        assert_eq!(table.with(next, Tracked::read), Ok(4));
        drop(table);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// Two threads pop and push the same shard's free list at once (they steal from the main
/// thread's shard): the Treiber stack's ABA counter keeps every slot owned by one entry.
#[test]
fn free_list_pop_push_race() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let a = table.insert(Tracked::new(1, &drops));
        let b = table.insert(Tracked::new(2, &drops));
        table.revoke(a).unwrap();
        table.revoke(b).unwrap();
        table.flush(); // two free slots in the main thread's shard
        let workers: Vec<_> = (0..2)
            .map(|i| {
                let (table, drops) = (table.clone(), drops.clone());
                thread::spawn(move || {
                    let h = table.insert(Tracked::new(10 + i, &drops));
                    assert_eq!(table.with(h, Tracked::read), Ok(10 + i));
                    table.revoke(h).unwrap();
                    table.flush();
                    h
                })
            })
            .collect();
        let handles: Vec<Handle> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        assert_ne!(handles[0], handles[1]);
        table.flush();
        assert_eq!(drops.load(Ordering::SeqCst), 4);
    });
}

/// A leak-report visit (`visit_live`, which reads LIVE *and* REVOKED values under a hazard)
/// races a revoke, the last release and a reclamation pass: the visitor reads the value or
/// skips the entry, never a dropped value; the value is dropped once; and the end code left in
/// the slot says "revoked" whichever of the revoke and the release came first.
#[test]
fn leak_visit_vs_revoke_and_release() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let h = table.insert(Tracked::new(5, &drops));
        table.retain(h).unwrap(); // two references
        let visitor = {
            let table = table.clone();
            thread::spawn(move || {
                let mut visited = 0;
                table.visit_live(|entry, value| {
                    assert_eq!(entry.handle, h);
                    assert_eq!(value.read(), 5);
                    visited += 1;
                });
                assert!(visited <= 1);
            })
        };
        let releaser = {
            let table = table.clone();
            thread::spawn(move || table.release(h).unwrap())
        };
        table.revoke(h).unwrap();
        releaser.join().unwrap();
        table.flush();
        visitor.join().unwrap();
        table.flush();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(table.diagnose(h).ended, Some(crate::EndReason::Revoked));
        assert_eq!(table.with(h, Tracked::read), Err(Error::Stale));
    });
}

/// The shared heavy barrier's sequence: two callers take their `since` concurrently with
/// barriers starting and finishing; each returns only once a barrier that started after its
/// `since` has completed (the sequence has passed the first even value two steps on), or after
/// running its own, and together they never run more barriers than there are callers.
#[test]
fn shared_barrier_covers_every_caller() {
    use crate::barrier::Sequence;
    loom::model(|| {
        let seq = Arc::new(Sequence::new());
        let issued = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..2)
            .map(|i| {
                let (seq, issued) = (seq.clone(), issued.clone());
                thread::spawn(move || {
                    let since = seq.snapshot_for_tests();
                    // Patience 1 for caller 0, so the give-up path is explored too.
                    let mine = seq.wait_or_issue(since, if i == 0 { 1 } else { 2 }, || {
                        issued.fetch_add(1, Ordering::SeqCst);
                    });
                    if !mine {
                        let now = seq.snapshot_for_tests();
                        assert!(now >= (since + 3) & !1, "since {since}, now {now}");
                    }
                    mine
                })
            })
            .collect();
        let mine: usize = callers
            .into_iter()
            .map(|c| c.join().unwrap() as usize)
            .sum();
        let issued = issued.load(Ordering::SeqCst);
        assert_eq!(issued, mine);
        assert!((1..=2).contains(&issued));
    });
}

/// Prompt drop: the revoker may drop the value inside `revoke` when it finds no other thread
/// registered, while a second thread registers and looks the handle up. Either the revoker sees
/// the other thread's claim (and retires the entry for a pass), or the reader's validation sees
/// the entry ended; the value is never read while or after it is dropped, and dropped once.
/// The reader also gives its record back when it returns (as every model thread does), so a
/// revoke that runs after that sees the count drop back to one: the Release decrement in
/// `release` pairs with the Acquire load in `alone`, ordering the read before the drop.
#[test]
fn prompt_drop_vs_a_thread_registering() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let h = table.insert(Tracked::new(3, &drops));
        let reader = {
            let table = table.clone();
            thread::spawn(move || table.with(h, Tracked::read))
        };
        table.revoke(h).unwrap();
        let seen = reader.join().unwrap();
        assert!(seen == Ok(3) || seen == Err(Error::Stale), "{seen:?}");
        table.flush();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// A take that finds no other thread registered skips the heavy barrier, while a second thread
/// registers and looks the entry up: the take either moves the value out with no reader left
/// on it, or fails (`Busy`) because the reader settled the entry; never both.
#[test]
fn prompt_take_vs_a_thread_registering() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let h = table.insert(Tracked::new(4, &drops));
        let reader = {
            let table = table.clone();
            thread::spawn(move || table.with(h, Tracked::read))
        };
        let taken = table.take(h);
        let seen = reader.join().unwrap();
        match taken {
            Ok(value) => {
                assert_eq!(value.read(), 4);
                assert!(seen == Ok(4) || seen == Err(Error::Stale), "{seen:?}");
            }
            Err(e) => {
                assert_eq!(e, Error::Busy);
                assert_eq!(table.revoke(h), Ok(()));
            }
        }
        table.flush();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// The background reclaimer's wake-up handshake: a caller ends an entry (it goes on a retire
/// list, as in a multi-threaded program) and then checks whether the reclaimer waits for the
/// table (`disarm`); concurrently the reclaimer arms the table and checks the retire lists
/// (`arm_and_check`), as it does before parking. No wake-up is lost: the caller wakes it, or
/// the reclaimer sees the entry and does not park.
#[test]
fn reclaimer_wake_up_is_never_lost() {
    model(|| {
        let table = table();
        let drops = Arc::new(AtomicUsize::new(0));
        let h = table.insert(Tracked::new(6, &drops));
        table.retain(h).unwrap();
        // Disarmed, as after the reclaimer's last wake-up.
        assert!(table.disarm());
        let reclaimer = {
            let table = table.clone();
            thread::spawn(move || table.arm_and_check())
        };
        // A guard keeps the entry off the prompt path: it goes to the retire list.
        let guard = table.get(h).unwrap();
        table.revoke(h).unwrap();
        table.release(h).unwrap();
        let woke = table.disarm();
        drop(guard);
        let saw = reclaimer.join().unwrap();
        assert!(
            woke || saw,
            "the reclaimer would park with an entry waiting"
        );
        table.flush();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// The registry table has a single tag: two threads making its first insert at once both
/// succeed (the one that loses the race for the tag's lease adopts the tag the other installs;
/// it used to report `Full`).
#[test]
fn concurrent_first_inserts_into_the_registry_table() {
    model(|| {
        let table: Arc<HandleTable<u32>> = Arc::new(HandleTable::new_registry());
        let other = {
            let table = table.clone();
            thread::spawn(move || table.try_insert(1).is_ok())
        };
        let mine = table.try_insert(2).is_ok();
        assert!(
            other.join().unwrap() && mine,
            "a first insert reported Full"
        );
    });
}
