//! The builder: a URL, or the pool you already have.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use store_core::raw::StoreUrl;
use store_core::{Delivery, Error, Result, StoreBuilder};
use tokio_postgres::NoTls;

use crate::error::{from_pool, from_postgres};
use crate::layout::TableLayout;
use crate::store::{PostgresStore, Settings};

const SCHEMES: &[&str] = &["postgres", "postgresql"];

const OPTIONS: [&str; 8] = [
    "table",
    "schema",
    "pool_size",
    "command_timeout_ms",
    "connect_timeout_ms",
    "statement_timeout_ms",
    "max_value_size",
    "sslmode",
];

enum Source {
    Config(Box<tokio_postgres::Config>),
    Pool(Pool),
}

/// Builds a [`PostgresStore`] from a URL or from your own `deadpool_postgres::Pool`.
///
/// ```no_run
/// # async fn demo() -> store_core::Result<()> {
/// let store = store_postgres::PostgresStoreBuilder::from_url(
///     "postgres://app:secret@db.internal:5432/app?table=fleetstate&pool_size=16",
/// )?
/// .build()
/// .await?;
/// # let _ = store; Ok(()) }
/// ```
///
/// URL: `postgres://[user[:password]@]host[:port]/database` (or `postgresql://`).
/// Options: `table` and `schema` (plain identifiers; default `fleetstate` in the search
/// path's schema), `pool_size` (default 16), `command_timeout_ms` (default 2000: every
/// operation, waiting for a connection included), `connect_timeout_ms` (default 2000),
/// `statement_timeout_ms` (the server-side `statement_timeout` of the store's
/// connections; default the command timeout), `max_value_size`, and `sslmode=disable`
/// (TLS is not supported by this store yet: any other mode is refused rather than
/// silently ignored). Anything else is refused.
pub struct PostgresStoreBuilder {
    source: Source,
    settings: Settings,
    pool_size: usize,
    connect_timeout: Duration,
    statement_timeout: Option<Duration>,
    create_schema: bool,
}

impl std::fmt::Debug for PostgresStoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.source {
            Source::Config(c) => {
                format!("<config for {:?} on {:?}>", c.get_dbname(), c.get_hosts())
            }
            Source::Pool(_) => "<your pool>".into(),
        };
        f.debug_struct("PostgresStoreBuilder")
            .field("source", &source)
            .field("settings", &self.settings)
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

impl PostgresStoreBuilder {
    fn with_source(source: Source) -> Self {
        PostgresStoreBuilder {
            source,
            settings: Settings::default(),
            pool_size: 16,
            connect_timeout: Duration::from_secs(2),
            statement_timeout: None,
            create_schema: false,
        }
    }

