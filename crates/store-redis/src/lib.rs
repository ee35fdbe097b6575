#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(not(any(feature = "redis-rs", feature = "fred")))]
compile_error!("store-redis needs a client: enable the `redis-rs` feature (the default) or `fred`");

mod client;
mod config;
mod error;
mod layout;
mod list;
mod scripts;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "tls")]
mod tls;

#[cfg(feature = "redis-rs")]
pub use client::redis_rs::RedisRsConnection;
pub use config::{ClientLibrary, RedisStoreBuilder};
pub use store::{DEFAULT_MAX_VALUE_SIZE, MAX_LIST_LIMIT, RedisStore};

/// The fred crate, for building fred clients and configs (feature `fred`).
#[cfg(feature = "fred")]
pub use fred;
/// The redis-rs crate, for building clients and connections (feature `redis-rs`).
#[cfg(feature = "redis-rs")]
pub use redis;

use store_core::SchemeRegistry;

/// Registers `redis://`, `rediss://`, `redis-cluster://` and `rediss-cluster://` in
/// `registry`.
pub fn register(registry: &SchemeRegistry) {
    registry.register_builder::<RedisStoreBuilder>();
}
