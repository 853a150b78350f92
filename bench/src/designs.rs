//! The designs under test, each behind [`Design`]: handles itself and the baselines.
//!
//! Every design stores the same value type `V` ([`Value`]) inline in its table, so all of them
//! pay the same costs for the value: `u64` for the read workloads, the memory figures, the
//! instruction counts and criterion; `Arc<u64>` for the write workloads (churn, take-churn,
//! mixed), where every insert moves in a clone of the worker thread's own `Arc` (one `Arc` per
//! thread, so the reference count's cache line is not shared between threads) and every end
//! drops one reference, wherever the design runs its `Drop`. What the operations do in each:
//!
//! | design | id | scoped lookup | counted lookup (retain + release) | ending |
//! |---|---|---|---|---|
//! | `handles` | `Handle` bits | `HandleTable::with` | `retain_with` + `release` | `revoke` / `take` |
//! | `raw` | `Arc::into_raw` address | `&*ptr` | `Arc::increment/decrement_strong_count` | `Arc::from_raw`, dropped / returned |
//! | `mutex-hashmap` | counter under the lock | lock, get, read | lock, clone `V`, unlock, read, drop | `HashMap::remove` |
//! | `rwlock-hashmap` | counter under the write lock | read lock, get | read lock, clone `V`, unlock, drop | `HashMap::remove` |
//! | `big-old-map` | global `AtomicU64` | shard `id % 64` read lock | read lock, clone `V`, drop | `HashMap::remove` |
//! | `dashmap` | global `AtomicU64` | `get` (shard read lock) | `get`, clone `V`, drop | `DashMap::remove` |
//! | `sharded-slab` | slab key | `get` guard | `get` guard (the guard *is* the slot's reference) | `Slab::remove` / `Slab::take` |
//! | `mutex-slotmap` | `KeyData::as_ffi` | lock, get | lock, clone `V`, unlock, drop | `SlotMap::remove` |
//!
//! The counted lookup of a map clones the value under the lock: with `Arc<u64>` values that is
//! the `Arc` clone a map user takes to keep a reference past the lock; with `u64` values it is a
//! copy. The removed value is dropped after the lock is released. Which API and configuration
//! each baseline uses, and why, is in `bench/baselines.md`. `raw` is the unchecked floor: it
//! cannot detect a stale or forged id.

use handles::{Handle, HandleTable};
use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A value type the designs store: `u64` or `Arc<u64>`.
pub trait Value: Clone + Send + Sync + 'static {
    /// The `i`-th value of a fill (distinct allocations for `Arc<u64>`).
    fn make(i: u64) -> Self;
    /// What a lookup reads: the `u64` (behind the `Arc`, for `Arc<u64>`).
    fn read(&self) -> u64;
    /// For `raw`: the value as one `Arc`, whose address is the id.
    fn into_arc(self) -> Arc<u64>;
    /// For `raw`: the value back from its `Arc`.
    fn from_arc(arc: Arc<u64>) -> Self;
    /// For `raw`: runs `f` on the value behind a borrowed `Arc`.
    fn with_arc<R>(arc: &Arc<u64>, f: impl FnOnce(&Self) -> R) -> R;
}

impl Value for u64 {
    #[inline]
    fn make(i: u64) -> u64 {
        i
    }
    #[inline]
    fn read(&self) -> u64 {
        *self
    }
    #[inline]
    fn into_arc(self) -> Arc<u64> {
        Arc::new(self)
    }
    #[inline]
    fn from_arc(arc: Arc<u64>) -> u64 {
        *arc
    }
    #[inline]
    fn with_arc<R>(arc: &Arc<u64>, f: impl FnOnce(&u64) -> R) -> R {
        f(arc)
    }
}

impl Value for Arc<u64> {
    #[inline]
    fn make(i: u64) -> Arc<u64> {
        Arc::new(i)
    }
    #[inline]
    fn read(&self) -> u64 {
        **self
    }
    #[inline]
    fn into_arc(self) -> Arc<u64> {
        self
    }
    #[inline]
    fn from_arc(arc: Arc<u64>) -> Arc<u64> {
        arc
    }
    #[inline]
    fn with_arc<R>(arc: &Arc<u64>, f: impl FnOnce(&Arc<u64>) -> R) -> R {
        f(arc)
    }
}

