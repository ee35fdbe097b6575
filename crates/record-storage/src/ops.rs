//! The record operations, shared by [`crate::RecordStorage`] and the free functions.
//! Each takes the store and fully merged options.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use store_core::layer::RetryLayer;
use store_core::raw::validate;
use store_core::{
    Bytes, Cursor, DeleteCondition, Entry, SetOptions, SetOutcome, Store, Timestamp, Version,
};

use crate::codec::{self, SECURE};
use crate::options::Options;
use crate::route::{Route, route};
use crate::{Keyring, RecordError, Result, scope};

/// A record read back with its metadata.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Record<T> {
    /// The value.
    pub value: T,
    /// The version, for [`crate::RecordStorage::set_value_if_version`].
    pub version: Version,
    /// When the record expires, if it does.
    pub expires_at: Option<Timestamp>,
}

/// One page of [`crate::RecordStorage::get_all_keys`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct KeysPage {
    /// Keys as they were written (the scope is not part of them).
    pub keys: Vec<String>,
    /// Present when more keys may follow: pass it back in [`KeysRequest`].
    pub last_evaluated_key: Option<String>,
}

/// What [`crate::RecordStorage::get_all_keys`] should return.
///
/// ```
/// use record_storage::KeysRequest;
/// let first = KeysRequest::default().limit(100);
/// let next = KeysRequest::default().last_evaluated_key(Some("opaque".to_owned()));
/// let only_sessions = KeysRequest::default().prefix("session:");
/// # let _ = (first, next, only_sessions);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeysRequest {
    /// The `last_evaluated_key` of the previous page; `None` starts from the beginning.
    pub last_evaluated_key: Option<String>,
    /// Most keys per page (default 1000, or the store's smaller page limit).
    pub limit: Option<usize>,
    /// Only keys starting with this (default: all).
    pub prefix: String,
}

impl KeysRequest {
    /// Continues after a previous page.
    pub fn last_evaluated_key(mut self, key: Option<String>) -> Self {
        self.last_evaluated_key = key;
        self
    }

    /// Most keys per page.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Only keys starting with `prefix`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

const DEFAULT_PAGE: usize = 1000;
/// Attempts of an update loop before [`RecordError::Contention`]. Each lost attempt means
/// another writer won, so N concurrent updaters all finish within N attempts.
pub(crate) const UPDATE_ATTEMPTS: u32 = 256;

/// A call's store route, namespace and options.
pub(crate) struct Call<'a, S> {
    pub(crate) store: Route<'a, S>,
    pub(crate) ns: String,
    pub(crate) opts: &'a Options,
}

impl<'a, S: Store> Call<'a, S> {
    /// Resolves the namespace; `opts` must have its context filled in.
    pub(crate) fn new(store: &'a S, retry: &RetryLayer, opts: &'a Options) -> Result<Self> {
        let context = opts
            .get_context()
            .expect("options are resolved before a call");
        let ns = scope::namespace(opts.get_scope(), context, store.capabilities())?;
        Ok(Call {
            store: route(store, retry, opts.get_retry_on_429()),
            ns,
            opts,
        })
    }

    fn check_key(&self, key: &str) -> Result<()> {
        validate::entry_key(self.store.capabilities(), &self.ns, key)?;
        Ok(())
    }

    /// The bytes stored for `value`: encoded, and sealed when `secure`.
    pub(crate) fn encode<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<Bytes> {
        let format = self.opts.get_format();
        let mut out = Vec::with_capacity(128);
        if !self.opts.get_secure() {
            codec::encode_into(&mut out, key, value, format, self.opts.get_max_nesting())?;
            return Ok(Bytes::from(out));
        }
        let keyring = self.keyring(key)?;
        keyring.begin_envelope(&mut out);
        codec::encode_into(&mut out, key, value, format, self.opts.get_max_nesting())?;
        keyring.seal_in_place(&self.ns, key, &mut out, 0)?;
        Ok(Bytes::from(out))
    }

    /// The keyring a sealed `key` needs.
    fn keyring(&self, key: &str) -> Result<&Keyring> {
        self.opts
            .get_keyring()
            .map(|k| &**k)
            .ok_or_else(|| RecordError::MissingKeyring {
                key: key.to_owned(),
            })
    }

    /// The value of stored bytes, opened when sealed.
    pub(crate) fn decode<T: DeserializeOwned>(&self, key: &str, bytes: &[u8]) -> Result<T> {
        if bytes.first() == Some(&SECURE) {
            let keyring = self.keyring(key)?;
            let plain = keyring.open(&self.ns, key, bytes)?;
            return codec::decode(key, &plain, self.opts.get_max_nesting());
        }
        if self.opts.get_secure() {
            return Err(RecordError::NotEncrypted {
                key: key.to_owned(),
            });
        }
        codec::decode(key, bytes, self.opts.get_max_nesting())
    }

