//! The contract mapped onto Redis.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fred::clients::Client;
use fred::types::Value;
use fred::types::config::Server;
use store_core::{
    Capabilities, Condition, Cursor, DeleteCondition, Entry, Error, IncrOutcome, ListPage, Result,
    SetOptions, SetOutcome, Store, Timestamp, Version, keys, ttl_millis, validate,
};

use crate::client::{Conn, Replay, SetMode, into_bytes};
use crate::config::RedisStoreBuilder;
use crate::error::unexpected;
use crate::keys::{NamespaceKeys, WalkState};
use crate::layout;
use crate::scripts::Scripts;

/// Largest page one `list` call returns.
pub const MAX_LIST_LIMIT: usize = 1000;
/// Most `SCAN` calls one `list` call sends before returning what it has (possibly an
/// empty page with a cursor), so a sparse keyspace cannot stall a caller.
const MAX_SCANS_PER_PAGE: usize = 32;
/// Marks a walk whose scanning is over and only has pending keys to hand out.
const FINISHED: &str = "-";

/// The fleetstate store on Redis, single node or cluster.
///
/// Every operation is one round trip and, but for `incr` and the version-conditional
/// writes (one `EVALSHA` each), one plain command: `GET`, `SET`, `SET … NX GET`,
/// `SET … XX`, `DEL`, `EXISTS` (see the crate docs for the layout). Clones share the
/// connection.
#[derive(Debug, Clone)]
pub struct RedisStore {
    conn: Conn,
    scripts: Arc<Scripts>,
    capabilities: Capabilities,
    key_prefix: Arc<str>,
    scan_count: u32,
}

impl RedisStore {
    /// A builder connecting to `url` (see [`RedisStoreBuilder`] for the URL forms).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder::from_url(url)
    }

    /// Connects to `url` with default options.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::builder(url).connect().await
    }

    /// A builder around a fred client you already have (connected with `init()`, or
    /// connecting). Command timeouts and at-most-once sending are applied per command,
    /// whatever the client's own settings.
    pub fn from_client(client: Client) -> RedisStoreBuilder {
        RedisStoreBuilder::from_client(client)
    }

    /// A builder from a fred `Config` (to set TLS, credentials providers, sentinel...).
    pub fn from_config(config: fred::types::config::Config) -> RedisStoreBuilder {
        RedisStoreBuilder::from_config(config)
    }

    pub(crate) fn new(client: Client, options: &RedisStoreBuilder) -> Self {
        let mut capabilities = Capabilities::default();
        capabilities.atomic_incr = true;
        capabilities.compare_and_set = true;
        capabilities.returns_current_on_reject = true;
        capabilities.strongly_consistent_reads = true;
        capabilities.max_key_len = keys::MAX_KEY_LEN;
        capabilities.max_namespace_len = keys::MAX_NAMESPACE_LEN;
        capabilities.max_value_size = options.max_value_size;
        capabilities.max_list_limit = MAX_LIST_LIMIT;
        capabilities.ttl_resolution = Duration::from_millis(1);
        RedisStore {
            conn: Conn::new(client, options.command_timeout),
            scripts: Arc::new(Scripts::new()),
            capabilities,
            key_prefix: Arc::from(options.key_prefix.as_str()),
            scan_count: options.scan_count,
        }
    }

    /// The fred client underneath, for commands of your own.
    pub fn client(&self) -> &Client {
        self.conn.client()
    }

    /// `true` when connected to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.conn.is_cluster()
    }

    /// The Redis key that holds `(namespace, key)` (for inspection and tests).
    pub fn physical_key(&self, namespace: &str, key: &str) -> String {
        NamespaceKeys::physical_key(&self.key_prefix, namespace, key)
    }

    /// The process id of the Redis server when it runs on this machine (a standalone
    /// server reached over loopback), else `None`. For benchmarks that give the server
    /// cores of its own (`store_core::conformance::CoreSplit`, feature `conformance`).
    pub async fn local_server_pid(&self) -> Option<u32> {
        self.conn.local_server_pid().await
    }

    /// Deletes every key under this store's `key_prefix`, in every namespace and on
    /// every primary, whatever its type; returns how many were deleted. For retiring a
    /// tenant, and for tests and benchmarks that clean up after themselves. Refused
    /// without a prefix (it would empty the whole server). Keys written while it runs
    /// may survive it.
    ///
    /// ```no_run
    /// # async fn demo() -> store_core::Result<()> {
    /// let store = store_redis::RedisStore::builder("redis://127.0.0.1:6379")
    ///     .key_prefix("tenant-42:")
    ///     .connect()
    ///     .await?;
    /// let deleted = store.purge_key_prefix().await?;
    /// # let _ = deleted;
    /// # Ok(()) }
    /// ```
    pub async fn purge_key_prefix(&self) -> Result<u64> {
        if self.key_prefix.is_empty() {
            return Err(Error::Misconfigured(
                "purge_key_prefix needs a key_prefix: without one it would delete every key \
                 on the server"
                    .into(),
            ));
        }
        let pattern = crate::keys::prefix_pattern(&self.key_prefix);
        let mut deleted = 0;
        for node in self.conn.scan_nodes() {
            let mut cursor = "0".to_owned();
            loop {
                let (next, found) = self
                    .conn
                    .scan(node.clone(), &cursor, &pattern, self.scan_count, false)
                    .await?;
                for key in found {
                    deleted += u64::try_from(self.conn.del(key).await?).unwrap_or(0);
                }
                if next == "0" {
                    break;
                }
                cursor = next;
            }
        }
        Ok(deleted)
    }

    fn key(&self, namespace: &str, key: &str) -> String {
        self.physical_key(namespace, key)
    }
}

