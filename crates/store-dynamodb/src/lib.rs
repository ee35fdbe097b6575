#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod advance;
mod config;
mod error;
pub mod iam;
mod incr;
mod layout;
mod list;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::DynamoStoreBuilder;
pub use layout::{MAX_ITEM_SIZE, PartitionValue, TableLayout, TableSchema, create_table};
pub use store::{DynamoStore, MAX_LIST_LIMIT};

/// The SDK this backend is built on.
pub use aws_sdk_dynamodb;

use store_core::SchemeRegistry;

/// Registers `dynamodb://` in `registry`.
pub fn register(registry: &SchemeRegistry) {
    registry.register_builder::<DynamoStoreBuilder>();
}
