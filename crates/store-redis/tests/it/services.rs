//! The test servers, found through `store_core::testing::service_url`.

use store_core::conformance::Subject;
use store_core::testing::service_url;
use store_redis::{RedisStore, RedisStoreBuilder};

/// Independent instances (one connection each) the conformance suite races across.
const INSTANCES: usize = 4;

/// `url` with the `client` option set to `client`.
pub(crate) fn with_client(url: &str, client: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}client={client}")
}

pub(crate) fn redis_url() -> Option<String> {
    service_url("FLEETSTATE_REDIS_URL")
}

pub(crate) fn cluster_url() -> Option<String> {
    service_url("FLEETSTATE_REDIS_CLUSTER_URL")
}

pub(crate) fn tls_url() -> Option<String> {
    service_url("FLEETSTATE_REDIS_TLS_URL")
}

pub(crate) fn valkey_url() -> Option<String> {
    service_url("FLEETSTATE_VALKEY_URL")
}

/// The `valkey-server` binary the services installed (for tests that start their own).
pub(crate) fn valkey_server() -> Option<String> {
    service_url("FLEETSTATE_VALKEY_SERVER")
}

pub(crate) fn valkey_cluster_url() -> Option<String> {
    service_url("FLEETSTATE_VALKEY_CLUSTER_URL")
}

/// A conformance subject on `url` through the fred client.
pub(crate) async fn fred_subject(
    url: Option<String>,
    key_prefix: &str,
) -> Option<Subject<RedisStore>> {
    subject(url.map(|u| with_client(&u, "fred")), key_prefix).await
}

pub(crate) async fn connect(url: &str, key_prefix: &str) -> RedisStore {
    RedisStoreBuilder::from_url(url)
        .expect("a valid Redis URL")
        .key_prefix(key_prefix)
        .build()
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

pub(crate) async fn standalone() -> Option<RedisStore> {
    Some(connect(&redis_url()?, "").await)
}

/// A conformance subject of [`INSTANCES`] stores on separate connections to `url`.
pub(crate) async fn subject(url: Option<String>, key_prefix: &str) -> Option<Subject<RedisStore>> {
    let url = url?;
    let mut stores = Vec::with_capacity(INSTANCES);
    for _ in 0..INSTANCES {
        stores.push(connect(&url, key_prefix).await);
    }
    let main = stores.remove(0);
    let expected = if url.contains("client=fred") {
        "fred"
    } else {
        "redis-rs"
    };
    assert_eq!(main.client_library(), expected, "{url}");
    if url.contains("-cluster://") {
        assert!(main.is_cluster(), "{url} did not connect as a cluster");
    }
    Some(Subject::new(main).with_instances(stores))
}
