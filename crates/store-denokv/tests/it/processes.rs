//! Exact across processes: 4 OS processes x 8 tasks x 500 `incr` on one key hand out
//! every value from 1 to 16000 exactly once (the compare-and-set loop on versionstamps).

use std::process::Command;

use store_core::{Bytes, Store};

const PROCESSES: usize = 4;
const TASKS: usize = 8;
const INCRS: usize = 500;
/// Set in a child: the namespace to count in.
const CHILD: &str = "FLEETSTATE_DENOKV_CHILD_NAMESPACE";
const TEST: &str = "processes::separate_processes_hand_out_every_counter_value_once";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_processes_hand_out_every_counter_value_once() {
    let Some(url) = crate::services::url() else {
        return;
    };
    let store = crate::services::connect(&url).await;
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
