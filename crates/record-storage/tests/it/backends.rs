//! The stores tests run on, and helpers.

use std::sync::atomic::{AtomicU32, Ordering};

use record_storage::{Context, Options, RecordStorage};
use store_core::testing::service_url;
use store_core::{SharedStore, StoreExt};

/// store-memory, plus every service the environment provides (under `CI=true` a
/// missing service fails the test; elsewhere it is skipped loudly).
pub(crate) async fn all() -> Vec<(&'static str, SharedStore)> {
    let mut stores = vec![("memory", store_memory::MemoryStore::new().into_shared())];
    if let Some(url) = service_url("FLEETSTATE_REDIS_URL") {
        stores.push(("redis", connect_redis(&url).await));
    }
    if let Some(url) = service_url("FLEETSTATE_REDIS_CLUSTER_URL") {
        stores.push(("redis-cluster", connect_redis(&url).await));
    }
    if let Some(endpoint) = service_url("FLEETSTATE_DYNAMODB_ENDPOINT") {
        stores.push(("dynamodb", dynamodb(&endpoint).await));
    }
    if let Some(url) = service_url("FLEETSTATE_VALKEY_URL") {
        stores.push(("valkey", connect_redis(&url).await));
    }
    if let Some(url) = service_url("FLEETSTATE_POSTGRES_URL") {
        stores.push(("postgres", postgres(&url, "fleetstate_records").await));
    }
    if let Some(url) = service_url("FLEETSTATE_DENOKV_URL") {
        stores.push(("denokv", denokv(&url, "fleetstate-records").await));
    }
    stores
}

/// A Deno KV store under a root of its own.
async fn denokv(url: &str, root: &str) -> SharedStore {
    store_denokv::DenoKvStoreBuilder::from_url(url)
        .expect("a valid Deno KV URL")
        .root(root)
        .expect("a valid root")
        .build()
        .await
        .expect("the test denokv accepts connections")
        .into_shared()
}

async fn postgres(url: &str, table: &str) -> SharedStore {
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

async fn connect_redis(url: &str) -> SharedStore {
    store_redis::RedisStoreBuilder::from_url(url)
        .expect("a valid Redis URL")
        .build()
        .await
        .expect("the test Redis accepts connections")
        .into_shared()
}

async fn dynamodb(endpoint: &str) -> SharedStore {
    let table = "fleetstate-records";
    // DynamoDB Local is a JVM that can stall for seconds on a loaded 2-core CI machine
    // while 64 tasks hammer it: these tests check outcomes, not latency.
    let url = format!("dynamodb://{table}?endpoint={endpoint}&region=us-east-1&timeout_ms=15000");
    let store = store_dynamodb::DynamoStoreBuilder::from_url(&url)
        .expect("valid url")
        .build()
        .await
        .expect("DynamoDB Local is reachable");
    store_dynamodb::create_table(store.client(), table, store.layout())
        .await
        .expect("table created or already there");
    store.into_shared()
}

/// A context no other test uses, so tests can share a server.
pub(crate) fn fresh_context() -> Context {
    static N: AtomicU32 = AtomicU32::new(0);
    Context::new(
        format!(
            "ws-{}-{}",
            fastrand::u32(..),
            N.fetch_add(1, Ordering::Relaxed)
        ),
        "env",
    )
}

/// Record storage on `store` in a fresh context.
pub(crate) fn storage(store: &SharedStore) -> RecordStorage {
    RecordStorage::new(store.clone(), Options::new().context(fresh_context()))
}
