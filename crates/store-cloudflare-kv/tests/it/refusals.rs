//! What Workers KV cannot do is refused, saying what to use instead; what it can do
//! works, with TTLs raised to its 60-second floor.

use std::time::Duration;

use store_core::{Advance, DeleteCondition, Error, Floor, SetOptions, Store, Timestamp};

#[tokio::test]
async fn atomic_operations_are_refused_with_what_to_use_instead() {
    let Some(url) = crate::services::url() else {
        return;
    };
    let store = crate::services::connect(&url).await;
    let caps = store.capabilities();
    assert!(!caps.atomic_incr && !caps.compare_and_set && !caps.strongly_consistent_reads);
    assert_eq!(caps.min_ttl, Duration::from_secs(60));
    let ns = format!("refusals/{}", fastrand::u64(..));
    let v = store
        .set(&ns, "k", "v".into(), SetOptions::always())
        .await
        .unwrap();
    let version = v.version().unwrap();
    let advance = Advance {
        delta: 1,
        headroom: 10,
        floor: Floor::Value(0),
        ttl: None,
    };
    let refusals = [
        store.incr(&ns, "n", 1, None).await.map(|_| ()).unwrap_err(),
        store
            .advance(&ns, "n", advance)
            .await
            .map(|_| ())
            .unwrap_err(),
        store
            .set(&ns, "k", "w".into(), SetOptions::if_absent())
            .await
            .map(|_| ())
            .unwrap_err(),
        store
            .set(&ns, "k", "w".into(), SetOptions::if_present())
            .await
            .map(|_| ())
            .unwrap_err(),
        store
            .set(&ns, "k", "w".into(), SetOptions::if_version(version))
            .await
            .map(|_| ())
            .unwrap_err(),
        store
            .delete(&ns, "k", DeleteCondition::IfVersion(version))
            .await
            .map(|_| ())
            .unwrap_err(),
    ];
    for e in refusals {
        assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
        assert!(e.to_string().contains("Durable Object"), "{e}");
    }
    // Nothing was written by a refusal.
    assert_eq!(&store.get(&ns, "k").await.unwrap().unwrap().value[..], b"v");
    assert!(store.get(&ns, "n").await.unwrap().is_none());
    assert_eq!(store.clear(&ns, "").await.unwrap(), 1);
}

#[tokio::test]
async fn ttls_below_a_minute_are_raised_to_it_and_fractions_rounded_up() {
    let Some(url) = crate::services::url() else {
        return;
    };
    let store = crate::services::connect(&url).await;
    let ns = format!("ttl-floor/{}", fastrand::u64(..));
    for (ttl, kept) in [
        (Duration::from_millis(1), 60),
        (Duration::from_secs(59), 60),
        (Duration::from_millis(90_001), 91),
    ] {
        let before = Timestamp::now().as_millis();
        let opts = SetOptions::always().with_ttl(ttl);
        store.set(&ns, "k", "v".into(), opts).await.unwrap();
        let after = Timestamp::now().as_millis();
        let at = store
            .get(&ns, "k")
            .await
            .unwrap()
            .unwrap()
            .expires_at
            .unwrap()
            .as_millis();
        let (low, high) = (before + kept * 1000 - 1000, after + kept * 1000 + 1000);
        assert!(
            low <= at && at <= high,
            "{ttl:?}: expiry {at} not in [{low}, {high}]"
        );
    }
    store.clear(&ns, "").await.unwrap();
}
