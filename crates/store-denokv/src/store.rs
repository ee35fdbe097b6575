//! The contract mapped onto Deno KV: each operation validates, then reads and commits
//! atomic writes whose checks are the versionstamps it read ([`crate::layout`]).

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::Bytes;
use chrono::DateTime;
use denokv_proto::{AtomicWrite, Check, Mutation, MutationKind, ReadRange};
use store_core::raw::{ttl_millis, validate};
use store_core::{
    Capabilities, Condition, Cursor, DeleteCondition, Delivery, Entry, Error, IncrOutcome,
    ListPage, Result, SetOptions, SetOutcome, Store, Timestamp,
};

use crate::driver::Driver;
use crate::error::unexpected;
use crate::layout::{self, HEADER, MAX_KV_VALUE, MAX_READ_ENTRIES, Stored};

/// Largest page one `list` call returns (one read range's most entries).
pub const MAX_LIST_LIMIT: usize = MAX_READ_ENTRIES;
/// Largest value: Deno KV's 64 KiB less the entry header.
pub const MAX_VALUE_SIZE: usize = MAX_KV_VALUE - HEADER;
/// Default bound on the compare-and-set rounds of one operation.
pub const DEFAULT_MAX_ROUNDS: u32 = 256;

/// What a store is built from (filled by [`crate::DenoKvStoreBuilder`]).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) root: String,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_rounds: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            root: layout::DEFAULT_ROOT.to_owned(),
            timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            max_rounds: DEFAULT_MAX_ROUNDS,
        }
    }
}

/// The fleetstate store on Deno KV, over KV Connect (`denokv_remote`, the client Deno
/// uses), against a self-hosted `denokv` or Deno Deploy.
///
/// Round trips: `get`, `exists` and unconditional `set` one; `set` if absent one when
/// the key was never written (a check that it is missing), two otherwise; `set` if
/// present or if version, `delete` and `incr` two (a strongly consistent read, then an
/// atomic write checked against the versionstamp read). A check that fails because
/// another writer came between is a lost round: the operation reads again, after a
/// jittered backoff, at most [`DEFAULT_MAX_ROUNDS`] times (`max_rounds`); past that it
/// is `Unavailable` with `Delivery::NotSent` (nothing was applied) and says so.
/// N concurrent `incr(1)` net exactly +N.
///
/// Expiry is judged by this process's clock against the expiry carried in each entry
/// (Deno KV returns expired keys until it deletes them): instances whose clocks differ
/// by `d` disagree by `d` about when an entry expires. Nothing that may have been
/// applied is re-sent: the transport never lets `denokv_remote` retry a request after
/// a lost connection or a server error; such a write is `Unavailable` with
/// `Delivery::MaybeApplied`. Clones share one client thread.
#[derive(Clone)]
pub struct DenoKvStore {
    driver: Driver,
    root: Arc<str>,
    max_rounds: u32,
    pub(crate) capabilities: Capabilities,
}

impl std::fmt::Debug for DenoKvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenoKvStore")
            .field("root", &self.root)
            .field("max_rounds", &self.max_rounds)
            .finish_non_exhaustive()
    }
}

/// One round of a compare-and-set operation.
enum Round<T> {
    Done(T),
    /// A check failed: another writer came between the read and the write.
    Lost,
}

fn now_ms() -> u64 {
    Timestamp::now().as_millis()
}

fn expiry(ttl: Option<Duration>) -> u64 {
    ttl.map_or(0, |ttl| now_ms().saturating_add(ttl_millis(ttl)))
}

/// A `set` of an entry, with Deno KV's own expiry at the entry's.
fn put(key: Vec<u8>, value: &[u8], version: u64, expires_ms: u64) -> Mutation {
    let expire_at = (expires_ms != 0)
        .then(|| DateTime::from_timestamp_millis(i64::try_from(expires_ms).unwrap_or(i64::MAX)))
        .flatten();
    Mutation {
        key,
        kind: MutationKind::Set(layout::pack(value, version, expires_ms)),
        expire_at,
    }
}

fn remove(key: Vec<u8>) -> Mutation {
    Mutation {
        key,
        kind: MutationKind::Delete,
        expire_at: None,
    }
}

/// A check that `key` holds what was read: that versionstamp, or nothing.
fn unchanged(key: &[u8], read: Option<&Stored>) -> Check {
    Check {
        key: key.to_vec(),
        versionstamp: read.map(|s| s.stamp),
    }
}

