//! Store operations per check, pacing, windows and refusals, on the memory store
//! through a counting wrapper (counts calls; forwards everything to the real store).

use std::time::Duration;

use ratelimit::{Policy, Quota, RateLimiter};
use store_core::Error;
use store_core::testing::Counting;
use store_memory::MemoryStore;

fn counting() -> Counting<MemoryStore> {
    Counting::new(MemoryStore::new())
}

#[tokio::test]
async fn fixed_window_is_one_store_operation_per_check() {
    let store = counting();
    let limiter = RateLimiter::builder(store.clone(), "ops")
        .default_policy(Policy::fixed_window(Quota::per_minute(5)))
        .build()
        .unwrap();
    for i in 1..=7u64 {
        let before = store.calls();
        let d = limiter.check("api", "c").await.unwrap();
        assert_eq!(store.calls() - before, 1, "check {i}");
        assert_eq!(d.allowed, i <= 5, "check {i}");
        assert_eq!(d.remaining, 5u64.saturating_sub(i));
        assert!(
            d.reset_after <= Duration::from_secs(60) && d.reset_after > Duration::from_secs(58)
        );
    }
}

#[tokio::test]
async fn sliding_window_is_one_store_operation_per_check_in_steady_state() {
    let store = counting();
    let limiter = RateLimiter::builder(store.clone(), "ops")
        .default_policy(Policy::sliding_window(Quota::per_hour(50)))
        .build()
        .unwrap();
    crate::clear_of_a_window_edge(Duration::from_secs(3600)).await;
    limiter.check("api", "c").await.unwrap();
    for i in 0..20 {
        let before = store.calls();
        assert!(limiter.check("api", "c").await.unwrap().allowed);
        assert_eq!(store.calls() - before, 1, "steady-state check {i}");
    }
}

#[tokio::test]
async fn gcra_spaces_admissions_after_the_burst() {
    let limiter = RateLimiter::builder(MemoryStore::new(), "ops")
        .default_policy(Policy::gcra(Quota::per_second(10)))
        .build()
        .unwrap();
    for i in 0..10 {
        assert!(
            limiter.check("api", "c").await.unwrap().allowed,
            "burst {i}"
        );
    }
    let refused = limiter.check("api", "c").await.unwrap();
    assert!(!refused.allowed);
    let wait = refused.retry_after.unwrap();
    assert!(
        wait > Duration::from_millis(50) && wait <= Duration::from_millis(100),
        "{wait:?}"
    );
    tokio::time::sleep(wait + Duration::from_millis(5)).await;
    assert!(
        limiter.check("api", "c").await.unwrap().allowed,
        "one interval later"
    );
    assert!(
        !limiter.check("api", "c").await.unwrap().allowed,
        "and only one"
    );
}

#[tokio::test]
async fn acquire_waits_for_the_next_window_and_reset_restores_the_budget() {
    let limiter = RateLimiter::builder(MemoryStore::new(), "ops")
        .default_policy(Policy::fixed_window(
            Quota::new(2, Duration::from_millis(200)).unwrap(),
        ))
        .build()
        .unwrap();
    limiter.check("api", "c").await.unwrap();
    limiter.check("api", "c").await.unwrap();
    let started = std::time::Instant::now();
    let d = limiter
        .acquire("api", "c", 1, Duration::from_secs(2))
        .await
        .unwrap();
    assert!(d.allowed);
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    let d = limiter
        .acquire("api", "c", 5, Duration::from_millis(50))
        .await
        .unwrap();
    assert!(!d.allowed, "5 units never fit a limit of 2");
    limiter.reset("api", "c").await.unwrap();
    assert_eq!(limiter.check("api", "c").await.unwrap().remaining, 1);
}

#[tokio::test]
async fn per_resource_policies_apply_and_change_at_run_time() {
    let limiter = RateLimiter::builder(MemoryStore::new(), "ops")
        .default_policy(Policy::fixed_window(Quota::per_minute(1)))
        .policy("search", Policy::fixed_window(Quota::per_minute(3)))
        .build()
        .unwrap();
    assert_eq!(limiter.check("search", "c").await.unwrap().remaining, 2);
    assert_eq!(limiter.check("other", "c").await.unwrap().remaining, 0);
    limiter
        .set_policy("other", Policy::fixed_window(Quota::per_minute(10)))
        .unwrap();
    assert_eq!(limiter.check("other", "c").await.unwrap().remaining, 8);
    limiter.remove_policy("other");
    assert_eq!(limiter.policy_for("other").quota.limit(), 1);
}

#[tokio::test]
async fn a_store_without_atomic_incr_or_cas_is_refused_at_construction() {
    let mut store = counting();
    store.capabilities_mut().atomic_incr = false;
    let err = RateLimiter::builder(store.clone(), "ops")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("atomic incr"), "{err}");
    store.capabilities_mut().atomic_incr = true;
    store.capabilities_mut().compare_and_set = false;
    store.capabilities_mut().atomic_advance = false;
    let err = RateLimiter::builder(store, "ops")
        .default_policy(Policy::gcra(Quota::per_second(1)))
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("an atomic advance or compare-and-set"),
        "{err}"
    );
}
