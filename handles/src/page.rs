//! Page geometry and page memory. Pages never move and are freed only with their table.
//!
//! A shard's slot indices are split into pages that grow geometrically, four pages per
//! doubling: pages 0-3 hold 512 slots each, pages 4-7 1,024 each, pages 8-11 2,048, and so on
//! (the size classes of jemalloc, applied to a slot array). So once a shard has 16,384 slots,
//! each new page adds at most 2/7 of the slots it already has (tending to 1/4): right after
//! growing, at most 2/9 of the shard's slots are unused (doubling pages left up to 1/2 unused
//! at that moment), growth
//! allocates a new page and never copies, and a table with a handful of entries costs one
//! 512-slot page per shard it uses. 45 pages cover a shard, which keeps a shard at 512 bytes
//! (a power of two, so shard selection is a shift and a mask).
//!
//! Every page starts at a multiple of the first pages' length (512), so the page of index `i`
//! is a function of `i >> 9`: `page_of` is a shift and one byte load from a 8 KiB table built at
//! compile time (`PAGE_OF_BLOCK`, shared by every table), two instructions fewer on the lookup
//! path than the exponent of `(i + 2048) as f64` it replaced, with no floating-point unit
//! involved. `page_of_const` is the integer definition the table is built from and checked
//! against.
//!
//! Each shard stores, for page `p`, the page's base address minus `page_start(p)` slots (a
//! "pre-offset" pointer, formed with wrapping arithmetic), so the slot for index `i` is simply
//! `pointer + i`, with no subtraction on the lookup path.
//!
//! **Pages not allocated yet.** For a table whose slots are at most [`ZERO_SLOT_BYTES`] bytes,
//! a page that does not exist yet is not a null pointer but the pre-offset pointer of a
//! read-only stand-in: [`ZEROS`], one static region of zeros as long as the longest page (16
//! MiB of `.bss`, address space only: nothing writes it, and reading it maps the system's
//! shared zero page at most). Every index of such a page then names a slot of the region,
//! whose state word reads 0, "never used", which every check rejects, exactly like an unused
//! slot of an allocated page. So the lookup path needs no null test for the page: one
//! compare and branch fewer. Larger slots keep null for a missing page (the region would have
//! to grow with the slot size), and so does loom. [`absent`] is the pointer a missing page
//! has; [`zero_backed`] says which of the two a slot type gets.
//!
//! A pre-offset pointer points *before* its allocation, so a leak checker (LeakSanitizer,
//! valgrind) scanning memory for pointers would not see pages `p >= 1` as reachable and would
//! report them as leaked from a table that lives until exit, such as the C registry. So each
//! page is allocated with one extra slot after its last, the *link slot*, never handed out,
//! whose state word holds the address of the next page: page 0 (whose pre-offset pointer is its
//! base) reaches page 1, which reaches page 2, and so on.

use crate::handle::INDEX_BITS;
use crate::slot::Slot;

/// log2 of the first pages' length (small under loom, to keep models tiny).
#[cfg(not(handles_loom))]
pub(crate) const PAGE0_SHIFT: u32 = 9;
#[cfg(handles_loom)]
pub(crate) const PAGE0_SHIFT: u32 = 1;

/// log2 of the pages per doubling of a shard's capacity.
const SUB_SHIFT: u32 = 2;

/// Added to an index before its exponent is taken: the first `2^SUB_SHIFT` pages all have the
/// first page's length.
const OFFSET: u64 = 1 << (PAGE0_SHIFT + SUB_SHIFT);

/// Indices a shard can hold: the pages cover `[0, CAPACITY)` (`2^INDEX_BITS`; the last page
/// is cut short to end there).
pub(crate) const CAPACITY: u64 = 1 << INDEX_BITS;

/// Pages per shard: enough to cover `CAPACITY` indices.
pub(crate) const PAGES: usize = page_of_const(CAPACITY - 1) + 1;

/// Slots in the longest page.
#[cfg(not(handles_loom))]
const MAX_PAGE_LEN: usize = {
    let (mut p, mut max) = (0, 0);
    while p < PAGES {
        if page_len(p) > max {
            max = page_len(p);
        }
        p += 1;
    }
    max
};

/// The largest `Slot<T>`, in bytes, whose missing pages point into [`ZEROS`].
pub(crate) const ZERO_SLOT_BYTES: usize = 32;

/// Alignment of [`ZEROS`]: the largest slot alignment it serves.
const ZEROS_ALIGN: usize = 128;

