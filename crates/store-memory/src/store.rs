//! The contract mapped onto the shards.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::RwLock;
use store_core::{
    Capabilities, Clock, Condition, Cursor, DeleteCondition, Entry, Error, IncrOutcome, ListPage,
    Result, SetOptions, SetOutcome, Store, Timestamp, Version, keys, validate,
};

use crate::config::{EvictionPolicy, MemoryLimit, MemoryStoreBuilder};
use crate::shard::{Data, Shard, Slot, Write, entry_size, hash_pair};

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
/// - **Bounded** on request ([`MemoryStoreBuilder::max_entries`],
///   [`MemoryStoreBuilder::max_bytes`]) with an [`EvictionPolicy`].
///
/// Clones share the same data. Operations never wait on I/O: their futures are ready on
/// first poll, so dropping one before it is polled does nothing and after it is polled
/// is too late to cancel (the operation is complete).
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Box<[ShardLock]>,
    shard_mask: u64,
    hasher: foldhash::fast::RandomState,
    clock: Arc<dyn Clock>,
    capabilities: Capabilities,
    bound: Option<Bound>,
}

/// A shard's lock on its own cache lines, so two cores hitting neighbouring shards do
/// not contend.
#[repr(align(128))]
struct ShardLock(RwLock<Shard>);

struct Bound {
    limit: MemoryLimit,
    entries: AtomicUsize,
    bytes: AtomicUsize,
    evict_cursor: AtomicUsize,
}

