//! The contract mapped onto PostgreSQL: each operation validates, then runs one
//! statement of [`crate::layout`].

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use deadpool_postgres::Pool;
use store_core::raw::{ttl_millis, validate};
use store_core::{
    Advance, Advanced, Capabilities, Condition, Cursor, DeleteCondition, Delivery, Entry, Error,
    Floor, IncrOutcome, ListPage, Result, SetOptions, SetOutcome, Store, Timestamp, Version,
};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::{Failure, from_pool, from_postgres, unexpected};
use crate::layout::{Statements, TableLayout};

/// Largest page one `list` call returns.
pub const MAX_LIST_LIMIT: usize = 1000;
/// Default largest value: 16 MiB (PostgreSQL's `bytea` takes up to 1 GiB).
pub const DEFAULT_MAX_VALUE_SIZE: usize = 16 * 1024 * 1024;

/// What a store is built from (filled by [`crate::PostgresStoreBuilder`]).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) layout: TableLayout,
    pub(crate) command_timeout: Duration,
    pub(crate) max_value_size: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            layout: TableLayout::default(),
            command_timeout: Duration::from_secs(2),
            max_value_size: DEFAULT_MAX_VALUE_SIZE,
        }
    }
}

/// The fleetstate store on PostgreSQL.
///
/// Every operation is one statement, one round trip (after a connection's first use of
/// it, which prepares it): conditions are checked in the statement and a rejected write
/// returns the current entry from it; expiry is set and judged by the server's clock
/// (`now()`), never the client's; `advance` reads its clock floor from the server too.
/// A statement the server refused (it rolled back) is retried only for serialization
/// failures and deadlocks; a lost connection is `Unavailable` with
/// `Delivery::MaybeApplied` and nothing is re-sent. Clones share the pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    statements: Arc<Statements>,
    pub(crate) capabilities: Capabilities,
    layout: Arc<TableLayout>,
    timeout: Duration,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("layout", &self.layout)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
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
        PostgresStore {
            statements: Arc::new(Statements::new(&settings.layout)),
            pool,
            capabilities,
            layout: Arc::new(settings.layout.clone()),
            timeout: settings.command_timeout,
        }
    }

    /// The connection pool underneath, for statements of your own.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The table this store reads and writes.
    pub fn layout(&self) -> &TableLayout {
        &self.layout
    }

    pub(crate) fn statements(&self) -> &Statements {
        &self.statements
    }

    /// Runs `sql` once within the command timeout: a pooled connection, the statement
    /// prepared (cached per connection), one round trip.
    async fn run_once(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Failure> {
        let table = self.layout.table();
        let deadline = tokio::time::Instant::now() + self.timeout;
        let lost = || {
            Failure::Lost(Error::unavailable(
                Delivery::MaybeApplied,
                format!(
                    "PostgreSQL did not answer within {} ms",
                    self.timeout.as_millis()
                ),
            ))
        };
        let client = match tokio::time::timeout_at(deadline, self.pool.get()).await {
            Ok(client) => client.map_err(|e| from_pool(e, table))?,
            Err(_) => {
                return Err(Failure::NotSent(Error::unavailable(
                    Delivery::NotSent,
                    format!(
                        "no PostgreSQL connection within {} ms",
                        self.timeout.as_millis()
                    ),
                )));
            }
        };
        let attempt = async {
            let statement = client.prepare_cached(sql).await.map_err(|e| {
                match from_postgres(e, table, false) {
                    Failure::Lost(e) => Failure::NotSent(e),
                    other => other,
                }
            })?;
            client
                .query(&statement, params)
                .await
                .map_err(|e| from_postgres(e, table, true))
        };
        match tokio::time::timeout_at(deadline, attempt).await {
            Ok(result) => result,
            Err(_) => {
                // The connection stopped answering (a black-holed path, a host gone
                // without a reset): taken out of the pool and closed, so no later
                // statement waits behind the lost one.
                drop(deadpool_postgres::Object::take(client));
                Err(lost())
            }
        }
    }

    /// [`run_once`](Self::run_once), again (a few times, with backoff) only when the
    /// server refused it with a serialization failure or a deadlock: it did not commit.
    pub(crate) async fn run(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        (|| self.run_once(sql, params))
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(2))
                    .with_max_delay(Duration::from_millis(50))
                    .with_max_times(3)
                    .with_jitter(),
            )
            .when(Failure::retryable)
            .await
            .map_err(Failure::into_error)
    }

    /// Deletes up to `batch` expired rows (by the server's clock), returning how many.
    /// Expired rows are already absent to every operation; this only reclaims space.
    /// Uses the partial index on `expires_at`.
    pub async fn purge_expired(&self, batch: u32) -> Result<u64> {
        let limit = i64::from(batch.max(1));
        let sql = self.statements.sweep.clone();
        let table = self.layout.table();
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| from_pool(e, table).into_error())?;
        let statement = client
            .prepare_cached(&sql)
            .await
            .map_err(|e| from_postgres(e, table, false).into_error())?;
        client
            .execute(&statement, &[&limit])
            .await
            .map_err(|e| from_postgres(e, table, true).into_error())
    }

    /// Runs [`purge_expired`](Self::purge_expired) every `interval` (batches of `batch`
    /// until a batch comes back short) on a task of its own, until the returned handle
    /// is aborted. Nothing sweeps unless this is started (the tests leave it off).
    pub fn spawn_sweeper(&self, interval: Duration, batch: u32) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tick.tick().await;
                loop {
                    match store.purge_expired(batch).await {
                        Ok(n) if n >= u64::from(batch) => continue,
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "PostgreSQL sweeper: purge failed");
                            break;
                        }
                    }
                }
            }
        })
    }
}

