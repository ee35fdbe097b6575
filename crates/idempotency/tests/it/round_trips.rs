//! Store operations per call, counted: a fresh call is 2 (claim + complete), a
//! duplicate of a completed call 1 (0 with a local cache hit). On store-memory through
//! a counting wrapper, on Redis with MONITOR, on DynamoDB Local with an SDK interceptor.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use idempotency::Idempotency;
use serde_json::json;
use store_core::Store;
use store_dynamodb::aws_sdk_dynamodb;
use store_dynamodb::aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use store_dynamodb::aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use store_memory::MemoryStore;
use store_redis::fred::monitor::MonitorCommand;

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

fn mentions(command: &MonitorCommand, needle: &str) -> bool {
    command
        .args
        .iter()
        .any(|arg| arg.as_str().is_some_and(|s| s.contains(needle)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_fresh_is_two_commands_duplicate_is_one() {
    let Some(url) = store_core::conformance::service_url("FLEETSTATE_REDIS_URL") else {
        return;
    };
    let store = backends::redis(&url).await;
    let idempotency = Idempotency::new(store, backends::config()).unwrap();
    // Load the scripts first, so a first NOSCRIPT does not count.
    counted(&idempotency, || 0).await;
    let ns = idempotency.namespace().to_owned();
    let mut monitor = Box::pin(
        store_redis::fred::monitor::run(
            store_redis::fred::types::config::Config::from_url(&url).unwrap(),
        )
        .await
        .unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen = Arc::new(AtomicUsize::new(0));
    let collector = {
        let seen = seen.clone();
        let ns = ns.clone();
        tokio::spawn(async move {
            while let Some(command) = monitor.next().await {
                if command.client != "lua" && mentions(&command, &ns) {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    let settle = || async { tokio::time::sleep(Duration::from_millis(200)).await };
    let runs = AtomicU32::new(0);
    let payload = json!({"id": "counted"});
    run(&idempotency, &payload, &runs).await.unwrap();
    settle().await;
    assert_eq!(seen.load(Ordering::SeqCst), 2, "fresh call");
    run(&idempotency, &payload, &runs).await.unwrap();
    settle().await;
    assert_eq!(seen.load(Ordering::SeqCst), 3, "duplicate");
    collector.abort();
}

#[derive(Debug, Clone, Default)]
struct CountRequests(Arc<AtomicUsize>);

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }
    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn dynamodb_fresh_is_two_requests_duplicate_is_one() {
    let Some(endpoint) = store_core::conformance::service_url("FLEETSTATE_DYNAMODB_ENDPOINT")
    else {
        return;
    };
    let table = "fleetstate-idempotency";
    backends::dynamodb(&endpoint, table, Default::default()).await;
    let counter = CountRequests::default();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "tests",
        ))
        .interceptor(counter.clone())
        .build();
    let store = store_dynamodb::DynamoStore::from_client(
        aws_sdk_dynamodb::Client::from_conf(config),
        table,
    )
    .build()
    .await
    .unwrap();
    let idempotency = Idempotency::new(store, backends::config()).unwrap();
    let count = counter.0.clone();
    assert_eq!(
        counted(&idempotency, || count.load(Ordering::SeqCst)).await,
        [2, 1]
    );
}
