//! The contract mapped onto the shards.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::RwLock;
use store_core::raw::validate;
use store_core::{
    Advance, Advanced, Capabilities, Clock, Condition, Cursor, DeleteCondition, Entry, Error,
    Floor, IncrOutcome, ListPage, Result, SetOptions, SetOutcome, Store, SystemClock, Timestamp,
};

use crate::bound::{Bound, EvictionPolicy, MemoryLimit};
use crate::layout::{Data, Shard, Slot, Write, entry_size, hash_pair};

/// Largest page one `list` call returns.
pub const MAX_LIST_LIMIT: usize = 1000;

/// How many evictions one write may trigger before it gives up with
/// [`Error::CapacityExceeded`] (only reached when entries are being written concurrently
/// faster than they can be evicted).
const MAX_EVICTIONS_PER_WRITE: usize = 64;

/// The in-process store: fleetstate's embedded default and the backend of unit tests.
///
/// - **Sharded**: entries are spread over independently locked shards by a hash of
///   `(namespace, key)`; there is no global lock.
/// - **Atomic**: every operation runs under its shard's lock, so conditions, `incr` and
///   compare-and-set are exact under any concurrency.
/// - **Expiry**: lazy (an expired entry is invisible from the moment it expires and is
///   reclaimed by the next write to it), plus an optional sweeper task
///   ([`MemoryStore::spawn_sweeper`]) or [`MemoryStore::purge_expired`].
/// - **Sorted listing**: `list` returns keys in ascending byte order.
/// - **Bounded** on request ([`MemoryStoreBuilder::max_entries`](crate::MemoryStoreBuilder::max_entries),
///   [`MemoryStoreBuilder::max_bytes`](crate::MemoryStoreBuilder::max_bytes)) with an [`EvictionPolicy`].
///
/// Clones share the same data. Operations never wait on I/O: their futures are ready on
/// first poll, so dropping one before it is polled does nothing and after it is polled
/// is too late to cancel (the operation is complete).
#[derive(Clone)]
pub struct MemoryStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) shards: Box<[ShardLock]>,
    shard_mask: u64,
    pub(crate) hasher: foldhash::fast::RandomState,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) capabilities: Capabilities,
    pub(crate) bound: Option<Bound>,
}

/// A shard's lock on its own cache lines, so two cores hitting neighbouring shards do
/// not contend.
#[repr(align(128))]
pub(crate) struct ShardLock(pub(crate) RwLock<Shard>);

/// What a store is built from (filled by [`crate::MemoryStoreBuilder`]).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) shards: usize,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) max_value_size: usize,
    pub(crate) limit: MemoryLimit,
}

/// Default largest value: 16 MiB.
pub const DEFAULT_MAX_VALUE_SIZE: usize = 16 * 1024 * 1024;

impl Default for Settings {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        Settings {
            shards: (cores * 16).clamp(16, 1024).next_power_of_two(),
            clock: Arc::new(SystemClock),
            max_value_size: DEFAULT_MAX_VALUE_SIZE,
            limit: MemoryLimit::default(),
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::from_settings(Settings::default())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("shards", &self.inner.shards.len())
            .field("limit", &self.inner.bound.as_ref().map(|b| b.limit))
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An unbounded store on the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn from_settings(b: Settings) -> Self {
        let mut capabilities = Capabilities::default();
        capabilities.atomic_incr = true;
        capabilities.atomic_advance = true;
        capabilities.max_advance_value = store_core::raw::MAX_ADVANCE_VALUE;
        capabilities.compare_and_set = true;
        capabilities.returns_current_on_reject = true;
        capabilities.sorted_list = true;
        capabilities.strongly_consistent_reads = true;
        capabilities.max_key_len = validate::MAX_KEY_LEN;
        capabilities.max_namespace_len = validate::MAX_NAMESPACE_LEN;
        capabilities.max_value_size = b.max_value_size;
        capabilities.max_list_limit = MAX_LIST_LIMIT;
        capabilities.ttl_resolution = Duration::from_millis(1);
        let bounded = b.limit.max_entries.is_some() || b.limit.max_bytes.is_some();
        let inner = Inner {
            shards: (0..b.shards)
                .map(|_| ShardLock(RwLock::new(Shard::default())))
                .collect(),
            shard_mask: b.shards as u64 - 1,
            hasher: foldhash::fast::RandomState::default(),
            clock: b.clock,
            capabilities,
            bound: bounded.then(|| Bound {
                limit: b.limit,
                entries: AtomicUsize::new(0),
                bytes: AtomicUsize::new(0),
                evict_cursor: AtomicUsize::new(0),
            }),
        };
        MemoryStore {
            inner: Arc::new(inner),
        }
    }

