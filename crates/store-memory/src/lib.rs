#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

/// The workspace README's example, compiled and run as a doc test so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct WorkspaceReadme;

mod bound;
mod config;
mod layout;
mod list;
mod store;
mod sweeper;

pub use bound::{EvictionPolicy, MemoryLimit, MemoryUsage};
pub use config::MemoryStoreBuilder;
pub use layout::{ENTRY_OVERHEAD, LRU_SAMPLES};
pub use store::{DEFAULT_MAX_VALUE_SIZE, MAX_LIST_LIMIT, MemoryStore};
pub use sweeper::Sweeper;

use store_core::SchemeRegistry;

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
    registry.register_builder::<MemoryStoreBuilder>();
}
