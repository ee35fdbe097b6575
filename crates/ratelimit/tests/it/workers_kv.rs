//! A Cloudflare Workers KV store (in workerd, driven through its test Worker) has no
//! atomic `incr` and no compare-and-set: a limiter refuses it when it is built, for
//! every algorithm, rather than undercount.

use ratelimit::{Policy, Quota, RateLimiter};

#[tokio::test]
async fn a_workers_kv_store_is_refused_at_build() {
    let Some(store) = crate::workers_kv_store::worker_store().await else {
        return;
    };
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
