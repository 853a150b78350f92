//! Operation-sequence fuzzer for `HandleTable<T>`, checked against a reference model.
//!
//! The input bytes decode into a sequence of operations (insert, bulk insert, scoped lookups,
//! guards held across operations, retain, retain_with, release, remove, bulk remove, take,
//! contains, len, handles, flush) on handles the table issued, and on forged values: random
//! `u64`s, random fields under the table's own tag, issued handles with one bit flipped or with
//! their generation shifted, boundary values, and handles of a second table. Every result must
//! match the model exactly. Each value carries its id and the handle it was inserted under, so
//! a lookup that reaches another entry is caught, and counts its drops: after every flush,
//! exactly the ended values that no guard borrows have been dropped, once; after the table is
//! dropped, every value has been dropped exactly once.
//!
//! The first input byte may choose a tiny maximum generation, so that slot retirement is
//! exercised too. Bulk removes end more than 128 entries at once, which runs the automatic
//! reclamation passes between explicit flushes.

#![no_main]

use handles::{Error, Guard, Handle, HandleTable};
use libfuzzer_sys::fuzz_target;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The documented handle layout: `generation:26 | tag:10 | shard:6 | index:22`.
mod layout {
    pub const INDEX_BITS: u32 = 22;
    pub const SHARD_BITS: u32 = 6;
    pub const TAG_BITS: u32 = 10;
    pub const GEN_BITS: u32 = 26;
    pub const SHARD_SHIFT: u32 = INDEX_BITS;
    pub const TAG_SHIFT: u32 = SHARD_SHIFT + SHARD_BITS;
    pub const GEN_SHIFT: u32 = TAG_SHIFT + TAG_BITS;

    /// (generation, tag, shard, index) of a raw handle.
    pub fn fields(raw: u64) -> (u64, u64, u64, u64) {
        (
            raw >> GEN_SHIFT,
            (raw >> TAG_SHIFT) & ((1 << TAG_BITS) - 1),
            (raw >> SHARD_SHIFT) & ((1 << SHARD_BITS) - 1),
            raw & ((1 << INDEX_BITS) - 1),
        )
    }

    /// A raw handle from fields (each masked to its width).
    pub fn join(generation: u64, tag: u64, shard: u64, index: u64) -> u64 {
        ((generation & ((1 << GEN_BITS) - 1)) << GEN_SHIFT)
            | ((tag & ((1 << TAG_BITS) - 1)) << TAG_SHIFT)
            | ((shard & ((1 << SHARD_BITS) - 1)) << SHARD_SHIFT)
            | (index & ((1 << INDEX_BITS) - 1))
    }
}

/// Drop counts of every value of one run, by id.
#[derive(Default)]
struct DropLog(Mutex<Vec<u32>>);

impl DropLog {
    fn new_id(&self) -> u32 {
        let mut v = self.0.lock().unwrap();
        v.push(0);
        (v.len() - 1) as u32
    }

    fn of(&self, id: u32) -> u32 {
        self.0.lock().unwrap()[id as usize]
    }
}

/// A table value: its id, the handle it was inserted under, and where its drop is counted.
struct Value {
    id: u32,
    handle: AtomicU64,
    log: Arc<DropLog>,
}

impl Value {
    /// Asserts the value is not dropped and belongs to `h`; returns its id.
    fn check(&self, h: Handle) -> u32 {
        assert_eq!(
            self.log.of(self.id),
            0,
            "value {} read after its drop",
            self.id
        );
        let own = self.handle.load(Ordering::Relaxed);
        assert!(
            own == h.into_raw(),
            "lookup of {h:?} reached the entry of {own:#x}"
        );
        self.id
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        let mut v = self.log.0.lock().unwrap();
        v[self.id as usize] += 1;
        assert_eq!(v[self.id as usize], 1, "value {} dropped twice", self.id);
    }
}

#[path = "../common/bytes.rs"]
mod bytes;
use bytes::Bytes;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Live,
    Revoked,
    Ended,
    Taken,
}

#[derive(Debug)]
struct Entry {
    id: u32,
    refs: u32,
    state: State,
}

/// More guards than the inline hazard cells of a thread and than one overflow chunk.
const MAX_GUARDS: usize = 24;

struct Model<'t> {
    table: &'t HandleTable<Value>,
    other: &'t HandleTable<Value>,
    log: &'t Arc<DropLog>,
    /// The main table's tag, once it has issued a handle.
    tag: Option<u64>,
    issued: Vec<Handle>,
    entries: HashMap<Handle, Entry>,
    other_issued: Vec<(u32, Handle)>,
    guards: Vec<(Handle, Guard<'t, Value>)>,
    /// Position of the next entry a bulk remove looks at.
    cursor: usize,
}

