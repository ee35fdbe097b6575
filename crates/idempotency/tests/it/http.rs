//! The tower layer: keyed by `Idempotency-Key`, replays status, headers and body.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use idempotency::{Idempotency, IdempotencyLayer, MissingKey};
use tower::{Layer, Service, ServiceExt, service_fn};

use crate::backends;

type Svc = tower::util::BoxCloneService<Request<Full<Bytes>>, Response<Full<Bytes>>, Infallible>;

/// An "orders" service counting its calls; `/slow` takes 300 ms, `/fail` answers 500.
fn service(layer: IdempotencyLayer<store_memory::MemoryStore>, calls: Arc<AtomicU32>) -> Svc {
    let inner = service_fn(move |req: Request<Full<Bytes>>| {
        let calls = calls.clone();
        async move {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if req.uri().path() == "/slow" {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let status = if req.uri().path() == "/fail" {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::CREATED
            };
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let mut response = Response::new(Full::from(format!(
                "order {n}: {}",
                String::from_utf8_lossy(&body)
            )));
            *response.status_mut() = status;
            response.headers_mut().insert("x-order", n.into());
            response
                .headers_mut()
                .append("set-cookie", "a=1".parse().unwrap());
            response
                .headers_mut()
                .append("set-cookie", "b=2".parse().unwrap());
            Ok::<_, Infallible>(response)
        }
    });
    tower::util::BoxCloneService::new(layer.layer(inner))
}

fn layer() -> IdempotencyLayer<store_memory::MemoryStore> {
    IdempotencyLayer::new(
        Idempotency::new(store_memory::MemoryStore::new(), backends::config()).unwrap(),
    )
}

fn post(path: &str, key: Option<&str>, body: &'static str) -> Request<Full<Bytes>> {
    let mut builder = Request::post(path);
    if let Some(key) = key {
        builder = builder.header("Idempotency-Key", key);
    }
    builder.body(Full::from(body)).unwrap()
}

async fn text(response: Response<Full<Bytes>>) -> String {
    String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap()
}

#[tokio::test]
async fn replayed_responses_keep_status_headers_and_body() {
    let calls = Arc::new(AtomicU32::new(0));
    let svc = service(layer(), calls.clone());
    let first = svc
        .clone()
        .oneshot(post("/orders", Some("k1"), "{\"qty\":1}"))
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let again = svc
        .clone()
        .oneshot(post("/orders", Some("k1"), "{\"qty\":1}"))
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["x-order"], "1");
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let cookies: Vec<_> = again.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(text(again).await, "order 1: {\"qty\":1}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Another key is another request.
    let other = svc
        .oneshot(post("/orders", Some("k2"), "{\"qty\":1}"))
        .await
        .unwrap();
    assert_eq!(text(other).await, "order 2: {\"qty\":1}");
}

#[tokio::test]
async fn same_key_with_another_payload_is_422() {
    let calls = Arc::new(AtomicU32::new(0));
    let svc = service(layer(), calls.clone());
    svc.clone()
        .oneshot(post("/orders", Some("k"), "a"))
        .await
        .unwrap();
    for request in [
        post("/orders", Some("k"), "b"),
        post("/other", Some("k"), "a"),
    ] {
        let response = svc.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn in_progress_is_409() {
    let calls = Arc::new(AtomicU32::new(0));
    let svc = service(layer(), calls.clone());
    let first = tokio::spawn(svc.clone().oneshot(post("/slow", Some("k"), "")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = svc
        .clone()
        .oneshot(post("/slow", Some("k"), ""))
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::CONFLICT);
    assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::CREATED);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn missing_key_is_400_or_passes_through() {
    let calls = Arc::new(AtomicU32::new(0));
    let svc = service(layer(), calls.clone());
    let response = svc.oneshot(post("/orders", None, "")).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let svc = service(layer().missing_key(MissingKey::PassThrough), calls.clone());
    for _ in 0..2 {
        let response = svc
            .clone()
            .oneshot(post("/orders", None, ""))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn server_errors_are_not_stored_so_a_retry_runs() {
    let calls = Arc::new(AtomicU32::new(0));
    let svc = service(layer(), calls.clone());
    for _ in 0..2 {
        let response = svc
            .clone()
            .oneshot(post("/fail", Some("k"), ""))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn key_scope_separates_clients() {
    let calls = Arc::new(AtomicU32::new(0));
    let layer = layer().key_scope(|parts| {
        parts
            .headers
            .get("x-client")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    let mut svc = service(layer, calls.clone());
    for client in ["alice", "bob", "alice"] {
        let mut request = post("/orders", Some("same-key"), "");
        request
            .headers_mut()
            .insert("x-client", client.parse().unwrap());
        svc.ready().await.unwrap().call(request).await.unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
