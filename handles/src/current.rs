//! The calling thread's record pointer: one thread-local word, read on every scoped lookup.
//!
//! It holds the thread's registered record, or [`UNREGISTERED`] before registration and after
//! the thread's exit hook ran. It has no destructor and needs no lazy initialisation, so it can
//! be read at any time: during thread-local teardown, in a signal handler, in a forked child.
//! Its address tells threads apart ([`address`]: the owner token of `global.rs`).
//!
//! **Why not only `thread_local!`.** Code compiled as position-independent (every shared
//! library, and every static library, since it may end up in one) reaches a `thread_local!`
//! through the *general-dynamic* TLS model: a call to `__tls_get_addr` (x86_64) or a TLS
//! descriptor call (aarch64) on every lookup. Besides its own instructions, that call clobbers
//! every caller-saved register, so an `extern "C"` entry point doing a lookup saves and
//! restores callee-saved registers around it (rustc picks the model before the linker could
//! relax it, so a static library linked into a program pays the saves too). On Linux with
//! glibc, x86_64 and aarch64, this module therefore declares the word in assembly and reaches
//! it with the *initial-exec* model: its offset from the thread pointer comes from the GOT
//! (constant per process: hoisted out of loops), then one load relative to the thread pointer.
//! No call, no clobbered registers; in a program the linker relaxes the GOT load to an
//! immediate. The cost of initial-exec in a shared library is 8 bytes of glibc's static TLS
//! surplus, which `dlopen` of the library then needs (glibc reserves surplus for exactly such
//! libraries). Elsewhere (other OSes and C libraries, Miri) it is a `thread_local!`.
//!
//! The symbol's name is the mangled name of the [`UNREGISTERED`] static with a suffix, so two
//! builds of this crate in one process (two libraries that each link it) never share it.

use crate::registry::Record;

/// What the word holds before registration and after the exit hook: a record whose first
/// hazard cell is permanently non-zero. The lookup fast path tests that cell anyway (is it
/// free?), so an unregistered thread lands on the slow path without a separate null check. It
/// is not in the registry list, so reclaimers never see it.
pub(crate) static UNREGISTERED: Record = Record::sentinel();

#[cfg(all(
    target_os = "linux",
    target_env = "gnu",
    any(target_arch = "x86_64", target_arch = "aarch64"),
    not(miri)
))]
mod imp {
    use super::{Record, UNREGISTERED};

    // The word: 8 bytes of `.tdata` (the per-thread initialisation image) holding the address
    // of UNREGISTERED, so every new thread starts unregistered; a global but hidden symbol, so
    // accesses inlined into other crates (the same link) resolve it, and nothing outside the
    // shared library or program can. Name: UNREGISTERED's mangled name, suffixed.
    core::arch::global_asm!(
        ".pushsection .tdata.{anchor}_current,\"awT\",%progbits",
        ".p2align 3",
        ".globl {anchor}_current",
        ".hidden {anchor}_current",
        ".type {anchor}_current, %tls_object",
        ".size {anchor}_current, 8",
        "{anchor}_current:",
        ".quad {anchor}",
        ".popsection",
        anchor = sym UNREGISTERED,
    );

    /// The word's offset from the thread pointer (initial-exec: from the GOT). Constant for
    /// the life of the process, hence `pure, nomem`: the compiler may hoist it out of loops.
    #[inline(always)]
    fn offset() -> usize {
        let off: usize;
        // SAFETY: loads the GOT entry the linker creates for the symbol's TLS offset; touches
        // no Rust-visible memory.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            core::arch::asm!(
                "mov {off}, qword ptr [rip + {anchor}_current@GOTTPOFF]",
                off = out(reg) off,
                anchor = sym UNREGISTERED,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        // SAFETY: as above (adrp/ldr of the GOT entry of the symbol's TLS offset).
        #[cfg(target_arch = "aarch64")]
        unsafe {
            core::arch::asm!(
                "adrp {off}, :gottprel:{anchor}_current",
                "ldr {off}, [{off}, #:gottprel_lo12:{anchor}_current]",
                off = out(reg) off,
                anchor = sym UNREGISTERED,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        off
    }

    /// The thread pointer: the address the TLS offsets are relative to.
    #[inline(always)]
    fn thread_pointer() -> usize {
        let tp: usize;
        // SAFETY: reads the thread pointer (x86_64: the TCB's self pointer at fs:0, which the
        // ABI guarantees; aarch64: TPIDR_EL0); no Rust-visible memory.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            core::arch::asm!(
                "mov {tp}, qword ptr fs:[0]",
                tp = out(reg) tp,
                options(pure, readonly, nostack, preserves_flags),
            );
        }
        // SAFETY: as above.
        #[cfg(target_arch = "aarch64")]
        unsafe {
            core::arch::asm!(
                "mrs {tp}, tpidr_el0",
                tp = out(reg) tp,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        tp
    }

    /// The word's address in the calling thread.
    #[inline(always)]
    pub(crate) fn address() -> usize {
        thread_pointer().wrapping_add(offset())
    }

    /// The word's value.
    #[inline(always)]
    pub(crate) fn get() -> *const Record {
        let value: *const Record;
        // SAFETY: `offset` is this thread's word relative to the thread pointer, a valid,
        // aligned 8-byte location for the life of the thread, written only by this thread
        // (through `set`), so a plain load reads its latest value.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            core::arch::asm!(
                "mov {value}, qword ptr fs:[{off}]",
                off = in(reg) offset(),
                value = lateout(reg) value,
                options(readonly, nostack, preserves_flags),
            );
        }
        #[cfg(target_arch = "aarch64")]
        {
            let p = address() as *const *const Record;
            // SAFETY: as above: the thread's own word, aligned, live for the thread's life.
            value = unsafe { p.read() };
        }
        value
    }

    /// Sets the word.
    #[inline(always)]
    pub(crate) fn set(value: *const Record) {
        // SAFETY: as in `get`; only this thread writes its word.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            core::arch::asm!(
                "mov qword ptr fs:[{off}], {value}",
                off = in(reg) offset(),
                value = in(reg) value,
                options(nostack, preserves_flags),
            );
        }
        #[cfg(target_arch = "aarch64")]
        {
            let p = address() as *mut *const Record;
            // SAFETY: as above.
            unsafe { p.write(value) };
        }
    }
}

#[cfg(not(all(
    target_os = "linux",
    target_env = "gnu",
    any(target_arch = "x86_64", target_arch = "aarch64"),
    not(miri)
)))]
mod imp {
    use super::{Record, UNREGISTERED};
    use core::cell::Cell;

    thread_local! {
        // No destructor, const-initialised: a single TLS access on the fast path, and readable
        // while other thread-locals are destroyed.
        static WORD: Cell<*const Record> = const { Cell::new(&raw const UNREGISTERED) };
    }

    /// The word's address in the calling thread.
    #[inline(always)]
    pub(crate) fn address() -> usize {
        WORD.with(|c| core::ptr::from_ref(c) as usize)
    }

    /// The word's value.
    #[inline(always)]
    pub(crate) fn get() -> *const Record {
        WORD.with(Cell::get)
    }

    /// Sets the word.
    #[inline(always)]
    pub(crate) fn set(value: *const Record) {
        WORD.with(|c| c.set(value));
    }
}

pub(crate) use imp::{address, get, set};

/// Sets the word and returns what it held.
#[inline]
pub(crate) fn replace(value: *const Record) -> *const Record {
    let old = get();
    set(value);
    old
}
