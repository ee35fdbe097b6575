//! Stores tests run on, and helpers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use idempotency::Config;
use store_core::conformance::service_url;
use store_core::{
    Bytes, Capabilities, Cursor, DeleteCondition, Entry, IncrOutcome, ListPage, Result, SetOptions,
    SetOutcome, SharedStore, Store, StoreExt,
};
use store_dynamodb::{DynamoStore, TableLayout};
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
    stores
}

pub(crate) async fn redis(url: &str) -> SharedStore {
    store_redis::RedisStore::connect(url)
        .await
        .expect("the test Redis accepts connections")
        .into_shared()
}

pub(crate) async fn dynamodb(endpoint: &str, table: &str, layout: TableLayout) -> DynamoStore {
    let url = format!("dynamodb://{table}?endpoint={endpoint}&region=us-east-1");
    let store = DynamoStore::builder(&url)
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

/// Counts store operations and forwards them to a memory store.
#[derive(Debug, Clone)]
pub(crate) struct Counting {
    pub(crate) inner: MemoryStore,
    calls: Arc<AtomicUsize>,
}

impl Counting {
    pub(crate) fn new(inner: MemoryStore) -> Self {
        Counting {
            inner,
            calls: Arc::default(),
        }
    }
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    fn tick(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl Store for Counting {
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Entry>> {
        self.tick();
        self.inner.get(ns, key).await
    }
    async fn set(&self, ns: &str, key: &str, value: Bytes, opts: SetOptions) -> Result<SetOutcome> {
        self.tick();
        self.inner.set(ns, key, value, opts).await
    }
    async fn delete(&self, ns: &str, key: &str, c: DeleteCondition) -> Result<bool> {
        self.tick();
        self.inner.delete(ns, key, c).await
    }
    async fn incr(
        &self,
        ns: &str,
        key: &str,
        d: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        self.tick();
        self.inner.incr(ns, key, d, ttl).await
    }
    async fn list(
        &self,
        ns: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        self.tick();
        self.inner.list(ns, prefix, cursor, limit).await
    }
    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }
}