/// One table design storing values of type `V`. Ids are plain `u64`s, as a C caller would hold
/// them.
///
/// The id-taking methods are `unsafe` only because of the `raw` design, which cannot check ids;
/// every other design checks them and would return `None`/`false` for a bad one.
pub trait Design<V: Value = u64>: Send + Sync + Sized + 'static {
    /// Name used on the command line and in tables.
    const NAME: &'static str;
    /// An empty table.
    fn create() -> Self;
    /// Stores `value` and returns its id.
    fn insert(&self, value: V) -> u64;
    /// Scoped lookup: runs `f` on the value while it is protected; `None` for an unknown id.
    ///
    /// # Safety
    /// `id` was returned by this table's `insert` and is not removed yet (for `raw`).
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&V) -> R) -> Option<R>;
    /// Counted lookup: takes a reference that would outlive the table's lock, reads the value
    /// and drops the reference again (retain + release); `None` for an unknown id.
    ///
    /// # Safety
    /// As for [`Design::with`].
    unsafe fn counted(&self, id: u64) -> Option<u64>;
    /// Removes the entry (its value is dropped wherever the design drops it); `false` for an
    /// unknown id.
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
    unsafe fn take(&self, id: u64) -> Option<V>;
}

/// Names of all designs, in table order (handles first, then the floor, then the baselines).
pub const ALL: [&str; 8] = [
    "handles",
    "raw",
    "mutex-hashmap",
    "rwlock-hashmap",
    "big-old-map",
    "dashmap",
    "sharded-slab",
    "mutex-slotmap",
];

/// Runs `$body` with the type alias `$D` bound to the design named `$name`, storing values of
/// type `$V` (`u64` when left out); evaluates to `Some(body)`, or `None` for an unknown name.
#[macro_export]
macro_rules! with_design {
    ($name:expr, $D:ident => $body:expr) => {
        $crate::with_design!($name, u64, $D => $body)
    };
    ($name:expr, $V:ty, $D:ident => $body:expr) => {{
        use $crate::designs::*;
        match $name {
            "handles" => {
                type $D = Handles<$V>;
                Some($body)
            }
            "raw" => {
                type $D = Raw;
                Some($body)
            }
            "mutex-hashmap" => {
                type $D = MutexHashMap<$V>;
                Some($body)
            }
            "rwlock-hashmap" => {
                type $D = RwLockHashMap<$V>;
                Some($body)
            }
            "big-old-map" => {
                type $D = BigOldMap<$V>;
                Some($body)
            }
            "dashmap" => {
                type $D = DashMapDesign<$V>;
                Some($body)
            }
            "sharded-slab" => {
                type $D = ShardedSlab<$V>;
                Some($body)
            }
            "mutex-slotmap" => {
                type $D = MutexSlotMap<$V>;
                Some($body)
            }
            _ => None,
        }
    }};
}

// ---- handles --------------------------------------------------------------------------------

/// `handles::HandleTable<V>` with its default reclamation policy.
pub struct Handles<V = u64>(HandleTable<V>);

impl<V: Value> Handles<V> {
    /// The table, for statistics.
    pub fn table(&self) -> &HandleTable<V> {
        &self.0
    }
}

impl<V: Value> Design<V> for Handles<V> {
    const NAME: &'static str = "handles";
    fn create() -> Self {
        Handles(HandleTable::new())
    }
    #[inline]
    fn insert(&self, value: V) -> u64 {
        self.0.insert(value).into_raw()
    }
    #[inline]
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&V) -> R) -> Option<R> {
        self.0.with(Handle::from_raw(id)?, f).ok()
    }
    #[inline]
    unsafe fn counted(&self, id: u64) -> Option<u64> {
        let h = Handle::from_raw(id)?;
        let v = self.0.retain_with(h, V::read).ok()?;
        self.0.release(h).ok()?;
        Some(v)
    }
    #[inline]
    unsafe fn remove(&self, id: u64) -> bool {
        Handle::from_raw(id).is_some_and(|h| self.0.revoke(h).is_ok())
    }
    #[inline]
    unsafe fn take(&self, id: u64) -> Option<V> {
        self.0.take(Handle::from_raw(id)?).ok()
    }
}

// ---- raw pointer ------------------------------------------------------------------------------

