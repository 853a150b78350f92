//! Drop-counted values: [`Drops`] counts, per id, how often each value was dropped;
//! [`Tracked`] is such a value, with a canary that catches a read after its drop; [`Item`]
//! also records the handle it was inserted under, so a lookup can check it reached its own
//! entry.

use handles::{Handle, HandleTable};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Per-id drop counters for a group of [`Tracked`] values.
#[derive(Clone)]
pub struct Drops(Arc<[AtomicUsize]>);

impl Drops {
    /// Counters for ids `0..n`.
    pub fn new(n: usize) -> Drops {
        Drops((0..n).map(|_| AtomicUsize::new(0)).collect())
    }

    /// A value with id `id`, counted here when dropped.
    pub fn value(&self, id: usize) -> Tracked {
        assert!(id < self.0.len(), "id {id} out of range");
        Tracked {
            id,
            magic: AtomicU64::new(ALIVE),
            drops: self.clone(),
        }
    }

    /// How many times value `id` has been dropped.
    pub fn of(&self, id: usize) -> usize {
        self.0[id].load(Ordering::SeqCst)
    }

    /// Total drops over all ids.
    pub fn total(&self) -> usize {
        self.0.iter().map(|c| c.load(Ordering::SeqCst)).sum()
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no ids.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Asserts that every id in `ids` was dropped exactly once and every other id never.
    pub fn assert_exactly(&self, ids: impl IntoIterator<Item = usize>) {
        let mut want = vec![0usize; self.0.len()];
        for id in ids {
            want[id] += 1;
        }
        for (id, &w) in want.iter().enumerate() {
            assert_eq!(
                self.of(id),
                w,
                "value {id}: dropped {} times, expected {w}",
                self.of(id)
            );
        }
    }

    /// Asserts that every value was dropped exactly once.
    pub fn assert_all_once(&self) {
        self.assert_exactly(0..self.0.len());
    }
}

const ALIVE: u64 = 0x411e_411e_411e_411e;
const DEAD: u64 = 0xdead_dead_dead_dead;

/// A value that counts its drops and carries a canary that its `Drop` overwrites, so a read
/// of a dropped value (a use-after-free the table should make impossible) is likely caught.
pub struct Tracked {
    /// The value's id in its [`Drops`].
    pub id: usize,
    magic: AtomicU64,
    drops: Drops,
}

impl Tracked {
    /// Asserts the value has not been dropped, then returns its id.
    pub fn check(&self) -> usize {
        let magic = self.magic.load(Ordering::SeqCst);
        assert_eq!(magic, ALIVE, "value {} read after its drop", self.id);
        self.id
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let was = self.magic.swap(DEAD, Ordering::SeqCst);
        assert_eq!(was, ALIVE, "value {} dropped twice", self.id);
        self.drops.0[self.id].fetch_add(1, Ordering::SeqCst);
    }
}

/// A drop-counted value that records the handle it was inserted under, so a lookup can check
/// that it reached the entry it named.
pub struct Item {
    /// The drop-counted payload.
    pub tracked: Tracked,
    handle: AtomicU64,
}

impl Item {
    /// Inserts a new item with id `id` into `table` and records its handle in it.
    pub fn insert(table: &HandleTable<Item>, drops: &Drops, id: usize) -> Handle {
        let h = table.insert(Item {
            tracked: drops.value(id),
            handle: AtomicU64::new(0),
        });
        table
            .with(h, |v| v.handle.store(h.into_raw(), Ordering::SeqCst))
            .expect("fresh handle");
        h
    }

    /// Asserts the item is alive and belongs to `h` (or is too new to know its handle yet),
    /// then returns its id.
    pub fn check(&self, h: Handle) -> usize {
        let id = self.tracked.check();
        let own = self.handle.load(Ordering::SeqCst);
        assert!(
            own == 0 || own == h.into_raw(),
            "lookup of {h:?} reached the entry of {own:#x}"
        );
        id
    }
}
