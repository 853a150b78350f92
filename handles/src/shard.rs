//! A shard: its pages, its free list, its retire list, and its counters.
//!
//! Threads insert into their *home* shard (chosen by their registry index), so inserts and
//! revokes from different threads touch different cache lines. The counters that inserts and
//! revokes write live on one cache line (`Meta`); the page pointers that lookups read live on
//! other lines, so writers never invalidate what readers read.
//!
//! * **Free list**: a Treiber stack of slot indices linked through the slots' state words. The
//!   head packs `index + 1` (low 23 bits, the width of a slot's link field) with a 41-bit ABA
//!   counter bumped on every push and pop. A pop may read the link of a slot that another
//!   thread has just popped and reused; the ABA counter then makes its CAS fail. A popper
//!   stopped between its load and its CAS (SIGSTOP, a debugger, a paused VM) is fooled only if
//!   exactly a multiple of 2^41 pushes and pops happen on that shard meanwhile: at 10^9 per
//!   second that is over half an hour of nothing but that shard's traffic. Slots are never
//!   freed, so the link read is always in bounds.
//! * **Retire list**: ended slots waiting for reclamation, linked the same way. The head packs
//!   `index + 1` (low 23 bits) with a count. Only whole-list `swap` removes entries, so it needs
//!   no ABA tag.
//! * **Unused index** (`next_unused`): the first index never handed out; slots come from it
//!   when the free list is empty, and every index below it is a used slot.

use crate::page::{self, PAGES};
use crate::slot::{PAYLOAD_MASK, Slot};
use crate::sync::{AtomicPtr, AtomicU64, Ordering};

/// Bits of a list head (and of a slot's link) that hold `index + 1`; 0 = empty.
const LINK_BITS: u32 = 23;
const LINK: u64 = (1 << LINK_BITS) - 1;
/// One step of the free list's ABA counter, which occupies the bits above the link.
const ABA_ONE: u64 = 1 << LINK_BITS;
const _: () = assert!(LINK == PAYLOAD_MASK && crate::handle::SHARD_CAPACITY <= LINK);
const _: () = assert!(
    64 - LINK_BITS >= 40,
    "the ABA counter must not wrap in practice"
);

/// The free-list head after one push or pop: the ABA counter bumped (wrapping within its
/// bits, never into the link), the link replaced by `link`.
#[inline(always)]
fn next_free_head(head: u64, link: u64) -> u64 {
    ((head & !LINK).wrapping_add(ABA_ONE)) | link
}

#[repr(align(128))]
struct Meta {
    free: AtomicU64,
    retired: AtomicU64,
    /// The first index never handed out.
    next_unused: AtomicU64,
    /// Live entries (wrapping; summed as signed by `len`).
    live: AtomicU64,
    /// Slots EXHAUSTED for good (their generation used up).
    exhausted: AtomicU64,
    /// Entries the last reclamation pass had to keep (still borrowed).
    kept: AtomicU64,
    /// The retire-list head a pass last saw and left in place (see `take_if_idle`).
    seen: AtomicU64,
}

#[repr(align(128))]
pub(crate) struct Shard<T> {
    meta: Meta,
    pages: [AtomicPtr<Slot<T>>; PAGES],
}

impl<T> Shard<T> {
    crate::sync::const_fn! {
        pub(crate) fn new() -> Shard<T> {
            Shard {
                meta: Meta {
                    free: AtomicU64::new(0),
                    retired: AtomicU64::new(0),
                    next_unused: AtomicU64::new(0),
                    live: AtomicU64::new(0),
                    exhausted: AtomicU64::new(0),
                    kept: AtomicU64::new(0),
                    seen: AtomicU64::new(0),
                },
                #[cfg(not(handles_loom))]
                pages: {
                    let mut pages = [const { AtomicPtr::new(core::ptr::null_mut()) }; PAGES];
                    let mut p = 0;
                    while p < PAGES {
                        pages[p] = AtomicPtr::new(page::absent::<T>(p));
                        p += 1;
                    }
                    pages
                },
                #[cfg(handles_loom)]
                pages: core::array::from_fn(|p| AtomicPtr::new(page::absent::<T>(p))),
            }
        }
    }

    /// The slot for `index`. `None` if its page was never allocated and the slot type is not
    /// zero-backed; for a zero-backed one (`page::zero_backed`), a slot of the zero region
    /// instead, which reads as never used (state 0) like an unused slot of an allocated page,
    /// and which nobody writes: every write to a slot follows a check of its state that a
    /// never-used state fails, or the slot's allocation.
    #[inline(always)]
    pub(crate) fn slot(&self, index: u64) -> Option<&Slot<T>> {
        let pre = self.page_of_index(index);
        if !Self::has_slots(pre) {
            return None;
        }
        // SAFETY: `pre` is the page pointer for `index`, and has slots.
        Some(unsafe { Self::slot_in(pre, index) })
    }

