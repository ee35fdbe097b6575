//! Round trips per check, counted where they happen: Redis commands with MONITOR,
//! DynamoDB requests with an SDK interceptor. Fixed window: 1. Sliding window: 1 in
//! steady state (the closed previous window is read once, then cached).

use std::time::Duration;

use ratelimit::{Policy, Quota, RateLimiter};
use store_core::{SharedStore, StoreExt};
use store_dynamodb::{RequestCounter, aws_sdk_dynamodb};

fn limiter(store: SharedStore, name: &str, policy: Policy) -> RateLimiter<SharedStore> {
    RateLimiter::builder(store, name)
        .default_policy(policy)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Round trips of three checks in a row: `[first, second, third]`.
async fn per_check(
    limiter: &RateLimiter<SharedStore>,
    count: impl Fn() -> usize,
    settle: Duration,
) -> [usize; 3] {
    // Every policy here is per hour: keep the three checks inside one hour.
    crate::clear_of_a_window_edge(Duration::from_secs(3600)).await;
    let mut out = [0; 3];
    for slot in &mut out {
        let before = count();
        assert!(limiter.check("api", "client").await.unwrap().allowed);
        tokio::time::sleep(settle).await;
        *slot = count() - before;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_fixed_window_is_one_command_and_sliding_window_one_in_steady_state() {
    let Some(url) = store_core::conformance::service_url("FLEETSTATE_REDIS_URL") else {
        return;
    };
    let store = store_redis::RedisStore::connect(&url)
        .await
        .unwrap()
        .into_shared();
    let name = format!("round-trips-{}", fastrand::u64(..));
    // Load the scripts before counting.
    limiter(
        store.clone(),
        "warm-up",
        Policy::fixed_window(Quota::per_hour(10)),
    )
    .check("api", "c")
    .await
    .unwrap();
    let counter = store_redis::CommandCounter::start(&url, name.clone())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let count = || counter.count();
    let settle = Duration::from_millis(150);
    let fixed = limiter(
        store.clone(),
        &format!("{name}-fixed"),
        Policy::fixed_window(Quota::per_hour(100)),
    );
    assert_eq!(
        per_check(&fixed, count, settle).await,
        [1, 1, 1],
        "fixed window"
    );
    let sliding = limiter(
        store,
        &format!("{name}-sliding"),
        Policy::sliding_window(Quota::per_hour(100)),
    );
    assert_eq!(
        per_check(&sliding, count, settle).await,
        [2, 1, 1],
        "sliding window"
    );
}

#[tokio::test]
async fn dynamodb_fixed_window_is_one_request_and_sliding_window_one_in_steady_state() {
    let Some(endpoint) = store_core::conformance::service_url("FLEETSTATE_DYNAMODB_ENDPOINT")
    else {
        return;
    };
    let table = "fleetstate-ratelimit";
    let counter = RequestCounter::default();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "tests",
        ))
        .interceptor(counter.clone())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let store = store_dynamodb::DynamoStore::from_client(client, table)
        .build()
        .await
        .unwrap();
    store_dynamodb::create_table(store.client(), table, store.layout())
        .await
        .unwrap();
    let store = store.into_shared();
    let name = format!("round-trips-{}", fastrand::u64(..));
    let count = || counter.count();
    let fixed = limiter(
        store.clone(),
        &format!("{name}-fixed"),
        Policy::fixed_window(Quota::per_hour(100)),
    );
    assert_eq!(
        per_check(&fixed, count, Duration::ZERO).await,
        [1, 1, 1],
        "fixed window"
    );
    let sliding = limiter(
        store,
        &format!("{name}-sliding"),
        Policy::sliding_window(Quota::per_hour(100)),
    );
    assert_eq!(
        per_check(&sliding, count, Duration::ZERO).await,
        [2, 1, 1],
        "sliding window"
    );
}
