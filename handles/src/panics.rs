//! Containing panics from user `Drop`s: a batch of drops keeps going after one panics, resumes
//! the first panic once the batch is done, and never panics (or aborts) while doing so.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

/// A caught panic's payload.
pub(crate) type Payload = Box<dyn Any + Send>;

/// Drops a panic payload whose own `Drop` may panic, and the payload of that panic, and so on,
/// a few levels deep; a payload still panicking after that is forgotten (leaked) rather than
/// dropped, so this never unwinds and never loops forever.
pub(crate) fn drop_payload(payload: Payload) {
    let mut payload = payload;
    for _ in 0..4 {
        match catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            Ok(()) => return,
            Err(again) => payload = again,
        }
    }
    core::mem::forget(payload);
}

/// The first panic of a batch; later ones are dropped with [`drop_payload`].
#[derive(Default)]
pub(crate) struct FirstPanic(Option<Payload>);

impl FirstPanic {
    /// Runs `f`, keeping its panic if it is the batch's first.
    pub(crate) fn catch<R>(&mut self, f: impl FnOnce() -> R) -> Option<R> {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(r) => Some(r),
            Err(payload) => {
                self.keep(payload);
                None
            }
        }
    }

    /// Keeps `payload` if it is the first; drops it otherwise.
    pub(crate) fn keep(&mut self, payload: Payload) {
        if self.0.is_none() {
            self.0 = Some(payload);
        } else {
            drop_payload(payload);
        }
    }

    /// Resumes the first panic, if any.
    pub(crate) fn resume(self) {
        if let Some(payload) = self.0 {
            resume_unwind(payload);
        }
    }
}

/// `Drop` panics caught in reclamation passes that ran on no caller's behalf (a background
/// pass, or a pass inside an unrelated caller's operation), reported by [`FirstPanic::report`].
static REPORTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many `Drop` panics were reported instead of resumed (for stats).
pub(crate) fn reported() -> u64 {
    REPORTED.load(std::sync::atomic::Ordering::Relaxed)
}

impl FirstPanic {
    /// Reports the first panic instead of resuming it: counted (`ThreadStats::drop_panics`),
    /// its message written to stderr, its payload dropped. For passes whose caller did not ask
    /// for them, so that one value's panic never unwinds out of an unrelated operation.
    pub(crate) fn report(self) {
        if let Some(payload) = self.0 {
            REPORTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(a non-string payload)");
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "handles: a value's Drop panicked in a reclamation pass: {message}"
            );
            drop_payload(payload);
        }
    }
}