    /// True when a page pointer from [`Shard::page_of_index`] has slots to read: always for a
    /// zero-backed slot type (an allocated page or the zero region: the constant condition
    /// drops the test), otherwise when it is not null.
    #[inline(always)]
    pub(crate) fn has_slots(pre: *mut Slot<T>) -> bool {
        page::zero_backed::<T>() || !pre.is_null()
    }

    /// The pre-offset pointer of the page holding `index`: [`page::absent`] if that page was
    /// never allocated (null, or into the zero region). With [`Shard::slot_in`], for a caller
    /// that branches on the page pointer itself: matching on `slot`'s `Option` would test the
    /// wrapped slot pointer for null a second time.
    #[inline(always)]
    pub(crate) fn page_of_index(&self, index: u64) -> *mut Slot<T> {
        // `page_of` is always < PAGES; the bounds check folds away. Acquire pairs with the
        // Release CAS that installed the page, so its zeroed (or loom-constructed) slots are
        // visible. RCpc on aarch64 (`acquire.rs`).
        crate::acquire::load_ptr(&self.pages[page::page_of(index)])
    }

    /// The slot for `index` in its page.
    ///
    /// # Safety
    /// `pre` is [`Shard::page_of_index`]`(index)` of this shard, and [`Shard::has_slots`].
    #[inline(always)]
    pub(crate) unsafe fn slot_in<'a>(pre: *mut Slot<T>, index: u64) -> &'a Slot<T> {
        // SAFETY: a page pointer with slots is an installed page, never freed while the shard
        // lives (the caller borrows it for 'a), or the zero region, a static; `index` lies in
        // page `p`, so `pre + index` is inside the page (see `page::alloc`) or inside the
        // region (see `page::absent`), aligned either way.
        unsafe { &*pre.wrapping_add(index as usize) }
    }

    /// Pops a free slot: its index and the slot.
    #[inline]
    pub(crate) fn pop_free(&self) -> Option<(u64, &Slot<T>)> {
        // Acquire pairs with `push_free`'s Release CAS: the link we read below was written
        // before the slot was pushed.
        let mut head = self.meta.free.load(Ordering::Acquire);
        loop {
            let top = head & LINK;
            if top == 0 {
                return None;
            }
            let index = top - 1;
            let slot = self.slot(index)?;
            // If another thread pops this slot first and reuses it, this link is garbage, but
            // then the head's ABA counter has changed and the CAS below fails.
            let next = slot.state.load(Ordering::Relaxed) & PAYLOAD_MASK;
            let new = next_free_head(head, next);
            match self.meta.free.compare_exchange_weak(
                head,
                new,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some((index, slot)),
                Err(current) => head = current,
            }
        }
    }

    /// Pushes `index` onto the free list, setting its state to FREE with `identity` (the tag
    /// and generation its next occupant will get).
    pub(crate) fn push_free(&self, index: u64, slot: &Slot<T>, identity: u64) {
        let mut head = self.meta.free.load(Ordering::Relaxed);
        loop {
            // The slot is not on the list yet, so we own its state; readers see FREE and fail.
            slot.state
                .store(identity | (head & LINK), Ordering::Relaxed);
            let new = next_free_head(head, index + 1);
            // Release publishes the link (and the emptied value cell) to the next pop.
            match self.meta.free.compare_exchange_weak(
                head,
                new,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(current) => head = current,
            }
        }
    }

    /// Hands out the next unused index. With `grow == false`, only from pages already
    /// allocated.
    pub(crate) fn take_unused(&self, grow: bool) -> Option<u64> {
        let mut index = self.meta.next_unused.load(Ordering::Relaxed);
        loop {
            if index >= page::CAPACITY {
                return None;
            }
            let p = page::page_of(index);
            if self.pages[p].load(Ordering::Acquire) == page::absent::<T>(p) {
                if !grow {
                    return None;
                }
                self.install_page(p);
            }
            match self.meta.next_unused.compare_exchange_weak(
                index,
                index + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(index),
                Err(current) => index = current,
            }
        }
    }

