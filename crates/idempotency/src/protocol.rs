use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use moka::policy::EvictionPolicy;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use store_core::{
    DeleteCondition, Entry, SetOptions, SetOutcome, SharedStore, Store, Timestamp, Version,
};
use tokio::time::Instant;

use crate::config::{self, Config, DEFAULT_IN_PROGRESS_WINDOW, FUNCTION_NAME_ENV, Replay};
use crate::metrics::{self, Event};
use crate::record::{Record, Status};
use crate::{IdempotencyError, hash};

/// Claims lost to races (a record vanishing or being taken over between two requests)
/// before a call gives up with `AlreadyInProgress`.
const MAX_CLAIMS: u32 = 16;

/// Runs handlers once per idempotency key across the fleet and replays their results.
///
/// Cloning is cheap; clones share the store, configuration and local cache.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), idempotency::IdempotencyError> {
/// use idempotency::{Config, Idempotency, IdempotencyError};
///
/// let idempotency = Idempotency::new(
///     store_memory::MemoryStore::new(),
///     Config::new("payments").event_key_jmespath("order_id")?,
/// )?;
/// let order = serde_json::json!({"order_id": "o-1", "amount": 30});
/// let mut charges = 0;
/// for _ in 0..3 {
///     let receipt: String = idempotency
///         .idempotent(&order, || async {
///             charges += 1;
///             Ok::<_, IdempotencyError>(format!("charged {}", order["amount"]))
///         })
///         .await?;
///     assert_eq!(receipt, "charged 30");
/// }
/// assert_eq!(charges, 1);
/// # Ok(())
/// # }
/// ```
pub struct Idempotency<S = SharedStore> {
    inner: Arc<Inner<S>>,
}

struct Inner<S> {
    store: S,
    config: Config,
    namespace: String,
    cache: Option<moka::sync::Cache<String, Arc<Cached>>>,
    disabled: bool,
}

struct Cached {
    data: Value,
    validation: Option<String>,
    expires_at: Option<Timestamp>,
}

