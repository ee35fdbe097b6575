use std::time::Duration;

use store_core::{Bytes, Error, ManualClock, SetOptions, Store};
use store_memory::{ENTRY_OVERHEAD, EvictionPolicy, MemoryStore};

fn value(n: usize) -> Bytes {
    Bytes::from(vec![b'x'; n])
}

#[tokio::test]
async fn reject_policy_refuses_writes_past_max_entries_and_keeps_everything() {
    let store = MemoryStore::builder().shards(4).max_entries(3).build();
    for key in ["a", "b", "c"] {
        store
            .set("ns", key, value(1), SetOptions::always())
            .await
            .unwrap();
    }
    let err = store
        .set("ns", "d", value(1), SetOptions::always())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CapacityExceeded(_)), "{err:?}");
    assert!(err.to_string().contains("max_entries: Some(3)"), "{err}");
    let err = store.incr("ns", "counter", 1, None).await.unwrap_err();
    assert!(matches!(err, Error::CapacityExceeded(_)), "{err:?}");
    // Overwriting an existing key needs no room.
    store
        .set("ns", "a", value(2), SetOptions::always())
        .await
        .unwrap();
    for key in ["a", "b", "c"] {
        assert!(
            store.get("ns", key).await.unwrap().is_some(),
            "{key} was dropped"
        );
    }
    assert_eq!(store.usage().entries, 3);
}

#[tokio::test]
async fn expired_entries_are_reclaimed_before_refusing() {
    let clock = ManualClock::starting_now();
    let store = MemoryStore::builder()
        .clock(clock.clone())
        .max_entries(2)
        .build();
    let short = SetOptions::always().with_ttl(Duration::from_secs(1));
    store.set("ns", "a", value(1), short).await.unwrap();
    store.set("ns", "b", value(1), short).await.unwrap();
    clock.advance(Duration::from_secs(2));
    store
        .set("ns", "c", value(1), SetOptions::always())
        .await
        .unwrap();
    store
        .set("ns", "d", value(1), SetOptions::always())
        .await
        .unwrap();
    assert_eq!(store.usage().entries, 2);
}

#[tokio::test]
async fn max_bytes_counts_namespace_key_value_and_overhead() {
    let entry = "ns".len() + "k0".len() + 100 + ENTRY_OVERHEAD;
    let store = MemoryStore::builder().max_bytes(entry * 2).build();
    store
        .set("ns", "k0", value(100), SetOptions::always())
        .await
        .unwrap();
    store
        .set("ns", "k1", value(100), SetOptions::always())
        .await
        .unwrap();
    assert_eq!(store.usage().bytes, entry * 2);
    let err = store
        .set("ns", "k2", value(100), SetOptions::always())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CapacityExceeded(_)), "{err:?}");
    // Shrinking a value frees bytes for another entry.
    store
        .set("ns", "k0", value(0), SetOptions::always())
        .await
        .unwrap();
    store
        .set("ns", "k2", value(0), SetOptions::always())
        .await
        .unwrap();
    assert_eq!(store.usage().bytes, (entry - 100) + entry + (entry - 100));
    let err = store
        .set("ns", "huge", value(entry * 3), SetOptions::always())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("can never fit"), "{err}");
}

#[tokio::test]
async fn lru_policy_evicts_the_least_recently_used_entry() {
    let clock = ManualClock::starting_now();
    let store = MemoryStore::builder()
        .shards(1)
        .clock(clock.clone())
        .max_entries(4)
        .eviction(EvictionPolicy::LeastRecentlyUsed)
        .build();
    for key in ["a", "b", "c", "d"] {
        store
            .set("ns", key, value(1), SetOptions::always())
            .await
            .unwrap();
        clock.advance(Duration::from_millis(10));
    }
    // Touch everything but "b", which becomes the least recently used.
    for key in ["a", "c", "d"] {
        store.get("ns", key).await.unwrap();
        clock.advance(Duration::from_millis(10));
    }
    store
        .set("ns", "e", value(1), SetOptions::always())
        .await
        .unwrap();
    assert!(
        store.get("ns", "b").await.unwrap().is_none(),
        "b should be evicted"
    );
    for key in ["a", "c", "d", "e"] {
        assert!(
            store.get("ns", key).await.unwrap().is_some(),
            "{key} was evicted"
        );
    }
    assert_eq!(store.usage().entries, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bound_holds_exactly_under_concurrent_writers() {
    let store = MemoryStore::builder().shards(8).max_entries(100).build();
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut written = 0;
                for i in 0..50 {
                    match store
                        .set("ns", &format!("{t}-{i}"), value(1), SetOptions::always())
                        .await
                    {
                        Ok(_) => written += 1,
                        Err(Error::CapacityExceeded(_)) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                written
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 100, "exactly max_entries writes succeed");
    assert_eq!(store.usage().entries, 100);
    let mut listed = 0;
    let mut cursor = None;
    loop {
        let page = store.list("ns", "", cursor.as_ref(), 1000).await.unwrap();
        listed += page.keys.len();
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(listed, 100);
}
