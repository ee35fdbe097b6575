//! Several independent store instances (separate connections) sharing keys.

use std::collections::BTreeSet;

use store_core::{Bytes, SetOptions, Store};
use store_redis::{RedisStore, RedisStoreBuilder};

const INSTANCES: usize = 4;
const TASKS: usize = 32;
const INCRS: usize = 50;

async fn instances(url: &str) -> Vec<RedisStore> {
    let mut stores = Vec::new();
    for _ in 0..INSTANCES {
        stores.push(
            RedisStoreBuilder::from_url(url)
                .expect("a valid Redis URL")
                .build()
                .await
                .expect("connect"),
        );
    }
    stores
}

async fn incr_and_race(stores: Vec<RedisStore>) {
    let ns = format!("atomicity/{}", fastrand::u64(..));
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            let store = stores[i % INSTANCES].clone();
            let ns = ns.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for _ in 0..INCRS {
                    seen.push(store.incr(&ns, "hits", 1, None).await.expect("incr").value);
                }
                let claim = store
                    .set(
                        &ns,
                        "lock",
                        Bytes::from(format!("task-{i}")),
                        SetOptions::if_absent(),
                    )
                    .await
                    .expect("set");
                (seen, claim.is_written())
            })
        })
        .collect();
    let mut values = Vec::new();
    let mut winners = 0;
    for handle in handles {
        let (seen, won) = handle.await.expect("task");
        values.extend(seen);
        winners += usize::from(won);
    }
    let total = (TASKS * INCRS) as i64;
    let distinct: BTreeSet<i64> = values.iter().copied().collect();
    assert_eq!(
        distinct,
        (1..=total).collect(),
        "every count handed out exactly once"
    );
    assert_eq!(values.len(), distinct.len());
    assert_eq!(
        winners, 1,
        "exactly one IfAbsent winner across {INSTANCES} connections"
    );
    let final_count = stores[0].incr(&ns, "hits", 0, None).await.expect("read");
    assert_eq!(final_count.value, total);
    stores[0]
        .delete(&ns, "hits", Default::default())
        .await
        .expect("clean");
    stores[0]
        .delete(&ns, "lock", Default::default())
        .await
        .expect("clean");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn separate_connections_count_exactly_and_elect_one_winner_standalone() {
    let Some(url) = crate::services::redis_url() else {
        return;
    };
    incr_and_race(instances(&url).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn separate_connections_count_exactly_and_elect_one_winner_cluster() {
    let Some(url) = crate::services::cluster_url() else {
        return;
    };
    incr_and_race(instances(&url).await).await;
}
