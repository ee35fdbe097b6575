//! Several OS processes on one store: a test runs its own binary again as children.

use std::process::{Command, Stdio};

use crate::{SharedStore, Store};

/// Set in a child: what its parent passed it (a namespace, a file path).
pub const CHILD_ARG: &str = "FLEETSTATE_TEST_CHILD_ARG";

/// Tests only: the argument of this process when it is a child started by
/// [`values_from_children`]; `None` in the parent.
pub fn child_arg() -> Option<String> {
    std::env::var(CHILD_ARG).ok()
}

/// Tests only, in a child: `tasks` tasks each making `incrs` calls of `incr(ns, key, 1)`
/// on `store` (shared by the tasks), then every value handed out printed to stdout, one
/// `fleetstate-value N` line each, for the parent to gather.
///
/// Panics when an `incr` fails: the child fails and the parent reports it.
#[allow(clippy::print_stdout)]
pub async fn count_in_child(store: SharedStore, ns: &str, key: &str, tasks: usize, incrs: usize) {
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (store, ns, key) = (store.clone(), ns.to_owned(), key.to_owned());
            tokio::spawn(async move {
                let mut got = Vec::with_capacity(incrs);
                for _ in 0..incrs {
                    got.push(store.incr(&ns, &key, 1, None).await.expect("incr").value);
                }
                got
            })
        })
        .collect();
    // libtest has printed `test ... ` without a newline: start on a line of our own.
    let mut out = String::from("\n");
    for handle in handles {
        for value in handle.await.expect("a counting task") {
            out.push_str(&format!("fleetstate-value {value}\n"));
        }
    }
    print!("{out}");
}

/// Tests only, in the parent: starts `processes` children at once (this test binary
/// running only the test `test`, with `arg` in [`CHILD_ARG`]), waits for all of them,
/// and returns every value they printed, sorted.
///
/// Panics when a child cannot start or fails, with its stderr.
pub fn values_from_children(test: &str, arg: &str, processes: usize) -> Vec<i64> {
    let exe = std::env::current_exe().expect("the test binary");
    // All started before any is waited for: the processes race each other.
    let children: Vec<_> = (0..processes)
        .map(|_| {
            Command::new(&exe)
                .args([test, "--exact", "--nocapture", "--test-threads", "1"])
                .env(CHILD_ARG, arg)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("a child process")
        })
        .collect();
    let mut values = Vec::new();
    for child in children {
        let out = child.wait_with_output().expect("a child's output");
        assert!(
            out.status.success(),
            "child: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        values.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.strip_prefix("fleetstate-value "))
                .map(|v| v.parse::<i64>().expect("a value")),
        );
    }
    values.sort_unstable();
    values
}

/// Tests only: asserts the sorted `values` are exactly `1..=total`, each once.
pub fn assert_each_value_once(values: &[i64], total: usize) {
    assert_eq!(values.len(), total, "one value per increment");
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
}
