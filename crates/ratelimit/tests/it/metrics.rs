//! The metrics the limiters record, with the names and labels `ratelimit::metrics`
//! documents, checked with a recording recorder.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use ratelimit::metrics::{ADAPTIVE_DECISIONS, DECISIONS, STORE_SWITCHES};
use ratelimit::{AdaptiveRateLimiter, FailurePolicy, Policy, Priority, Quota, RateLimiter};
use store_core::raw::{Call, Forward};
use store_core::{Delivery, Error, Result};
use store_memory::MemoryStore;

/// store-memory that fails every call as unavailable while `down` is set.
#[derive(Debug)]
struct Flaky {
    inner: MemoryStore,
    down: Arc<AtomicBool>,
}

impl Forward for Flaky {
    type Inner = MemoryStore;

    fn inner(&self) -> &MemoryStore {
        &self.inner
    }

    async fn around<T, F, Fut>(&self, _call: Call<'_>, mut run: F) -> Result<T>
    where
        T: Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
    {
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::unavailable(Delivery::NotSent, "down for the test"));
        }
        run().await
    }
}
store_core::forward_store!(impl[] Flaky);

type Snapshot = Vec<(
    metrics_util::CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
)>;

fn counter(snapshot: &Snapshot, name: &str, labels: &[(&str, &str)]) -> u64 {
    snapshot
        .iter()
        .filter(|(key, ..)| key.key().name() == name)
        .filter(|(key, ..)| {
            let have: Vec<_> = key.key().labels().map(|l| (l.key(), l.value())).collect();
            labels.iter().all(|l| have.contains(l))
        })
        .map(|(_, _, _, value)| match value {
            DebugValue::Counter(n) => *n,
            _ => 0,
        })
        .sum()
}

#[test]
fn decisions_and_store_switches_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let down = Arc::new(AtomicBool::new(false));
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let store = Flaky {
                inner: MemoryStore::new(),
                down: down.clone(),
            };
            let limiter = RateLimiter::builder(store, "checkout")
                .default_policy(Policy::gcra(Quota::per_minute(2)))
                .on_failure(FailurePolicy::Closed)
                .build()
                .unwrap();
            for _ in 0..3 {
                limiter.check("api", "customer").await.unwrap();
            }
            down.store(true, Ordering::SeqCst);
            let d = limiter.check("api", "customer").await.unwrap();
            assert!(d.degraded && !d.allowed);
            down.store(false, Ordering::SeqCst);
            limiter.check("api", "other").await.unwrap();
        });
    });
    // A snapshot drains the counters: take one.
    let snapshot = snapshotter.snapshot().into_vec();
    let decided = |decision, degraded| {
        counter(
            &snapshot,
            DECISIONS,
            &[
                ("limiter", "checkout"),
                ("resource", "api"),
                ("algorithm", "gcra"),
                ("decision", decision),
                ("degraded", degraded),
            ],
        )
    };
    assert_eq!(
        decided("allowed", "false"),
        3,
        "2 for customer, 1 for other"
    );
    assert_eq!(decided("denied", "false"), 1);
    assert_eq!(decided("denied", "true"), 1, "the failure policy's refusal");
    let switched = |to| {
        counter(
            &snapshot,
            STORE_SWITCHES,
            &[("limiter", "checkout"), ("to", to)],
        )
    };
    assert_eq!(switched("failure_policy"), 1);
    assert_eq!(switched("store"), 1);
}

#[test]
fn adaptive_decisions_are_counted_by_priority() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let limiter = AdaptiveRateLimiter::builder(MemoryStore::new(), "sync")
                .quota(Quota::per_minute(2))
                .build()
                .unwrap();
            for _ in 0..3 {
                limiter.check("api", Priority::User).await.unwrap();
            }
            limiter.check("api", Priority::Background).await.unwrap();
        });
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let decided = |priority, decision| {
        counter(
            &snapshot,
            ADAPTIVE_DECISIONS,
            &[
                ("limiter", "sync"),
                ("resource", "api"),
                ("priority", priority),
                ("decision", decision),
                ("degraded", "false"),
            ],
        )
    };
    assert_eq!(decided("user", "allowed"), 2);
    assert_eq!(decided("user", "denied"), 1);
    assert_eq!(decided("background", "denied"), 1, "the budget is spent");
}
