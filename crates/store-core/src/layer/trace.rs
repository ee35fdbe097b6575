use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::Instrument;

use super::Layer;
use crate::{
    Capabilities, Cursor, DeleteCondition, Entry, IncrOutcome, ListPage, Result, SetOptions,
    SetOutcome, Store,
};

/// Opens a `tracing` span per operation (`store.get`, `store.set`, ...) carrying the
/// namespace and key, and records its duration and outcome in a `debug` event (a `warn`
/// event on failure).
///
/// Keys may be personal data: set `record_keys(false)` to leave them out of spans.
#[derive(Debug, Clone)]
pub struct TraceLayer {
    record_keys: bool,
}

impl Default for TraceLayer {
    fn default() -> Self {
        TraceLayer { record_keys: true }
    }
}

impl TraceLayer {
    /// Whether spans carry the key (the namespace is always recorded).
    pub fn record_keys(mut self, record: bool) -> Self {
        self.record_keys = record;
        self
    }
}

impl<S: Store> Layer<S> for TraceLayer {
    type Store = Traced<S>;
    fn layer(&self, inner: S) -> Traced<S> {
        Traced {
            inner,
            record_keys: self.record_keys,
        }
    }
}

/// A store wrapped by [`TraceLayer`].
#[derive(Debug, Clone)]
pub struct Traced<S> {
    inner: S,
    record_keys: bool,
}

impl<S> Traced<S> {
    async fn traced<T>(
        &self,
        operation: &'static str,
        namespace: &str,
        key: &str,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let key = if self.record_keys { key } else { "<redacted>" };
        let span = tracing::debug_span!("store", operation, namespace, key);
        async move {
            let started = Instant::now();
            let result = call.await;
            let elapsed_us = duration_us(started.elapsed());
            match &result {
                Ok(_) => tracing::debug!(elapsed_us, "ok"),
                Err(error) => tracing::warn!(elapsed_us, %error, "failed"),
            }
            result
        }
        .instrument(span)
        .await
    }
}

fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl<S: Store> Store for Traced<S> {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Entry>> {
        self.traced("get", namespace, key, self.inner.get(namespace, key))
            .await
    }

    async fn exists(&self, namespace: &str, key: &str) -> Result<bool> {
        self.traced("exists", namespace, key, self.inner.exists(namespace, key))
            .await
    }

    async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        opts: SetOptions,
    ) -> Result<SetOutcome> {
        self.traced(
            "set",
            namespace,
            key,
            self.inner.set(namespace, key, value, opts),
        )
        .await
    }

    async fn delete(&self, namespace: &str, key: &str, condition: DeleteCondition) -> Result<bool> {
        self.traced(
            "delete",
            namespace,
            key,
            self.inner.delete(namespace, key, condition),
        )
        .await
    }

    async fn incr(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        self.traced(
            "incr",
            namespace,
            key,
            self.inner.incr(namespace, key, delta, ttl),
        )
        .await
    }

    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        self.traced(
            "list",
            namespace,
            prefix,
            self.inner.list(namespace, prefix, cursor, limit),
        )
        .await
    }

    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }
}
