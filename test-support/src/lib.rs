//! What the tests (`tests/`) and the fuzz targets (`fuzz/`) of `handles` share, written once:
//!
//! * [`layout`]: the documented bit layout of a handle, to decode handles and forge them field
//!   by field;
//! * [`Drops`], [`Tracked`] and [`Item`]: values that count their drops and catch a read after
//!   their drop (and, for [`Item`], a lookup that reached another entry);
//! * [`XorShift`]: a small deterministic random number generator;
//! * [`Bytes`]: the reader the fuzz targets decode their input with;
//! * [`model`]: the reference model of an entry's life (references, revoke, release, take) that
//!   the model-based test and both fuzz targets check against, and [`TableModel`], which checks
//!   a `HandleTable` against it operation by operation;
//! * [`fork`] (Unix): running test code in a forked child under a watchdog alarm.
#![deny(missing_docs)]

mod bytes;
#[cfg(unix)]
pub mod fork;
pub mod layout;
pub mod model;
mod rng;
mod table_model;
mod values;

pub use bytes::Bytes;
pub use rng::XorShift;
pub use table_model::{Checked, DropCounts, TableModel};
pub use values::{Drops, Item, Tracked};

/// Another thread with a registry record, parked until the witness is dropped (then the
/// thread exits and its record is free again). While one lives, no other thread is *alone*: a
/// value whose entry ends cannot be dropped inside the ending call, so it waits for a
/// reclamation pass.
pub struct Witness {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Witness {
    /// Starts the thread and returns once it is registered.
    pub fn new() -> Witness {
        let (stop, parked) = std::sync::mpsc::channel::<()>();
        let (ready, registered) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("witness".into())
            .spawn(move || {
                // Ending an entry claims this thread's record.
                let table = handles::HandleTable::new();
                table.revoke(table.insert(0u8)).unwrap();
                ready.send(()).unwrap();
                let _ = parked.recv();
            })
            .expect("spawn the witness thread");
        registered.recv().unwrap();
        Witness {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Default for Witness {
    fn default() -> Witness {
        Witness::new()
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Makes sure the process is never *alone* again: from the first call on, a [`Witness`] lives
/// for the rest of the process. Tests of passes, batches and `flush` call this first, so that
/// they do not depend on whether other tests happen to run at the same time.
pub fn not_alone() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| std::mem::forget(Witness::new()));
}