    #[cold]
    fn install_page(&self, p: usize) {
        let new = page::alloc::<T>(p);
        // Release publishes the zeroed slots to lookups' Acquire loads.
        let installed = self.pages[p]
            .compare_exchange(
                page::absent::<T>(p),
                new,
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_ok();
        if !installed {
            // Another thread installed it first.
            // SAFETY: `new` came from `page::alloc(p)` and was never published.
            unsafe { page::free(p, new) };
        }
        // Chain it from the previous page for leak checkers (see `page.rs`). Indices are handed
        // out in order, so page p - 1 was installed before anyone needed page p.
        #[cfg(not(handles_loom))]
        if installed && p > 0 {
            let prev = self.pages[p - 1].load(Ordering::Acquire);
            if prev != page::absent::<T>(p - 1) {
                // SAFETY: `prev` is page p - 1 of this shard, installed and never freed while
                // the shard lives; `new` is page p. Only this CAS winner writes that link.
                unsafe { page::link(prev, p, new) };
            }
        }
    }

    /// Adds an ended slot to the retire list; returns how many entries the list now holds.
    pub(crate) fn push_retired(&self, index: u64, slot: &Slot<T>, ended_state: u64) -> u64 {
        let mut head = self.meta.retired.load(Ordering::Relaxed);
        loop {
            // ENDED slots are owned by whoever ended them; only the link changes here.
            slot.state
                .store(ended_state | (head & LINK), Ordering::Relaxed);
            let count = (head >> LINK_BITS) + 1;
            // Release publishes the link and the ENDED state to the reclaimer's swap.
            match self.meta.retired.compare_exchange_weak(
                head,
                (count << LINK_BITS) | (index + 1),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return count,
                Err(current) => head = current,
            }
        }
    }

    /// Takes the whole retire list; returns the first index + 1 (0 when empty).
    pub(crate) fn take_retired(&self) -> u64 {
        if self.meta.retired.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        // Acquire pairs with `push_retired`'s Release.
        self.meta.retired.swap(0, Ordering::Acquire) & LINK
    }

    /// Takes the whole retire list if it is unchanged since the last pass that called this
    /// (the same head word: no entry pushed, none taken); otherwise notes the head and takes
    /// nothing. So a shard whose thread keeps ending entries is left to that thread's own
    /// passes, and a shard whose thread went idle is emptied by the second pass of anyone
    /// else. Returns the first index + 1 (0 when nothing was taken).
    ///
    /// The head packs the first index and the count, so an unchanged word is almost always an
    /// unchanged list; a list that was taken and refilled to the same count with the same first
    /// slot is taken one pass early, which is harmless.
    pub(crate) fn take_if_idle(&self) -> u64 {
        let head = self.meta.retired.load(Ordering::Relaxed);
        if head == 0 {
            return 0;
        }
        if self.meta.seen.load(Ordering::Relaxed) == head {
            return self.take_retired();
        }
        self.meta.seen.store(head, Ordering::Relaxed);
        0
    }

    /// Entries on the retire list.
    pub(crate) fn retired_len(&self) -> u64 {
        self.meta.retired.load(Ordering::Relaxed) >> LINK_BITS
    }

    #[inline(always)]
    pub(crate) fn add_live(&self, delta: i64) {
        self.meta.live.fetch_add(delta as u64, Ordering::Relaxed);
    }

    pub(crate) fn live(&self) -> i64 {
        self.meta.live.load(Ordering::Relaxed) as i64
    }

    pub(crate) fn kept(&self) -> u64 {
        self.meta.kept.load(Ordering::Relaxed)
    }

    pub(crate) fn set_kept(&self, kept: u64) {
        self.meta.kept.store(kept, Ordering::Relaxed);
    }

    pub(crate) fn note_exhausted(&self) {
        self.meta.exhausted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn exhausted(&self) -> u64 {
        self.meta.exhausted.load(Ordering::Relaxed)
    }

    /// Indices handed out so far: every index below is a used slot.
    pub(crate) fn used(&self) -> u64 {
        self.meta.next_unused.load(Ordering::Relaxed)
    }

    /// Allocated pages: (page number, pre-offset pointer), in order.
    pub(crate) fn pages(&self) -> impl Iterator<Item = (usize, *mut Slot<T>)> + '_ {
        self.pages
            .iter()
            .enumerate()
            .map(|(p, ptr)| (p, ptr.load(Ordering::Acquire)))
            .filter(|&(p, ptr)| ptr != page::absent::<T>(p))
    }

    /// Every slot ever handed out (every index below `next_unused`), page by page.
    pub(crate) fn used_slots(&self) -> impl Iterator<Item = (u64, &Slot<T>)> + '_ {
        let used = self.used();
        self.pages().flat_map(move |(p, pre)| {
            let start = page::page_start(p);
            let end = (start + page::page_len(p) as u64).min(used);
            (start..end).map(move |index| {
                // SAFETY: the page is installed and never freed while `self` is borrowed, and
                // `index` lies inside it (see `page::alloc`).
                (index, unsafe { &*pre.wrapping_add(index as usize) })
            })
        })
    }