/// The stand-in for every page not allocated yet, of every zero-backed table (see the module
/// docs): as many bytes as the longest page of the largest zero-backed slots. Atomic words
/// (never written) so that it is zero-initialised writable data, placed in `.bss`: an
/// immutable static would be 16 MiB of zeros in the binary's read-only data.
#[cfg(not(handles_loom))]
#[repr(C, align(128))]
struct Zeros([std::sync::atomic::AtomicU64; ZERO_WORDS]);

/// Words of [`ZEROS`]: the longest page of the largest zero-backed slots.
#[cfg(not(handles_loom))]
const ZERO_WORDS: usize = MAX_PAGE_LEN * ZERO_SLOT_BYTES / 8;

#[cfg(not(handles_loom))]
const _: () = assert!(core::mem::align_of::<Zeros>() == ZEROS_ALIGN);

#[cfg(not(handles_loom))]
static ZEROS: Zeros = Zeros([const { std::sync::atomic::AtomicU64::new(0) }; ZERO_WORDS]);

/// The address of [`ZEROS`], taken once at compile time. [`absent`] starts from this pointer
/// instead of taking `&raw const ZEROS` itself: under Miri, every borrow of the static is a
/// retag of all 16 MiB (Stacked Borrows), which made each call slower than the last.
#[cfg(not(handles_loom))]
static ZEROS_BASE: ZerosBase = ZerosBase((&raw const ZEROS).cast());

#[cfg(not(handles_loom))]
struct ZerosBase(*const u8);

// SAFETY: the pointer is only ever offset and compared, and read through as never-written
// zeros (atomic loads of `ZEROS`, which is `Sync`).
#[cfg(not(handles_loom))]
unsafe impl Sync for ZerosBase {}

/// True when every word of [`ZEROS`] is still 0 (for tests: nothing ever writes it).
#[cfg(all(test, not(handles_loom)))]
pub(crate) fn zeros_are_zero() -> bool {
    // Every word natively; under Miri, where each load is slow, every 4,096th.
    let step = if cfg!(miri) { 4096 } else { 1 };
    ZEROS
        .0
        .iter()
        .step_by(step)
        .all(|w| w.load(std::sync::atomic::Ordering::Relaxed) == 0)
}

/// True when the missing pages of a table of `Slot<T>` point into [`ZEROS`] instead of being
/// null: the slot fits the region's stride and alignment (and not under loom, whose atomics
/// cannot live in a zeroed static).
pub(crate) const fn zero_backed<T>() -> bool {
    cfg!(not(handles_loom))
        && core::mem::size_of::<Slot<T>>() <= ZERO_SLOT_BYTES
        && core::mem::align_of::<Slot<T>>() <= ZEROS_ALIGN
}

/// The pre-offset pointer page `p` has while it is not allocated: into [`ZEROS`] for a
/// zero-backed slot type, so that index `i` of page `p` gives the region's slot
/// `i - page_start(p)` (less than `page_len(p)`, so inside the region); null otherwise. Never
/// the pointer of an allocated page, since an allocation cannot overlap the static.
pub(crate) const fn absent<T>(p: usize) -> *mut Slot<T> {
    #[cfg(not(handles_loom))]
    if zero_backed::<T>() {
        return ZEROS_BASE
            .0
            .cast::<Slot<T>>()
            .cast_mut()
            .wrapping_sub(page_start(p) as usize);
    }
    let _ = p;
    core::ptr::null_mut()
}

/// Pages start at multiples of the first pages' length, so `i >> PAGE0_SHIFT` (a *block*)
/// determines the page: [`PAGE_OF_BLOCK`] maps every block to its page.
#[cfg(not(handles_loom))]
const BLOCKS: usize = (CAPACITY >> PAGE0_SHIFT) as usize;

/// The page of every block of `2^PAGE0_SHIFT` indices (8 KiB, shared by every table): a shift
/// and one byte load on the lookup path, two instructions fewer than the float form, with no
/// floating-point unit involved. Built at compile time from [`page_of_const`].
#[cfg(not(handles_loom))]
static PAGE_OF_BLOCK: [u8; BLOCKS] = {
    let mut table = [0u8; BLOCKS];
    let mut b = 0;
    while b < BLOCKS {
        table[b] = page_of_const((b as u64) << PAGE0_SHIFT) as u8;
        b += 1;
    }
    table
};
const _: () = assert!(PAGES <= 256, "a page number must fit the table's bytes");

