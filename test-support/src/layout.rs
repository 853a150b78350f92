//! The documented handle layout (`handles/src/handle.rs`, ARCHITECTURE.md):
//! `generation:26 | tag:10 | shard:6 | index:22`, most significant first.
//!
//! Tests and fuzz targets that decode handles or forge them field by field use it;
//! the integration test `semantics::layout_is_as_documented` checks it against real handles.

/// Width of the slot index field.
pub const INDEX_BITS: u32 = 22;
/// Width of the shard field.
pub const SHARD_BITS: u32 = 6;
/// Width of the table tag field.
pub const TAG_BITS: u32 = 10;
/// Width of the generation field.
pub const GEN_BITS: u32 = 26;
/// Position of the shard field.
pub const SHARD_SHIFT: u32 = INDEX_BITS;
/// Position of the tag field.
pub const TAG_SHIFT: u32 = SHARD_SHIFT + SHARD_BITS;
/// Position of the generation field.
pub const GEN_SHIFT: u32 = TAG_SHIFT + TAG_BITS;
/// The largest slot index (the index field's mask).
pub const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
/// The largest shard number (the shard field's mask).
pub const SHARD_MASK: u64 = (1 << SHARD_BITS) - 1;
/// The largest tag (the tag field's mask).
pub const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
/// The largest generation (the generation field's mask).
pub const GEN_MASK: u64 = (1 << GEN_BITS) - 1;

/// Splits a raw handle into (generation, tag, shard, index).
pub fn fields(raw: u64) -> (u64, u64, u64, u64) {
    (
        raw >> GEN_SHIFT,
        (raw >> TAG_SHIFT) & TAG_MASK,
        (raw >> SHARD_SHIFT) & SHARD_MASK,
        raw & INDEX_MASK,
    )
}

/// Builds a raw handle from (generation, tag, shard, index); each field is masked to its width.
pub fn join(generation: u64, tag: u64, shard: u64, index: u64) -> u64 {
    ((generation & GEN_MASK) << GEN_SHIFT)
        | ((tag & TAG_MASK) << TAG_SHIFT)
        | ((shard & SHARD_MASK) << SHARD_SHIFT)
        | (index & INDEX_MASK)
}

/// The tag field of a raw handle: which table issued it.
pub fn tag(raw: u64) -> u64 {
    fields(raw).1
}

/// The shard field of a raw handle: the shard its slot lives in.
pub fn shard(raw: u64) -> u64 {
    fields(raw).2
}
