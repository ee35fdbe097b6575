//! The contract mapped onto Redis.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use store_core::raw::{ttl_millis, validate};
use store_core::{
    Advance, Advanced, Capabilities, Condition, Cursor, DeleteCondition, Entry, Error, Floor,
    IncrOutcome, ListPage, Result, SetOptions, SetOutcome, Store, Timestamp, Version,
};

use crate::client::{Commands, Conn, Reply, Resend, SetMode};
use crate::error::unexpected;
use crate::layout::{self, NamespaceKeys};
use crate::scripts::Scripts;

/// Largest page one `list` call returns.
pub const MAX_LIST_LIMIT: usize = 1000;
/// Default largest value: 16 MiB (Redis itself accepts up to 512 MiB).
pub const DEFAULT_MAX_VALUE_SIZE: usize = 16 * 1024 * 1024;

/// What a store is built from (filled by [`crate::RedisStoreBuilder`]).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) key_prefix: String,
    pub(crate) command_timeout: Duration,
    pub(crate) max_value_size: usize,
    pub(crate) scan_count: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            key_prefix: String::new(),
            command_timeout: Duration::from_secs(2),
            max_value_size: DEFAULT_MAX_VALUE_SIZE,
            scan_count: 256,
        }
    }
}

/// The fleetstate store on Redis, single node or cluster.
///
/// Every operation is one round trip and, but for `incr` and the version-conditional
/// writes (one `EVALSHA` each), one plain command: `GET`, `SET`, `SET … NX GET`,
/// `SET … XX`, `DEL`, `EXISTS` (see the crate docs for the layout). Clones share the
/// connection.
#[derive(Debug, Clone)]
pub struct RedisStore {
    pub(crate) conn: Conn,
    scripts: Arc<Scripts>,
    pub(crate) capabilities: Capabilities,
    pub(crate) key_prefix: Arc<str>,
    pub(crate) scan_count: u32,
}

impl RedisStore {
    pub(crate) fn new(commands: Arc<dyn Commands>, options: &Settings) -> Self {
        let mut capabilities = Capabilities::default();
        capabilities.atomic_incr = true;
        capabilities.atomic_advance = true;
        capabilities.max_advance_value = 1 << 53;
        capabilities.compare_and_set = true;
        capabilities.returns_current_on_reject = true;
        capabilities.strongly_consistent_reads = true;
        capabilities.max_key_len = validate::MAX_KEY_LEN;
        capabilities.max_namespace_len = validate::MAX_NAMESPACE_LEN;
        capabilities.max_value_size = options.max_value_size;
        capabilities.max_list_limit = MAX_LIST_LIMIT;
        capabilities.ttl_resolution = Duration::from_millis(1);
        RedisStore {
            conn: Conn::new(commands),
            scripts: Arc::new(Scripts::new()),
            capabilities,
            key_prefix: Arc::from(options.key_prefix.as_str()),
            scan_count: options.scan_count,
        }
    }

    /// The client library underneath: `"redis-rs"` or `"fred"`.
    pub fn client_library(&self) -> &'static str {
        self.conn.library()
    }

    /// The redis-rs connection underneath, for commands of your own (`None` on fred):
    /// a handle on the one in use (a single node's is replaced after a command times
    /// out, when the store built it).
    #[cfg(feature = "redis-rs")]
    pub fn redis_rs_connection(&self) -> Option<crate::RedisRsConnection> {
        self.conn
            .as_any()
            .downcast_ref::<crate::client::redis_rs::RedisRsCommands>()
            .map(|c| c.connection())
    }

    /// The fred client underneath, for commands of your own (`None` on redis-rs).
    #[cfg(feature = "fred")]
    pub fn fred_client(&self) -> Option<&fred::clients::Client> {
        self.conn
            .as_any()
            .downcast_ref::<crate::client::fred::FredCommands>()
            .map(|c| c.client())
    }

    /// `true` when connected to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.conn.is_cluster()
    }

    /// The Redis key that holds `(namespace, key)` (for inspection and tests).
    pub fn physical_key(&self, namespace: &str, key: &str) -> String {
        NamespaceKeys::physical_key(&self.key_prefix, namespace, key)
    }

    fn key(&self, namespace: &str, key: &str) -> String {
        self.physical_key(namespace, key)
    }
}

fn new_version() -> Version {
    store_core::raw::version(fastrand::u64(1..))
}

/// The version tag and stored form of a write of `value`.
fn stored(value: &[u8], ttl: Option<Duration>) -> (Version, Bytes) {
    let version = new_version();
    let expires_at = ttl.map(|ttl| Timestamp::now().add_ttl(ttl));
    (version, layout::encode(version, expires_at, value))
}

/// A rejected write, from the reply that carries the current stored form (nil: absent).
fn rejected(reply: Reply, what: &str) -> Result<SetOutcome> {
    let current = match reply {
        Reply::Nil => None,
        other => {
            let raw = other
                .into_bytes()
                .ok_or_else(|| unexpected(what, "a non-string reply"))?;
            Some(layout::decode(raw)?)
        }
    };
    Ok(SetOutcome::Rejected { current })
}

fn ttl_arg(ttl: Option<Duration>) -> Bytes {
    match ttl {
        Some(ttl) => Bytes::from(ttl_millis(ttl).to_string()),
        None => Bytes::new(),
    }
}

