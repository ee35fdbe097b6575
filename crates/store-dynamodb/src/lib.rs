#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod config;
mod counter;
mod error;
mod layout;
mod store;

pub use config::DynamoStoreBuilder;
pub use counter::RequestCounter;
pub use layout::{MAX_ITEM_SIZE, PartitionValue, TableLayout, TableSchema, create_table};
pub use store::{DynamoStore, MAX_LIST_LIMIT};

/// The SDK this backend is built on.
pub use aws_sdk_dynamodb;

use store_core::{SchemeRegistry, StoreExt};

/// Registers `dynamodb://` in `registry`.
pub fn register(registry: &SchemeRegistry) {
    registry.register("dynamodb", |url: &str| {
        let builder = DynamoStore::builder(url);
        Box::pin(async move { Ok(builder?.build().await?.into_shared()) })
            as futures::future::BoxFuture<'static, _>
    });
}
