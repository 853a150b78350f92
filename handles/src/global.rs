//! The one process-wide thread registry and the calling thread's record in it.
//!
//! `registry.rs` is the algorithm; this file is its single instance: the static registry, the
//! thread-local that points at the calling thread's record, the thread's owner token, the
//! exit hook that gives the record back, and the `fork()` child handler that frees the records
//! of threads the child does not have (module [`fork`]). The lookup fast path reads the thread-local once
//! ([`local_or_sentinel`]); everything else goes through [`local`], which registers the thread
//! on first use.
//!
//! Three functions, three contracts:
//!
//! * [`local_or_sentinel`]: never fails and never registers; may return the `UNREGISTERED`
//!   sentinel, whose first hazard cell is permanently taken, so a fast path that only uses a
//!   *free* first cell needs no separate check.
//! * [`registered`]: turns that result into a real record, registering the thread if needed.
//! * [`local`]: both in one, for paths that are not the lookup fast path.
//!
//! All three give `None` (or the sentinel) during thread-local teardown; callers then claim a
//! temporary record ([`claim_temporary`]) for the duration of one operation.
//!
//! Under loom, thread-local destructors run outside the execution that created them, so the
//! record lives in a plain loom thread-local and models call `exit_current` where a real
//! thread's exit hook would run. Both release through [`Registry::release`].

use crate::error::FailureKind;
use crate::registry::{Record, Registry};

#[cfg(all(handles_loom, test))]
pub(crate) use imp::exit_current;
#[cfg(all(test, unix, not(handles_loom)))] // for fork_tests
pub(crate) use imp::hooks;
#[cfg(not(handles_loom))]
pub(crate) use imp::unregister_current;
pub(crate) use imp::{local, local_or_sentinel, registered, registry, token};

/// Claims a record for one operation or guard, for a thread whose thread-locals are being
/// destroyed; give it back with [`release_temporary`].
#[cold]
pub(crate) fn claim_temporary() -> &'static Record {
    registry().claim(token())
}

/// Gives back a record from [`claim_temporary`] (the calling thread claimed it).
pub(crate) fn release_temporary(record: &'static Record) {
    registry().release(record, token());
}

/// How many times this process image was forked into (0 in the original process; one more in
/// each child than in its parent): counts of work in flight that carry an older generation
/// belong to threads the fork left behind.
pub(crate) fn fork_generation() -> u64 {
    #[cfg(all(unix, not(any(handles_loom, miri))))]
    {
        fork::GENERATION.load(std::sync::atomic::Ordering::Acquire)
    }
    #[cfg(not(all(unix, not(any(handles_loom, miri)))))]
    0
}

/// Registry counts for stats: (records in the registry, records claimed by live threads).
pub(crate) fn counts() -> (usize, usize) {
    registry().counts()
}

/// Failures of threads in thread-local teardown (no record of their own): rare, so shared.
#[cfg(not(handles_loom))]
static DETACHED_FAILURES: [std::sync::atomic::AtomicU64; FailureKind::COUNT] =
    [const { std::sync::atomic::AtomicU64::new(0) }; FailureKind::COUNT];

