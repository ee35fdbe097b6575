//! Lease mode: 8 instances share a limit of 1000 in blocks of 50; 4000 attempts. Never
//! more than the limit, at most 8 × 49 fewer, and one store request per block plus one
//! per instance that finds the window spent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ratelimit::{Policy, Quota, RateLimiter};
use store_core::testing::Counting;
use store_core::{SharedStore, StoreExt};

const INSTANCES: usize = 8;
const LIMIT: u64 = 1000;
const BLOCK: u64 = 50;
const ATTEMPTS: u64 = 4000;

async fn leased_run(backend: &str, stores: Vec<Counting<SharedStore>>) {
    let name = format!("lease-{}", fastrand::u64(..));
    let policy = Policy::fixed_window(Quota::per_hour(LIMIT)).leased(BLOCK);
    let limiters: Vec<Arc<RateLimiter<SharedStore>>> = stores
        .iter()
        .map(|store| {
            let limiter = RateLimiter::builder(store.clone().into_shared(), &name)
                .default_policy(policy)
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            Arc::new(limiter)
        })
        .collect();
    let attempts = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..32)
        .map(|w| {
            let limiter = limiters[w % INSTANCES].clone();
            let attempts = attempts.clone();
            tokio::spawn(async move {
                let mut admitted = 0;
                while attempts.fetch_add(1, Ordering::SeqCst) < ATTEMPTS {
                    let d = limiter.check("api", "hot").await.unwrap();
                    assert!(!d.degraded && !d.contended, "{d:?}");
                    assert!(d.remaining <= LIMIT, "{d:?}");
                    if d.allowed {
                        admitted += 1;
                    } else {
                        assert!(
                            d.retry_after
                                .is_some_and(|r| r <= Duration::from_secs(3600))
                        );
                    }
                }
                admitted
            })
        })
        .collect();
    let mut admitted = 0;
    for h in handles {
        admitted += h.await.unwrap();
    }
    let requests: usize = stores.iter().map(Counting::calls).sum();
    assert!(
        admitted <= LIMIT,
        "{backend}: {admitted} admitted past the limit"
    );
    let floor = LIMIT - INSTANCES as u64 * (BLOCK - 1);
    assert!(
        admitted >= floor,
        "{backend}: {admitted} admitted, fewer than {floor}"
    );
    let bound = (LIMIT / BLOCK) as usize + 2 * INSTANCES;
    assert!(
        requests <= bound,
        "{backend}: {requests} store requests for {ATTEMPTS} checks, more than one per block \
         plus one per instance ({bound})"
    );
    eprintln!("{backend}: {admitted} admitted, {requests} store requests for {ATTEMPTS} checks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_leasing_instances_share_the_limit_on_memory() {
    let store = store_memory::MemoryStore::new().into_shared();
    let stores = (0..INSTANCES)
        .map(|_| Counting::new(store.clone()))
        .collect();
    leased_run("memory", stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_leasing_instances_share_the_limit_on_redis() {
    let Some(stores) = crate::redis_instances::<INSTANCES>().await else {
        return;
    };
    leased_run("redis", stores.into_iter().map(Counting::new).collect()).await;
}

#[test]
fn a_lease_on_another_algorithm_is_refused() {
    let store = store_memory::MemoryStore::new();
    let err = RateLimiter::builder(store, "lease")
        .default_policy(Policy::gcra(Quota::per_second(10)).leased(5))
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("lease mode applies to fixed windows"),
        "{err}"
    );
}