impl<S> Clone for Idempotency<S> {
    fn clone(&self) -> Self {
        Idempotency {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for Idempotency<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idempotency")
            .field("store", &self.inner.store)
            .field("namespace", &self.inner.namespace)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// The record key and payload validation hash of one call.
pub(crate) struct Keys {
    pub(crate) key: String,
    pub(crate) validation: Option<String>,
}

impl<S: Store> Idempotency<S> {
    /// Idempotency over `store` with `config`.
    ///
    /// Fails when no function name is configured or found in `AWS_LAMBDA_FUNCTION_NAME`,
    /// when the namespace does not fit the store, or when the store cannot
    /// compare-and-set. Logs a warning when idempotency is disabled by the environment.
    pub fn new(store: S, config: Config) -> Result<Self, IdempotencyError> {
        let name = match &config.name {
            Some(name) => name.clone(),
            None => std::env::var(FUNCTION_NAME_ENV).map_err(|_| {
                IdempotencyError::Configuration(format!(
                    "no function name: give one with `Config::new(name)` or set {FUNCTION_NAME_ENV}"
                ))
            })?,
        };
        let caps = store.capabilities();
        if !caps.compare_and_set {
            return Err(IdempotencyError::Configuration(
                "the store cannot compare-and-set, which exactly-once execution needs".into(),
            ));
        }
        let namespace = format!("idempotency#{name}");
        store_core::raw::validate::validate_namespace_within(&namespace, caps.max_namespace_len)
            .map_err(|e| IdempotencyError::Configuration(format!("function name `{name}`: {e}")))?;
        let disabled = config.disabled.unwrap_or_else(config::disabled_by_env);
        if disabled {
            tracing::warn!(
                namespace,
                "idempotency is DISABLED (environment or configuration): handlers run on every call"
            );
        }
        let cache = config.local_cache.map(|max| {
            moka::sync::Cache::builder()
                .max_capacity(max)
                .eviction_policy(EvictionPolicy::lru())
                .build()
        });
        Ok(Idempotency {
            inner: Arc::new(Inner {
                store,
                config,
                namespace,
                cache,
                disabled,
            }),
        })
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// Whether idempotency is switched off (configuration or environment).
    pub fn is_disabled(&self) -> bool {
        self.inner.disabled
    }

    /// The namespace records live in: `idempotency#<name>`.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The configuration in force.
    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Drops `key` from the local cache, if there is one.
    pub(crate) fn forget_cached(&self, key: &str) {
        if let Some(cache) = &self.inner.cache {
            cache.invalidate(key);
        }
    }

    /// Runs `handler` once per idempotency key of `payload` and replays its result to
    /// duplicates.
    ///
    /// - First call: claims the key (an in-progress record, one atomic insert), runs
    ///   the handler, stores its result by compare-and-set: 2 store operations.
    /// - Duplicate of a completed call: the rejected claim returns the record, whose
    ///   result is replayed: 1 operation (a `get` more on stores that do not return the
    ///   current entry on rejection; none with a local cache hit). A different payload
    ///   under validation is `PayloadMismatch`.
    /// - Duplicate of a running call: `AlreadyInProgress`, or in dedupe mode a bounded
    ///   wait for the result. A run past its in-progress window is presumed dead: its
    ///   in-progress record expires with the window (on the store's clock), so the
    ///   duplicate's claim finds the key absent and takes over in the claim itself, 2
    ///   operations in all (when this process's clock runs ahead of the store's, the
    ///   orphan is seen first and taken over by compare-and-set, 3). A live run is never
    ///   taken over; if a taken-over run finishes after all, its result is returned to
    ///   its caller but never overwrites the new record (it is stored only when nobody
    ///   has claimed the key since).
    /// - Handler error: the record is deleted (compare-and-set) so a retry can run, and
    ///   the error is returned unchanged.
    ///
    /// Dropping the future mid-handler leaves the record in progress until its window
    /// passes; then a duplicate takes over.
    pub async fn idempotent<P, R, E, F, Fut>(&self, payload: &P, handler: F) -> Result<R, E>
    where
        P: Serialize + 'static,
        R: Serialize + DeserializeOwned,
        E: From<IdempotencyError>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        self.idempotent_until(payload, None, handler).await
    }

    /// [`Idempotency::idempotent`] for an invocation that must finish by `deadline`:
    /// the in-progress window ends there (unless the configuration sets one).
    pub async fn idempotent_until<P, R, E, F, Fut>(
        &self,
        payload: &P,
        deadline: Option<Timestamp>,
        handler: F,
    ) -> Result<R, E>
    where
        P: Serialize + 'static,
        R: Serialize + DeserializeOwned,
        E: From<IdempotencyError>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        if self.inner.disabled {
            return handler().await;
        }
        match self.keys(payload)? {
            Some(keys) => self.execute(keys, deadline, handler).await,
            None => handler().await,
        }
    }

    /// A reusable idempotent version of `handler`, for per-record use in batches.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), idempotency::IdempotencyError> {
    /// # use idempotency::{Config, Idempotency, IdempotencyError};
    /// let idempotency = Idempotency::new(store_memory::MemoryStore::new(), Config::new("sqs-batch"))?;
    /// let process = idempotency.wrap(|message: String| async move {
    ///     Ok::<_, IdempotencyError>(message.len())
    /// });
    /// for message in ["a", "bb", "a"] {
    ///     process.call(message.to_owned()).await?; // the second "a" is replayed
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn wrap<P, R, E, F, Fut>(&self, handler: F) -> Wrapped<S, F>
    where
        P: Serialize + 'static,
        R: Serialize + DeserializeOwned,
        E: From<IdempotencyError>,
        F: Fn(P) -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        Wrapped {
            idempotency: self.clone(),
            handler,
        }
    }

    /// The record key and validation hash for `payload`; `None` when it has no key and
    /// that is allowed.
    pub(crate) fn keys<P: Serialize + 'static>(
        &self,
        payload: &P,
    ) -> Result<Option<Keys>, IdempotencyError> {
        let config = &self.inner.config;
        // The payload as JSON, once, and only when a selector reads it.
        let needs_json =
            config.key.needs_json() || config.validation.as_ref().is_some_and(|v| v.needs_json());
        let json = match needs_json {
            true => Some(serde_json::to_value(payload).map_err(IdempotencyError::serialization)?),
            false => None,
        };
        let key = config.key.select(payload, json.as_ref())?;
        if config::is_empty_key(&key) {
            if config.raise_on_no_key {
                return Err(IdempotencyError::NoIdempotencyKey);
            }
            tracing::warn!(
                namespace = self.inner.namespace,
                "no idempotency key found in the payload: running the handler without idempotency"
            );
            return Ok(None);
        }
        let validation = match &config.validation {
            Some(selector) => Some(hash::hash(&*selector.select(payload, json.as_ref())?)),
            None => None,
        };
        Ok(Some(Keys {
            key: hash::hash(&key),
            validation,
        }))
    }

