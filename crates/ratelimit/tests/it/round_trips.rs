//! Round trips per check, counted where they happen: Redis commands with MONITOR,
//! DynamoDB requests with an SDK interceptor. Fixed window: 1. Sliding window: 1 in
//! steady state (the closed previous window is read once, then cached). GCRA: 1 on
//! Redis; on DynamoDB 2 for the first check of a full budget, then 1.

use std::time::Duration;

use ratelimit::{Policy, Quota, RateLimiter};
use store_core::{SharedStore, StoreExt};
use store_dynamodb::testing::RequestCounter;

use crate::limiter;

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
    let Some(url) = store_core::testing::service_url("FLEETSTATE_REDIS_URL") else {
        return;
    };
    let store = store_redis::RedisStoreBuilder::from_url(&url)
        .expect("a valid Redis URL")
        .build()
        .await
        .unwrap()
        .into_shared();
    let name = format!("round-trips-{}", fastrand::u64(..));
    // Load the scripts before counting.
    for policy in [
        Policy::fixed_window(Quota::per_hour(10)),
        Policy::gcra(Quota::per_hour(10)),
    ] {
        limiter(store.clone(), "warm-up", policy)
            .check("api", "c")
            .await
            .unwrap();
    }
    let counter = store_redis::testing::CommandCounter::start(&url, name.clone())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_round_trips(
        store,
        &name,
        || counter.count(),
        Duration::from_millis(150),
        [1, 1, 1],
    )
    .await;
}

/// Fixed window: one round trip per check. Sliding window: two for the first check
/// (the previous window is read), then one.
async fn assert_round_trips(
    store: SharedStore,
    name: &str,
    count: impl Fn() -> usize + Copy,
    settle: Duration,
    gcra: [usize; 3],
) {
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
        store.clone(),
        &format!("{name}-sliding"),
        Policy::sliding_window(Quota::per_hour(100)),
    );
    assert_eq!(
        per_check(&sliding, count, settle).await,
        [2, 1, 1],
        "sliding window"
    );
    let gcra_limiter = limiter(
        store,
        &format!("{name}-gcra"),
        Policy::gcra(Quota::per_hour(100)),
    );
    assert_eq!(per_check(&gcra_limiter, count, settle).await, gcra, "GCRA");
}

#[tokio::test]
async fn dynamodb_fixed_window_is_one_request_and_sliding_window_one_in_steady_state() {
    let Some(endpoint) = store_core::testing::service_url("FLEETSTATE_DYNAMODB_ENDPOINT") else {
        return;
    };
    let table = "fleetstate-ratelimit";
    let counter = RequestCounter::default();
    let url = format!("dynamodb://{table}?endpoint={endpoint}&region=us-east-1");
    let store = store_dynamodb::DynamoStoreBuilder::from_url(&url)
        .unwrap()
        .interceptor(counter.clone())
        .build()
        .await
        .unwrap();
    store_dynamodb::create_table(store.client(), table, store.layout())
        .await
        .unwrap();
    let name = format!("round-trips-{}", fastrand::u64(..));
    assert_round_trips(
        store.into_shared(),
        &name,
        || counter.count(),
        Duration::ZERO,
        [2, 1, 1],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_fixed_window_and_gcra_are_one_statement_and_sliding_window_one_in_steady_state() {
    let Some(url) = store_core::testing::service_url("FLEETSTATE_POSTGRES_URL") else {
        return;
    };
    let layout = store_postgres::TableLayout::new("fleetstate_ratelimit").unwrap();
    // The table, through a direct connection.
    store_postgres::PostgresStoreBuilder::from_url(&url)
        .unwrap()
        .layout(layout.clone())
        .create_schema(true)
        .build()
        .await
        .unwrap();
    let upstream = url
        .split_once('@')
        .map_or(url.as_str(), |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let proxy = store_postgres::testing::WireProxy::start(upstream.clone())
        .await
        .unwrap();
    let through = url.replace(&upstream, &format!("127.0.0.1:{}", proxy.port()));
    // One connection: the warm-up prepares every statement on it.
    let store = store_postgres::PostgresStoreBuilder::from_url(&through)
        .unwrap()
        .layout(layout)
        .pool_size(1)
        .build()
        .await
        .unwrap()
        .into_shared();
    let name = format!("round-trips-{}", fastrand::u64(..));
    for policy in [
        Policy::fixed_window(Quota::per_hour(10)),
        Policy::sliding_window(Quota::per_hour(10)),
        Policy::gcra(Quota::per_hour(10)),
    ] {
        let warm = limiter(store.clone(), "warm-up", policy);
        warm.check("api", "c").await.unwrap();
        warm.check("api", "c").await.unwrap();
    }
    assert_round_trips(
        store,
        &name,
        || proxy.round_trips(),
        Duration::ZERO,
        [1, 1, 1],
    )
    .await;
}
