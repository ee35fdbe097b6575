//! A Cloudflare Workers KV store (in workerd, driven through its test Worker) cannot
//! compare-and-set: idempotency refuses it when it is built.

use idempotency::{Idempotency, IdempotencyError};

#[tokio::test]
async fn a_workers_kv_store_is_refused_at_build() {
    let Some(store) = crate::workers_kv_store::worker_store().await else {
        return;
    };
    let err = Idempotency::new(store, crate::backends::config())
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(&err, IdempotencyError::Configuration(m) if m.contains("compare-and-set")),
        "{err:?}"
    );
}
