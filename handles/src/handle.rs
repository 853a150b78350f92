//! The handle: a `u64` whose bit fields locate a slot with pure arithmetic.
//!
//! ```text
//!  63                     38 37       28 27    22 21                  0
//! +-------------------------+-----------+--------+---------------------+
//! |   generation (26 bits)  | tag (10)  |shard(6)|   index (22 bits)   |
//! +-------------------------+-----------+--------+---------------------+
//! ```
//!
//! * `index` is the slot's position inside its shard (4,194,304 slots per shard).
//! * `shard` picks one of 64 shards: no hashing, no lock, just a shift and a mask.
//! * `tag` identifies the table that issued the handle (1..=1023; never 0, so a handle is never
//!   0). A handle from another table fails the tag check with [`Error::WrongTable`].
//! * `generation` counts how many times the slot has been reused. A slot whose generation
//!   would wrap is exhausted forever, so a handle value is never issued twice by one table.
//!
//! The top 36 bits (`tag` and `generation`) sit at the same positions as in a slot's state word,
//! so one XOR and one mask compare a handle against the slot's current occupant.
//!
//! [`Error::WrongTable`]: crate::Error::WrongTable

use core::fmt;
use core::num::NonZeroU64;

pub(crate) const INDEX_BITS: u32 = 22;
pub(crate) const SHARD_BITS: u32 = 6;
pub(crate) const TAG_BITS: u32 = 10;
pub(crate) const GEN_BITS: u32 = 26;

pub(crate) const SHARD_SHIFT: u32 = INDEX_BITS;
pub(crate) const TAG_SHIFT: u32 = SHARD_SHIFT + SHARD_BITS;
pub(crate) const GEN_SHIFT: u32 = TAG_SHIFT + TAG_BITS;
const _: () = assert!(GEN_SHIFT + GEN_BITS == 64);

pub(crate) const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
pub(crate) const SHARD_MASK: u64 = (1 << SHARD_BITS) - 1;
pub(crate) const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
/// The bits that identify an occupant: tag and generation.
pub(crate) const IDENTITY_MASK: u64 = !((1 << TAG_SHIFT) - 1);

/// Number of shards in every table (2 under loom, to keep models small; the layout is the same).
#[cfg(not(handles_loom))]
pub(crate) const SHARDS: usize = 1 << SHARD_BITS;
#[cfg(handles_loom)]
pub(crate) const SHARDS: usize = 2;
/// Slots per shard.
pub(crate) const SHARD_CAPACITY: u64 = 1 << INDEX_BITS;
/// Largest generation a slot can reach.
pub(crate) const MAX_GENERATION: u32 = (1 << GEN_BITS) - 1;
/// Largest table tag; tags are `1..=MAX_TAG`.
pub(crate) const MAX_TAG: u32 = (1 << TAG_BITS) - 1;

/// An opaque reference to an entry of a [`HandleTable`](crate::HandleTable).
///
/// A handle is a non-zero `u64`, so C code can store it as `uint64_t` and use 0 for "none", or
/// pass it through a `void *` on 64-bit targets. It is `Copy`: copying a handle does not add a
/// reference; the table counts references only through `retain` and `release`.
///
/// ```
/// use ffi_handles::{Handle, HandleTable};
///
/// let table = HandleTable::new();
/// let h = table.insert("hello");
/// let raw: u64 = h.into_raw();
/// assert_ne!(raw, 0);
/// assert_eq!(Handle::from_raw(raw), Some(h));
/// assert_eq!(Handle::from_raw(0), None);
/// println!("{h}"); // 0x... (hex)
/// ```
///
/// # In `extern "C"` signatures
///
/// `Handle` is `#[repr(transparent)]` over `NonZeroU64`, so `Handle` and `Option<Handle>` have
/// the size, alignment and calling convention of a `u64`, and `Option<Handle>` maps 0 to
/// `None` (every `u64` is a valid `Option<Handle>`). An `extern "C"` function can take and
/// return them where C sees `uint64_t`: 0 arrives as `None`, no conversion needed.
///
/// ```
/// use ffi_handles::{Handle, HandleTable};
///
/// static NAMES: HandleTable<String> = HandleTable::new();
///
/// #[unsafe(no_mangle)]
/// pub extern "C" fn name_new() -> Handle {
///     NAMES.insert("ada".to_string())
/// }
///
/// /// `uint64_t` in C; -1 for 0 and for every bad handle.
/// #[unsafe(no_mangle)]
/// pub extern "C" fn name_len(h: Option<Handle>) -> i64 {
///     h.and_then(|h| NAMES.with(h, |s| s.len() as i64).ok()).unwrap_or(-1)
/// }
///
/// assert_eq!(size_of::<Option<Handle>>(), size_of::<u64>());
/// assert_eq!(name_len(Some(name_new())), 3);
/// assert_eq!(name_len(None), -1);
/// ```
///
/// # Names
///
/// `into_raw` / `from_raw` convert to and from the form that crosses the FFI boundary, as
/// `Box::into_raw` and `RawFd` do; since `Handle` is `Copy`, `into_raw` consumes nothing and
/// transfers nothing: an entry is owned through its reference count (`retain` / `release`),
/// never through a `Handle` value. `from_raw` is safe, because a forged value is an error when
/// used, never memory unsafety.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Handle(NonZeroU64);