fn new_version() -> Version {
    Version::from_raw(fastrand::u64(1..))
}

/// The version tag and stored form of a write of `value`.
fn stored(value: &[u8], ttl: Option<Duration>) -> (Version, Bytes) {
    let version = new_version();
    let expires_at = ttl.map(|ttl| Timestamp::now().add_ttl(ttl));
    (version, layout::encode(version, expires_at, value))
}

/// A rejected write, from the reply that carries the current stored form (nil: absent).
fn rejected(reply: Value, what: &str) -> Result<SetOutcome> {
    let current = match reply {
        Value::Null => None,
        other => {
            let raw = into_bytes(other).ok_or_else(|| unexpected(what, "a non-string reply"))?;
            Some(layout::decode(raw)?)
        }
    };
    Ok(SetOutcome::Rejected { current })
}

fn ttl_arg(ttl: Option<Duration>) -> Value {
    match ttl {
        Some(ttl) => Value::from(ttl_millis(ttl).to_string()),
        None => Value::from(""),
    }
}

fn node_name(node: &Option<Server>) -> String {
    node.as_ref().map(|s| s.to_string()).unwrap_or_default()
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
                let args = || {
                    vec![
                        Value::Bytes(expected.clone()),
                        Value::Bytes(raw.clone()),
                        ttl_arg(opts.ttl),
                    ]
                };
                let reply = self
                    .conn
                    .eval(
                        &self.scripts.set_if_version,
                        &physical,
                        args,
                        Replay::AtMostOnce,
                    )
                    .await?;
                return match reply {
                    Value::Integer(1) => Ok(SetOutcome::Written(version)),
                    other => rejected(other, "set if version"),
                };
            }
        };
        let reply = self.conn.set(physical, raw, ttl_ms, mode).await?;
        match (mode, reply) {
            // `NX GET`: nil when it wrote, the current entry when it did not.
            (SetMode::IfAbsentGet, Value::Null) => Ok(SetOutcome::Written(version)),
            (SetMode::IfAbsentGet, current) => rejected(current, "SET NX GET"),
            // `XX`: nil when there was nothing to overwrite.
            (SetMode::IfPresent, Value::Null) => Ok(SetOutcome::Rejected { current: None }),
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
                let args = || vec![Value::Bytes(expected.clone())];
                let reply = self
                    .conn
                    .eval(
                        &self.scripts.delete_if_version,
                        &physical,
                        args,
                        Replay::AtMostOnce,
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
        let version = Bytes::copy_from_slice(&new_version().as_raw().to_be_bytes());
        let args = || {
            vec![
                Value::from(delta.to_string()),
                Value::Bytes(version.clone()),
                ttl_arg(ttl),
            ]
        };
        let physical = self.key(namespace, key);
        let reply = self
            .conn
            .eval(&self.scripts.incr, &physical, args, Replay::AtMostOnce)
            .await?;
        let stored = match reply {
            Value::Integer(0) => return Err(Error::NotACounter),
            Value::Integer(1) => return Err(Error::CounterOverflow),
            Value::Integer(2) => return Err(unexpected("incr", "a value in another layout")),
            other => into_bytes(other).ok_or_else(|| unexpected("incr", "a non-string reply"))?,
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

    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        validate::list(&self.capabilities, namespace, prefix, limit)?;
        let keys = NamespaceKeys::new(&self.key_prefix, namespace);
        let pattern = keys.pattern(prefix);
        let nodes = self.conn.scan_nodes();
        let Some(first) = nodes.first() else {
            return Err(Error::unavailable(
                store_core::Delivery::NotSent,
                "the Redis cluster's primaries are not known yet",
            ));
        };
        let mut state = match cursor {
            Some(cursor) => WalkState::decode(cursor)?,
            None => WalkState {
                node: node_name(first),
                scan: "0".into(),
                pending: Vec::new(),
            },
        };
        let mut node_index = if state.node == FINISHED {
            nodes.len()
        } else {
            nodes
                .iter()
                .position(|n| node_name(n) == state.node)
                .ok_or_else(|| {
                    Error::InvalidCursor(
                        "the Redis cluster's primaries changed during the walk: start it again"
                            .into(),
                    )
                })?
        };
        let take = state.pending.len().min(limit);
        let mut page: Vec<String> = state.pending.drain(..take).collect();
        let mut seen: HashSet<String> = page.iter().chain(&state.pending).cloned().collect();
        let count = self
            .scan_count
            .max(u32::try_from(limit).unwrap_or(u32::MAX));
        let mut scans = 0;
        while page.len() < limit && node_index < nodes.len() && scans < MAX_SCANS_PER_PAGE {
            scans += 1;
            let node = nodes[node_index].clone();
            let (next, found) = self
                .conn
                .scan(node, &state.scan, &pattern, count, true)
                .await?;
            for key in found.iter().filter_map(|raw| keys.key_of(raw)) {
                // SCAN may repeat a key (while Redis resizes its tables): hand out once.
                if seen.insert(key.clone()) {
                    if page.len() < limit {
                        page.push(key);
                    } else {
                        state.pending.push(key);
                    }
                }
            }
            if next == "0" {
                node_index += 1;
                state.scan = "0".into();
                state.node = nodes
                    .get(node_index)
                    .map_or_else(|| FINISHED.to_owned(), node_name);
            } else {
                state.scan = next;
            }
        }
        let done = node_index >= nodes.len() && state.pending.is_empty();
        Ok(ListPage {
            keys: page,
            cursor: (!done).then(|| state.encode()),
        })
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }
}
