//! Model-based property test: random sequences of table operations
//! (insert, scoped lookups, guards held across operations, retain, release, remove, take,
//! contains, len, handles, flush, forged and stale handles, handles of a second table) run
//! against `HandleTable` and against a plain reference model; every result must match, and
//! every value must be dropped exactly once, at the time the model says.
//!
//! Besides the contract, the model relies on the documented handle layout (`test_support::layout`),
//! to forge handles that carry the table's own tag.

use handles::{Error, Guard, Handle, HandleTable};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use test_support::{Drops, Tracked, layout};

/// Most guards the test holds at once (more than the 4 inline hazard cells of a thread, and
/// more than one 16-cell overflow chunk).
const MAX_GUARDS: usize = 24;

#[derive(Clone, Debug)]
enum Op {
    Insert,
    /// Scoped lookup of a known handle (live, revoked or ended), chosen by index.
    With(usize),
    /// Take a guard and keep it across later operations.
    Get(usize),
    /// Drop one of the held guards.
    DropGuard(usize),
    Retain(usize),
    Release(usize),
    Remove(usize),
    Take(usize),
    Contains(usize),
    Len,
    Handles,
    Flush,
    /// Any u64, used as a handle for every operation.
    Forged(u64),
    /// Any u64 with the main table's tag put into the tag field.
    ForgedOwnTag(u64),
    /// A known handle with some bits flipped.
    Flipped(usize, u64),
    /// Insert into the second table.
    InsertOther,
    /// Use a handle of the second table on the main table (and the reverse).
    CrossTable(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let sel = any::<usize>();
    prop_oneof![
        6 => Just(Op::Insert),
        5 => sel.prop_map(Op::With),
        3 => sel.prop_map(Op::Get),
        3 => sel.prop_map(Op::DropGuard),
        3 => sel.prop_map(Op::Retain),
        4 => sel.prop_map(Op::Release),
        4 => sel.prop_map(Op::Remove),
        2 => sel.prop_map(Op::Take),
        1 => sel.prop_map(Op::Contains),
        1 => Just(Op::Len),
        1 => Just(Op::Handles),
        2 => Just(Op::Flush),
        1 => prop_oneof![
            any::<u64>(),
            Just(1u64),
            Just(u64::MAX),
            Just(u64::MAX >> 1),
            Just(1u64 << 63)
        ]
        .prop_map(Op::Forged),
        1 => any::<u64>().prop_map(Op::ForgedOwnTag),
        2 => (sel, (0..64u32).prop_map(|b| 1u64 << b)).prop_map(|(s, m)| Op::Flipped(s, m)),
        1 => Just(Op::InsertOther),
        1 => sel.prop_map(Op::CrossTable),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Lookups succeed; `refs` counts the owner's and retained references.
    Live,
    /// Removed with references outstanding: only `release` works.
    Revoked,
    /// Ended (released to zero or removed); the table drops the value.
    Ended,
    /// Taken: the test got the value and dropped it.
    Taken,
}

#[derive(Debug)]
struct Entry {
    id: usize,
    /// Counted references: the owner's and retained ones. Guards do not count.
    refs: u32,
    state: State,
}

struct Held<'t> {
    handle: Handle,
    guard: Guard<'t, Tracked>,
}

struct Model<'t> {
    table: &'t HandleTable<Tracked>,
    other: &'t HandleTable<Tracked>,
    drops: &'t Drops,
    tag: u64,
    next_id: usize,
    /// Every handle the main table issued, in order.
    issued: Vec<Handle>,
    entries: HashMap<Handle, Entry>,
    other_handles: Vec<(usize, Handle)>,
    guards: Vec<Held<'t>>,
}

impl<'t> Model<'t> {
    fn pick(&self, sel: usize) -> Option<Handle> {
        (!self.issued.is_empty()).then(|| self.issued[sel % self.issued.len()])
    }

    fn guarded(&self, h: Handle) -> bool {
        self.guards.iter().any(|g| g.handle == h)
    }

