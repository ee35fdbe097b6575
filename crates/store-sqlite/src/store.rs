//! The contract mapped onto SQLite: each operation validates, then runs one statement
//! of [`crate::layout`] on a pooled connection, on the blocking thread pool.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use deadpool_sqlite::Pool;
use deadpool_sqlite::rusqlite::{self, Connection, OptionalExtension, params};
use store_core::raw::{ttl_millis, validate};
use store_core::{
    Advance, Advanced, Capabilities, Condition, Cursor, DeleteCondition, Delivery, Entry, Error,
    Floor, IncrOutcome, ListPage, Result, SetOptions, SetOutcome, Store, Timestamp, Version,
};

use crate::error::{from_sqlite, not_run, unexpected};
use crate::layout::Statements;

/// Largest page one `list` call returns.
pub const MAX_LIST_LIMIT: usize = 1000;
/// Default largest value: 16 MiB (SQLite's own limit is 1 GB).
pub const DEFAULT_MAX_VALUE_SIZE: usize = 16 * 1024 * 1024;

/// What a store is built from (filled by [`crate::SqliteStoreBuilder`]).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) table: String,
    pub(crate) command_timeout: Duration,
    pub(crate) max_value_size: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            table: crate::DEFAULT_TABLE.to_owned(),
            command_timeout: Duration::from_secs(10),
            max_value_size: DEFAULT_MAX_VALUE_SIZE,
        }
    }
}

/// The fleetstate store on one SQLite file (or an in-memory database).
///
/// Every operation is one statement (`advance`: one `IMMEDIATE` transaction), atomic
/// under SQLite's write lock, so several processes on one host may share the file (WAL
/// mode; a writer waits up to the busy timeout for the lock, then the call is
/// `Unavailable` with `Delivery::NotSent`). Calls run on tokio's blocking thread pool,
/// never on the runtime's workers. The calling process's clock is the only clock:
/// expiries are computed and judged with it, so processes sharing a file should keep
/// their clocks in sync. Clones share the pool.
#[derive(Clone)]
pub struct SqliteStore {
    pool: Pool,
    statements: Arc<Statements>,
    pub(crate) capabilities: Capabilities,
    table: Arc<str>,
    timeout: Duration,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("table", &self.table)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    i64::try_from(Timestamp::now().as_millis()).unwrap_or(i64::MAX)
}

fn new_version() -> i64 {
    fastrand::u64(1..) as i64
}

fn version_of(raw: i64) -> Version {
    store_core::raw::version(raw as u64)
}

fn raw_version(v: Version) -> i64 {
    store_core::raw::version_number(v) as i64
}

fn expiry(now: i64, ttl: Option<Duration>) -> Option<i64> {
    ttl.map(|ttl| now.saturating_add(i64::try_from(ttl_millis(ttl)).unwrap_or(i64::MAX)))
}

fn timestamp(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(|ms| Timestamp::from_millis(u64::try_from(ms).unwrap_or(0)))
}

/// An entry from `value, version, expires_at` at `offset`.
fn entry(row: &rusqlite::Row<'_>, offset: usize) -> rusqlite::Result<Entry> {
    Ok(Entry {
        value: Bytes::from(row.get::<_, Vec<u8>>(offset)?),
        version: version_of(row.get(offset + 1)?),
        expires_at: timestamp(row.get(offset + 2)?),
    })
}

/// What a conditional write's `RETURNING written, value, version, expires_at` says.
fn decided(row: Option<(bool, Entry)>, version: i64) -> SetOutcome {
    match row {
        None => SetOutcome::Rejected { current: None },
        Some((true, _)) => SetOutcome::Written(version_of(version)),
        Some((false, current)) => SetOutcome::Rejected {
            current: Some(current),
        },
    }
}

impl SqliteStore {
    pub(crate) fn new(pool: Pool, settings: &Settings) -> Self {
        let mut capabilities = Capabilities::default();
        capabilities.atomic_incr = true;
        capabilities.atomic_advance = true;
        capabilities.max_advance_value = i64::MAX as u64;
        capabilities.compare_and_set = true;
        capabilities.returns_current_on_reject = true;
        capabilities.sorted_list = true;
        capabilities.strongly_consistent_reads = true;
        capabilities.max_key_len = validate::MAX_KEY_LEN;
        capabilities.max_namespace_len = validate::MAX_NAMESPACE_LEN;
        capabilities.max_value_size = settings.max_value_size;
        capabilities.max_list_limit = MAX_LIST_LIMIT;
        capabilities.ttl_resolution = Duration::from_millis(1);
        SqliteStore {
            statements: Arc::new(Statements::new(&settings.table)),
            pool,
            capabilities,
            table: Arc::from(settings.table.as_str()),
            timeout: settings.command_timeout,
        }
    }

