//! Test and benchmark helpers (feature `testing`): a `MONITOR` command counter, and the
//! local server's process id for benchmarks that place it on cores of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use store_core::{Error, Result};

/// Counts, with `MONITOR`, the commands clients send to a Redis server whose arguments
/// contain a needle (a namespace, a key), leaving out those scripts run. For tests and
/// benchmarks that prove round trips; `MONITOR` slows the server, never leave one
/// running in production.
#[derive(Debug)]
pub struct CommandCounter {
    seen: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl CommandCounter {
    /// Starts monitoring the server at `url` (a standalone node) for `needle`.
    pub async fn start(url: &str, needle: impl Into<String>) -> Result<Self> {
        let config = fred::types::config::Config::from_url(url)
            .map_err(|e| Error::Misconfigured(format!("redis url: {e}")))?;
        let mut monitor = Box::pin(
            fred::monitor::run(config)
                .await
                .map_err(|e| Error::backend("MONITOR failed", e))?,
        );
        let needle = needle.into();
        let seen = Arc::new(AtomicUsize::new(0));
        let task = {
            let seen = seen.clone();
            tokio::spawn(async move {
                while let Some(command) = monitor.next().await {
                    let mentioned = command
                        .args
                        .iter()
                        .any(|arg| arg.as_str().is_some_and(|s| s.contains(&needle)));
                    if command.client != "lua" && mentioned {
                        seen.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        };
        Ok(CommandCounter { seen, task })
    }

    /// Commands counted so far. `MONITOR` reports asynchronously: wait a moment after
    /// the commands before reading.
    pub fn count(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }
}

impl Drop for CommandCounter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Deletes every string key under the store's `key_prefix`, in every namespace and on
/// every primary, and any other string key that starts with it (a benchmark's raw
/// baseline keys); returns how many it deleted. Refused without a prefix: it would
/// empty the server.
pub async fn purge_key_prefix(store: &crate::RedisStore) -> Result<u64> {
    if store.key_prefix.is_empty() {
        return Err(Error::Misconfigured(
            "purge_key_prefix needs a key_prefix: without one it would delete every key on \
             the server"
                .into(),
        ));
    }
    store
        .unlink_matching(&crate::layout::prefix_pattern(&store.key_prefix))
        .await
}

/// The process id of the Redis server when it runs on this machine (a standalone
/// server reached over loopback), else `None`: for benchmarks that give the server
/// cores of its own ([`store_core::testing::CoreSplit`]).
pub async fn local_server_pid(store: &crate::RedisStore) -> Option<u32> {
    if store.is_cluster() {
        return None;
    }
    // `laddr` is the server's end of this connection: loopback means the same machine.
    let client = raw_command(store, &["CLIENT", "INFO"]).await.ok()?;
    let client = String::from_utf8_lossy(&client.into_bytes()?).into_owned();
    let laddr = client
        .split_whitespace()
        .find_map(|field| field.strip_prefix("laddr="))?;
    if !(laddr.starts_with("127.") || laddr.starts_with("[::1]") || laddr.starts_with("::1")) {
        return None;
    }
    let info = raw_command(store, &["INFO", "server"]).await.ok()?;
    let info = String::from_utf8_lossy(&info.into_bytes()?).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
}

/// A reply of [`raw_command`].
pub use crate::client::Reply as RawReply;

/// Sends one command as it is (`["INFO", "server"]`) through the store's client, at
/// most once.
pub async fn raw_command(store: &crate::RedisStore, args: &[&str]) -> Result<RawReply> {
    let args = args
        .iter()
        .map(|a| bytes::Bytes::copy_from_slice(a.as_bytes()))
        .collect();
    store.conn.raw(args).await
}

/// The store's own client library and connection, driven directly (no timeout, no
/// seam): the raw baseline benchmarks compare each operation with.
#[derive(Clone, Debug)]
pub struct RawClient {
    #[cfg(feature = "redis-rs")]
    redis_rs: Option<crate::RedisRsConnection>,
    fred: Option<fred::clients::Client>,
}

impl RawClient {
    /// The client underneath `store`.
    pub fn of(store: &crate::RedisStore) -> Self {
        RawClient {
            #[cfg(feature = "redis-rs")]
            redis_rs: store.redis_rs_connection(),
            fred: store.fred_client().cloned(),
        }
    }

    /// Sends `args` (`[b"INCR", key]`) and returns the reply, discarded but for errors.
    pub async fn command(&self, args: &[&[u8]]) -> Result<()> {
        #[cfg(feature = "redis-rs")]
        if let Some(conn) = &self.redis_rs {
            let mut cmd = redis::cmd(&String::from_utf8_lossy(args[0]));
            for arg in &args[1..] {
                cmd.arg(*arg);
            }
            return cmd
                .query_async::<redis::Value>(&mut conn.clone())
                .await
                .map(drop)
                .map_err(|e| Error::backend("raw command", e));
        }
        let client = self.fred.as_ref().expect("a client");
        use fred::interfaces::ClientLike;
        let name = String::from_utf8_lossy(args[0]).into_owned();
        let command =
            fred::types::CustomCommand::new(name, fred::types::ClusterHash::FirstKey, false);
        let args: Vec<fred::types::Value> = args[1..]
            .iter()
            .map(|a| fred::types::Value::Bytes(bytes::Bytes::copy_from_slice(a)))
            .collect();
        client
            .custom::<fred::types::Value, _>(command, args)
            .await
            .map(drop)
            .map_err(|e| Error::backend("raw command", e))
    }
}

/// A store on the standalone Redis at `url` (`redis://host:port`) reached through a
/// [`FaultProxy`](store_core::testing::FaultProxy) started here, with short timeouts
/// (250 ms per command and per connection) so injected faults cost little: the proxy
/// (drop it to cut everything) and the store.
pub async fn behind_fault_proxy(
    url: &str,
) -> Result<(store_core::testing::FaultProxy, crate::RedisStore)> {
    let upstream: std::net::SocketAddr = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| Error::Misconfigured(format!("`{url}` is not redis://host:port: {e}")))?;
    let proxy = store_core::testing::FaultProxy::start(upstream)
        .await
        .map_err(|e| Error::backend("starting the fault proxy", e))?;
    let store = crate::RedisStoreBuilder::from_url(&format!("redis://127.0.0.1:{}", proxy.port()))?
        .command_timeout(std::time::Duration::from_millis(250))
        .connect_timeout(std::time::Duration::from_millis(250))
        .reconnect(
            std::time::Duration::from_millis(5),
            std::time::Duration::from_millis(50),
            std::time::Duration::from_millis(5),
        )
        .build()
        .await?;
    Ok((proxy, store))
}