/// A random 64-bit version tag, never 0, stored as `int8` bits.
fn new_version() -> i64 {
    fastrand::u64(1..) as i64
}

fn version_of(raw: i64) -> Version {
    store_core::raw::version(raw as u64)
}

fn raw_version(v: Version) -> i64 {
    store_core::raw::version_number(v) as i64
}

fn ttl_param(ttl: Option<Duration>) -> Option<i64> {
    ttl.map(|ttl| i64::try_from(ttl_millis(ttl)).unwrap_or(i64::MAX))
}

fn timestamp(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(|ms| Timestamp::from_millis(u64::try_from(ms).unwrap_or(0)))
}

/// An entry from `value, version, expires_at ms` at `offset`.
fn entry(row: &Row, offset: usize) -> Result<Entry> {
    let value: Vec<u8> = row.try_get(offset).map_err(|e| unexpected("entry", e))?;
    let version: i64 = row
        .try_get(offset + 1)
        .map_err(|e| unexpected("entry", e))?;
    let expires: Option<i64> = row
        .try_get(offset + 2)
        .map_err(|e| unexpected("entry", e))?;
    Ok(Entry {
        value: Bytes::from(value),
        version: version_of(version),
        expires_at: timestamp(expires),
    })
}

/// The outcome of a conditional write's `RETURNING written, value, version, expires`.
fn decided(rows: Vec<Row>, version: i64) -> Result<SetOutcome> {
    let Some(row) = rows.first() else {
        return Ok(SetOutcome::Rejected { current: None });
    };
    let written: bool = row.try_get(0).map_err(|e| unexpected("set", e))?;
    if written {
        Ok(SetOutcome::Written(version_of(version)))
    } else {
        Ok(SetOutcome::Rejected {
            current: Some(entry(row, 1)?),
        })
    }
}

