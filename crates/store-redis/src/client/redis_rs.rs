//! The seam on redis-rs (the `redis` crate): a [`ConnectionManager`] on a single node,
//! the async [`ClusterConnection`] on a cluster.
//!
//! At most once: the connection manager never re-sends a command (a dropped connection
//! fails the commands in flight and reconnects in the background). The cluster
//! connection would re-send on an I/O error, so the store builds it with `retries(0)`
//! and follows the replies that prove the command did not run (`MOVED`, `ASK`,
//! `TRYAGAIN`, `CLUSTERDOWN`, no connection to the node) itself, a bounded number of
//! times; an I/O error is re-sent only for [`Resend::Allowed`] commands.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, RedisError, Value};
use store_core::{Delivery, Error, Result};

use super::{Commands, Fut, Reply, Resend, SetMode, scan_reply};
use crate::error::{from_redis, unexpected};

/// A redis-rs connection the store runs on: yours or one it opened.
#[derive(Clone)]
#[non_exhaustive]
pub enum RedisRsConnection {
    /// A single node, through redis-rs's reconnecting, multiplexed connection manager.
    Single(ConnectionManager),
    /// A Redis Cluster, through redis-rs's async cluster connection. Build it with
    /// `ClusterClientBuilder::retries(0)`: with retries the connection re-sends a
    /// command that was in flight when a node's connection dropped, and an `incr` or
    /// conditional write could apply twice (the store follows redirects itself).
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisRsConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RedisRsConnection::Single(_) => "RedisRsConnection::Single",
            RedisRsConnection::Cluster(_) => "RedisRsConnection::Cluster",
        })
    }
}

impl redis::aio::ConnectionLike for RedisRsConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> redis::RedisFuture<'a, Value> {
        match self {
            RedisRsConnection::Single(c) => c.req_packed_command(cmd),
            RedisRsConnection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<Value>> {
        match self {
            RedisRsConnection::Single(c) => c.req_packed_commands(cmd, offset, count),
            RedisRsConnection::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisRsConnection::Single(c) => c.get_db(),
            RedisRsConnection::Cluster(c) => c.get_db(),
        }
    }
}

/// How often a command is sent again after a reply that proves it did not run.
const REDIRECTS: usize = 5;
/// How long the list of a cluster's primaries is trusted.
const PRIMARIES_TTL: Duration = Duration::from_secs(5);

pub(crate) struct RedisRsCommands {
    conn: Arc<RwLock<RedisRsConnection>>,
    timeout: Duration,
    primaries: Mutex<Option<(Instant, Vec<Option<String>>)>>,
    /// How to replace a single node's connection after a timeout, when the store
    /// built it (not when the application handed its own manager in).
    renew: Option<Arc<Renew>>,
    /// Whether the connection is a cluster's: fixed at construction (a renewal
    /// replaces a single node's connection with another).
    cluster: bool,
}

/// A fresh `ConnectionManager` for a connection that stopped answering: redis-rs
/// reconnects only after a connection drops, so one that goes silent (a black-holed
/// network path, a host gone without a reset) would time out every command forever.
pub(crate) struct Renew {
    client: redis::Client,
    config: redis::aio::ConnectionManagerConfig,
    busy: AtomicBool,
}

impl Renew {
    pub(crate) fn new(client: redis::Client, config: redis::aio::ConnectionManagerConfig) -> Self {
        Renew {
            client,
            config,
            busy: AtomicBool::new(false),
        }
    }
}

impl std::fmt::Debug for RedisRsCommands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRsCommands")
            .field("conn", &self.conn)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Whether `e` proves the server did not run the command.
fn not_run(e: &RedisError) -> bool {
    matches!(
        e.code(),
        Some("MOVED" | "ASK" | "TRYAGAIN" | "CLUSTERDOWN" | "LOADING" | "MASTERDOWN")
    ) || e.kind() == redis::ErrorKind::ClusterConnectionNotFound
        || e.is_connection_refusal()
}

impl RedisRsCommands {
    /// Commands on `conn`; `renew` only for a single node's connection the store built.
    pub(crate) fn new(conn: RedisRsConnection, timeout: Duration, renew: Option<Renew>) -> Self {
        let cluster = matches!(conn, RedisRsConnection::Cluster(_));
        debug_assert!(
            !(cluster && renew.is_some()),
            "only a single node is renewed"
        );
        RedisRsCommands {
            cluster,
            conn: Arc::new(RwLock::new(conn)),
            timeout,
            primaries: Mutex::new(None),
            renew: renew.map(Arc::new),
        }
    }