    fn window(&self, now: Timestamp, deadline: Option<Timestamp>) -> Duration {
        if let Some(window) = self.inner.config.in_progress_window {
            return window;
        }
        match deadline {
            Some(deadline) if deadline > now => deadline.saturating_duration_since(now),
            _ => DEFAULT_IN_PROGRESS_WINDOW,
        }
    }

    fn set_options(&self, base: SetOptions) -> SetOptions {
        base.with_ttl(self.inner.config.expires_after)
    }

    /// The cached result for `keys`, if fresh and matching.
    fn cached(&self, keys: &Keys) -> Result<Option<Value>, IdempotencyError> {
        let Some(cache) = &self.inner.cache else {
            return Ok(None);
        };
        let Some(hit) = cache.get(&keys.key) else {
            return Ok(None);
        };
        let now = self.inner.config.clock.now();
        if hit.expires_at.is_some_and(|at| at <= now) {
            cache.invalidate(&keys.key);
            return Ok(None);
        }
        if keys.validation.is_some() && hit.validation != keys.validation {
            return Err(IdempotencyError::PayloadMismatch {
                key: keys.key.clone(),
            });
        }
        metrics::record(&self.inner.namespace, Event::CacheHit);
        Ok(Some(self.hook(
            hit.data.clone(),
            &keys.key,
            hit.expires_at,
            true,
        )))
    }

    fn remember(
        &self,
        key: &str,
        data: &Value,
        validation: Option<String>,
        expires_at: Option<Timestamp>,
    ) {
        if let Some(cache) = &self.inner.cache {
            cache.insert(
                key.to_owned(),
                Arc::new(Cached {
                    data: data.clone(),
                    validation,
                    expires_at,
                }),
            );
        }
    }

    fn hook(
        &self,
        data: Value,
        key: &str,
        expires_at: Option<Timestamp>,
        from_cache: bool,
    ) -> Value {
        match &self.inner.config.response_hook {
            Some(hook) => hook(
                data,
                &Replay {
                    key: key.to_owned(),
                    expires_at,
                    from_cache,
                },
            ),
            None => data,
        }
    }