/// Counts a failed handle check in the calling thread's record (slow path only).
#[inline]
pub(crate) fn count_failure(kind: FailureKind) {
    #[cfg(not(handles_loom))]
    match local() {
        Some(rec) => rec.count_failure(kind),
        None => {
            DETACHED_FAILURES[kind as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    #[cfg(handles_loom)]
    let _ = kind;
}

/// The failure counters of every thread record, summed, indexed by [`FailureKind`].
pub(crate) fn failure_counts() -> [u64; FailureKind::COUNT] {
    let mut sum = [0u64; FailureKind::COUNT];
    for rec in registry().iter() {
        for (s, c) in sum.iter_mut().zip(rec.failures()) {
            *s = s.wrapping_add(c);
        }
    }
    #[cfg(not(handles_loom))]
    for (s, c) in sum.iter_mut().zip(&DETACHED_FAILURES) {
        *s = s.wrapping_add(c.load(std::sync::atomic::Ordering::Relaxed));
    }
    sum
}

#[cfg(not(handles_loom))]
mod imp {
    use super::{Record, Registry};
    use crate::current::{self, UNREGISTERED};
    use core::ptr;

    static REGISTRY: Registry = Registry::new();

    /// The process-wide registry.
    #[inline(always)]
    pub(crate) fn registry() -> &'static Registry {
        &REGISTRY
    }

    /// Releases the thread's record when the thread exits.
    struct ExitHook;

    impl Drop for ExitHook {
        fn drop(&mut self) {
            // (A fork from a signal handler between these two steps leaves the record ours in
            // the child, by its owner token, and the child then releases it here.)
            let rec = current::replace(&UNREGISTERED);
            if !ptr::eq(rec, &UNREGISTERED) {
                // SAFETY: records are never freed while the registry lives.
                registry().release(unsafe { &*rec }, token());
            }
        }
    }

    thread_local! {
        // Has a destructor; touched once per thread, on registration, to hook thread exit.
        static EXIT: ExitHook = const { ExitHook };
    }

    /// A number that tells the calling thread apart from every other live thread: the address
    /// of its record pointer (`current.rs`; pointer-aligned, so never 0 and never with the
    /// registry's FREE bit). It can be read at any time, during thread-local teardown and in a
    /// signal handler too (the word has no destructor and needs no initialisation), and after
    /// `fork()` the child's only thread has the token of the parent thread that forked.
    pub(crate) fn token() -> usize {
        current::address()
    }

    /// This thread's record, or the `UNREGISTERED` sentinel: no checks, for the lookup fast
    /// path. Pass it through [`registered`] before using anything but a free first hazard cell.
    #[inline(always)]
    pub(crate) fn local_or_sentinel() -> &'static Record {
        // SAFETY: the cell holds a registered record (never freed while the registry lives) or
        // the static sentinel.
        unsafe { &*current::get() }
    }

    /// The record behind a result of [`local_or_sentinel`], registering the thread if it is
    /// the sentinel; `None` while the thread's thread-locals are being destroyed.
    #[inline]
    pub(crate) fn registered(rec: &'static Record) -> Option<&'static Record> {
        if ptr::eq(rec, &UNREGISTERED) {
            register_current()
        } else {
            Some(rec)
        }
    }

    /// Gives the calling thread's record back, as its exit hook would (the background
    /// reclaimer, between rounds, so that it never holds a record while parked). The thread
    /// registers again on its next use of a table. It must hold no guard.
    pub(crate) fn unregister_current() {
        let rec = current::replace(&UNREGISTERED);
        if !ptr::eq(rec, &UNREGISTERED) {
            // SAFETY: records are never freed while the registry lives.
            registry().release(unsafe { &*rec }, token());
        }
    }

    /// This thread's record, registering the thread on first use; `None` while the thread's
    /// thread-locals are being destroyed (a value dropped from another thread-local's
    /// destructor): callers then use paths that need no record of their own.
    #[inline(always)]
    pub(crate) fn local() -> Option<&'static Record> {
        registered(local_or_sentinel())
    }

    #[cold]
    fn register_current() -> Option<&'static Record> {
        // Touching EXIT registers its destructor; it fails once thread-local teardown has
        // begun, and then we must not claim a record that nothing would release.
        EXIT.try_with(|_| ()).ok()?;
        // Before the claim: a record is only ever claimed once a fork handler is registered.
        #[cfg(all(unix, not(miri)))]
        super::fork::install_handler();
        // The record is ours (its owner word holds our token) from the claim on, so a fork
        // from a signal handler that interrupts us before the store below leaves it ours in
        // the child.
        let rec = registry().claim(token());
        #[cfg(test)]
        hooks::run(&hooks::AFTER_CLAIM);
        current::set(rec);
        Some(rec)
    }

    /// Test-only hooks into registration, to force interleavings with `fork()`.
    #[cfg(test)]
    pub(crate) mod hooks {
        use core::cell::Cell;
        use std::thread::LocalKey;

        /// A hook slot: at most one function to run once, on the thread that set it.
        pub(crate) type Hook = Cell<Option<fn()>>;

        thread_local! {
            /// Runs once on this thread between claiming its record and storing it in
            /// its record pointer (`current.rs`).
            pub(crate) static AFTER_CLAIM: Hook = const { Cell::new(None) };
            /// Runs once on this thread inside the install of the fork handler, before
            /// `pthread_atfork`.
            #[cfg_attr(not(all(unix, not(miri))), allow(dead_code))]
            pub(crate) static IN_INSTALL: Hook = const { Cell::new(None) };
        }

        /// Runs (and removes) the hook in `key`, if this thread set one.
        pub(crate) fn run(key: &'static LocalKey<Hook>) {
            if let Some(hook) = key.with(Cell::take) {
                hook();
            }
        }
    }
}

#[cfg(handles_loom)]
mod imp {
    use super::{Record, Registry};
    use core::ptr;

    loom::lazy_static! {
        static ref REGISTRY: Registry = Registry::new();
    }

    /// The registry of the current loom execution.
    pub(crate) fn registry() -> &'static Registry {
        &REGISTRY
    }

    loom::thread_local! {
        static LOCAL: core::cell::Cell<*const Record> = core::cell::Cell::new(ptr::null());
    }

    /// The calling thread's token: the address of its `LOCAL` cell, which loom keeps for the
    /// whole execution.
    pub(crate) fn token() -> usize {
        LOCAL.with(|local| ptr::from_ref(local) as usize)
    }

    /// This thread's record, claimed on first use.
    pub(crate) fn local() -> Option<&'static Record> {
        let rec = LOCAL
            .try_with(|local| {
                if local.get().is_null() {
                    local.set(registry().claim(token()));
                }
                local.get()
            })
            .ok()?;
        // SAFETY: records are never freed while the registry lives.
        Some(unsafe { &*rec })
    }

    /// Under loom a model thread always has its record (no thread-local teardown happens
    /// inside a model), so there is no sentinel.
    pub(crate) fn local_or_sentinel() -> &'static Record {
        local().expect("loom model threads never look up during thread-local teardown")
    }

    /// Always the record itself: there is no sentinel under loom.
    pub(crate) fn registered(rec: &'static Record) -> Option<&'static Record> {
        Some(rec)
    }

    /// What a thread's exit hook does, for loom models (see `LOCAL`).
    #[cfg(test)]
    pub(crate) fn exit_current() {
        let rec = LOCAL.with(|local| local.replace(ptr::null()));
        if !rec.is_null() {
            // SAFETY: records are never freed while the registry lives.
            registry().release(unsafe { &*rec }, token());
        }
    }
}

#[cfg(all(unix, not(any(handles_loom, miri))))]
pub(crate) mod fork {
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

    use super::{registry, token};
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
        super::hooks::run(&super::hooks::IN_INSTALL);
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
    /// See [`super::fork_generation`]; bumped by the child handler.
    pub(crate) static GENERATION: std::sync::atomic::AtomicU64 =
        std::sync::atomic::AtomicU64::new(0);

    extern "C" fn child() {
        registry().release_all_but(token());
        GENERATION.fetch_add(1, Ordering::Release);
        crate::reclaimer::forget_after_fork();
    }
}
