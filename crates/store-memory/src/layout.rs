//! One shard: a hash table of slots plus a sorted key index per namespace.

use std::collections::BTreeSet;
use std::hash::BuildHasher;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use hashbrown::HashTable;
use store_core::{Entry, Timestamp};

/// Bookkeeping bytes charged per entry on top of its namespace, key and value.
pub const ENTRY_OVERHEAD: usize = 96;

/// How many entries one LRU eviction compares.
pub const LRU_SAMPLES: usize = 16;

/// A stored value: bytes as written, or a counter kept as a number so `incr` needs no
/// parsing.
#[derive(Debug, Clone)]
pub(crate) enum Data {
    Bytes(Bytes),
    Counter(i64),
}

impl Data {
    pub(crate) fn to_bytes(&self) -> Bytes {
        match self {
            Data::Bytes(b) => b.clone(),
            Data::Counter(n) => Bytes::copy_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Data::Bytes(b) => b.len(),
            Data::Counter(_) => 8,
        }
    }

    /// The counter this value holds: a counter, or bytes that are the canonical decimal
    /// form of an `i64` (what `get` shows for a counter), as Redis's `INCR` accepts.
    pub(crate) fn as_counter(&self) -> Option<i64> {
        match self {
            Data::Counter(n) => Some(*n),
            Data::Bytes(b) => parse_canonical_i64(b),
        }
    }
}

/// Parses `b` if it is exactly the decimal form `i64::to_string` produces.
pub(crate) fn parse_canonical_i64(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?;
    let n: i64 = s.parse().ok()?;
    (itoa::Buffer::new().format(n) == s).then_some(n)
}

/// What a write puts in a slot.
pub(crate) struct Write {
    pub(crate) data: Data,
    pub(crate) version: u64,
    pub(crate) expires_at: Option<Timestamp>,
    /// The write's time in clock milliseconds, when LRU eviction tracks access times.
    pub(crate) access_ms: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) namespace: Arc<str>,
    pub(crate) key: Arc<str>,
    pub(crate) data: Data,
    pub(crate) version: u64,
    pub(crate) expires_at: Option<Timestamp>,
    /// Last read or write in clock milliseconds; maintained only under LRU eviction.
    pub(crate) last_access: AtomicU64,
}

impl Slot {
    pub(crate) fn is_live(&self, now: impl FnOnce() -> Timestamp) -> bool {
        self.expires_at.is_none_or(|at| at > now())
    }

    pub(crate) fn entry(&self) -> Entry {
        Entry {
            value: self.data.to_bytes(),
            version: store_core::raw::version(self.version),
            expires_at: self.expires_at,
        }
    }

    pub(crate) fn size(&self) -> usize {
        entry_size(&self.namespace, &self.key, self.data.len())
    }

    pub(crate) fn touch(&self, now_ms: u64) {
        self.last_access.store(now_ms, Ordering::Relaxed);
    }
}

pub(crate) fn entry_size(namespace: &str, key: &str, value_len: usize) -> usize {
    namespace.len() + key.len() + value_len + ENTRY_OVERHEAD
}

/// Hashes a `(namespace, key)` pair. `0xff` never occurs in UTF-8, so as a separator it
/// keeps the hashed byte string injective in the pair.
pub(crate) fn hash_pair(hasher: &impl BuildHasher, namespace: &str, key: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = hasher.build_hasher();
    h.write(namespace.as_bytes());
    h.write_u8(0xff);
    h.write(key.as_bytes());
    h.finish()
}

#[derive(Debug, Default)]
pub(crate) struct Shard {
    table: HashTable<Slot>,
    /// Sorted keys per namespace, for `list`. Holds the same `Arc<str>`s as the slots.
    index: hashbrown::HashMap<Arc<str>, BTreeSet<Arc<str>>, foldhash::fast::RandomState>,
    next_version: u64,
}

impl Shard {
    pub(crate) fn find(&self, hash: u64, namespace: &str, key: &str) -> Option<&Slot> {
        self.table
            .find(hash, |s| &*s.key == key && &*s.namespace == namespace)
    }

    pub(crate) fn find_mut(&mut self, hash: u64, namespace: &str, key: &str) -> Option<&mut Slot> {
        self.table
            .find_mut(hash, |s| &*s.key == key && &*s.namespace == namespace)
    }

    /// A version unique in the whole store: a per-shard sequence tagged with the shard.
    pub(crate) fn next_version(&mut self, shard_index: usize) -> u64 {
        self.next_version += 1;
        (self.next_version << 10) | shard_index as u64
    }

