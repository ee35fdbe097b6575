//! A first run that stalls past its in-progress window is taken over; its late
//! completion does not overwrite the new record.

use std::time::Duration;

use idempotency::{DEFAULT_IN_PROGRESS_WINDOW, Idempotency, IdempotencyError};
use serde_json::{Value, json};
use store_core::{Clock, ManualClock, SharedStore, StoreExt, Timestamp};

use crate::backends;
use crate::scenarios::AppError;
use crate::stalled::StalledRun;

async fn stored_data(idempotency: &Idempotency<SharedStore>) -> Value {
    let record = backends::only_record(idempotency).await.expect("a record");
    assert_eq!(record["status"], "COMPLETED");
    record["data"].clone()
}

/// Starts a run that stalls until released, then waits for `advance` to push it past
/// its window, takes it over, and finally lets the stalled run finish.
async fn takeover(
    idempotency: Idempotency<SharedStore>,
    advance: impl std::future::Future<Output = ()>,
) {
    let stalled =
        StalledRun::start(&idempotency, json!({"job": 1}), None, json!("stalled run")).await;
    advance.await;
    let second = idempotency
        .idempotent(&json!({"job": 1}), || async {
            Ok::<_, AppError>(json!("takeover run"))
        })
        .await
        .unwrap();
    assert_eq!(second, json!("takeover run"));
    // The stalled run's caller still gets its own result...
    assert_eq!(stalled.finish().await.unwrap(), json!("stalled run"));
    // ...but the record keeps the takeover's.
    assert_eq!(stored_data(&idempotency).await, json!("takeover run"));
    let replay = idempotency
        .idempotent(&json!({"job": 1}), || async {
            Ok::<_, AppError>(json!("third run"))
        })
        .await
        .unwrap();
    assert_eq!(replay, json!("takeover run"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_run_is_taken_over_on_memory_with_a_manual_clock() {
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let store = store_memory::MemoryStore::builder()
        .clock(clock.clone())
        .build()
        .into_shared();
    let config = backends::config()
        .in_progress_window(Duration::from_secs(30))
        .clock(clock.clone());
    let idempotency = Idempotency::new(store, config).unwrap();
    takeover(idempotency, async move {
        clock.advance(Duration::from_secs(31))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_run_is_taken_over_on_every_backend() {
    for (_name, store) in backends::all().await {
        let config = backends::config().in_progress_window(Duration::from_millis(300));
        let idempotency = Idempotency::new(store, config).unwrap();
        takeover(idempotency, tokio::time::sleep(Duration::from_millis(400))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_run_is_not_taken_over_before_its_deadline() {
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let store = store_memory::MemoryStore::builder()
        .clock(clock.clone())
        .build()
        .into_shared();
    let config = backends::config().clock(clock.clone());
    let idempotency = Idempotency::new(store, config).unwrap();
    // Later than the default window would end: the deadline, not the default, rules.
    let deadline = clock
        .now()
        .add_ttl(DEFAULT_IN_PROGRESS_WINDOW + Duration::from_secs(60));
    let first = StalledRun::start(&idempotency, json!(1), Some(deadline), json!("first")).await;
    let record = backends::only_record(&idempotency).await.expect("a record");
    assert_eq!(
        record["in_progress_expiration"],
        json!(deadline.as_millis()),
        "window ends at the deadline"
    );
    // Long past the configured window, a millisecond before the deadline: the first run
    // is still live, so a duplicate is refused and its handler never runs.
    clock.advance(DEFAULT_IN_PROGRESS_WINDOW + Duration::from_secs(60) - Duration::from_millis(1));
    let ran = std::sync::atomic::AtomicBool::new(false);
    let duplicate = idempotency
        .idempotent(&json!(1), || async {
            ran.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, AppError>(json!("duplicate"))
        })
        .await;
    assert!(
        matches!(
            duplicate,
            Err(AppError::Idempotency(
                IdempotencyError::AlreadyInProgress { .. }
            ))
        ),
        "{duplicate:?}"
    );
    assert!(
        !ran.load(std::sync::atomic::Ordering::SeqCst),
        "the duplicate's handler ran"
    );
    // Past the deadline the run is an orphan: the next duplicate takes it over.
    clock.advance(Duration::from_millis(2));
    let takeover = idempotency
        .idempotent(&json!(1), || async { Ok::<_, AppError>(json!("takeover")) })
        .await
        .unwrap();
    assert_eq!(takeover, json!("takeover"));
    first.finish().await.unwrap();
}
