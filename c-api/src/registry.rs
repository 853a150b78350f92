//! The process-wide registry: the one `HandleTable<Entry>` behind every `hdl_*` function, built
//! by its first user, and its leak report at exit (`HANDLES_LEAK_REPORT=1`).

use crate::entry::Entry;
use crate::init::InitGuard;
use crate::leak_report;
use handles::{HandleTable, ReclaimPolicy};
use std::sync::atomic::{AtomicBool, Ordering};

// The core crate's exit-hook plumbing: imported here and used nowhere else in this crate.
use handles::at_exit_if_enabled;

static REGISTRY: InitGuard<HandleTable<Entry>> = InitGuard::new();

/// The process-wide registry: one Acquire load once initialised.
#[inline(always)]
pub(crate) fn registry() -> &'static HandleTable<Entry> {
    REGISTRY.get_or_init(new_registry, |table| {
        table.set_reclaim_policy(policy_from_env().unwrap_or(ReclaimPolicy::Background));
    })
}

/// The policy `HANDLES_RECLAIM` names (`caller`, `background` or `explicit`), if set to one of
/// them; read once, when the registry is built.
fn policy_from_env() -> Option<ReclaimPolicy> {
    match std::env::var_os("HANDLES_RECLAIM")?.to_str()? {
        "caller" => Some(ReclaimPolicy::Caller),
        "background" => Some(ReclaimPolicy::Background),
        "explicit" => Some(ReclaimPolicy::Explicit),
        _ => None,
    }
}

/// Builds the registry (its init guard's initialiser) and, when `HANDLES_LEAK_REPORT=1`,
/// registers the leak report at exit once.
fn new_registry() -> Box<HandleTable<Entry>> {
    static HOOKED: AtomicBool = AtomicBool::new(false);
    if !HOOKED.swap(true, Ordering::AcqRel) {
        at_exit_if_enabled(Box::new(|| {
            let (text, count) = leak_report::text(registry());
            if count > 0 {
                leak_report::eprint(&text);
            }
        }));
    }
    Box::new(HandleTable::new_registry())
}