    /// Writes `write` to `(namespace, key)`, replacing an existing slot in place or
    /// inserting a new one (and indexing its key).
    pub(crate) fn upsert(
        &mut self,
        hasher: &impl BuildHasher,
        hash: u64,
        namespace: &str,
        key: &str,
        write: Write,
    ) {
        if let Some(slot) = self.find_mut(hash, namespace, key) {
            slot.data = write.data;
            slot.version = write.version;
            slot.expires_at = write.expires_at;
            if let Some(ms) = write.access_ms {
                slot.touch(ms);
            }
            return;
        }
        let key: Arc<str> = Arc::from(key);
        let namespace = match self.index.get_key_value(namespace) {
            Some((ns, _)) => ns.clone(),
            None => Arc::from(namespace),
        };
        self.index
            .entry(namespace.clone())
            .or_default()
            .insert(key.clone());
        let slot = Slot {
            namespace,
            key,
            data: write.data,
            version: write.version,
            expires_at: write.expires_at,
            last_access: AtomicU64::new(write.access_ms.unwrap_or(0)),
        };
        self.table
            .insert_unique(hash, slot, |s| hash_pair(hasher, &s.namespace, &s.key));
    }

    /// Removes the slot and its index entry; returns the removed slot.
    pub(crate) fn remove(&mut self, hash: u64, namespace: &str, key: &str) -> Option<Slot> {
        let found = self
            .table
            .find_entry(hash, |s| &*s.key == key && &*s.namespace == namespace)
            .ok()?;
        let (slot, _) = found.remove();
        unindex(&mut self.index, &slot);
        Some(slot)
    }

    /// Drops every expired slot; returns the bytes freed and the count.
    pub(crate) fn purge_expired(&mut self, now: Timestamp) -> (usize, usize) {
        let Shard { table, index, .. } = self;
        let (mut bytes, mut count) = (0, 0);
        table.retain(|slot| {
            if slot.is_live(|| now) {
                return true;
            }
            bytes += slot.size();
            count += 1;
            unindex(index, slot);
            false
        });
        (bytes, count)
    }

    /// Drops the least recently used of up to [`LRU_SAMPLES`] slots; returns its size.
    pub(crate) fn evict_lru(&mut self, hasher: &impl BuildHasher) -> Option<usize> {
        let victim = self
            .table
            .iter()
            .take(LRU_SAMPLES)
            .min_by_key(|s| s.last_access.load(Ordering::Relaxed))
            .map(|s| (s.namespace.clone(), s.key.clone()))?;
        let hash = hash_pair(hasher, &victim.0, &victim.1);
        self.remove(hash, &victim.0, &victim.1).map(|s| s.size())
    }

    /// Up to `limit` live keys of `namespace` after `after` (or from `prefix`), in order.
    pub(crate) fn keys_from(
        &self,
        namespace: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
        hasher: &impl BuildHasher,
        now: Timestamp,
    ) -> Vec<Arc<str>> {
        let Some(keys) = self.index.get(namespace) else {
            return Vec::new();
        };
        let start = match after {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        keys.range::<str, _>((start, Bound::Unbounded))
            .take_while(|k| k.starts_with(prefix))
            .filter(|k| {
                let hash = hash_pair(hasher, namespace, k);
                self.find(hash, namespace, k)
                    .is_some_and(|s| s.is_live(|| now))
            })
            .take(limit)
            .cloned()
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    pub(crate) fn size(&self) -> usize {
        self.table.iter().map(Slot::size).sum()
    }
}

fn unindex(
    index: &mut hashbrown::HashMap<Arc<str>, BTreeSet<Arc<str>>, foldhash::fast::RandomState>,
    slot: &Slot,
) {
    if let Some(keys) = index.get_mut(&*slot.namespace) {
        keys.remove(&*slot.key);
        if keys.is_empty() {
            index.remove(&*slot.namespace);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_decimals_are_counters() {
        assert_eq!(parse_canonical_i64(b"41"), Some(41));
        assert_eq!(parse_canonical_i64(b"-7"), Some(-7));
        assert_eq!(parse_canonical_i64(b"0"), Some(0));
        for bad in [
            &b"+1"[..],
            b"01",
            b" 1",
            b"1 ",
            b"",
            b"-0",
            b"1.0",
            b"99999999999999999999",
        ] {
            assert_eq!(parse_canonical_i64(bad), None, "{bad:?}");
        }
    }
}
