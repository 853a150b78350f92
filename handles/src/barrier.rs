//! Asymmetric memory barriers: a free one for readers, an expensive one for reclaimers.
//!
//! A scoped lookup publishes a hazard (a store to its own thread record) and then loads the
//! slot's state. A reclaimer ends an entry (a store to the slot) and then loads every hazard.
//! This is the store-buffering pattern: without a store→load barrier on *both* sides, each side
//! can miss the other's store and the reclaimer could drop a value the reader is about to use.
//!
//! Putting a full fence on the reader side would cost ~20-30 cycles on every lookup. Instead,
//! readers issue only a compiler fence ([`light`]) and the rare reclaimer calls [`heavy`], which
//! runs Linux `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`: the kernel makes every running
//! thread of this process execute a full memory barrier before the call returns. A pair
//! (`light`, `heavy`) thus orders like a pair of `SeqCst` fences (the liburcu / folly scheme).
//!
//! Where membarrier is unavailable (not Linux, an old kernel, a seccomp filter), the mode is
//! [`SYMMETRIC`]: `light` becomes a real `SeqCst` fence, `heavy` too. The mode is decided once,
//! before this thread's first hazard is published (thread registration calls [`init`]), and
//! never changes afterwards. Under loom and Miri both barriers are `SeqCst` fences, which is the
//! semantics the asymmetric pair promises, so the models check the protocol that runs here.

use crate::sync::{Ordering, fence};

/// Barrier mode not decided yet; readers fence (always safe).
#[cfg_attr(any(handles_loom, miri), allow(dead_code))]
const UNKNOWN: u8 = 0;
/// membarrier works: readers use a compiler fence only.
#[cfg_attr(any(handles_loom, miri), allow(dead_code))]
const ASYMMETRIC: u8 = 1;
/// No membarrier: both sides fence.
const SYMMETRIC: u8 = 2;

// The mode is written once from UNKNOWN to its final value and publishes nothing else, so it is
// a plain std atomic read with `Relaxed` (not part of any loom model: loom builds never use it).
#[cfg(not(any(handles_loom, miri)))]
static MODE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(UNKNOWN);

/// Decides the barrier mode (idempotent, lock-free; concurrent callers agree on one result).
#[cfg(not(any(handles_loom, miri)))]
pub(crate) fn init() -> u8 {
    let mode = MODE.load(Ordering::Relaxed);
    if mode != UNKNOWN {
        return mode;
    }
    // Registration is idempotent in the kernel, so racing first users may all register; the
    // CAS makes them agree on the mode, and every one of them gets the final value.
    let wanted = if os::register() {
        ASYMMETRIC
    } else {
        SYMMETRIC
    };
    match MODE.compare_exchange(UNKNOWN, wanted, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => wanted,
        Err(existing) => existing,
    }
}

#[cfg(any(handles_loom, miri))]
pub(crate) fn init() -> u8 {
    SYMMETRIC
}

/// Reader side: orders this thread's earlier stores before its later loads, cheaply.
#[inline(always)]
pub(crate) fn light() {
    #[cfg(not(any(handles_loom, miri)))]
    {
        // Relaxed is enough: MODE only ever moves from UNKNOWN to a final value. A reader that
        // sees ASYMMETRIC knows every reclaimer will see it too (they call `init`, which returns
        // the final value) and will therefore run membarrier.
        if MODE.load(Ordering::Relaxed) == ASYMMETRIC {
            core::sync::atomic::compiler_fence(Ordering::SeqCst);
        } else {
            full_fence();
        }
    }
    #[cfg(any(handles_loom, miri))]
    fence(Ordering::SeqCst);
}

/// The symmetric fallback, out of line so the fence-free path falls through.
#[cfg(not(any(handles_loom, miri)))]
#[cold]
#[inline(never)]
fn full_fence() {
    fence(Ordering::SeqCst);
}

/// Reclaimer side: after this returns, every store that any thread made before its own
/// [`light`] barrier is visible to this thread's later loads, or that thread's loads after its
/// barrier see this thread's stores made before this call.
pub(crate) fn heavy() {
    fence(Ordering::SeqCst);
    #[cfg(not(any(handles_loom, miri)))]
    if init() == ASYMMETRIC {
        os::membarrier();
    }
}

/// Whether readers run fence-free (for stats and tests).
pub(crate) fn is_asymmetric() -> bool {
    init() == ASYMMETRIC
}

#[cfg(all(target_os = "linux", not(any(handles_loom, miri))))]
mod os {
    const MEMBARRIER_CMD_GLOBAL: libc::c_long = 1;
    const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    fn membarrier_call(cmd: libc::c_long) -> bool {
        // SAFETY: membarrier takes two integer arguments and touches no user memory.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                cmd,
                0 as libc::c_long,
                0 as libc::c_long,
            ) == 0
        }
    }

    pub(super) fn register() -> bool {
        membarrier_call(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)
            && membarrier_call(MEMBARRIER_CMD_PRIVATE_EXPEDITED)
    }

    pub(super) fn membarrier() {
        if membarrier_call(MEMBARRIER_CMD_PRIVATE_EXPEDITED) {
            return;
        }
        // A forked child may have lost its registration: register again and retry.
        if register() {
            return;
        }
        // The slow global barrier needs no registration.
        if membarrier_call(MEMBARRIER_CMD_GLOBAL) {
            return;
        }
        // Readers already skip their fences, so continuing would risk use-after-free.
        eprintln!("handles: membarrier stopped working; aborting to stay memory-safe");
        std::process::abort();
    }
}

#[cfg(all(not(target_os = "linux"), not(any(handles_loom, miri))))]
mod os {
    pub(super) fn register() -> bool {
        false
    }
    pub(super) fn membarrier() {}
}
