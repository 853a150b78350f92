//! Table tags: the 10-bit field that lets a table reject another table's handles.
//!
//! Two promises, for the whole life of the process:
//!
//! 1. **Two live tables never share a tag.** Tags held by live tables are reserved in a
//!    process-wide bitmap. A new table takes the next free tag after the last one handed out
//!    (round robin), so a dropped table's tag is reused as late as possible. When every tag is
//!    held, a new table cannot get one: its first insert fails with `Error::Full` and the table
//!    stays empty (it may retry after another table is dropped).
//! 2. **A dropped table's handles never reach a later table's entries.** Each tag has a
//!    *generation floor*: a table that gives its tag back raises the floor past the highest
//!    generation any of its slots reached, and the next table with that tag starts every slot
//!    at the floor. A handle's generation is below the floor of every later holder of its tag,
//!    so it can never match a later occupant. A tag whose floor has passed the largest
//!    generation is spent and never handed out again.
//!
//! [`REGISTRY_TAG`] is reserved for the C API's registry and never given to other tables, so a
//! Rust table's handle can never reach a C object, and vice versa.
//!
//! Not part of any lookup protocol (tags are fixed before a table issues its first handle), so
//! plain std atomics are used even under loom.

use crate::handle::{MAX_GENERATION, MAX_TAG};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const WORDS: usize = (MAX_TAG as usize + 1).div_ceil(64);

/// The tag of the C API's registry (`HandleTable::new_registry`); no other table gets it.
pub(crate) const REGISTRY_TAG: u32 = MAX_TAG;

/// Bit `t` is set while a live table holds tag `t` (tag 0 is never used).
static IN_USE: [AtomicU64; WORDS] = [const { AtomicU64::new(0) }; WORDS];
/// Per tag: the first generation its next holder may issue.
static FLOOR: [AtomicU32; MAX_TAG as usize + 1] =
    [const { AtomicU32::new(0) }; MAX_TAG as usize + 1];
/// The last tag handed out.
static LAST: AtomicU32 = AtomicU32::new(0);

/// A tag held by one table, and the generation its slots start at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lease {
    pub(crate) tag: u32,
    pub(crate) floor: u32,
}

/// A tag for a new ordinary table, or `None` when every tag is held by a live table (or
/// spent).
pub(crate) fn acquire() -> Option<Lease> {
    let start = LAST.load(Ordering::Relaxed);
    let tags = MAX_TAG - 1; // 1..REGISTRY_TAG
    for step in 1..=tags {
        let tag = (start + step - 1) % tags + 1; // 1..=tags, starting after `start`
        if let Some(lease) = try_acquire(tag) {
            LAST.store(tag, Ordering::Relaxed);
            return Some(lease);
        }
    }
    None
}

/// The registry's reserved tag, unless a live table holds it or it is spent.
pub(crate) fn acquire_registry() -> Option<Lease> {
    try_acquire(REGISTRY_TAG)
}

fn try_acquire(tag: u32) -> Option<Lease> {
    let (word, bit) = (tag as usize / 64, 1u64 << (tag % 64));
    if IN_USE[word].load(Ordering::Relaxed) & bit != 0 {
        return None;
    }
    // Acquire pairs with `release`'s Release: the previous holder's floor is visible.
    if IN_USE[word].fetch_or(bit, Ordering::Acquire) & bit != 0 {
        return None;
    }
    let floor = FLOOR[tag as usize].load(Ordering::Relaxed);
    if floor > MAX_GENERATION {
        // Spent: every generation was issued by earlier holders. Never handed out again.
        IN_USE[word].fetch_and(!bit, Ordering::Release);
        return None;
    }
    Some(Lease { tag, floor })
}

/// Gives a tag back; `next_floor` is one past the highest generation its holder issued (at
/// least the lease's floor). Handles of the holder can never match a later holder's slots.
pub(crate) fn release(lease: Lease, next_floor: u32) {
    let tag = lease.tag as usize;
    FLOOR[tag].fetch_max(next_floor.max(lease.floor), Ordering::Relaxed);
    let (word, bit) = (tag / 64, 1u64 << (tag % 64));
    // Release publishes the floor to the next holder's Acquire.
    IN_USE[word].fetch_and(!bit, Ordering::Release);
}

/// Whether `tag` can never be handed out again (its generations are spent).
#[cfg(all(test, not(handles_loom)))]
pub(crate) fn is_spent(tag: u32) -> bool {
    FLOOR[tag as usize].load(Ordering::Relaxed) > MAX_GENERATION
}

#[cfg(all(test, not(handles_loom)))]
mod tests {
    use super::*;

    #[test]
    fn owned_tags_are_distinct_and_reused_late() {
        let a = acquire().unwrap();
        let b = acquire().unwrap();
        assert_ne!(a.tag, b.tag);
        assert_ne!(a.tag, REGISTRY_TAG);
        release(a, a.floor);
        let c = acquire().unwrap();
        assert_ne!(
            c.tag, a.tag,
            "a released tag is not the next one handed out"
        );
        release(b, b.floor);
        release(c, c.floor);
    }

    #[test]
    fn a_tag_starts_past_its_predecessors_and_is_dropped_when_spent() {
        let first = acquire().unwrap();
        release(first, first.floor + 10);
        // (Taken straight back, so no other test's table can take it meanwhile.)
        let again = try_acquire(first.tag).expect("just released");
        assert_eq!(again.floor, first.floor + 10);
        release(again, 3); // a lower floor never lowers it
        let again = try_acquire(first.tag).expect("just released");
        assert_eq!(again.floor, first.floor + 10);
        assert!(try_acquire(first.tag).is_none(), "held");
        // Spend it: it is never handed out again.
        release(again, MAX_GENERATION + 1);
        assert!(is_spent(first.tag));
        assert!(try_acquire(first.tag).is_none());
        for _ in 0..2 * MAX_TAG {
            let l = acquire().unwrap();
            assert_ne!(l.tag, first.tag, "a spent tag came back");
            release(l, l.floor);
        }
    }

    #[test]
    fn the_registry_tag_is_reserved() {
        for _ in 0..2 * MAX_TAG {
            let l = acquire().unwrap();
            assert_ne!(l.tag, REGISTRY_TAG);
            release(l, l.floor);
        }
    }
}
