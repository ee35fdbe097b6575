use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use store_core::{Error, Result};

/// Counts, with `MONITOR`, the commands clients send to a Redis server whose arguments
/// contain a needle (a namespace, a key), leaving out those scripts run. For tests and
/// benchmarks that prove round trips; `MONITOR` slows the server, never leave one
/// running in production. Feature `monitor`.
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
