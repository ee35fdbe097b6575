//! Shared by the features' fault tests (idempotency, ratelimit, record-storage; each
//! includes this file with `#[path]`): the services that can be put behind a
//! `FaultProxy`.

use store_core::testing::{FaultProxy, service_url};
use store_core::{SharedStore, StoreExt};

/// Per available backend (Redis, DynamoDB Local): `n` stores, each behind a fault proxy
/// of its own, and a store reaching the server directly.
pub(crate) async fn backends(
    n: usize,
) -> Vec<(&'static str, Vec<(FaultProxy, SharedStore)>, SharedStore)> {
    let mut out = Vec::new();
    if let Some(url) = service_url("FLEETSTATE_REDIS_URL") {
        let mut proxied = Vec::new();
        for _ in 0..n {
            let (proxy, store) = store_redis::testing::behind_fault_proxy(&url)
                .await
                .unwrap();
            proxied.push((proxy, store.into_shared()));
        }
        let direct = store_redis::RedisStoreBuilder::from_url(&url)
            .unwrap()
            .build()
            .await
            .unwrap();
        out.push(("Redis", proxied, direct.into_shared()));
    }
    if let Some(endpoint) = service_url("FLEETSTATE_DYNAMODB_ENDPOINT") {
        let table = "fleetstate-faults";
        let mut proxied = Vec::new();
        for _ in 0..n {
            let (proxy, store) = store_dynamodb::testing::behind_fault_proxy(&endpoint, table)
                .await
                .unwrap();
            proxied.push((proxy, store.into_shared()));
        }
        let url = format!("dynamodb://{table}?endpoint={endpoint}&region=us-east-1");
        let direct = store_dynamodb::DynamoStoreBuilder::from_url(&url)
            .unwrap()
            .build()
            .await
            .unwrap();
        out.push(("DynamoDB Local", proxied, direct.into_shared()));
    }
    out
}