/// How much a store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Entries held, including expired ones not yet reclaimed.
    pub entries: usize,
    /// Bytes held, counted as [`MemoryLimit`] describes.
    pub bytes: usize,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStoreBuilder::default().build()
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

    /// A builder for the other options.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder::default()
    }

    pub(crate) fn from_builder(b: MemoryStoreBuilder) -> Self {
        let mut capabilities = Capabilities::default();
        capabilities.atomic_incr = true;
        capabilities.compare_and_set = true;
        capabilities.returns_current_on_reject = true;
        capabilities.sorted_list = true;
        capabilities.strongly_consistent_reads = true;
        capabilities.max_key_len = keys::MAX_KEY_LEN;
        capabilities.max_namespace_len = keys::MAX_NAMESPACE_LEN;
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

    /// Entries and bytes held (a scan of every shard when the store is unbounded).
    pub fn usage(&self) -> MemoryUsage {
        if let Some(b) = &self.inner.bound {
            return MemoryUsage {
                entries: b.entries.load(Ordering::Relaxed),
                bytes: b.bytes.load(Ordering::Relaxed),
            };
        }
        let mut usage = MemoryUsage {
            entries: 0,
            bytes: 0,
        };
        for shard in self.inner.shards.iter() {
            let shard = shard.0.read();
            usage.entries += shard.len();
            usage.bytes += shard.size();
        }
        usage
    }

    /// Reclaims every expired entry now; returns how many were dropped.
    pub fn purge_expired(&self) -> usize {
        let now = self.inner.clock.now();
        self.inner
            .shards
            .iter()
            .map(|shard| {
                let (bytes, count) = shard.0.write().purge_expired(now);
                self.inner.release(count, bytes);
                count
            })
            .sum()
    }

    /// Starts a tokio task that calls [`purge_expired`](Self::purge_expired) every
    /// `every`. The task stops when the returned handle is dropped or the last clone of
    /// the store is dropped. Must be called inside a tokio runtime.
    pub fn spawn_sweeper(&self, every: Duration) -> Sweeper {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                MemoryStore { inner }.purge_expired();
            }
        });
        Sweeper(task)
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
                Condition::IfVersion(v) => live.is_some_and(|s| s.version == v.as_raw()),
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
            return Ok(SetOutcome::Written(Version::from_raw(version)));
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
            DeleteCondition::IfVersion(v) => slot.version == v.as_raw(),
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

    fn list_now(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        validate::list(&self.inner.capabilities, namespace, prefix, limit)?;
        let after = cursor.map(decode_cursor).transpose()?;
        let now = self.inner.clock.now();
        let mut keys: Vec<Arc<str>> = Vec::new();
        for shard in self.inner.shards.iter() {
            // One more than asked per shard tells whether another page follows.
            let shard = shard.0.read();
            keys.extend(shard.keys_from(
                namespace,
                prefix,
                after,
                limit + 1,
                &self.inner.hasher,
                now,
            ));
        }
        keys.sort_unstable();
        let cursor = (keys.len() > limit).then(|| {
            keys.truncate(limit);
            encode_cursor(keys.last().map_or("", |k| k))
        });
        Ok(ListPage {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            cursor,
        })
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

const CURSOR_TAG: char = 'k';

fn encode_cursor(last_key: &str) -> Cursor {
    let mut s = String::with_capacity(last_key.len() + 1);
    s.push(CURSOR_TAG);
    s.push_str(last_key);
    Cursor::new(s)
}

fn decode_cursor(cursor: &Cursor) -> Result<&str> {
    cursor.as_str().strip_prefix(CURSOR_TAG).ok_or_else(|| {
        Error::InvalidCursor(format!(
            "`{cursor}` was not produced by a memory store's list"
        ))
    })
}

impl Inner {
    /// Accounts for a write that adds `entries` entries and replaces `old_bytes` by
    /// `new_bytes`; `false` (and nothing reserved) if that would cross a bound.
    fn reserve(&self, entries: usize, new_bytes: usize, old_bytes: usize) -> bool {
        let Some(b) = &self.bound else { return true };
        if !add_within(&b.entries, entries, b.limit.max_entries) {
            return false;
        }
        if new_bytes >= old_bytes {
            if !add_within(&b.bytes, new_bytes - old_bytes, b.limit.max_bytes) {
                b.entries.fetch_sub(entries, Ordering::Relaxed);
                return false;
            }
        } else {
            b.bytes.fetch_sub(old_bytes - new_bytes, Ordering::Relaxed);
        }
        true
    }

    fn release(&self, entries: usize, bytes: usize) {
        if let Some(b) = &self.bound {
            b.entries.fetch_sub(entries, Ordering::Relaxed);
            b.bytes.fetch_sub(bytes, Ordering::Relaxed);
        }
    }

    /// Frees room for one more entry of `size` bytes, or says why it cannot.
    fn make_room(&self, size: usize, now: Timestamp) -> Result<()> {
        let Some(b) = &self.bound else { return Ok(()) };
        if b.limit.max_bytes.is_some_and(|max| size > max) {
            return Err(self.full(&format!(
                "an entry of {size} bytes can never fit in max_bytes"
            )));
        }
        match b.limit.policy {
            EvictionPolicy::Reject => {
                let mut freed = 0;
                for shard in self.shards.iter() {
                    let (bytes, count) = shard.0.write().purge_expired(now);
                    self.release(count, bytes);
                    freed += count;
                }
                if freed == 0 {
                    return Err(self.full("eviction policy is `Reject`"));
                }
                Ok(())
            }
            EvictionPolicy::LeastRecentlyUsed => {
                for _ in 0..self.shards.len() {
                    let at =
                        b.evict_cursor.fetch_add(1, Ordering::Relaxed) & (self.shards.len() - 1);
                    let mut shard = self.shards[at].0.write();
                    let (bytes, count) = shard.purge_expired(now);
                    if count > 0 {
                        self.release(count, bytes);
                        return Ok(());
                    }
                    if let Some(bytes) = shard.evict_lru(&self.hasher) {
                        self.release(1, bytes);
                        return Ok(());
                    }
                }
                Err(self.full("nothing left to evict"))
            }
        }
    }

    fn full(&self, why: &str) -> Error {
        let limit = self.bound.as_ref().map(|b| b.limit).unwrap_or_default();
        Error::CapacityExceeded(format!(
            "memory store bound reached (max_entries: {:?}, max_bytes: {:?}): {why}",
            limit.max_entries, limit.max_bytes
        ))
    }
}

fn add_within(counter: &AtomicUsize, add: usize, max: Option<usize>) -> bool {
    if add == 0 {
        return true;
    }
    match max {
        None => {
            counter.fetch_add(add, Ordering::Relaxed);
            true
        }
        Some(max) => counter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                n.checked_add(add).filter(|&total| total <= max)
            })
            .is_ok(),
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

    fn capabilities(&self) -> &Capabilities {
        &self.inner.capabilities
    }
}

/// Handle of the task started by [`MemoryStore::spawn_sweeper`]; dropping it stops the
/// task.
#[derive(Debug)]
pub struct Sweeper(tokio::task::JoinHandle<()>);

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}
