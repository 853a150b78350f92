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
//! The heavy barrier per platform (module `os`):
//! * **Linux**: `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` (kernel 4.14+), registered once.
//! * **Windows**: `FlushProcessWriteBuffers` (Vista+): the kernel interrupts every processor
//!   running a thread of this process and has it drain its write buffer and execute a full
//!   barrier before the call returns, which is the same guarantee (it is what .NET's GC and
//!   folly's `asymmetricHeavyBarrier` use on Windows). It needs no registration and cannot fail.
//! * **macOS and every other OS**: no documented equivalent (macOS has no membarrier; the
//!   tricks that force one, such as `mprotect` TLB shootdowns or reading every thread's
//!   registers, rest on undocumented kernel behaviour), so the mode is [`SYMMETRIC`].
//!
//! Where no heavy barrier is available (macOS, other OSes, an old Linux kernel, a seccomp
//! filter), or when `HANDLES_BARRIER=symmetric` is set in the environment, the mode is
//! [`SYMMETRIC`]: `light` becomes a real `SeqCst` fence, `heavy` too. The mode is decided once,
//! before this thread's first hazard is published (thread registration calls [`init`]), and
//! never changes afterwards; the environment is read at that one point, by the first thread
//! that uses the library. Under loom and Miri both barriers are `SeqCst` fences, which is the
//! semantics the asymmetric pair promises, so the models check the protocol that runs here.

