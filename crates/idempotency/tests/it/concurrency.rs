//! 64 concurrent identical calls: the handler body runs exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use idempotency::{Dedupe, Idempotency, IdempotencyError};
use serde_json::{Value, json};
use store_core::SharedStore;

use crate::backends;
use crate::scenarios::AppError;

const CALLERS: usize = 64;

/// 64 identical calls at once. With `hold_until_refused`, the one that runs holds
/// until the 63 others have been answered (so none arrives after it completed, however
/// slow the machine); otherwise it runs for 300 ms.
async fn hammer(
    idempotency: Idempotency<SharedStore>,
    hold_until_refused: bool,
) -> (u32, Vec<Result<Value, AppError>>) {
    let runs = Arc::new(AtomicU32::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(tokio::sync::Barrier::new(CALLERS));
    let handles: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (idempotency, runs, start, answered) = (
                idempotency.clone(),
                runs.clone(),
                start.clone(),
                answered.clone(),
            );
            tokio::spawn(async move {
                start.wait().await;
                let result = idempotency
                    .idempotent(&json!({"order": 42}), || async {
                        let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
                        if hold_until_refused {
                            let deadline = Instant::now() + Duration::from_secs(30);
                            while answered.load(Ordering::SeqCst) < CALLERS - 1
                                && Instant::now() < deadline
                            {
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                        } else {
                            tokio::time::sleep(Duration::from_millis(300)).await;
                        }
                        Ok::<_, AppError>(json!({"run": n}))
                    })
                    .await;
                answered.fetch_add(1, Ordering::SeqCst);
                result
            })
        })
        .collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.unwrap());
    }
    (runs.load(Ordering::SeqCst), results)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_runs_and_63_are_told_it_is_in_progress() {
    for (name, store) in backends::all().await {
        let idempotency = Idempotency::new(store, backends::config()).unwrap();
        let (runs, results) = hammer(idempotency, true).await;
        assert_eq!(runs, 1, "{name}: handler runs");
        let ok: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok, [&json!({"run": 1})], "{name}: one result");
        let in_progress = results
            .iter()
            .filter(|r| {
                matches!(
                    r,
                    Err(AppError::Idempotency(
                        IdempotencyError::AlreadyInProgress { .. }
                    ))
                )
            })
            .count();
        assert_eq!(in_progress, CALLERS - 1, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_dedupe_mode_all_64_get_the_one_result() {
    for (name, store) in backends::all().await {
        let config = backends::config().dedupe(Dedupe {
            poll_interval: Duration::from_millis(20),
            timeout: Duration::from_secs(20),
        });
        let idempotency = Idempotency::new(store, config).unwrap();
        let (runs, results) = hammer(idempotency, false).await;
        assert_eq!(runs, 1, "{name}: handler runs");
        for result in results {
            assert_eq!(result.unwrap(), json!({"run": 1}), "{name}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dedupe_wait_is_bounded() {
    let store = store_core::StoreExt::into_shared(store_memory::MemoryStore::new());
    let config = backends::config().dedupe(Dedupe {
        poll_interval: Duration::from_millis(10),
        timeout: Duration::from_millis(100),
    });
    let idempotency = Idempotency::new(store, config).unwrap();
    let slow = {
        let idempotency = idempotency.clone();
        tokio::spawn(async move {
            idempotency
                .idempotent(&json!(1), || async {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    Ok::<_, AppError>(json!("slow"))
                })
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    let err = idempotency
        .idempotent(&json!(1), || async { Ok::<_, AppError>(json!("dup")) })
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AppError::Idempotency(IdempotencyError::AlreadyInProgress { .. })
    ));
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    slow.abort();
}