/// The shard field of a raw handle value (0 included).
#[inline(always)]
pub(crate) fn shard_of(raw: u64) -> usize {
    ((raw >> SHARD_SHIFT) & SHARD_MASK) as usize & (SHARDS - 1)
}

/// The index field of a raw handle value (0 included).
#[inline(always)]
pub(crate) fn index_of(raw: u64) -> u64 {
    raw & INDEX_MASK
}

impl Handle {
    /// Builds a handle from an occupant identity (tag and generation bits), shard and index.
    #[inline(always)]
    pub(crate) fn from_parts(identity: u64, shard: usize, index: u64) -> Handle {
        debug_assert!(identity & !IDENTITY_MASK == 0 && (identity >> TAG_SHIFT) & TAG_MASK != 0);
        let raw = identity | ((shard as u64) << SHARD_SHIFT) | index;
        match NonZeroU64::new(raw) {
            Some(nz) => Handle(nz),
            // The tag field is never 0, so neither is the handle.
            None => unreachable!("handle with a zero tag"),
        }
    }

    /// The handle as a plain `u64`, never 0.
    #[must_use]
    #[inline(always)]
    pub const fn into_raw(self) -> u64 {
        self.0.get()
    }

    /// Reinterprets a `u64` as a handle; `None` for 0. Any other value is accepted here and
    /// checked by the table when used: a forged value yields an error, never another entry.
    #[must_use]
    #[inline(always)]
    pub const fn from_raw(raw: u64) -> Option<Handle> {
        match NonZeroU64::new(raw) {
            Some(nz) => Some(Handle(nz)),
            None => None,
        }
    }

    /// The handle as a `void *`, for C APIs that carry `user_data` pointers. The pointer is
    /// never dereferenced; it is only a carrier for the 64 bits.
    ///
    /// ```
    /// # use ffi_handles::{Handle, HandleTable};
    /// let table = HandleTable::new();
    /// let h = table.insert(7u8);
    /// let user_data: *mut core::ffi::c_void = h.into_ptr();
    /// assert_eq!(Handle::from_ptr(user_data), Some(h));
    /// ```
    #[cfg(target_pointer_width = "64")]
    #[must_use]
    #[inline(always)]
    pub fn into_ptr(self) -> *mut core::ffi::c_void {
        core::ptr::without_provenance_mut(self.into_raw() as usize)
    }

    /// Recovers a handle from a `void *` made by [`Handle::into_ptr`]; `None` for NULL.
    #[cfg(target_pointer_width = "64")]
    #[must_use]
    #[inline(always)]
    pub fn from_ptr(ptr: *const core::ffi::c_void) -> Option<Handle> {
        Handle::from_raw(ptr.addr() as u64)
    }

    #[inline(always)]
    pub(crate) fn shard(self) -> usize {
        shard_of(self.into_raw())
    }

    #[inline(always)]
    pub(crate) fn index(self) -> u64 {
        index_of(self.into_raw())
    }

    #[inline(always)]
    pub(crate) fn tag(self) -> u32 {
        ((self.into_raw() >> TAG_SHIFT) & TAG_MASK) as u32
    }

    #[inline(always)]
    pub(crate) fn generation(self) -> u32 {
        (self.into_raw() >> GEN_SHIFT) as u32
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#018x}", self.into_raw())
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Handle({:#018x}: tag {}, shard {}, index {}, generation {})",
            self.into_raw(),
            self.tag(),
            self.shard(),
            self.index(),
            self.generation()
        )
    }
}

impl fmt::LowerHex for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.into_raw(), f)
    }
}

impl From<Handle> for u64 {
    fn from(h: Handle) -> u64 {
        h.into_raw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let identity = (5u64 << GEN_SHIFT) | (3u64 << TAG_SHIFT);
        let h = Handle::from_parts(identity, 63, INDEX_MASK);
        assert_eq!(h.generation(), 5);
        assert_eq!(h.tag(), 3);
        assert_eq!(h.shard(), 63);
        assert_eq!(h.index(), INDEX_MASK);
        assert!(format!("{h:?}").contains("shard 63"));
        assert_eq!(format!("{h}"), format!("{:#018x}", h.into_raw()));
    }

    #[test]
    fn zero_is_none() {
        assert_eq!(Handle::from_raw(0), None);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(Handle::from_ptr(core::ptr::null()), None);
    }
}
