use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use futures::{Stream, TryStreamExt, stream};
use serde::Serialize;
use serde::de::DeserializeOwned;
use store_core::layer::RetryLayer;
use store_core::{SetOptions, SetOutcome, SharedStore, Store, Version};

use crate::ops::{Call, KeysPage, KeysRequest, Record};
use crate::options::{Context, Options, Scope};
use crate::{RecordError, Result};

/// Typed, scoped records over any store.
///
/// Every method has a `_with` twin taking per-call [`Options`] that override the
/// instance's field by field. Cloning is cheap and clones share the store.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), record_storage::RecordError> {
/// use record_storage::{Context, Options, RecordStorage};
///
/// let storage = RecordStorage::new(
///     store_memory::MemoryStore::new(),
///     Options::new().context(Context::new("acme", "prod")),
/// );
/// storage.set_value("greeting", &"hello").await?;
/// assert_eq!(storage.get_value::<String>("greeting").await?.as_deref(), Some("hello"));
/// assert!(storage.value_exists("greeting").await?);
/// storage.delete_value("greeting").await?;
/// assert_eq!(storage.get_value::<String>("greeting").await?, None);
/// # Ok(())
/// # }
/// ```
pub struct RecordStorage<S = SharedStore> {
    shared: Arc<Shared<S>>,
    options: Options,
    retry: RetryLayer,
}

struct Shared<S> {
    store: S,
    /// One lock per key being computed by `get_or_set_with` in this process.
    flights: DashMap<(String, String), Arc<tokio::sync::Mutex<()>>>,
}

impl<S> Clone for RecordStorage<S> {
    fn clone(&self) -> Self {
        RecordStorage {
            shared: Arc::clone(&self.shared),
            options: self.options.clone(),
            retry: self.retry.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for RecordStorage<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordStorage")
            .field("store", &self.shared.store)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<S: Store> RecordStorage<S> {
    /// Records in `store` with instance-level `options`. An unset context is read from
    /// the environment now ([`Context::from_env`]).
    pub fn new(store: S, options: Options) -> Self {
        RecordStorage {
            shared: Arc::new(Shared {
                store,
                flights: DashMap::new(),
            }),
            options: options.with_context_resolved(),
            retry: RetryLayer::default(),
        }
    }

    /// Replaces the backoff schedule used when `retry_on_429` is enabled (default:
    /// store-core's `RetryLayer::default()`, 5 attempts, full jitter, 50 ms to 2 s).
    pub fn with_retry(mut self, retry: RetryLayer) -> Self {
        self.retry = retry;
        self
    }

    /// The instance options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.shared.store
    }

    fn merged(&self, call: &Options) -> Options {
        self.options.merged(call)
    }

    fn call<'a>(&'a self, opts: &'a Options) -> Result<Call<'a, S>> {
        Call::new(&self.shared.store, &self.retry, opts)
    }

    /// Inserts or overwrites the record (see [`RecordStorage::set_value_with`]).
    pub async fn set_value<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<Version> {
        self.set_value_with(key, value, &Options::new()).await
    }

    /// Inserts or overwrites the record, returning its new version. With
    /// `deny_update_overwrite` an existing record is left alone and the call fails with
    /// [`RecordError::AlreadyExists`]; the check and the write are one atomic step, so
    /// of many concurrent insert-only writers exactly one succeeds. Null values are
    /// refused ([`RecordError::NullValue`]).
    pub async fn set_value_with<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        options: &Options,
    ) -> Result<Version> {
        let opts = self.merged(options);
        self.call(&opts)?.set(key, value).await
    }

    /// The value, or `None` when there is no live record (see
    /// [`RecordStorage::get_value_with`]).
    pub async fn get_value<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.get_value_with(key, &Options::new()).await
    }

    /// The value, or `None` when there is no live record. Expired records are never
    /// returned. Reading as the wrong type is [`RecordError::Decode`].
    pub async fn get_value_with<T: DeserializeOwned>(
        &self,
        key: &str,
        options: &Options,
    ) -> Result<Option<T>> {
        Ok(self.get_record_with(key, options).await?.map(|r| r.value))
    }

