//! Loom model of the registry's init guard.
//!
//! Run with `RUSTFLAGS="--cfg handles_loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p ffi-handles-capi --release
//! --lib --target-dir target/loom loom_models`. The registry `static` itself is not compiled
//! under loom (loom atomics cannot live in statics across executions); the model drives the
//! same `InitGuard` type through a shared `Arc`.

use crate::init::InitGuard;
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};

/// A value whose payload is a loom-tracked cell written by its constructor: a reader that gets
/// the pointer without synchronising with the constructor is a detected data race.
struct Tracked {
    payload: UnsafeCell<u64>,
    drops: Arc<AtomicUsize>,
}

impl Tracked {
    fn new(id: u64, built: &AtomicUsize, drops: &Arc<AtomicUsize>) -> Box<Tracked> {
        built.fetch_add(1, Ordering::SeqCst);
        let t = Box::new(Tracked {
            payload: UnsafeCell::new(0),
            drops: drops.clone(),
        });
        // SAFETY: not shared yet.
        t.payload.with_mut(|p| unsafe { *p = id });
        t
    }

    fn read(&self) -> u64 {
        // SAFETY: a tracked read; loom reports it if it races with the constructor's write.
        self.payload.with(|p| unsafe { *p })
    }
}

// SAFETY: the payload is written only before publication and in `drop`; loom checks it.
unsafe impl Sync for Tracked {}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

/// Concurrent first users: every caller gets the same, fully built value; exactly one candidate
/// is installed, every losing candidate is dropped at once, and dropping the guard drops the
/// winner: every value built is dropped exactly once.
#[test]
fn init_guard_concurrent_first_users() {
    model(|| {
        let guard = Arc::new(InitGuard::<Tracked>::new());
        let built = Arc::new(AtomicUsize::new(0));
        let drops = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (1..=2u64)
            .map(|id| {
                let (guard, built, drops) = (guard.clone(), built.clone(), drops.clone());
                loom::thread::spawn(move || {
                    let v = guard.get_or_init(|| Tracked::new(id, &built, &drops), |_| ());
                    let seen = v.read();
                    assert!((1..=3).contains(&seen), "read an unbuilt value: {seen}");
                    (v as *const Tracked as usize, seen)
                })
            })
            .collect();
        let main = guard.get_or_init(|| Tracked::new(3, &built, &drops), |_| ());
        let main_seen = main.read();
        let main_ptr = main as *const Tracked as usize;
        for t in threads {
            assert_eq!(
                t.join().unwrap(),
                (main_ptr, main_seen),
                "two different values won"
            );
        }
        let built_n = built.load(Ordering::SeqCst);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            built_n - 1,
            "a loser was not dropped"
        );
        drop(guard);
        assert_eq!(drops.load(Ordering::SeqCst), built_n);
    });
}
