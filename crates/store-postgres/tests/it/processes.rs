//! Exact across processes and instances: 4 OS processes x 8 tasks x 500 `incr` on one
//! key hand out every value from 1 to 16000 exactly once; 32 store instances (a pool
//! each) racing an insert-only write elect one winner.

use store_core::testing::processes::{
    assert_each_value_once, child_arg, count_in_child, values_from_children,
};
use store_core::{Bytes, SetOptions, Store, StoreExt};

const PROCESSES: usize = 4;
const TASKS: usize = 8;
const INCRS: usize = 500;
const TEST: &str = "processes::separate_processes_hand_out_every_counter_value_once";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_processes_hand_out_every_counter_value_once() {
    let Some(url) = crate::services::url() else {
        return;
    };
    let store = crate::services::connect(&url, &crate::services::default_layout()).await;
    if let Some(ns) = child_arg() {
        count_in_child(store.into_shared(), &ns, "hits", TASKS, INCRS).await;
        return;
    }
    let ns = format!("processes/{}", fastrand::u64(..));
    let values = values_from_children(TEST, &ns, PROCESSES);
    let total = PROCESSES * TASKS * INCRS;
    assert_each_value_once(&values, total);
    let counter = store.get(&ns, "hits").await.unwrap().unwrap();
    assert_eq!(counter.value, Bytes::from(total.to_string()));
    store.clear(&ns, "").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_instances_racing_an_insert_elect_one_winner() {
    let Some(url) = crate::services::url() else {
        return;
    };
    let layout = crate::services::default_layout();
    let mut stores = Vec::new();
    for _ in 0..32 {
        stores.push(
            store_postgres::PostgresStoreBuilder::from_url(&url)
                .unwrap()
                .layout(layout.clone())
                .pool_size(1)
                .build()
                .await
                .unwrap(),
        );
    }
    for round in 0..5 {
        let ns = format!("race/{}", fastrand::u64(..));
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(stores.len()));
        let racers: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(i, store)| {
                let (store, ns, barrier) = (store.clone(), ns.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .set(
                            &ns,
                            "lock",
                            Bytes::from(i.to_string()),
                            SetOptions::if_absent(),
                        )
                        .await
                        .expect("insert")
                        .is_written()
                })
            })
            .collect();
        let mut winners = 0;
        for racer in racers {
            winners += usize::from(racer.await.unwrap());
        }
        assert_eq!(winners, 1, "round {round}");
        stores[0].clear(&ns, "").await.unwrap();
    }
}