    /// The record with its version and expiry (see [`RecordStorage::get_record_with`]).
    pub async fn get_record<T: DeserializeOwned>(&self, key: &str) -> Result<Option<Record<T>>> {
        self.get_record_with(key, &Options::new()).await
    }

    /// The record with its version (for [`RecordStorage::set_value_if_version`]) and
    /// expiry.
    pub async fn get_record_with<T: DeserializeOwned>(
        &self,
        key: &str,
        options: &Options,
    ) -> Result<Option<Record<T>>> {
        let opts = self.merged(options);
        self.call(&opts)?.get(key).await
    }

    /// Whether a live record exists (see [`RecordStorage::value_exists_with`]).
    pub async fn value_exists(&self, key: &str) -> Result<bool> {
        self.value_exists_with(key, &Options::new()).await
    }

    /// Whether a live record exists, without fetching or decoding its value where the
    /// backend allows (Redis `EXISTS`, a DynamoDB projection).
    pub async fn value_exists_with(&self, key: &str, options: &Options) -> Result<bool> {
        let opts = self.merged(options);
        self.call(&opts)?.exists(key).await
    }

    /// Deletes the record (see [`RecordStorage::delete_value_with`]).
    pub async fn delete_value(&self, key: &str) -> Result<bool> {
        self.delete_value_with(key, &Options::new()).await
    }

    /// Deletes the record. Idempotent: deleting a missing record succeeds. Returns
    /// whether a live record was removed.
    pub async fn delete_value_with(&self, key: &str, options: &Options) -> Result<bool> {
        let opts = self.merged(options);
        self.call(&opts)?.delete(key).await
    }

    /// Deletes every record of the instance's scope (see
    /// [`RecordStorage::clear_scope_with`]).
    pub async fn clear_scope(&self) -> Result<u64> {
        self.clear_scope_with("", &Options::new()).await
    }

