//! The thread registry: one record per live thread, recycled when threads exit.
//!
//! A record holds the thread's hazards: the addresses of the slots it is reading inside scoped
//! lookups. Only the owning thread writes them; reclaimers read them all. Records are allocated
//! on a thread's first use of any table, linked into one lock-free list, and never freed: when a
//! thread exits its record is marked unclaimed and the next new thread claims it. So the list is
//! as long as the largest number of threads that were ever alive at once, however many threads
//! come and go over the life of the process.
//!
//! Records are cache-line aligned: a hazard store touches only the owner's line, so lookups on
//! many cores never write a shared cache line.

use crate::diag::FAILURE_KINDS;
use crate::sync::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use core::ptr;

/// Hazard cells held inline in a record: a thread can hold this many scoped lookups at once
/// before its record grows a chain of overflow chunks.
pub(crate) const HAZARDS: usize = 4;
/// Hazard cells per overflow chunk.
const CHUNK: usize = 16;

/// More hazard cells for a thread that nests scoped lookups deeply. Chunks are appended by the
/// record's owner, never freed while the registry lives, and reused by the record's next owner.
struct HazardChunk {
    cells: [AtomicUsize; CHUNK],
    next: AtomicPtr<HazardChunk>,
}

#[repr(align(128))]
pub(crate) struct Record {
    /// Slot addresses this thread is reading (0 = unused). Written only by the owner.
    hazards: [AtomicUsize; HAZARDS],
    /// Overflow chunks (null until the first time more than `HAZARDS` are needed).
    overflow: AtomicPtr<HazardChunk>,
    /// Who holds the record: the owning thread's [`token`] while claimed; the last owner's
    /// token with the [`FREE`] bit set once released. Claimed and owner change in one CAS, so
    /// the fork child handler can always tell the forking thread's records from the others.
    owner: AtomicUsize,
    /// Position in the registry; picks the thread's home shard.
    pub(crate) index: usize,
    /// Next record in the registry list; written once before the record is published.
    next: *const Record,
    /// Failed handle checks by kind (`diag::FailureKind`). Only the record's owner writes them
    /// (a load and a store, no read-modify-write), on the failure path only; `thread_stats`
    /// sums them over all records.
    failures: [AtomicU64; FAILURE_KINDS],
}

// SAFETY: every mutable field is atomic; `next` is written before the record is published and
// never again, and points to another record that lives as long as the registry.
unsafe impl Sync for Record {}
// SAFETY: as above.
unsafe impl Send for Record {}

impl Record {
    /// The first hazard cell: the one a non-nested scoped lookup uses.
    #[inline(always)]
    pub(crate) fn first_hazard(&self) -> &AtomicUsize {
        &self.hazards[0]
    }

    /// A hazard cell this thread is not using (growing the overflow chain if needed).
    #[inline(always)]
    pub(crate) fn free_hazard(&self) -> &AtomicUsize {
        // Only the owning thread writes its hazards, so a Relaxed load sees its own latest
        // store. The fast path (no nesting) is the first cell.
        let first = &self.hazards[0];
        if first.load(Ordering::Relaxed) == 0 {
            return first;
        }
        self.free_hazard_slow()
    }

    #[cold]
    fn free_hazard_slow(&self) -> &AtomicUsize {
        if let Some(cell) = self.cells().find(|c| c.load(Ordering::Relaxed) == 0) {
            return cell;
        }
        // Every cell is in use: append a chunk to the end of the chain. Only the owner
        // appends, so the tail cannot change under us.
        let mut link = &self.overflow;
        loop {
            let chunk = link.load(Ordering::Acquire);
            if chunk.is_null() {
                break;
            }
            // SAFETY: published chunks are never freed while the registry lives.
            link = unsafe { &(*chunk).next };
        }
        let chunk = Box::into_raw(Box::new(HazardChunk {
            cells: core::array::from_fn(|_| AtomicUsize::new(0)),
            next: AtomicPtr::new(ptr::null_mut()),
        }));
        // Release publishes the zeroed chunk to reclaimers' Acquire loads in `cells`.
        link.store(chunk, Ordering::Release);
        // SAFETY: just allocated and published; never freed while the registry lives.
        unsafe { &(*chunk).cells[0] }
    }

