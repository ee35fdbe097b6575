#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod client;
mod config;
mod error;
mod keys;
mod layout;
#[cfg(feature = "monitor")]
mod monitor;
mod scripts;
mod store;

pub use config::{DEFAULT_MAX_VALUE_SIZE, RedisStoreBuilder};
#[cfg(feature = "monitor")]
pub use monitor::CommandCounter;
pub use store::{MAX_LIST_LIMIT, RedisStore};

/// The fred crate this backend is built on, for building clients and configs.
pub use fred;

use store_core::{SchemeRegistry, StoreExt};

/// Registers `redis://`, `rediss://` and `redis-cluster://` in `registry`.
pub fn register(registry: &SchemeRegistry) {
    for scheme in ["redis", "rediss", "redis-cluster", "rediss-cluster"] {
        registry.register(scheme, |url: &str| {
            let builder = RedisStore::builder(url);
            Box::pin(async move { Ok(builder.connect().await?.into_shared()) })
                as futures::future::BoxFuture<'static, _>
        });
    }
}
