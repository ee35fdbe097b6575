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

pub use config::{PostgresStoreBuilder, create_schema};
pub use layout::{DEFAULT_TABLE, TableLayout};
pub use store::{DEFAULT_MAX_VALUE_SIZE, MAX_LIST_LIMIT, PostgresStore};

/// The pool and driver this backend is built on, for building pools of your own.
pub use deadpool_postgres;
/// The driver underneath.
pub use tokio_postgres;

use store_core::SchemeRegistry;

/// Registers `postgres://` and `postgresql://` in `registry`.
pub fn register(registry: &SchemeRegistry) {
    registry.register_builder::<PostgresStoreBuilder>();
}
