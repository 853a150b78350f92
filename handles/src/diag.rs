//! Diagnostics: failure counters, misuse diagnosis, leak reports, the report at exit.
//!
//! * **Failure counters** live in each thread's registry record and are written only on the
//!   failure path (`classify`), by the record's owner, with a plain load and store: a failed
//!   lookup writes no memory other threads write, and a successful one writes nothing.
//! * **Diagnosis** reads the slot's state word once. Besides the occupant's generation it holds,
//!   in the ENDED, FREE and EXHAUSTED states, how the last occupant ended (`slot.rs`, end codes),
//!   so a stale handle's end is known until its slot is reused.
//! * **Leak reports** walk the used slots and visit each live or revoked-but-referenced entry
//!   under a hazard, like a scoped lookup (no lock; the visitor may call into any table).
//! * **At exit**: with `HANDLES_LEAK_REPORT=1`, tables registered with
//!   [`HandleTable::report_leaks_at_exit`] print their leak report to stderr when the process
//!   exits (an `atexit` hook, registered on the first registration).

use crate::error::{EndReason, Error};
use crate::global;
use crate::guard::{Guard, Hold};
use crate::handle::Handle;
use crate::slot::{LIVE, PAYLOAD_MASK, REVOKED, Slot, TAKING, identity_of, is_counted_for};
use crate::sync::Ordering;
use crate::table::HandleTable;
use core::fmt;

/// What a table knows about a handle, from [`HandleTable::diagnose`].
///
/// The end of a stale handle's entry is known while its slot still remembers it: from the
/// moment the entry is revoked or ends until the slot is reused by a newer occupant (freed
/// slots are reused last-in first-out, so a busy table forgets quickly). After that,
/// [`Diagnosis::ended`] is `None` for a stale handle. With the `debug-backtrace` feature the
/// diagnosis also carries the backtraces of the insert and of the call that ended the entry,
/// kept per slot for the slot's latest occupant.
///
/// ```
/// use ffi_handles::{EndReason, Error, HandleTable};
///
/// let table = HandleTable::new();
/// let released = table.insert(1);
/// let revoked = table.insert(2);
/// table.release(released).unwrap();
/// table.revoke(revoked).unwrap();
/// assert_eq!(table.with(released, |_| ()), Err(Error::Stale));
/// assert_eq!(table.diagnose(released).ended, Some(EndReason::Released));
/// assert_eq!(table.diagnose(revoked).ended, Some(EndReason::Revoked));
/// println!("{}", table.diagnose(revoked)); // "handle 0x...: stale: revoked ..."
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Diagnosis {
    /// The handle diagnosed.
    pub handle: Handle,
    /// What a lookup of the handle returns now: `None` when it is live.
    pub error: Option<Error>,
    /// For a stale handle: how its entry ended, or `None` when the slot no longer knows (it
    /// has been reused since). `Some(EndReason::Revoked)` also for a revoked entry that
    /// references still keep alive.
    pub ended: Option<EndReason>,
    /// Counted references outstanding: the owner's and retained ones (live entries, and
    /// revoked entries that references still keep alive); 0 otherwise.
    pub refs: u32,
    /// Where the entry was inserted (`debug-backtrace` feature; `None` when the slot's record
    /// belongs to another occupant).
    #[cfg(feature = "debug-backtrace")]
    pub created_at: Option<std::sync::Arc<std::backtrace::Backtrace>>,
    /// Where the entry was revoked, released for the last time, or taken (`debug-backtrace`).
    #[cfg(feature = "debug-backtrace")]
    pub ended_at: Option<std::sync::Arc<std::backtrace::Backtrace>>,
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handle {:#018x}: ", self.handle.into_raw())?;
        match (self.error, self.ended) {
            (None, _) => write!(f, "live, {} reference(s)", self.refs)?,
            (Some(Error::Stale), Some(EndReason::Revoked)) if self.refs > 0 => write!(
                f,
                "stale: revoked; {} reference(s) taken before still keep it alive",
                self.refs
            )?,
            (Some(Error::Stale), Some(EndReason::Revoked)) => f.write_str("stale: revoked")?,
            (Some(Error::Stale), Some(EndReason::Released)) => {
                f.write_str("stale: released (its last reference was released)")?
            }
            (Some(Error::Stale), Some(EndReason::Taken)) => {
                f.write_str("stale: taken (its value was moved out)")?
            }
            (Some(Error::Stale), None) => f.write_str(
                "stale: its slot has been reused since, so how it ended is no longer known",
            )?,
            (Some(Error::Invalid), _) => {
                f.write_str("invalid: never issued by this table (forged or corrupted)")?
            }
            (Some(Error::WrongTable), _) => f.write_str("issued by another table")?,
            (Some(Error::Busy), _) => f.write_str("busy: a take is in progress")?,
            (Some(e), _) => write!(f, "{e}")?,
        }
        #[cfg(feature = "debug-backtrace")]
        {
            if let Some(bt) = &self.created_at {
                write!(f, "\n  inserted at:\n{bt}")?;
            }
            if let Some(bt) = &self.ended_at {
                let what = self.ended.map_or("ended", EndReason::as_str);
                write!(f, "\n  {what} at:\n{bt}")?;
            }
        }
        Ok(())
    }
}

