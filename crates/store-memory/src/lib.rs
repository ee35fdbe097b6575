#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

/// The workspace README's example, compiled and run as a doc test so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct WorkspaceReadme;

mod config;
mod shard;
mod store;

pub use config::{DEFAULT_MAX_VALUE_SIZE, EvictionPolicy, MemoryLimit, MemoryStoreBuilder};
pub use shard::{ENTRY_OVERHEAD, LRU_SAMPLES};
pub use store::{MAX_LIST_LIMIT, MemoryStore, MemoryUsage, Sweeper};

use store_core::{SchemeRegistry, SharedStore, StoreExt};

/// Registers the `memory://` scheme in `registry`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let registry = store_core::SchemeRegistry::new();
/// store_memory::register(&registry);
/// let store = registry.open("memory://?max_entries=1000").await?;
/// # let _ = store;
/// # Ok::<(), store_core::Error>(())
/// # }).unwrap();
/// ```
pub fn register(registry: &SchemeRegistry) {
    registry.register("memory", |url: &str| {
        let store = open_url(url);
        Box::pin(async move { store }) as futures::future::BoxFuture<'static, _>
    });
}

/// Opens a memory store from a `memory://` URL directly.
pub fn open_url(url: &str) -> store_core::Result<SharedStore> {
    let parsed = url::Url::parse(url).map_err(|e| {
        store_core::Error::Misconfigured(format!("`{url}` is not a valid memory:// URL: {e}"))
    })?;
    MemoryStoreBuilder::from_url(&parsed).map(|b| b.build().into_shared())
}