impl Store for PostgresStore {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Entry>> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        let rows = self.run(&self.statements.get, &[&namespace, &key]).await?;
        rows.first().map(|row| entry(row, 0)).transpose()
    }

    async fn exists(&self, namespace: &str, key: &str) -> Result<bool> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        let rows = self
            .run(&self.statements.exists, &[&namespace, &key])
            .await?;
        let row = rows.first().ok_or_else(|| unexpected("exists", "no row"))?;
        row.try_get(0).map_err(|e| unexpected("exists", e))
    }

    async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        opts: SetOptions,
    ) -> Result<SetOutcome> {
        validate::set(&self.capabilities, namespace, key, &value, &opts)?;
        let version = new_version();
        let ttl = ttl_param(opts.ttl);
        let value: &[u8] = &value;
        let s = &self.statements;
        match opts.condition {
            Condition::Always => {
                self.run(&s.set, &[&namespace, &key, &value, &version, &ttl])
                    .await?;
                Ok(SetOutcome::Written(version_of(version)))
            }
            Condition::IfAbsent => {
                let rows = self
                    .run(
                        &s.set_if_absent,
                        &[&namespace, &key, &value, &version, &ttl],
                    )
                    .await?;
                if rows.is_empty() {
                    return Err(unexpected("set if absent", "no row"));
                }
                decided(rows, version)
            }
            Condition::IfPresent => {
                let rows = self
                    .run(
                        &s.set_if_present,
                        &[&namespace, &key, &value, &version, &ttl],
                    )
                    .await?;
                Ok(if rows.is_empty() {
                    SetOutcome::Rejected { current: None }
                } else {
                    SetOutcome::Written(version_of(version))
                })
            }
            Condition::IfVersion(expected) => {
                let expected = raw_version(expected);
                let params: [&(dyn ToSql + Sync); 6] =
                    [&namespace, &key, &value, &version, &ttl, &expected];
                let rows = self.run(&s.set_if_version, &params).await?;
                decided(rows, version)
            }
        }
    }

    async fn delete(&self, namespace: &str, key: &str, condition: DeleteCondition) -> Result<bool> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        match condition {
            DeleteCondition::Always => {
                let rows = self
                    .run(&self.statements.delete, &[&namespace, &key])
                    .await?;
                rows.iter()
                    .map(|row| row.try_get::<_, bool>(0))
                    .try_fold(false, |any, live| live.map(|live| any || live))
                    .map_err(|e| unexpected("delete", e))
            }
            DeleteCondition::IfVersion(v) => {
                let expected = raw_version(v);
                let rows = self
                    .run(
                        &self.statements.delete_if_version,
                        &[&namespace, &key, &expected],
                    )
                    .await?;
                Ok(!rows.is_empty())
            }
        }
    }

    async fn incr(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        validate::incr(&self.capabilities, namespace, key, ttl)?;
        let version = new_version();
        let ttl = ttl_param(ttl);
        let rows = self
            .run(
                &self.statements.incr,
                &[&namespace, &key, &delta, &version, &ttl],
            )
            .await?;
        let row = rows.first().ok_or_else(|| unexpected("incr", "no row"))?;
        let written: bool = row.try_get(0).map_err(|e| unexpected("incr", e))?;
        let value: Vec<u8> = row.try_get(1).map_err(|e| unexpected("incr", e))?;
        let expires: Option<i64> = row.try_get(2).map_err(|e| unexpected("incr", e))?;
        match store_core::raw::counter(&value) {
            Some(value) if written => Ok(IncrOutcome {
                value,
                expires_at: timestamp(expires),
            }),
            // Left alone: a counter whose sum would overflow, or not a counter.
            Some(_) => Err(Error::CounterOverflow),
            None if written => Err(unexpected("incr", "a non-decimal counter")),
            None => Err(Error::NotACounter),
        }
    }

    /// One statement; a clock floor is the server's `now()` in µs.
    async fn advance(&self, namespace: &str, key: &str, advance: Advance) -> Result<Advanced> {
        validate::advance(&self.capabilities, namespace, key, &advance)?;
        let version = new_version();
        let ttl = ttl_param(advance.ttl);
        let delta = advance.delta.to_string();
        let headroom = advance.headroom.to_string();
        let floor = match advance.floor {
            Floor::Value(floor) => Some(floor.to_string()),
            Floor::Clock => None,
        };
        let params: [&(dyn ToSql + Sync); 7] =
            [&namespace, &key, &delta, &headroom, &ttl, &version, &floor];
        let rows = self.run(&self.statements.advance, &params).await?;
        let row = rows
            .first()
            .ok_or_else(|| unexpected("advance", "no row"))?;
        let bad = |e| unexpected("advance", e);
        let floor: String = row.try_get(0).map_err(bad)?;
        let floor: u64 = floor
            .parse()
            .map_err(|_| unexpected("advance floor", &floor))?;
        let written: Option<bool> = row.try_get(1).map_err(bad)?;
        let value: Option<Vec<u8>> = row.try_get(2).map_err(bad)?;
        let live: Option<bool> = row.try_get(3).map_err(bad)?;
        let untouched: Option<Vec<u8>> = row.try_get(4).map_err(bad)?;
        let number = |v: &[u8]| -> Result<u64> {
            let text = std::str::from_utf8(v).map_err(|_| Error::NotACounter)?;
            let n: u64 = text.parse().map_err(|_| Error::NotACounter)?;
            if n.to_string() != text {
                return Err(Error::NotACounter);
            }
            if n > self.capabilities.max_advance_value {
                return Err(Error::CounterOverflow);
            }
            Ok(n)
        };
        if written == Some(true) {
            let value = number(value.as_deref().unwrap_or_default())?;
            return Ok(Advanced {
                written: true,
                value,
                floor,
                contended: false,
            });
        }
        // Not written: the live value it saw (the row's, or the snapshot's when the
        // insert was never proposed), then the definition decides why.
        let current = match (written, live) {
            (Some(false), Some(true)) => value.as_deref().map(number).transpose()?,
            (Some(false), _) => None,
            _ => untouched.as_deref().map(number).transpose()?,
        };
        match advance.apply(current, floor) {
            (start, None) => Ok(Advanced {
                written: false,
                value: start,
                floor,
                contended: false,
            }),
            // It fits the headroom but was not written: past a counter's range.
            (_, Some(_)) => Err(Error::CounterOverflow),
        }
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
