//! The Powertools scenarios, one test each, on store-memory (plus the DynamoDB
//! composite layout).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use idempotency::{Config, Idempotency, IdempotencyError};
use serde_json::{Value, json};
use store_core::{ManualClock, Store, Timestamp};
use store_memory::MemoryStore;

use crate::backends::{self, Counting, only_record};
use crate::stalled::StalledRun;

#[derive(Debug)]
pub(crate) enum AppError {
    Idempotency(IdempotencyError),
    Failed(&'static str),
}

impl From<IdempotencyError> for AppError {
    fn from(e: IdempotencyError) -> Self {
        AppError::Idempotency(e)
    }
}

/// Runs a handler that counts its executions and returns `{"n": <count>, "echo": payload}`.
pub(crate) async fn run<S: Store>(
    idempotency: &Idempotency<S>,
    payload: &Value,
    runs: &AtomicU32,
) -> Result<Value, AppError> {
    idempotency
        .idempotent(payload, || async {
            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
            Ok::<_, AppError>(json!({"n": n, "echo": payload}))
        })
        .await
}

fn manual() -> (MemoryStore, ManualClock) {
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    (MemoryStore::builder().clock(clock.clone()).build(), clock)
}

#[tokio::test]
async fn first_execution_runs_and_records_the_result() {
    let idempotency = Idempotency::new(MemoryStore::new(), backends::config()).unwrap();
    let runs = AtomicU32::new(0);
    let out = run(&idempotency, &json!({"id": 1}), &runs).await.unwrap();
    assert_eq!(out["n"], 1);
    let record = only_record(&idempotency).await.unwrap();
    assert_eq!(record["status"], "COMPLETED");
    assert_eq!(record["data"], out);
}

#[tokio::test]
async fn already_completed_replays_without_running() {
    let idempotency = Idempotency::new(MemoryStore::new(), backends::config()).unwrap();
    let runs = AtomicU32::new(0);
    let first = run(&idempotency, &json!({"id": 1}), &runs).await.unwrap();
    for _ in 0..3 {
        assert_eq!(
            run(&idempotency, &json!({"id": 1}), &runs).await.unwrap(),
            first
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // A different payload is a different key.
    assert_eq!(
        run(&idempotency, &json!({"id": 2}), &runs).await.unwrap()["n"],
        2
    );
}

#[tokio::test]
async fn in_progress_duplicate_is_refused() {
    let idempotency = Idempotency::new(MemoryStore::new(), backends::config()).unwrap();
    let first = StalledRun::start(&idempotency, json!({"id": 1}), None, json!("done")).await;
    let record = only_record(&idempotency).await.unwrap();
    assert_eq!(record["status"], "INPROGRESS");
    assert!(record["in_progress_expiration"].is_u64());
    let runs = AtomicU32::new(0);
    let err = run(&idempotency, &json!({"id": 1}), &runs)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppError::Idempotency(IdempotencyError::AlreadyInProgress { .. })
        ),
        "{err:?}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    assert_eq!(first.finish().await.unwrap(), json!("done"));
    assert_eq!(
        run(&idempotency, &json!({"id": 1}), &runs).await.unwrap(),
        json!("done")
    );
}

#[tokio::test]
async fn expired_record_runs_again() {
    let (store, clock) = manual();
    let config = backends::config()
        .expires_after(Duration::from_secs(60))
        .clock(clock.clone());
    let idempotency = Idempotency::new(store, config).unwrap();
    let runs = AtomicU32::new(0);
    run(&idempotency, &json!({"id": 1}), &runs).await.unwrap();
    clock.advance(Duration::from_secs(59));
    assert_eq!(
        run(&idempotency, &json!({"id": 1}), &runs).await.unwrap()["n"],
        1
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        run(&idempotency, &json!({"id": 1}), &runs).await.unwrap()["n"],
        2
    );
}

#[tokio::test]
async fn handler_error_deletes_the_record_so_a_retry_runs() {
    let idempotency = Idempotency::new(MemoryStore::new(), backends::config()).unwrap();
    let err = idempotency
        .idempotent(&json!({"id": 1}), || async {
            Err::<Value, _>(AppError::Failed("boom"))
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::Failed("boom")),
        "the handler's error, unchanged"
    );
    assert_eq!(only_record(&idempotency).await, None, "record deleted");
    let runs = AtomicU32::new(0);
    assert_eq!(
        run(&idempotency, &json!({"id": 1}), &runs).await.unwrap()["n"],
        1
    );
}

#[tokio::test]
async fn tampered_payload_under_the_same_key_is_a_mismatch() {
    let config = backends::config()
        .event_key_jmespath("order_id")
        .unwrap()
        .payload_validation_jmespath("amount")
        .unwrap();
    let idempotency = Idempotency::new(MemoryStore::new(), config).unwrap();
    let runs = AtomicU32::new(0);
    run(
        &idempotency,
        &json!({"order_id": 7, "amount": 10, "note": "a"}),
        &runs,
    )
    .await
    .unwrap();
    // Fields outside the validation may change; the validated one may not.
    run(
        &idempotency,
        &json!({"order_id": 7, "amount": 10, "note": "b"}),
        &runs,
    )
    .await
    .unwrap();
    let err = run(&idempotency, &json!({"order_id": 7, "amount": 99}), &runs)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppError::Idempotency(IdempotencyError::PayloadMismatch { .. })
        ),
        "{err:?}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn missing_key_raises_when_asked_and_runs_without_idempotency_otherwise() {
    let raising = Idempotency::new(
        MemoryStore::new(),
        backends::config()
            .event_key_jmespath("headers.\"x-id\"")
            .unwrap()
            .raise_on_no_idempotency_key(true),
    )
    .unwrap();
    let runs = AtomicU32::new(0);
    for payload in [
        json!({}),
        json!({"headers": {"x-id": null}}),
        json!({"headers": {"x-id": ""}}),
    ] {
        let err = run(&raising, &payload, &runs).await.unwrap_err();
        assert!(
            matches!(
                err,
                AppError::Idempotency(IdempotencyError::NoIdempotencyKey)
            ),
            "{err:?}"
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    let lenient = Idempotency::new(
        MemoryStore::new(),
        backends::config().event_key_jmespath("[a, b]").unwrap(),
    )
    .unwrap();
    for _ in 0..2 {
        run(&lenient, &json!({"c": 1}), &runs).await.unwrap();
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "ran each time, without idempotency"
    );
    assert_eq!(only_record(&lenient).await, None);
}

#[tokio::test]
async fn local_cache_hit_costs_no_store_operation() {
    let store = Counting::new(MemoryStore::new());
    let idempotency = Idempotency::new(store.clone(), backends::config().local_cache(16)).unwrap();
    let runs = AtomicU32::new(0);
    run(&idempotency, &json!({"id": 1}), &runs).await.unwrap();
    let before = store.calls();
    for _ in 0..5 {
        run(&idempotency, &json!({"id": 1}), &runs).await.unwrap();
    }
    assert_eq!(store.calls() - before, 0);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn local_cache_respects_record_expiry() {
    let (memory, clock) = manual();
    let store = Counting::new(memory);
    let config = backends::config()
        .local_cache(1)
        .expires_after(Duration::from_secs(10))
        .clock(clock.clone());
    let idempotency = Idempotency::new(store.clone(), config).unwrap();
    let runs = AtomicU32::new(0);
    run(&idempotency, &json!(1), &runs).await.unwrap();
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        run(&idempotency, &json!(1), &runs).await.unwrap()["n"],
        2,
        "expired: cache not used"
    );
}

#[tokio::test]
async fn in_progress_records_are_never_cached() {
    let store = Counting::new(MemoryStore::new());
    let idempotency = Idempotency::new(store.clone(), backends::config().local_cache(16)).unwrap();
    let inside = {
        let idempotency = idempotency.clone();
        idempotency
            .idempotent(&json!({"id": 1}), || async {
                // A duplicate while in progress goes to the store and is refused...
                let runs = AtomicU32::new(0);
                let before = store.calls();
                let dup = run(&idempotency, &json!({"id": 1}), &runs).await;
                assert!(store.calls() > before, "the duplicate reached the store");
                Ok::<_, AppError>(dup.is_err())
            })
            .await
            .unwrap()
    };
    assert!(inside, "duplicate during the run was refused");
    // ...and afterwards the completed result is served (and cached).
    let runs = AtomicU32::new(0);
    assert_eq!(
        run(&idempotency, &json!({"id": 1}), &runs).await.unwrap(),
        json!(true)
    );
}

#[tokio::test]
async fn response_hook_sees_replays_only() {
    let config = backends::config().response_hook(|mut data, replay| {
        data["replayed"] = json!(true);
        data["from_cache"] = json!(replay.from_cache);
        assert_eq!(replay.key.len(), 64);
        data
    });
    let idempotency = Idempotency::new(MemoryStore::new(), config).unwrap();
    let runs = AtomicU32::new(0);
    let first = run(&idempotency, &json!(1), &runs).await.unwrap();
    assert_eq!(first.get("replayed"), None);
    let again = run(&idempotency, &json!(1), &runs).await.unwrap();
    assert_eq!(again["replayed"], true);
    assert_eq!(again["from_cache"], false);
}

#[tokio::test]
async fn typed_key_selection_and_a_wrong_payload_type() {
    #[derive(serde::Serialize)]
    struct Order {
        id: u32,
        attempt: u32,
    }
    let config = backends::config().key_by(|o: &Order| o.id);
    let idempotency = Idempotency::new(MemoryStore::new(), config).unwrap();
    let runs = AtomicU32::new(0);
    for attempt in 0..3 {
        idempotency
            .idempotent(&Order { id: 5, attempt }, || async {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok::<_, AppError>(())
            })
            .await
            .unwrap();
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the key is the id alone");
    let err = run(&idempotency, &json!({"id": 5}), &runs)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppError::Idempotency(IdempotencyError::Configuration(_))
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn disabled_runs_every_time() {
    let idempotency =
        Idempotency::new(MemoryStore::new(), backends::config().disabled(true)).unwrap();
    let runs = AtomicU32::new(0);
    for _ in 0..3 {
        run(&idempotency, &json!(1), &runs).await.unwrap();
    }
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert!(idempotency.is_disabled());
}

#[tokio::test]
async fn oversized_results_fail_clearly_and_block_duplicates_until_the_window() {
    let store = MemoryStore::builder().max_value_size(256).build();
    let idempotency = Idempotency::new(store, backends::config()).unwrap();
    let err = idempotency
        .idempotent(&json!(1), || async { Ok::<_, AppError>("x".repeat(1000)) })
        .await
        .unwrap_err();
    match err {
        AppError::Idempotency(IdempotencyError::ResultTooLarge { size, limit }) => {
            assert_eq!(limit, 256);
            assert!(size > 1000);
        }
        other => panic!("{other:?}"),
    }
    let record = only_record(&idempotency).await.unwrap();
    assert_eq!(
        record["status"], "INPROGRESS",
        "not deleted: the side effects happened"
    );
}

#[tokio::test]
async fn construction_refuses_what_cannot_work() {
    let err = Idempotency::new(MemoryStore::new(), Config::default().disabled(false));
    if std::env::var(idempotency::FUNCTION_NAME_ENV).is_err() {
        assert!(
            matches!(err, Err(IdempotencyError::Configuration(_))),
            "{err:?}"
        );
    }
    let err = Idempotency::new(MemoryStore::new(), Config::new("x".repeat(300))).unwrap_err();
    assert!(matches!(err, IdempotencyError::Configuration(_)), "{err}");
    assert!(Config::new("a").event_key_jmespath("[").is_err());
}

#[tokio::test]
async fn batches_use_one_wrapped_handler_per_record() {
    let idempotency = Idempotency::new(MemoryStore::new(), backends::config()).unwrap();
    let runs = Arc::new(AtomicU32::new(0));
    let process = {
        let runs = runs.clone();
        idempotency.wrap(move |message: Value| {
            let runs = runs.clone();
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok::<_, AppError>(message["body"].clone())
            }
        })
    };
    let batch = [
        json!({"body": "a"}),
        json!({"body": "b"}),
        json!({"body": "a"}),
    ];
    let mut out = Vec::new();
    for message in batch {
        out.push(process.call(message).await.unwrap());
    }
    assert_eq!(out, [json!("a"), json!("b"), json!("a")]);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn composite_key_layout_with_a_static_partition_on_dynamodb() {
    let Some(endpoint) = store_core::testing::service_url("FLEETSTATE_DYNAMODB_ENDPOINT") else {
        return;
    };
    let layout = store_dynamodb::TableLayout::composite("pk", "sk")
        .with_static_partition("idempotency#payments");
    let store = backends::dynamodb(&endpoint, "fleetstate-idempotency-static", layout).await;
    let idempotency = Idempotency::new(store.clone(), backends::config()).unwrap();
    let runs = AtomicU32::new(0);
    let first = run(&idempotency, &json!({"id": 1}), &runs).await.unwrap();
    assert_eq!(
        run(&idempotency, &json!({"id": 1}), &runs).await.unwrap(),
        first
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // The item sits under the static partition value.
    let items = store
        .client()
        .query()
        .table_name("fleetstate-idempotency-static")
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            store_dynamodb::aws_sdk_dynamodb::types::AttributeValue::S(
                "idempotency#payments".into(),
            ),
        )
        .send()
        .await
        .unwrap();
    // The table is shared by earlier runs: find this run's item among them.
    let record = only_record(&idempotency).await.unwrap();
    assert_eq!(record["status"], "COMPLETED");
    let page = store
        .list(idempotency.namespace(), "", None, 10)
        .await
        .unwrap();
    let key = page.keys.first().expect("this run's record");
    let ours = items.items().iter().filter(|item| {
        item.get("sk")
            .and_then(|sk| sk.as_s().ok())
            .is_some_and(|sk| sk.contains(idempotency.namespace()) && sk.ends_with(key.as_str()))
    });
    assert_eq!(
        ours.count(),
        1,
        "this run's record sits under the static partition"
    );
}

#[tokio::test]
async fn an_in_progress_record_outlives_a_shorter_expires_after() {
    let (store, clock) = manual();
    let config = backends::config()
        .expires_after(Duration::from_secs(5))
        .in_progress_window(Duration::from_secs(60))
        .clock(clock.clone());
    let idempotency = Idempotency::new(store, config).unwrap();
    let outcome = idempotency
        .idempotent(&json!(1), || async {
            clock.advance(Duration::from_secs(10));
            // Past `expires_after` but within the window: a duplicate is still refused.
            let runs = AtomicU32::new(0);
            let dup = run(&idempotency, &json!(1), &runs).await;
            assert_eq!(runs.load(Ordering::SeqCst), 0);
            Ok::<_, AppError>(matches!(
                dup,
                Err(AppError::Idempotency(
                    IdempotencyError::AlreadyInProgress { .. }
                ))
            ))
        })
        .await
        .unwrap();
    assert!(outcome, "the duplicate was refused as in progress");
}

/// Exactly-once needs compare-and-set: a store that does not declare it is refused when
/// the `Idempotency` is built, naming why, before any handler could run twice.
#[test]
fn a_store_without_compare_and_set_is_refused() {
    let mut store = Counting::new(MemoryStore::new());
    store.capabilities_mut().compare_and_set = false;
    let err = Idempotency::new(store.clone(), backends::config()).unwrap_err();
    assert!(matches!(err, IdempotencyError::Configuration(_)), "{err:?}");
    assert!(err.to_string().contains("compare-and-set"), "{err}");
    assert_eq!(store.calls(), 0, "refused before any store operation");
}
