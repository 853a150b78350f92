//! The Acquire loads of the lookup path, as RCpc loads (`ldapr`) on aarch64.
//!
//! A scoped lookup loads a page pointer (and, in the C API, the registry's init guard), stores
//! its hazard with Release, loads the slot state with Acquire, and clears the hazard with
//! Release. On aarch64 an Acquire load compiled as `ldar` is *RCsc*: it may not be performed
//! before any earlier `stlr` of the same thread, so `stlr` (hazard store, or the previous
//! lookup's clear) followed by `ldar` waits for the store buffer to drain: the store→load
//! barrier the asymmetric scheme (`barrier.rs`) exists to avoid. `ldapr` (FEAT_LRCPC, Armv8.3)
//! is *RCpc*: it orders every later access after itself exactly like `ldar` but may pass an
//! earlier `stlr` to another address. That is precisely C++/Rust `Acquire`, which is why LLVM
//! lowers `Acquire` loads to `ldapr` wherever the target has the feature.
//!
//! So nothing in the memory model changes here: these are Acquire loads, checked as such by
//! the loom models. The one ordering an `ldapr` drops, store→load against the hazard store, is
//! the one the protocol never asks of an Acquire load: the light/heavy barrier pair supplies
//! it (a compiler fence on the reader plus `membarrier` on the reclaimer, or real fences in
//! the symmetric fallback).
//!
//! How the load is emitted:
//! * a target with `rcpc` enabled at compile time (`aarch64-apple-darwin` by default, or
//!   `-C target-feature=+rcpc`, `-C target-cpu=neoverse-n1`): a plain `Acquire` load, which
//!   LLVM emits as `ldapr`;
//! * other aarch64 targets (`aarch64-unknown-linux-gnu` targets Armv8.0): `ldapr` in inline
//!   assembly when the CPU reports FEAT_LRCPC (checked once, cached in a byte that is read with
//!   a plain load), otherwise an out-of-line `ldar`. Cores without FEAT_LRCPC (Cortex-A53,
//!   A55, A72, A73: Raspberry Pi 3 and 4, Graviton 1) therefore still pay `stlr`→`ldar` on a
//!   lookup; every Armv8.3+ core (Neoverse N1 and later, Graviton 2 and later, Apple) does not;
//! * every other architecture, and loom and Miri: a plain `Acquire` load (`mov` on x86_64).
//!
//! `scripts/aarch64-lookup-asm.sh` checks the result in the disassembly of the lookup entry
//! points.

use crate::sync::{AtomicPtr, AtomicU64, Ordering};

/// `a.load(Acquire)`, RCpc on aarch64 (see the module docs).
#[inline(always)]
pub(crate) fn load_u64(a: &AtomicU64) -> u64 {
    #[cfg(all(
        target_arch = "aarch64",
        not(target_feature = "rcpc"),
        not(any(handles_loom, miri))
    ))]
    {
        if rcpc::available() {
            // SAFETY: `as_ptr` of a live atomic is valid and aligned for an 8-byte atomic
            // load, and the CPU has FEAT_LRCPC (`available`).
            return unsafe { rcpc::ldapr_u64(a.as_ptr()) };
        }
        rcpc::load_u64_slow(a)
    }
    #[cfg(not(all(
        target_arch = "aarch64",
        not(target_feature = "rcpc"),
        not(any(handles_loom, miri))
    )))]
    a.load(Ordering::Acquire)
}

/// `a.load(Acquire)` of a pointer, RCpc on aarch64 (see the module docs).
#[inline(always)]
pub fn load_ptr<T>(a: &AtomicPtr<T>) -> *mut T {
    #[cfg(all(
        target_arch = "aarch64",
        not(target_feature = "rcpc"),
        not(any(handles_loom, miri))
    ))]
    {
        if rcpc::available() {
            // SAFETY: as in `load_u64`: `as_ptr` of a live atomic pointer is valid and aligned
            // for an 8-byte atomic load, and the CPU has FEAT_LRCPC.
            return unsafe { rcpc::ldapr_ptr(a.as_ptr()) };
        }
        rcpc::load_ptr_slow(a)
    }
    #[cfg(not(all(
        target_arch = "aarch64",
        not(target_feature = "rcpc"),
        not(any(handles_loom, miri))
    )))]
    a.load(Ordering::Acquire)
}

#[cfg(all(
    target_arch = "aarch64",
    not(target_feature = "rcpc"),
    not(any(handles_loom, miri))
))]
mod rcpc {
    use super::{AtomicPtr, AtomicU64, Ordering};
    use core::sync::atomic::AtomicU8;

    const UNKNOWN: u8 = 0;
    const YES: u8 = 1;
    const NO: u8 = 2;

    /// Whether the CPU has FEAT_LRCPC: a fact about the machine that publishes nothing, so
    /// every access is `Relaxed` (a plain `ldr`), and racing first users store the same value.
    static RCPC: AtomicU8 = AtomicU8::new(UNKNOWN);

    #[inline(always)]
    pub(super) fn available() -> bool {
        RCPC.load(Ordering::Relaxed) == YES
    }

    /// Decides `RCPC` (std's cached detection: `HWCAP_LRCPC` on Linux).
    fn detect() {
        if RCPC.load(Ordering::Relaxed) == UNKNOWN {
            let yes = std::arch::is_aarch64_feature_detected!("rcpc");
            RCPC.store(if yes { YES } else { NO }, Ordering::Relaxed);
        }
    }

    /// `ldapr` of `p`: its operand and result types, and the function's name.
    macro_rules! ldapr {
        ($name:ident, $ty:ty, $($generics:tt)*) => {
            /// An RCpc acquire load of the value at `p`.
            ///
            /// # Safety
            /// `p` is valid and 8-byte aligned for an atomic load, and the CPU has FEAT_LRCPC.
            #[inline(always)]
            pub(super) unsafe fn $name $($generics)* (p: *const $ty) -> $ty {
                let value: $ty;
                // SAFETY: the caller's contract. No `nomem`/`readonly` option: the block is
                // also a compiler barrier, so no later access moves above this acquire load.
                // The result is read from memory as a Rust load would read it (a pointer keeps
                // the provenance of the pointer stored there).
                unsafe {
                    core::arch::asm!(
                        ".arch_extension rcpc",
                        "ldapr {value}, [{p}]",
                        p = in(reg) p,
                        value = lateout(reg) value,
                        options(nostack, preserves_flags),
                    );
                }
                value
            }
        };
    }
    ldapr!(ldapr_u64, u64,);
    ldapr!(ldapr_ptr, *mut T, <T>);

    /// The first load on this CPU, or a CPU without FEAT_LRCPC: an `ldar`, out of line so the
    /// fast path holds none.
    #[cold]
    #[inline(never)]
    pub(super) fn load_u64_slow(a: &AtomicU64) -> u64 {
        detect();
        a.load(Ordering::Acquire)
    }

    /// [`load_u64_slow`] for a pointer.
    #[cold]
    #[inline(never)]
    pub(super) fn load_ptr_slow<T>(a: &AtomicPtr<T>) -> *mut T {
        detect();
        a.load(Ordering::Acquire)
    }
}