    /// Reads a PostgreSQL URL (form and options above). Nothing is connected until
    /// [`build`](Self::build).
    ///
    /// Errors: `Misconfigured` for a malformed URL, an invalid table or schema name, an
    /// unknown option, or a TLS mode other than `disable`.
    pub fn from_url(url: &str) -> Result<Self> {
        let mut parsed = StoreUrl::parse(url, SCHEMES)?;
        let redacted = parsed.redacted().to_owned();
        let config: tokio_postgres::Config = format!("postgresql://{}", parsed.target())
            .parse()
            .map_err(|e| {
                Error::Misconfigured(format!("`{redacted}` is not a valid PostgreSQL URL: {e}"))
            })?;
        if config.get_hosts().is_empty() {
            return Err(Error::Misconfigured(format!("`{redacted}` names no host")));
        }
        let mut b = Self::with_source(Source::Config(Box::new(config)));
        let table = parsed.take::<String>("table")?;
        let schema = parsed.take::<String>("schema")?;
        let mut layout = match table {
            Some(table) => TableLayout::new(&table)?,
            None => TableLayout::default(),
        };
        if let Some(schema) = schema {
            layout = layout.in_schema(&schema)?;
        }
        b = b.layout(layout);
        if let Some(n) = parsed.take::<usize>("pool_size")? {
            if n == 0 {
                return Err(Error::Misconfigured(format!(
                    "`{redacted}`: pool_size must be at least 1"
                )));
            }
            b = b.pool_size(n);
        }
        if let Some(ms) = parsed.take::<u64>("command_timeout_ms")? {
            b = b.command_timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = parsed.take::<u64>("connect_timeout_ms")? {
            b = b.connect_timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = parsed.take::<u64>("statement_timeout_ms")? {
            b = b.statement_timeout(Duration::from_millis(ms));
        }
        if let Some(bytes) = parsed.take::<usize>("max_value_size")? {
            b = b.max_value_size(bytes);
        }
        if let Some(mode) = parsed.take::<String>("sslmode")?
            && mode != "disable"
        {
            return Err(Error::Misconfigured(format!(
                "`{redacted}`: sslmode={mode}: this store connects without TLS only (use \
                 `sslmode=disable`, or pass a pool with TLS of your own to `from_pool`)"
            )));
        }
        parsed.finish(&OPTIONS)?;
        Ok(b)
    }

    /// A builder around your own pool (deadpool-postgres 0.14 on tokio-postgres 0.7,
    /// with any TLS connector you configured). The store prepares its statements on the
    /// pool's connections; its command timeout bounds every operation.
    pub fn from_pool(pool: Pool) -> Self {
        Self::with_source(Source::Pool(pool))
    }

    /// The table the store uses (default `fleetstate` in the search path's schema).
    pub fn layout(mut self, layout: TableLayout) -> Self {
        self.settings.layout = layout;
        self
    }

    /// Connections in the store's own pool (default 16).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// Longest wait for any one operation, a pooled connection included (default 2 s):
    /// a dead server is `Unavailable` within it, never a hang.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.settings.command_timeout = timeout;
        self
    }

    /// Longest wait to open a connection (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The server-side `statement_timeout` of the store's own connections (default the
    /// command timeout): the server cancels a statement that runs longer, so a
    /// timed-out call leaves no statement running behind it.
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = Some(timeout);
        self
    }

    /// Runs [`create_schema`] at `build` (off by default: the store never creates a table
    /// unless asked; production deployments use `TableLayout::schema_sql()` in their
    /// migrations).
    pub fn create_schema(mut self, create: bool) -> Self {
        self.create_schema = create;
        self
    }

    /// Largest value accepted, checked before sending (default 16 MiB).
    pub fn max_value_size(mut self, bytes: usize) -> Self {
        self.settings.max_value_size = bytes;
        self
    }

    /// Opens the pool (or takes yours), checks that a connection can be made and that
    /// the table exists, and returns the store.
    ///
    /// Errors: `Unavailable` when no connection is made within the connect timeout;
    /// `Misconfigured` when the server refuses the credentials or the table is missing
    /// (naming the table and how to create it).
    pub async fn build(self) -> Result<PostgresStore> {
        let pool = match self.source {
            Source::Pool(pool) => pool,
            Source::Config(config) => {
                let mut config = *config;
                let statement_timeout = self
                    .statement_timeout
                    .unwrap_or(self.settings.command_timeout);
                config
                    .connect_timeout(self.connect_timeout)
                    .application_name("fleetstate")
                    .options(format!(
                        "-c statement_timeout={}",
                        statement_timeout.as_millis().max(1)
                    ));
                let manager = Manager::from_config(
                    config,
                    NoTls,
                    ManagerConfig {
                        recycling_method: RecyclingMethod::Fast,
                    },
                );
                Pool::builder(manager)
                    .max_size(self.pool_size)
                    .runtime(Runtime::Tokio1)
                    .wait_timeout(Some(self.settings.command_timeout))
                    .create_timeout(Some(self.connect_timeout))
                    .recycle_timeout(Some(self.connect_timeout))
                    .build()
                    .map_err(|e| Error::Misconfigured(format!("PostgreSQL pool: {e}")))?
            }
        };
        let layout = &self.settings.layout;
        let check = async {
            if self.create_schema {
                create_schema(&pool, layout).await?;
            }
            let client = pool
                .get()
                .await
                .map_err(|e| from_pool(e, layout.table()).into_error())?;
            let found = client
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&layout.qualified()])
                .await
                .map_err(|e| from_postgres(e, layout.table(), false).into_error())?;
            Ok::<bool, Error>(found.get(0))
        };
        match tokio::time::timeout(self.connect_timeout + self.settings.command_timeout, check)
            .await
        {
            Ok(Ok(true)) => Ok(PostgresStore::new(pool, &self.settings)),
            Ok(Ok(false)) => Err(Error::Misconfigured(format!(
                "PostgreSQL has no table {}: create it with `store_postgres::create_schema` \
                 or run the SQL of `TableLayout::schema_sql()` in a migration (the store \
                 never creates tables by itself)",
                layout.qualified()
            ))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::unavailable(
                Delivery::NotSent,
                format!(
                    "could not reach PostgreSQL within {} ms",
                    (self.connect_timeout + self.settings.command_timeout).as_millis()
                ),
            )),
        }
    }
}