    /// The core flow on precomputed keys.
    pub(crate) async fn execute<R, E, F, Fut>(
        &self,
        keys: Keys,
        deadline: Option<Timestamp>,
        handler: F,
    ) -> Result<R, E>
    where
        R: Serialize + DeserializeOwned,
        E: From<IdempotencyError>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        if let Some(data) = self.cached(&keys)? {
            return Ok(decode(data)?);
        }
        match self.claim(&keys, deadline).await? {
            Claim::Owned(version) => self.own(&keys, version, handler).await,
            Claim::Completed(data) => Ok(decode(data)?),
        }
    }

    /// Claims the key, or finds the result to replay.
    async fn claim(
        &self,
        keys: &Keys,
        deadline: Option<Timestamp>,
    ) -> Result<Claim, IdempotencyError> {
        let inner = &*self.inner;
        let (store, ns) = (&inner.store, inner.namespace.as_str());
        let wait_until = inner.config.dedupe.map(|d| Instant::now() + d.timeout);
        for _ in 0..MAX_CLAIMS {
            let now = inner.config.clock.now();
            let window = self.window(now, deadline);
            let until = now.add_ttl(window);
            let claim = Record::in_progress(until, keys.validation.clone()).to_bytes()?;
            // An in-progress record lives exactly its window, on the store's clock: a
            // duplicate sees it in progress while the run may be live, and once the
            // window has passed its claim finds the key absent and takes the orphan over
            // in the claim itself (claim + completion: 2 operations). The store counts
            // the window from when it received the claim, never before this `now`.
            let claim_ttl = window;
            let current = match store
                .set(
                    ns,
                    &keys.key,
                    claim.clone(),
                    SetOptions::if_absent().with_ttl(claim_ttl),
                )
                .await?
            {
                SetOutcome::Written(version) => {
                    metrics::record(ns, Event::Claimed);
                    return Ok(Claim::Owned(version));
                }
                SetOutcome::Rejected {
                    current: Some(entry),
                } => Some(entry),
                SetOutcome::Rejected { current: None } => store.get(ns, &keys.key).await?,
            };
            let mut current = current;
            loop {
                let Some(entry) = current else {
                    break; // gone (failed run deleted it, or expired): claim again
                };
                let record = Record::from_bytes(&entry.value, inner.config.max_nesting)?;
                if keys.validation.is_some() && record.validation != keys.validation {
                    return Err(IdempotencyError::PayloadMismatch {
                        key: keys.key.clone(),
                    });
                }
                let now = inner.config.clock.now();
                match record.status {
                    Status::Completed => {
                        metrics::record(ns, Event::Replayed);
                        return Ok(Claim::Completed(self.replayed(keys, record, &entry)));
                    }
                    Status::InProgress if record.is_orphaned(now) => {
                        let takeover = SetOptions::if_version(entry.version).with_ttl(claim_ttl);
                        if let SetOutcome::Written(version) =
                            store.set(ns, &keys.key, claim.clone(), takeover).await?
                        {
                            tracing::warn!(
                                namespace = ns,
                                key = keys.key,
                                "took over an in-progress execution past its window (presumed dead)"
                            );
                            metrics::record(ns, Event::TakenOver);
                            return Ok(Claim::Owned(version));
                        }
                        break; // someone else changed it first: look again
                    }
                    Status::InProgress => {
                        let (Some(dedupe), Some(wait_until)) = (inner.config.dedupe, wait_until)
                        else {
                            metrics::record(ns, Event::InProgress);
                            return Err(IdempotencyError::AlreadyInProgress {
                                key: keys.key.clone(),
                            });
                        };
                        if Instant::now() + dedupe.poll_interval > wait_until {
                            metrics::record(ns, Event::InProgress);
                            return Err(IdempotencyError::AlreadyInProgress {
                                key: keys.key.clone(),
                            });
                        }
                        tokio::time::sleep(dedupe.poll_interval).await;
                        current = store.get(ns, &keys.key).await?;
                    }
                }
            }
        }
        metrics::record(ns, Event::InProgress);
        Err(IdempotencyError::AlreadyInProgress {
            key: keys.key.clone(),
        })
    }

    fn replayed(&self, keys: &Keys, record: Record, entry: &Entry) -> Value {
        let data = record.data.unwrap_or(Value::Null);
        self.remember(&keys.key, &data, record.validation, entry.expires_at);
        self.hook(data, &keys.key, entry.expires_at, false)
    }

    /// Runs the handler as the owner of the record at `version`.
    async fn own<R, E, F, Fut>(&self, keys: &Keys, version: Version, handler: F) -> Result<R, E>
    where
        R: Serialize + DeserializeOwned,
        E: From<IdempotencyError>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        let inner = &*self.inner;
        let (store, ns) = (&inner.store, inner.namespace.as_str());
        let result = match handler().await {
            Ok(result) => result,
            Err(error) => {
                if let Err(delete_error) = store
                    .delete(ns, &keys.key, DeleteCondition::IfVersion(version))
                    .await
                {
                    tracing::warn!(
                        namespace = ns,
                        key = keys.key,
                        %delete_error,
                        "handler failed and its in-progress record could not be deleted: retries wait for its window"
                    );
                }
                return Err(error);
            }
        };
        let data = match serde_json::to_value(&result) {
            Ok(data) => data,
            Err(e) => {
                let _ = store
                    .delete(ns, &keys.key, DeleteCondition::IfVersion(version))
                    .await;
                return Err(IdempotencyError::serialization(e).into());
            }
        };
        let bytes = Record::completed(keys.validation.clone(), data.clone()).to_bytes()?;
        if Record::nests_deeper_than(&bytes, inner.config.max_nesting) {
            return Err(IdempotencyError::ResultTooDeep {
                max: inner.config.max_nesting,
            }
            .into());
        }
        let limit = store.capabilities().max_value_size;
        if bytes.len() > limit {
            return Err(IdempotencyError::ResultTooLarge {
                size: bytes.len(),
                limit,
            }
            .into());
        }
        let completed_at = inner.config.clock.now();
        let bytes_again = bytes.clone();
        match store
            .set(
                ns,
                &keys.key,
                bytes,
                self.set_options(SetOptions::if_version(version)),
            )
            .await
        {
            Ok(SetOutcome::Written(_)) => {
                let expires_at = completed_at.add_ttl(inner.config.expires_after);
                self.remember(&keys.key, &data, keys.validation.clone(), Some(expires_at));
                Ok(result)
            }
            Ok(SetOutcome::Rejected { current: None }) => {
                // Absent (or a store that does not return the current entry): the
                // in-progress record expired with its window. Store the result only if
                // nobody has claimed the key since.
                let late = self.set_options(SetOptions::if_absent());
                let stored = match store.set(ns, &keys.key, bytes_again, late).await {
                    Ok(SetOutcome::Written(_)) => true,
                    Ok(SetOutcome::Rejected { .. }) => false,
                    Err(error) => return Err(IdempotencyError::Unrecorded(error).into()),
                };
                if stored {
                    let expires_at = completed_at.add_ttl(inner.config.expires_after);
                    self.remember(&keys.key, &data, keys.validation.clone(), Some(expires_at));
                } else {
                    tracing::warn!(
                        namespace = ns,
                        key = keys.key,
                        "LostOwnership: this execution ran past its in-progress window and was taken over; \
                         its result is returned to its caller but not stored"
                    );
                }
                Ok(result)
            }
            Ok(SetOutcome::Rejected { .. }) => {
                tracing::warn!(
                    namespace = ns,
                    key = keys.key,
                    "LostOwnership: this execution ran past its in-progress window and was taken over; \
                     its result is returned to its caller but not stored"
                );
                Ok(result)
            }
            Err(error) => Err(IdempotencyError::Unrecorded(error).into()),
        }
    }
}

