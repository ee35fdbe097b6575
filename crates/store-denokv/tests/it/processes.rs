//! Exact across processes: 4 OS processes x 8 tasks x 500 `incr` on one key hand out
//! every value from 1 to 16000 exactly once (the compare-and-set loop on versionstamps).

use store_core::testing::processes::{
    assert_each_value_once, child_arg, count_in_child, values_from_children,
};
use store_core::{Bytes, Store, StoreExt};

const PROCESSES: usize = 4;
const TASKS: usize = 8;
const INCRS: usize = 500;
const TEST: &str = "processes::separate_processes_hand_out_every_counter_value_once";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_processes_hand_out_every_counter_value_once() {
    let Some(url) = crate::services::url() else {
        return;
    };
    let store = crate::services::connect(&url).await;
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