    /// The connection pool underneath, for statements of your own.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Runs `f` on a pooled connection on the blocking thread pool, within the command
    /// timeout (past it the call is `Unavailable` with `Delivery::MaybeApplied`: the
    /// statement may still commit).
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Statements) -> rusqlite::Result<T> + Send + 'static,
    {
        let statements = self.statements.clone();
        let table = self.table.clone();
        let run = async {
            let conn = self
                .pool
                .get()
                .await
                .map_err(|e| not_run(format!("no connection: {e}")))?;
            conn.interact(move |conn| f(conn, &statements))
                .await
                .map_err(|e| not_run(format!("the worker thread failed: {e}")))?
                .map_err(|e| from_sqlite(e, &table))
        };
        match tokio::time::timeout(self.timeout, run).await {
            Ok(result) => result,
            Err(_) => Err(Error::unavailable(
                Delivery::MaybeApplied,
                format!(
                    "SQLite did not finish within {} ms",
                    self.timeout.as_millis()
                ),
            )),
        }
    }

    /// Deletes up to `batch` expired rows (by this process's clock), returning how
    /// many. Expired rows are already absent to every operation; this reclaims space.
    pub async fn purge_expired(&self, batch: u32) -> Result<u64> {
        let limit = i64::from(batch.max(1));
        let now = now_ms();
        self.call(move |conn, s| {
            conn.prepare_cached(&s.sweep)?
                .execute(params![now, limit])
                .map(|n| n as u64)
        })
        .await
    }
}

