//! ratelimit's integration tests: exactness on every backend, round trips, the failure
//! policies against a Redis the test kills, and construction refusals.

mod adaptive;
mod controls;
mod exact;
mod failure;
mod layer;
mod ops;
mod round_trips;

/// `N` stores on separate connections to the services' Redis, as `N` instances of a
/// fleet would have; `None` when the service is absent (a failure under `CI=true`).
async fn redis_instances<const N: usize>() -> Option<[store_core::SharedStore; N]> {
    use store_core::StoreExt;
    let url = store_core::conformance::service_url("FLEETSTATE_REDIS_URL")?;
    let mut stores = Vec::with_capacity(N);
    for _ in 0..N {
        stores.push(
            store_redis::RedisStore::connect(&url)
                .await
                .expect("connect to the services' Redis")
                .into_shared(),
        );
    }
    stores.try_into().ok()
}
