//! Store operations per call, counted: a fresh call is 2 (claim + complete), a
//! duplicate of a completed call 1 (0 with a local cache hit). On store-memory through
//! a counting wrapper, on Redis with MONITOR, on DynamoDB Local with an SDK interceptor.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use idempotency::Idempotency;
use serde_json::json;
use store_core::Store;
use store_dynamodb::testing::RequestCounter;
use store_memory::MemoryStore;

use crate::backends::{self, Counting};
use crate::scenarios::run;

/// Operations of a fresh call, a duplicate, and a duplicate served by the cache.
async fn counted<S: Store>(idempotency: &Idempotency<S>, count: impl Fn() -> usize) -> [usize; 2] {
    let runs = AtomicU32::new(0);
    let payload = json!({"id": fastrand::u64(..)});
    let before = count();
    run(idempotency, &payload, &runs).await.unwrap();
    let fresh = count() - before;
    let before = count();
    run(idempotency, &payload, &runs).await.unwrap();
    let duplicate = count() - before;
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    [fresh, duplicate]
}

#[tokio::test]
async fn memory_fresh_is_two_duplicate_is_one_cache_hit_is_zero() {
    let store = Counting::new(MemoryStore::new());
    let idempotency = Idempotency::new(store.clone(), backends::config()).unwrap();
    assert_eq!(counted(&idempotency, || store.calls()).await, [2, 1]);
    let cached = Idempotency::new(store.clone(), backends::config().local_cache(8)).unwrap();
    assert_eq!(counted(&cached, || store.calls()).await, [2, 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_fresh_is_two_commands_duplicate_is_one() {
    let Some(url) = store_core::testing::service_url("FLEETSTATE_REDIS_URL") else {
        return;
    };
    let store = backends::redis(&url).await;
    let idempotency = Idempotency::new(store, backends::config()).unwrap();
    // Load the scripts first, so a first NOSCRIPT does not count.
    counted(&idempotency, || 0).await;
    let ns = idempotency.namespace().to_owned();
    let counter = store_redis::testing::CommandCounter::start(&url, ns.clone())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let settle = || async { tokio::time::sleep(Duration::from_millis(200)).await };
    let runs = AtomicU32::new(0);
    let payload = json!({"id": "counted"});
    run(&idempotency, &payload, &runs).await.unwrap();
    settle().await;
    assert_eq!(counter.count(), 2, "fresh call");
    run(&idempotency, &payload, &runs).await.unwrap();
    settle().await;
    assert_eq!(counter.count(), 3, "duplicate");
}

#[tokio::test]
async fn dynamodb_fresh_is_two_requests_duplicate_is_one() {
    let Some(endpoint) = store_core::testing::service_url("FLEETSTATE_DYNAMODB_ENDPOINT") else {
        return;
    };
    let (store, counter) = counted_dynamodb(&endpoint).await;
    let idempotency = Idempotency::new(store, backends::config()).unwrap();
    assert_eq!(counted(&idempotency, || counter.count()).await, [2, 1]);
}

/// Operations a duplicate spends taking over a run stalled past its window (the
/// in-progress record expired with the window: claim + completion), and checks the
/// stalled run's late completion leaves the takeover's record.
async fn takeover_cost<S: Store + Clone + Send + Sync + 'static>(
    store: S,
    count: impl Fn() -> usize,
) -> usize {
    let config = backends::config().in_progress_window(Duration::from_millis(300));
    let idempotency = Idempotency::new(store, config).unwrap();
    let payload = json!({"job": fastrand::u64(..)});
    let stalled =
        crate::stalled::StalledRun::start(&idempotency, payload.clone(), None, json!("stalled"))
            .await;
    tokio::time::sleep(Duration::from_millis(450)).await;
    let before = count();
    let taken = idempotency
        .idempotent(&payload, || async {
            Ok::<_, crate::scenarios::AppError>(json!("takeover"))
        })
        .await
        .unwrap();
    let cost = count() - before;
    assert_eq!(taken, json!("takeover"));
    assert_eq!(stalled.finish().await.unwrap(), json!("stalled"));
    let replay = idempotency
        .idempotent(&payload, || async {
            Ok::<_, crate::scenarios::AppError>(json!("third"))
        })
        .await
        .unwrap();
    assert_eq!(replay, json!("takeover"), "the late completion overwrote");
    cost
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taking_over_an_orphan_is_two_operations_on_memory_and_dynamodb() {
    let store = Counting::new(MemoryStore::new());
    let counted = store.clone();
    assert_eq!(takeover_cost(store, || counted.calls()).await, 2);
    let Some(endpoint) = store_core::testing::service_url("FLEETSTATE_DYNAMODB_ENDPOINT") else {
        return;
    };
    let (store, counter) = counted_dynamodb(&endpoint).await;
    assert_eq!(takeover_cost(store, || counter.count()).await, 2);
}

/// A store on DynamoDB Local (its table created if missing) counting its requests.
async fn counted_dynamodb(endpoint: &str) -> (store_dynamodb::DynamoStore, RequestCounter) {
    let table = "fleetstate-idempotency";
    backends::dynamodb(endpoint, table, Default::default()).await;
    let counter = RequestCounter::default();
    let url = format!("dynamodb://{table}?endpoint={endpoint}&region=us-east-1");
    let store = store_dynamodb::DynamoStoreBuilder::from_url(&url)
        .unwrap()
        .interceptor(counter.clone())
        .build()
        .await
        .unwrap();
    (store, counter)
}
