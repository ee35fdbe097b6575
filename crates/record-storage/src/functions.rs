//! The free-function form, for callers who keep no instance: each call takes the store
//! and its options explicitly (the context is read from the environment when unset).

use serde::Serialize;
use serde::de::DeserializeOwned;
use store_core::layer::RetryLayer;
use store_core::{Store, Version};

use crate::ops::{Call, KeysPage, KeysRequest};
use crate::{Options, Result};

fn resolved(options: &Options) -> Options {
    options.clone().with_context_resolved()
}

/// Inserts or overwrites a record: [`crate::RecordStorage::set_value_with`] without an
/// instance.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), record_storage::RecordError> {
/// use record_storage::{Context, Options, get_record_value, set_record_value};
/// let store = store_memory::MemoryStore::new();
/// let options = Options::new().context(Context::new("acme", "dev"));
/// set_record_value(&store, "MY_KEY", &vec![1, 2, 3], &options).await?;
/// let value: Option<Vec<u8>> = get_record_value(&store, "MY_KEY", &options).await?;
/// assert_eq!(value, Some(vec![1, 2, 3]));
/// # Ok(())
/// # }
/// ```
pub async fn set_record_value<S: Store, T: Serialize + ?Sized>(
    store: &S,
    key: &str,
    value: &T,
    options: &Options,
) -> Result<Version> {
    let opts = resolved(options);
    Call::new(store, &RetryLayer::default(), &opts)?
        .set(key, value)
        .await
}

/// Reads a record: [`crate::RecordStorage::get_value_with`] without an instance.
pub async fn get_record_value<S: Store, T: DeserializeOwned>(
    store: &S,
    key: &str,
    options: &Options,
) -> Result<Option<T>> {
    let opts = resolved(options);
    let record = Call::new(store, &RetryLayer::default(), &opts)?
        .get::<T>(key)
        .await?;
    Ok(record.map(|r| r.value))
}

/// One page of keys: [`crate::RecordStorage::get_all_keys_with`] without an instance.
pub async fn get_keys_of_all_records<S: Store>(
    store: &S,
    request: KeysRequest,
    options: &Options,
) -> Result<KeysPage> {
    let opts = resolved(options);
    Call::new(store, &RetryLayer::default(), &opts)?
        .keys_page(&request)
        .await
}

/// Deletes a record (idempotent): [`crate::RecordStorage::delete_value_with`] without
/// an instance.
pub async fn delete_record_value<S: Store>(
    store: &S,
    key: &str,
    options: &Options,
) -> Result<bool> {
    let opts = resolved(options);
    Call::new(store, &RetryLayer::default(), &opts)?
        .delete(key)
        .await
}

/// Whether a live record exists: [`crate::RecordStorage::value_exists_with`] without an
/// instance.
pub async fn record_value_exists<S: Store>(
    store: &S,
    key: &str,
    options: &Options,
) -> Result<bool> {
    let opts = resolved(options);
    Call::new(store, &RetryLayer::default(), &opts)?
        .exists(key)
        .await
}
