//! `get_all_keys` pages with `last_evaluated_key`; `keys()` walks them all.

use std::collections::BTreeSet;

use futures::TryStreamExt;
use record_storage::{KeysRequest, Options, Scope, get_keys_of_all_records};

use crate::backends;

#[tokio::test]
async fn pages_cover_every_key_once_for_each_page_size() {
    for (name, store) in backends::all().await {
        let storage = backends::storage(&store);
        let written: BTreeSet<String> = (0..23).map(|i| format!("key/{i}:#{{x}}")).collect();
        for key in &written {
            storage.set_value(key, &1).await.unwrap();
        }
        // A record of another scope must not show up.
        storage
            .set_value_with("elsewhere", &1, &Options::new().scope(Scope::Workspace))
            .await
            .unwrap();
        for limit in [1, 2, 5, 7, 23, 100] {
            let mut seen = Vec::new();
            let mut last_evaluated_key = None;
            loop {
                let request = KeysRequest::default()
                    .limit(limit)
                    .last_evaluated_key(last_evaluated_key);
                let page = storage.get_all_keys(request).await.unwrap();
                assert!(page.keys.len() <= limit, "{name}: page over its limit");
                seen.extend(page.keys);
                match page.last_evaluated_key {
                    Some(next) => last_evaluated_key = Some(next),
                    None => break,
                }
            }
            let unique: BTreeSet<String> = seen.iter().cloned().collect();
            assert_eq!(
                unique.len(),
                seen.len(),
                "{name}: duplicates with limit {limit}"
            );
            assert_eq!(unique, written, "{name}: limit {limit}");
        }
        let streamed: BTreeSet<String> = storage.keys().try_collect().await.unwrap();
        assert_eq!(streamed, written, "{name}: keys() stream");
    }
}

#[tokio::test]
async fn prefix_filters_and_free_function_pages_the_same() {
    let store = store_memory::MemoryStore::new();
    let context = backends::fresh_context();
    let options = Options::new().context(context);
    for key in ["session:1", "session:2", "token:1"] {
        record_storage::set_record_value(&store, key, &key, &options)
            .await
            .unwrap();
    }
    let page = get_keys_of_all_records(&store, KeysRequest::default().prefix("session:"), &options)
        .await
        .unwrap();
    assert_eq!(page.keys, ["session:1", "session:2"]);
    assert_eq!(page.last_evaluated_key, None);
}

#[tokio::test]
async fn a_garbage_last_evaluated_key_is_a_clear_error() {
    let storage = backends::storage(&store_core::StoreExt::into_shared(
        store_memory::MemoryStore::new(),
    ));
    let err = storage
        .get_all_keys(KeysRequest::default().last_evaluated_key(Some("not a cursor".into())))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            record_storage::RecordError::Store(store_core::Error::InvalidCursor(_))
        ),
        "{err:?}"
    );
}
