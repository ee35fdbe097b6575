//! Records on Cloudflare Workers KV (in workerd, driven through its test Worker): plain
//! set / get / delete / list work; an insert-only write (`deny_update_overwrite`) is
//! refused, saying what to use instead, and writes nothing.

use record_storage::{Context, KeysRequest, Options, RecordError, RecordStorage};

#[tokio::test]
async fn plain_records_work_and_insert_only_writes_are_refused() {
    let Some(store) = crate::workers_kv_store::worker_store().await else {
        return;
    };
    let ws = format!("kv-{}", fastrand::u64(..));
    let records = RecordStorage::new(store, Options::new().context(Context::new(&ws, "prod")));
    records.set_value("greeting", "hello").await.unwrap();
    let got: Option<String> = records.get_value("greeting").await.unwrap();
    assert_eq!(got.as_deref(), Some("hello"));
    let page = records.get_all_keys(KeysRequest::default()).await.unwrap();
    assert_eq!(page.keys, vec!["greeting".to_owned()]);
    let insert_only = Options::new().deny_update_overwrite(true);
    let err = records
        .set_value_with("other", "x", &insert_only)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RecordError::Store(store_core::Error::Unsupported { reason, .. }) if reason.contains("Durable Object")),
        "{err:?}"
    );
    let other: Option<String> = records.get_value("other").await.unwrap();
    assert!(other.is_none(), "a refused write wrote nothing");
    assert!(records.delete_value("greeting").await.unwrap());
}
