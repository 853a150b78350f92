//! The designs under test, each behind [`Design`]: handles itself and the baselines.
//!
//! Every design stores one `u64` payload per id. What the four operations do in each:
//!
//! | design | id | scoped lookup | counted lookup (retain + release) | value storage |
//! |---|---|---|---|---|
//! | `handles` | `Handle` bits | `HandleTable::with` | `retain_with` + `release` | `u64` in the table |
//! | `raw` | `Arc::into_raw` address | `&*ptr` | `Arc::increment/decrement_strong_count` | `Arc<u64>` box |
//! | `mutex-hashmap` | counter under the lock | lock, get, read | lock, clone the `Arc`, unlock, read, drop | `Arc<u64>` |
//! | `rwlock-hashmap` | counter under the write lock | read lock, get | read lock, clone `Arc`, unlock, drop | `Arc<u64>` |
//! | `big-old-map` | global `AtomicU64` | shard `id % 64` read lock | read lock, clone `Arc`, drop | `Arc<u64>` |
//! | `dashmap` | global `AtomicU64` | `get` (shard read lock) | `get`, clone `Arc`, drop | `Arc<u64>` |
//! | `sharded-slab` | slab key | `get` guard | `get` guard (the guard *is* the slot's reference) | `u64` in the slab |
//! | `mutex-slotmap` | `KeyData::as_ffi` | lock, get | lock, clone `Arc`, unlock, drop | `Arc<u64>` |
//!
//! The maps and the slotmap hold `Arc<u64>` because that is how such a table hands out a
//! reference that outlives its lock (the equivalent of retain); the 24-byte `Arc` box per entry
//! is part of their memory figures. The maps use std's default (SipHash) hasher, as a user
//! would by default. `raw` is the unchecked floor: it cannot detect a stale or forged id.

use handles::{Handle, HandleTable};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One table design. Ids are plain `u64`s, as a C caller would hold them.
///
/// The id-taking methods are `unsafe` only because of the `raw` design, which cannot check ids;
/// every other design checks them and would return `None`/`false` for a bad one.
pub trait Design: Send + Sync + Sized + 'static {
    /// Name used on the command line and in tables.
    const NAME: &'static str;
    /// An empty table.
    fn create() -> Self;
    /// Stores `value` and returns its id.
    fn insert(&self, value: u64) -> u64;
    /// Scoped lookup: runs `f` on the value while it is protected; `None` for an unknown id.
    ///
    /// # Safety
    /// `id` was returned by this table's `insert` and is not removed yet (for `raw`).
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&u64) -> R) -> Option<R>;
    /// Counted lookup: takes a reference that would outlive the table's lock, reads the value
    /// and drops the reference again (retain + release); `None` for an unknown id.
    ///
    /// # Safety
    /// As for [`Design::with`].
    unsafe fn counted(&self, id: u64) -> Option<u64>;
    /// Removes the entry; `false` for an unknown id.
    ///
    /// # Safety
    /// `id` was returned by this table's `insert` and is not removed yet (for `raw`).
    unsafe fn remove(&self, id: u64) -> bool;
    /// Removes the entry and moves its value out (each design's "take": `HandleTable::take`,
    /// `Slab::take`, `HashMap::remove`); `None` for an unknown id (or, for handles, while the
    /// entry is borrowed).
    ///
    /// # Safety
    /// As for [`Design::remove`].
    unsafe fn take(&self, id: u64) -> Option<u64>;
}

/// Names of all designs, in table order (handles first, then the floor, then the baselines).
pub const ALL: [&str; 8] = [
    Handles::NAME,
    Raw::NAME,
    MutexHashMap::NAME,
    RwLockHashMap::NAME,
    BigOldMap::NAME,
    DashMapDesign::NAME,
    ShardedSlab::NAME,
    MutexSlotMap::NAME,
];

/// Runs `$body` with the type alias `$D` bound to the design named `$name`; evaluates to
/// `Some(body)`, or `None` for an unknown name.
#[macro_export]
macro_rules! with_design {
    ($name:expr, $D:ident => $body:expr) => {{
        use $crate::designs::*;
        match $name {
            "handles" => {
                type $D = Handles;
                Some($body)
            }
            "raw" => {
                type $D = Raw;
                Some($body)
            }
            "mutex-hashmap" => {
                type $D = MutexHashMap;
                Some($body)
            }
            "rwlock-hashmap" => {
                type $D = RwLockHashMap;
                Some($body)
            }
            "big-old-map" => {
                type $D = BigOldMap;
                Some($body)
            }
            "dashmap" => {
                type $D = DashMapDesign;
                Some($body)
            }
            "sharded-slab" => {
                type $D = ShardedSlab;
                Some($body)
            }
            "mutex-slotmap" => {
                type $D = MutexSlotMap;
                Some($body)
            }
            _ => None,
        }
    }};
}

