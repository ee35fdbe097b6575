//! Finding the test servers: an environment variable, or the file `cargo xtask services
//! up` writes. Missing under `CI=true` is a failure; elsewhere a loud skip.

use std::path::Path;

use store_redis::RedisStore;

pub(crate) const REDIS_URL: &str = "FLEETSTATE_REDIS_URL";
pub(crate) const REDIS_CLUSTER_URL: &str = "FLEETSTATE_REDIS_CLUSTER_URL";

pub(crate) fn service_url(var: &str) -> Option<String> {
    if let Ok(url) = std::env::var(var) {
        return Some(url);
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/services/env");
    let from_file = std::fs::read_to_string(file).ok().and_then(|text| {
        text.lines()
            .find_map(|line| line.strip_prefix(var)?.strip_prefix('=').map(str::to_owned))
    });
    if from_file.is_some() {
        return from_file;
    }
    let message = format!(
        "{var} is not set and no services are running: start them with `cargo xtask services up`, \
         or run everything with `cargo xtask test`"
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("under CI=true a missing service is a failure: {message}");
    }
    eprintln!("SKIPPED (service unavailable): {message}");
    None
}

pub(crate) fn redis_url() -> Option<String> {
    service_url(REDIS_URL)
}

pub(crate) fn cluster_url() -> Option<String> {
    service_url(REDIS_CLUSTER_URL)
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
