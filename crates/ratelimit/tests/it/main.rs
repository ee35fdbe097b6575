//! ratelimit's integration tests: exactness on every backend, round trips, the failure
//! policies against a Redis the test kills, and construction refusals.

mod adaptive;
mod controls;
mod exact;
mod failure;
#[path = "../../../../tests-support/fault_backends.rs"]
mod fault_backends;
mod faults;
mod layer;
mod lease;
mod metrics;
mod ops;
mod round_trips;
mod skew;
mod workers_kv;
#[path = "../../../../tests-support/workers_kv.rs"]
mod workers_kv_store;

/// A limiter with `policy` on `store` and a check timeout no test run reaches.
fn limiter(
    store: store_core::SharedStore,
    name: &str,
    policy: ratelimit::Policy,
) -> ratelimit::RateLimiter<store_core::SharedStore> {
    ratelimit::RateLimiter::builder(store, name)
        .default_policy(policy)
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap()
}

/// `N` stores on separate connections to the services' Redis, as `N` instances of a
/// fleet would have; `None` when the service is absent (a failure under `CI=true`).
async fn redis_instances<const N: usize>() -> Option<[store_core::SharedStore; N]> {
    use store_core::StoreExt;
    let url = store_core::testing::service_url("FLEETSTATE_REDIS_URL")?;
    let mut stores = Vec::with_capacity(N);
    for _ in 0..N {
        stores.push(
            store_redis::RedisStoreBuilder::from_url(&url)
                .expect("a valid Redis URL")
                .build()
                .await
                .expect("connect to the services' Redis")
                .into_shared(),
        );
    }
    stores.try_into().ok()
}

/// Returns once the current epoch-aligned `window` has at least 10 s left, sleeping
/// past its edge if it has less: sliding-window tests that count round trips or read
/// exact counts call it first, so that no window edge falls inside them.
async fn clear_of_a_window_edge(window: std::time::Duration) {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let window = window.as_millis();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let left = Duration::from_millis((window - now % window) as u64);
    if left < Duration::from_secs(10) {
        tokio::time::sleep(left + Duration::from_millis(20)).await;
    }
}
