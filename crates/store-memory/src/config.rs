//! The builder: options, and reading them from a `memory://` URL.

use std::sync::Arc;

use store_core::raw::StoreUrl;
use store_core::{Clock, Result, StoreBuilder};

use crate::bound::EvictionPolicy;
use crate::store::{MemoryStore, Settings};

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
#[derive(Debug, Clone, Default)]
pub struct MemoryStoreBuilder {
    settings: Settings,
}

impl MemoryStoreBuilder {
    /// Number of independently locked shards, rounded up to a power of two in
    /// `1..=1024` (default: 16 per core, at least 16).
    pub fn shards(mut self, shards: usize) -> Self {
        self.settings.shards = shards.clamp(1, 1024).next_power_of_two();
        self
    }

    /// The time source for expiry (default: the system clock). Pass a
    /// [`store_core::ManualClock`] to test TTL logic without sleeping.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.settings.clock = Arc::new(clock);
        self
    }

    /// Largest value accepted, in bytes (default
    /// [`DEFAULT_MAX_VALUE_SIZE`](crate::DEFAULT_MAX_VALUE_SIZE)).
    pub fn max_value_size(mut self, bytes: usize) -> Self {
        self.settings.max_value_size = bytes;
        self
    }

    /// Bounds the number of entries.
    pub fn max_entries(mut self, entries: usize) -> Self {
        self.settings.limit.max_entries = Some(entries);
        self
    }

    /// Bounds the bytes held (see [`MemoryLimit`](crate::MemoryLimit) for how entries are counted).
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.settings.limit.max_bytes = Some(bytes);
        self
    }

    /// What to do when a bound is reached (default [`EvictionPolicy::Reject`]).
    pub fn eviction(mut self, policy: EvictionPolicy) -> Self {
        self.settings.limit.policy = policy;
        self
    }

    /// Builds the store. Synchronous, unlike other backends' `build()`: nothing to
    /// connect and nothing that can fail. The [`StoreBuilder`] impl offers the same as
    /// the async `build()` every backend has.
    pub fn build(self) -> MemoryStore {
        MemoryStore::from_settings(self.settings)
    }

    /// Reads a `memory://` URL: nothing after `//` but options, and the options
    /// `shards`, `max_value_size`, `max_entries`, `max_bytes` (whole numbers) and
    /// `eviction` (`reject` or `lru`).
    ///
    /// Errors: `Misconfigured` for another scheme, anything between `//` and `?`, an
    /// invalid value or an unknown option (worded as for every backend, see
    /// [`StoreUrl`]).
    ///
    /// ```
    /// use store_memory::MemoryStoreBuilder;
    /// assert!(MemoryStoreBuilder::from_url("memory://?max_entries=100&eviction=lru").is_ok());
    /// assert!(MemoryStoreBuilder::from_url("memory://?max_entries=lots").is_err());
    /// assert!(MemoryStoreBuilder::from_url("memory:").is_err());
    /// ```
    pub fn from_url(url: &str) -> Result<Self> {
        let mut url = StoreUrl::parse(url, Self::SCHEMES)?;
        if !url.target().is_empty() && url.target() != "/" {
            return Err(store_core::Error::Misconfigured(format!(
                "`{}` is not a valid store URL: a memory:// URL names nothing before its \
                 options (`memory://?max_entries=1000`)",
                url.redacted()
            )));
        }
        let mut builder = Self::default();
        if let Some(shards) = url.take("shards")? {
            builder = builder.shards(shards);
        }
        if let Some(bytes) = url.take("max_value_size")? {
            builder = builder.max_value_size(bytes);
        }
        if let Some(entries) = url.take("max_entries")? {
            builder = builder.max_entries(entries);
        }
        if let Some(bytes) = url.take("max_bytes")? {
            builder = builder.max_bytes(bytes);
        }
        match url.take_choice("eviction", &["reject", "lru"])? {
            Some("lru") => builder = builder.eviction(EvictionPolicy::LeastRecentlyUsed),
            Some(_) => builder = builder.eviction(EvictionPolicy::Reject),
            None => {}
        }
        url.finish(&OPTIONS)?;
        Ok(builder)
    }
}

/// The options a `memory://` URL takes.
const OPTIONS: [&str; 5] = [
    "shards",
    "max_value_size",
    "max_entries",
    "max_bytes",
    "eviction",
];

impl StoreBuilder for MemoryStoreBuilder {
    type Store = MemoryStore;
    const SCHEMES: &'static [&'static str] = &["memory"];

    fn from_url(url: &str) -> Result<Self> {
        MemoryStoreBuilder::from_url(url)
    }

    async fn build(self) -> Result<MemoryStore> {
        Ok(MemoryStoreBuilder::build(self))
    }
}

impl MemoryStore {
    /// A builder for the other options.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder::default()
    }
}