    fn insert(&mut self) {
        let id = self.next_id;
        self.next_id += 1;
        let h = self.table.insert(self.drops.value(id));
        assert!(!self.entries.contains_key(&h), "{h:?} issued twice");
        assert_eq!(layout::fields(h.into_raw()).1, self.tag, "tag changed");
        self.issued.push(h);
        self.entries.insert(
            h,
            Entry {
                id,
                refs: 1,
                state: State::Live,
            },
        );
    }

    /// The error every operation but `release` gets for a known, not-live handle.
    fn not_live(&self, h: Handle) -> Error {
        match self.entries[&h].state {
            State::Live => unreachable!(),
            _ => Error::Stale,
        }
    }

    /// Drops a reference in the model; returns whether it was the last.
    fn unref(&mut self, h: Handle) -> bool {
        let e = self.entries.get_mut(&h).unwrap();
        assert!(matches!(e.state, State::Live | State::Revoked));
        e.refs -= 1;
        if e.refs == 0 {
            e.state = State::Ended;
            true
        } else {
            false
        }
    }

    fn with(&mut self, h: Handle) {
        let got = self.table.with(h, |v| v.check());
        match self.entries.get(&h) {
            Some(e) if e.state == State::Live => assert_eq!(got, Ok(e.id), "with {h:?}"),
            Some(_) => assert_eq!(got, Err(self.not_live(h)), "with {h:?}"),
            None => unreachable!(),
        }
        assert_eq!(self.table.contains(h), self.is_live(h));
    }

    fn is_live(&self, h: Handle) -> bool {
        self.entries.get(&h).is_some_and(|e| e.state == State::Live)
    }

    fn get(&mut self, h: Handle) {
        if self.guards.len() >= MAX_GUARDS {
            return self.with(h);
        }
        match self.table.get(h) {
            Ok(guard) => {
                let e = &self.entries[&h];
                assert_eq!(e.state, State::Live, "get succeeded on {h:?}");
                assert_eq!(guard.check(), e.id);
                self.guards.push(Held { handle: h, guard });
            }
            Err(err) => {
                assert!(!self.is_live(h), "get failed on live {h:?}: {err:?}");
                assert_eq!(err, self.not_live(h));
            }
        }
    }

    fn drop_guard(&mut self, sel: usize) {
        if self.guards.is_empty() {
            return;
        }
        let held = self.guards.remove(sel % self.guards.len());
        // The value is still there, whatever happened to the entry since.
        assert_eq!(held.guard.check(), self.entries[&held.handle].id);
        drop(held.guard);
    }

    fn retain(&mut self, h: Handle) {
        let got = self.table.retain(h);
        if self.is_live(h) {
            assert_eq!(got, Ok(()), "retain {h:?}");
            self.entries.get_mut(&h).unwrap().refs += 1;
        } else {
            assert_eq!(got, Err(self.not_live(h)), "retain {h:?}");
        }
    }

    fn release(&mut self, h: Handle) {
        let got = self.table.release(h);
        match self.entries[&h].state {
            State::Live | State::Revoked => {
                let last = self.unref(h);
                assert_eq!(got, Ok(last), "release {h:?}");
            }
            _ => assert_eq!(got, Err(Error::Stale), "release {h:?}"),
        }
    }

    fn remove(&mut self, h: Handle) {
        let got = self.table.revoke(h);
        if self.is_live(h) {
            assert_eq!(got, Ok(()), "remove {h:?}");
            let e = self.entries.get_mut(&h).unwrap();
            e.refs -= 1;
            e.state = if e.refs == 0 {
                State::Ended
            } else {
                State::Revoked
            };
        } else {
            assert_eq!(got, Err(self.not_live(h)), "remove {h:?}");
        }
    }

    fn take(&mut self, h: Handle) {
        let got = self.table.take(h);
        let busy = self.entries[&h].refs != 1 || self.guarded(h);
        match got {
            Ok(value) => {
                assert!(self.is_live(h) && !busy, "take succeeded on {h:?}");
                let e = self.entries.get_mut(&h).unwrap();
                assert_eq!(value.check(), e.id);
                e.state = State::Taken;
                e.refs = 0;
                drop(value);
                assert_eq!(self.drops.of(self.entries[&h].id), 1);
            }
            Err(err) if self.is_live(h) => {
                assert!(busy, "take failed on free {h:?}: {err:?}");
                assert_eq!(err, Error::Busy);
            }
            Err(err) => assert_eq!(err, self.not_live(h), "take {h:?}"),
        }
    }