impl<'t> Model<'t> {
    fn pick(&self, sel: u16) -> Option<Handle> {
        (!self.issued.is_empty()).then(|| self.issued[sel as usize % self.issued.len()])
    }

    fn is_live(&self, h: Handle) -> bool {
        self.entries.get(&h).is_some_and(|e| e.state == State::Live)
    }

    fn guarded(&self, h: Handle) -> bool {
        self.guards.iter().any(|(g, _)| *g == h)
    }

    fn new_value(&self) -> Value {
        Value {
            id: self.log.new_id(),
            handle: AtomicU64::new(0),
            log: Arc::clone(self.log),
        }
    }

    fn insert(&mut self) {
        let value = self.new_value();
        let id = value.id;
        let h = self.table.insert(value);
        assert!(!self.entries.contains_key(&h), "{h:?} issued twice");
        let tag = layout::fields(h.into_raw()).1;
        assert_eq!(*self.tag.get_or_insert(tag), tag, "tag changed");
        // Record the handle inside the value (a scoped lookup of a fresh handle must work).
        let seen = self.table.with(h, |v| {
            assert_eq!(v.handle.swap(h.into_raw(), Ordering::Relaxed), 0);
            v.id
        });
        assert_eq!(seen, Ok(id));
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

    fn with(&mut self, h: Handle) {
        let got = self.table.with(h, |v| v.check(h));
        let e = &self.entries[&h];
        if e.state == State::Live {
            assert_eq!(got, Ok(e.id), "with {h:?}");
        } else {
            assert_eq!(got, Err(Error::Stale), "with {h:?} ({e:?})");
        }
        assert_eq!(self.table.contains(h), self.is_live(h), "contains {h:?}");
    }

    fn get(&mut self, h: Handle) {
        if self.guards.len() >= MAX_GUARDS {
            return self.with(h);
        }
        match self.table.get(h) {
            Ok(guard) => {
                let e = &self.entries[&h];
                assert_eq!(e.state, State::Live, "get succeeded on {h:?}");
                assert_eq!(guard.check(h), e.id);
                self.guards.push((h, guard));
            }
            Err(err) => {
                assert!(!self.is_live(h), "get failed on live {h:?}: {err:?}");
                assert_eq!(err, Error::Stale, "get {h:?}");
            }
        }
    }

    fn drop_guard(&mut self, sel: u16) {
        if self.guards.is_empty() {
            return;
        }
        let (h, guard) = self.guards.remove(sel as usize % self.guards.len());
        // Still readable, whatever happened to the entry since.
        assert_eq!(guard.check(h), self.entries[&h].id);
        drop(guard);
    }

    fn retain(&mut self, h: Handle, with_value: bool) {
        let got = if with_value {
            self.table.retain_with(h, |v| v.check(h)).map(Some)
        } else {
            self.table.retain(h).map(|()| None)
        };
        let live = self.is_live(h);
        let e = self.entries.get_mut(&h).unwrap();
        if live {
            let want = with_value.then_some(e.id);
            assert_eq!(got, Ok(want), "retain {h:?}");
            e.refs += 1;
        } else {
            assert_eq!(got, Err(Error::Stale), "retain {h:?}");
        }
    }

    fn release(&mut self, h: Handle) {
        let got = self.table.release(h);
        let e = self.entries.get_mut(&h).unwrap();
        match e.state {
            State::Live | State::Revoked => {
                e.refs -= 1;
                let last = e.refs == 0;
                if last {
                    e.state = State::Ended;
                }
                assert_eq!(got, Ok(last), "release {h:?}");
            }
            State::Ended | State::Taken => assert_eq!(got, Err(Error::Stale), "release {h:?}"),
        }
    }

    fn remove(&mut self, h: Handle) {
        let got = self.table.revoke(h);
        let e = self.entries.get_mut(&h).unwrap();
        if e.state == State::Live {
            assert_eq!(got, Ok(()), "remove {h:?}");
            e.refs -= 1;
            e.state = if e.refs == 0 {
                State::Ended
            } else {
                State::Revoked
            };
        } else {
            assert_eq!(got, Err(Error::Stale), "remove {h:?}");
        }
    }

    /// Removes up to `n` live entries, in issue order from a moving cursor.
    fn remove_many(&mut self, n: usize) {
        let mut done = 0;
        let mut looked = 0;
        while done < n && looked < self.issued.len() {
            let h = self.issued[self.cursor % self.issued.len()];
            self.cursor += 1;
            looked += 1;
            if self.is_live(h) {
                self.remove(h);
                done += 1;
            }
        }
    }

    fn take(&mut self, h: Handle) {
        let got = self.table.take(h);
        let busy = self.entries[&h].refs != 1 || self.guarded(h);
        let live = self.is_live(h);
        match got {
            Ok(value) => {
                assert!(live && !busy, "take succeeded on {h:?}");
                let e = self.entries.get_mut(&h).unwrap();
                assert_eq!(value.check(h), e.id);
                e.state = State::Taken;
                e.refs = 0;
                drop(value);
                assert_eq!(self.log.of(e.id), 1);
            }
            Err(err) if live => {
                assert!(busy, "take failed on free {h:?}: {err:?}");
                assert_eq!(err, Error::Busy, "take {h:?}");
            }
            Err(err) => assert_eq!(err, Error::Stale, "take {h:?}"),
        }
    }

    fn live(&self) -> HashSet<Handle> {
        self.entries
            .iter()
            .filter(|(_, e)| e.state == State::Live)
            .map(|(&h, _)| h)
            .collect()
    }

    /// Drop counts allowed now. `exact`: right after a flush, so every ended value that no
    /// guard borrows has been dropped.
    fn check_drops(&self, exact: bool) {
        for (h, e) in &self.entries {
            let got = self.log.of(e.id);
            let ok = match e.state {
                State::Live | State::Revoked => got == 0,
                State::Ended if self.guarded(*h) => got == 0,
                State::Ended if exact => got == 1,
                State::Ended => got <= 1,
                State::Taken => got == 1,
            };
            assert!(ok, "{got} drops of {h:?} ({e:?}, exact {exact})");
        }
    }

    fn flush(&mut self) {
        let waiting = self.table.flush();
        let borrowed: HashSet<Handle> = self
            .guards
            .iter()
            .map(|(h, _)| *h)
            .filter(|h| self.entries[h].state == State::Ended)
            .collect();
        assert_eq!(waiting, borrowed.len(), "flush");
        assert_eq!(self.table.stats().pending_drops, waiting);
        self.check_drops(true);
    }

    fn len(&self) {
        let live = self.live().len();
        assert_eq!(self.table.len(), live);
        assert_eq!(self.table.is_empty(), live == 0);
        let stats = self.table.stats();
        assert_eq!(stats.live, live);
        // Memory bound: never more slots in use than entries ever issued.
        assert!(stats.slots >= live);
        self.check_drops(false);
    }

    /// Every operation with a value the table never issued must fail with `want`.
    fn unknown(&self, h: Handle, want: Error) {
        assert_eq!(self.table.with(h, |v| v.id), Err(want), "with {h:?}");
        assert_eq!(self.table.get(h).map(drop), Err(want), "get {h:?}");
        assert_eq!(self.table.retain(h), Err(want), "retain {h:?}");
        assert_eq!(
            self.table.retain_with(h, |v| v.id),
            Err(want),
            "retain_with {h:?}"
        );
        assert_eq!(self.table.release(h), Err(want), "release {h:?}");
        assert_eq!(self.table.revoke(h), Err(want), "remove {h:?}");
        assert_eq!(self.table.take(h).err(), Some(want), "take {h:?}");
        assert!(!self.table.contains(h), "contains {h:?}");
    }

    /// A raw value used as a handle of the main table.
    fn raw(&mut self, raw: u64, how: u8) {
        let Some(h) = Handle::from_raw(raw) else {
            assert_eq!(Handle::try_from(raw), Err(Error::Null));
            return;
        };
        if self.entries.contains_key(&h) {
            // A real handle after all: it must behave as that handle.
            return match how % 5 {
                0 => self.with(h),
                1 => self.retain(h, how & 8 != 0),
                2 => self.release(h),
                3 => self.take(h),
                _ => self.remove(h),
            };
        }
        let want = match self.tag {
            Some(tag) if layout::fields(raw).1 == tag => Error::Invalid,
            _ => Error::WrongTable,
        };
        self.unknown(h, want);
    }

    fn boundary(&mut self, k: u8) {
        const G: u64 = (1 << layout::GEN_BITS) - 1;
        const T: u64 = (1 << layout::TAG_BITS) - 1;
        const S: u64 = (1 << layout::SHARD_BITS) - 1;
        const I: u64 = (1 << layout::INDEX_BITS) - 1;
        let tag = self.tag.unwrap_or(1);
        let fixed = [0, 1, u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) - 1];
        let k = k as usize;
        let raw = if k < fixed.len() {
            fixed[k]
        } else {
            let k = k - fixed.len();
            let g = [0, 1, G][k % 3];
            let t = [tag, 0, T, 1][(k / 3) % 4];
            let s = [0, S, 1][(k / 12) % 3];
            let i = [0, I, 255, 256, 1 << 21][(k / 36) % 5];
            layout::join(g, t, s, i)
        };
        self.raw(raw, k as u8);
    }

