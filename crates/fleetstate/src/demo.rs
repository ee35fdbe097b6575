//! `fleetstate demo`: a fleet of simulated instances (tasks, each with a store handle of
//! its own) sharing one embedded store: one rate limit admitted exactly across them, a
//! duplicated payment request whose handler runs once, and scoped records.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use store_core::{SharedStore, StoreExt};

/// What the demo saw, for the report and for tests.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// Simulated instances.
    pub instances: usize,
    /// Rate-limit checks made across the fleet, the limit, and how many were admitted.
    pub checks: usize,
    /// The fleet's limit per minute.
    pub limit: u64,
    /// Checks admitted (exactly `limit`).
    pub admitted: usize,
    /// Deliveries of one payment request, and how many times its handler ran (once).
    pub deliveries: usize,
    /// Handler runs.
    pub handler_runs: u32,
    /// Instances that got the same payment result.
    pub same_result: usize,
    /// Records written in one scope and read back from another instance.
    pub records: usize,
    /// How long it took.
    pub elapsed: Duration,
}

impl std::fmt::Display for DemoReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "fleetstate demo: {} instances sharing one store ({:.2} s)\n",
            self.instances,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            f,
            "rate limit   {} checks across the fleet, limit {} per minute: {} admitted, {} refused",
            self.checks,
            self.limit,
            self.admitted,
            self.checks - self.admitted
        )?;
        writeln!(
            f,
            "idempotency  one payment request delivered {} times: the handler ran {} time(s); {} \
             instances returned the same result",
            self.deliveries, self.handler_runs, self.same_result
        )?;
        write!(
            f,
            "records      {} records written in one scope by one instance, read back by another",
            self.records
        )
    }
}

/// Runs the demo on `store` (an embedded `MemoryStore` from the command).
pub async fn run(store: SharedStore, instances: usize) -> store_core::Result<DemoReport> {
    let started = Instant::now();
    let instances = instances.max(2);

    // Rate limiting: every instance checks the same caller; the fleet admits the limit.
    let limit = 100;
    let checks_each = 40;
    let limiter = Arc::new(
        ratelimit::RateLimiter::builder(store.clone(), "demo-ratelimit")
            .default_policy(ratelimit::Policy::fixed_window(
                ratelimit::Quota::per_minute(limit),
            ))
            .build()?,
    );
    let tasks: Vec<_> = (0..instances)
        .map(|_| {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let mut admitted = 0;
                for _ in 0..checks_each {
                    if limiter.check("api", "customer-42").await?.allowed {
                        admitted += 1;
                    }
                }
                Ok::<_, store_core::Error>(admitted)
            })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        admitted += task.await.expect("demo task")?;
    }

    // Idempotency: the same payment delivered to every instance at once.
    let runs = Arc::new(AtomicU32::new(0));
    let config = idempotency::Config::new("charge-card").dedupe(idempotency::Dedupe::default());
    let idempotency = Arc::new(
        idempotency::Idempotency::new(store.clone(), config)
            .map_err(|e| store_core::Error::InvalidArgument(e.to_string()))?,
    );
    let payment = serde_json::json!({"order": "A-1001", "amount_cents": 4999});
    let tasks: Vec<_> = (0..instances)
        .map(|_| {
            let (idempotency, runs, payment) = (idempotency.clone(), runs.clone(), payment.clone());
            tokio::spawn(async move {
                idempotency
                    .idempotent(&payment, || async {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok::<_, idempotency::IdempotencyError>(
                            serde_json::json!({"charge": "ch_1"}),
                        )
                    })
                    .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        if let Ok(Ok(result)) = task.await {
            results.push(result);
        }
    }
    let same_result = results
        .iter()
        .filter(|r| **r == serde_json::json!({"charge": "ch_1"}))
        .count();

    // Records: one instance writes in an environment's scope, another reads.
    let options = || {
        record_storage::Options::new().context(record_storage::Context::new("acme", "production"))
    };
    let writer = record_storage::RecordStorage::new(store.clone(), options());
    let reader = record_storage::RecordStorage::new(store.clone(), options());
    let records = 5;
    let failed = |e: record_storage::RecordError| store_core::Error::InvalidArgument(e.to_string());
    for i in 0..records {
        writer
            .set_value(
                &format!("feature-{i}"),
                &serde_json::json!({"enabled": i % 2 == 0}),
            )
            .await
            .map_err(failed)?;
    }
    let mut read = 0;
    for i in 0..records {
        if reader
            .get_value::<serde_json::Value>(&format!("feature-{i}"))
            .await
            .map_err(failed)?
            .is_some()
        {
            read += 1;
        }
    }

    Ok(DemoReport {
        instances,
        checks: instances * checks_each,
        limit,
        admitted,
        deliveries: instances,
        handler_runs: runs.load(Ordering::SeqCst),
        same_result,
        records: read,
        elapsed: started.elapsed(),
    })
}

/// The demo on a fresh embedded store.
pub async fn run_embedded(instances: usize) -> store_core::Result<DemoReport> {
    run(store_memory::MemoryStore::new().into_shared(), instances).await
}
