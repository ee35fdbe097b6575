//! The builder: a URL (a file or an in-memory database).

use std::path::PathBuf;
use std::time::Duration;

use deadpool_sqlite::{Config, Hook, HookError, Runtime};
use store_core::raw::StoreUrl;
use store_core::{Error, Result, StoreBuilder};

use crate::error::{from_sqlite, not_run};
use crate::layout::{schema_sql, table_name};
use crate::store::{Settings, SqliteStore};

const SCHEMES: &[&str] = &["sqlite"];

const OPTIONS: [&str; 6] = [
    "table",
    "pool_size",
    "busy_timeout_ms",
    "command_timeout_ms",
    "max_value_size",
    "create_schema",
];

/// Where the database lives.
#[derive(Debug, Clone)]
enum Target {
    File(PathBuf),
    /// Private to the store: one connection, gone with the store.
    Memory,
}

/// Builds a [`SqliteStore`].
///
/// ```no_run
/// # async fn demo() -> store_core::Result<()> {
/// let store = store_sqlite::SqliteStoreBuilder::from_url("sqlite:///var/lib/app/state.db")?
///     .build()
///     .await?;
/// # let _ = store; Ok(()) }
/// ```
///
/// URLs: `sqlite:///absolute/path.db`, `sqlite://relative/path.db`, and `sqlite::memory:`
/// (or `sqlite://:memory:`, the form a `SchemeRegistry` routes): a private in-memory
/// database on one connection. Options: `table` (default `fleetstate`), `pool_size`
/// (default 4; 1 for memory), `busy_timeout_ms` (how long a writer waits for another
/// process's lock, default 5000), `command_timeout_ms` (default 10000), `max_value_size`,
/// and `create_schema` (default `true`: the file is the store's, its table is created
/// when missing; `false` to require it, a missing table being `Misconfigured`).
#[derive(Debug)]
pub struct SqliteStoreBuilder {
    target: Target,
    settings: Settings,
    pool_size: usize,
    busy_timeout: Duration,
    create_schema: bool,
}

impl SqliteStoreBuilder {
    fn with_target(target: Target) -> Self {
        SqliteStoreBuilder {
            target,
            settings: Settings::default(),
            pool_size: 4,
            busy_timeout: Duration::from_secs(5),
            create_schema: true,
        }
    }