    fn insert_other(&mut self) {
        let value = self.new_value();
        let id = value.id;
        let h = self.other.insert(value);
        self.other
            .with(h, |v| v.handle.store(h.into_raw(), Ordering::Relaxed))
            .unwrap();
        self.other_issued.push((id, h));
    }

    fn cross_table(&mut self, sel: u16) {
        if !self.other_issued.is_empty() {
            let (id, h) = self.other_issued[sel as usize % self.other_issued.len()];
            self.unknown(h, Error::WrongTable);
            assert_eq!(self.other.with(h, |v| v.check(h)), Ok(id));
        }
        if let Some(h) = self.pick(sel) {
            assert_eq!(self.other.with(h, |_| ()), Err(Error::WrongTable));
            assert_eq!(self.other.retain(h), Err(Error::WrongTable));
            assert_eq!(self.other.revoke(h), Err(Error::WrongTable));
            assert_eq!(self.other.release(h), Err(Error::WrongTable));
            assert_eq!(self.other.take(h).err(), Some(Error::WrongTable));
        }
    }

    fn step(&mut self, b: &mut Bytes) {
        let op = b.u8();
        match op % 22 {
            0 => self.insert(),
            1 => {
                for _ in 0..=(b.u8() % 64) {
                    self.insert();
                }
            }
            2 => {
                if let Some(h) = self.pick(b.u16()) {
                    self.with(h)
                }
            }
            3 => {
                if let Some(h) = self.pick(b.u16()) {
                    self.get(h)
                }
            }
            4 => self.drop_guard(b.u16()),
            5 | 6 => {
                if let Some(h) = self.pick(b.u16()) {
                    self.retain(h, op % 22 == 6)
                }
            }
            7 => {
                if let Some(h) = self.pick(b.u16()) {
                    self.release(h)
                }
            }
            8 => {
                if let Some(h) = self.pick(b.u16()) {
                    self.remove(h)
                }
            }
            9 => self.remove_many(b.u8() as usize + 1),
            10 => {
                if let Some(h) = self.pick(b.u16()) {
                    self.take(h)
                }
            }
            11 => {
                if let Some(h) = self.pick(b.u16()) {
                    assert_eq!(self.table.contains(h), self.is_live(h));
                }
            }
            12 => self.len(),
            13 => {
                let got = self.table.handles();
                let set: HashSet<Handle> = got.iter().copied().collect();
                assert_eq!(set.len(), got.len(), "duplicates in handles()");
                assert_eq!(set, self.live());
            }
            14 => self.flush(),
            15 => {
                let raw = b.u64();
                self.raw(raw, raw as u8)
            }
            16 => {
                let raw = b.u64();
                let (g, _, s, i) = layout::fields(raw);
                let tag = self.tag.unwrap_or(1);
                // Mostly small generations and indices, which land on real slots.
                let (g, i) = if op & 0x80 == 0 {
                    (g & 7, i & 0x3ff)
                } else {
                    (g, i)
                };
                self.raw(layout::join(g, tag, s, i), raw as u8)
            }
            17 => {
                let (sel, bit) = (b.u16(), b.u8());
                if let Some(h) = self.pick(sel) {
                    self.raw(h.into_raw() ^ (1 << (bit % 64)), bit)
                }
            }
            18 => {
                let (sel, delta) = (b.u16(), b.u8() as i8);
                if let Some(h) = self.pick(sel) {
                    let (g, t, s, i) = layout::fields(h.into_raw());
                    let g = g.wrapping_add_signed(i64::from(delta));
                    self.raw(layout::join(g, t, s, i), delta as u8)
                }
            }
            19 => self.insert_other(),
            20 => self.cross_table(b.u16()),
            _ => self.boundary(b.u8() % 186),
        }
    }

