//! The adaptive limiter: activity shared through the store, background work capped by
//! it and paused on a rising trend, one budget never exceeded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ratelimit::{ActivityLevel, AdaptiveConfig, AdaptiveRateLimiter, Priority, Quota};
use store_core::{SharedStore, StoreExt};

fn limiter(
    store: SharedStore,
    name: &str,
    limit: u64,
    config: AdaptiveConfig,
) -> AdaptiveRateLimiter<SharedStore> {
    AdaptiveRateLimiter::builder(store, name)
        .quota(Quota::per_hour(limit))
        .config(config)
        .build()
        .unwrap()
}

fn name() -> String {
    format!("adaptive-{}", fastrand::u64(..))
}

async fn admitted(
    limiter: &AdaptiveRateLimiter<SharedStore>,
    priority: Priority,
    attempts: u64,
) -> u64 {
    let mut n = 0;
    for _ in 0..attempts {
        if limiter.check("api", priority).await.unwrap().allowed {
            n += 1;
        }
    }
    n
}

#[tokio::test]
async fn background_uses_the_whole_budget_when_users_are_quiet() {
    let l = limiter(
        store_memory::MemoryStore::new().into_shared(),
        &name(),
        10,
        AdaptiveConfig::default(),
    );
    assert_eq!(admitted(&l, Priority::Background, 15).await, 10);
    assert_eq!(l.activity("api").await.unwrap().level, ActivityLevel::Low);
}

/// Users on one instance reserve capacity that background work on another respects.
async fn activity_is_shared(a: SharedStore, b: SharedStore, backend: &str) {
    let name = name();
    let config = AdaptiveConfig::default()
        .thresholds(3, 10)
        .reserves(0.5, 0.8)
        .pause_background_on_rising_trend(false);
    let users = limiter(a, &name, 100, config);
    let background = limiter(b, &name, 100, config);
    assert_eq!(admitted(&users, Priority::User, 10).await, 10);
    let activity = background.activity("api").await.unwrap();
    assert_eq!(activity.level, ActivityLevel::High, "{backend}");
    assert_eq!(activity.recent_user_requests, 10, "{backend}");
    assert_eq!(activity.background_capacity, 20, "{backend}");
    // Usage is 10; background may bring it to 20 and no further.
    assert_eq!(
        admitted(&background, Priority::Background, 30).await,
        10,
        "{backend}"
    );
    // Refused background checks gave their units back: users still get all the rest.
    assert_eq!(admitted(&users, Priority::User, 100).await, 80, "{backend}");
}

#[tokio::test]
async fn activity_is_shared_between_instances_on_memory() {
    let store = store_memory::MemoryStore::new().into_shared();
    activity_is_shared(store.clone(), store, "memory").await;
}

#[tokio::test]
async fn activity_is_shared_between_instances_on_redis() {
    let Some([a, b]) = crate::redis_instances().await else {
        return;
    };
    activity_is_shared(a, b, "redis").await;
}

#[tokio::test]
async fn a_rising_trend_pauses_background_work() {
    let config = AdaptiveConfig::default()
        .thresholds(3, 10)
        .activity_window(Duration::from_secs(600));
    let l = limiter(
        store_memory::MemoryStore::new().into_shared(),
        &name(),
        100,
        config,
    );
    // Activity is counted in buckets of half the window: keep the test inside one.
    crate::clear_of_a_window_edge(Duration::from_secs(300)).await;
    assert!(
        l.check("api", Priority::Background).await.unwrap().allowed,
        "quiet: served"
    );
    admitted(&l, Priority::User, 4).await;
    let activity = l.activity("api").await.unwrap();
    assert!(
        activity.rising && activity.level == ActivityLevel::Moderate,
        "{activity:?}"
    );
    let refused = l.check("api", Priority::Background).await.unwrap();
    assert!(!refused.allowed);
    let retry = refused.retry_after.unwrap();
    assert!(
        retry <= Duration::from_secs(300),
        "until the bucket turns: {retry:?}"
    );
    assert!(
        l.check("api", Priority::User).await.unwrap().allowed,
        "users are still served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_priorities_never_exceed_the_limit() {
    let store = store_memory::MemoryStore::new().into_shared();
    let l = Arc::new(limiter(
        store,
        &name(),
        100,
        AdaptiveConfig::default().thresholds(3, 10),
    ));
    let attempts = Arc::new(AtomicU64::new(0));
    let admitted = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..32)
        .map(|task| {
            let (l, attempts, admitted) = (l.clone(), attempts.clone(), admitted.clone());
            tokio::spawn(async move {
                let priority = if task % 2 == 0 {
                    Priority::User
                } else {
                    Priority::Background
                };
                while attempts.fetch_add(1, Ordering::SeqCst) < 1000 {
                    if l.check("api", priority).await.unwrap().allowed {
                        admitted.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    let admitted = admitted.load(Ordering::SeqCst);
    assert!(admitted <= 100, "admitted {admitted} of a limit of 100");
    assert!(admitted >= 90, "admitted only {admitted}");
}

#[tokio::test]
async fn invalid_configurations_are_refused() {
    let store = store_memory::MemoryStore::new().into_shared();
    for config in [
        AdaptiveConfig::default().thresholds(0, 10),
        AdaptiveConfig::default().thresholds(10, 3),
        AdaptiveConfig::default().reserves(1.5, 0.9),
        AdaptiveConfig::default().activity_window(Duration::ZERO),
    ] {
        let built = AdaptiveRateLimiter::builder(store.clone(), "x")
            .config(config)
            .build();
        assert!(
            matches!(built, Err(store_core::Error::InvalidArgument(_))),
            "{config:?}"
        );
    }
}
