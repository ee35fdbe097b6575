//! One request per operation, counted by an SDK interceptor.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use store_core::{Bytes, DeleteCondition, Error, SetOptions, SetOutcome, Store};
use store_dynamodb::testing::RequestCounter;
use store_dynamodb::{DynamoStore, DynamoStoreBuilder, TableLayout, aws_sdk_dynamodb};

async fn counted(layout: TableLayout, table: &str) -> Option<(DynamoStore, RequestCounter)> {
    let endpoint = crate::support::endpoint()?;
    let plain = Client::from_conf(crate::support::client_config(&endpoint).build());
    store_dynamodb::create_table(&plain, table, &layout)
        .await
        .unwrap();
    let counter = RequestCounter::default();
    let config = crate::support::client_config(&endpoint)
        .interceptor(counter.clone())
        .build();
    let store = DynamoStoreBuilder::from_client(Client::from_conf(config), table)
        .layout(layout)
        .build()
        .await
        .unwrap();
    Some((store, counter))
}

async fn requests_of<T>(
    count: &RequestCounter,
    op: impl std::future::Future<Output = T>,
) -> (T, usize) {
    let before = count.count();
    let out = op.await;
    (out, count.count() - before)
}

#[tokio::test]
async fn every_operation_is_one_request_including_a_rejected_conditional_set() {
    let Some((store, count)) = counted(TableLayout::default(), "fleetstate-simple").await else {
        return;
    };
    let ns = format!("requests/{}", fastrand::u64(..));
    let ttl = Some(Duration::from_secs(60));

    let (written, n) = requests_of(
        &count,
        store.set(&ns, "k", Bytes::from("v"), SetOptions::always()),
    )
    .await;
    let version = written.unwrap().version().unwrap();
    assert_eq!(n, 1, "set");
    let (got, n) = requests_of(&count, store.get(&ns, "k")).await;
    assert!(got.unwrap().is_some());
    assert_eq!(n, 1, "get");
    let (rejected, n) = requests_of(
        &count,
        store.set(&ns, "k", Bytes::from("w"), SetOptions::if_absent()),
    )
    .await;
    assert!(
        matches!(rejected.unwrap(), SetOutcome::Rejected { current: Some(e) } if e.value == "v")
    );
    assert_eq!(n, 1, "rejected IfAbsent: no follow-up GetItem");
    let (cas, n) = requests_of(
        &count,
        store.set(&ns, "k", Bytes::from("x"), SetOptions::if_version(version)),
    )
    .await;
    assert!(cas.unwrap().is_written());
    assert_eq!(n, 1, "CAS set");
    let (first, n) = requests_of(&count, store.incr(&ns, "c", 1, ttl)).await;
    assert_eq!(first.unwrap().value, 1);
    assert_eq!(n, 1, "incr creating the counter");
    let (second, n) = requests_of(&count, store.incr(&ns, "c", 1, ttl)).await;
    assert_eq!(second.unwrap().value, 2);
    assert_eq!(n, 1, "incr of a live counter");
    let (removed, n) = requests_of(&count, store.delete(&ns, "k", DeleteCondition::Always)).await;
    assert!(removed.unwrap());
    assert_eq!(n, 1, "delete");
    let (removed, n) = requests_of(
        &count,
        store.delete(&ns, "c", DeleteCondition::IfVersion(version)),
    )
    .await;
    assert!(!removed.unwrap());
    assert_eq!(n, 1, "conditional delete");
}

#[tokio::test]
async fn list_in_a_composite_layout_is_one_query_per_page() {
    let Some((store, count)) =
        counted(TableLayout::composite("pk", "sk"), "fleetstate-composite").await
    else {
        return;
    };
    let ns = format!("requests/{}", fastrand::u64(..));
    for i in 0..5 {
        store
            .set(&ns, &format!("k{i}"), Bytes::new(), SetOptions::always())
            .await
            .unwrap();
    }
    let (page, n) = requests_of(&count, store.list(&ns, "", None, 10)).await;
    assert_eq!(page.unwrap().keys.len(), 5);
    assert_eq!(n, 1, "one Query");
}

#[tokio::test]
async fn an_oversized_value_fails_before_any_request() {
    let Some((store, count)) = counted(TableLayout::default(), "fleetstate-simple").await else {
        return;
    };
    let max = store.capabilities().max_value_size;
    let (result, n) = requests_of(
        &count,
        store.set(
            "requests",
            "big",
            Bytes::from(vec![0u8; max + 1]),
            SetOptions::always(),
        ),
    )
    .await;
    match result {
        Err(Error::ValueTooLarge { size, max: m }) => assert_eq!((size, m), (max + 1, max)),
        other => panic!("expected ValueTooLarge, got {other:?}"),
    }
    assert_eq!(n, 0, "nothing was sent");
    assert!(max > 400_000, "the bound leaves room for the value: {max}");
}