    fn locate(&self, namespace: &str, key: &str) -> (u64, usize) {
        let hash = hash_pair(&self.inner.hasher, namespace, key);
        // hashbrown indexes buckets with the low bits and tags with the top 7, so the
        // shard is chosen from the middle bits to keep both well spread.
        let shard = ((hash >> 32) & self.inner.shard_mask) as usize;
        (hash, shard)
    }

    fn lru(&self) -> bool {
        self.inner
            .bound
            .as_ref()
            .is_some_and(|b| b.limit.policy == EvictionPolicy::LeastRecentlyUsed)
    }

    fn set_now(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        opts: SetOptions,
    ) -> Result<SetOutcome> {
        validate::set(&self.inner.capabilities, namespace, key, &value, &opts)?;
        let (hash, index) = self.locate(namespace, key);
        let new_size = entry_size(namespace, key, value.len());
        for _ in 0..MAX_EVICTIONS_PER_WRITE {
            let mut shard = self.inner.shards[index].0.write();
            let now = LazyNow::new(&*self.inner.clock);
            let existing = shard.find(hash, namespace, key);
            let live = existing.filter(|s| s.is_live(|| now.get()));
            let allowed = match opts.condition {
                Condition::Always => true,
                Condition::IfAbsent => live.is_none(),
                Condition::IfPresent => live.is_some(),
                Condition::IfVersion(v) => {
                    live.is_some_and(|s| s.version == store_core::raw::version_number(v))
                }
            };
            if !allowed {
                return Ok(SetOutcome::Rejected {
                    current: live.map(Slot::entry),
                });
            }
            let old = existing.map(|s| (1, s.size())).unwrap_or((0, 0));
            if !self.inner.reserve(1 - old.0, new_size, old.1) {
                drop(shard);
                self.inner.make_room(new_size, now.get())?;
                continue;
            }
            let version = shard.next_version(index);
            let write = Write {
                data: Data::Bytes(value),
                version,
                expires_at: opts.ttl.map(|ttl| now.get().add_ttl(ttl)),
                access_ms: self.lru().then(|| now.get().as_millis()),
            };
            shard.upsert(&self.inner.hasher, hash, namespace, key, write);
            return Ok(SetOutcome::Written(store_core::raw::version(version)));
        }
        Err(self
            .inner
            .full("too many concurrent writes competing for room"))
    }

    fn incr_now(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        validate::incr(&self.inner.capabilities, namespace, key, ttl)?;
        let (hash, index) = self.locate(namespace, key);
        let new_size = entry_size(namespace, key, 8);
        for _ in 0..MAX_EVICTIONS_PER_WRITE {
            let mut shard = self.inner.shards[index].0.write();
            let now = LazyNow::new(&*self.inner.clock);
            let existing = shard.find(hash, namespace, key);
            let old = existing.map(|s| (1, s.size())).unwrap_or((0, 0));
            let (value, expires_at) = match existing.filter(|s| s.is_live(|| now.get())) {
                Some(slot) => {
                    let current = slot.data.as_counter().ok_or(Error::NotACounter)?;
                    let value = current.checked_add(delta).ok_or(Error::CounterOverflow)?;
                    (value, slot.expires_at)
                }
                None => (delta, ttl.map(|ttl| now.get().add_ttl(ttl))),
            };
            if !self.inner.reserve(1 - old.0, new_size, old.1) {
                drop(shard);
                self.inner.make_room(new_size, now.get())?;
                continue;
            }
            let write = Write {
                data: Data::Counter(value),
                version: shard.next_version(index),
                expires_at,
                access_ms: self.lru().then(|| now.get().as_millis()),
            };
            shard.upsert(&self.inner.hasher, hash, namespace, key, write);
            return Ok(IncrOutcome { value, expires_at });
        }
        Err(self
            .inner
            .full("too many concurrent writes competing for room"))
    }

