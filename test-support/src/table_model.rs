//! A `HandleTable` checked against the reference model ([`Lifecycle`]), one operation at a
//! time: every result must be the model's, and every value must be dropped exactly when the
//! model says. The model-based test (random operation sequences from proptest) and the
//! `ops_model` fuzz target (operations decoded from the input) drive it.

use crate::layout;
use crate::model::{Lifecycle, State};
use crate::values::{Drops, Tracked};
use handles::{Error, Guard, Handle, HandleTable};
use std::collections::HashSet;

/// Most guards held at once: more than the 4 inline hazard cells of a thread, and more than one
/// 16-cell overflow chunk. Past it, a lookup with a guard is a scoped lookup instead.
const MAX_GUARDS: usize = 24;

/// A table value the model can check.
pub trait Checked {
    /// Asserts the value has not been dropped (and, if it records the handle it was inserted
    /// under, that it belongs to `h`), then returns its id.
    fn checked(&self, h: Handle) -> usize;
}

impl Checked for Tracked {
    fn checked(&self, _: Handle) -> usize {
        self.check()
    }
}

/// Drop counts of the values of one run, by id.
pub trait DropCounts {
    /// How many times value `id` has been dropped.
    fn drops_of(&self, id: usize) -> usize;
}

impl DropCounts for Drops {
    fn drops_of(&self, id: usize) -> usize {
        self.of(id)
    }
}

/// A table, the model of its entries (each recorded with its value's id), and the guards held
/// across operations.
pub struct TableModel<'t, V: Send + Sync> {
    /// The table under test.
    pub table: &'t HandleTable<V>,
    /// The model of every entry the table issued.
    pub model: Lifecycle<Handle, usize>,
    drops: &'t dyn DropCounts,
    /// The table's tag, once it has issued a handle.
    tag: Option<u64>,
    guards: Vec<(Handle, Guard<'t, V>)>,
}

impl<'t, V: Checked + Send + Sync> TableModel<'t, V> {
    /// Checks `table`, whose values count their drops in `drops`, from its first insert on.
    pub fn new(table: &'t HandleTable<V>, drops: &'t dyn DropCounts) -> Self {
        TableModel {
            table,
            model: Lifecycle::new(),
            drops,
            tag: None,
            guards: Vec::new(),
        }
    }

    /// The table's tag, once it has issued a handle.
    pub fn tag(&self) -> Option<u64> {
        self.tag
    }

    /// Records the table's insert of value `id` under `h`: a new live entry, under the tag of
    /// the table's earlier handles.
    pub fn inserted(&mut self, h: Handle, id: usize) {
        let tag = layout::tag(h.into_raw());
        assert_eq!(*self.tag.get_or_insert(tag), tag, "tag changed");
        self.model.insert(h, id);
    }

    fn guarded(&self, h: Handle) -> bool {
        self.guards.iter().any(|(g, _)| *g == h)
    }

    /// A scoped lookup of an issued handle (and `contains`).
    pub fn with(&mut self, h: Handle) {
        let got = self.table.with(h, |v| v.checked(h));
        assert_eq!(got, self.model.lookup(h).copied(), "with {h:?}");
        self.contains(h);
    }

    /// A lookup with a guard, kept across later operations if it succeeds (a scoped lookup
    /// instead once [`MAX_GUARDS`] are held).
    pub fn get(&mut self, h: Handle) {
        if self.guards.len() >= MAX_GUARDS {
            return self.with(h);
        }
        match self.table.get(h) {
            Ok(guard) => {
                let want = self.model.lookup(h).copied();
                assert!(want.is_ok(), "get succeeded on {h:?}");
                assert_eq!(Ok(guard.checked(h)), want);
                self.guards.push((h, guard));
            }
            Err(err) => {
                assert!(!self.model.is_live(h), "get failed on live {h:?}: {err:?}");
                assert_eq!(err, Error::Stale, "get {h:?}");
            }
        }
    }

    /// Drops one of the held guards, chosen by `sel`, after checking its value is still there,
    /// whatever happened to the entry since.
    pub fn drop_guard(&mut self, sel: usize) {
        if self.guards.is_empty() {
            return;
        }
        let (h, guard) = self.guards.remove(sel % self.guards.len());
        assert_eq!(guard.checked(h), self.model.entry(h).value);
        drop(guard);
    }

    /// `retain`, or with `with_value` `retain_with` reading the value under the new reference.
    pub fn retain(&mut self, h: Handle, with_value: bool) {
        let got = if with_value {
            self.table.retain_with(h, |v| v.checked(h)).map(Some)
        } else {
            self.table.retain(h).map(|()| None)
        };
        let id = self.model.entry(h).value;
        let want = self.model.retain(h).map(|()| with_value.then_some(id));
        assert_eq!(got, want, "retain {h:?}");
    }