    /// Every hazard cell of this record, inline ones first.
    pub(crate) fn cells(&self) -> impl Iterator<Item = &AtomicUsize> {
        let mut chunk = self.overflow.load(Ordering::Acquire);
        let chunks = core::iter::from_fn(move || {
            if chunk.is_null() {
                return None;
            }
            // SAFETY: published chunks are initialised and never freed while the registry
            // lives; Acquire pairs with the Release that published them.
            let c = unsafe { &*chunk };
            chunk = c.next.load(Ordering::Acquire);
            Some(c.cells.iter())
        });
        self.hazards.iter().chain(chunks.flatten())
    }

    /// Counts one failed handle check of kind `kind` (owner only).
    #[cfg(not(handles_loom))]
    pub(crate) fn count_failure(&self, kind: usize) {
        let cell = &self.failures[kind];
        // Only the owner writes the counter, so load + store loses nothing; ownership passes
        // between threads through `owner` (Release in `release`, Acquire in `claim`).
        cell.store(
            cell.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    /// This record's failure counters.
    pub(crate) fn failures(&self) -> [u64; FAILURE_KINDS] {
        core::array::from_fn(|k| self.failures[k].load(Ordering::Relaxed))
    }

    fn has_hazards(&self) -> bool {
        self.cells().any(|c| c.load(Ordering::Acquire) != 0)
    }
}

/// The bit of [`Record::owner`] that marks a record free. Tokens are addresses of a
/// pointer-sized thread-local, so they never have it set.
const FREE: usize = 1;

pub(crate) struct Registry {
    head: AtomicPtr<Record>,
    /// Indices handed out to new records (their home shards). Statistics count the list
    /// instead, which stays exact in a child forked while another thread was allocating.
    next_index: AtomicUsize,
}

// SAFETY: the registry only hands out shared references to records, whose mutable parts are
// atomics; `next` is written before publication and never again.
unsafe impl Sync for Registry {}
// SAFETY: as above; the raw pointers are owned by the registry.
unsafe impl Send for Registry {}

impl Registry {
    crate::sync::const_fn! {
        fn new() -> Registry {
            Registry {
                head: AtomicPtr::new(ptr::null_mut()),
                next_index: AtomicUsize::new(0),
            }
        }
    }

    /// Claims a free record for the calling thread, or allocates a new one.
    ///
    /// Hazards in a record belong to its owner, or to its last owner while it is free: a
    /// released record may still carry hazards of guards that outlive their thread's exit
    /// hook (guards kept in other thread-locals), and `claim` skips it until they are cleared.
    /// Its last owner can only clear those cells, never publish new ones (a thread publishes
    /// only into records it owns). So two owners never share a hazard cell, and the fork
    /// child handler knows whose guards a record's hazards are.
    fn claim(&self) -> &Record {
        // Decide the barrier mode before this thread can publish its first hazard.
        crate::barrier::init();
        let me = token();
        for rec in self.iter() {
            // Acquire pairs with the Release in `release`: every hazard the last owner
            // published before releasing is visible to `has_hazards` below, so a record still
            // in use by its last owner's late guards is seen as such. (With a Relaxed load the
            // hazard check could read cells older than the release it follows.)
            let word = rec.owner.load(Ordering::Acquire);
            // The CAS succeeds only if the word still names the same last owner: unchanged
            // since the check, or claimed and released again by that same thread in between
            // (a temporary record), which it can only have claimed once its own hazards there
            // were gone, and which it released after clearing the one it published. Either
            // way no hazard of another thread is left. Acquire: the previous owner's clears
            // happen before we reuse the cells.
            if word & FREE != 0
                && !rec.has_hazards()
                && rec
                    .owner
                    .compare_exchange(word, me, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                #[cfg(handles_loom)]
                assert!(
                    !rec.has_hazards(),
                    "claimed a record that carries another thread's hazards"
                );
                return rec;
            }
        }
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        // Created claimed by us: an allocation cut short by a fork from this thread's signal
        // handler is still ours in the child.
        let rec = Box::into_raw(Box::new(Record {
            hazards: core::array::from_fn(|_| AtomicUsize::new(0)),
            overflow: AtomicPtr::new(ptr::null_mut()),
            owner: AtomicUsize::new(me),
            index,
            next: ptr::null(),
            failures: core::array::from_fn(|_| AtomicU64::new(0)),
        }));
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: `rec` is not published yet, so this thread owns it exclusively.
            unsafe { (*rec).next = head };
            // Release publishes the initialised record (and its `next`) to `iter`'s Acquire.
            match self
                .head
                .compare_exchange_weak(head, rec, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(current) => head = current,
            }
        }
        // SAFETY: records are never freed while the registry exists (it is a static).
        unsafe { &*rec }
    }

    /// Returns the calling thread's record to the pool (at thread exit, or when a temporary
    /// guard ends). Only the owner releases.
    ///
    /// Hazards are left alone: a guard that outlives its thread's exit hook (one kept in
    /// another thread-local) still protects its value, and `claim` skips the record until
    /// that guard clears its cell. The word keeps the owner's token, so a fork from this
    /// thread before then leaves those hazards in place in the child.
    pub(crate) fn release(&self, rec: &Record) {
        // Only the owner writes the word while it is claimed: this reads our own claim.
        let word = rec.owner.load(Ordering::Relaxed);
        if cfg!(any(debug_assertions, handles_loom)) {
            assert_eq!(
                word,
                token(),
                "a record released by a thread that does not own it"
            );
        }
        // Release orders the owner's hazard stores and clears before the next claimer's
        // Acquire load of the word.
        rec.owner.store(word | FREE, Ordering::Release);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Record> {
        // Acquire pairs with the publishing CAS in `claim`.
        let mut cur = self.head.load(Ordering::Acquire).cast_const();
        core::iter::from_fn(move || {
            if cur.is_null() {
                return None;
            }
            // SAFETY: published records are initialised and never freed while the registry
            // lives; `next` was written before publication.
            let rec = unsafe { &*cur };
            cur = rec.next;
            Some(rec)
        })
    }

    /// Appends every published hazard to `out`, sorted.
    ///
    /// Call after [`crate::barrier::heavy`]: any reader whose hazard is not seen here is
    /// guaranteed to see the caller's earlier stores (an ended state) and back off.
    pub(crate) fn hazards(&self, out: &mut Vec<usize>) {
        out.clear();
        for rec in self.iter() {
            for h in rec.cells() {
                // Acquire pairs with the Release of every hazard store (publish or clear): if
                // we read 0 or another address, the reader's accesses under the hazard that
                // named our slot happened before our reclamation of it.
                let addr = h.load(Ordering::Acquire);
                if addr != 0 {
                    out.push(addr);
                }
            }
        }
        out.sort_unstable();
    }

    /// Records in the list, and records claimed by live threads (a walk: for statistics).
    pub(crate) fn counts(&self) -> (usize, usize) {
        self.iter().fold((0, 0), |(records, claimed), rec| {
            let free = rec.owner.load(Ordering::Relaxed) & FREE != 0;
            (records + 1, claimed + usize::from(!free))
        })
    }
}

#[cfg(handles_loom)]
impl Drop for Registry {
    fn drop(&mut self) {
        // Loom recreates the registry for every execution; free the records it allocated.
        let mut cur = self.head.load(Ordering::Relaxed);
        while !cur.is_null() {
            // SAFETY: the registry is being dropped, so no thread can reach its records; each
            // was allocated by `Box::into_raw` in `claim`, each chunk in `free_hazard_slow`.
            let rec = unsafe { Box::from_raw(cur) };
            let mut chunk = rec.overflow.load(Ordering::Relaxed);
            while !chunk.is_null() {
                // SAFETY: as above.
                let c = unsafe { Box::from_raw(chunk) };
                chunk = c.next.load(Ordering::Relaxed);
            }
            cur = rec.next.cast_mut();
        }
    }
}

#[cfg(not(handles_loom))]
static REGISTRY: Registry = Registry::new();

#[cfg(not(handles_loom))]
#[inline(always)]
pub(crate) fn registry() -> &'static Registry {
    &REGISTRY
}

#[cfg(handles_loom)]
loom::lazy_static! {
    static ref REGISTRY: Registry = Registry::new();
}

#[cfg(handles_loom)]
pub(crate) fn registry() -> &'static Registry {
    &REGISTRY
}

