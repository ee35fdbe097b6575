//! The test Worker, found through `store_core::testing::service_url`.

use store_cloudflare_kv::testing::WorkerStore;
use store_core::conformance::Subject;
use store_core::testing::service_url;

pub(crate) fn url() -> Option<String> {
    service_url("FLEETSTATE_CLOUDFLARE_KV_URL")
}

pub(crate) async fn connect(url: &str) -> WorkerStore {
    WorkerStore::connect(url)
        .await
        .unwrap_or_else(|e| panic!("the test Worker at {url}: {e}"))
}

/// The Worker's store, and 3 more clients of it (each request is its own Worker
/// invocation).
pub(crate) async fn subject() -> Option<Subject<WorkerStore>> {
    let url = url()?;
    let main = connect(&url).await;
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(connect(&url).await);
    }
    Some(Subject::new(main).with_instances(others))
}
