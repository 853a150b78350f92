//! The background reclaimer: one thread per process that runs the reclamation passes of the
//! tables whose policy is [`ReclaimPolicy::Background`](crate::ReclaimPolicy::Background), so
//! that no caller's operation ever runs the `Drop` of another entry.
//!
//! * **Started lazily**, by the first ending call that needs a pass, and never while a program
//!   stays single-threaded (its callers drop their values themselves: `Registry::alone`).
//! * **Woken, not polling.** A table is *armed* while the reclaimer waits for it; the first
//!   entry that goes on one of its retire lists disarms it (one swap) and unparks the thread.
//!   The thread then waits [`GATHER`] for more ends (a shard reaching its batch cuts that
//!   short), re-arms the tables, runs one pass per table and parks. Ordering: the caller's
//!   push onto the retire list, a `SeqCst` fence, its load of the armed flag; the reclaimer's
//!   arming store, a `SeqCst` fence, its loads of the lists (in the pass). Either the caller
//!   sees the table armed (and wakes the thread), or the reclaimer's pass takes the entry
//!   (loom model `reclaimer_wake_up_is_never_lost`).
//! * **Bounded delay.** An entry that is not borrowed is dropped within `GATHER` plus one pass
//!   of its end (a few milliseconds), whether or not the program makes another call; borrowed
//!   ones are retried every [`RETRY`].
//! * **No record while parked.** The thread gives its registry record back after every round,
//!   so an idle reclaimer never makes a lone thread look accompanied.
//! * **Fork.** The thread does not exist in a child: the child handler forgets it and arms
//!   every table, so the child's first ending call starts a new one. A pass cut short by the
//!   fork leaks the entries it held (never drops anything twice).
//! * **Panics** in a `Drop` it runs are reported (`ThreadStats::drop_panics` and a line on
//!   stderr), never resumed.
//!
//! Tables must be `'static` to be registered (they are never dropped, so the thread never
//! reaches a dead table); registration appends to a list that is never shrunk.

use core::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::time::Duration;

/// How long the reclaimer lets ends accumulate after it is woken, before its pass.
pub(crate) const GATHER: Duration = Duration::from_millis(2);
/// How soon the reclaimer retries entries that were still borrowed at its last pass.
pub(crate) const RETRY: Duration = Duration::from_millis(1);

/// A table the reclaimer runs passes for.
pub(crate) trait Reclaimable: Sync {
    /// Marks the table as waited for: its next retired entry wakes the reclaimer.
    fn arm(&self);
    /// One pass over every shard (panics reported); whether borrowed entries remain.
    fn background_pass(&self) -> bool;
}

struct Node {
    table: &'static dyn Reclaimable,
    next: *const Node,
}

/// The registered tables: an append-only lock-free list (nodes are never freed).
static TABLES: AtomicPtr<Node> = AtomicPtr::new(ptr::null_mut());
/// The reclaimer thread's handle once it runs (leaked; replaced only after a fork).
static THREAD: AtomicPtr<std::thread::Thread> = AtomicPtr::new(ptr::null_mut());
/// Whether some caller has started (or is starting) the thread.
static STARTED: AtomicBool = AtomicBool::new(false);

/// Registers `table` (once per table: the caller guarantees it).
pub(crate) fn register(table: &'static dyn Reclaimable) {
    let node = Box::into_raw(Box::new(Node {
        table,
        next: ptr::null(),
    }));
    let mut head = TABLES.load(Ordering::Relaxed);
    loop {
        // SAFETY: `node` is not published yet; this thread owns it.
        unsafe { (*node).next = head };
        // Release publishes the node to `tables`' Acquire.
        match TABLES.compare_exchange_weak(head, node, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => break,
            Err(current) => head = current,
        }
    }
}

fn tables() -> impl Iterator<Item = &'static dyn Reclaimable> {
    let mut cur = TABLES.load(Ordering::Acquire).cast_const();
    core::iter::from_fn(move || {
        if cur.is_null() {
            return None;
        }
        // SAFETY: nodes are published once, initialised, and never freed.
        let node = unsafe { &*cur };
        cur = node.next;
        Some(node.table)
    })
}

/// Wakes the reclaimer, starting it on first use. `after_round` runs on the thread after each
/// round of passes (it gives the thread's registry record back). Returns `false` when no
/// thread could be started (the caller then runs the pass itself).
pub(crate) fn wake(after_round: fn()) -> bool {
    // Under Miri no thread is started (Miri requires every thread to be joined before the
    // program ends): callers run their passes themselves, the fallback for a failed spawn.
    if cfg!(miri) {
        return false;
    }
    let thread = THREAD.load(Ordering::Acquire);
    if !thread.is_null() {
        // SAFETY: published once from `Box::into_raw` and never freed.
        unsafe { &*thread }.unpark();
        return true;
    }
    if STARTED.swap(true, Ordering::AcqRel) {
        // Another caller is starting it; its first round covers our entry.
        return true;
    }
    match std::thread::Builder::new()
        .name("handles-reclaimer".into())
        .spawn(move || run(after_round))
    {
        Ok(handle) => {
            let thread = Box::into_raw(Box::new(handle.thread().clone()));
            THREAD.store(thread, Ordering::Release);
            true
        }
        Err(_) => {
            STARTED.store(false, Ordering::Release);
            false
        }
    }
}

fn run(after_round: fn()) {
    loop {
        // Let more ends arrive; a shard reaching its batch unparks us early.
        std::thread::park_timeout(GATHER);
        loop {
            let mut borrowed = false;
            for table in tables() {
                table.arm();
            }
            // Pairs with the fence in `HandleTable::disarm` (module docs).
            core::sync::atomic::fence(Ordering::SeqCst);
            for table in tables() {
                borrowed |= table.background_pass();
            }
            after_round();
            if !borrowed {
                break;
            }
            std::thread::park_timeout(RETRY);
        }
        std::thread::park();
    }
}

/// In a forked child: the thread is gone. Forget it and arm every table, so the first ending
/// call starts a new one. Async-signal-safe: plain stores and loads.
#[cfg(all(unix, not(miri)))]
pub(crate) fn forget_after_fork() {
    THREAD.store(ptr::null_mut(), Ordering::Release);
    STARTED.store(false, Ordering::Release);
    for table in tables() {
        table.arm();
    }
}
