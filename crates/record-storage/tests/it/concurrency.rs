//! Atomic claims hammered from many tasks, on every backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use record_storage::{Options, RecordError};

use crate::backends;

const TASKS: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_32_insert_only_writers_exactly_one_wins() {
    for (name, store) in backends::all().await {
        let storage = backends::storage(&store);
        let handles: Vec<_> = (0..TASKS)
            .map(|task| {
                let storage = storage.clone();
                tokio::spawn(async move {
                    let insert_only = Options::new().deny_update_overwrite(true);
                    storage.set_value_with("claim", &task, &insert_only).await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for (task, handle) in handles.into_iter().enumerate() {
            match handle.await.unwrap() {
                Ok(_) => winners.push(task),
                Err(RecordError::AlreadyExists { key }) => assert_eq!(key, "claim"),
                Err(other) => panic!("{name}: unexpected error {other}"),
            }
        }
        assert_eq!(winners.len(), 1, "{name}: winners {winners:?}");
        let stored: usize = storage.get_value("claim").await.unwrap().unwrap();
        assert_eq!(stored, winners[0], "{name}: the winner's value is stored");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn update_loop_loses_no_update_under_32_tasks() {
    const PER_TASK: u64 = 5;
    for (name, store) in backends::all().await {
        let storage = backends::storage(&store);
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                let storage = storage.clone();
                tokio::spawn(async move {
                    for _ in 0..PER_TASK {
                        storage
                            .update_value("counter", |n: Option<u64>| n.unwrap_or(0) + 1)
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
        let total: u64 = storage.get_value("counter").await.unwrap().unwrap();
        assert_eq!(total, TASKS as u64 * PER_TASK, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn set_value_if_version_has_one_winner_per_version() {
    for (name, store) in backends::all().await {
        let storage = backends::storage(&store);
        let v1 = storage.set_value("doc", &"v1").await.unwrap();
        let handles: Vec<_> = (0..TASKS)
            .map(|task| {
                let storage = storage.clone();
                tokio::spawn(async move { storage.set_value_if_version("doc", &task, v1).await })
            })
            .collect();
        let mut wins = 0;
        for handle in handles {
            match handle.await.unwrap() {
                Ok(_) => wins += 1,
                Err(RecordError::VersionMismatch { expected, .. }) => assert_eq!(expected, v1),
                Err(other) => panic!("{name}: {other}"),
            }
        }
        assert_eq!(wins, 1, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_or_set_with_computes_once_among_concurrent_callers() {
    for (name, store) in backends::all().await {
        let storage = backends::storage(&store);
        let computed = Arc::new(AtomicU32::new(0));
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                let (storage, computed) = (storage.clone(), computed.clone());
                tokio::spawn(async move {
                    storage
                        .get_or_set_with("expensive", Duration::from_secs(60), || async move {
                            computed.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            "computed".to_owned()
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.await.unwrap(), "computed", "{name}");
        }
        assert_eq!(computed.load(Ordering::SeqCst), 1, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_or_set_with_agrees_on_one_value_across_instances() {
    for (name, store) in backends::all().await {
        // Separate instances share no in-process lock: the insert-only write decides.
        let first = backends::storage(&store);
        let context = first.options().get_context().unwrap().clone();
        let handles: Vec<_> = (0..8u32)
            .map(|i| {
                let storage = record_storage::RecordStorage::new(
                    store.clone(),
                    Options::new().context(context.clone()),
                );
                tokio::spawn(async move {
                    storage
                        .get_or_set_with("shared", Duration::from_secs(60), || async move { i })
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut seen = Vec::new();
        for handle in handles {
            seen.push(handle.await.unwrap());
        }
        seen.dedup();
        assert_eq!(
            seen.len(),
            1,
            "{name}: every instance got the stored value: {seen:?}"
        );
    }
}

/// The value `get_or_set_with` stores lives for its TTL: read again before it expires it
/// is the stored one, and after it expires the next call computes and stores anew.
#[tokio::test]
async fn get_or_set_with_recomputes_after_the_ttl() {
    for (name, store) in backends::all().await {
        let storage = backends::storage(&store);
        let computed = AtomicU32::new(0);
        let compute = || async { computed.fetch_add(1, Ordering::SeqCst) + 1 };
        let ttl = Duration::from_millis(600);
        let first: u32 = storage.get_or_set_with("rate", ttl, compute).await.unwrap();
        let again: u32 = storage.get_or_set_with("rate", ttl, compute).await.unwrap();
        assert_eq!(
            (first, again),
            (1, 1),
            "{name}: stored value reused within the TTL"
        );
        tokio::time::sleep(ttl + Duration::from_millis(300)).await;
        let after: u32 = storage.get_or_set_with("rate", ttl, compute).await.unwrap();
        assert_eq!(after, 2, "{name}: recomputed after the TTL");
        assert_eq!(computed.load(Ordering::SeqCst), 2, "{name}");
        assert_eq!(
            storage.get_value::<u32>("rate").await.unwrap(),
            Some(2),
            "{name}"
        );
    }
}
