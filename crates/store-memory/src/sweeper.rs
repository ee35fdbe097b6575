//! Reclaiming expired entries ahead of the lazy expiry: on demand or from a task.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::store::{Inner, MemoryStore};

impl MemoryStore {
    /// Reclaims every expired entry now; returns how many were dropped.
    pub fn purge_expired(&self) -> usize {
        let now = self.inner.clock.now();
        self.inner
            .shards
            .iter()
            .map(|shard| {
                let (bytes, count) = shard.0.write().purge_expired(now);
                self.inner.release(count, bytes);
                count
            })
            .sum()
    }

    /// Starts a tokio task that calls [`purge_expired`](Self::purge_expired) every
    /// `every`. The task stops when the returned handle is dropped or the last clone of
    /// the store is dropped. Must be called inside a tokio runtime.
    pub fn spawn_sweeper(&self, every: Duration) -> Sweeper {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                MemoryStore { inner }.purge_expired();
            }
        });
        Sweeper(task)
    }
}

/// Handle of the task started by [`MemoryStore::spawn_sweeper`]; dropping it stops the
/// task.
#[derive(Debug)]
pub struct Sweeper(tokio::task::JoinHandle<()>);

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}
