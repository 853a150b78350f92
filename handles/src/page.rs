//! Page geometry and page memory. Pages never move and are freed only with their table.
//!
//! A shard's slot indices are split into pages of doubling size: page 0 holds indices
//! `[0, 256)`, page `p >= 1` holds `[256 << (p-1), 256 << p)`. So `page_of(i)` is a shift, an
//! OR and a bit scan, growth allocates a new page and never copies, and a table with a handful
//! of entries costs one 256-slot page per shard it uses. 15 pages cover a shard, which keeps a
//! shard at 256 bytes (a power of two, so shard selection is a shift and a mask).
//!
//! Each shard stores, for page `p`, the page's base address minus `page_start(p)` slots (a
//! "pre-offset" pointer, formed with wrapping arithmetic), so the slot for index `i` is simply
//! `pointer + i`, with no subtraction on the lookup path.
//!
//! A pre-offset pointer points *before* its allocation, so a leak checker (LeakSanitizer,
//! valgrind) scanning memory for pointers would not see pages `p >= 1` as reachable and would
//! report them as leaked from a table that lives until exit, such as the C registry. So each
//! page is allocated with one extra slot after its last, the *link slot*, never handed out,
//! whose state word holds the address of the next page: page 0 (whose pre-offset pointer is its
//! base) reaches page 1, which reaches page 2, and so on.

use crate::handle::INDEX_BITS;
use crate::slot::Slot;

/// log2 of the first page's length (small under loom, to keep models tiny).
#[cfg(not(handles_loom))]
pub(crate) const PAGE0_SHIFT: u32 = 8;
#[cfg(handles_loom)]
pub(crate) const PAGE0_SHIFT: u32 = 1;

/// Pages per shard: enough to cover `2^INDEX_BITS` indices.
pub(crate) const PAGES: usize = (INDEX_BITS - PAGE0_SHIFT + 1) as usize;

/// The page holding index `i`.
#[inline(always)]
pub(crate) fn page_of(i: u64) -> usize {
    // Page p >= 1 holds i with (i >> (PAGE0_SHIFT - 1)) in [2^p, 2^(p+1)); page 0 gives 0 or 1,
    // and `| 1` makes both 1. The operand is never 0, so this is a single `bsr`.
    ((i >> (PAGE0_SHIFT - 1)) | 1).ilog2() as usize
}

/// First index held by page `p`.
#[inline]
pub(crate) fn page_start(p: usize) -> u64 {
    if p == 0 {
        0
    } else {
        1 << (PAGE0_SHIFT as usize + p - 1)
    }
}

/// Number of slots in page `p`.
#[inline]
pub(crate) fn page_len(p: usize) -> usize {
    if p == 0 {
        1 << PAGE0_SHIFT
    } else {
        1 << (PAGE0_SHIFT as usize + p - 1)
    }
}

/// Allocates page `p`, every slot in the never-used state, and returns its pre-offset pointer
/// (never null).
pub(crate) fn alloc<T>(p: usize) -> *mut Slot<T> {
    let len = page_len(p) + 1; // + the link slot
    let base = alloc_slots::<T>(len);
    let pre = base.wrapping_sub(page_start(p) as usize);
    if pre.is_null() {
        // Only if the allocator returned exactly `page_start(p) * size_of::<Slot<T>>()`, an
        // address in the never-mapped first pages. Keep "null = no page" unambiguous anyway.
        let again = alloc::<T>(p);
        // SAFETY: `base` came from `alloc_slots(len)` and was never published.
        unsafe { free_slots(base, len) };
        return again;
    }
    pre
}

/// Frees page `p` given its pre-offset pointer.
///
/// # Safety
/// `pre` came from [`alloc`] for the same `p` and `T`; no reference into the page remains, and
/// every value in it has already been dropped or moved out.
pub(crate) unsafe fn free<T>(p: usize, pre: *mut Slot<T>) {
    let base = pre.wrapping_add(page_start(p) as usize);
    // SAFETY: forwarded from the caller's contract; `alloc` allocated the link slot too.
    unsafe { free_slots(base, page_len(p) + 1) }
}

/// Records page `p`'s address in the link slot of page `p - 1`, for leak checkers (see the
/// module docs). Nothing in the table reads it.
///
/// # Safety
/// `prev` is page `p - 1`'s pre-offset pointer from [`alloc`], not yet freed; `pre` is page
/// `p`'s.
#[cfg(not(handles_loom))]
pub(crate) unsafe fn link<T>(prev: *mut Slot<T>, p: usize, pre: *mut Slot<T>) {
    debug_assert!(p >= 1);
    // Page p - 1 ends where page p starts, so its link slot has index `page_start(p)`.
    let link = prev.wrapping_add(page_start(p) as usize);
    let base = pre.wrapping_add(page_start(p) as usize);
    // SAFETY: the caller's contract: the link slot lies inside page p - 1's live allocation
    // (allocated with `page_len + 1` slots), zero-initialised, and no index maps to it.
    unsafe {
        (*link)
            .state
            .store(base.addr() as u64, core::sync::atomic::Ordering::Relaxed)
    };
}

#[cfg(not(handles_loom))]
fn alloc_slots<T>(len: usize) -> *mut Slot<T> {
    let layout = std::alloc::Layout::array::<Slot<T>>(len).expect("page size overflows");
    // SAFETY: the layout has non-zero size (a slot holds at least its 8-byte state word).
    let base = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<Slot<T>>();
    if base.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // All-zero bytes are a valid `Slot<T>` in the never-used state: the state word is an
    // atomic 0 and the value cell is `MaybeUninit`, valid for any bytes.
    base
}

#[cfg(not(handles_loom))]
unsafe fn free_slots<T>(base: *mut Slot<T>, len: usize) {
    let layout = std::alloc::Layout::array::<Slot<T>>(len).expect("page size overflows");
    // SAFETY: `base` was allocated by `alloc_slots` with this same layout (caller's contract).
    unsafe { std::alloc::dealloc(base.cast(), layout) }
}

#[cfg(handles_loom)]
fn alloc_slots<T>(len: usize) -> *mut Slot<T> {
    // Loom atomics must be constructed, not zeroed.
    let page: Box<[Slot<T>]> = (0..len).map(|_| Slot::new()).collect();
    Box::into_raw(page).cast::<Slot<T>>()
}

#[cfg(handles_loom)]
unsafe fn free_slots<T>(base: *mut Slot<T>, len: usize) {
    // SAFETY: `base` came from `Box::into_raw` of a boxed slice of `len` slots.
    drop(unsafe { Box::from_raw(core::ptr::slice_from_raw_parts_mut(base, len)) });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_is_contiguous() {
        let mut next = 0;
        for p in 0..PAGES {
            assert_eq!(page_start(p), next);
            for i in [page_start(p), page_start(p) + page_len(p) as u64 - 1] {
                assert_eq!(page_of(i), p, "index {i}");
            }
            next += page_len(p) as u64;
        }
        assert!(next >= 1 << INDEX_BITS);
        assert_eq!(page_of((1 << INDEX_BITS) - 1), PAGES - 1);
    }

    #[test]
    fn pre_offset_pointers_round_trip() {
        for p in [0, 1, 3] {
            let pre = alloc::<u64>(p);
            assert!(!pre.is_null());
            // SAFETY: freshly allocated page `p`, nothing inside.
            unsafe { free(p, pre) };
        }
    }
}
