//! Several OS processes on one file: 4 processes x 8 tasks x 500 `incr` on one key
//! hand out every value from 1 to 16000 exactly once; 32 stores racing an insert elect
//! one winner.

use std::process::Command;

use store_core::{Bytes, SetOptions, Store};
use store_sqlite::SqliteStoreBuilder;

const PROCESSES: usize = 4;
const TASKS: usize = 8;
const INCRS: usize = 500;
/// Set in a child: the file to count in.
const CHILD: &str = "FLEETSTATE_SQLITE_CHILD_FILE";
const TEST: &str = "processes::separate_processes_on_one_file_hand_out_every_value_once";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_processes_on_one_file_hand_out_every_value_once() {
    if let Ok(path) = std::env::var(CHILD) {
        let store = SqliteStoreBuilder::file(&path).build().await.expect("open");
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut got = Vec::with_capacity(INCRS);
                    for _ in 0..INCRS {
                        got.push(store.incr("ns", "hits", 1, None).await.expect("incr").value);
                    }
                    got
                })
            })
            .collect();
        // libtest has printed `test ... ` without a newline: start a line of our own.
        let mut out = String::from("\n");
        for task in tasks {
            for value in task.await.unwrap() {
                out.push_str(&format!("fleetstate-value {value}\n"));
            }
        }
        print!("{out}");
        return;
    }
    let path = crate::temp_file();
    // Create the file and table once, before the processes race to open it.
    let store = SqliteStoreBuilder::file(&path).build().await.unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .args([TEST, "--exact", "--nocapture", "--test-threads", "1"])
                .env(CHILD, &path)
                .spawn_and_wait()
        })
        .collect();
    let mut values = Vec::new();
    for child in children {
        let out = child;
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
    let counter = store.get("ns", "hits").await.unwrap().unwrap();
    assert_eq!(counter.value, Bytes::from(total.to_string()));
    let _ = std::fs::remove_file(&path);
}

/// Runs the children at once, then waits for each.
trait SpawnAndWait {
    fn spawn_and_wait(&mut self) -> std::process::Output;
}

impl SpawnAndWait for Command {
    fn spawn_and_wait(&mut self) -> std::process::Output {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("a child process")
            .wait_with_output()
            .expect("its output")
    }
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