/// What a claim found: the record is this call's to run (at its version), or a
/// completed record holds the result to replay.
enum Claim {
    Owned(Version),
    Completed(Value),
}

fn decode<R: DeserializeOwned>(data: Value) -> Result<R, IdempotencyError> {
    serde_json::from_value(data).map_err(|e| {
        IdempotencyError::serialization(format!(
            "the stored result does not fit the handler's result type: {e}"
        ))
    })
}

/// A handler made idempotent by [`Idempotency::wrap`].
pub struct Wrapped<S, F> {
    idempotency: Idempotency<S>,
    handler: F,
}

impl<S: fmt::Debug, F> fmt::Debug for Wrapped<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wrapped")
            .field("idempotency", &self.idempotency)
            .finish_non_exhaustive()
    }
}

impl<S: Store, F> Wrapped<S, F> {
    /// Runs the handler on `payload` once per idempotency key.
    pub async fn call<P, R, E, Fut>(&self, payload: P) -> Result<R, E>
    where
        P: Serialize + 'static,
        R: Serialize + DeserializeOwned,
        E: From<IdempotencyError>,
        F: Fn(P) -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        self.call_until(payload, None).await
    }

    /// [`Wrapped::call`] with an invocation deadline.
    pub async fn call_until<P, R, E, Fut>(
        &self,
        payload: P,
        deadline: Option<Timestamp>,
    ) -> Result<R, E>
    where
        P: Serialize + 'static,
        R: Serialize + DeserializeOwned,
        E: From<IdempotencyError>,
        F: Fn(P) -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        let idempotency = &self.idempotency;
        if idempotency.inner.disabled {
            return (self.handler)(payload).await;
        }
        match idempotency.keys(&payload)? {
            Some(keys) => {
                idempotency
                    .execute(keys, deadline, || (self.handler)(payload))
                    .await
            }
            None => (self.handler)(payload).await,
        }
    }
}
