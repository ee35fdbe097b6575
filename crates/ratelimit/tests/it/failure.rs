//! The Redis the test started is killed mid-run: fail-open admits, fail-closed refuses,
//! fallback limits locally, no check exceeds the timeout, and recovery switches back.

use std::time::{Duration, Instant};

use ratelimit::{AdaptiveRateLimiter, FailurePolicy, Policy, Priority, Quota, RateLimiter};
use store_core::StoreExt;
use store_core::testing::LocalServer;
use store_redis::{RedisStore, RedisStoreBuilder};

/// No persistence (append-only files are off by default).
const REDIS_ARGS: &[&str] = &["--bind", "127.0.0.1", "--port", "{port}", "--save", ""];

/// A Redis of the test's own on a free port, and a store on it that fails fast and
/// reconnects quickly once the server is back.
async fn own_redis() -> (LocalServer, RedisStore) {
    let server = LocalServer::start("redis-server", REDIS_ARGS).await;
    let store = RedisStoreBuilder::from_url(&format!("redis://127.0.0.1:{}", server.port()))
        .expect("a valid Redis URL")
        .command_timeout(Duration::from_millis(300))
        .reconnect(
            Duration::from_millis(20),
            Duration::from_millis(100),
            Duration::from_millis(10),
        )
        .build()
        .await
        .unwrap();
    (server, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_policies_apply_while_redis_is_down_and_recovery_switches_back() {
    // Needs the redis-server binary the services install.
    if store_core::testing::service_url("FLEETSTATE_REDIS_URL").is_none() {
        return;
    }
    let (mut server, store) = own_redis().await;
    let policy = Policy::fixed_window(Quota::per_minute(40));
    let timeout = Duration::from_millis(150);
    let build = |failure| {
        RateLimiter::builder(store.clone(), "failure")
            .default_policy(policy)
            .on_failure(failure)
            .timeout(timeout)
            .build()
            .unwrap()
    };
    let open = build(FailurePolicy::Open);
    let closed = build(FailurePolicy::Closed);
    let fallback = build(FailurePolicy::Fallback {
        local: store_memory::MemoryStore::new().into_shared(),
        expected_instances: 4,
    });
    assert!(open.check("api", "c").await.unwrap().allowed);
    assert!(!open.check("api", "c").await.unwrap().degraded);

    server.stop();

    let bound = timeout + Duration::from_millis(100);
    for _ in 0..5 {
        let started = Instant::now();
        let d = open.check("api", "c").await.unwrap();
        assert!(started.elapsed() < bound, "{:?}", started.elapsed());
        assert!(d.allowed && d.degraded);
        let d = closed.check("api", "c").await.unwrap();
        assert!(!d.allowed && d.degraded);
    }
    assert!(open.is_degraded());
    // Fallback: 40 / 4 instances = 10 per window, locally.
    let mut admitted = 0;
    for _ in 0..25 {
        let started = Instant::now();
        let d = fallback.check("api", "c").await.unwrap();
        assert!(started.elapsed() < bound, "{:?}", started.elapsed());
        assert!(d.degraded);
        admitted += u32::from(d.allowed);
    }
    assert_eq!(admitted, 10);

    server.restart().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let d = closed.check("api", "c").await.unwrap();
        if !d.degraded {
            assert!(d.allowed, "the restarted Redis has a fresh budget");
            break;
        }
        assert!(Instant::now() < deadline, "the limiter did not switch back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!closed.is_degraded());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adaptive_limiter_applies_its_failure_policy_within_the_timeout() {
    if store_core::testing::service_url("FLEETSTATE_REDIS_URL").is_none() {
        return;
    }
    let (mut server, store) = own_redis().await;
    let store = store.into_shared();
    let timeout = Duration::from_millis(150);
    let build = |failure| {
        AdaptiveRateLimiter::builder(store.clone(), "adaptive-failure")
            .quota(Quota::per_minute(40))
            .on_failure(failure)
            .timeout(timeout)
            .build()
            .unwrap()
    };
    let open = build(FailurePolicy::Open);
    let closed = build(FailurePolicy::Closed);
    let fallback = build(FailurePolicy::Fallback {
        local: store_memory::MemoryStore::new().into_shared(),
        expected_instances: 4,
    });
    assert!(!open.check("api", Priority::User).await.unwrap().degraded);
    server.stop();
    let bound = timeout + Duration::from_millis(100);
    for priority in [Priority::User, Priority::Background] {
        let started = Instant::now();
        let d = open.check("api", priority).await.unwrap();
        assert!(started.elapsed() < bound, "{:?}", started.elapsed());
        assert!(d.allowed && d.degraded);
        let d = closed.check("api", priority).await.unwrap();
        assert!(!d.allowed && d.degraded);
    }
    assert!(open.is_degraded());
    // 40 / 4 instances = 10 per window, served locally by the same strategy.
    let mut admitted = 0;
    for _ in 0..25 {
        let d = fallback.check("api", Priority::User).await.unwrap();
        assert!(d.degraded);
        admitted += u32::from(d.allowed);
    }
    assert_eq!(admitted, 10);
    server.restart().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while closed.check("api", Priority::User).await.unwrap().degraded {
        assert!(Instant::now() < deadline, "the limiter did not switch back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!closed.is_degraded());
}
