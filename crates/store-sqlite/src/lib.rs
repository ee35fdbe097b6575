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

pub use config::SqliteStoreBuilder;
pub use layout::{DEFAULT_TABLE, schema_sql};
pub use store::{DEFAULT_MAX_VALUE_SIZE, MAX_LIST_LIMIT, SqliteStore};

/// The pool and driver this backend is built on.
pub use deadpool_sqlite;

use store_core::SchemeRegistry;

/// Registers `sqlite://` (and `sqlite::memory:`) in `registry`.
pub fn register(registry: &SchemeRegistry) {
    registry.register_builder::<SqliteStoreBuilder>();
}