impl StoreBuilder for PostgresStoreBuilder {
    type Store = PostgresStore;
    const SCHEMES: &'static [&'static str] = SCHEMES;

    fn from_url(url: &str) -> Result<Self> {
        PostgresStoreBuilder::from_url(url)
    }

    async fn build(self) -> Result<PostgresStore> {
        PostgresStoreBuilder::build(self).await
    }
}

/// Creates the schema (when the layout names one), the table and its expiry index, if
/// missing (the SQL of [`TableLayout::schema_sql`]). The store never calls it by itself.
/// Safe to race from several processes: PostgreSQL's `IF NOT EXISTS` can still fail
/// with a duplicate-object error when two sessions create the same table at once, and
/// then the DDL is run again (it finds the table the other session made).
pub async fn create_schema(pool: &Pool, layout: &TableLayout) -> Result<()> {
    use tokio_postgres::error::SqlState;
    let client = pool
        .get()
        .await
        .map_err(|e| from_pool(e, layout.table()).into_error())?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        match client.batch_execute(&layout.schema_sql()).await {
            Ok(()) => return Ok(()),
            Err(e)
                if attempts < 3
                    && e.code().is_some_and(|c| {
                        *c == SqlState::UNIQUE_VIOLATION
                            || *c == SqlState::DUPLICATE_TABLE
                            || *c == SqlState::DUPLICATE_OBJECT
                            || *c == SqlState::DUPLICATE_SCHEMA
                    }) => {}
            Err(e) => return Err(from_postgres(e, layout.table(), true).into_error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(url: &str) -> std::result::Result<PostgresStoreBuilder, String> {
        PostgresStoreBuilder::from_url(url).map_err(|e| e.to_string())
    }

    #[test]
    fn good_urls_are_read() {
        for url in [
            "postgres://u:p@localhost:5432/db",
            "postgresql://localhost/db?table=t1&schema=s&pool_size=4",
            "postgres://u@127.0.0.1:1/db?command_timeout_ms=100&statement_timeout_ms=50",
            "postgres://h/db?sslmode=disable&max_value_size=1024",
        ] {
            read(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        let b = read("postgres://h/db?table=abc&schema=s").unwrap();
        assert_eq!(b.settings.layout.qualified(), "\"s\".\"abc\"");
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, needle) in [
            ("postgres://h/db?table=a-b", "table `a-b`"),
            ("postgres://h/db?schema=1x", "schema `1x`"),
            ("postgres://h/db?sslmode=require", "without TLS only"),
            ("postgres://h/db?pool_size=0", "at least 1"),
            (
                "postgres://h/db?colour=red",
                "unknown postgres:// option `colour`",
            ),
            ("postgres://h:port/db", "not a valid PostgreSQL URL"),
            ("postgres://h/db?command_timeout_ms=x", "whole number"),
        ] {
            let err = read(url).unwrap_err();
            assert!(err.contains(needle), "{url}: {err}");
        }
        let err = read("postgres://u:hunter2@h:port/db").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }
}
