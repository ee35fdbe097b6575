#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod config;
mod error;
mod layout;
mod list;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::CloudflareKvStoreBuilder;
pub use layout::{
    DEFAULT_PREFIX, MAX_KEY_LEN, MAX_NAMESPACE_LEN, MAX_PREFIX_LEN, MAX_VALUE_SIZE, MIN_TTL_SECS,
};
pub use store::{CloudflareKvStore, MAX_LIST_LIMIT};

/// The `worker` crate this store is built on.
pub use worker;