/// `Arc::into_raw` pointers used as ids: no table, no checks (the floor). A `u64` value is boxed
/// in an `Arc` of its own; an `Arc<u64>` value is its own box, so churn's insert is the clone
/// and its remove the decrement.
pub struct Raw;

impl Raw {
    #[inline(always)]
    fn ptr(id: u64) -> *const u64 {
        std::ptr::with_exposed_provenance(id as usize)
    }
}

impl<V: Value> Design<V> for Raw {
    const NAME: &'static str = "raw";
    fn create() -> Self {
        Raw
    }
    #[inline]
    fn insert(&self, value: V) -> u64 {
        Arc::into_raw(value.into_arc()).expose_provenance() as u64
    }
    #[inline]
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&V) -> R) -> Option<R> {
        // SAFETY: the caller promises `id` is a live `Arc::into_raw` pointer from `insert`; the
        // `Arc` made from it is never dropped (`ManuallyDrop`), so the count is unchanged.
        let arc = ManuallyDrop::new(unsafe { Arc::from_raw(Raw::ptr(id)) });
        Some(V::with_arc(&arc, f))
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
    unsafe fn take(&self, id: u64) -> Option<V> {
        // SAFETY: as in `remove`.
        let arc = unsafe { Arc::from_raw(Raw::ptr(id)) };
        Some(V::from_arc(arc))
    }
}

// ---- std Mutex<HashMap> ---------------------------------------------------------------------

/// A map and the next id, under one lock.
struct Map<V> {
    next: u64,
    map: HashMap<u64, V>,
}

impl<V> Default for Map<V> {
    fn default() -> Self {
        Map {
            next: 0,
            map: HashMap::new(),
        }
    }
}

impl<V> Map<V> {
    fn insert(&mut self, value: V) -> u64 {
        self.next += 1;
        self.map.insert(self.next, value);
        self.next
    }
}

/// `std::sync::Mutex<HashMap<u64, V>>`, id counter under the lock.
pub struct MutexHashMap<V = u64>(std::sync::Mutex<Map<V>>);

impl<V> MutexHashMap<V> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Map<V>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<V: Value> Design<V> for MutexHashMap<V> {
    const NAME: &'static str = "mutex-hashmap";
    fn create() -> Self {
        MutexHashMap(std::sync::Mutex::new(Map::default()))
    }
    fn insert(&self, value: V) -> u64 {
        self.lock().insert(value)
    }
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&V) -> R) -> Option<R> {
        self.lock().map.get(&id).map(f)
    }
    unsafe fn counted(&self, id: u64) -> Option<u64> {
        let v = self.lock().map.get(&id).cloned()?;
        Some(v.read())
    }
    unsafe fn remove(&self, id: u64) -> bool {
        let old = self.lock().map.remove(&id);
        old.is_some() // the value drops outside the lock
    }
    #[inline]
    unsafe fn take(&self, id: u64) -> Option<V> {
        self.lock().map.remove(&id)
    }
}

// ---- parking_lot RwLock<HashMap> ------------------------------------------------------------

/// `parking_lot::RwLock<HashMap<u64, V>>`, id counter under the write lock.
pub struct RwLockHashMap<V = u64>(parking_lot::RwLock<Map<V>>);

impl<V: Value> Design<V> for RwLockHashMap<V> {
    const NAME: &'static str = "rwlock-hashmap";
    fn create() -> Self {
        RwLockHashMap(parking_lot::RwLock::new(Map::default()))
    }
    fn insert(&self, value: V) -> u64 {
        self.0.write().insert(value)
    }
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&V) -> R) -> Option<R> {
        self.0.read().map.get(&id).map(f)
    }
    unsafe fn counted(&self, id: u64) -> Option<u64> {
        let v = self.0.read().map.get(&id).cloned()?;
        Some(v.read())
    }
    unsafe fn remove(&self, id: u64) -> bool {
        let old = self.0.write().map.remove(&id);
        old.is_some()
    }
    #[inline]
    unsafe fn take(&self, id: u64) -> Option<V> {
        self.0.write().map.remove(&id)
    }
}

// ---- the seed's big old map -------------------------------------------------------------------

/// Shards of the big old map.
pub const BIG_OLD_MAP_SHARDS: usize = 64;

/// One shard of the big old map.
type BigOldShard<V> = std::sync::RwLock<HashMap<u64, V>>;

