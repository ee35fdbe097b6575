//! Every fleetstate metric through a Prometheus exporter: a store behind `MetricsLayer`,
//! a rate limiter and idempotency on it, and the text a Prometheus scrape would read.
//!
//! `cargo run -p fleetstate --example prometheus`. In a service, serve `handle.render()`
//! on your metrics route (or enable the exporter's `http-listener` feature).

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use store_core::layer::MetricsLayer;
use store_core::{BoxError, StoreExt};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let handle = PrometheusBuilder::new()
        .set_buckets(&[0.000_1, 0.001, 0.01, 0.1, 1.0])?
        .install_recorder()?;
    let store = store_memory::MemoryStore::new()
        .layer(MetricsLayer::new("shared"))
        .into_shared();

    let limiter = ratelimit::RateLimiter::builder(store.clone(), "checkout")
        .default_policy(ratelimit::Policy::gcra(ratelimit::Quota::per_minute(3)))
        .build()?;
    for _ in 0..5 {
        limiter.check("api", "customer-1").await?;
    }
    let idempotency = idempotency::Idempotency::new(
        store,
        idempotency::Config::new("charge").expires_after(Duration::from_secs(60)),
    )?;
    for _ in 0..3 {
        idempotency
            .idempotent(&serde_json::json!({"order": 7}), || async {
                Ok::<_, BoxError>("charged".to_owned())
            })
            .await?;
    }
    print!("{}", handle.render());
    Ok(())
}
