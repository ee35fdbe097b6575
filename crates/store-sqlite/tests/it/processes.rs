//! Several OS processes on one file: 4 processes x 8 tasks x 500 `incr` on one key
//! hand out every value from 1 to 16000 exactly once; 32 stores racing an insert elect
//! one winner.

use store_core::testing::processes::{
    assert_each_value_once, child_arg, count_in_child, values_from_children,
};
use store_core::{Bytes, SetOptions, Store, StoreExt};
use store_sqlite::SqliteStoreBuilder;

const PROCESSES: usize = 4;
const TASKS: usize = 8;
const INCRS: usize = 500;
const TEST: &str = "processes::separate_processes_on_one_file_hand_out_every_value_once";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_processes_on_one_file_hand_out_every_value_once() {
    if let Some(path) = child_arg() {
        let store = SqliteStoreBuilder::file(&path).build().await.expect("open");
        count_in_child(store.into_shared(), "ns", "hits", TASKS, INCRS).await;
        return;
    }
    let path = crate::temp_file();
    // Create the file and table once, before the processes race to open it.
    let store = SqliteStoreBuilder::file(&path).build().await.unwrap();
    let values = values_from_children(TEST, &path.display().to_string(), PROCESSES);
    let total = PROCESSES * TASKS * INCRS;
    assert_each_value_once(&values, total);
    let counter = store.get("ns", "hits").await.unwrap().unwrap();
    assert_eq!(counter.value, Bytes::from(total.to_string()));
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_stores_racing_an_insert_elect_one_winner() {
    let path = crate::temp_file();
    let mut stores = Vec::new();
    for _ in 0..32 {
        stores.push(
            SqliteStoreBuilder::file(&path)
                .pool_size(1)
                .build()
                .await
                .unwrap(),
        );
    }
    for round in 0..5 {
        let key = format!("lock-{round}");
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(stores.len()));
        let racers: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(i, store)| {
                let (store, key, barrier) = (store.clone(), key.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .set(
                            "ns",
                            &key,
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
    }
    let _ = std::fs::remove_file(&path);
}