/// The seed's "big old map": 64 `std::sync::RwLock<HashMap>` shards picked by `id % 64`, ids
/// from one global `AtomicU64` (seeds 002 and 004).
pub struct BigOldMap<V = u64> {
    shards: Box<[BigOldShard<V>]>,
    next: AtomicU64,
}

impl<V> BigOldMap<V> {
    fn shard(&self, id: u64) -> &BigOldShard<V> {
        &self.shards[(id % BIG_OLD_MAP_SHARDS as u64) as usize]
    }
}

impl<V: Value> Design<V> for BigOldMap<V> {
    const NAME: &'static str = "big-old-map";
    fn create() -> Self {
        BigOldMap {
            shards: (0..BIG_OLD_MAP_SHARDS)
                .map(|_| Default::default())
                .collect(),
            next: AtomicU64::new(0),
        }
    }
    fn insert(&self, value: V) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut shard = self.shard(id).write().unwrap_or_else(|e| e.into_inner());
        shard.insert(id, value);
        id
    }
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&V) -> R) -> Option<R> {
        let shard = self.shard(id).read().unwrap_or_else(|e| e.into_inner());
        shard.get(&id).map(f)
    }
    unsafe fn counted(&self, id: u64) -> Option<u64> {
        let shard = self.shard(id).read().unwrap_or_else(|e| e.into_inner());
        let v = shard.get(&id).cloned();
        drop(shard);
        Some(v?.read())
    }
    unsafe fn remove(&self, id: u64) -> bool {
        let mut shard = self.shard(id).write().unwrap_or_else(|e| e.into_inner());
        let old = shard.remove(&id);
        drop(shard);
        old.is_some()
    }
    #[inline]
    unsafe fn take(&self, id: u64) -> Option<V> {
        let mut shard = self.shard(id).write().unwrap_or_else(|e| e.into_inner());
        shard.remove(&id)
    }
}

// ---- DashMap ----------------------------------------------------------------------------------

/// `dashmap::DashMap<u64, V>` (default shard amount and hasher) with a global `AtomicU64` id
/// counter.
pub struct DashMapDesign<V = u64> {
    map: dashmap::DashMap<u64, V>,
    next: AtomicU64,
}

impl<V: Value> Design<V> for DashMapDesign<V> {
    const NAME: &'static str = "dashmap";
    fn create() -> Self {
        DashMapDesign {
            map: dashmap::DashMap::new(),
            next: AtomicU64::new(0),
        }
    }
    fn insert(&self, value: V) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.map.insert(id, value);
        id
    }
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&V) -> R) -> Option<R> {
        self.map.get(&id).map(|v| f(&v))
    }
    unsafe fn counted(&self, id: u64) -> Option<u64> {
        let v = self.map.get(&id).map(|v| v.clone())?;
        Some(v.read())
    }
    unsafe fn remove(&self, id: u64) -> bool {
        self.map.remove(&id).is_some()
    }
    #[inline]
    unsafe fn take(&self, id: u64) -> Option<V> {
        self.map.remove(&id).map(|(_, v)| v)
    }
}

// ---- sharded-slab -----------------------------------------------------------------------------

/// `sharded_slab::Slab<V>` with the default `Config`; its `Entry` guard is a counted reference
/// to the slot, so the scoped and the counted lookup are the same operation.
pub struct ShardedSlab<V = u64>(sharded_slab::Slab<V>);

impl<V: Value> Design<V> for ShardedSlab<V> {
    const NAME: &'static str = "sharded-slab";
    fn create() -> Self {
        ShardedSlab(sharded_slab::Slab::new())
    }
    fn insert(&self, value: V) -> u64 {
        self.0.insert(value).expect("sharded-slab full") as u64
    }
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&V) -> R) -> Option<R> {
        self.0.get(id as usize).map(|e| f(&e))
    }
    unsafe fn counted(&self, id: u64) -> Option<u64> {
        let entry = self.0.get(id as usize)?;
        Some(entry.read())
    }
    unsafe fn remove(&self, id: u64) -> bool {
        // Drops the value now, or marks it for the last guard's holder to drop.
        self.0.remove(id as usize)
    }
    #[inline]
    unsafe fn take(&self, id: u64) -> Option<V> {
        // The crate's way to move a value out: waits for the slot's guards to drop.
        self.0.take(id as usize)
    }
}

