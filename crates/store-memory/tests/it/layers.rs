//! The store-core layers, exercised over the memory store and a store that fails on
//! purpose (a fault injector around a real store, not a stand-in for a backend).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use store_core::layer::{PrefixLayer, RetryLayer};
use store_core::{
    Bytes, Capabilities, Cursor, DeleteCondition, Delivery, Entry, Error, IncrOutcome, ListPage,
    Result, SetOptions, SetOutcome, Store, StoreExt,
};
use store_memory::MemoryStore;

/// Fails the first `failures` calls with `error()`, then forwards to a memory store,
/// counting every attempt.
#[derive(Debug, Clone)]
struct Flaky {
    inner: MemoryStore,
    failures: Arc<AtomicUsize>,
    attempts: Arc<AtomicUsize>,
    delivery: Delivery,
}

impl Flaky {
    fn new(failures: usize, delivery: Delivery) -> Self {
        Flaky {
            inner: MemoryStore::new(),
            failures: Arc::new(AtomicUsize::new(failures)),
            attempts: Arc::new(AtomicUsize::new(0)),
            delivery,
        }
    }

    fn fault(&self) -> Result<()> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let left = self.failures.load(Ordering::SeqCst);
        if left > 0 {
            self.failures.store(left - 1, Ordering::SeqCst);
            return Err(Error::unavailable(self.delivery, "injected fault"));
        }
        Ok(())
    }
}

impl Store for Flaky {
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Entry>> {
        self.fault()?;
        self.inner.get(ns, key).await
    }
    async fn set(&self, ns: &str, key: &str, value: Bytes, opts: SetOptions) -> Result<SetOutcome> {
        self.fault()?;
        self.inner.set(ns, key, value, opts).await
    }
    async fn delete(&self, ns: &str, key: &str, c: DeleteCondition) -> Result<bool> {
        self.fault()?;
        self.inner.delete(ns, key, c).await
    }
    async fn incr(
        &self,
        ns: &str,
        key: &str,
        d: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        self.fault()?;
        self.inner.incr(ns, key, d, ttl).await
    }
    async fn list(&self, ns: &str, p: &str, c: Option<&Cursor>, l: usize) -> Result<ListPage> {
        self.fault()?;
        self.inner.list(ns, p, c, l).await
    }
    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }
}

fn fast_retry(attempts: usize) -> RetryLayer {
    RetryLayer::default()
        .max_attempts(attempts)
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(5))
        .warn_on_retry(false)
}

#[tokio::test]
async fn retry_recovers_from_errors_that_prove_nothing_was_applied() {
    let flaky = Flaky::new(3, Delivery::NotSent);
    let store = flaky.clone().layer(fast_retry(5));
    assert_eq!(store.incr("ns", "c", 1, None).await.unwrap().value, 1);
    assert_eq!(flaky.attempts.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn retry_never_resends_an_incr_that_may_have_been_applied() {
    let flaky = Flaky::new(1, Delivery::MaybeApplied);
    let store = flaky.clone().layer(fast_retry(5));
    let err = store.incr("ns", "c", 1, None).await.unwrap_err();
    assert!(err.may_have_applied(), "{err:?}");
    assert_eq!(flaky.attempts.load(Ordering::SeqCst), 1);

    let flaky = Flaky::new(1, Delivery::MaybeApplied);
    let store = flaky.clone().layer(fast_retry(5));
    let err = store
        .set("ns", "k", Bytes::new(), SetOptions::if_absent())
        .await
        .unwrap_err();
    assert!(err.may_have_applied());
    assert_eq!(
        flaky.attempts.load(Ordering::SeqCst),
        1,
        "conditional set resent"
    );
}

#[tokio::test]
async fn retry_resends_reads_and_idempotent_writes_after_any_transient_error() {
    let flaky = Flaky::new(2, Delivery::MaybeApplied);
    let store = flaky.clone().layer(fast_retry(5));
    store
        .set("ns", "k", Bytes::from_static(b"v"), SetOptions::always())
        .await
        .unwrap();
    assert_eq!(flaky.attempts.load(Ordering::SeqCst), 3);
    flaky.failures.store(2, Ordering::SeqCst);
    assert!(store.get("ns", "k").await.unwrap().is_some());
}

#[tokio::test]
async fn retry_gives_up_after_max_attempts_with_the_last_error() {
    let flaky = Flaky::new(100, Delivery::NotSent);
    let store = flaky.clone().layer(fast_retry(3));
    let err = store.get("ns", "k").await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert_eq!(flaky.attempts.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn prefix_layer_separates_applications_sharing_a_store() {
    let shared = MemoryStore::new();
    let billing = shared.clone().layer(PrefixLayer::new("billing:").unwrap());
    let search = shared.clone().layer(PrefixLayer::new("search:").unwrap());
    billing
        .set("ns", "k", Bytes::from_static(b"b"), SetOptions::always())
        .await
        .unwrap();
    assert!(search.get("ns", "k").await.unwrap().is_none());
    assert_eq!(
        &shared.get("billing:ns", "k").await.unwrap().unwrap().value[..],
        b"b"
    );
    assert_eq!(
        billing.list("ns", "", None, 10).await.unwrap().keys,
        vec!["k"]
    );
}
