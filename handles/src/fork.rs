//! After `fork()` only the forking thread exists in the child. Records claimed by the other
//! threads would stay claimed forever, and their hazards would block reclamation forever.
//! The child handler releases them. Everything else in the tables is lock-free, so an
//! operation cut short by the fork leaves at worst a leaked slot, never a broken structure.
//!
//! Installing the handler must not take a lock or wait either: a fork while another thread
//! holds one (a `std::sync::Once` mid-`call_once`, say) freezes it in the child, whose first
//! registration would then block forever. So the handler is registered from a load-time
//! constructor, before `main` and before any thread exists, and registration keeps a
//! lock-free fallback for targets without one, or code that runs before it.

use crate::global::{registry, token};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether a child handler is registered with `pthread_atfork` in this process image. Set
/// only after a `pthread_atfork` call returned success, so a child that inherits `true`
/// also inherits the handler (libc serialises `pthread_atfork` against `fork`).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Makes sure a child handler is registered before the caller claims a record. Never waits.
///
/// Every caller that finds [`INSTALLED`] unset registers a handler itself, instead of
/// electing one installer that the others wait for (or trust): waiting is what must not
/// happen, and a caller that returned before the elected installer finished would claim a
/// record that a fork in that gap would leave claimed in the child. This also covers a
/// fork in the middle of an install: the child inherits `false`, and its first
/// registration installs again (no thread is left that could be waited for). The price is
/// a duplicate registration in those races only, which never happen once the constructor
/// ran; the child handler is idempotent, so a duplicate runs as a no-op second pass.
pub(crate) fn install_handler() {
    // Acquire pairs with the Release below: the other thread's `pthread_atfork` (and the
    // libc lock it released) happens before our claim and any fork after it.
    if INSTALLED.load(Ordering::Acquire) {
        return;
    }
    #[cfg(test)]
    crate::global::hooks::run(&crate::global::hooks::IN_INSTALL);
    // SAFETY: registers a plain function with no preconditions. Failure (ENOMEM) only
    // loses the fork cleanup, never memory safety; the next registration tries again.
    if unsafe { libc::pthread_atfork(None, None, Some(child)) } == 0 {
        INSTALLED.store(true, Ordering::Release);
    }
}

/// Registers the handler when the library is loaded: before `main`, or inside `dlopen`,
/// before any of this library's code can run on another thread. The loader calls
/// `install_at_load` as a C function (ELF `.init_array`, Mach-O `__mod_init_func`); it
/// cannot panic.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "illumos",
    target_os = "solaris",
    target_vendor = "apple",
))]
mod at_load {
    #[used]
    #[cfg_attr(
        target_vendor = "apple",
        unsafe(link_section = "__DATA,__mod_init_func")
    )]
    #[cfg_attr(not(target_vendor = "apple"), unsafe(link_section = ".init_array"))]
    static INSTALL_AT_LOAD: extern "C" fn() = install_at_load;

    extern "C" fn install_at_load() {
        #[cfg(test)]
        super::INSTALLED_AT_LOAD.store(true, core::sync::atomic::Ordering::Relaxed);
        super::install_handler();
    }
}

/// Whether the load-time constructor ran (tests check the link section works).
#[cfg(test)]
pub(crate) static INSTALLED_AT_LOAD: AtomicBool = AtomicBool::new(false);

/// Forgets the installation, as if neither the constructor nor any registration had run
/// (tests of the fallback; the handlers already registered stay registered).
#[cfg(test)]
pub(crate) fn forget_installed() {
    INSTALLED.store(false, Ordering::Release);
}

/// Whether this process image has a handler registered (for tests).
#[cfg(test)]
pub(crate) fn installed() -> bool {
    INSTALLED.load(Ordering::Acquire)
}

/// The child handler: runs in the child, on its only thread, before `fork` returns there.
/// Releases every record but the forking thread's (`Registry::release_all_but`, which says
/// how they are told apart). Idempotent (a second run finds nothing left to do), lock-free,
/// allocation-free, and it cannot panic.
extern "C" fn child() {
    registry().release_all_but(token());
}
