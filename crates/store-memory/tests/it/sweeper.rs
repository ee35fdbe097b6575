use std::time::Duration;

use store_core::{Bytes, ManualClock, SetOptions, Store};
use store_memory::MemoryStore;

#[tokio::test]
async fn purge_expired_reclaims_only_expired_entries() {
    let clock = ManualClock::starting_now();
    let store = MemoryStore::builder().clock(clock.clone()).build();
    let short = SetOptions::always().with_ttl(Duration::from_secs(1));
    for i in 0..10 {
        store
            .set("ns", &format!("short-{i}"), Bytes::new(), short)
            .await
            .unwrap();
        store
            .set(
                "ns",
                &format!("keep-{i}"),
                Bytes::new(),
                SetOptions::always(),
            )
            .await
            .unwrap();
    }
    assert_eq!(store.usage().entries, 20);
    clock.advance(Duration::from_secs(2));
    assert_eq!(store.purge_expired(), 10);
    assert_eq!(store.usage().entries, 10);
    assert_eq!(
        store.list("ns", "", None, 100).await.unwrap().keys.len(),
        10
    );
}

#[tokio::test(start_paused = true)]
async fn sweeper_task_purges_in_the_background_and_stops_when_dropped() {
    let clock = ManualClock::starting_now();
    let store = MemoryStore::builder().clock(clock.clone()).build();
    let sweeper = store.spawn_sweeper(Duration::from_secs(5));
    let short = SetOptions::always().with_ttl(Duration::from_secs(1));
    store.set("ns", "a", Bytes::new(), short).await.unwrap();
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        store.usage().entries,
        1,
        "lazy expiry keeps the slot until reclaimed"
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        store.usage().entries,
        0,
        "sweeper reclaimed the expired entry"
    );

    drop(sweeper);
    store.set("ns", "b", Bytes::new(), short).await.unwrap();
    clock.advance(Duration::from_secs(2));
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(store.usage().entries, 1, "a dropped sweeper no longer runs");
}
