//! `status` / `wait_time` (read without taking), cooldowns from `Retry-After` shared by
//! the fleet, and `acquire` spacing waiters evenly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ratelimit::{Policy, Quota};
use store_core::{SharedStore, StoreExt};

use crate::limiter;

fn all_policies(limit: u64, window: Duration) -> [Policy; 3] {
    let quota = Quota::new(limit, window).unwrap();
    [
        Policy::fixed_window(quota),
        Policy::sliding_window(quota),
        Policy::gcra(quota),
    ]
}

fn name() -> String {
    format!("controls-{}", fastrand::u64(..))
}

#[tokio::test]
async fn status_reads_without_taking() {
    let window = Duration::from_secs(3600);
    for policy in all_policies(5, window) {
        crate::clear_of_a_window_edge(window).await;
        let limiter = limiter(
            store_memory::MemoryStore::new().into_shared(),
            &name(),
            policy,
        );
        let fresh = limiter.status("api", "c").await.unwrap();
        assert!(fresh.allowed, "{policy:?}");
        assert_eq!(fresh.remaining, 5, "{policy:?}");
        for _ in 0..3 {
            limiter.check("api", "c").await.unwrap();
        }
        for _ in 0..3 {
            let status = limiter.status("api", "c").await.unwrap();
            assert_eq!(status.remaining, 2, "{policy:?}: status takes nothing");
        }
        assert_eq!(limiter.wait_time("api", "c").await.unwrap(), Duration::ZERO);
        for _ in 0..2 {
            assert!(
                limiter.check("api", "c").await.unwrap().allowed,
                "{policy:?}"
            );
        }
        let exhausted = limiter.status("api", "c").await.unwrap();
        assert!(!exhausted.allowed, "{policy:?}");
        assert_eq!(exhausted.remaining, 0, "{policy:?}");
        let wait = limiter.wait_time("api", "c").await.unwrap();
        // At least the 10 s `clear_of_a_window_edge` leaves in the window (a sliding
        // window's wait ends with its epoch-aligned window, which may be that close).
        assert!(wait > Duration::from_secs(5), "{policy:?}: {wait:?}");
        // `wait_time` is the status's `retry_after`, read a moment later: never longer,
        // and shorter only by the time between the two reads.
        let retry_after = exhausted.retry_after.expect("a refused status says when");
        assert!(
            wait <= retry_after && retry_after - wait < Duration::from_secs(1),
            "{policy:?}: wait_time {wait:?}, retry_after {retry_after:?}"
        );
    }
}

/// A cooldown set through one instance refuses checks on another, then lifts.
async fn cooldown_is_shared(a: SharedStore, b: SharedStore, backend: &str) {
    for policy in all_policies(1000, Duration::from_millis(400)) {
        let name = name();
        let first = limiter(a.clone(), &name, policy);
        let second = limiter(b.clone(), &name, policy);
        assert!(second.check("api", "c").await.unwrap().allowed);
        first
            .cooldown("api", "c", Duration::from_millis(600))
            .await
            .unwrap();
        let refused = second.check("api", "c").await.unwrap();
        assert!(
            !refused.allowed,
            "{backend} {policy:?}: refused during the cooldown"
        );
        let retry = refused.retry_after.unwrap();
        assert!(
            retry <= Duration::from_millis(1000),
            "{backend} {policy:?}: {retry:?}"
        );
        // Fixed window and GCRA lift right after the pause; a sliding window within one
        // window after it.
        tokio::time::sleep(Duration::from_millis(600 + 400 + 100)).await;
        assert!(
            second.check("api", "c").await.unwrap().allowed,
            "{backend} {policy:?}: lifted"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooldown_is_shared_by_every_instance_on_memory() {
    let store = store_memory::MemoryStore::new().into_shared();
    cooldown_is_shared(store.clone(), store, "memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooldown_is_shared_by_every_instance_on_redis() {
    let Some([a, b]) = crate::redis_instances().await else {
        return;
    };
    cooldown_is_shared(a, b, "redis").await;
}

#[tokio::test]
async fn cooldown_from_retry_after_reads_the_header() {
    let limiter = limiter(
        store_memory::MemoryStore::new().into_shared(),
        &name(),
        Policy::fixed_window(Quota::per_minute(100)),
    );
    let pause = limiter
        .cooldown_from_retry_after("api", "c", &http::HeaderValue::from_static("2"))
        .await
        .unwrap();
    assert_eq!(pause, Duration::from_secs(2));
    let refused = limiter.check("api", "c").await.unwrap();
    assert!(!refused.allowed);
    assert!(refused.retry_after.unwrap() > Duration::from_millis(1500));
    let err = limiter
        .cooldown_from_retry_after("api", "other", &http::HeaderValue::from_static("later"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, store_core::Error::InvalidArgument(_)),
        "{err}"
    );
    assert!(
        limiter.check("api", "other").await.unwrap().allowed,
        "a bad header changes nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acquire_spaces_waiters_evenly_instead_of_waking_them_together() {
    // 5 per 500 ms: the next window's 5 units go out one 100 ms slot after another.
    let store = store_memory::MemoryStore::new().into_shared();
    let name = name();
    let policy = Policy::fixed_window(Quota::new(5, Duration::from_millis(500)).unwrap());
    let limiters: Vec<_> = (0..5)
        .map(|_| Arc::new(limiter(store.clone(), &name, policy)))
        .collect();
    for _ in 0..5 {
        assert!(limiters[0].check("api", "c").await.unwrap().allowed);
    }
    let started = Instant::now();
    let handles: Vec<_> = limiters
        .iter()
        .map(|limiter| {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let d = limiter
                    .acquire("api", "c", 1, Duration::from_secs(5))
                    .await
                    .unwrap();
                assert!(d.allowed);
                started.elapsed()
            })
        })
        .collect();
    let mut admitted = Vec::new();
    for handle in handles {
        admitted.push(handle.await.unwrap());
    }
    admitted.sort();
    // Spaced: the five admissions spread over about four 100 ms slots. Woken together
    // at the window's reset they would land within a few milliseconds of each other.
    // (Only the spread is asserted: a loaded machine delays wake-ups, never advances them.)
    let spread = *admitted.last().unwrap() - admitted[0];
    let bunched = admitted
        .windows(2)
        .filter(|w| w[1] - w[0] < Duration::from_millis(30))
        .count();
    assert!(
        spread >= Duration::from_millis(250) && bunched <= 1,
        "admissions {admitted:?} are not spaced"
    );
    assert!(
        *admitted.last().unwrap() < Duration::from_millis(2500),
        "{admitted:?}"
    );
}
