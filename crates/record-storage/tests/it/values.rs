//! Values, keys and errors: nulls, wrong types, limits, validation before I/O.

use record_storage::{
    Options, RecordError, delete_record_value, get_record_value, record_value_exists,
    set_record_value,
};
use store_core::{Error, Store, StoreExt};

use crate::backends;

#[tokio::test]
async fn nulls_are_refused_and_nothing_is_written() {
    let storage = backends::storage(&store_memory::MemoryStore::new().into_shared());
    storage.set_value("k", &1).await.unwrap();
    for result in [
        storage.set_value("k", &()).await,
        storage.set_value("k", &None::<String>).await,
        storage.set_value("k", &serde_json::Value::Null).await,
    ] {
        assert!(
            matches!(result, Err(RecordError::NullValue { .. })),
            "{result:?}"
        );
    }
    assert_eq!(storage.get_value::<u32>("k").await.unwrap(), Some(1));
}

#[tokio::test]
async fn reading_as_the_wrong_type_is_a_decode_error() {
    let storage = backends::storage(&store_memory::MemoryStore::new().into_shared());
    storage.set_value("k", &"text").await.unwrap();
    let err = storage.get_value::<Vec<u32>>("k").await.unwrap_err();
    assert!(
        matches!(err, RecordError::Decode { ref key, .. } if key == "k"),
        "{err}"
    );
}

#[tokio::test]
async fn invalid_keys_and_oversized_values_fail_clearly_on_every_backend() {
    for (name, store) in backends::all().await {
        let storage = backends::storage(&store);
        for key in ["", "a\nb"] {
            let err = storage.set_value(key, &1).await.unwrap_err();
            assert!(
                matches!(err, RecordError::Store(Error::InvalidKey { .. })),
                "{name}: {err}"
            );
            let err = storage.get_value::<u32>(key).await.unwrap_err();
            assert!(
                matches!(err, RecordError::Store(Error::InvalidKey { .. })),
                "{name}: {err}"
            );
        }
        let max = store.capabilities().max_value_size;
        let big = "x".repeat(max + 1);
        let err = storage.set_value("big", &big).await.unwrap_err();
        assert!(
            matches!(err, RecordError::Store(Error::ValueTooLarge { .. })),
            "{name}: {err}"
        );
        assert!(
            !storage.value_exists("big").await.unwrap(),
            "{name}: nothing written"
        );
    }
}

#[tokio::test]
async fn delete_is_idempotent_and_exists_follows_the_record() {
    for (name, store) in backends::all().await {
        let storage = backends::storage(&store);
        assert!(!storage.value_exists("k").await.unwrap(), "{name}");
        storage
            .set_value("k", &serde_json::json!({"nested": [1, 2]}))
            .await
            .unwrap();
        assert!(storage.value_exists("k").await.unwrap(), "{name}");
        assert!(storage.delete_value("k").await.unwrap(), "{name}");
        assert!(
            !storage.delete_value("k").await.unwrap(),
            "{name}: second delete succeeds"
        );
        assert!(!storage.value_exists("k").await.unwrap(), "{name}");
    }
}

#[tokio::test]
async fn free_functions_take_explicit_options() {
    let store = store_memory::MemoryStore::new();
    let options = Options::new().context(backends::fresh_context());
    set_record_value(&store, "k", &[1u8, 2], &options)
        .await
        .unwrap();
    assert!(record_value_exists(&store, "k", &options).await.unwrap());
    let other_env = Options::new().context(record_storage::Context::new(
        options.get_context().unwrap().workspace_id(),
        "other",
    ));
    assert!(!record_value_exists(&store, "k", &other_env).await.unwrap());
    let value: Option<Vec<u8>> = get_record_value(&store, "k", &options).await.unwrap();
    assert_eq!(value, Some(vec![1, 2]));
    let insert_only = options.clone().deny_update_overwrite(true);
    let err = set_record_value(&store, "k", &[3u8], &insert_only)
        .await
        .unwrap_err();
    assert!(matches!(err, RecordError::AlreadyExists { .. }));
    assert!(delete_record_value(&store, "k", &options).await.unwrap());
    assert!(!delete_record_value(&store, "k", &options).await.unwrap());
}

#[tokio::test]
async fn records_written_by_other_languages_read_back() {
    use store_core::Store;
    let store = store_memory::MemoryStore::new();
    let storage = record_storage::RecordStorage::new(
        store.clone(),
        Options::new().context(backends::fresh_context()),
    );
    let ns = format!(
        "records/e/{}/env",
        storage.options().get_context().unwrap().workspace_id()
    );
    store
        .set(
            &ns,
            "from-node",
            " {\"a\": 1}".into(),
            store_core::SetOptions::always(),
        )
        .await
        .unwrap();
    let value: serde_json::Value = storage.get_value("from-node").await.unwrap().unwrap();
    assert_eq!(value, serde_json::json!({"a": 1}));
}