    /// Drops every guard, flushes, and checks that exactly the ended values were dropped.
    fn finish(&mut self) {
        while !self.guards.is_empty() {
            self.drop_guard(0);
        }
        self.flush();
        assert_eq!(self.table.flush(), 0);
        self.len();
    }
}

fuzz_target!(|data: &[u8]| {
    let mut bytes = Bytes(data);
    let first = bytes.u8();
    let log = Arc::new(DropLog::default());
    let table = if first & 3 == 0 {
        HandleTable::with_max_generation(u32::from(first >> 2) % 4)
    } else {
        HandleTable::new()
    };
    let other = HandleTable::new();
    {
        let mut model = Model {
            table: &table,
            other: &other,
            log: &log,
            tag: None,
            issued: Vec::new(),
            entries: HashMap::new(),
            other_issued: Vec::new(),
            guards: Vec::new(),
            cursor: 0,
        };
        let mut steps = 0;
        while !bytes.0.is_empty() && steps < 4096 {
            model.step(&mut bytes);
            steps += 1;
        }
        model.finish();
    }
    drop(table);
    drop(other);
    // Every value ever made was dropped exactly once (taken ones by the model).
    let counts = log.0.lock().unwrap();
    for (id, &n) in counts.iter().enumerate() {
        assert_eq!(n, 1, "value {id} dropped {n} times");
    }
});
