//! Table tags: the 10-bit field that lets a table reject another table's handles.
//!
//! Tags held by live tables are reserved in a process-wide bitmap, so two live tables never
//! share a tag while fewer than 1023 tables are alive at once. A new table takes the next free
//! tag after the last one handed out (round robin), so the tag of a dropped table is reused
//! as late as possible. Only beyond 1023 simultaneously live tables do tags repeat; such a
//! table shares a tag, and its handles are then checked against another table's slots like
//! forged values (they reach an entry only if index and generation also match a live one).
//!
//! Not part of any lookup protocol (tags are fixed before a table issues its first handle), so
//! plain std atomics are used even under loom.

use crate::handle::MAX_TAG;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const WORDS: usize = (MAX_TAG as usize + 1).div_ceil(64);

/// Bit `t` is set while a live table holds tag `t` (tag 0 is never used).
static IN_USE: [AtomicU64; WORDS] = [const { AtomicU64::new(0) }; WORDS];
/// The last tag handed out.
static LAST: AtomicU32 = AtomicU32::new(0);

/// A tag for a new table, and whether the table owns it (must [`release`] it when dropped).
pub(crate) fn acquire() -> (u32, bool) {
    let start = LAST.load(Ordering::Relaxed);
    for step in 1..=MAX_TAG {
        let tag = (start + step - 1) % MAX_TAG + 1; // 1..=MAX_TAG, starting after `start`
        let (word, bit) = (tag as usize / 64, 1u64 << (tag % 64));
        if IN_USE[word].fetch_or(bit, Ordering::Relaxed) & bit == 0 {
            LAST.store(tag, Ordering::Relaxed);
            return (tag, true);
        }
    }
    // Every tag is held by a live table: share one.
    (start % MAX_TAG + 1, false)
}

/// Returns an owned tag to the pool.
pub(crate) fn release(tag: u32) {
    let (word, bit) = (tag as usize / 64, 1u64 << (tag % 64));
    IN_USE[word].fetch_and(!bit, Ordering::Relaxed);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn owned_tags_are_distinct_and_reused_late() {
        let a = acquire();
        let b = acquire();
        assert!(a.1 && b.1);
        assert_ne!(a.0, b.0);
        release(a.0);
        let c = acquire();
        assert_ne!(c.0, a.0, "a released tag is not the next one handed out");
        release(b.0);
        release(c.0);
    }
}
