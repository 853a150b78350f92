//! The `debug-backtrace` side table: per slot, the backtraces of its latest occupant's insert
//! and of the call that ended it (revoke, last release, or take). Compiled only with the
//! feature; without it no field, no call and no capture exists.
//!
//! It is a map behind a `Mutex`, touched by inserts, by the calls that end entries, and by
//! diagnostics, never by lookups, and held only for a map operation (backtraces are captured
//! before locking and dropped after unlocking; no user code runs under it). This is a debugging
//! aid: capturing a backtrace costs tens of microseconds, and it is **not fork-safe**: a
//! `fork()` while another thread holds this lock, or the standard library's backtrace lock,
//! leaves that lock held in the child, whose next insert or end then hangs (the fork test of
//! `tests/` shows it, so CI runs only the diagnostics tests with the feature).

use crate::handle::{Handle, INDEX_BITS};
use std::backtrace::Backtrace;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Default)]
struct SlotTrace {
    /// Generation of the occupant `created` belongs to.
    created_gen: u32,
    created: Option<Arc<Backtrace>>,
    /// Generation of the occupant `ended` belongs to.
    ended_gen: u32,
    ended: Option<Arc<Backtrace>>,
}

/// Backtraces per slot, keyed by `shard << INDEX_BITS | index`.
pub(crate) struct Traces {
    map: Mutex<BTreeMap<u64, SlotTrace>>,
}

fn key(handle: Handle) -> u64 {
    ((handle.shard() as u64) << INDEX_BITS) | handle.index()
}

impl Traces {
    pub(crate) const fn new() -> Traces {
        Traces {
            map: Mutex::new(BTreeMap::new()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<u64, SlotTrace>) -> R) -> R {
        f(&mut self.map.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Records where `handle`'s occupant was inserted (called before it is published).
    pub(crate) fn created(&self, handle: Handle) {
        let bt = Some(Arc::new(Backtrace::force_capture()));
        let old = self.with(|m| {
            let t = m.entry(key(handle)).or_default();
            t.created_gen = handle.generation();
            let old = (core::mem::replace(&mut t.created, bt), t.ended.take());
            t.ended_gen = 0;
            old
        });
        drop(old); // outside the lock
    }

    /// Records where `handle`'s occupant was revoked, released for the last time, or taken.
    /// A revoke is kept: the final release of a revoked entry does not overwrite it.
    pub(crate) fn ended(&self, handle: Handle, keep_existing: bool) {
        let bt = Arc::new(Backtrace::force_capture());
        let old = self.with(|m| {
            let t = m.entry(key(handle)).or_default();
            if keep_existing && t.ended.is_some() && t.ended_gen == handle.generation() {
                return None;
            }
            t.ended_gen = handle.generation();
            t.ended.replace(bt)
        });
        drop(old);
    }

    /// The backtraces recorded for `handle`'s own occupant: (insert, end if `ended`).
    pub(crate) fn get(
        &self,
        handle: Handle,
        ended: bool,
    ) -> (Option<Arc<Backtrace>>, Option<Arc<Backtrace>>) {
        let g = handle.generation();
        self.with(|m| match m.get(&key(handle)) {
            Some(t) => (
                t.created.clone().filter(|_| t.created_gen == g),
                t.ended.clone().filter(|_| ended && t.ended_gen == g),
            ),
            None => (None, None),
        })
    }
}
