//! The tower layer: headers on every response, 429 with Retry-After, pass-through
//! without a key.

use std::convert::Infallible;
use std::sync::Arc;

use http::{Request, Response, StatusCode};
use ratelimit::{Policy, Quota, RateLimitLayer, RateLimiter};
use tower::{Layer, ServiceExt, service_fn};

fn service(
    limit: u64,
) -> impl tower::Service<Request<String>, Response = Response<String>, Error = Infallible, Future: Send>
+ Clone {
    let limiter = RateLimiter::builder(store_memory::MemoryStore::new(), "layer")
        .default_policy(Policy::fixed_window(Quota::per_minute(limit)))
        .build()
        .unwrap();
    let layer = RateLimitLayer::new(Arc::new(limiter), "api", |req: &Request<String>| {
        req.headers()
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    layer.layer(service_fn(|_req: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::from("ok")))
    }))
}

fn request(key: Option<&str>) -> Request<String> {
    let mut builder = Request::builder();
    if let Some(key) = key {
        builder = builder.header("x-api-key", key);
    }
    builder.body(String::new()).unwrap()
}

#[tokio::test]
async fn responses_carry_the_ratelimit_headers_and_refusals_are_429() {
    let svc = service(2);
    for remaining in ["1", "0"] {
        let response = svc.clone().oneshot(request(Some("k"))).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.body(), "ok");
        assert_eq!(response.headers()["ratelimit-limit"], "2");
        assert_eq!(response.headers()["ratelimit-remaining"], remaining);
        let reset: u64 = response.headers()["ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((59..=60).contains(&reset), "{reset}");
        assert!(!response.headers().contains_key("retry-after"));
    }
    let refused = svc.clone().oneshot(request(Some("k"))).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.body(), "", "the inner service did not run");
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((59..=60).contains(&retry), "{retry}");
    // Another caller has its own budget.
    let other = svc.clone().oneshot(request(Some("other"))).await.unwrap();
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test]
async fn requests_without_a_key_pass_unlimited() {
    let svc = service(1);
    for _ in 0..5 {
        let response = svc.clone().oneshot(request(None)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response.headers().contains_key("ratelimit-limit"));
    }
}
