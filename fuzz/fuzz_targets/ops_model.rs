//! Operation-sequence fuzzer for `HandleTable<T>`, checked against the reference model
//! (`test_support::TableModel`, which the model-based test in `tests/` drives too).
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

use handles::{Error, Handle, HandleTable};
use libfuzzer_sys::fuzz_target;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use test_support::{Bytes, Checked, DropCounts, TableModel, layout};

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

impl Checked for Value {
    fn checked(&self, h: Handle) -> usize {
        self.check(h) as usize
    }
}

impl DropCounts for DropLog {
    fn drops_of(&self, id: usize) -> usize {
        self.of(id as u32) as usize
    }
}

/// One run: the main table checked against the model, and a second table.
struct Model<'t> {
    m: TableModel<'t, Value>,
    other: &'t HandleTable<Value>,
    log: &'t Arc<DropLog>,
    other_issued: Vec<(u32, Handle)>,
}

impl Model<'_> {
    fn pick(&self, sel: u16) -> Option<Handle> {
        self.m.model.pick(sel as usize)
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
        let h = self.m.table.insert(value);
        self.m.inserted(h, id as usize);
        // Record the handle inside the value (a scoped lookup of a fresh handle must work).
        let seen = self.m.table.with(h, |v| {
            assert_eq!(v.handle.swap(h.into_raw(), Ordering::Relaxed), 0);
            v.id
        });
        assert_eq!(seen, Ok(id));
    }

    /// Removes up to `n` live entries, in issue order from a moving cursor.
    fn remove_many(&mut self, n: usize) {
        for h in self.m.model.sweep(n) {
            self.m.revoke(h);
        }
    }

    /// The live count, the memory bound (never more slots in use than entries ever issued),
    /// and the drop counts allowed between flushes.
    fn len(&self) {
        self.m.live_count();
        assert!(self.m.table.stats().slots >= self.m.model.live_count());
        self.m.check_drops(false);
    }

    /// Every operation with a value the table never issued must fail with `want`.
    fn unknown(&self, h: Handle, want: Error) {
        self.m.unknown(h, want);
        assert_eq!(
            self.m.table.retain_with(h, |v| v.id),
            Err(want),
            "retain_with {h:?}"
        );
    }

    /// A raw value used as a handle of the main table.
    fn raw(&mut self, raw: u64, how: u8) {
        let Some(h) = Handle::from_raw(raw) else {
            assert_eq!(Handle::try_from(raw), Err(Error::Null));
            return;
        };
        if self.m.model.knows(h) {
            // A real handle after all: it must behave as that handle.
            return match how % 5 {
                0 => self.m.with(h),
                1 => self.m.retain(h, how & 8 != 0),
                2 => self.m.release(h),
                3 => self.m.take(h),
                _ => self.m.revoke(h),
            };
        }
        let want = self.m.never_issued(raw);
        self.unknown(h, want);
    }

    fn boundary(&mut self, k: u8) {
        const G: u64 = layout::GEN_MASK;
        const T: u64 = layout::TAG_MASK;
        const S: u64 = layout::SHARD_MASK;
        const I: u64 = layout::INDEX_MASK;
        let tag = self.m.tag().unwrap_or(1);
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
                    self.m.with(h)
                }
            }
            3 => {
                if let Some(h) = self.pick(b.u16()) {
                    self.m.get(h)
                }
            }
            4 => self.m.drop_guard(b.u16() as usize),
            5 | 6 => {
                if let Some(h) = self.pick(b.u16()) {
                    self.m.retain(h, op % 22 == 6)
                }
            }
            7 => {
                if let Some(h) = self.pick(b.u16()) {
                    self.m.release(h)
                }
            }
            8 => {
                if let Some(h) = self.pick(b.u16()) {
                    self.m.revoke(h)
                }
            }
            9 => self.remove_many(b.u8() as usize + 1),
            10 => {
                if let Some(h) = self.pick(b.u16()) {
                    self.m.take(h)
                }
            }
            11 => {
                if let Some(h) = self.pick(b.u16()) {
                    self.m.contains(h);
                }
            }
            12 => self.len(),
            13 => self.m.handles(),
            14 => self.m.flush(),
            15 => {
                let raw = b.u64();
                self.raw(raw, raw as u8)
            }
            16 => {
                let raw = b.u64();
                let (g, _, s, i) = layout::fields(raw);
                let tag = self.m.tag().unwrap_or(1);
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
        self.m.finish();
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
            m: TableModel::new(&table, &*log),
            other: &other,
            log: &log,
            other_issued: Vec::new(),
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