/// One entry of a leak report: a live entry, or a revoked one that references keep alive.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LiveEntry {
    /// Its handle.
    pub handle: Handle,
    /// Counted references outstanding (the owner's included while not revoked).
    pub refs: u32,
    /// Whether it was revoked (only references taken before keep it alive).
    pub revoked: bool,
    /// Where it was inserted (`debug-backtrace` feature).
    #[cfg(feature = "debug-backtrace")]
    pub created_at: Option<std::sync::Arc<std::backtrace::Backtrace>>,
}

impl fmt::Display for LiveEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:#018x} refs={}{}",
            self.handle.into_raw(),
            self.refs,
            if self.revoked { " (revoked)" } else { "" }
        )?;
        #[cfg(feature = "debug-backtrace")]
        if let Some(bt) = &self.created_at {
            write!(f, "\n    inserted at:\n{bt}")?;
        }
        Ok(())
    }
}

/// The entries of a table that are still alive, from [`HandleTable::leak_report`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LeakReport {
    /// The table's value type (`std::any::type_name`).
    pub type_name: &'static str,
    /// The live entries (and revoked ones still referenced), in slot order.
    pub entries: Vec<LiveEntry>,
}

impl fmt::Display for LeakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "handles: {} live handle(s) in HandleTable<{}>",
            self.entries.len(),
            self.type_name
        )?;
        for e in &self.entries {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl<T: Send + Sync> HandleTable<T> {
    /// What the table knows about `handle` now: live (with its reference count), or why a
    /// lookup fails, and for a stale handle how its entry ended while the slot still records
    /// it. One load of the slot's state (plus the side table with `debug-backtrace`); changes
    /// nothing and counts nothing.
    #[must_use]
    pub fn diagnose(&self, handle: Handle) -> Diagnosis {
        let raw = handle.into_raw();
        let seen = self
            .shard(handle.shard())
            .slot(handle.index())
            .map(|slot| slot.state.load(Ordering::Acquire));
        let (error, ended, refs) = match seen {
            Some(state) if crate::slot::is_live_for(state, raw) => {
                (None, None, (state & PAYLOAD_MASK) as u32)
            }
            _ => {
                let (error, ended) = self.explain(handle, seen);
                let refs = match seen {
                    Some(state) if is_counted_for(state, raw) => (state & PAYLOAD_MASK) as u32,
                    _ => 0,
                };
                (Some(error), ended, refs)
            }
        };
        #[cfg(feature = "debug-backtrace")]
        let (created_at, ended_at) = self.traces().get(handle, ended.is_some());
        Diagnosis {
            handle,
            error,
            ended,
            refs,
            #[cfg(feature = "debug-backtrace")]
            created_at,
            #[cfg(feature = "debug-backtrace")]
            ended_at,
        }
    }

    /// Calls `visit` for every live entry, and every revoked entry that references still keep
    /// alive, with the entry and its value. Each value is read under a hazard, like a scoped
    /// lookup: no lock is held, and `visit` may call any operation on any table. Entries that
    /// change meanwhile may or may not be visited.
    ///
    /// ```
    /// let table = ffi_handles::HandleTable::new();
    /// let h = table.insert("left over");
    /// let mut seen = Vec::new();
    /// table.visit_live(|entry, value| seen.push((entry.handle, *value)));
    /// assert_eq!(seen, [(h, "left over")]);
    /// ```
    pub fn visit_live(&self, mut visit: impl FnMut(&LiveEntry, &T)) {
        for shard_index in 0..crate::handle::SHARDS {
            let shard = self.shard(shard_index);
            for (index, slot) in shard.used_slots() {
                let state = slot.state.load(Ordering::Acquire);
                if state & (LIVE | REVOKED | TAKING) == 0 {
                    continue;
                }
                let handle = Handle::from_parts(identity_of(state), shard_index, index);
                let Some((guard, state)) = self.get_counted(handle, slot) else {
                    continue;
                };
                let entry = LiveEntry {
                    handle,
                    refs: (state & PAYLOAD_MASK) as u32,
                    revoked: state & REVOKED != 0,
                    #[cfg(feature = "debug-backtrace")]
                    created_at: self.traces().get(handle, false).0,
                };
                visit(&entry, &guard);
            }
        }
    }

    /// The live entries (and revoked ones still referenced), with the table's value type: what
    /// a program that ends now would leak. Print it with `{}`.
    ///
    /// ```
    /// let table = ffi_handles::HandleTable::new();
    /// let h = table.insert(String::from("forgotten"));
    /// let report = table.leak_report();
    /// assert_eq!(report.type_name, "alloc::string::String");
    /// assert_eq!(report.entries.len(), 1);
    /// assert_eq!(report.entries[0].handle, h);
    /// assert!(report.to_string().contains("1 live handle"));
    /// ```
    #[must_use]
    pub fn leak_report(&self) -> LeakReport {
        let mut entries = Vec::new();
        self.visit_live(|e, _| entries.push(e.clone()));
        LeakReport {
            type_name: core::any::type_name::<T>(),
            entries,
        }
    }

    /// A guard on `slot` if it holds counted references (LIVE or REVOKED) for `handle`, and
    /// the state seen: a REVOKED value stays in place until its entry ends and a reclamation
    /// pass sees no hazard on it, so it may be read under a hazard like a live one.
    fn get_counted<'a>(&'a self, handle: Handle, slot: &'a Slot<T>) -> Option<(Guard<'a, T>, u64)> {
        let hold = match global::local() {
            Some(record) => Hold::Hazard(record.free_hazard()),
            None => HandleTable::<T>::detached_hold(),
        };
        // SAFETY: `Guard::protect`'s requirements: 1. a free cell of this thread's record, or of a temporary
        // record it claimed; 2. `is_counted_for` accepts only LIVE or REVOKED for the handle;
        // 3. `slot` is in a page of `self`.
        unsafe { Guard::protect::<true, false>(slot, hold, handle.into_raw(), is_counted_for) }.ok()
    }
}

