use std::future::Future;
use std::time::{Duration, Instant};

use tracing::Instrument;

use super::Layer;
use crate::raw::{Call, Forward};
use crate::{Result, Store};

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

impl<S: Store> Forward for Traced<S> {
    type Inner = S;

    fn inner(&self) -> &S {
        &self.inner
    }

    async fn around<T, F, Fut>(&self, call: Call<'_>, mut run: F) -> Result<T>
    where
        T: Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
    {
        let key = if self.record_keys {
            call.key
        } else {
            "<redacted>"
        };
        let operation = call.operation.name();
        let span = tracing::debug_span!("store", operation, namespace = call.namespace, key);
        async move {
            let started = Instant::now();
            let result = run().await;
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

crate::forward_store!(impl[S: Store] Traced<S>);

fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
