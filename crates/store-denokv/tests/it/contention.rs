//! The compare-and-set loop under contention: 32 tasks over 4 clients incrementing one
//! key never give up at the default bound and net exactly their count; with a bound of
//! 2 rounds the give-ups are `Unavailable`, retryable, and applied nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use store_core::{Error, Store};
use store_denokv::{DenoKvStore, DenoKvStoreBuilder};

const TASKS: usize = 32;
const INCRS: usize = 40;

/// Runs the race; returns (increments applied, give-ups).
async fn race(stores: &[DenoKvStore], ns: &str) -> (u64, u64) {
    let applied = Arc::new(AtomicU64::new(0));
    let gave_up = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = stores[t % stores.len()].clone();
            let (ns, applied, gave_up) = (ns.to_owned(), applied.clone(), gave_up.clone());
            tokio::spawn(async move {
                for _ in 0..INCRS {
                    match store.incr(&ns, "hot", 1, None).await {
                        Ok(_) => applied.fetch_add(1, Ordering::SeqCst),
                        Err(e @ Error::Unavailable { .. }) if e.is_retryable() => {
                            assert!(e.to_string().contains("compare-and-set rounds"), "{e}");
                            gave_up.fetch_add(1, Ordering::SeqCst)
                        }
                        Err(e) => panic!("{e:?}"),
                    };
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (
        applied.load(Ordering::SeqCst),
        gave_up.load(Ordering::SeqCst),
    )
}

async fn counted(store: &DenoKvStore, ns: &str) -> u64 {
    let entry = store.get(ns, "hot").await.unwrap().unwrap();
    std::str::from_utf8(&entry.value).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_tasks_on_one_counter_never_give_up_and_count_exactly() {
    let Some(url) = crate::services::url() else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(crate::services::connect(&url).await);
    }
    let ns = format!("contention/{}", fastrand::u64(..));
    let before: u64 = stores.iter().map(|s| s.requests().writes).sum();
    let (applied, gave_up) = race(&stores, &ns).await;
    let writes: u64 = stores.iter().map(|s| s.requests().writes).sum::<u64>() - before;
    eprintln!(
        "\n32 tasks x {INCRS} incr, default bound: {applied} applied, {gave_up} gave up, \
         {:.1} checked writes per increment",
        writes as f64 / applied.max(1) as f64
    );
    assert_eq!(gave_up, 0, "the default bound is never reached by 32 tasks");
    assert_eq!(counted(&stores[0], &ns).await, applied);
    stores[0].clear(&ns, "").await.unwrap();

    // A bound of 2: some give up, and the counter holds exactly the applied ones.
    let mut tight = Vec::new();
    for _ in 0..4 {
        let store = DenoKvStoreBuilder::from_url(&url)
            .unwrap()
            .max_rounds(2)
            .build()
            .await;
        tight.push(store.unwrap());
    }
    let (applied, gave_up) = race(&tight, &ns).await;
    eprintln!("32 tasks x {INCRS} incr, max_rounds 2: {applied} applied, {gave_up} gave up");
    assert!(
        gave_up > 0,
        "a bound of 2 rounds is reached under this contention"
    );
    assert_eq!(applied + gave_up, (TASKS * INCRS) as u64);
    assert_eq!(
        counted(&tight[0], &ns).await,
        applied,
        "a give-up applied nothing"
    );
    tight[0].clear(&ns, "").await.unwrap();
}