    /// A store on the file at `path` (created when missing).
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::with_target(Target::File(path.into()))
    }

    /// A private in-memory database (one connection; nothing is shared or kept).
    pub fn memory() -> Self {
        Self::with_target(Target::Memory)
    }

    /// Reads a SQLite URL (forms and options above). Nothing is opened until
    /// [`build`](Self::build).
    ///
    /// Errors: `Misconfigured` for a URL with no path, an invalid table name or value,
    /// or an unknown option.
    pub fn from_url(url: &str) -> Result<Self> {
        if url == "sqlite::memory:" {
            return Ok(Self::memory());
        }
        let mut parsed = StoreUrl::parse(url, SCHEMES)?;
        let mut b = match parsed.target() {
            "" => {
                return Err(Error::Misconfigured(format!(
                    "`{}` names no file: use sqlite:///path/to/file.db or sqlite::memory:",
                    parsed.redacted()
                )));
            }
            ":memory:" => Self::memory(),
            path => Self::file(path),
        };
        if let Some(table) = parsed.take::<String>("table")? {
            b = b.table(&table)?;
        }
        if let Some(n) = parsed.take::<usize>("pool_size")? {
            b = b.pool_size(n);
        }
        if let Some(ms) = parsed.take::<u64>("busy_timeout_ms")? {
            b = b.busy_timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = parsed.take::<u64>("command_timeout_ms")? {
            b = b.command_timeout(Duration::from_millis(ms));
        }
        if let Some(bytes) = parsed.take::<usize>("max_value_size")? {
            b = b.max_value_size(bytes);
        }
        if let Some(create) = parsed.take::<bool>("create_schema")? {
            b = b.create_schema(create);
        }
        parsed.finish(&OPTIONS)?;
        Ok(b)
    }

    /// The table (default `fleetstate`).
    ///
    /// Errors: `Misconfigured` for a name that is not a plain identifier.
    pub fn table(mut self, name: &str) -> Result<Self> {
        self.settings.table = table_name(name)?;
        Ok(self)
    }

    /// Connections in the pool (default 4; an in-memory database always has 1).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How long a statement waits for another connection's (or process's) write lock
    /// before the call is `Unavailable` (default 5 s).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Longest wait for any one operation (default 10 s).
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.settings.command_timeout = timeout;
        self
    }

    /// Largest value accepted, checked before any I/O (default 16 MiB).
    pub fn max_value_size(mut self, bytes: usize) -> Self {
        self.settings.max_value_size = bytes;
        self
    }

    /// Whether `build` creates the table when missing (default `true`).
    pub fn create_schema(mut self, create: bool) -> Self {
        self.create_schema = create;
        self
    }

    /// Opens the pool (WAL mode, the busy timeout, `synchronous = NORMAL` on every
    /// connection), creates the table if asked, checks it exists, and returns the store.
    ///
    /// Errors: `Misconfigured` when the file cannot be opened or written, or the table is
    /// missing and `create_schema` is off.
    pub async fn build(self) -> Result<SqliteStore> {
        let (path, size) = match &self.target {
            Target::File(path) => (path.clone(), self.pool_size),
            Target::Memory => (PathBuf::from(":memory:"), 1),
        };
        let busy = self.busy_timeout.as_millis();
        let memory = matches!(self.target, Target::Memory);
        let pool = Config::new(path.clone())
            .builder(Runtime::Tokio1)
            .map_err(|e| Error::Misconfigured(format!("SQLite pool: {e}")))?
            .max_size(size)
            .post_create(Hook::async_fn(move |conn, _| {
                Box::pin(async move {
                    conn.interact(move |c| {
                        #[cfg(feature = "testing")]
                        c.trace_v2(
                            deadpool_sqlite::rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
                            Some(crate::testing::count),
                        );
                        let journal = if memory { "MEMORY" } else { "WAL" };
                        c.execute_batch(&format!(
                            "PRAGMA busy_timeout = {busy}; PRAGMA journal_mode = {journal}; \
                             PRAGMA synchronous = NORMAL;"
                        ))
                    })
                    .await
                    .map_err(|e| HookError::message(e.to_string()))?
                    .map_err(|e| HookError::message(e.to_string()))
                })
            }))
            .build()
            .map_err(|e| Error::Misconfigured(format!("SQLite pool: {e}")))?;
        let table = self.settings.table.clone();
        let create = self.create_schema;
        let conn = pool.get().await.map_err(|e| {
            Error::Misconfigured(format!("SQLite cannot open `{}`: {e}", path.display()))
        })?;
        let found = conn
            .interact(move |c| {
                if create {
                    c.execute_batch(&schema_sql(&table))?;
                }
                c.query_row(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
                    [&table],
                    |row| row.get::<_, bool>(0),
                )
            })
            .await
            .map_err(|e| not_run(format!("the worker thread failed: {e}")))?
            .map_err(|e| from_sqlite(e, &self.settings.table))?;
        drop(conn);
        if !found {
            return Err(Error::Misconfigured(format!(
                "SQLite has no table `{}` in `{}`: build with `create_schema(true)` or run \
                 `store_sqlite::schema_sql()`",
                self.settings.table,
                path.display()
            )));
        }
        Ok(SqliteStore::new(pool, &self.settings))
    }
}

impl StoreBuilder for SqliteStoreBuilder {
    type Store = SqliteStore;
    const SCHEMES: &'static [&'static str] = SCHEMES;

    fn from_url(url: &str) -> Result<Self> {
        SqliteStoreBuilder::from_url(url)
    }

    async fn build(self) -> Result<SqliteStore> {
        SqliteStoreBuilder::build(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_and_bad_ones_refused() {
        assert!(matches!(
            SqliteStoreBuilder::from_url("sqlite::memory:")
                .unwrap()
                .target,
            Target::Memory
        ));
        assert!(matches!(
            SqliteStoreBuilder::from_url("sqlite://:memory:")
                .unwrap()
                .target,
            Target::Memory
        ));
        let b = SqliteStoreBuilder::from_url("sqlite:///tmp/x.db?table=t2&pool_size=2").unwrap();
        assert!(matches!(&b.target, Target::File(p) if p == &PathBuf::from("/tmp/x.db")));
        assert_eq!(b.settings.table, "t2");
        for (url, needle) in [
            ("sqlite://", "names no file"),
            ("sqlite:///x.db?table=a-b", "table `a-b`"),
            (
                "sqlite:///x.db?colour=red",
                "unknown sqlite:// option `colour`",
            ),
            ("sqlite:///x.db?create_schema=maybe", "create_schema"),
            ("sqlite:/x.db", "not a valid store URL"),
        ] {
            let err = SqliteStoreBuilder::from_url(url).unwrap_err().to_string();
            assert!(err.contains(needle), "{url}: {err}");
        }
    }
}
