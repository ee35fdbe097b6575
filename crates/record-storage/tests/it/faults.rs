//! Under faults, on Redis and DynamoDB Local: insert-only writes (`deny_update_overwrite`) through a fault proxy
//! that delays, cuts mid-request, black-holes and resets connections. A write reported
//! as failed was not applied, unless its error says it may have been
//! (`Delivery::MaybeApplied`); a write reported done is there.

use record_storage::{Options, RecordError, RecordStorage};
use store_core::testing::FaultProxy;
use store_core::testing::{Faults, service_url};
use store_core::{Delivery, Error, SharedStore, StoreExt};

const WRITES: usize = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_insert_was_not_applied_unless_its_error_says_it_may_have_been() {
    for (backend, mut proxied, direct) in backends(1).await {
        let (proxy, faulty) = proxied.remove(0);
        inserts_under_faults(backend, &proxy, faulty, direct).await;
    }
}

async fn inserts_under_faults(
    backend: &str,
    proxy: &FaultProxy,
    faulty: SharedStore,
    direct: SharedStore,
) {
    let context = crate::backends::fresh_context();
    let insert_only = Options::new()
        .context(context.clone())
        .deny_update_overwrite(true);
    let through = RecordStorage::new(faulty, insert_only.clone());
    let truth = RecordStorage::new(direct, insert_only);
    proxy.set(Faults::mixed(15));
    let (mut written, mut not_sent, mut maybe) = (0, 0, 0);
    for i in 0..WRITES {
        let key = format!("order-{i}");
        let outcome = through.set_value(&key, &i).await;
        let stored = truth.get_value::<usize>(&key).await.unwrap();
        match outcome {
            Ok(_) => {
                written += 1;
                assert_eq!(
                    stored,
                    Some(i),
                    "{backend} {key}: reported written, not there"
                );
            }
            Err(RecordError::Store(Error::Unavailable {
                delivery: Delivery::MaybeApplied,
                ..
            })) => {
                maybe += 1;
                assert!(
                    stored.is_none() || stored == Some(i),
                    "{backend} {key}: {stored:?}"
                );
            }
            Err(RecordError::Store(e)) => {
                not_sent += 1;
                assert!(!e.may_have_applied());
                assert_eq!(
                    stored, None,
                    "{key}: reported not applied ({e}), yet stored"
                );
            }
            Err(other) => panic!("{key}: an unexpected error under faults: {other}"),
        }
    }
    proxy.set(Faults::none());
    let counts = proxy.counts();
    eprintln!(
        "\ninsert-only under faults on {backend}: {written} written, {not_sent} not applied, {maybe} maybe applied; {counts:?}"
    );
    assert!(
        counts.cuts + counts.black_holes + counts.resets > 0,
        "{counts:?}"
    );
    assert!(
        maybe > 0 && written > 0,
        "faults should leave some writes in doubt"
    );
    truth.clear_scope().await.unwrap();
}

/// Per available backend (Redis, DynamoDB Local): `n` stores, each behind a fault proxy
/// of its own, and a store reaching the server directly.
async fn backends(n: usize) -> Vec<(&'static str, Vec<(FaultProxy, SharedStore)>, SharedStore)> {
    let mut out = Vec::new();
    if let Some(url) = service_url("FLEETSTATE_REDIS_URL") {
        let mut proxied = Vec::new();
        for _ in 0..n {
            let (proxy, store) = store_redis::testing::behind_fault_proxy(&url)
                .await
                .unwrap();
            proxied.push((proxy, store.into_shared()));
        }
        let direct = store_redis::RedisStoreBuilder::from_url(&url)
            .unwrap()
            .build()
            .await
            .unwrap();
        out.push(("Redis", proxied, direct.into_shared()));
    }
    if let Some(endpoint) = service_url("FLEETSTATE_DYNAMODB_ENDPOINT") {
        let table = "fleetstate-faults";
        let mut proxied = Vec::new();
        for _ in 0..n {
            let (proxy, store) = store_dynamodb::testing::behind_fault_proxy(&endpoint, table)
                .await
                .unwrap();
            proxied.push((proxy, store.into_shared()));
        }
        let url = format!("dynamodb://{table}?endpoint={endpoint}&region=us-east-1");
        let direct = store_dynamodb::DynamoStoreBuilder::from_url(&url)
            .unwrap()
            .build()
            .await
            .unwrap();
        out.push(("DynamoDB Local", proxied, direct.into_shared()));
    }
    out
}
