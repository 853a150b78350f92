//! Model-based property test: random sequences of table operations
//! (insert, scoped lookups, guards held across operations, retain, release, remove, take,
//! contains, len, handles, flush, forged and stale handles, handles of a second table) run
//! against `HandleTable` and against the reference model (`test_support::model`, checked
//! operation by operation by `test_support::TableModel`); every result must match, and every
//! value must be dropped exactly once, at the time the model says.
//!
//! Besides the contract, the model relies on the documented handle layout
//! (`test_support::layout`), to forge handles that carry the table's own tag.

use handles::{Error, Handle, HandleTable, ReclaimPolicy};
use proptest::prelude::*;
use test_support::{Drops, TableModel, Tracked, layout};

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

struct Model<'t> {
    /// The main table, checked against the model.
    m: TableModel<'t, Tracked>,
    other: &'t HandleTable<Tracked>,
    drops: &'t Drops,
    next_id: usize,
    other_handles: Vec<(usize, Handle)>,
}

impl Model<'_> {
    fn insert(&mut self) {
        let id = self.next_id;
        self.next_id += 1;
        let h = self.m.table.insert(self.drops.value(id));
        self.m.inserted(h, id);
    }

    /// A raw value used as a handle of the main table.
    fn raw(&mut self, raw: u64, mutate: usize) {
        let Some(h) = Handle::from_raw(raw) else {
            assert_eq!(Handle::try_from(raw), Err(Error::Null));
            return;
        };
        if self.m.model.knows(h) {
            // It is a real handle after all: any operation must behave as for that handle.
            return match mutate % 4 {
                0 => self.m.with(h),
                1 => self.m.retain(h, false),
                2 => self.m.release(h),
                _ => self.m.revoke(h),
            };
        }
        // Every handle the table ever issued is in the model; a value with the table's tag that
        // is not there was never issued, and a value with another tag is foreign.
        let want = self.m.never_issued(raw);
        self.m.unknown(h, want);
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
            self.m.unknown(h, Error::WrongTable);
            assert_eq!(self.other.with(h, |v| v.check()), Ok(id));
        }
        if let Some(h) = self.pick(sel) {
            assert_eq!(self.other.with(h, |_| ()), Err(Error::WrongTable));
            assert_eq!(self.other.revoke(h), Err(Error::WrongTable));
            assert_eq!(self.other.release(h), Err(Error::WrongTable));
        }
    }

    fn pick(&self, sel: usize) -> Option<Handle> {
        self.m.model.pick(sel)
    }

    fn run(&mut self, op: &Op) {
        match *op {
            Op::Insert => self.insert(),
            Op::With(s) => {
                if let Some(h) = self.pick(s) {
                    self.m.with(h)
                }
            }
            Op::Get(s) => {
                if let Some(h) = self.pick(s) {
                    self.m.get(h)
                }
            }
            Op::DropGuard(s) => self.m.drop_guard(s),
            Op::Retain(s) => {
                if let Some(h) = self.pick(s) {
                    self.m.retain(h, false)
                }
            }
            Op::Release(s) => {
                if let Some(h) = self.pick(s) {
                    self.m.release(h)
                }
            }
            Op::Remove(s) => {
                if let Some(h) = self.pick(s) {
                    self.m.revoke(h)
                }
            }
            Op::Take(s) => {
                if let Some(h) = self.pick(s) {
                    self.m.take(h)
                }
            }
            Op::Contains(s) => {
                if let Some(h) = self.pick(s) {
                    self.m.contains(h)
                }
            }
            Op::Len => self.m.live_count(),
            Op::Handles => self.m.handles(),
            Op::Flush => self.m.flush(),
            Op::Forged(raw) => self.raw(raw, raw as usize),
            Op::ForgedOwnTag(raw) => {
                let (g, _, s, i) = layout::fields(raw);
                let tag = self.m.tag().expect("the table's first handle gave its tag");
                self.raw(layout::join(g, tag, s, i), raw as usize)
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
}

/// The table a run uses: a fresh one either way. With the default policy it is dropped at the
/// end, which drops what is still live; the other policies need a table that lives for the
/// whole program, so that one is leaked (it keeps its tag, which bounds how many runs use one)
/// and emptied at the end instead.
enum Subject {
    Fresh(Box<HandleTable<Tracked>>),
    Static(&'static HandleTable<Tracked>),
}

impl Subject {
    fn new(policy: ReclaimPolicy) -> Subject {
        if policy == ReclaimPolicy::Caller {
            return Subject::Fresh(Box::new(HandleTable::new()));
        }
        let table: &'static HandleTable<Tracked> = Box::leak(Box::new(HandleTable::new()));
        table.set_reclaim_policy(policy);
        Subject::Static(table)
    }

    fn table(&self) -> &HandleTable<Tracked> {
        match self {
            Subject::Fresh(table) => table,
            Subject::Static(table) => table,
        }
    }

    /// Ends every entry of `issued` still live or revoked-but-referenced, and drops what the
    /// table holds, as dropping a table does.
    fn finish(self, issued: &[Handle]) {
        if let Subject::Static(table) = self {
            for &h in issued {
                // Drops the references the model still holds; the last one ends the entry.
                while table.release(h) == Ok(false) {}
            }
            while table.flush() > 0 {
                std::thread::yield_now();
            }
            assert!(table.is_empty());
        }
    }
}

const POLICIES: [ReclaimPolicy; 3] = [
    ReclaimPolicy::Caller,
    ReclaimPolicy::Background,
    ReclaimPolicy::Explicit,
];

/// The deferred policies, where ended values wait for the background thread or for `flush`.
const DEFERRED: [ReclaimPolicy; 2] = [ReclaimPolicy::Background, ReclaimPolicy::Explicit];

fn run(ops: &[Op], policy: ReclaimPolicy) {
    let drops = Drops::new(ops.len() + 2);
    let subject = Subject::new(policy);
    let table = subject.table();
    let other = HandleTable::new();
    // Give both tables their tags now, so the model knows the main one.
    let first = table.insert(drops.value(0));
    let first_other = other.insert(drops.value(1));
    let tag = layout::fields(first.into_raw()).1;
    assert_ne!(tag, layout::fields(first_other.into_raw()).1);
    let (used, issued) = {
        let mut model = Model {
            m: TableModel::new(table, &drops),
            other: &other,
            drops: &drops,
            next_id: 2,
            other_handles: vec![(1, first_other)],
        };
        model.m.inserted(first, 0);
        for op in ops {
            model.run(op);
        }
        model.m.finish();
        (model.next_id, model.m.model.issued().to_vec())
    };
    subject.finish(&issued);
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
        test_support::not_alone();
        run(&ops, ReclaimPolicy::Caller);
    }
}

proptest! {
    // Each case leaks one table (and its tag): 2 x 64 cases stay far below the 1,022 tags.
    #![proptest_config(ProptestConfig {
        cases: 64,
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    })]

    /// The same model under the background and explicit policies: every value dropped exactly
    /// when the model says, whichever thread drops it.
    #[test]
    fn table_matches_model_under_deferred_policies(
        ops in prop::collection::vec(op(), 1..160),
        policy in 0..2usize,
    ) {
        test_support::not_alone();
        run(&ops, DEFERRED[policy]);
    }
}

/// A fixed sequence through every branch, so a broken model shows up without proptest luck.
#[test]
fn model_smoke() {
    test_support::not_alone();
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
    for policy in POLICIES {
        run(&ops, policy);
    }
}
