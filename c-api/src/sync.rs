//! The one place that chooses between `std` and `loom` atomics for the C API's own protocol
//! (the init guard). `RUSTFLAGS="--cfg handles_loom"` swaps them for loom's model-checked versions.

#[cfg(handles_loom)]
pub(crate) use loom::sync::atomic::AtomicPtr;
#[cfg(not(handles_loom))]
pub(crate) use std::sync::atomic::AtomicPtr;

pub(crate) use std::sync::atomic::Ordering;