    /// The connection in use (a handle: clones share it).
    pub(crate) fn connection(&self) -> RedisRsConnection {
        self.conn.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// After a command timed out on a single node: replace the connection in the
    /// background (once at a time), so the next commands do not wait on a silent one.
    fn renew_after_timeout(&self) {
        let Some(renew) = &self.renew else {
            return;
        };
        if renew.busy.swap(true, Ordering::SeqCst) {
            return;
        }
        let renew = renew.clone();
        let slot = self.conn.clone();
        tokio::spawn(async move {
            let fresh = redis::aio::ConnectionManager::new_with_config(
                renew.client.clone(),
                renew.config.clone(),
            )
            .await;
            if let Ok(manager) = fresh {
                *slot.write().unwrap_or_else(|p| p.into_inner()) =
                    RedisRsConnection::Single(manager);
            }
            renew.busy.store(false, Ordering::SeqCst);
        });
    }

    /// Sends `cmd` (to `node` when given) within the timeout; on a cluster, again after
    /// a reply proving it did not run, and after an I/O error when `resend` allows.
    async fn send(&self, cmd: Cmd, node: Option<&str>, resend: Resend) -> Result<Value> {
        self.try_send(cmd, node, resend).await?.map_err(|e| {
            let delivery = if not_run(&e) {
                Delivery::NotSent
            } else {
                Delivery::MaybeApplied
            };
            from_redis(e, delivery)
        })
    }

    /// [`send`](Self::send), with the last error redis-rs gave (a timeout is `Err`).
    async fn try_send(
        &self,
        cmd: Cmd,
        node: Option<&str>,
        resend: Resend,
    ) -> Result<std::result::Result<Value, RedisError>> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let conn = self.connection();
            let sent = async {
                match (&conn, node) {
                    (RedisRsConnection::Single(c), _) => {
                        cmd.query_async::<Value>(&mut c.clone()).await
                    }
                    (RedisRsConnection::Cluster(c), None) => {
                        cmd.query_async::<Value>(&mut c.clone()).await
                    }
                    (RedisRsConnection::Cluster(c), Some(node)) => {
                        let (host, port) = node.rsplit_once(':').unwrap_or((node, "6379"));
                        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host: host.to_owned(),
                            port: port.parse().unwrap_or(6379),
                        });
                        c.clone().route_command(cmd.clone(), routing).await
                    }
                }
            };
            let e = match tokio::time::timeout_at(deadline, sent).await {
                Ok(Ok(value)) => return Ok(Ok(value)),
                Ok(Err(e)) => {
                    if e.is_timeout() {
                        self.renew_after_timeout();
                    }
                    e
                }
                Err(_) => {
                    self.renew_after_timeout();
                    return Err(Error::unavailable(
                        Delivery::MaybeApplied,
                        format!(
                            "Redis did not answer within {} ms",
                            self.timeout.as_millis()
                        ),
                    ));
                }
            };
            let again = matches!(conn, RedisRsConnection::Cluster(_))
                && attempt <= REDIRECTS
                && (not_run(&e) || (resend == Resend::Allowed && e.is_io_error()));
            if !again {
                return Ok(Err(e));
            }
            if !matches!(e.code(), Some("MOVED" | "ASK")) {
                tokio::time::sleep(Duration::from_millis(10 * attempt as u64)).await;
            }
        }
    }
}

fn reply(value: Value) -> Reply {
    match value {
        Value::Nil => Reply::Nil,
        Value::Int(i) => Reply::Int(i),
        Value::BulkString(b) => Reply::Bytes(Bytes::from(b)),
        Value::SimpleString(s) => Reply::Bytes(Bytes::from(s)),
        Value::Okay => Reply::Bytes(Bytes::from_static(b"OK")),
        Value::Array(items) | Value::Set(items) => {
            Reply::Array(items.into_iter().map(reply).collect())
        }
        Value::Boolean(b) => Reply::Int(i64::from(b)),
        Value::Double(d) => Reply::Bytes(Bytes::from(d.to_string())),
        Value::VerbatimString { text, .. } => Reply::Bytes(Bytes::from(text)),
        other => Reply::Bytes(Bytes::from(format!("{other:?}"))),
    }
}

fn command(name: &str, key: &str) -> Cmd {
    let mut cmd = redis::cmd(name);
    cmd.arg(key);
    cmd
}