impl Store for RedisStore {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Entry>> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        match self.conn.get(self.key(namespace, key)).await? {
            Some(raw) => layout::decode(raw).map(Some),
            None => Ok(None),
        }
    }

    /// `EXISTS`: one command, no value transferred. Exact because every entry carries
    /// its expiry as a native Redis TTL.
    async fn exists(&self, namespace: &str, key: &str) -> Result<bool> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        self.conn.exists(self.key(namespace, key)).await
    }

    async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        opts: SetOptions,
    ) -> Result<SetOutcome> {
        validate::set(&self.capabilities, namespace, key, &value, &opts)?;
        let (version, raw) = stored(&value, opts.ttl);
        let physical = self.key(namespace, key);
        let ttl_ms = opts.ttl.map(ttl_millis);
        let mode = match opts.condition {
            Condition::Always => SetMode::Always,
            Condition::IfAbsent => SetMode::IfAbsentGet,
            Condition::IfPresent => SetMode::IfPresent,
            Condition::IfVersion(expected) => {
                let expected = layout::version_tag(expected);
                let args = || vec![expected.clone(), raw.clone(), ttl_arg(opts.ttl)];
                let reply = self
                    .conn
                    .eval(&self.scripts.set_if_version, &physical, args, Resend::Never)
                    .await?;
                return match reply {
                    Reply::Int(1) => Ok(SetOutcome::Written(version)),
                    other => rejected(other, "set if version"),
                };
            }
        };
        let reply = self.conn.set(physical, raw, ttl_ms, mode).await?;
        match (mode, reply) {
            // `NX GET`: nil when it wrote, the current entry when it did not.
            (SetMode::IfAbsentGet, Reply::Nil) => Ok(SetOutcome::Written(version)),
            (SetMode::IfAbsentGet, current) => rejected(current, "SET NX GET"),
            // `XX`: nil when there was nothing to overwrite.
            (SetMode::IfPresent, Reply::Nil) => Ok(SetOutcome::Rejected { current: None }),
            (_, _) => Ok(SetOutcome::Written(version)),
        }
    }

    async fn delete(&self, namespace: &str, key: &str, condition: DeleteCondition) -> Result<bool> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        let physical = self.key(namespace, key);
        let removed = match condition {
            DeleteCondition::Always => self.conn.del(physical).await?,
            DeleteCondition::IfVersion(v) => {
                let expected = layout::version_tag(v);
                let args = || vec![expected.clone()];
                let reply = self
                    .conn
                    .eval(
                        &self.scripts.delete_if_version,
                        &physical,
                        args,
                        Resend::Never,
                    )
                    .await?;
                reply.as_i64().ok_or_else(|| unexpected("delete", reply))?
            }
        };
        Ok(removed > 0)
    }

    async fn incr(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        validate::incr(&self.capabilities, namespace, key, ttl)?;
        let version =
            Bytes::copy_from_slice(&store_core::raw::version_number(new_version()).to_be_bytes());
        let args = || {
            vec![
                Bytes::from(delta.to_string()),
                version.clone(),
                ttl_arg(ttl),
            ]
        };
        let physical = self.key(namespace, key);
        let reply = self
            .conn
            .eval(&self.scripts.incr, &physical, args, Resend::Never)
            .await?;
        let stored = match reply {
            Reply::Int(0) => return Err(Error::NotACounter),
            Reply::Int(1) => return Err(Error::CounterOverflow),
            Reply::Int(2) => return Err(unexpected("incr", "a value in another layout")),
            other => other
                .into_bytes()
                .ok_or_else(|| unexpected("incr", "a non-string reply"))?,
        };
        let entry = layout::decode(stored)?;
        let value = std::str::from_utf8(&entry.value)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| unexpected("incr value", &entry.value))?;
        Ok(IncrOutcome {
            value,
            expires_at: entry.expires_at,
        })
    }

    /// One `EVALSHA`: the script reads `TIME` for a clock floor, so the server's clock
    /// decides and the fleet's clocks play no part.
    async fn advance(&self, namespace: &str, key: &str, advance: Advance) -> Result<Advanced> {
        validate::advance(&self.capabilities, namespace, key, &advance)?;
        let exact = 1u64 << 53;
        let fixed = match advance.floor {
            Floor::Value(floor) => Some(floor),
            Floor::Clock => None,
        };
        // A delta past it is fine: such an advance is refused, or overflows below.
        if advance.headroom > exact
            || fixed.is_some_and(|f| f > exact || f + advance.headroom > exact)
        {
            return Err(Error::InvalidArgument(format!(
                "advance on Redis: floor and headroom must stay within 2^53 (Lua's exact \
                 integers), got {advance:?}"
            )));
        }
        let version =
            Bytes::copy_from_slice(&store_core::raw::version_number(new_version()).to_be_bytes());
        let args = || {
            vec![
                Bytes::from(advance.delta.to_string()),
                Bytes::from(advance.headroom.to_string()),
                Bytes::from(fixed.map(|f| f.to_string()).unwrap_or_default()),
                version.clone(),
                ttl_arg(advance.ttl),
            ]
        };
        let physical = self.key(namespace, key);
        let reply = self
            .conn
            .eval(&self.scripts.advance, &physical, args, Resend::Never)
            .await?;
        let parts = match reply {
            Reply::Int(0) => return Err(Error::NotACounter),
            // Past 2^53, where Lua's doubles stop being exact (`max_advance_value`).
            Reply::Int(3) => return Err(Error::CounterOverflow),
            Reply::Array(parts) if parts.len() == 3 => parts,
            other => return Err(unexpected("advance", other)),
        };
        Ok(Advanced {
            written: parts[0].as_i64() == Some(1),
            value: parts[1].number("advance")?,
            floor: parts[2].number("advance")?,
            contended: false,
        })
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

    /// `SCAN` on every primary and `UNLINK` of what it finds, in batches.
    async fn clear(&self, namespace: &str, prefix: &str) -> Result<u64> {
        self.clear_keys(namespace, prefix).await
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }
}