    /// `release`.
    pub fn release(&mut self, h: Handle) {
        let got = self.table.release(h);
        assert_eq!(got, self.model.release(h), "release {h:?}");
    }

    /// `revoke`.
    pub fn revoke(&mut self, h: Handle) {
        let got = self.table.revoke(h);
        assert_eq!(got, self.model.revoke(h), "remove {h:?}");
    }

    /// `take`: a taken value is checked and dropped here.
    pub fn take(&mut self, h: Handle) {
        let got = self.table.take(h);
        let want = self.model.take(h, self.guarded(h));
        let id = self.model.entry(h).value;
        match got {
            Ok(value) => {
                assert!(want.is_ok(), "take succeeded on {h:?}: model says {want:?}");
                assert_eq!(value.checked(h), id);
                drop(value);
                assert_eq!(self.drops.drops_of(id), 1);
            }
            Err(err) => assert_eq!(Err(err), want, "take {h:?}"),
        }
    }

    /// `contains`.
    pub fn contains(&self, h: Handle) {
        assert_eq!(
            self.table.contains(h),
            self.model.is_live(h),
            "contains {h:?}"
        );
    }

    /// The live count: `len`, `is_empty` and `stats().live`.
    pub fn live_count(&self) {
        let live = self.model.live_count();
        assert_eq!(self.table.len(), live);
        assert_eq!(self.table.is_empty(), live == 0);
        assert_eq!(self.table.stats().live, live);
    }

    /// `handles`: every live handle, once.
    pub fn handles(&self) {
        let got: Vec<Handle> = self.table.handles();
        let set: HashSet<Handle> = got.iter().copied().collect();
        assert_eq!(set.len(), got.len(), "duplicates in handles()");
        assert_eq!(set, self.model.live());
    }

    /// `flush`: it reports exactly the ended values a guard still borrows as waiting, and
    /// every other ended value has been dropped.
    pub fn flush(&mut self) {
        let waiting = self.table.flush();
        let borrowed: HashSet<Handle> = self
            .guards
            .iter()
            .map(|(h, _)| *h)
            .filter(|&h| self.model.entry(h).state == State::Ended)
            .collect();
        assert_eq!(waiting, borrowed.len(), "flush");
        assert_eq!(self.table.stats().pending_drops, waiting);
        self.check_drops(true);
    }

    /// Drop counts allowed now: live and revoked values never dropped, taken ones once (by
    /// [`TableModel::take`]), ended ones at most once, and never while a guard borrows them.
    /// `exact`: right after a flush, so every ended value that no guard borrows has been
    /// dropped.
    pub fn check_drops(&self, exact: bool) {
        for (h, e) in self.model.entries() {
            let got = self.drops.drops_of(e.value);
            let ok = match e.state {
                State::Live | State::Revoked => got == 0,
                State::Ended if self.guarded(h) => got == 0,
                State::Ended if exact => got == 1,
                State::Ended => got <= 1,
                State::Taken => got == 1,
            };
            assert!(ok, "{got} drops of {h:?} ({e:?}, exact {exact})");
        }
    }

    /// The error for a value the table never issued: `Invalid` under the table's own tag,
    /// `WrongTable` under any other (and before the table has a tag).
    pub fn never_issued(&self, raw: u64) -> Error {
        match self.tag {
            Some(tag) if layout::tag(raw) == tag => Error::Invalid,
            _ => Error::WrongTable,
        }
    }

    /// Every operation with a handle the table never issued fails with `want`, and changes
    /// nothing.
    pub fn unknown(&self, h: Handle, want: Error) {
        assert_eq!(self.table.with(h, |_| ()), Err(want), "with {h:?}");
        assert_eq!(self.table.get(h).map(drop), Err(want), "get {h:?}");
        assert_eq!(self.table.retain(h), Err(want), "retain {h:?}");
        assert_eq!(self.table.release(h), Err(want), "release {h:?}");
        assert_eq!(self.table.revoke(h), Err(want), "remove {h:?}");
        assert_eq!(self.table.take(h).err(), Some(want), "take {h:?}");
        assert!(!self.table.contains(h), "contains {h:?}");
    }

    /// Drops every guard, flushes, and checks that exactly the ended values were dropped and
    /// nothing is left waiting.
    pub fn finish(&mut self) {
        while !self.guards.is_empty() {
            self.drop_guard(0);
        }
        self.flush();
        assert_eq!(self.table.flush(), 0);
    }
}
