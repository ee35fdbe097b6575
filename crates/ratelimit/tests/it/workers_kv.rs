//! A Cloudflare Workers KV store (in workerd, driven through its test Worker) has no
//! atomic `incr` and no compare-and-set: a limiter refuses it when it is built, for
//! every algorithm, rather than undercount.

use ratelimit::{Policy, Quota, RateLimiter};
use store_core::testing::service_url;

#[tokio::test]
async fn a_workers_kv_store_is_refused_at_build() {
    let Some(url) = service_url("FLEETSTATE_CLOUDFLARE_KV_URL") else {
        return;
    };
    let store = store_cloudflare_kv::testing::WorkerStore::connect(&url)
        .await
        .unwrap();
    for policy in [
        Policy::fixed_window(Quota::per_minute(10)),
        Policy::sliding_window(Quota::per_minute(10)),
        Policy::gcra(Quota::per_minute(10)),
    ] {
        let err = RateLimiter::builder(store.clone(), "kv")
            .default_policy(policy)
            .build()
            .map(|_| ())
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("incr") || text.contains("compare-and-set"),
            "{policy:?}: {text}"
        );
    }
}
