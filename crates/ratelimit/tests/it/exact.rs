//! Limit 100, 32 concurrent workers, 1000 attempts on one key: exactly 100 admitted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ratelimit::{Policy, Quota, RateLimiter};
use store_core::testing::service_url;
use store_core::{SharedStore, StoreExt};

const LIMIT: u64 = 100;
const WORKERS: usize = 32;
const ATTEMPTS: u64 = 1000;

/// Shared stores (dynamic dispatch) keep this helper concrete: spawning tasks from code
/// generic over the store type trips the compiler's `Send` inference for trait-method
/// futures (a known limitation of `impl Future` in traits).
async fn admitted(stores: Vec<SharedStore>, policy: Policy) -> u64 {
    let name = format!("exact-{}", fastrand::u64(..));
    let limiters: Vec<Arc<RateLimiter<SharedStore>>> = stores
        .into_iter()
        .map(|s| {
            // Exactness, not latency, is measured: DynamoDB Local serialises 32 updates of
            // one item well beyond the default 250 ms check timeout.
            let limiter = RateLimiter::builder(s, &name)
                .default_policy(policy)
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            Arc::new(limiter)
        })
        .collect();
    let attempts = Arc::new(AtomicU64::new(0));
    let admitted = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let limiter = limiters[w % limiters.len()].clone();
            let (attempts, admitted) = (attempts.clone(), admitted.clone());
            tokio::spawn(async move {
                while attempts.fetch_add(1, Ordering::SeqCst) < ATTEMPTS {
                    let d = limiter.check("api", "client").await.unwrap();
                    assert!(!d.degraded, "the store answered every check");
                    if d.allowed {
                        admitted.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    admitted.load(Ordering::SeqCst)
}

fn minute() -> Policy {
    Policy::fixed_window(Quota::per_minute(LIMIT))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_the_limit_is_admitted_on_memory() {
    let store = store_memory::MemoryStore::new();
    assert_eq!(admitted(vec![store.into_shared()], minute()).await, LIMIT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gcra_never_admits_more_than_its_burst_on_memory() {
    let store = store_memory::MemoryStore::new();
    let got = admitted(
        vec![store.into_shared()],
        Policy::gcra(Quota::per_hour(LIMIT)),
    )
    .await;
    // An hour-long interval: nothing refills during the test, so exactly the burst.
    assert_eq!(got, LIMIT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_the_limit_is_admitted_on_redis_with_separate_connections() {
    let Some(stores) = crate::redis_instances::<4>().await else {
        return;
    };
    assert_eq!(admitted(stores.into(), minute()).await, LIMIT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_the_limit_is_admitted_on_the_redis_cluster() {
    let Some(url) = service_url("FLEETSTATE_REDIS_CLUSTER_URL") else {
        return;
    };
    let store = store_redis::RedisStoreBuilder::from_url(&url)
        .expect("a valid Redis URL")
        .build()
        .await
        .unwrap();
    assert_eq!(admitted(vec![store.into_shared()], minute()).await, LIMIT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_the_limit_is_admitted_on_dynamodb_local() {
    let Some(endpoint) = service_url("FLEETSTATE_DYNAMODB_ENDPOINT") else {
        return;
    };
    let url = format!("dynamodb://fleetstate-ratelimit?endpoint={endpoint}&region=us-east-1");
    let store = store_dynamodb::DynamoStoreBuilder::from_url(&url)
        .unwrap()
        .build()
        .await
        .unwrap();
    store_dynamodb::create_table(store.client(), "fleetstate-ratelimit", store.layout())
        .await
        .unwrap();
    assert_eq!(
        admitted(
            vec![store.clone().into_shared(), store.into_shared()],
            minute()
        )
        .await,
        LIMIT
    );
}
