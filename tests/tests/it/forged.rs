//! Forged handles: about 2 million random and adversarial `u64`s (random
//! bits, random fields with the table's own tag, every single-bit flip of every valid handle,
//! handles of another table, stale and future generations, boundary values) against a
//! populated table. None may crash, none may reach an entry other than the one it names (every
//! value records its own handle and each successful lookup checks it), and each failure must
//! be classified exactly: another tag is `WrongTable`, an ended entry `Stale`, anything never
//! issued `Invalid`, 0 `Null`.
//!
//! `sweep_at_scale` repeats all of these classes on every core for `HANDLES_FORGED_COUNT`
//! values (default 8 million; `scripts/long-checks.sh` runs 10^9).

use handles::{Error, Handle, HandleTable};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use test_support::{Drops, Item, XorShift, layout};

/// A populated table and everything known about the handles it issued.
struct Populated {
    table: HandleTable<Item>,
    drops: Drops,
    tag: u64,
    /// Live handles and their value ids.
    live: HashMap<u64, usize>,
    /// Every handle the table issued (live or ended).
    issued: HashSet<u64>,
}

/// Fills a table from several threads (so entries spread over shards), with slots reused
/// several times (generations > 0), some entries revoked with references outstanding, some
/// ended but not yet reclaimed.
fn populate(threads: usize, per_thread: usize) -> Populated {
    let drops = Drops::new(threads * per_thread * 3);
    let table = HandleTable::new();
    let live = Mutex::new(HashMap::new());
    let issued = Mutex::new(HashSet::new());
    std::thread::scope(|s| {
        for t in 0..threads {
            let (table, drops, live, issued) = (&table, &drops, &live, &issued);
            s.spawn(move || {
                let mut my_live = HashMap::new();
                let mut my_issued = HashSet::new();
                let base = t * per_thread * 3;
                for i in 0..per_thread * 3 {
                    let h = Item::insert(table, drops, base + i);
                    my_issued.insert(h.into_raw());
                    match i % 6 {
                        // Ended and reclaimed: the slot is reused by later inserts.
                        0 | 1 => {
                            table.revoke(h).unwrap();
                            if i % 60 == 0 {
                                table.flush();
                            }
                        }
                        // Revoked with a reference that is never released.
                        2 if i % 12 == 2 => {
                            table.retain(h).unwrap();
                            table.revoke(h).unwrap();
                        }
                        _ => {
                            my_live.insert(h.into_raw(), base + i);
                        }
                    }
                }
                live.lock().unwrap().extend(my_live);
                issued.lock().unwrap().extend(my_issued);
            });
        }
    });
    let live = live.into_inner().unwrap();
    let issued = issued.into_inner().unwrap();
    let tag = layout::fields(*issued.iter().next().unwrap()).1;
    assert!(
        issued.iter().any(|&raw| layout::fields(raw).0 > 0),
        "no slot was reused"
    );
    assert_eq!(table.len(), live.len());
    Populated {
        table,
        drops,
        tag,
        live,
        issued,
    }
}

impl Populated {
    /// The exact result a lookup of `raw` must give.
    fn expected(&self, raw: u64) -> Result<usize, Error> {
        if raw == 0 {
            Err(Error::Null)
        } else if let Some(&id) = self.live.get(&raw) {
            Ok(id)
        } else if layout::fields(raw).1 != self.tag {
            Err(Error::WrongTable)
        } else if self.issued.contains(&raw) {
            Err(Error::Stale)
        } else {
            Err(Error::Invalid)
        }
    }

    /// Looks `raw` up and checks the result; every `mutate`-th failing value also goes through
    /// the mutating operations, which must fail the same way and change nothing.
    fn probe(&self, raw: u64, mutate: bool) -> Result<usize, Error> {
        let want = self.expected(raw);
        let Some(h) = Handle::from_raw(raw) else {
            assert_eq!(Handle::try_from(raw), Err(Error::Null));
            return want;
        };
        let got = self.table.with(h, |v| v.check(h));
        assert_eq!(got, want, "lookup of {h:?}");
        assert_eq!(self.table.contains(h), want.is_ok(), "contains {h:?}");
        if let Err(e) = want
            && mutate
        {
            assert_eq!(self.table.get(h).map(|_| ()), Err(e), "get {h:?}");
            assert_eq!(self.table.retain(h), Err(e), "retain {h:?}");
            assert_eq!(self.table.revoke(h), Err(e), "remove {h:?}");
            assert_eq!(self.table.take(h).err(), Some(e), "take {h:?}");
            // Revoked entries still hold references that release may drop; never probe
            // release on those (it is not a forged value for release).
            if e != Error::Stale {
                assert_eq!(self.table.release(h), Err(e), "release {h:?}");
            }
        }
        want
    }

