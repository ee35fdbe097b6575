//! One round trip per operation, counted on the wire: a proxy in front of the server
//! counts the messages that end a round trip (`Sync`, `Query`).

use std::time::Duration;

use store_core::{Advance, Bytes, DeleteCondition, Floor, SetOptions, Store};
use store_postgres::PostgresStoreBuilder;
use store_postgres::testing::WireProxy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_one_round_trip() {
    let Some(url) = crate::services::url() else {
        return;
    };
    // Make sure the table exists, through a direct connection.
    crate::services::connect(&url, &crate::services::default_layout()).await;
    let proxy = WireProxy::start(crate::services::host_port(&url))
        .await
        .unwrap();
    let through = crate::services::through_proxy(&url, proxy.port());
    // One connection, so every statement is prepared on it during the warm-up.
    let store = PostgresStoreBuilder::from_url(&through)
        .unwrap()
        .pool_size(1)
        .build()
        .await
        .unwrap();
    let ns = format!("round-trips/{}", fastrand::u64(..));
    let ttl = Some(Duration::from_secs(60));
    let take = Advance {
        delta: 1,
        headroom: 1_000_000,
        floor: Floor::Clock,
        ttl,
    };
    let v = |s: &'static str| Bytes::from_static(s.as_bytes());
    // Warm-up: every statement once (each prepares on the connection).
    let ops = || async {
        let written = store
            .set(&ns, "k", v("a"), SetOptions::always())
            .await
            .unwrap();
        let version = written.version().unwrap();
        vec![
            ("get", store.get(&ns, "k").await.map(drop)),
            ("exists", store.exists(&ns, "k").await.map(drop)),
            (
                "insert",
                store
                    .set(&ns, "k", v("b"), SetOptions::if_absent())
                    .await
                    .map(drop),
            ),
            (
                "update",
                store
                    .set(&ns, "k", v("c"), SetOptions::if_present())
                    .await
                    .map(drop),
            ),
            (
                "cas",
                store
                    .set(&ns, "k", v("d"), SetOptions::if_version(version))
                    .await
                    .map(drop),
            ),
            ("incr", store.incr(&ns, "c", 1, ttl).await.map(drop)),
            ("advance", store.advance(&ns, "a", take).await.map(drop)),
            ("list", store.list(&ns, "", None, 10).await.map(drop)),
            (
                "delete if version",
                store
                    .delete(&ns, "c", DeleteCondition::IfVersion(version))
                    .await
                    .map(drop),
            ),
            (
                "delete",
                store
                    .delete(&ns, "k", DeleteCondition::Always)
                    .await
                    .map(drop),
            ),
        ]
    };
    for (name, result) in ops().await {
        result.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // Counted: the unconditional set, then each operation.
    let before = proxy.round_trips();
    let results = ops().await;
    let sent = proxy.round_trips() - before;
    for (name, result) in &results {
        assert!(result.is_ok(), "{name}: {result:?}");
    }
    assert_eq!(
        sent,
        1 + results.len(),
        "one round trip per operation (set, then {:?})",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    store.clear(&ns, "").await.unwrap();
}
