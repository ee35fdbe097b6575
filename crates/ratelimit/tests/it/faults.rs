//! Under faults, on Redis and DynamoDB Local: 4 limiter instances (one store connection each, each behind a fault
//! proxy that delays, cuts mid-request, black-holes and resets connections) share one
//! budget. `Closed` never admits more than the limit; with `Open` and `Fallback` the
//! decisions the failure policy made are marked degraded, and only those may exceed
//! the shared budget.

use std::sync::Arc;
use std::time::Duration;

use ratelimit::{FailurePolicy, Policy, Quota, RateLimiter};
use store_core::testing::{FaultProxy, Faults};
use store_core::{SharedStore, StoreExt};

use crate::fault_backends::backends;

const INSTANCES: usize = 4;

/// A failure policy for each limiter instance.
type MakePolicy = Box<dyn Fn() -> FailurePolicy>;
const TASKS_PER_INSTANCE: usize = 8;
const CHECKS_PER_TASK: usize = 40;
const LIMIT: u64 = 300;

#[derive(Debug, Default)]
struct Tally {
    admitted: u64,
    admitted_degraded: u64,
    refused: u64,
    refused_degraded: u64,
    errors: u64,
}

/// Every check of every task; the tally and the proxies' fault counts.
async fn hammer(
    proxied: Vec<(FaultProxy, SharedStore)>,
    policy: impl Fn() -> FailurePolicy,
) -> (Tally, u64) {
    let mut proxies: Vec<FaultProxy> = Vec::new();
    let mut limiters = Vec::new();
    let name = format!("faults-{}", fastrand::u64(..));
    for (proxy, store) in proxied {
        proxy.set(Faults::mixed(20));
        proxies.push(proxy);
        limiters.push(Arc::new(
            RateLimiter::builder(store, &name)
                .default_policy(Policy::fixed_window(
                    Quota::new(LIMIT, Duration::from_secs(3600)).unwrap(),
                ))
                .on_failure(policy())
                .build()
                .unwrap(),
        ));
    }
    let tasks: Vec<_> = (0..INSTANCES * TASKS_PER_INSTANCE)
        .map(|i| {
            let limiter = limiters[i % INSTANCES].clone();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                for _ in 0..CHECKS_PER_TASK {
                    match limiter.check("api", "hot-caller").await {
                        Ok(d) if d.allowed && d.degraded => tally.admitted_degraded += 1,
                        Ok(d) if d.allowed => tally.admitted += 1,
                        Ok(d) if d.degraded => tally.refused_degraded += 1,
                        Ok(_) => tally.refused += 1,
                        Err(_) => tally.errors += 1,
                    }
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for task in tasks {
        let t = task.await.unwrap();
        total.admitted += t.admitted;
        total.admitted_degraded += t.admitted_degraded;
        total.refused += t.refused;
        total.refused_degraded += t.refused_degraded;
        total.errors += t.errors;
    }
    let faults = proxies
        .iter()
        .map(|p| {
            let c = p.counts();
            c.cuts + c.black_holes + c.resets
        })
        .sum();
    (total, faults)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn closed_never_admits_more_than_the_limit_under_faults() {
    for (backend, proxied, _direct) in backends(INSTANCES).await {
        let (tally, faults) = hammer(proxied, || FailurePolicy::Closed).await;
        eprintln!("\nClosed on {backend} under {faults} faults: {tally:?}");
        closed_held(&tally, faults);
    }
}

fn closed_held(tally: &Tally, faults: u64) {
    assert!(faults > 0);
    assert_eq!(
        tally.errors, 0,
        "a check errored instead of deciding: {tally:?}"
    );
    assert_eq!(
        tally.admitted_degraded, 0,
        "Closed admitted without the store: {tally:?}"
    );
    assert!(
        tally.admitted <= LIMIT,
        "admitted past the limit: {tally:?}"
    );
    assert!(
        tally.refused_degraded > 0,
        "no decision was left to the failure policy: {tally:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn open_and_fallback_mark_what_they_decide_without_the_store() {
    let policies: [(&str, MakePolicy); 2] = [
        ("Open", Box::new(|| FailurePolicy::Open)),
        (
            "Fallback",
            Box::new(|| FailurePolicy::Fallback {
                local: store_memory::MemoryStore::new().into_shared(),
                expected_instances: INSTANCES as u32,
            }),
        ),
    ];
    for (name, policy) in &policies {
        for (backend, proxied, _direct) in backends(INSTANCES).await {
            let (tally, faults) = hammer(proxied, policy).await;
            eprintln!("\n{name} on {backend} under {faults} faults: {tally:?}");
            assert!(faults > 0);
            assert_eq!(tally.errors, 0, "{name}: a check errored: {tally:?}");
            assert!(
                tally.admitted <= LIMIT,
                "{name}: the store's own decisions admitted past the limit: {tally:?}"
            );
            assert!(
                tally.admitted_degraded + tally.refused_degraded > 0,
                "{name}: no decision was marked degraded: {tally:?}"
            );
        }
    }
}