    fn record<T: DeserializeOwned>(&self, key: &str, entry: Entry) -> Result<Record<T>> {
        Ok(Record {
            value: self.decode(key, &entry.value)?,
            version: entry.version,
            expires_at: entry.expires_at,
        })
    }

    fn write_options(&self) -> SetOptions {
        let base = if self.opts.get_deny_update_overwrite() {
            SetOptions::if_absent()
        } else {
            SetOptions::always()
        };
        base.with_ttl_opt(self.opts.effective_ttl())
    }

    pub(crate) async fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<Version> {
        self.check_key(key)?;
        let bytes = self.encode(key, value)?;
        match self
            .store
            .set(&self.ns, key, bytes, self.write_options())
            .await?
        {
            SetOutcome::Written(version) => Ok(version),
            SetOutcome::Rejected { .. } => Err(RecordError::AlreadyExists {
                key: key.to_owned(),
            }),
        }
    }

    pub(crate) async fn set_if_version<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        expected: Version,
    ) -> Result<Version> {
        self.check_key(key)?;
        let bytes = self.encode(key, value)?;
        let opts = SetOptions::if_version(expected).with_ttl_opt(self.opts.effective_ttl());
        match self.store.set(&self.ns, key, bytes, opts).await? {
            SetOutcome::Written(version) => Ok(version),
            SetOutcome::Rejected { .. } => Err(RecordError::VersionMismatch {
                key: key.to_owned(),
                expected,
            }),
        }
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<Record<T>>> {
        self.check_key(key)?;
        match self.store.get(&self.ns, key).await? {
            Some(entry) => self.record(key, entry).map(Some),
            None => Ok(None),
        }
    }

    pub(crate) async fn exists(&self, key: &str) -> Result<bool> {
        self.check_key(key)?;
        Ok(self.store.exists(&self.ns, key).await?)
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<bool> {
        self.check_key(key)?;
        Ok(self
            .store
            .delete(&self.ns, key, DeleteCondition::Always)
            .await?)
    }

    pub(crate) async fn clear(&self, prefix: &str) -> Result<u64> {
        Ok(self.store.clear(&self.ns, prefix).await?)
    }

    pub(crate) async fn keys_page(&self, request: &KeysRequest) -> Result<KeysPage> {
        let max = self.store.capabilities().max_list_limit.max(1);
        let limit = request.limit.unwrap_or(DEFAULT_PAGE).min(max);
        let cursor = request.last_evaluated_key.clone().map(Cursor::from);
        let page = self
            .store
            .list(&self.ns, &request.prefix, cursor.as_ref(), limit)
            .await?;
        Ok(KeysPage {
            keys: page.keys,
            last_evaluated_key: page.cursor.map(|c| c.as_str().to_owned()),
        })
    }

    /// Read, apply `f`, write back only if nothing changed in between; again on conflict.
    pub(crate) async fn update<T, F>(&self, key: &str, mut f: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> T,
    {
        self.check_key(key)?;
        let ttl = self.opts.effective_ttl();
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_micros(200))
            .with_max_delay(Duration::from_millis(20))
            .with_jitter()
            .without_max_times()
            .build();
        let mut current = self.store.get(&self.ns, key).await?;
        for _ in 0..UPDATE_ATTEMPTS {
            let (old, condition) = match current.take() {
                Some(entry) => (
                    Some(self.decode::<T>(key, &entry.value)?),
                    SetOptions::if_version(entry.version),
                ),
                None => (None, SetOptions::if_absent()),
            };
            let new = f(old);
            let bytes = self.encode(key, &new)?;
            match self
                .store
                .set(&self.ns, key, bytes, condition.with_ttl_opt(ttl))
                .await?
            {
                SetOutcome::Written(_) => return Ok(new),
                SetOutcome::Rejected { current: seen } => {
                    if let Some(delay) = backoff.next() {
                        tokio::time::sleep(delay).await;
                    }
                    current = match seen {
                        Some(entry) if self.store.capabilities().returns_current_on_reject => {
                            Some(entry)
                        }
                        _ => self.store.get(&self.ns, key).await?,
                    };
                }
            }
        }
        Err(RecordError::Contention {
            key: key.to_owned(),
            attempts: UPDATE_ATTEMPTS,
        })
    }
}