/// The page holding index `i` (< `CAPACITY`).
#[cfg(not(handles_loom))]
#[inline(always)]
pub(crate) fn page_of(i: u64) -> usize {
    // Callers pass masked handle indices; the mask is free after theirs.
    let i = i & (CAPACITY - 1);
    let p = PAGE_OF_BLOCK[(i >> PAGE0_SHIFT) as usize] as usize;
    // SAFETY: every entry is `page_of_const` of an index below `CAPACITY` (the blocks' first
    // indices; a page starts at a block boundary, so every index of a block is in its first
    // index's page), which is at most `PAGES - 1`. The hint spares lookups a bounds check the
    // compiler cannot see through the table.
    unsafe { core::hint::assert_unchecked(p < PAGES) };
    p
}

/// The page holding index `i` (< `CAPACITY`), under loom: the integer form (loom's tiny first
/// pages would make [`PAGE_OF_BLOCK`] 2 million entries long).
#[cfg(handles_loom)]
#[inline(always)]
pub(crate) fn page_of(i: u64) -> usize {
    page_of_const(i & (CAPACITY - 1))
}

/// The page of index `i` with integer operations: the exponent and the top two bits below the
/// leading one of `i + 2048` (2048 = 4 pages of 512, so the first four pages form an octave of
/// their own). For constants, for building [`PAGE_OF_BLOCK`] and for checking `page_of`.
const fn page_of_const(i: u64) -> usize {
    let v = i + OFFSET;
    let e = v.ilog2();
    let m = (v >> (e - SUB_SHIFT)) & ((1 << SUB_SHIFT) - 1);
    (((e - PAGE0_SHIFT - SUB_SHIFT) << SUB_SHIFT) as u64 + m) as usize
}

/// First index held by page `p`.
#[inline]
pub(crate) const fn page_start(p: usize) -> u64 {
    let e = (p >> SUB_SHIFT) as u32 + PAGE0_SHIFT + SUB_SHIFT;
    let m = (p & ((1 << SUB_SHIFT) - 1)) as u64;
    (((1 << SUB_SHIFT) + m) << (e - SUB_SHIFT)) - OFFSET
}

/// Number of slots in page `p` (the last page ends at `CAPACITY`).
#[inline]
pub(crate) const fn page_len(p: usize) -> usize {
    let e = (p >> SUB_SHIFT) as u32 + PAGE0_SHIFT + SUB_SHIFT;
    let full = 1u64 << (e - SUB_SHIFT);
    let rest = CAPACITY - page_start(p);
    (if full < rest { full } else { rest }) as usize
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
        assert_eq!(next, CAPACITY);
        assert_eq!(page_of(CAPACITY - 1), PAGES - 1);
    }

    /// The table form agrees with the integer form on every index.
    #[test]
    #[cfg_attr(miri, ignore)] // 4 million indices
    fn page_of_matches_the_integer_form() {
        for i in 0..CAPACITY {
            assert_eq!(page_of(i), page_of_const(i), "index {i}");
        }
    }

    /// Once a shard has 16,384 slots, each page adds at most 2/7 of the slots before it, so
    /// right after growing at most 2/9 of the slots are unused; the first pages add at most
    /// as many as there are.
    #[test]
    fn growth_adds_at_most_two_sevenths() {
        for p in 1..PAGES {
            let (before, len) = (page_start(p), page_len(p) as u64);
            assert!(len <= before, "page {p}");
            if before >= 16_384 {
                assert!(len * 7 <= before * 2, "page {p}: {len} after {before}");
            }
        }
    }

    /// A missing page's pointer gives, for every index of the page, a slot inside the zero
    /// region (zero-backed slot types) or stays null.
    #[test]
    #[cfg(not(handles_loom))]
    fn missing_pages_point_into_the_zero_region() {
        let base = (&raw const ZEROS).addr();
        let end = base + core::mem::size_of::<Zeros>();
        for p in 0..PAGES {
            let pre = absent::<u64>(p);
            for i in [page_start(p), page_start(p) + page_len(p) as u64 - 1] {
                let slot = pre.wrapping_add(i as usize).addr();
                assert!(base <= slot && slot + core::mem::size_of::<Slot<u64>>() <= end);
            }
            // The widest zero-backed slot type, over the longest page.
            type Widest = [u8; ZERO_SLOT_BYTES - 8];
            const { assert!(zero_backed::<Widest>() && !zero_backed::<[u8; ZERO_SLOT_BYTES]>()) };
            let last = absent::<Widest>(p).wrapping_add((page_start(p) as usize) + page_len(p) - 1);
            assert!(last.addr() + core::mem::size_of::<Slot<Widest>>() <= end);
            assert!(absent::<[u8; 64]>(p).is_null());
        }
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