// ---- handles --------------------------------------------------------------------------------

/// `handles::HandleTable<u64>`.
pub struct Handles(HandleTable<u64>);

impl Handles {
    /// The table, for statistics.
    pub fn table(&self) -> &HandleTable<u64> {
        &self.0
    }
}

impl Design for Handles {
    const NAME: &'static str = "handles";
    fn create() -> Self {
        Handles(HandleTable::new())
    }
    #[inline]
    fn insert(&self, value: u64) -> u64 {
        self.0.insert(value).into_raw()
    }
    #[inline]
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&u64) -> R) -> Option<R> {
        self.0.with(Handle::from_raw(id)?, f).ok()
    }
    #[inline]
    unsafe fn counted(&self, id: u64) -> Option<u64> {
        let h = Handle::from_raw(id)?;
        let v = self.0.retain_with(h, |v| *v).ok()?;
        self.0.release(h).ok()?;
        Some(v)
    }
    #[inline]
    unsafe fn remove(&self, id: u64) -> bool {
        Handle::from_raw(id).is_some_and(|h| self.0.revoke(h).is_ok())
    }
    #[inline]
    unsafe fn take(&self, id: u64) -> Option<u64> {
        self.0.take(Handle::from_raw(id)?).ok()
    }
}

// ---- raw pointer ------------------------------------------------------------------------------

/// `Arc::into_raw` pointers used as ids: no table, no checks (the floor).
pub struct Raw;

impl Raw {
    #[inline(always)]
    fn ptr(id: u64) -> *const u64 {
        std::ptr::with_exposed_provenance(id as usize)
    }
}

impl Design for Raw {
    const NAME: &'static str = "raw";
    fn create() -> Self {
        Raw
    }
    #[inline]
    fn insert(&self, value: u64) -> u64 {
        Arc::into_raw(Arc::new(value)).expose_provenance() as u64
    }
    #[inline]
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&u64) -> R) -> Option<R> {
        // SAFETY: the caller promises `id` is a live `Arc::into_raw` pointer from `insert`.
        Some(f(unsafe { &*Raw::ptr(id) }))
    }
    #[inline]
    unsafe fn counted(&self, id: u64) -> Option<u64> {
        let p = Raw::ptr(id);
        // SAFETY: `p` is a live `Arc::into_raw` pointer (caller's promise): one more strong
        // reference, read under it, then give it back.
        unsafe {
            Arc::increment_strong_count(p);
            let v = *p;
            Arc::decrement_strong_count(p);
            Some(v)
        }
    }
    #[inline]
    unsafe fn remove(&self, id: u64) -> bool {
        // SAFETY: the caller promises `id` is a live pointer from `insert`, removed only once;
        // this takes back the reference `insert` leaked.
        drop(unsafe { Arc::from_raw(Raw::ptr(id)) });
        true
    }
    #[inline]
    unsafe fn take(&self, id: u64) -> Option<u64> {
        // SAFETY: as in `remove`.
        let arc = unsafe { Arc::from_raw(Raw::ptr(id)) };
        Some(*arc)
    }
}

// ---- std Mutex<HashMap> ---------------------------------------------------------------------

/// A map and the next id, under one lock.
#[derive(Default)]
struct Map {
    next: u64,
    map: HashMap<u64, Arc<u64>>,
}

impl Map {
    fn insert(&mut self, value: u64) -> u64 {
        self.next += 1;
        self.map.insert(self.next, Arc::new(value));
        self.next
    }
}

/// `std::sync::Mutex<HashMap<u64, Arc<u64>>>`, id counter under the lock.
pub struct MutexHashMap(std::sync::Mutex<Map>);

impl MutexHashMap {
    fn lock(&self) -> std::sync::MutexGuard<'_, Map> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Design for MutexHashMap {
    const NAME: &'static str = "mutex-hashmap";
    fn create() -> Self {
        MutexHashMap(std::sync::Mutex::new(Map::default()))
    }
    fn insert(&self, value: u64) -> u64 {
        self.lock().insert(value)
    }
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&u64) -> R) -> Option<R> {
        self.lock().map.get(&id).map(|v| f(v))
    }
    unsafe fn counted(&self, id: u64) -> Option<u64> {
        let arc = self.lock().map.get(&id).cloned()?;
        Some(*arc)
    }
    unsafe fn remove(&self, id: u64) -> bool {
        let old = self.lock().map.remove(&id);
        old.is_some() // the Arc drops outside the lock
    }
    #[inline]
    unsafe fn take(&self, id: u64) -> Option<u64> {
        let old = self.lock().map.remove(&id);
        old.map(|v| *v)
    }
}

