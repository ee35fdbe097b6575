//! Hostile nesting: a result nested deeper than `Config::max_nesting` is not stored, and
//! a deep record written by someone else is refused unread, on a 256 KiB stack.

use serde_json::{Value, json};
use store_core::{Bytes, SetOptions, Store, StoreExt};

use idempotency::{DEFAULT_MAX_NESTING, Idempotency, IdempotencyError};

use crate::backends;
use crate::scenarios::AppError;

fn nested(depth: usize) -> Value {
    (0..depth).fold(json!(1), |inner, _| json!([inner]))
}

#[tokio::test]
async fn a_result_nested_too_deep_is_not_stored_and_its_duplicate_does_not_rerun() {
    let store = store_memory::MemoryStore::new().into_shared();
    let idempotency = Idempotency::new(store, backends::config()).unwrap();
    let limit = usize::from(DEFAULT_MAX_NESTING);
    let at = idempotency
        .idempotent(
            &json!("at"),
            || async move { Ok::<_, AppError>(nested(limit)) },
        )
        .await
        .unwrap();
    assert_eq!(at, nested(limit));
    let past = idempotency
        .idempotent(&json!("past"), || async move {
            Ok::<_, AppError>(nested(limit + 1))
        })
        .await;
    assert!(
        matches!(past, Err(AppError::Idempotency(IdempotencyError::ResultTooDeep { max })) if max == DEFAULT_MAX_NESTING),
        "{past:?}"
    );
    let duplicate = idempotency
        .idempotent(&json!("past"), || async {
            Ok::<_, AppError>(json!("rerun"))
        })
        .await;
    assert!(
        matches!(
            duplicate,
            Err(AppError::Idempotency(
                IdempotencyError::AlreadyInProgress { .. }
            ))
        ),
        "the record stays in progress: {duplicate:?}"
    );
}

#[test]
fn a_hostile_deep_record_is_refused_unread_on_a_small_stack() {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let store = store_memory::MemoryStore::new().into_shared();
                    let idempotency = Idempotency::new(store.clone(), backends::config()).unwrap();
                    // Find the record key of this payload, then overwrite its record.
                    idempotency
                        .idempotent(&json!(1), || async { Ok::<_, AppError>(json!("ok")) })
                        .await
                        .unwrap();
                    let key = store
                        .list(idempotency.namespace(), "", None, 10)
                        .await
                        .unwrap()
                        .keys
                        .remove(0);
                    let hostile =
                        [&br#"{"status":"COMPLETED","data":"#[..], &[b'['; 100_000]].concat();
                    store
                        .set(
                            idempotency.namespace(),
                            &key,
                            Bytes::from(hostile),
                            SetOptions::always(),
                        )
                        .await
                        .unwrap();
                    let replay = idempotency
                        .idempotent(&json!(1), || async { Ok::<_, AppError>(json!("rerun")) })
                        .await;
                    assert!(
                        matches!(
                            replay,
                            Err(AppError::Idempotency(IdempotencyError::Serialization(_)))
                        ),
                        "{replay:?}"
                    );
                });
        })
        .unwrap()
        .join()
        .expect("the reader did not overflow its stack");
}
