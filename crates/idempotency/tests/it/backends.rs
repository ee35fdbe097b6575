//! Stores tests run on, and helpers.

use idempotency::Config;
use store_core::testing::service_url;
use store_core::{SharedStore, StoreExt};
use store_dynamodb::{DynamoStore, DynamoStoreBuilder, TableLayout};
use store_memory::MemoryStore;

/// store-memory plus every service the environment provides (under `CI=true` a missing
/// one fails; elsewhere it is skipped loudly).
pub(crate) async fn all() -> Vec<(&'static str, SharedStore)> {
    let mut stores = vec![("memory", MemoryStore::new().into_shared())];
    if let Some(url) = service_url("FLEETSTATE_REDIS_URL") {
        stores.push(("redis", redis(&url).await));
    }
    if let Some(url) = service_url("FLEETSTATE_REDIS_CLUSTER_URL") {
        stores.push(("redis-cluster", redis(&url).await));
    }
    if let Some(endpoint) = service_url("FLEETSTATE_DYNAMODB_ENDPOINT") {
        let store = dynamodb(&endpoint, "fleetstate-idempotency", TableLayout::default()).await;
        stores.push(("dynamodb", store.into_shared()));
    }
    if let Some(url) = service_url("FLEETSTATE_VALKEY_URL") {
        stores.push(("valkey", redis(&url).await));
    }
    if let Some(url) = service_url("FLEETSTATE_POSTGRES_URL") {
        stores.push(("postgres", postgres(&url, "fleetstate_idempotency").await));
    }
    if let Some(url) = service_url("FLEETSTATE_DENOKV_URL") {
        stores.push(("denokv", denokv(&url, "fleetstate-idempotency").await));
    }
    stores
}

pub(crate) async fn postgres(url: &str, table: &str) -> SharedStore {
    let layout = store_postgres::TableLayout::new(table).expect("a valid table name");
    store_postgres::PostgresStoreBuilder::from_url(url)
        .expect("a valid PostgreSQL URL")
        .layout(layout)
        .create_schema(true)
        .build()
        .await
        .expect("the test PostgreSQL accepts connections")
        .into_shared()
}

/// A Deno KV store under a root of its own.
pub(crate) async fn denokv(url: &str, root: &str) -> SharedStore {
    store_denokv::DenoKvStoreBuilder::from_url(url)
        .expect("a valid Deno KV URL")
        .root(root)
        .expect("a valid root")
        .build()
        .await
        .expect("the test denokv accepts connections")
        .into_shared()
}

pub(crate) async fn redis(url: &str) -> SharedStore {
    store_redis::RedisStoreBuilder::from_url(url)
        .expect("a valid Redis URL")
        .build()
        .await
        .expect("the test Redis accepts connections")
        .into_shared()
}

pub(crate) async fn dynamodb(endpoint: &str, table: &str, layout: TableLayout) -> DynamoStore {
    // DynamoDB Local is a JVM that can stall for seconds on a loaded 2-core CI machine
    // while 64 tasks hammer it: these tests check outcomes, not latency.
    let url = format!("dynamodb://{table}?endpoint={endpoint}&region=us-east-1&timeout_ms=15000");
    let store = DynamoStoreBuilder::from_url(&url)
        .expect("valid url")
        .layout(layout)
        .build()
        .await
        .expect("DynamoDB Local is reachable");
    store_dynamodb::create_table(store.client(), table, store.layout())
        .await
        .expect("table created or already there");
    store
}

/// A config whose namespace no other test uses.
pub(crate) fn config() -> Config {
    Config::new(format!("test-{}", fastrand::u64(..)))
}

/// Counts store operations (store-core's test helper).
pub(crate) type Counting = store_core::testing::Counting<MemoryStore>;

/// The one record in the idempotency namespace, decoded (`None` when there is none).
pub(crate) async fn only_record<S: store_core::Store>(
    idempotency: &idempotency::Idempotency<S>,
) -> Option<serde_json::Value> {
    let store = idempotency.store();
    let page = store
        .list(idempotency.namespace(), "", None, 10)
        .await
        .unwrap();
    assert!(page.keys.len() <= 1, "one record per key: {:?}", page.keys);
    let key = page.keys.first()?;
    let entry = store.get(idempotency.namespace(), key).await.unwrap()?;
    Some(serde_json::from_slice(&entry.value).unwrap())
}