    /// Deletes every live record whose key starts with `prefix` (every record for `""`)
    /// in the scope `options` select, and returns how many it removed. One call of the
    /// store's `clear` (Redis: `SCAN` and `UNLINK` on every primary; DynamoDB: the
    /// walk of `list` and `BatchWriteItem`), so it scales with the scope, not the store.
    /// Not atomic: records written while it runs may survive it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), record_storage::RecordError> {
    /// # use record_storage::{Context, Options, RecordStorage, Scope};
    /// let storage = RecordStorage::new(
    ///     store_memory::MemoryStore::new(),
    ///     Options::new().context(Context::new("w", "e")),
    /// );
    /// storage.set_value("cart:1", &1).await?;
    /// storage.set_value("cart:2", &2).await?;
    /// storage.set_value("user", &3).await?;
    /// assert_eq!(storage.clear_scope_with("cart:", &Options::new()).await?, 2);
    /// assert!(storage.value_exists("user").await?);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn clear_scope_with(&self, prefix: &str, options: &Options) -> Result<u64> {
        let opts = self.merged(options);
        self.call(&opts)?.clear(prefix).await
    }

    /// One page of keys (see [`RecordStorage::get_all_keys_with`]).
    pub async fn get_all_keys(&self, request: KeysRequest) -> Result<KeysPage> {
        self.get_all_keys_with(request, &Options::new()).await
    }

    /// One page of the scope's keys, as they were written. When
    /// `last_evaluated_key` is present more keys may follow: ask again with it until it
    /// is `None`. A full walk returns every record that was live throughout exactly once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), record_storage::RecordError> {
    /// # use record_storage::{Context, Options, RecordStorage, KeysRequest};
    /// # let storage = RecordStorage::new(store_memory::MemoryStore::new(), Options::new().context(Context::new("w", "e")));
    /// # for i in 0..5 { storage.set_value(&format!("k{i}"), &i).await?; }
    /// let mut keys = Vec::new();
    /// let mut last_evaluated_key = None;
    /// loop {
    ///     let request = KeysRequest::default().limit(2).last_evaluated_key(last_evaluated_key);
    ///     let page = storage.get_all_keys(request).await?;
    ///     keys.extend(page.keys);
    ///     match page.last_evaluated_key {
    ///         Some(next) => last_evaluated_key = Some(next),
    ///         None => break,
    ///     }
    /// }
    /// assert_eq!(keys.len(), 5);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_all_keys_with(
        &self,
        request: KeysRequest,
        options: &Options,
    ) -> Result<KeysPage> {
        let opts = self.merged(options);
        self.call(&opts)?.keys_page(&request).await
    }

    /// Every key of the scope, walking all pages.
    pub fn keys(&self) -> impl Stream<Item = Result<String>> + Send + '_ {
        self.keys_with(Options::new())
    }

    /// Every key of the scope under per-call options, walking all pages.
    pub fn keys_with(&self, options: Options) -> impl Stream<Item = Result<String>> + Send + '_ {
        let opts = self.merged(&options);
        stream::try_unfold(
            (opts, Some(KeysRequest::default())),
            move |(opts, next)| async move {
                let Some(request) = next else {
                    return Ok::<_, RecordError>(None);
                };
                let page = self.call(&opts)?.keys_page(&request).await?;
                let next = page
                    .last_evaluated_key
                    .map(|key| request.clone().last_evaluated_key(Some(key)));
                Ok(Some((
                    stream::iter(page.keys.into_iter().map(Ok)),
                    (opts, next),
                )))
            },
        )
        .try_flatten()
    }

    /// Writes `value` only if the record still has version `expected` (see
    /// [`RecordStorage::set_value_if_version_with`]).
    pub async fn set_value_if_version<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        expected: Version,
    ) -> Result<Version> {
        self.set_value_if_version_with(key, value, expected, &Options::new())
            .await
    }

    /// Writes `value` only if the record still has version `expected`, atomically;
    /// otherwise [`RecordError::VersionMismatch`] and nothing is written.
    pub async fn set_value_if_version_with<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        expected: Version,
        options: &Options,
    ) -> Result<Version> {
        let opts = self.merged(options);
        self.call(&opts)?.set_if_version(key, value, expected).await
    }

    /// Read-modify-write without lost updates (see [`RecordStorage::update_value_with`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), record_storage::RecordError> {
    /// # use record_storage::{Context, Options, RecordStorage};
    /// # let storage = RecordStorage::new(store_memory::MemoryStore::new(), Options::new().context(Context::new("w", "e")));
    /// let visits = storage.update_value("visits", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
    /// assert_eq!(visits, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn update_value<T, F>(&self, key: &str, f: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> T,
    {
        self.update_value_with(key, f, &Options::new()).await
    }

    /// Applies `f` to the current value (`None` when missing) and writes the result only
    /// if the record did not change in between (compare-and-set on its version), calling
    /// `f` again on the newer value after a conflict. No concurrent update is lost.
    /// Gives up with [`RecordError::Contention`] after 256 conflicts in a row.
    pub async fn update_value_with<T, F>(&self, key: &str, f: F, options: &Options) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> T,
    {
        let opts = self.merged(options);
        self.call(&opts)?.update(key, f).await
    }

    /// The cached value, or `compute()`'s, stored with `ttl` (see
    /// [`RecordStorage::get_or_set_with_options`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), record_storage::RecordError> {
    /// # use std::time::Duration;
    /// # use record_storage::{Context, Options, RecordStorage};
    /// # let storage = RecordStorage::new(store_memory::MemoryStore::new(), Options::new().context(Context::new("w", "e")));
    /// let rate: f64 = storage
    ///     .get_or_set_with("eur-usd", Duration::from_secs(60), || async { 1.08 })
    ///     .await?;
    /// assert_eq!(rate, 1.08);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_or_set_with<T, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        compute: F,
    ) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        self.get_or_set_with_options(key, ttl, compute, &Options::new())
            .await
    }

    /// The live value of `key`, or else `compute()`'s value stored with `ttl`.
    ///
    /// Concurrent callers in this process wait for one computation per key. Across
    /// processes the value is written insert-only, so if another instance stored one
    /// first, every caller gets that one: the fleet agrees on a single value.
    pub async fn get_or_set_with_options<T, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        compute: F,
        options: &Options,
    ) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let opts = self.merged(options).ttl(ttl);
        let call = self.call(&opts)?;
        if let Some(record) = call.get::<T>(key).await? {
            return Ok(record.value);
        }
        let flight_key = (call.ns.clone(), key.to_owned());
        let flight = Arc::clone(
            self.shared
                .flights
                .entry(flight_key.clone())
                .or_default()
                .value(),
        );
        let result = async {
            let _turn = flight.lock().await;
            if let Some(record) = call.get::<T>(key).await? {
                return Ok(record.value);
            }
            let value = compute().await;
            let bytes = call.encode(key, &value)?;
            let write = SetOptions::if_absent().with_ttl_opt(opts.effective_ttl());
            match call.store.set(&call.ns, key, bytes, write).await? {
                SetOutcome::Written(_) => Ok(value),
                SetOutcome::Rejected {
                    current: Some(entry),
                } => call.decode(key, &entry.value),
                SetOutcome::Rejected { current: None } => match call.get::<T>(key).await? {
                    Some(record) => Ok(record.value),
                    None => Ok(value),
                },
            }
        }
        .await;
        drop(flight);
        self.shared
            .flights
            .remove_if(&flight_key, |_, lock| Arc::strong_count(lock) == 1);
        result
    }

    /// A storage for invocation `invocation_id`: its [`Scope::Invocation`] records are
    /// visible only through it and are deleted by [`Invocation::end`] (or, best effort,
    /// when it is dropped inside a Tokio runtime). Whatever is missed expires on its own
    /// within [`crate::INVOCATION_TTL`].
    pub fn invocation(&self, invocation_id: impl Into<String>) -> Invocation<S>
    where
        S: 'static,
    {
        let context = self
            .options
            .get_context()
            .cloned()
            .unwrap_or_default()
            .with_invocation(invocation_id);
        Invocation {
            storage: Some(RecordStorage {
                shared: Arc::clone(&self.shared),
                options: self.options.clone().context(context),
                retry: self.retry.clone(),
            }),
        }
    }

    async fn delete_invocation_records(&self) -> Result<usize> {
        let opts = self.merged(&Options::new().scope(Scope::Invocation));
        let deleted = self.call(&opts)?.clear("").await?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }
}

