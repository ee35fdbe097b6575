//! The optional memory bound: entries and bytes accounted on every write, and what
//! happens when a write would cross the bound (reject, or evict least recently used).

use std::sync::atomic::{AtomicUsize, Ordering};

use store_core::{Error, Result, Timestamp};

use crate::store::{Inner, MemoryStore};

/// What a memory-bounded store does when a write would exceed its bound.
///
/// Expired entries are always reclaimed first. The default is [`EvictionPolicy::Reject`]
/// because silently dropping live state is rarely safe in fleetstate's uses: an evicted
/// idempotency record reruns a handler, an evicted rate-limit counter grants a fresh
/// budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EvictionPolicy {
    /// Fail the write with [`Error::CapacityExceeded`]; nothing is dropped.
    #[default]
    Reject,
    /// Evict live entries, least recently used first, approximately: each eviction
    /// samples up to [`LRU_SAMPLES`](crate::LRU_SAMPLES) entries of one shard (shards
    /// visited round-robin) and drops the one read or written longest ago, the way
    /// Redis's `allkeys-lru` does. Costs one clock read per `get`.
    LeastRecentlyUsed,
}

/// A memory bound: maximum entries and/or bytes.
///
/// An entry's size is the length of its namespace, key and value plus
/// [`ENTRY_OVERHEAD`](crate::ENTRY_OVERHEAD) bytes of bookkeeping, so the bound tracks
/// real memory use closely for small entries too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryLimit {
    /// Most entries held at once (expired ones included until reclaimed).
    pub max_entries: Option<usize>,
    /// Most bytes held at once, counted as above.
    pub max_bytes: Option<usize>,
    /// What happens when a write would cross a bound.
    pub policy: EvictionPolicy,
}

/// The bound and its running totals.
pub(crate) struct Bound {
    pub(crate) limit: MemoryLimit,
    pub(crate) entries: AtomicUsize,
    pub(crate) bytes: AtomicUsize,
    pub(crate) evict_cursor: AtomicUsize,
}

/// How much a store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Entries held, including expired ones not yet reclaimed.
    pub entries: usize,
    /// Bytes held, counted as [`MemoryLimit`] describes.
    pub bytes: usize,
}

impl MemoryStore {
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
}

impl Inner {
    /// Accounts for a write that adds `entries` entries and replaces `old_bytes` by
    /// `new_bytes`; `false` (and nothing reserved) if that would cross a bound.
    pub(crate) fn reserve(&self, entries: usize, new_bytes: usize, old_bytes: usize) -> bool {
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

    pub(crate) fn release(&self, entries: usize, bytes: usize) {
        if let Some(b) = &self.bound {
            b.entries.fetch_sub(entries, Ordering::Relaxed);
            b.bytes.fetch_sub(bytes, Ordering::Relaxed);
        }
    }

    /// Frees room for one more entry of `size` bytes, or says why it cannot.
    pub(crate) fn make_room(&self, size: usize, now: Timestamp) -> Result<()> {
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

    pub(crate) fn full(&self, why: &str) -> Error {
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