    /// Slots allocated (sum of page lengths).
    pub(crate) fn capacity(&self) -> u64 {
        self.pages().map(|(p, _)| page::page_len(p) as u64).sum()
    }
}

// Shards are 512 bytes, so selecting one is a shift and a mask (see `page.rs`).
#[cfg(not(handles_loom))]
const _: () = assert!(core::mem::size_of::<Shard<u64>>() == 512);

#[cfg(all(test, not(handles_loom)))]
mod tests {
    use super::*;
    use crate::slot::FREE_FOR_TESTS;

    /// The counter wraps within its own bits: a head whose counter is at its maximum still
    /// pushes and pops correctly, and the link is never disturbed by the carry.
    #[test]
    fn aba_counter_wraps_without_touching_the_link() {
        let max = !LINK; // counter all ones
        assert_eq!(next_free_head(max | 5, 7), 7, "wraps to counter 0");
        let shard: Shard<u64> = Shard::new();
        let a = shard.take_unused(true).unwrap();
        let b = shard.take_unused(true).unwrap();
        shard.meta.free.store(max - 2 * ABA_ONE, Ordering::Relaxed); // 3 steps below the wrap
        for _ in 0..4 {
            shard.push_free(a, shard.slot(a).unwrap(), FREE_FOR_TESTS);
            shard.push_free(b, shard.slot(b).unwrap(), FREE_FOR_TESTS);
            assert_eq!(shard.pop_free().map(|(i, _)| i), Some(b));
            assert_eq!(shard.pop_free().map(|(i, _)| i), Some(a));
            assert_eq!(shard.pop_free().map(|(i, _)| i), None);
        }
        assert!(
            shard.meta.free.load(Ordering::Relaxed) >> LINK_BITS < 16,
            "it wrapped"
        );
        for (p, pre) in shard.pages() {
            // SAFETY: the page came from `take_unused`'s `page::alloc(p)`, its slots hold no values
            // (none was written), and nothing borrows them any more.
            unsafe { page::free(p, pre) };
        }
    }

    /// A popper stopped between its load of the head and its CAS must fail however many
    /// pushes and pops happen meanwhile, short of a whole counter period. A 32-bit counter
    /// comes back to the same head after 2^32 operations; ours does not until 2^41.
    #[test]
    fn stale_pop_fails_across_a_32_bit_period() {
        let advance = |head: u64, ops: u64| {
            ((head & !LINK).wrapping_add(ops.wrapping_mul(ABA_ONE))) | (head & LINK)
        };
        let h0 = (12345 * ABA_ONE) | 9;
        for ops in [1, 2, 1 << 20, 1 << 32, (1 << 33) + 1, (1 << 40) + 7] {
            assert_ne!(advance(h0, ops), h0, "{ops} operations revisit the head");
        }
        assert_eq!(advance(h0, 1 << (64 - LINK_BITS)), h0, "the period is 2^41");
        // The same with real operations: the stopped popper's CAS fails after an A-B-A cycle.
        let shard: Shard<u64> = Shard::new();
        let a = shard.take_unused(true).unwrap();
        let b = shard.take_unused(true).unwrap();
        shard.push_free(b, shard.slot(b).unwrap(), FREE_FOR_TESTS);
        shard.push_free(a, shard.slot(a).unwrap(), FREE_FOR_TESTS);
        let stale = shard.meta.free.load(Ordering::Relaxed); // top a, next b
        let stale_next = next_free_head(stale, b + 1);
        let (x, _) = shard.pop_free().unwrap(); // a
        let (y, _) = shard.pop_free().unwrap(); // b, now in use elsewhere
        shard.push_free(x, shard.slot(x).unwrap(), FREE_FOR_TESTS); // a is back on top
        assert_eq!(
            shard.meta.free.load(Ordering::Relaxed) & LINK,
            a + 1,
            "A-B-A"
        );
        assert!(
            shard
                .meta
                .free
                .compare_exchange(stale, stale_next, Ordering::Relaxed, Ordering::Relaxed)
                .is_err(),
            "the stale CAS would hand out b, which is in use"
        );
        let _ = y;
        for (p, pre) in shard.pages() {
            // SAFETY: the shard's pages hold no values, and nothing borrows them any more.
            unsafe { page::free(p, pre) };
        }
    }
}