    fn live(&self) -> HashSet<Handle> {
        self.entries
            .iter()
            .filter(|(_, e)| e.state == State::Live)
            .map(|(&h, _)| h)
            .collect()
    }

    /// Ended entries that a guard still borrows.
    fn borrowed_ended(&self) -> usize {
        let guarded: HashSet<Handle> = self.guards.iter().map(|g| g.handle).collect();
        guarded
            .iter()
            .filter(|h| self.entries[h].state == State::Ended)
            .count()
    }

    fn flush(&mut self) {
        let waiting = self.table.flush();
        assert_eq!(waiting, self.borrowed_ended(), "flush");
        assert_eq!(self.table.stats().pending_drops, waiting);
        self.check_drops();
    }

    /// After a flush: ended values are dropped unless a guard borrows them; taken values were
    /// dropped by the test; nothing else is dropped.
    fn check_drops(&self) {
        for (h, e) in &self.entries {
            let want = match e.state {
                State::Live | State::Revoked => 0,
                State::Ended => usize::from(!self.guarded(*h)),
                State::Taken => 1,
            };
            assert_eq!(self.drops.of(e.id), want, "drops of {h:?} ({e:?})");
        }
    }

    /// Every operation with a handle the model has never seen.
    fn unknown(&mut self, h: Handle, want: Error) {
        assert_eq!(self.table.with(h, |v| v.id), Err(want), "with {h:?}");
        assert_eq!(self.table.get(h).map(drop), Err(want), "get {h:?}");
        assert_eq!(self.table.retain(h), Err(want), "retain {h:?}");
        assert_eq!(self.table.release(h), Err(want), "release {h:?}");
        assert_eq!(self.table.revoke(h), Err(want), "remove {h:?}");
        assert_eq!(self.table.take(h).err(), Some(want), "take {h:?}");
        assert!(!self.table.contains(h));
    }

    /// A raw value used as a handle of the main table.
    fn raw(&mut self, raw: u64, mutate: usize) {
        let Some(h) = Handle::from_raw(raw) else {
            assert_eq!(Handle::try_from(raw), Err(Error::Null));
            return;
        };
        if self.entries.contains_key(&h) {
            // It is a real handle after all: any operation must behave as for that handle.
            return match mutate % 4 {
                0 => self.with(h),
                1 => self.retain(h),
                2 => self.release(h),
                _ => self.remove(h),
            };
        }
        // Every handle the table ever issued is in `entries`; a value with the table's tag that
        // is not there was never issued, and a value with another tag is foreign.
        let want = if layout::fields(raw).1 == self.tag {
            Error::Invalid
        } else {
            Error::WrongTable
        };
        self.unknown(h, want);
    }

    fn insert_other(&mut self) {
        let id = self.next_id;
        self.next_id += 1;
        let h = self.other.insert(self.drops.value(id));
        self.other_handles.push((id, h));
    }

    fn cross_table(&mut self, sel: usize) {
        if !self.other_handles.is_empty() {
            let (id, h) = self.other_handles[sel % self.other_handles.len()];
            self.unknown(h, Error::WrongTable);
            assert_eq!(self.other.with(h, |v| v.check()), Ok(id));
        }
        if let Some(h) = self.pick(sel) {
            assert_eq!(self.other.with(h, |_| ()), Err(Error::WrongTable));
            assert_eq!(self.other.revoke(h), Err(Error::WrongTable));
            assert_eq!(self.other.release(h), Err(Error::WrongTable));
        }
    }