/// What a thread's record pointer holds before registration and after its exit hook ran: a
/// record whose first hazard cell is permanently non-zero. The lookup fast path tests that
/// cell anyway (is it free?), so an unregistered thread lands on the slow path without a
/// separate null check. It is not in the registry list, so reclaimers never see it.
#[cfg(not(handles_loom))]
static UNREGISTERED: Record = Record {
    hazards: [
        AtomicUsize::new(usize::MAX),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ],
    overflow: AtomicPtr::new(ptr::null_mut()),
    // Never claimed or released: it is not in the list.
    owner: AtomicUsize::new(0),
    index: 0,
    next: ptr::null(),
    failures: [const { AtomicU64::new(0) }; FAILURE_KINDS],
};

/// Releases the thread's record when the thread exits.
#[cfg(not(handles_loom))]
struct ExitHook;

#[cfg(not(handles_loom))]
impl Drop for ExitHook {
    fn drop(&mut self) {
        // (A fork from a signal handler between these two steps leaves the record ours in the
        // child, by its owner token, and the child then releases it here.)
        let rec = CURRENT.with(|c| c.replace(&UNREGISTERED));
        if !ptr::eq(rec, &UNREGISTERED) {
            // SAFETY: records are never freed while the registry lives.
            registry().release(unsafe { &*rec });
        }
    }
}

