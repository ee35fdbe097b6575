//! The test servers, found through `store_core::conformance::service_url`.

use store_core::conformance::service_url;
use store_redis::RedisStore;

pub(crate) fn redis_url() -> Option<String> {
    service_url("FLEETSTATE_REDIS_URL")
}

pub(crate) fn cluster_url() -> Option<String> {
    service_url("FLEETSTATE_REDIS_CLUSTER_URL")
}

pub(crate) async fn standalone() -> Option<RedisStore> {
    let url = redis_url()?;
    Some(RedisStore::connect(&url).await.expect("connect to Redis"))
}

pub(crate) async fn cluster() -> Option<RedisStore> {
    let url = cluster_url()?;
    let store = RedisStore::connect(&url)
        .await
        .expect("connect to the Redis cluster");
    assert!(store.is_cluster(), "{url} did not connect as a cluster");
    Some(store)
}