// ---- parking_lot Mutex<SlotMap> ---------------------------------------------------------------

/// `parking_lot::Mutex<slotmap::SlotMap<DefaultKey, V>>`; ids are `KeyData::as_ffi`.
pub struct MutexSlotMap<V = u64>(parking_lot::Mutex<slotmap::SlotMap<slotmap::DefaultKey, V>>);

fn slot_key(id: u64) -> slotmap::DefaultKey {
    slotmap::KeyData::from_ffi(id).into()
}

impl<V: Value> Design<V> for MutexSlotMap<V> {
    const NAME: &'static str = "mutex-slotmap";
    fn create() -> Self {
        MutexSlotMap(parking_lot::Mutex::new(slotmap::SlotMap::new()))
    }
    fn insert(&self, value: V) -> u64 {
        slotmap::Key::data(&self.0.lock().insert(value)).as_ffi()
    }
    unsafe fn with<R>(&self, id: u64, f: impl FnOnce(&V) -> R) -> Option<R> {
        self.0.lock().get(slot_key(id)).map(f)
    }
    unsafe fn counted(&self, id: u64) -> Option<u64> {
        let v = self.0.lock().get(slot_key(id)).cloned()?;
        Some(v.read())
    }
    unsafe fn remove(&self, id: u64) -> bool {
        let old = self.0.lock().remove(slot_key(id));
        old.is_some()
    }
    #[inline]
    unsafe fn take(&self, id: u64) -> Option<V> {
        self.0.lock().remove(slot_key(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise<V: Value, D: Design<V>>() {
        let d = D::create();
        let ids: Vec<u64> = (0..1000).map(|i| d.insert(V::make(i * 3))).collect();
        for (i, &id) in ids.iter().enumerate() {
            // SAFETY: every id is live until removed below.
            unsafe {
                assert_eq!(d.with(id, V::read), Some(i as u64 * 3), "{}", D::NAME);
                assert_eq!(d.counted(id), Some(i as u64 * 3), "{}", D::NAME);
            }
        }
        for (i, &id) in ids.iter().enumerate() {
            if i % 2 == 0 {
                // SAFETY: each id is removed or taken once.
                assert!(unsafe { d.remove(id) }, "{}", D::NAME);
            } else {
                // SAFETY: as above.
                let v = unsafe { d.take(id) }.map(|v| v.read());
                assert_eq!(v, Some(i as u64 * 3), "{}", D::NAME);
            }
        }
        if D::NAME != "raw" {
            // SAFETY: checked designs accept stale ids.
            unsafe {
                assert_eq!(d.with(ids[0], V::read), None, "{}", D::NAME);
                assert!(!d.remove(ids[2]), "{}", D::NAME);
                assert!(d.take(ids[1]).is_none(), "{}", D::NAME);
            }
        }
    }

    #[test]
    fn every_design_stores_finds_removes_and_takes() {
        for name in ALL {
            with_design!(name, D => exercise::<u64, D>()).expect("known design");
            with_design!(name, Arc<u64>, D => exercise::<Arc<u64>, D>()).expect("known design");
        }
    }

    fn drops_each_clone_once<D: Design<Arc<u64>>>() {
        let arc = Arc::new(7u64);
        let d = D::create();
        let ids: Vec<u64> = (0..100).map(|_| d.insert(Arc::clone(&arc))).collect();
        assert_eq!(Arc::strong_count(&arc), 101, "{}", D::NAME);
        for (i, &id) in ids.iter().enumerate() {
            // SAFETY: each id ended once.
            unsafe {
                if i % 2 == 0 {
                    assert!(d.remove(id), "{}", D::NAME);
                } else {
                    assert_eq!(d.take(id).map(|v| *v), Some(7), "{}", D::NAME);
                }
            }
        }
        drop(d); // handles may hold ended values until a pass or its own drop
        assert_eq!(Arc::strong_count(&arc), 1, "{}", D::NAME);
    }

    /// Every `Arc` value a design stores is dropped exactly once by its end (remove or take):
    /// the designs pay the same reference-count costs.
    #[test]
    fn every_design_drops_each_arc_clone_once() {
        for name in ALL {
            with_design!(name, Arc<u64>, D => drops_each_clone_once::<D>()).expect("known design");
        }
    }
}
