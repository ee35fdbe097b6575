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
    use fred::interfaces::ClientLike;
    if store.is_cluster() {
        return None;
    }
    let client = store.client();
    let server = client.active_connections().into_iter().next()?;
    if !matches!(&*server.host, "127.0.0.1" | "localhost" | "::1") {
        return None;
    }
    let info: String = client
        .info(Some(fred::types::InfoKind::Server))
        .await
        .ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
}
