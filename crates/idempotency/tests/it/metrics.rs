//! The events `idempotency::metrics` documents, counted by a recording recorder.

use std::time::Duration;

use idempotency::metrics::EVENTS;
use idempotency::{Config, Idempotency, IdempotencyError};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use serde_json::{Value, json};
use store_core::StoreExt;
use store_memory::MemoryStore;

async fn charge(
    idempotency: &Idempotency<store_core::SharedStore>,
    order: u32,
) -> Result<Value, IdempotencyError> {
    idempotency
        .idempotent(&json!({ "order": order }), || async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok::<_, IdempotencyError>(json!({ "charged": order }))
        })
        .await
}

#[test]
fn claims_replays_cache_hits_and_in_progress_refusals_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let store = MemoryStore::new().into_shared();
            let plain = Idempotency::new(store.clone(), Config::new("charge")).unwrap();
            let cached =
                Idempotency::new(store.clone(), Config::new("charge").local_cache(10)).unwrap();
            charge(&plain, 1).await.unwrap(); // claimed
            charge(&plain, 1).await.unwrap(); // replayed
            charge(&cached, 1).await.unwrap(); // replayed, then kept
            charge(&cached, 1).await.unwrap(); // cache hit
            // A duplicate while the first still runs: refused.
            let (first, second) = tokio::join!(charge(&plain, 2), async {
                tokio::time::sleep(Duration::from_millis(10)).await;
                charge(&plain, 2).await
            });
            first.unwrap();
            assert!(matches!(
                second,
                Err(IdempotencyError::AlreadyInProgress { .. })
            ));
        });
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let count = |event: &str| -> u64 {
        snapshot
            .iter()
            .filter(|(key, ..)| key.key().name() == EVENTS)
            .filter(|(key, ..)| {
                key.key()
                    .labels()
                    .any(|l| l.key() == "event" && l.value() == event)
            })
            .map(|(_, _, _, value)| match value {
                DebugValue::Counter(n) => *n,
                _ => 0,
            })
            .sum()
    };
    assert_eq!(count("claimed"), 2);
    assert_eq!(count("replayed"), 2);
    assert_eq!(count("cache_hit"), 1);
    assert_eq!(count("in_progress"), 1);
    assert_eq!(count("taken_over"), 0);
}