impl<T: Send + Sync + 'static> HandleTable<T> {
    /// Prints this table's [`leak_report`](HandleTable::leak_report) to stderr when the process
    /// exits, if it still has live entries and the environment variable `HANDLES_LEAK_REPORT`
    /// is `1` (read now; without it this does nothing). For tables in `static`s, which are
    /// never dropped; call it once per table, e.g. next to the first insert.
    ///
    /// Uses the C library's `atexit` (on Unix; elsewhere it does nothing): the report runs
    /// when `main` returns or `std::process::exit` is called, not when the process is killed
    /// or aborts.
    ///
    /// ```
    /// static TABLE: ffi_handles::HandleTable<u32> = ffi_handles::HandleTable::new();
    /// TABLE.report_leaks_at_exit();
    /// ```
    pub fn report_leaks_at_exit(&'static self) {
        at_exit_if_enabled(Box::new(move || {
            let report = self.leak_report();
            if !report.entries.is_empty() {
                eprint_report(&report.to_string());
            }
        }));
    }
}

/// Whether `HANDLES_LEAK_REPORT=1` is set: leak reports at exit are switched on.
///
/// Plumbing for the C API crate, hidden from the documentation and not part of the API; use
/// [`HandleTable::report_leaks_at_exit`].
#[must_use]
pub fn leak_report_enabled() -> bool {
    std::env::var_os("HANDLES_LEAK_REPORT").is_some_and(|v| v == "1")
}

/// Runs `report` at process exit when [`leak_report_enabled`]; does nothing otherwise. For
/// libraries built on `handles` (the C registry registers its own report this way). A panic
/// in `report` is caught and discarded.
///
/// Plumbing for the C API crate, hidden from the documentation and not part of the API; use
/// [`HandleTable::report_leaks_at_exit`].
pub fn at_exit_if_enabled(report: Box<dyn Fn() + Send + Sync>) {
    if leak_report_enabled() {
        exit::push(report);
    }
}

/// Writes `text` and a newline to stderr, ignoring errors (stderr may be closed at exit).
pub(crate) fn eprint_report(text: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
    let _ = err.flush();
}

#[cfg(all(unix, not(miri)))]
mod exit {
    //! A lock-free list of reports to run at exit, and the one `atexit` hook that runs them.
    use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

    struct Node {
        report: Box<dyn Fn() + Send + Sync>,
        next: *mut Node,
    }

    static HEAD: AtomicPtr<Node> = AtomicPtr::new(core::ptr::null_mut());
    static HOOKED: AtomicBool = AtomicBool::new(false);

    pub(super) fn push(report: Box<dyn Fn() + Send + Sync>) {
        let node = Box::into_raw(Box::new(Node {
            report,
            next: core::ptr::null_mut(),
        }));
        let mut head = HEAD.load(Ordering::Relaxed);
        loop {
            // SAFETY: `node` is not published yet, so this thread owns it.
            unsafe { (*node).next = head };
            // Release publishes the node to the exit hook's Acquire load of the head.
            match HEAD.compare_exchange_weak(head, node, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => break,
                Err(current) => head = current,
            }
        }
        if !HOOKED.swap(true, Ordering::AcqRel) {
            // SAFETY: registers a plain `extern "C"` function with no preconditions; failure
            // (ENOMEM) only loses the report.
            unsafe { libc::atexit(run) };
        }
    }

    extern "C" fn run() {
        // The nodes stay where they are (reachable from `HEAD`, so leak checkers see no leak):
        // the process is exiting, and a closure's drop is user code that could panic.
        let mut node = HEAD.load(Ordering::Acquire);
        while !node.is_null() {
            // SAFETY: nodes come from `Box::into_raw` in `push`, are published once and never
            // freed; Acquire pairs with the publishing CAS.
            let n = unsafe { &*node };
            // Nothing may unwind out of an `extern "C"` function.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (n.report)()));
            node = n.next;
        }
    }
}

#[cfg(not(all(unix, not(miri))))]
mod exit {
    pub(super) fn push(report: Box<dyn Fn() + Send + Sync>) {
        drop(report);
    }
}