impl Commands for RedisRsCommands {
    fn library(&self) -> &'static str {
        "redis-rs"
    }

    fn is_cluster(&self) -> bool {
        self.cluster
    }

    fn get(&self, key: String) -> Fut<'_, Option<Bytes>> {
        Box::pin(async move {
            let value = self
                .send(command("GET", &key), None, Resend::Allowed)
                .await?;
            match reply(value) {
                Reply::Nil => Ok(None),
                Reply::Bytes(b) => Ok(Some(b)),
                other => Err(unexpected("GET", other)),
            }
        })
    }

    fn set(&self, key: String, value: Bytes, ttl_ms: Option<u64>, mode: SetMode) -> Fut<'_, Reply> {
        Box::pin(async move {
            let mut cmd = command("SET", &key);
            cmd.arg(value.as_ref());
            if let Some(ms) = ttl_ms {
                cmd.arg("PX").arg(ms);
            }
            match mode {
                SetMode::Always => {}
                SetMode::IfAbsentGet => {
                    cmd.arg("NX").arg("GET");
                }
                SetMode::IfPresent => {
                    cmd.arg("XX");
                }
            }
            self.send(cmd, None, Resend::Never).await.map(reply)
        })
    }

    fn exists(&self, key: String) -> Fut<'_, bool> {
        Box::pin(async move {
            let value = self
                .send(command("EXISTS", &key), None, Resend::Allowed)
                .await?;
            Ok(reply(value).as_i64().unwrap_or(0) > 0)
        })
    }

    fn del(&self, key: String) -> Fut<'_, i64> {
        Box::pin(async move {
            let value = self
                .send(command("DEL", &key), None, Resend::Allowed)
                .await?;
            let value = reply(value);
            value.as_i64().ok_or_else(|| unexpected("DEL", value))
        })
    }

    fn unlink(&self, keys: Vec<Bytes>) -> Fut<'_, u64> {
        Box::pin(async move {
            if keys.is_empty() {
                return Ok(0);
            }
            let count =
                |value: Value| u64::try_from(reply(value).as_i64().unwrap_or(0)).unwrap_or(0);
            if self.is_cluster() {
                let sent = keys.iter().map(|key| {
                    let mut cmd = redis::cmd("UNLINK");
                    cmd.arg(key.as_ref());
                    self.send(cmd, None, Resend::Allowed)
                });
                let removed = futures::future::try_join_all(sent).await?;
                Ok(removed.into_iter().map(count).sum())
            } else {
                let mut cmd = redis::cmd("UNLINK");
                for key in &keys {
                    cmd.arg(key.as_ref());
                }
                Ok(count(self.send(cmd, None, Resend::Allowed).await?))
            }
        })
    }

    fn evalsha<'a>(
        &'a self,
        sha: &'a str,
        key: &'a str,
        args: Vec<Bytes>,
        resend: Resend,
    ) -> Fut<'a, Option<Reply>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(sha).arg(1).arg(key);
            for arg in &args {
                cmd.arg(arg.as_ref());
            }
            match self.try_send(cmd, None, resend).await? {
                Ok(value) => Ok(Some(reply(value))),
                Err(e) if e.code() == Some("NOSCRIPT") => Ok(None),
                Err(e) => Err(from_redis(e, Delivery::MaybeApplied)),
            }
        })
    }

    fn script_load<'a>(&'a self, lua: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            // On a cluster redis-rs routes `SCRIPT LOAD` to every primary.
            let mut cmd = redis::cmd("SCRIPT");
            cmd.arg("LOAD").arg(lua);
            self.send(cmd, None, Resend::Allowed).await.map(drop)
        })
    }

    fn primaries(&self) -> Fut<'_, Vec<Option<String>>> {
        Box::pin(async move {
            if !self.is_cluster() {
                return Ok(vec![None]);
            }
            if let Some((at, nodes)) = &*self.primaries.lock().expect("primaries lock")
                && at.elapsed() < PRIMARIES_TTL
            {
                return Ok(nodes.clone());
            }
            let mut cmd = redis::cmd("CLUSTER");
            cmd.arg("SLOTS");
            let slots = reply(self.send(cmd, None, Resend::Allowed).await?);
            let Reply::Array(ranges) = slots else {
                return Err(unexpected("CLUSTER SLOTS", slots));
            };
            let mut nodes = Vec::new();
            for range in ranges {
                // [start, end, [host, port, id, ...], replicas...]
                let Reply::Array(parts) = range else {
                    return Err(unexpected("CLUSTER SLOTS", range));
                };
                let Some(Reply::Array(primary)) = parts.get(2) else {
                    return Err(unexpected("CLUSTER SLOTS", parts));
                };
                let (Some(Reply::Bytes(host)), Some(port)) = (primary.first(), primary.get(1))
                else {
                    return Err(unexpected("CLUSTER SLOTS", primary));
                };
                let port: u16 = port.number("CLUSTER SLOTS port")?;
                nodes.push(Some(format!("{}:{port}", String::from_utf8_lossy(host))));
            }
            nodes.sort();
            nodes.dedup();
            *self.primaries.lock().expect("primaries lock") = Some((Instant::now(), nodes.clone()));
            Ok(nodes)
        })
    }

    fn scan<'a>(
        &'a self,
        node: Option<&'a str>,
        cursor: &'a str,
        pattern: &'a str,
        count: u32,
    ) -> Fut<'a, (String, Vec<Bytes>)> {
        Box::pin(async move {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(count)
                .arg("TYPE")
                .arg("string");
            let value = self.send(cmd, node, Resend::Allowed).await?;
            scan_reply(reply(value))
        })
    }

    fn raw<'a>(&'a self, args: Vec<Bytes>) -> Fut<'a, Reply> {
        Box::pin(async move {
            let mut args = args.into_iter();
            let name = args.next().unwrap_or_default();
            let mut cmd = redis::cmd(&String::from_utf8_lossy(&name));
            for arg in args {
                cmd.arg(arg.as_ref());
            }
            self.send(cmd, None, Resend::Never).await.map(reply)
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
