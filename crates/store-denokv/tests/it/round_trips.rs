//! Round trips per operation, counted at the transport: what the store's docs promise.

use std::time::Duration;

use store_core::{DeleteCondition, SetOptions, Store};

#[tokio::test]
async fn each_operation_costs_what_the_docs_say() {
    let Some(url) = crate::services::url() else {
        return;
    };
    let store = crate::services::connect(&url).await;
    let ns = format!("round-trips/{}", fastrand::u64(..));
    let mut last = store.requests();
    let mut costs = |what: &str, expected: u64| {
        let now = store.requests();
        let spent = (now - last).data();
        last = now;
        assert_eq!(spent, expected, "{what}");
    };
    store
        .set(&ns, "a", "1".into(), SetOptions::always())
        .await
        .unwrap();
    costs("set", 1);
    store.get(&ns, "a").await.unwrap();
    costs("get", 1);
    store.exists(&ns, "a").await.unwrap();
    costs("exists", 1);
    store
        .set(&ns, "new", "1".into(), SetOptions::if_absent())
        .await
        .unwrap();
    costs("set if absent, a new key", 1);
    store
        .set(&ns, "a", "2".into(), SetOptions::if_absent())
        .await
        .unwrap();
    costs("set if absent, a live key (rejected with it)", 2);
    let v = store.get(&ns, "a").await.unwrap().unwrap().version;
    costs("get", 1);
    store
        .set(&ns, "a", "3".into(), SetOptions::if_version(v))
        .await
        .unwrap();
    costs("set if version", 2);
    store
        .set(&ns, "a", "4".into(), SetOptions::if_present())
        .await
        .unwrap();
    costs("set if present", 2);
    store
        .incr(&ns, "n", 1, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    costs("incr, creating", 2);
    store.incr(&ns, "n", 1, None).await.unwrap();
    costs("incr", 2);
    store
        .delete(&ns, "a", DeleteCondition::Always)
        .await
        .unwrap();
    costs("delete", 2);
    store
        .delete(&ns, "missing", DeleteCondition::Always)
        .await
        .unwrap();
    costs("delete of a missing key (a read only)", 1);
    store.list(&ns, "", None, 10).await.unwrap();
    costs("list", 1);
    store.clear(&ns, "").await.unwrap();
}