#[cfg(not(handles_loom))]
thread_local! {
    // No destructor, const-initialised: reading it is a single TLS load on the fast path, and
    // it stays readable while other thread-locals are destroyed. Its address is the thread's
    // token.
    static CURRENT: core::cell::Cell<*const Record> =
        const { core::cell::Cell::new(&raw const UNREGISTERED) };
    // Has a destructor; touched once per thread, on registration, to hook thread exit.
    static EXIT: ExitHook = const { ExitHook };
}

/// A number that tells the calling thread apart from every other live thread: the address of
/// its `CURRENT` cell (pointer-aligned, so never 0 and never with the [`FREE`] bit). It can be
/// read at any time, during thread-local teardown and in a signal handler too (the cell has no
/// destructor and needs no initialisation), and after `fork()` the child's only thread has the
/// token of the parent thread that forked.
#[cfg(not(handles_loom))]
fn token() -> usize {
    CURRENT.with(|c| ptr::from_ref(c) as usize)
}

/// This thread's record, or the `UNREGISTERED` sentinel: no checks, for the lookup fast path.
/// Pass it through [`resolve`] before using anything but its first hazard cell.
#[cfg(not(handles_loom))]
#[inline(always)]
pub(crate) fn current_record() -> &'static Record {
    // SAFETY: the cell holds a registered record (never freed while the registry lives) or
    // the static sentinel.
    unsafe { &*CURRENT.with(|c| c.get()) }
}

/// Turns the result of [`current_record`] into a real record, registering the thread if it
/// holds the sentinel; `None` while the thread's thread-locals are being destroyed.
#[cfg(not(handles_loom))]
#[inline]
pub(crate) fn resolve(rec: &'static Record) -> Option<&'static Record> {
    if ptr::eq(rec, &UNREGISTERED) {
        register_current()
    } else {
        Some(rec)
    }
}

/// This thread's record, registering the thread on first use.
///
/// `None` while the thread's thread-locals are being destroyed (a value dropped from another
/// thread-local's destructor): callers then use paths that need no record.
#[cfg(not(handles_loom))]
#[inline(always)]
pub(crate) fn current() -> Option<&'static Record> {
    resolve(current_record())
}

#[cfg(not(handles_loom))]
#[cold]
fn register_current() -> Option<&'static Record> {
    // Touching EXIT registers its destructor; it fails once thread-local teardown has begun,
    // and then we must not claim a record that nothing would release.
    EXIT.try_with(|_| ()).ok()?;
    // Before the claim: a record is only ever claimed once a fork handler is registered.
    #[cfg(all(unix, not(miri)))]
    fork::install_handler();
    // The record is ours (its owner word holds our token) from the claim on, so a fork from a
    // signal handler that interrupts us before the store below leaves it ours in the child.
    let rec = registry().claim();
    #[cfg(test)]
    hooks::run(&hooks::AFTER_CLAIM);
    CURRENT.with(|c| c.set(rec));
    Some(rec)
}

