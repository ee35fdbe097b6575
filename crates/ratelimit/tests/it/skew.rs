//! Fleet clock skew: on Redis, GCRA reads the server's clock (`TIME`, inside the script),
//! so instances whose clocks disagree by seconds still share one budget exactly.

use std::sync::Arc;
use std::time::Duration;

use ratelimit::{Policy, Quota, RateLimiter};
use store_core::{Clock, SharedStore, Timestamp};

/// The system clock, `offset_ms` off.
#[derive(Debug)]
struct Skewed {
    offset_ms: i64,
}

impl Clock for Skewed {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(
            Timestamp::now()
                .as_millis()
                .saturating_add_signed(self.offset_ms),
        )
    }

    fn now_micros(&self) -> u64 {
        self.now().as_millis() * 1000
    }
}

fn skewed(
    store: SharedStore,
    name: &str,
    offset_ms: i64,
    policy: Policy,
) -> RateLimiter<SharedStore> {
    RateLimiter::builder(store, name)
        .default_policy(policy)
        .timeout(Duration::from_secs(5))
        .clock(Skewed { offset_ms })
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcra_shares_one_budget_across_instances_whose_clocks_differ_by_5_s() {
    let Some([a, b]) = crate::redis_instances::<2>().await else {
        return;
    };
    // 10 per second: a burst of 10, one unit per 100 ms.
    let policy = Policy::gcra(Quota::per_second(10));
    for (first_offset, second_offset) in [(5_000, 0), (0, 5_000), (-5_000, 5_000)] {
        let name = format!("skew-{}", fastrand::u64(..));
        let first = skewed(a.clone(), &name, first_offset, policy);
        let second = skewed(b.clone(), &name, second_offset, policy);
        let mut taken = 0;
        while first.check("api", "c").await.unwrap().allowed {
            taken += 1;
            assert!(taken <= 11, "more than the burst through one instance");
        }
        assert!(
            taken >= 9,
            "{first_offset} ms: the burst of 10 (one may refill): {taken}"
        );
        let other = second.check("api", "c").await.unwrap();
        assert!(
            !other.allowed,
            "clocks {first_offset} / {second_offset} ms: the other instance sees the same empty budget"
        );
        let retry = other.retry_after.unwrap();
        assert!(
            retry <= Duration::from_millis(100),
            "clocks {first_offset} / {second_offset} ms: one unit refills in 100 ms on the server's \
             clock, not after a skew: {retry:?}"
        );
        tokio::time::sleep(retry + Duration::from_millis(20)).await;
        assert!(
            second.check("api", "c").await.unwrap().allowed,
            "refilled for both"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hot_key_on_skewed_instances_admits_exactly_the_burst() {
    let Some(stores) = crate::redis_instances::<4>().await else {
        return;
    };
    let name = format!("skew-hot-{}", fastrand::u64(..));
    let policy = Policy::gcra(Quota::per_hour(100));
    let limiters: Vec<Arc<RateLimiter<SharedStore>>> = stores
        .into_iter()
        .zip([0, 5_000, -5_000, 2_500])
        .map(|(store, offset)| Arc::new(skewed(store, &name, offset, policy)))
        .collect();
    let handles: Vec<_> = (0..32)
        .map(|w| {
            let limiter = limiters[w % 4].clone();
            tokio::spawn(async move {
                let mut admitted = 0u64;
                for _ in 0..32 {
                    admitted += u64::from(limiter.check("api", "c").await.unwrap().allowed);
                }
                admitted
            })
        })
        .collect();
    let mut admitted = 0;
    for h in handles {
        admitted += h.await.unwrap();
    }
    assert_eq!(admitted, 100, "1024 checks from instances 10 s apart");
}