    /// After a sweep: nothing changed.
    fn check_unchanged(&self) {
        assert_eq!(self.table.len(), self.live.len());
        for (&raw, &id) in &self.live {
            let h = Handle::from_raw(raw).unwrap();
            assert_eq!(self.table.with(h, |v| v.check(h)), Ok(id));
        }
    }
}

/// Counts of each outcome, to show the sweep reached every class.
#[derive(Default, Debug)]
struct Tally {
    ok: usize,
    null: usize,
    invalid: usize,
    stale: usize,
    wrong_table: usize,
}

impl Tally {
    fn add(&mut self, r: Result<usize, Error>) {
        match r {
            Ok(_) => self.ok += 1,
            Err(Error::Null) => self.null += 1,
            Err(Error::Invalid) => self.invalid += 1,
            Err(Error::Stale) => self.stale += 1,
            Err(Error::WrongTable) => self.wrong_table += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
}

#[test]
fn random_values() {
    test_support::not_alone();
    let p = populate(8, 1000);
    let mut rng = XorShift(0x0123_4567_89ab_cdef);
    let mut tally = Tally::default();
    for i in 0..400_000u64 {
        tally.add(p.probe(rng.next_u64(), i % 64 == 0));
    }
    // Random fields under the table's own tag: they land in real shards and pages.
    for i in 0..400_000u64 {
        let g = match rng.below(4) {
            0 => rng.next_u64(),
            _ => rng.below(8),
        };
        let shard = rng.below(64);
        let index = match rng.below(4) {
            0 => rng.next_u64(),
            _ => rng.below(2048),
        };
        tally.add(p.probe(layout::join(g, p.tag, shard, index), i % 64 == 0));
    }
    assert!(
        tally.wrong_table > 0 && tally.invalid > 0 && tally.stale > 0,
        "{tally:?}"
    );
    p.check_unchanged();
}

#[test]
fn bit_flips_of_valid_handles() {
    test_support::not_alone();
    let p = populate(8, 500);
    let mut tally = Tally::default();
    let all: Vec<u64> = p.issued.iter().copied().collect();
    for (k, &raw) in all.iter().enumerate() {
        tally.add(p.probe(raw, true));
        for bit in 0..64 {
            tally.add(p.probe(raw ^ (1 << bit), k % 16 == 0));
        }
        // Two flipped bits, one in the generation and one elsewhere.
        let bit = (k % 38) as u32;
        tally.add(p.probe(raw ^ (1 << 38) ^ (1 << bit), false));
    }
    assert!(
        tally.ok > 0 && tally.stale > 0 && tally.invalid > 0 && tally.wrong_table > 0,
        "{tally:?}"
    );
    p.check_unchanged();
}

#[test]
fn stale_and_future_generations() {
    test_support::not_alone();
    let p = populate(4, 1500);
    let mut tally = Tally::default();
    let all: Vec<u64> = p.issued.iter().copied().collect();
    for &raw in &all {
        let (g, tag, shard, index) = layout::fields(raw);
        for dg in 0..6 {
            for candidate in [g + dg, g.wrapping_sub(dg)] {
                tally.add(p.probe(layout::join(candidate, tag, shard, index), true));
            }
        }
        // The largest generation, and the slot's neighbours.
        tally.add(p.probe(
            layout::join((1 << layout::GEN_BITS) - 1, tag, shard, index),
            true,
        ));
        tally.add(p.probe(layout::join(g, tag, shard, index + 1), false));
        tally.add(p.probe(layout::join(g, tag, shard, index.wrapping_sub(1)), false));
    }
    assert!(
        tally.stale > 0 && tally.invalid > 0 && tally.ok > 0,
        "{tally:?}"
    );
    p.check_unchanged();
}

#[test]
fn handles_of_other_tables() {
    test_support::not_alone();
    let p = populate(8, 500);
    // Another table filled the same way: same threads' shards, same indices, same
    // generations; only the tag differs.
    let q = populate(8, 500);
    assert_ne!(p.tag, q.tag);
    let mut tally = Tally::default();
    for &raw in &q.issued {
        assert_eq!(p.probe(raw, true), Err(Error::WrongTable));
        tally.add(Err(Error::WrongTable));
        let (g, _, shard, index) = layout::fields(raw);
        // The same slot under every other tag.
        for tag in [0, 1, (1 << layout::TAG_BITS) - 1, p.tag ^ 1, q.tag] {
            tally.add(p.probe(layout::join(g, tag, shard, index), false));
        }
    }
    for &raw in &p.issued {
        assert_eq!(q.probe(raw, true), Err(Error::WrongTable));
    }
    assert!(tally.wrong_table > 0, "{tally:?}");
    p.check_unchanged();
    q.check_unchanged();
}

#[test]
fn boundary_values() {
    test_support::not_alone();
    let p = populate(2, 300);
    let gen_max = (1u64 << layout::GEN_BITS) - 1;
    let tag_max = (1u64 << layout::TAG_BITS) - 1;
    let shard_max = (1u64 << layout::SHARD_BITS) - 1;
    let index_max = (1u64 << layout::INDEX_BITS) - 1;
    let mut values = vec![
        0,
        1,
        2,
        u64::MAX,
        u64::MAX - 1,
        1 << 63,
        (1 << 63) - 1,
        u32::MAX as u64,
    ];
    for g in [0, 1, gen_max] {
        for tag in [0, 1, p.tag, tag_max] {
            for shard in [0, 1, shard_max] {
                for index in [0, 1, 63, 64, 65, 1 << 21, index_max] {
                    values.push(layout::join(g, tag, shard, index));
                }
            }
        }
    }
    for bit in 0..64 {
        values.push(1 << bit);
        values.push(!(1u64 << bit));
    }
    let mut tally = Tally::default();
    for raw in values {
        tally.add(p.probe(raw, true));
    }
    assert!(
        tally.null >= 1 && tally.invalid > 0 && tally.wrong_table > 0,
        "{tally:?}"
    );
    p.check_unchanged();
    drop(p.table);
    // Dropped exactly once: everything ever inserted (revoked and pending included).
    p.drops.assert_exactly(0..p.drops.len());
}

/// Forged values to throw in [`sweep_at_scale`]: `HANDLES_FORGED_COUNT` (the full sweep,
/// `HANDLES_FORGED_COUNT=1000000000`, is in `scripts/long-checks.sh`), or by
/// default a CI slice of 8 million (about 1 s in release; 1 million in debug builds).
fn forged_count() -> u64 {
    match std::env::var("HANDLES_FORGED_COUNT") {
        Ok(s) => s
            .trim()
            .replace('_', "")
            .parse()
            .expect("HANDLES_FORGED_COUNT: a number"),
        Err(_) if cfg!(debug_assertions) => 1_000_000,
        Err(_) => 8_000_000,
    }
}

/// The boundary values of the layout, under every interesting tag.
fn boundary_set(tags: &[u64]) -> Vec<u64> {
    let gen_max = (1u64 << layout::GEN_BITS) - 1;
    let tag_max = (1u64 << layout::TAG_BITS) - 1;
    let shard_max = (1u64 << layout::SHARD_BITS) - 1;
    let index_max = (1u64 << layout::INDEX_BITS) - 1;
    let mut values = vec![0, 1, 2, u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) - 1];
    for &tag in tags.iter().chain(&[0, 1, tag_max]) {
        for g in [0, 1, 2, gen_max - 1, gen_max] {
            for shard in [0, 1, shard_max - 1, shard_max] {
                for index in [
                    0,
                    1,
                    255,
                    256,
                    257,
                    511,
                    512,
                    1 << 21,
                    index_max - 1,
                    index_max,
                ] {
                    values.push(layout::join(g, tag, shard, index));
                }
            }
        }
    }
    for bit in 0..64 {
        values.push(1 << bit);
        values.push(!(1u64 << bit));
    }
    values
}

/// The large sweep: `forged_count()` values split over every core, drawn in turn
/// from seven classes: random bits; random fields under the table's own tag (small
/// generations and indices, so they land on real slots); issued handles with one or two bits
/// flipped; handles of another populated table, also moved under other tags; issued handles
/// with the generation shifted by -8..=8 (stale and future); the layout's boundary values;
/// and issued handles as they are (live ones must reach their own entry, ended ones be
/// `Stale`). Every result is checked exactly (see `Populated::expected`); a lookup reaching
/// another entry fails `Item::check`; every 64th failing value also goes through get, retain,
/// remove, take and release, which must fail the same way and change nothing.
#[test]
fn sweep_at_scale() {
    test_support::not_alone();
    let count = forged_count();
    let p = populate(8, 2000);
    let q = populate(4, 1000);
    assert_ne!(p.tag, q.tag);
    let issued: Vec<u64> = p.issued.iter().copied().collect();
    let foreign: Vec<u64> = q.issued.iter().copied().collect();
    let boundary = boundary_set(&[p.tag, q.tag, p.tag ^ 1]);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let start = std::time::Instant::now();
    let tally = Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for t in 0..threads {
            let (p, issued, foreign, boundary, tally) = (&p, &issued, &foreign, &boundary, &tally);
            s.spawn(move || {
                let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ (t + 1).wrapping_mul(0x1234_5677));
                let mut mine = Tally::default();
                let n = count / threads + u64::from(t < count % threads);
                for i in 0..n {
                    let raw = match i % 7 {
                        0 => rng.next_u64(),
                        1 => {
                            let g = if rng.below(4) == 0 {
                                rng.next_u64()
                            } else {
                                rng.below(8)
                            };
                            let index = if rng.below(4) == 0 {
                                rng.next_u64()
                            } else {
                                rng.below(4096)
                            };
                            layout::join(g, p.tag, rng.below(64), index)
                        }
                        2 => {
                            let h = issued[rng.below(issued.len() as u64) as usize];
                            let flip = 1u64 << rng.below(64);
                            if rng.below(4) == 0 {
                                h ^ flip ^ (1 << rng.below(64))
                            } else {
                                h ^ flip
                            }
                        }
                        3 => {
                            let h = foreign[rng.below(foreign.len() as u64) as usize];
                            match rng.below(3) {
                                0 => h,
                                _ => {
                                    let (g, _, shard, index) = layout::fields(h);
                                    layout::join(g, rng.below(1 << layout::TAG_BITS), shard, index)
                                }
                            }
                        }
                        4 => {
                            let h = issued[rng.below(issued.len() as u64) as usize];
                            let (g, tag, shard, index) = layout::fields(h);
                            let g = g.wrapping_add(rng.below(17)).wrapping_sub(8);
                            layout::join(g & ((1 << layout::GEN_BITS) - 1), tag, shard, index)
                        }
                        5 => boundary[rng.below(boundary.len() as u64) as usize],
                        _ => issued[rng.below(issued.len() as u64) as usize],
                    };
                    mine.add(p.probe(raw, i % 64 == 0));
                }
                let mut all = tally.lock().unwrap();
                all.ok += mine.ok;
                all.null += mine.null;
                all.invalid += mine.invalid;
                all.stale += mine.stale;
                all.wrong_table += mine.wrong_table;
            });
        }
    });
    let tally = tally.into_inner().unwrap();
    let total = tally.ok + tally.null + tally.invalid + tally.stale + tally.wrong_table;
    assert_eq!(total as u64, count);
    eprintln!(
        "forged sweep: {count} values on {threads} threads in {:.1} s, 0 crashes, 0 lookups \
         reaching another entry; {tally:?}",
        start.elapsed().as_secs_f64()
    );
    assert!(
        count < 100_000
            || (tally.ok > 0
                && tally.invalid > 0
                && tally.stale > 0
                && tally.wrong_table > 0
                && tally.null > 0),
        "{tally:?}"
    );
    p.check_unchanged();
    q.check_unchanged();
    drop(p.table);
    p.drops.assert_all_once();
}