impl DenoKvStore {
    pub(crate) fn new(driver: Driver, settings: &Settings) -> Self {
        let mut capabilities = Capabilities::default();
        capabilities.atomic_incr = true;
        capabilities.compare_and_set = true;
        capabilities.returns_current_on_reject = true;
        capabilities.sorted_list = true;
        capabilities.strongly_consistent_reads = true;
        capabilities.max_key_len = validate::MAX_KEY_LEN;
        capabilities.max_namespace_len = validate::MAX_NAMESPACE_LEN;
        capabilities.max_value_size = MAX_VALUE_SIZE;
        capabilities.max_list_limit = MAX_LIST_LIMIT;
        capabilities.ttl_resolution = Duration::from_millis(1);
        DenoKvStore {
            driver,
            root: settings.root.as_str().into(),
            max_rounds: settings.max_rounds.max(1),
            capabilities,
        }
    }

    /// The first part of every key this store writes.
    pub fn root(&self) -> &str {
        &self.root
    }

    pub(crate) fn driver(&self) -> &Driver {
        &self.driver
    }

    fn key(&self, namespace: &str, key: &str) -> Result<Vec<u8>> {
        layout::key(&self.root, namespace, key)
    }

    /// The entry at `key` as stored (live or expired), one strongly consistent read.
    async fn read(&self, key: &[u8]) -> Result<Option<Stored>> {
        let range = ReadRange {
            start: key.to_vec(),
            end: layout::after(key),
            limit: std::num::NonZeroU32::MIN,
            reverse: false,
        };
        let mut out = self.driver.read(vec![range]).await?;
        let Some(range) = out.pop() else {
            return Err(unexpected("snapshot_read", "no range"));
        };
        match range.entries.into_iter().next() {
            Some(e) if e.key == key => layout::unpack(e.value, e.versionstamp).map(Some),
            Some(e) => Err(unexpected("snapshot_read", e.key)),
            None => Ok(None),
        }
    }

    /// The live entry at `key` at the time of the read, and what was read.
    async fn read_live(&self, key: &[u8]) -> Result<(Option<Entry>, Option<Stored>)> {
        let stored = self.read(key).await?;
        let live = stored
            .as_ref()
            .filter(|s| s.live(now_ms()))
            .map(Stored::entry);
        Ok((live, stored))
    }

    /// Commits `mutations` if `checks` hold: `true` when it did.
    async fn commit(&self, checks: Vec<Check>, mutations: Vec<Mutation>) -> Result<bool> {
        let write = AtomicWrite {
            checks,
            mutations,
            enqueues: Vec::new(),
        };
        Ok(self.driver.write(write).await?.is_some())
    }

    /// Runs `round` until it is done, at most `max_rounds` times (at least 2), with a
    /// jittered exponential backoff (1 ms to 20 ms) between lost rounds. `round` is told
    /// whether it is the first.
    async fn contended<T, F, Fut>(&self, operation: &str, mut round: F) -> Result<T>
    where
        F: FnMut(bool) -> Fut,
        Fut: Future<Output = Result<Round<T>>>,
    {
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(1))
            .with_max_delay(Duration::from_millis(20))
            .with_max_times((self.max_rounds as usize).saturating_sub(2))
            .with_jitter()
            .build();
        // The first lost round is tried again at once (for a blind claim it only means
        // the key exists); later ones back off.
        if let Round::Done(done) = round(true).await? {
            return Ok(done);
        }
        loop {
            if let Round::Done(done) = round(false).await? {
                return Ok(done);
            }
            match delays.next() {
                Some(delay) => tokio::time::sleep(delay).await,
                None => {
                    return Err(Error::unavailable(
                        Delivery::NotSent,
                        format!(
                            "Deno KV: `{operation}` lost {} compare-and-set rounds in a row to \
                             concurrent writers of the key; nothing was applied (retry, or \
                             raise `max_rounds`)",
                            self.max_rounds
                        ),
                    ));
                }
            }
        }
    }

    async fn set_if_absent(
        &self,
        key: Vec<u8>,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<SetOutcome> {
        self.contended("set if absent", |first| {
            let key = key.clone();
            async move {
                // First a blind claim checked against "never written": one round trip
                // when the key is new (idempotency's and locks' common case).
                let read = if first {
                    None
                } else {
                    let (live, read) = self.read_live(&key).await?;
                    if let Some(current) = live {
                        return Ok(Round::Done(SetOutcome::Rejected {
                            current: Some(current),
                        }));
                    }
                    read
                };
                let version = layout::new_version();
                let check = unchanged(&key, read.as_ref());
                let write = put(key, value, version, expiry(ttl));
                Ok(if self.commit(vec![check], vec![write]).await? {
                    Round::Done(SetOutcome::Written(layout::to_version(version)))
                } else {
                    Round::Lost
                })
            }
        })
        .await
    }

    /// `set` if the live entry satisfies `condition` (`IfPresent` or `IfVersion`).
    async fn set_if(
        &self,
        key: Vec<u8>,
        value: &[u8],
        ttl: Option<Duration>,
        expected: Option<u64>,
    ) -> Result<SetOutcome> {
        self.contended("conditional set", |_| {
            let key = key.clone();
            async move {
                let (live, read) = self.read_live(&key).await?;
                let holds = match (&live, expected) {
                    (Some(_), None) => true,
                    (Some(e), Some(v)) => layout::version_number(e.version) == v,
                    (None, _) => false,
                };
                if !holds {
                    return Ok(Round::Done(SetOutcome::Rejected { current: live }));
                }
                let version = layout::new_version();
                let check = unchanged(&key, read.as_ref());
                let write = put(key, value, version, expiry(ttl));
                Ok(if self.commit(vec![check], vec![write]).await? {
                    Round::Done(SetOutcome::Written(layout::to_version(version)))
                } else {
                    Round::Lost
                })
            }
        })
        .await
    }
}

