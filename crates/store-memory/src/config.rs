//! Options, the builder and URL parsing.

use std::sync::Arc;

use store_core::{Clock, Error, Result, SystemClock};
use url::Url;

use crate::MemoryStore;

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

/// Builds a [`MemoryStore`].
///
/// ```
/// use store_memory::{EvictionPolicy, MemoryStore};
/// let store = MemoryStore::builder()
///     .shards(16)
///     .max_entries(10_000)
///     .eviction(EvictionPolicy::LeastRecentlyUsed)
///     .build();
/// # let _ = store;
/// ```
#[derive(Debug, Clone)]
pub struct MemoryStoreBuilder {
    pub(crate) shards: usize,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) max_value_size: usize,
    pub(crate) limit: MemoryLimit,
}

/// Default largest value: 16 MiB.
pub const DEFAULT_MAX_VALUE_SIZE: usize = 16 * 1024 * 1024;

impl Default for MemoryStoreBuilder {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        MemoryStoreBuilder {
            shards: (cores * 16).clamp(16, 1024).next_power_of_two(),
            clock: Arc::new(SystemClock),
            max_value_size: DEFAULT_MAX_VALUE_SIZE,
            limit: MemoryLimit::default(),
        }
    }
}

impl MemoryStoreBuilder {
    /// Number of independently locked shards, rounded up to a power of two in
    /// `1..=1024` (default: 16 per core, at least 16).
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = shards.clamp(1, 1024).next_power_of_two();
        self
    }

    /// The time source for expiry (default: the system clock). Pass a
    /// [`store_core::ManualClock`] to test TTL logic without sleeping.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Largest value accepted, in bytes (default [`DEFAULT_MAX_VALUE_SIZE`]).
    pub fn max_value_size(mut self, bytes: usize) -> Self {
        self.max_value_size = bytes;
        self
    }

    /// Bounds the number of entries.
    pub fn max_entries(mut self, entries: usize) -> Self {
        self.limit.max_entries = Some(entries);
        self
    }

    /// Bounds the bytes held (see [`MemoryLimit`] for how entries are counted).
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.limit.max_bytes = Some(bytes);
        self
    }

    /// What to do when a bound is reached (default [`EvictionPolicy::Reject`]).
    pub fn eviction(mut self, policy: EvictionPolicy) -> Self {
        self.limit.policy = policy;
        self
    }

    /// Builds the store.
    pub fn build(self) -> MemoryStore {
        MemoryStore::from_builder(self)
    }

    /// Reads options from a `memory://` URL's query: `shards`, `max_value_size`,
    /// `max_entries`, `max_bytes`, `eviction` (`reject` or `lru`).
    ///
    /// ```
    /// use store_memory::MemoryStoreBuilder;
    /// let url = url::Url::parse("memory://?max_entries=100&eviction=lru").unwrap();
    /// assert!(MemoryStoreBuilder::from_url(&url).is_ok());
    /// let bad = url::Url::parse("memory://?max_entries=lots").unwrap();
    /// assert!(MemoryStoreBuilder::from_url(&bad).is_err());
    /// ```
    pub fn from_url(url: &Url) -> Result<Self> {
        if url.scheme() != "memory" {
            return Err(Error::Misconfigured(format!(
                "`{url}` is not a memory:// URL"
            )));
        }
        let mut builder = Self::default();
        for (name, value) in url.query_pairs() {
            let number = || {
                value.parse::<usize>().map_err(|_| {
                    Error::Misconfigured(format!(
                        "memory:// option `{name}` must be a whole number, got `{value}`"
                    ))
                })
            };
            builder = match &*name {
                "shards" => builder.shards(number()?),
                "max_value_size" => builder.max_value_size(number()?),
                "max_entries" => builder.max_entries(number()?),
                "max_bytes" => builder.max_bytes(number()?),
                "eviction" => match &*value {
                    "reject" => builder.eviction(EvictionPolicy::Reject),
                    "lru" => builder.eviction(EvictionPolicy::LeastRecentlyUsed),
                    other => {
                        return Err(Error::Misconfigured(format!(
                            "memory:// option `eviction` must be `reject` or `lru`, got `{other}`"
                        )));
                    }
                },
                other => {
                    return Err(Error::Misconfigured(format!(
                        "unknown memory:// option `{other}` (known: shards, max_value_size, \
                         max_entries, max_bytes, eviction)"
                    )));
                }
            };
        }
        Ok(builder)
    }
}
