//! A hot key: limit 100, 32 concurrent workers over 4 separate store instances (their
//! own connections or clients), 1000 attempts: exactly 100 admitted, for every
//! algorithm on every backend, with no error, no degraded and no contended decision.

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
                    let d = limiter
                        .check("api", "client")
                        .await
                        .expect("a decision, never an error, under contention");
                    assert!(!d.degraded, "the store answered every check");
                    assert!(!d.contended, "an atomic advance is never contended");
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

/// Every algorithm with a budget that cannot refill during the test: fixed and sliding
/// windows of an hour (clear of an hour edge), GCRA at 100 per hour.
async fn every_algorithm_admits_exactly_the_limit(backend: &str, stores: Vec<SharedStore>) {
    for policy in [
        Policy::fixed_window(Quota::per_hour(LIMIT)),
        Policy::sliding_window(Quota::per_hour(LIMIT)),
        Policy::gcra(Quota::per_hour(LIMIT)),
    ] {
        if policy.algorithm == ratelimit::Algorithm::SlidingWindow {
            crate::clear_of_a_window_edge(Duration::from_secs(3600)).await;
        }
        let got = admitted(stores.clone(), policy).await;
        assert_eq!(got, LIMIT, "{backend} {policy:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hot_key_admits_exactly_the_limit_on_memory() {
    let store = store_memory::MemoryStore::new();
    let stores = (0..4).map(|_| store.clone().into_shared()).collect();
    every_algorithm_admits_exactly_the_limit("memory", stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hot_key_admits_exactly_the_limit_on_redis() {
    let Some(stores) = crate::redis_instances::<4>().await else {
        return;
    };
    every_algorithm_admits_exactly_the_limit("redis", stores.into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hot_key_admits_exactly_the_limit_on_the_redis_cluster() {
    let Some(url) = service_url("FLEETSTATE_REDIS_CLUSTER_URL") else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..4 {
        let store = store_redis::RedisStoreBuilder::from_url(&url)
            .expect("a valid Redis URL")
            .build()
            .await
            .unwrap();
        stores.push(store.into_shared());
    }
    every_algorithm_admits_exactly_the_limit("redis cluster", stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hot_key_admits_exactly_the_limit_on_dynamodb_local() {
    let Some(endpoint) = service_url("FLEETSTATE_DYNAMODB_ENDPOINT") else {
        return;
    };
    let url = format!("dynamodb://fleetstate-ratelimit?endpoint={endpoint}&region=us-east-1");
    let mut stores = Vec::new();
    for _ in 0..4 {
        let store = store_dynamodb::DynamoStoreBuilder::from_url(&url)
            .unwrap()
            .build()
            .await
            .unwrap();
        store_dynamodb::create_table(store.client(), "fleetstate-ratelimit", store.layout())
            .await
            .unwrap();
        stores.push(store.into_shared());
    }
    every_algorithm_admits_exactly_the_limit("dynamodb", stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hot_key_admits_exactly_the_limit_on_postgres() {
    let Some(url) = service_url("FLEETSTATE_POSTGRES_URL") else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..4 {
        let store = store_postgres::PostgresStoreBuilder::from_url(&url)
            .unwrap()
            .layout(store_postgres::TableLayout::new("fleetstate_ratelimit").unwrap())
            .create_schema(true)
            .build()
            .await
            .unwrap();
        stores.push(store.into_shared());
    }
    every_algorithm_admits_exactly_the_limit("postgres", stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hot_key_admits_exactly_the_limit_on_valkey() {
    let Some(url) = service_url("FLEETSTATE_VALKEY_URL") else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..4 {
        let store = store_redis::RedisStoreBuilder::from_url(&url)
            .unwrap()
            .build()
            .await
            .unwrap();
        stores.push(store.into_shared());
    }
    every_algorithm_admits_exactly_the_limit("valkey", stores).await;
}

/// Deno KV: the windows count with `incr` (exact, a compare-and-set loop on the
/// versionstamp inside the store); GCRA has no atomic advance there and runs the
/// contract's compare-and-set fallback: never an error, never past the burst, lost
/// races refused as `contended` with a `retry_after`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hot_key_on_deno_kv_windows_exact_and_gcra_never_errors() {
    let Some(url) = service_url("FLEETSTATE_DENOKV_URL") else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..4 {
        let store = store_denokv::DenoKvStoreBuilder::from_url(&url)
            .unwrap()
            .root("fleetstate-ratelimit")
            .unwrap()
            .build()
            .await
            .unwrap();
        stores.push(store.into_shared());
    }
    for policy in [
        Policy::fixed_window(Quota::per_hour(LIMIT)),
        Policy::sliding_window(Quota::per_hour(LIMIT)),
    ] {
        if policy.algorithm == ratelimit::Algorithm::SlidingWindow {
            crate::clear_of_a_window_edge(Duration::from_secs(3600)).await;
        }
        let got = admitted(stores.clone(), policy).await;
        assert_eq!(got, LIMIT, "denokv {policy:?}");
    }
    let (admitted, contended) = gcra_never_errors(stores).await;
    eprintln!("\nDeno KV GCRA hot key: {admitted} admitted, {contended} refused as contended");
    assert!(admitted > 0, "the first checks are admitted");
}

/// GCRA at 100 per hour from 32 tasks over `stores`, each check a decision: (admitted,
/// refused as contended). Admits at most the burst.
async fn gcra_never_errors(stores: Vec<SharedStore>) -> (u64, u64) {
    let name = format!("cas-{}", fastrand::u64(..));
    let limiters: Vec<Arc<RateLimiter<SharedStore>>> = stores
        .into_iter()
        .map(|s| {
            let limiter = RateLimiter::builder(s, &name)
                .default_policy(Policy::gcra(Quota::per_hour(LIMIT)))
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            Arc::new(limiter)
        })
        .collect();
    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let limiter = limiters[w % limiters.len()].clone();
            tokio::spawn(async move {
                let (mut admitted, mut contended) = (0, 0);
                for _ in 0..ATTEMPTS / WORKERS as u64 {
                    let d = limiter
                        .check("api", "client")
                        .await
                        .expect("never an error");
                    assert!(!d.degraded);
                    admitted += u64::from(d.allowed);
                    if d.contended {
                        assert!(!d.allowed && d.retry_after.is_some(), "{d:?}");
                        contended += 1;
                    }
                }
                (admitted, contended)
            })
        })
        .collect();
    let (mut admitted, mut contended) = (0, 0);
    for h in handles {
        let (a, c) = h.await.unwrap();
        admitted += a;
        contended += c;
    }
    assert!(
        admitted <= LIMIT,
        "{admitted} admitted past a burst of {LIMIT}"
    );
    (admitted, contended)
}

/// A store without an atomic advance (compare-and-set only): GCRA under the same hot
/// key still never errors and never admits past the burst; lost races are refused as
/// `contended`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gcra_on_compare_and_set_only_never_errors() {
    let mut store = store_core::testing::Counting::new(store_memory::MemoryStore::new());
    store.capabilities_mut().atomic_advance = false;
    let store = store.into_shared();
    gcra_never_errors(vec![store.clone(), store.clone(), store.clone(), store]).await;
}