impl Store for DenoKvStore {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Entry>> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        let key = self.key(namespace, key)?;
        Ok(self.read_live(&key).await?.0)
    }

    async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        opts: SetOptions,
    ) -> Result<SetOutcome> {
        validate::set(&self.capabilities, namespace, key, &value, &opts)?;
        let key = self.key(namespace, key)?;
        match opts.condition {
            Condition::Always => {
                let version = layout::new_version();
                let write = put(key, &value, version, expiry(opts.ttl));
                if self.commit(Vec::new(), vec![write]).await? {
                    Ok(SetOutcome::Written(layout::to_version(version)))
                } else {
                    Err(unexpected("an unchecked write", "a failed check"))
                }
            }
            Condition::IfAbsent => self.set_if_absent(key, &value, opts.ttl).await,
            Condition::IfPresent => self.set_if(key, &value, opts.ttl, None).await,
            Condition::IfVersion(v) => {
                let expected = layout::version_number(v);
                self.set_if(key, &value, opts.ttl, Some(expected)).await
            }
        }
    }

    async fn delete(&self, namespace: &str, key: &str, condition: DeleteCondition) -> Result<bool> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        let key = self.key(namespace, key)?;
        let expected = match condition {
            DeleteCondition::Always => None,
            DeleteCondition::IfVersion(v) => Some(layout::version_number(v)),
        };
        self.contended("delete", |_| {
            let key = key.clone();
            async move {
                let (live, read) = self.read_live(&key).await?;
                let holds = match (&live, expected) {
                    (Some(_), None) => true,
                    (Some(e), Some(v)) => layout::version_number(e.version) == v,
                    (None, _) => false,
                };
                if !holds {
                    return Ok(Round::Done(false));
                }
                let check = unchanged(&key, read.as_ref());
                Ok(if self.commit(vec![check], vec![remove(key)]).await? {
                    Round::Done(true)
                } else {
                    Round::Lost
                })
            }
        })
        .await
    }

    /// A read, then a write checked against it (Deno KV's `sum` is an unsigned 64-bit
    /// sum that wraps, which the contract's signed, overflow-refusing counter cannot
    /// use). The TTL applies only when the increment creates the counter.
    async fn incr(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        validate::incr(&self.capabilities, namespace, key, ttl)?;
        let key = self.key(namespace, key)?;
        self.contended("incr", |_| {
            let key = key.clone();
            async move {
                let (live, read) = self.read_live(&key).await?;
                let (value, expires_ms) = match &live {
                    Some(entry) => {
                        let current =
                            store_core::raw::counter(&entry.value).ok_or(Error::NotACounter)?;
                        let value = current.checked_add(delta).ok_or(Error::CounterOverflow)?;
                        (value, entry.expires_at.map_or(0, Timestamp::as_millis))
                    }
                    None => (delta, expiry(ttl)),
                };
                let version = layout::new_version();
                let check = unchanged(&key, read.as_ref());
                let write = put(key, value.to_string().as_bytes(), version, expires_ms);
                Ok(if self.commit(vec![check], vec![write]).await? {
                    Round::Done(IncrOutcome {
                        value,
                        expires_at: (expires_ms != 0).then(|| Timestamp::from_millis(expires_ms)),
                    })
                } else {
                    Round::Lost
                })
            }
        })
        .await
    }

    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        self.list_page(namespace, prefix, cursor, limit).await
    }

    async fn clear(&self, namespace: &str, prefix: &str) -> Result<u64> {
        self.clear_prefix(namespace, prefix).await
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }
}

impl DenoKvStore {
    /// One read, to check the server answers with the token.
    pub(crate) async fn probe(&self) -> Result<()> {
        let key = layout::key(&self.root, "fleetstate-probe", "probe")?;
        self.read(&key).await.map(|_| ())
    }
}