    fn run(&mut self, op: &Op) {
        match *op {
            Op::Insert => self.insert(),
            Op::With(s) => {
                if let Some(h) = self.pick(s) {
                    self.with(h)
                }
            }
            Op::Get(s) => {
                if let Some(h) = self.pick(s) {
                    self.get(h)
                }
            }
            Op::DropGuard(s) => self.drop_guard(s),
            Op::Retain(s) => {
                if let Some(h) = self.pick(s) {
                    self.retain(h)
                }
            }
            Op::Release(s) => {
                if let Some(h) = self.pick(s) {
                    self.release(h)
                }
            }
            Op::Remove(s) => {
                if let Some(h) = self.pick(s) {
                    self.remove(h)
                }
            }
            Op::Take(s) => {
                if let Some(h) = self.pick(s) {
                    self.take(h)
                }
            }
            Op::Contains(s) => {
                if let Some(h) = self.pick(s) {
                    assert_eq!(self.table.contains(h), self.is_live(h));
                }
            }
            Op::Len => {
                let live = self.live().len();
                assert_eq!(self.table.len(), live);
                assert_eq!(self.table.is_empty(), live == 0);
                assert_eq!(self.table.stats().live, live);
            }
            Op::Handles => {
                let got: Vec<Handle> = self.table.handles();
                let set: HashSet<Handle> = got.iter().copied().collect();
                assert_eq!(set.len(), got.len(), "duplicates in handles()");
                assert_eq!(set, self.live());
            }
            Op::Flush => self.flush(),
            Op::Forged(raw) => self.raw(raw, raw as usize),
            Op::ForgedOwnTag(raw) => {
                let (g, _, s, i) = layout::fields(raw);
                self.raw(layout::join(g, self.tag, s, i), raw as usize)
            }
            Op::Flipped(s, mask) => {
                if let Some(h) = self.pick(s) {
                    self.raw(h.into_raw() ^ mask, mask.trailing_zeros() as usize)
                }
            }
            Op::InsertOther => self.insert_other(),
            Op::CrossTable(s) => self.cross_table(s),
        }
    }

    /// Drops every guard, flushes, and checks that exactly the ended values were dropped.
    fn finish(&mut self) {
        while !self.guards.is_empty() {
            self.drop_guard(0);
        }
        self.flush();
        assert_eq!(self.table.flush(), 0);
    }
}

fn run(ops: &[Op]) {
    let drops = Drops::new(ops.len() + 2);
    let table = HandleTable::new();
    let other = HandleTable::new();
    // Give both tables their tags now, so the model knows the main one.
    let first = table.insert(drops.value(0));
    let first_other = other.insert(drops.value(1));
    let tag = layout::fields(first.into_raw()).1;
    assert_ne!(tag, layout::fields(first_other.into_raw()).1);
    let used = {
        let mut model = Model {
            table: &table,
            other: &other,
            drops: &drops,
            tag,
            next_id: 2,
            issued: vec![first],
            entries: HashMap::from([(
                first,
                Entry {
                    id: 0,
                    refs: 1,
                    state: State::Live,
                },
            )]),
            other_handles: vec![(1, first_other)],
            guards: Vec::new(),
        };
        for op in ops {
            model.run(op);
        }
        model.finish();
        model.next_id
    };
    drop(table);
    drop(other);
    drops.assert_exactly(0..used);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    })]

    #[test]
    fn table_matches_model(ops in prop::collection::vec(op(), 1..160)) {
        run(&ops);
    }
}

/// A fixed sequence through every branch, so a broken model shows up without proptest luck.
#[test]
fn model_smoke() {
    use Op::*;
    let ops = [
        Insert,
        Insert,
        Insert,
        Get(0),
        Get(1),
        Get(2),
        Get(0),
        Get(1),
        Get(2),
        Retain(1),
        Remove(0),
        Take(2),
        Release(1),
        Flush,
        With(0),
        Take(1),
        DropGuard(0),
        Remove(1),
        Release(1),
        Flush,
        DropGuard(0),
        DropGuard(0),
        DropGuard(0),
        DropGuard(0),
        Flush,
        Take(2),
        Take(3),
        Forged(1),
        Forged(u64::MAX),
        ForgedOwnTag(12345),
        Flipped(0, 1 << 40),
        InsertOther,
        CrossTable(0),
        Len,
        Handles,
        Insert,
        Flush,
        Take(4),
    ];
    run(&ops);
}