impl Store for SqliteStore {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Entry>> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        let (ns, key, now) = (namespace.to_owned(), key.to_owned(), now_ms());
        self.call(move |conn, s| {
            conn.prepare_cached(&s.get)?
                .query_row(params![ns, key, now], |row| entry(row, 0))
                .optional()
        })
        .await
    }

    async fn exists(&self, namespace: &str, key: &str) -> Result<bool> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        let (ns, key, now) = (namespace.to_owned(), key.to_owned(), now_ms());
        self.call(move |conn, s| {
            conn.prepare_cached(&s.exists)?
                .query_row(params![ns, key, now], |row| row.get(0))
        })
        .await
    }

    async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        opts: SetOptions,
    ) -> Result<SetOutcome> {
        validate::set(&self.capabilities, namespace, key, &value, &opts)?;
        let (ns, key, now) = (namespace.to_owned(), key.to_owned(), now_ms());
        let version = new_version();
        let expires = expiry(now, opts.ttl);
        let value = value.to_vec();
        self.call(move |conn, s| {
            let written_or_current = |row: &rusqlite::Row<'_>| Ok((row.get(0)?, entry(row, 1)?));
            match opts.condition {
                Condition::Always => {
                    conn.prepare_cached(&s.set)?
                        .execute(params![ns, key, now, value, version, expires])?;
                    Ok(SetOutcome::Written(version_of(version)))
                }
                Condition::IfAbsent => {
                    let row = conn
                        .prepare_cached(&s.set_if_absent)?
                        .query_row(
                            params![ns, key, now, value, version, expires],
                            written_or_current,
                        )
                        .optional()?;
                    Ok(decided(row, version))
                }
                Condition::IfPresent => {
                    let row = conn
                        .prepare_cached(&s.set_if_present)?
                        .query_row(params![ns, key, now, value, version, expires], |_| Ok(()))
                        .optional()?;
                    Ok(match row {
                        Some(()) => SetOutcome::Written(version_of(version)),
                        None => SetOutcome::Rejected { current: None },
                    })
                }
                Condition::IfVersion(expected) => {
                    let expected = raw_version(expected);
                    let row = conn
                        .prepare_cached(&s.set_if_version)?
                        .query_row(
                            params![ns, key, now, value, version, expires, expected],
                            written_or_current,
                        )
                        .optional()?;
                    Ok(decided(row, version))
                }
            }
        })
        .await
    }

    async fn delete(&self, namespace: &str, key: &str, condition: DeleteCondition) -> Result<bool> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        let (ns, key, now) = (namespace.to_owned(), key.to_owned(), now_ms());
        self.call(move |conn, s| match condition {
            DeleteCondition::Always => conn
                .prepare_cached(&s.delete)?
                .query_row(params![ns, key, now], |row| row.get::<_, bool>(0))
                .optional()
                .map(|live| live.unwrap_or(false)),
            DeleteCondition::IfVersion(v) => conn
                .prepare_cached(&s.delete_if_version)?
                .query_row(params![ns, key, now, raw_version(v)], |_| Ok(()))
                .optional()
                .map(|row| row.is_some()),
        })
        .await
    }

    async fn incr(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        validate::incr(&self.capabilities, namespace, key, ttl)?;
        let (ns, key, now) = (namespace.to_owned(), key.to_owned(), now_ms());
        let version = new_version();
        let expires = expiry(now, ttl);
        let (written, value, expires_at) = self
            .call(move |conn, s| {
                conn.prepare_cached(&s.incr)?.query_row(
                    params![ns, key, now, delta, version, expires],
                    |row| {
                        Ok((
                            row.get::<_, bool>(0)?,
                            row.get::<_, Vec<u8>>(1)?,
                            row.get::<_, Option<i64>>(2)?,
                        ))
                    },
                )
            })
            .await?;
        match store_core::raw::counter(&value) {
            Some(value) if written => Ok(IncrOutcome {
                value,
                expires_at: timestamp(expires_at),
            }),
            Some(_) => Err(Error::CounterOverflow),
            None if written => Err(unexpected("incr", "a non-decimal counter")),
            None => Err(Error::NotACounter),
        }
    }

    /// One `IMMEDIATE` transaction: the live value read and the new one written under
    /// SQLite's write lock. A clock floor is this process's clock in µs.
    async fn advance(&self, namespace: &str, key: &str, advance: Advance) -> Result<Advanced> {
        validate::advance(&self.capabilities, namespace, key, &advance)?;
        let (ns, key) = (namespace.to_owned(), key.to_owned());
        let max = self.capabilities.max_advance_value;
        self.call(move |conn, s| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let now = Timestamp::now();
            let now_ms = i64::try_from(now.as_millis()).unwrap_or(i64::MAX);
            let floor = match advance.floor {
                Floor::Value(floor) => floor,
                Floor::Clock => now.as_millis().saturating_mul(1000),
            };
            let current: Option<Vec<u8>> = tx
                .prepare_cached(&s.read_for_advance)?
                .query_row(params![ns, key, now_ms], |row| row.get(0))
                .optional()?;
            let current = match current {
                None => None,
                Some(raw) => {
                    let text = std::str::from_utf8(&raw).ok();
                    match text.and_then(|t| t.parse::<u64>().ok().filter(|n| n.to_string() == t)) {
                        Some(n) if n <= max => Some(n),
                        Some(_) => return Ok(Err(Error::CounterOverflow)),
                        None => return Ok(Err(Error::NotACounter)),
                    }
                }
            };
            let (start, new) = advance.apply(current, floor);
            let Some(new) = new else {
                return Ok(Ok(Advanced {
                    written: false,
                    value: start,
                    floor,
                    contended: false,
                }));
            };
            if new > max {
                return Ok(Err(Error::CounterOverflow));
            }
            let version = new_version();
            let expires = expiry(now_ms, advance.ttl);
            tx.prepare_cached(&s.write_advance)?.execute(params![
                ns,
                key,
                now_ms,
                new.to_string().into_bytes(),
                version,
                expires
            ])?;
            tx.commit()?;
            Ok(Ok(Advanced {
                written: true,
                value: new,
                floor,
                contended: false,
            }))
        })
        .await?
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
        validate::list(&self.capabilities, namespace, prefix, 1)?;
        let (ns, prefix, now) = (namespace.to_owned(), prefix.to_owned(), now_ms());
        self.call(move |conn, s| {
            let mut statement = conn.prepare_cached(&s.clear)?;
            let deleted = statement
                .query_map(params![ns, "", now, prefix], |row| row.get::<_, bool>(0))?
                .collect::<rusqlite::Result<Vec<bool>>>()?;
            Ok(deleted.into_iter().filter(|live| *live).count() as u64)
        })
        .await
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }
}
