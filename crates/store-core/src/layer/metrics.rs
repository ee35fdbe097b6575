use std::future::Future;
use std::time::Instant;

use super::Layer;
use crate::raw::{Call, Forward};
use crate::{Result, Store};

/// Operations completed: `fleetstate_store_operations_total{store, operation, outcome}`,
/// `outcome` being `ok` or the error's [`kind_name`](crate::Error::kind_name).
pub const OPERATIONS: &str = "fleetstate_store_operations_total";
/// Seconds per operation: `fleetstate_store_operation_seconds{store, operation}`
/// (a histogram; the exporter chooses its buckets).
pub const OPERATION_SECONDS: &str = "fleetstate_store_operation_seconds";

/// Records every operation through the [`metrics`] facade: a count by outcome and a
/// latency histogram, labelled with a store name of your choice and the operation
/// (`get`, `set`, `set_if_absent`, ... as [`Operation::name`](crate::raw::Operation::name)
/// gives). The library chooses no exporter: install a recorder (Prometheus, StatsD...)
/// in the application. With no recorder installed the calls cost next to nothing.
#[derive(Debug, Clone)]
pub struct MetricsLayer {
    store: &'static str,
}

impl MetricsLayer {
    /// Labels every metric with `store = name` (`"sessions"`, `"ratelimit-redis"`).
    pub fn new(name: &'static str) -> Self {
        MetricsLayer { store: name }
    }
}

impl<S: Store> Layer<S> for MetricsLayer {
    type Store = Metered<S>;
    fn layer(&self, inner: S) -> Metered<S> {
        Metered {
            inner,
            store: self.store,
        }
    }
}

/// A store wrapped by [`MetricsLayer`].
#[derive(Debug, Clone)]
pub struct Metered<S> {
    inner: S,
    store: &'static str,
}

impl<S: Store> Forward for Metered<S> {
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
        let operation = call.operation.name();
        let started = Instant::now();
        let result = run().await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.kind_name(),
        };
        metrics::histogram!(OPERATION_SECONDS, "store" => self.store, "operation" => operation)
            .record(started.elapsed().as_secs_f64());
        metrics::counter!(
            OPERATIONS,
            "store" => self.store,
            "operation" => operation,
            "outcome" => outcome
        )
        .increment(1);
        result
    }
}

crate::forward_store!(impl[S: Store] Metered<S>);
