//! The reference model of an entry's life, as the contract states it and independent of any
//! table: an entry is live with one (the owner's) reference; `retain` adds references; the
//! owner's `revoke` and each `release` drop one; the entry ends when the last one is gone, or
//! at once by `take`, which needs the owner's reference to be the only one and no borrow.
//! Every operation on an entry that is no longer live fails as stale (only `release` still
//! works on a revoked entry).
//!
//! [`Lifecycle`] keeps every entry a test or fuzz target made, in issue order, and answers
//! what each operation must return, updating the entries as the real operation does. The
//! model-based test and the `ops_model` fuzz target use it through
//! [`TableModel`](crate::TableModel) against a `HandleTable`; the `c_api` fuzz target uses it
//! directly against the C API's registry.

use handles::Error;
use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::hash::Hash;

/// Where an entry is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Lookups succeed; [`Entry::refs`] counts the owner's and retained references.
    Live,
    /// Revoked with references outstanding: only `release` works.
    Revoked,
    /// Ended (released to zero or revoked with no reference left): the table ends the value.
    Ended,
    /// Taken: the caller got the value back.
    Taken,
}

/// What the model knows about one entry.
#[derive(Debug)]
pub struct Entry<V> {
    /// What the caller records with the entry (at least the id of its value).
    pub value: V,
    /// Counted references: the owner's and retained ones (guards and scoped lookups do not
    /// count).
    pub refs: u32,
    /// Where the entry is in its life.
    pub state: State,
}

/// Every entry made, keyed by handle (`K`), with what the caller records for each (`V`).
#[derive(Debug)]
pub struct Lifecycle<K, V> {
    issued: Vec<K>,
    entries: HashMap<K, Entry<V>>,
    /// Position in `issued` of the next entry [`Lifecycle::sweep`] looks at.
    cursor: usize,
}

impl<K, V> Default for Lifecycle<K, V> {
    fn default() -> Self {
        Lifecycle {
            issued: Vec::new(),
            entries: HashMap::new(),
            cursor: 0,
        }
    }
}

impl<K: Copy + Eq + Hash + Debug, V> Lifecycle<K, V> {
    /// A model with no entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a new live entry with one reference; asserts its handle was never issued
    /// before.
    pub fn insert(&mut self, key: K, value: V) {
        assert!(!self.entries.contains_key(&key), "{key:?} issued twice");
        self.issued.push(key);
        self.entries.insert(
            key,
            Entry {
                value,
                refs: 1,
                state: State::Live,
            },
        );
    }

    /// Every handle issued, in order.
    pub fn issued(&self) -> &[K] {
        &self.issued
    }

    /// An issued handle chosen by `sel` (any number), or `None` before the first one.
    pub fn pick(&self, sel: usize) -> Option<K> {
        (!self.issued.is_empty()).then(|| self.issued[sel % self.issued.len()])
    }

    /// Whether `key` was issued.
    pub fn knows(&self, key: K) -> bool {
        self.entries.contains_key(&key)
    }

    /// The entry of an issued handle.
    ///
    /// # Panics
    ///
    /// If `key` was never issued.
    pub fn entry(&self, key: K) -> &Entry<V> {
        match self.entries.get(&key) {
            Some(e) => e,
            None => panic!("{key:?} was never issued"),
        }
    }

    /// Every entry, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (K, &Entry<V>)> {
        self.entries.iter().map(|(&k, e)| (k, e))
    }

    /// Whether `key` names a live entry.
    pub fn is_live(&self, key: K) -> bool {
        self.entries
            .get(&key)
            .is_some_and(|e| e.state == State::Live)
    }

    /// The live entries' handles.
    pub fn live(&self) -> HashSet<K> {
        self.entries
            .iter()
            .filter(|(_, e)| e.state == State::Live)
            .map(|(&k, _)| k)
            .collect()
    }

    /// How many entries are live.
    pub fn live_count(&self) -> usize {
        self.entries
            .values()
            .filter(|e| e.state == State::Live)
            .count()
    }

    fn entry_mut(&mut self, key: K) -> &mut Entry<V> {
        match self.entries.get_mut(&key) {
            Some(e) => e,
            None => panic!("{key:?} was never issued"),
        }
    }

    /// A lookup: the entry's value if it is live, `Stale` otherwise.
    pub fn lookup(&self, key: K) -> Result<&V, Error> {
        let e = self.entry(key);
        match e.state {
            State::Live => Ok(&e.value),
            _ => Err(Error::Stale),
        }
    }

    /// `retain`: one more reference to a live entry; `Stale` otherwise.
    pub fn retain(&mut self, key: K) -> Result<(), Error> {
        let e = self.entry_mut(key);
        match e.state {
            State::Live => {
                e.refs += 1;
                Ok(())
            }
            _ => Err(Error::Stale),
        }
    }

    /// `release`: one reference less to a live or revoked entry; whether it was the last (the
    /// entry ended). `Stale` for an ended or taken entry.
    pub fn release(&mut self, key: K) -> Result<bool, Error> {
        let e = self.entry_mut(key);
        match e.state {
            State::Live | State::Revoked => {
                e.refs -= 1;
                let last = e.refs == 0;
                if last {
                    e.state = State::Ended;
                }
                Ok(last)
            }
            State::Ended | State::Taken => Err(Error::Stale),
        }
    }

    /// `revoke`: the owner's reference of a live entry goes; the entry ends if it was the
    /// only one and is revoked otherwise. `Stale` for an entry that is not live.
    pub fn revoke(&mut self, key: K) -> Result<(), Error> {
        let e = self.entry_mut(key);
        match e.state {
            State::Live => {
                e.refs -= 1;
                e.state = if e.refs == 0 {
                    State::Ended
                } else {
                    State::Revoked
                };
                Ok(())
            }
            _ => Err(Error::Stale),
        }
    }

    /// `take`: a live entry whose only reference is the owner's, and that nothing `borrowed`,
    /// is taken; a live one with other references, or borrowed, is `Busy`; any other is
    /// `Stale`.
    pub fn take(&mut self, key: K, borrowed: bool) -> Result<(), Error> {
        let e = self.entry_mut(key);
        match e.state {
            State::Live if e.refs != 1 || borrowed => Err(Error::Busy),
            State::Live => {
                e.state = State::Taken;
                e.refs = 0;
                Ok(())
            }
            _ => Err(Error::Stale),
        }
    }

    /// Up to `n` live entries, looked for in issue order from where the last sweep stopped
    /// (each issued handle at most once): what a bulk revoke ends.
    pub fn sweep(&mut self, n: usize) -> Vec<K> {
        let mut found = Vec::new();
        let mut looked = 0;
        while found.len() < n && looked < self.issued.len() {
            let key = self.issued[self.cursor % self.issued.len()];
            self.cursor += 1;
            looked += 1;
            if self.is_live(key) {
                found.push(key);
            }
        }
        found
    }
}
