//! The Lambda integration, driven locally through the same `tower::Service` that
//! `lambda_runtime::run` drives.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use idempotency::lambda::make_idempotent;
use idempotency::{Config, Idempotency};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use store_core::Timestamp;
use tower::ServiceExt;

use crate::backends;

fn event(payload: Value, deadline: Timestamp, request_id: &str) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.deadline = deadline.as_millis();
    context.request_id = request_id.to_owned();
    LambdaEvent::new(payload, context)
}

#[tokio::test]
async fn lambda_handler_runs_once_and_takes_its_window_from_the_deadline() {
    let runs = Arc::new(AtomicU32::new(0));
    let idempotency = Idempotency::new(
        store_memory::MemoryStore::new(),
        backends::config()
            .event_key_jmespath("powertools_json(body).order_id")
            .unwrap(),
    )
    .unwrap();
    let handler = {
        let runs = runs.clone();
        move |event: LambdaEvent<Value>| {
            let runs = runs.clone();
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok::<_, lambda_runtime::Error>(json!({"request": event.context.request_id}))
            }
        }
    };
    let service = make_idempotent(idempotency.clone(), handler);
    let deadline = Timestamp::now().add_ttl(Duration::from_secs(30));
    let body = json!({"body": "{\"order_id\": 9}"});
    let first = service
        .clone()
        .oneshot(event(body.clone(), deadline, "req-1"))
        .await
        .unwrap();
    // A redelivery (new request id) replays the first result.
    let again = service
        .clone()
        .oneshot(event(body, deadline, "req-2"))
        .await
        .unwrap();
    assert_eq!(first, json!({"request": "req-1"}));
    assert_eq!(again, first);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_in_progress_record_expires_at_the_invocation_deadline() {
    let idempotency =
        Idempotency::new(store_memory::MemoryStore::new(), backends::config()).unwrap();
    let deadline = Timestamp::now().add_ttl(Duration::from_secs(42));
    let observed = {
        let idempotency = idempotency.clone();
        make_idempotent(idempotency.clone(), move |_event: LambdaEvent<Value>| {
            let idempotency = idempotency.clone();
            async move {
                let record = backends::only_record(&idempotency).await.expect("a record");
                Ok::<_, lambda_runtime::Error>(record["in_progress_expiration"].clone())
            }
        })
        .call(event(json!({"id": 1}), deadline, "r"))
        .await
        .unwrap()
    };
    assert_eq!(observed, json!(deadline.as_millis()));
}

#[tokio::test]
async fn the_function_name_defaults_from_the_lambda_environment() {
    // Config::default() takes the name from AWS_LAMBDA_FUNCTION_NAME when it is set.
    let result = Idempotency::new(store_memory::MemoryStore::new(), Config::default());
    match std::env::var(idempotency::FUNCTION_NAME_ENV) {
        Ok(name) => assert_eq!(result.unwrap().namespace(), format!("idempotency#{name}")),
        Err(_) => assert!(result.is_err()),
    }
}