// ---- parking_lot RwLock<HashMap> ------------------------------------------------------------

/// `parking_lot::RwLock<HashMap<u64, Arc<u64>>>`, id counter under the write lock.
pub struct RwLockHashMap(parking_lot::RwLock<Map>);

impl Design for RwLockHashMap {
    const NAME: &'static str = "rwlock-hashmap";
    fn create() -> Self {
        RwLockHashMap(parking_lot::RwLock::new(Map::default()))
    }
    fn insert(&self, value: u64) -> u64 {
        self.0.write().insert(value)
    }
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&u64) -> R) -> Option<R> {
        self.0.read().map.get(&id).map(|v| f(v))
    }
    unsafe fn counted(&self, id: u64) -> Option<u64> {
        let arc = self.0.read().map.get(&id).cloned()?;
        Some(*arc)
    }
    unsafe fn remove(&self, id: u64) -> bool {
        let old = self.0.write().map.remove(&id);
        old.is_some()
    }
    #[inline]
    unsafe fn take(&self, id: u64) -> Option<u64> {
        let old = self.0.write().map.remove(&id);
        old.map(|v| *v)
    }
}

// ---- the seed's big old map -------------------------------------------------------------------

/// Shards of the big old map.
pub const BIG_OLD_MAP_SHARDS: usize = 64;

/// One shard of the big old map.
type BigOldShard = std::sync::RwLock<HashMap<u64, Arc<u64>>>;

/// The seed's "big old map": 64 `std::sync::RwLock<HashMap>` shards picked by `id % 64`, ids
/// from one global `AtomicU64` (seeds 002 and 004).
pub struct BigOldMap {
    shards: Box<[BigOldShard]>,
    next: AtomicU64,
}

impl BigOldMap {
    fn shard(&self, id: u64) -> &BigOldShard {
        &self.shards[(id % BIG_OLD_MAP_SHARDS as u64) as usize]
    }
}

impl Design for BigOldMap {
    const NAME: &'static str = "big-old-map";
    fn create() -> Self {
        BigOldMap {
            shards: (0..BIG_OLD_MAP_SHARDS)
                .map(|_| Default::default())
                .collect(),
            next: AtomicU64::new(0),
        }
    }
    fn insert(&self, value: u64) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut shard = self.shard(id).write().unwrap_or_else(|e| e.into_inner());
        shard.insert(id, Arc::new(value));
        id
    }
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&u64) -> R) -> Option<R> {
        let shard = self.shard(id).read().unwrap_or_else(|e| e.into_inner());
        shard.get(&id).map(|v| f(v))
    }
    unsafe fn counted(&self, id: u64) -> Option<u64> {
        let shard = self.shard(id).read().unwrap_or_else(|e| e.into_inner());
        let arc = shard.get(&id).cloned();
        drop(shard);
        Some(*arc?)
    }
    unsafe fn remove(&self, id: u64) -> bool {
        let mut shard = self.shard(id).write().unwrap_or_else(|e| e.into_inner());
        let old = shard.remove(&id);
        drop(shard);
        old.is_some()
    }
    #[inline]
    unsafe fn take(&self, id: u64) -> Option<u64> {
        let mut shard = self.shard(id).write().unwrap_or_else(|e| e.into_inner());
        let old = shard.remove(&id);
        drop(shard);
        old.map(|v| *v)
    }
}

// ---- DashMap ----------------------------------------------------------------------------------

/// `dashmap::DashMap<u64, Arc<u64>>` with a global `AtomicU64` id counter.
pub struct DashMapDesign {
    map: dashmap::DashMap<u64, Arc<u64>>,
    next: AtomicU64,
}

impl Design for DashMapDesign {
    const NAME: &'static str = "dashmap";
    fn create() -> Self {
        DashMapDesign {
            map: dashmap::DashMap::new(),
            next: AtomicU64::new(0),
        }
    }
    fn insert(&self, value: u64) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.map.insert(id, Arc::new(value));
        id
    }
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&u64) -> R) -> Option<R> {
        self.map.get(&id).map(|v| f(&v))
    }
    unsafe fn counted(&self, id: u64) -> Option<u64> {
        let arc = self.map.get(&id).map(|v| Arc::clone(&v))?;
        Some(*arc)
    }
    unsafe fn remove(&self, id: u64) -> bool {
        self.map.remove(&id).is_some()
    }
    #[inline]
    unsafe fn take(&self, id: u64) -> Option<u64> {
        self.map.remove(&id).map(|(_, v)| *v)
    }
}

