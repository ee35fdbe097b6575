//! A Cloudflare Workers KV store (in workerd, driven through its test Worker) cannot
//! compare-and-set: idempotency refuses it when it is built.

use idempotency::{Idempotency, IdempotencyError};
use store_core::testing::service_url;

#[tokio::test]
async fn a_workers_kv_store_is_refused_at_build() {
    let Some(url) = service_url("FLEETSTATE_CLOUDFLARE_KV_URL") else {
        return;
    };
    let store = store_cloudflare_kv::testing::WorkerStore::connect(&url)
        .await
        .unwrap();
    let err = Idempotency::new(store, crate::backends::config())
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(&err, IdempotencyError::Configuration(m) if m.contains("compare-and-set")),
        "{err:?}"
    );
}
