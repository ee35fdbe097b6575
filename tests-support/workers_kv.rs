//! Shared by the features' Workers KV tests (idempotency, ratelimit, record-storage;
//! each includes this file with `#[path]`): the store of the test Worker that
//! `cargo xtask` runs in workerd.

use store_cloudflare_kv::testing::WorkerStore;
use store_core::testing::service_url;

/// A client of the test Worker's store, or `None` when the service is not running
/// (`service_url`: a failure under `CI=true`). Panics when the Worker does not answer.
pub(crate) async fn worker_store() -> Option<WorkerStore> {
    let url = service_url("FLEETSTATE_CLOUDFLARE_KV_URL")?;
    let store = WorkerStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("the test Worker at {url}: {e}"));
    Some(store)
}