use crate::sync::{AtomicU64, Ordering, fence};

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
    let wanted = if !symmetric_forced() && os::register() {
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

/// The environment variable that forces the symmetric fallback (`HANDLES_BARRIER=symmetric`),
/// so it can be tested where the asymmetric barrier exists. Read once, by [`init`].
#[cfg(not(any(handles_loom, miri)))]
pub(crate) const ENV_SWITCH: &str = "HANDLES_BARRIER";

/// Whether [`ENV_SWITCH`] asks for the symmetric fallback.
#[cfg(not(any(handles_loom, miri)))]
fn symmetric_forced() -> bool {
    std::env::var_os(ENV_SWITCH).is_some_and(|v| v == "symmetric")
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

/// Whether this build can have either mode: a target with a heavy barrier (Linux, Windows),
/// outside loom and Miri. Elsewhere the mode is always [`SYMMETRIC`].
const MODE_VARIES: bool = cfg!(all(
    any(target_os = "linux", windows),
    not(any(handles_loom, miri))
));

/// The light barrier of the lookup fast path: a scoped lookup that found the first hazard cell
/// of its thread's record free. Where the mode can vary ([`MODE_VARIES`]), a record claimed
/// while the mode is not [`ASYMMETRIC`] keeps its first cell marked
/// ([`crate::registry::FENCED`], see [`marks_first_cell`]), so a free first cell *is* the
/// proof that the mode is [`ASYMMETRIC`]: a compiler fence, with no load of the mode and no
/// branch. Where the mode cannot vary (macOS, other OSes, loom, Miri), it is [`SYMMETRIC`]
/// and this is a real fence, as [`light`] would be.
#[inline(always)]
pub(crate) fn light_first_cell() {
    if MODE_VARIES {
        core::sync::atomic::compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// Whether a record claimed while the mode is `mode` (as [`init`] returned it) must keep its
/// first hazard cell marked, so that its owner's lookups leave the fast path for the one that
/// runs [`light`]: where the mode can vary and is not [`ASYMMETRIC`].
#[inline]
pub(crate) fn marks_first_cell(mode: u8) -> bool {
    MODE_VARIES && mode != ASYMMETRIC
}

/// The symmetric fallback, out of line so the fence-free path falls through.
#[cfg(not(any(handles_loom, miri)))]
#[cold]
#[inline(never)]
fn full_fence() {
    fence(Ordering::SeqCst);
}

/// A point in the sequence of heavy barriers, taken by [`since`] after the caller's ending
/// stores: [`heavy_since`] waits for a barrier that started after it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Since(#[cfg_attr(any(handles_loom, miri), allow(dead_code))] u64);

/// The process's barrier sequence.
#[cfg(not(any(handles_loom, miri)))]
static SEQ: Sequence = Sequence::new();

/// Heavy barriers (membarrier calls) issued by this process, for stats.
#[cfg(not(any(handles_loom, miri)))]
static ISSUED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The sharing protocol (RCU's expedited-grace-period sequence): twice the number of shared
/// barriers completed, plus one while one is in flight. Only the caller whose CAS made it odd
/// makes it even again. Separate from the process-wide instance so loom can check it.
#[cfg_attr(any(handles_loom, miri), allow(dead_code))]
pub(crate) struct Sequence {
    seq: AtomicU64,
}

#[cfg_attr(any(handles_loom, miri), allow(dead_code))]
impl Sequence {
    crate::sync::const_fn! {
        pub(crate) fn new() -> Sequence {
            Sequence { seq: AtomicU64::new(0) }
        }
    }

    /// The current value, for [`Since`] (after the caller's fence).
    fn snapshot(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// [`Sequence::snapshot`], for the loom model.
    #[cfg(all(test, handles_loom))]
    pub(crate) fn snapshot_for_tests(&self) -> u64 {
        self.snapshot()
    }

    /// Returns once a barrier that started after `since` has completed: one found completed,
    /// one in flight waited for (at most `patience` re-reads), or one run by calling
    /// `issue`, which is shared with every caller that arrives while it runs. Returns whether
    /// this caller issued one.
    pub(crate) fn wait_or_issue(
        &self,
        since: u64,
        mut patience: u32,
        issue: impl FnOnce(),
    ) -> bool {
        // A barrier that *started* after `since` and completed: the first even value at or
        // past `since + 2` if `since` was even (idle), `since + 3` if one was in flight (it
        // may have started before the caller's stores).
        let target = (since + 3) & !1;
        loop {
            // Acquire pairs with the Release that completes a barrier: its membarrier happens
            // before the caller's later loads (the hazard scan).
            let seq = self.seq.load(Ordering::Acquire);
            if seq >= target {
                return false;
            }
            if seq & 1 == 0 {
                // Idle: start one. It starts after `since` (the CAS follows the caller's load
                // of `since` in the counter's order), so it covers the caller.
                if self
                    .seq
                    .compare_exchange(seq, seq + 1, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    issue();
                    self.seq.store(seq + 2, Ordering::Release);
                    return true;
                }
                continue;
            }
            // In flight: it covers us if it started after `since`; otherwise wait for it to
            // finish so that the next one can start. Never wait long on a thread that may be
            // preempted mid-barrier: then run our own, outside the sequence.
            if patience == 0 {
                issue();
                return true;
            }
            patience -= 1;
            crate::sync::spin_hint();
        }
    }
}

/// How often a caller re-reads the sequence while another thread's barrier is in flight
/// before it stops waiting and issues its own.
#[cfg(not(any(handles_loom, miri)))]
const PATIENCE: u32 = 1 << 10;

/// Marks the end of the caller's ending stores: a barrier that starts after this covers them.
///
/// The `SeqCst` fence makes those stores visible to every thread before any barrier that
/// starts later (its starting CAS is ordered after our load of the sequence), which is what
/// lets another thread's barrier stand in for ours.
#[inline]
pub(crate) fn since() -> Since {
    fence(Ordering::SeqCst);
    #[cfg(not(any(handles_loom, miri)))]
    {
        Since(SEQ.snapshot())
    }
    #[cfg(any(handles_loom, miri))]
    Since(0)
}

/// Reclaimer side: after this returns, for every thread, either its stores before its own
/// [`light`] barrier are visible to this thread's later loads, or its loads after that
/// barrier see every store this thread made before `since`.
///
/// One heavy barrier serves every caller whose [`since`] came before it started: a caller
/// that finds such a barrier completed returns at once; one that finds it in flight waits for
/// it (briefly: a few microseconds); otherwise it starts one, which the others then share. So
/// concurrent reclaimers, takers and flushes issue one membarrier between them.
pub(crate) fn heavy_since(since: Since) {
    #[cfg(not(any(handles_loom, miri)))]
    if init() == ASYMMETRIC {
        shared_membarrier(since.0);
        return;
    }
    // Symmetric (and loom, Miri): readers fence themselves, so our own fence completes the
    // store-buffering pair; nothing to share.
    let _ = since;
    fence(Ordering::SeqCst);
}

/// [`heavy_since`] now: covers every store this thread made before the call.
pub(crate) fn heavy() {
    heavy_since(since());
}

#[cfg(not(any(handles_loom, miri)))]
fn shared_membarrier(since: u64) {
    SEQ.wait_or_issue(since, PATIENCE, issue);
}

#[cfg(not(any(handles_loom, miri)))]
fn issue() {
    os::membarrier();
    ISSUED.fetch_add(1, Ordering::Relaxed);
}

/// Heavy barriers (membarrier calls) this process has issued.
pub(crate) fn issued() -> u64 {
    #[cfg(not(any(handles_loom, miri)))]
    {
        ISSUED.load(Ordering::Relaxed)
    }
    #[cfg(any(handles_loom, miri))]
    0
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

#[cfg(all(windows, not(any(handles_loom, miri))))]
mod os {
    // Declared by hand (kernel32, `processthreadsapi.h`) rather than through `windows-sys`:
    // one function with no arguments does not justify a dependency.
    #[link(name = "kernel32")]
    unsafe extern "system" {
        fn FlushProcessWriteBuffers();
    }

    /// Always available (Windows Vista and later), nothing to register.
    pub(super) fn register() -> bool {
        true
    }

    pub(super) fn membarrier() {
        // SAFETY: takes no arguments, touches no memory of ours, cannot fail.
        unsafe { FlushProcessWriteBuffers() }
    }
}

#[cfg(all(not(target_os = "linux"), not(windows), not(any(handles_loom, miri))))]
mod os {
    pub(super) fn register() -> bool {
        false
    }
    pub(super) fn membarrier() {}
}
