//! One statement per operation (`advance`: one transaction), counted by SQLite's trace
//! hook; errors for a missing table and a file that cannot be opened.

use std::time::Duration;

use store_core::{Advance, Bytes, DeleteCondition, Error, Floor, SetOptions, Store};
use store_sqlite::SqliteStoreBuilder;
use store_sqlite::testing::StatementCounter;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_one_statement() {
    let table = format!("counted_{}", fastrand::u32(..));
    let store = SqliteStoreBuilder::file(crate::temp_file())
        .table(&table)
        .unwrap()
        .build()
        .await
        .unwrap();
    let counter = StatementCounter::start(format!("\"{table}\""));
    let ttl = Some(Duration::from_secs(60));
    let v = |s: &'static str| Bytes::from_static(s.as_bytes());
    let mut counts = Vec::new();
    let mut step =
        |name: &'static str, before: usize| counts.push((name, counter.count() - before));
    let b = counter.count();
    let written = store
        .set("ns", "k", v("a"), SetOptions::always())
        .await
        .unwrap();
    step("set", b);
    let b = counter.count();
    store.get("ns", "k").await.unwrap();
    step("get", b);
    let b = counter.count();
    store.exists("ns", "k").await.unwrap();
    step("exists", b);
    let b = counter.count();
    store
        .set("ns", "k", v("b"), SetOptions::if_absent())
        .await
        .unwrap();
    step("insert", b);
    let b = counter.count();
    store
        .set("ns", "k", v("c"), SetOptions::if_present())
        .await
        .unwrap();
    step("update", b);
    let b = counter.count();
    let cas = SetOptions::if_version(written.version().unwrap());
    store.set("ns", "k", v("d"), cas).await.unwrap();
    step("cas", b);
    let b = counter.count();
    store.incr("ns", "c", 1, ttl).await.unwrap();
    step("incr", b);
    let b = counter.count();
    store.list("ns", "", None, 10).await.unwrap();
    step("list", b);
    let b = counter.count();
    store
        .delete("ns", "k", DeleteCondition::Always)
        .await
        .unwrap();
    step("delete", b);
    let b = counter.count();
    store.clear("ns", "").await.unwrap();
    step("clear", b);
    assert!(
        counts.iter().all(|(_, n)| *n == 1),
        "one statement each: {counts:?}"
    );
    // `advance` reads and writes in one IMMEDIATE transaction.
    let take = Advance {
        delta: 1,
        headroom: 10,
        floor: Floor::Value(0),
        ttl,
    };
    let b = counter.count();
    store.advance("ns", "a", take).await.unwrap();
    assert_eq!(counter.count() - b, 2, "advance: its read and its write");
}

#[tokio::test]
async fn a_missing_table_is_misconfigured_when_not_created() {
    let err = SqliteStoreBuilder::file(crate::temp_file())
        .create_schema(false)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Misconfigured(_)), "{err:?}");
    assert!(err.to_string().contains("fleetstate"), "{err}");
}

#[tokio::test]
async fn a_file_that_cannot_be_opened_is_misconfigured() {
    let err = SqliteStoreBuilder::from_url("sqlite:///nonexistent-dir/sub/state.db")
        .unwrap()
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Misconfigured(_)), "{err:?}");
}