/// The records of one invocation: a [`RecordStorage`] (through `Deref`) whose context
/// carries the invocation id. [`Invocation::end`] deletes its invocation-scoped records.
pub struct Invocation<S: Store + 'static> {
    storage: Option<RecordStorage<S>>,
}

impl<S: Store + 'static> fmt::Debug for Invocation<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invocation")
            .field(
                "context",
                &self.storage.as_ref().and_then(|s| s.options.get_context()),
            )
            .finish_non_exhaustive()
    }
}

impl<S: Store + 'static> std::ops::Deref for Invocation<S> {
    type Target = RecordStorage<S>;
    fn deref(&self) -> &RecordStorage<S> {
        self.storage.as_ref().expect("present until end or drop")
    }
}

impl<S: Store + 'static> Invocation<S> {
    /// The invocation's context.
    pub fn context(&self) -> &Context {
        self.options
            .get_context()
            .expect("set by RecordStorage::invocation")
    }

    /// Deletes every invocation-scoped record of this invocation and returns how many.
    pub async fn end(mut self) -> Result<usize> {
        let storage = self.storage.take().expect("present until end or drop");
        storage.delete_invocation_records().await
    }
}

impl<S: Store + 'static> Drop for Invocation<S> {
    fn drop(&mut self) {
        let Some(storage) = self.storage.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("invocation dropped outside a Tokio runtime: its records expire by TTL");
            return;
        };
        runtime.spawn(async move {
            if let Err(error) = storage.delete_invocation_records().await {
                tracing::warn!(%error, "invocation records not deleted: they expire by TTL");
            }
        });
    }
}
