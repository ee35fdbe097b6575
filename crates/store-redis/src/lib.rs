#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod config;
mod conn;
mod error;
mod layout;
mod list;
mod scripts;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "tls")]
mod tls;

pub use config::RedisStoreBuilder;
pub use store::{DEFAULT_MAX_VALUE_SIZE, MAX_LIST_LIMIT, RedisStore};

/// The fred crate this backend is built on, for building clients and configs.
pub use fred;

use store_core::SchemeRegistry;

/// Registers `redis://`, `rediss://`, `redis-cluster://` and `rediss-cluster://` in
/// `registry`.
pub fn register(registry: &SchemeRegistry) {
    registry.register_builder::<RedisStoreBuilder>();
}