    fn advance_now(&self, namespace: &str, key: &str, advance: Advance) -> Result<Advanced> {
        validate::advance(&self.inner.capabilities, namespace, key, &advance)?;
        let (hash, index) = self.locate(namespace, key);
        let new_size = entry_size(namespace, key, 20);
        for _ in 0..MAX_EVICTIONS_PER_WRITE {
            let mut shard = self.inner.shards[index].0.write();
            let now = LazyNow::new(&*self.inner.clock);
            let existing = shard.find(hash, namespace, key);
            let old = existing.map(|s| (1, s.size())).unwrap_or((0, 0));
            let current = match existing.filter(|s| s.is_live(|| now.get())) {
                Some(slot) => Some(match &slot.data {
                    Data::Counter(n) => u64::try_from(*n).map_err(|_| Error::NotACounter)?,
                    Data::Bytes(bytes) => store_core::raw::parse_value(bytes)?,
                }),
                None => None,
            };
            let floor = match advance.floor {
                Floor::Value(value) => value,
                Floor::Clock => self.inner.clock.now_micros(),
            };
            let (start, new) = advance.apply(current, floor);
            if new.is_some_and(|new| new > store_core::raw::MAX_ADVANCE_VALUE) {
                return Err(Error::CounterOverflow);
            }
            let Some(new) = new else {
                return Ok(Advanced {
                    written: false,
                    value: start,
                    floor,
                    contended: false,
                });
            };
            if !self.inner.reserve(1 - old.0, new_size, old.1) {
                drop(shard);
                self.inner.make_room(new_size, now.get())?;
                continue;
            }
            let data = Data::Counter(new as i64); // at most i64::MAX, checked above
            let write = Write {
                data,
                version: shard.next_version(index),
                expires_at: advance.ttl.map(|ttl| now.get().add_ttl(ttl)),
                access_ms: self.lru().then(|| now.get().as_millis()),
            };
            shard.upsert(&self.inner.hasher, hash, namespace, key, write);
            return Ok(Advanced {
                written: true,
                value: new,
                floor,
                contended: false,
            });
        }
        Err(self
            .inner
            .full("too many concurrent writes competing for room"))
    }

    fn get_now(&self, namespace: &str, key: &str) -> Result<Option<Entry>> {
        validate::entry_key(&self.inner.capabilities, namespace, key)?;
        let (hash, index) = self.locate(namespace, key);
        let shard = self.inner.shards[index].0.read();
        let Some(slot) = shard.find(hash, namespace, key) else {
            return Ok(None);
        };
        let clock = &self.inner.clock;
        if !slot.is_live(|| clock.now()) {
            return Ok(None);
        }
        if self.lru() {
            slot.touch(clock.now().as_millis());
        }
        Ok(Some(slot.entry()))
    }

    fn delete_now(&self, namespace: &str, key: &str, condition: DeleteCondition) -> Result<bool> {
        validate::entry_key(&self.inner.capabilities, namespace, key)?;
        let (hash, index) = self.locate(namespace, key);
        let mut shard = self.inner.shards[index].0.write();
        let Some(slot) = shard.find(hash, namespace, key) else {
            return Ok(false);
        };
        let live = slot.is_live(|| self.inner.clock.now());
        let matches = match condition {
            DeleteCondition::Always => true,
            DeleteCondition::IfVersion(v) => slot.version == store_core::raw::version_number(v),
        };
        if live && !matches {
            return Ok(false);
        }
        // Either the condition holds, or the entry is expired and reclaimed on the way.
        if let Some(removed) = shard.remove(hash, namespace, key) {
            self.inner.release(1, removed.size());
        }
        Ok(live)
    }
}

/// The current time, read from the clock at most once and only if needed: a write that
/// involves no expiry never pays for a clock read.
struct LazyNow<'a> {
    clock: &'a dyn Clock,
    at: std::cell::Cell<Option<Timestamp>>,
}

impl<'a> LazyNow<'a> {
    fn new(clock: &'a dyn Clock) -> Self {
        LazyNow {
            clock,
            at: std::cell::Cell::new(None),
        }
    }

    fn get(&self) -> Timestamp {
        match self.at.get() {
            Some(at) => at,
            None => {
                let at = self.clock.now();
                self.at.set(Some(at));
                at
            }
        }
    }
}

impl Store for MemoryStore {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Entry>> {
        self.get_now(namespace, key)
    }

    async fn exists(&self, namespace: &str, key: &str) -> Result<bool> {
        validate::entry_key(&self.inner.capabilities, namespace, key)?;
        let (hash, index) = self.locate(namespace, key);
        let shard = self.inner.shards[index].0.read();
        let clock = &self.inner.clock;
        Ok(shard
            .find(hash, namespace, key)
            .is_some_and(|slot| slot.is_live(|| clock.now())))
    }

    async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        opts: SetOptions,
    ) -> Result<SetOutcome> {
        self.set_now(namespace, key, value, opts)
    }

    async fn delete(&self, namespace: &str, key: &str, condition: DeleteCondition) -> Result<bool> {
        self.delete_now(namespace, key, condition)
    }

    async fn incr(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        self.incr_now(namespace, key, delta, ttl)
    }

    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        self.list_now(namespace, prefix, cursor, limit)
    }

    async fn advance(&self, namespace: &str, key: &str, advance: Advance) -> Result<Advanced> {
        self.advance_now(namespace, key, advance)
    }

    async fn clear(&self, namespace: &str, prefix: &str) -> Result<u64> {
        self.clear_now(namespace, prefix)
    }

    fn capabilities(&self) -> &Capabilities {
        &self.inner.capabilities
    }
}