// ---- sharded-slab -----------------------------------------------------------------------------

/// `sharded_slab::Slab<u64>`; its `Entry` guard is a counted reference to the slot, so the
/// scoped and the counted lookup are the same operation.
pub struct ShardedSlab(sharded_slab::Slab<u64>);

impl Design for ShardedSlab {
    const NAME: &'static str = "sharded-slab";
    fn create() -> Self {
        ShardedSlab(sharded_slab::Slab::new())
    }
    fn insert(&self, value: u64) -> u64 {
        self.0.insert(value).expect("sharded-slab full") as u64
    }
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&u64) -> R) -> Option<R> {
        self.0.get(id as usize).map(|e| f(&e))
    }
    unsafe fn counted(&self, id: u64) -> Option<u64> {
        let entry = self.0.get(id as usize)?;
        Some(*entry)
    }
    unsafe fn remove(&self, id: u64) -> bool {
        self.0.remove(id as usize)
    }
    #[inline]
    unsafe fn take(&self, id: u64) -> Option<u64> {
        // The crate's way to move a value out: waits for the slot's guards to drop.
        self.0.take(id as usize)
    }
}

// ---- parking_lot Mutex<SlotMap> ---------------------------------------------------------------

/// `parking_lot::Mutex<slotmap::SlotMap<DefaultKey, Arc<u64>>>`; ids are `KeyData::as_ffi`.
pub struct MutexSlotMap(parking_lot::Mutex<slotmap::SlotMap<slotmap::DefaultKey, Arc<u64>>>);

fn slot_key(id: u64) -> slotmap::DefaultKey {
    slotmap::KeyData::from_ffi(id).into()
}

impl Design for MutexSlotMap {
    const NAME: &'static str = "mutex-slotmap";
    fn create() -> Self {
        MutexSlotMap(parking_lot::Mutex::new(slotmap::SlotMap::new()))
    }
    fn insert(&self, value: u64) -> u64 {
        let arc = Arc::new(value);
        slotmap::Key::data(&self.0.lock().insert(arc)).as_ffi()
    }
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&u64) -> R) -> Option<R> {
        self.0.lock().get(slot_key(id)).map(|v| f(v))
    }
    unsafe fn counted(&self, id: u64) -> Option<u64> {
        let arc = self.0.lock().get(slot_key(id)).cloned()?;
        Some(*arc)
    }
    unsafe fn remove(&self, id: u64) -> bool {
        let old = self.0.lock().remove(slot_key(id));
        old.is_some()
    }
    #[inline]
    unsafe fn take(&self, id: u64) -> Option<u64> {
        let old = self.0.lock().remove(slot_key(id));
        old.map(|v| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise<D: Design>() {
        let d = D::create();
        let ids: Vec<u64> = (0..1000).map(|i| d.insert(i * 3)).collect();
        for (i, &id) in ids.iter().enumerate() {
            // SAFETY: every id is live until removed below.
            unsafe {
                assert_eq!(d.with(id, |v| *v), Some(i as u64 * 3), "{}", D::NAME);
                assert_eq!(d.counted(id), Some(i as u64 * 3), "{}", D::NAME);
            }
        }
        for (i, &id) in ids.iter().enumerate() {
            if i % 2 == 0 {
                // SAFETY: each id is removed or taken once.
                assert!(unsafe { d.remove(id) }, "{}", D::NAME);
            } else {
                // SAFETY: as above.
                assert_eq!(unsafe { d.take(id) }, Some(i as u64 * 3), "{}", D::NAME);
            }
        }
        if D::NAME != Raw::NAME {
            // SAFETY: checked designs accept stale ids.
            unsafe {
                assert_eq!(d.with(ids[0], |v| *v), None, "{}", D::NAME);
                assert!(!d.remove(ids[2]), "{}", D::NAME);
                assert_eq!(d.take(ids[1]), None, "{}", D::NAME);
            }
        }
    }

    #[test]
    fn every_design_stores_finds_removes_and_takes() {
        for name in ALL {
            with_design!(name, D => exercise::<D>()).expect("known design");
        }
    }
}