/// Test-only hooks into registration, to force interleavings with `fork()`.
#[cfg(all(test, not(handles_loom)))]
pub(crate) mod hooks {
    use core::cell::Cell;
    use std::thread::LocalKey;

    /// A hook slot: at most one function to run once, on the thread that set it.
    pub(crate) type Hook = Cell<Option<fn()>>;

    thread_local! {
        /// Runs once on this thread between claiming its record and storing it in `CURRENT`.
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

// Under loom, thread-local destructors run outside the execution that created them, so the
// record lives in a plain cell and loom models call `exit_current` where a real thread's
// `ExitHook` would run. Both paths release through `Registry::release`.
#[cfg(handles_loom)]
loom::thread_local! {
    static LOCAL: core::cell::Cell<*const Record> = core::cell::Cell::new(ptr::null());
}

/// The calling thread's token (see the non-loom `token`): the address of its `LOCAL` cell,
/// which loom keeps for the whole execution.
#[cfg(handles_loom)]
fn token() -> usize {
    LOCAL.with(|local| ptr::from_ref(local) as usize)
}

#[cfg(handles_loom)]
pub(crate) fn current() -> Option<&'static Record> {
    let rec = LOCAL
        .try_with(|local| {
            if local.get().is_null() {
                local.set(registry().claim());
            }
            local.get()
        })
        .ok()?;
    // SAFETY: records are never freed while the registry lives.
    Some(unsafe { &*rec })
}

/// Under loom a model thread always has its record (no thread-local teardown happens inside a
/// model), so there is no sentinel.
#[cfg(handles_loom)]
pub(crate) fn current_record() -> &'static Record {
    current().expect("loom model threads never look up during thread-local teardown")
}

#[cfg(handles_loom)]
pub(crate) fn resolve(rec: &'static Record) -> Option<&'static Record> {
    Some(rec)
}

/// What a thread's exit hook does, for loom models (see `LOCAL`).
#[cfg(all(handles_loom, test))]
pub(crate) fn exit_current() {
    let rec = LOCAL.with(|local| local.replace(ptr::null()));
    if !rec.is_null() {
        // SAFETY: records are never freed while the registry lives.
        registry().release(unsafe { &*rec });
    }
}

/// Claims a record for one guard, for a thread whose thread-locals are being destroyed;
/// release it with [`Registry::release`] when the guard ends.
#[cold]
pub(crate) fn claim_temporary() -> &'static Record {
    registry().claim()
}

/// Registry counts for stats: (records in the registry, records claimed by live threads).
pub(crate) fn counts() -> (usize, usize) {
    registry().counts()
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

    use super::{FREE, registry, token};
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
    ///
    /// The forking thread's records are recognised by their owner token, not by `CURRENT`:
    /// the record it is registered with; temporary records of guards it holds while its
    /// thread-locals are destroyed; a record it claimed in code that a signal handler
    /// interrupted before storing it in `CURRENT`; and the free record it last owned, whose
    /// hazards may be guards it keeps in other thread-locals past its exit hook. All its
    /// guards still exist in the child, so those records are left exactly as they are.
    ///
    /// Every other record belonged to a thread that does not exist here, and so do the guards
    /// behind its hazards (the hazards of a record are its owner's, or its last owner's while
    /// it is free: see `Registry::claim`). Their hazards are cleared, of free records too, so
    /// those become claimable again, and claimed ones are released.
    ///
    /// Idempotent (a second run finds nothing left to do), lock-free, allocation-free, and it
    /// cannot panic.
    extern "C" fn child() {
        let me = token();
        for rec in registry().iter() {
            let word = rec.owner.load(Ordering::Relaxed);
            if word & !FREE == me {
                continue;
            }
            for cell in rec.cells() {
                cell.store(0, Ordering::Release);
            }
            if word & FREE == 0 {
                rec.owner.store(word | FREE, Ordering::Release);
            }
        }
    }
}
