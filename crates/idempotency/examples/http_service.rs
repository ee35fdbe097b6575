//! An HTTP service behind the idempotency layer on store-memory, driven in process:
//! `cargo run -p idempotency --example http_service`.
//!
//! The same layer wraps an axum `Router` or any tower HTTP service.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use idempotency::{Config, Idempotency, IdempotencyLayer};
use tower::{Layer, ServiceExt, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let payments = Arc::new(AtomicU32::new(0));
    let create_payment = {
        let payments = payments.clone();
        service_fn(move |request: Request<Full<Bytes>>| {
            let payments = payments.clone();
            async move {
                let body = request
                    .into_body()
                    .collect()
                    .await
                    .expect("in-memory body")
                    .to_bytes();
                let id = payments.fetch_add(1, Ordering::SeqCst) + 1;
                let mut response = Response::new(Full::from(format!(
                    "{{\"payment\":{id},\"request\":{}}}",
                    String::from_utf8_lossy(&body)
                )));
                *response.status_mut() = StatusCode::CREATED;
                Ok::<_, Infallible>(response)
            }
        })
    };
    let idempotency = Idempotency::new(
        store_memory::MemoryStore::new(),
        Config::new("payments-api"),
    )?;
    let service = IdempotencyLayer::new(idempotency).layer(create_payment);

    let request = |key: &str, body: &'static str| {
        Request::post("/payments")
            .header("idempotency-key", key)
            .body(Full::from(body))
            .expect("valid request")
    };
    for (key, body) in [
        ("k-1", "{\"eur\":10}"),
        ("k-1", "{\"eur\":10}"),
        ("k-1", "{\"eur\":99}"),
        ("k-2", "{\"eur\":5}"),
    ] {
        let response = service.clone().oneshot(request(key, body)).await?;
        let replayed = response.headers().contains_key("idempotent-replayed");
        let status = response.status();
        let text = response.into_body().collect().await?.to_bytes();
        println!(
            "{key} {body:<12} -> {status} replayed={replayed} {}",
            String::from_utf8_lossy(&text)
        );
    }
    println!("payments created: {}", payments.load(Ordering::SeqCst));
    Ok(())
}
