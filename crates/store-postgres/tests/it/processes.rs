//! Exact across processes and instances: 4 OS processes x 8 tasks x 500 `incr` on one
//! key hand out every value from 1 to 16000 exactly once; 32 store instances (a pool
//! each) racing an insert-only write elect one winner.

use std::process::Command;

use store_core::{Bytes, SetOptions, Store};

const PROCESSES: usize = 4;
const TASKS: usize = 8;
const INCRS: usize = 500;
/// Set in a child: the namespace to count in.
const CHILD: &str = "FLEETSTATE_PG_CHILD_NAMESPACE";
const TEST: &str = "processes::separate_processes_hand_out_every_counter_value_once";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_processes_hand_out_every_counter_value_once() {
    let Some(url) = crate::services::url() else {
        return;
    };
    let store = crate::services::connect(&url, &crate::services::default_layout()).await;
    if let Ok(ns) = std::env::var(CHILD) {
        // A child: count, and print every value handed out.
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (store, ns) = (store.clone(), ns.clone());
                tokio::spawn(async move {
                    let mut got = Vec::with_capacity(INCRS);
                    for _ in 0..INCRS {
                        got.push(store.incr(&ns, "hits", 1, None).await.expect("incr").value);
                    }
                    got
                })
            })
            .collect();
        // libtest has printed `test ... ` without a newline: start on a line of our own.
        let mut out = String::from("\n");
        for task in tasks {
            for value in task.await.unwrap() {
                out.push_str(&format!("fleetstate-value {value}\n"));
            }
        }
        print!("{out}");
        return;
    }
    let ns = format!("processes/{}", fastrand::u64(..));
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .args([TEST, "--exact", "--nocapture", "--test-threads", "1"])
                .env(CHILD, &ns)
                .output()
        })
        .collect();
    let mut values = Vec::new();
    for child in children {
        let out = child.expect("a child process");
        assert!(
            out.status.success(),
            "child: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        values.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.strip_prefix("fleetstate-value "))
                .map(|v| v.parse::<i64>().unwrap()),
        );
    }
    values.sort_unstable();
    let total = (PROCESSES * TASKS * INCRS) as i64;
    assert_eq!(values.len() as i64, total, "one value per increment");
    if let Some((i, v)) = values
        .iter()
        .enumerate()
        .find(|(i, v)| **v != *i as i64 + 1)
    {
        panic!(
            "value {} handed out {v} in its place: a value repeated or skipped",
            i + 1
        );
    }
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
