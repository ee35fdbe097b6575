use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;

use crate::{
    Capabilities, Cursor, DeleteCondition, Entry, IncrOutcome, ListPage, Result, SetOptions,
    SetOutcome, Store,
};

/// A store that counts the operations sent to it, for tests that prove how many store
/// round trips a feature makes. Clones share the count.
///
/// Its capabilities start as the inner store's and can be changed
/// ([`Counting::capabilities_mut`]) to test how a feature refuses a weaker store.
///
/// ```text
/// let store = Counting::new(MemoryStore::new());
/// limiter.check("api", "client").await?;
/// assert_eq!(store.calls(), 1); // one store operation per check
/// ```
#[derive(Debug, Clone)]
pub struct Counting<S> {
    inner: S,
    calls: Arc<AtomicUsize>,
    caps: Capabilities,
}

impl<S: Store> Counting<S> {
    /// Counts the operations sent to `inner`.
    pub fn new(inner: S) -> Self {
        let caps = inner.capabilities().clone();
        Counting {
            inner,
            calls: Arc::default(),
            caps,
        }
    }

    /// Operations so far (every method but `capabilities`).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The capabilities this store declares, to weaken in a test.
    pub fn capabilities_mut(&mut self) -> &mut Capabilities {
        &mut self.caps
    }

    fn tick(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl<S: Store> Store for Counting<S> {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Entry>> {
        self.tick();
        self.inner.get(namespace, key).await
    }
    async fn exists(&self, namespace: &str, key: &str) -> Result<bool> {
        self.tick();
        self.inner.exists(namespace, key).await
    }
    async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        opts: SetOptions,
    ) -> Result<SetOutcome> {
        self.tick();
        self.inner.set(namespace, key, value, opts).await
    }
    async fn delete(&self, namespace: &str, key: &str, condition: DeleteCondition) -> Result<bool> {
        self.tick();
        self.inner.delete(namespace, key, condition).await
    }
    async fn incr(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        self.tick();
        self.inner.incr(namespace, key, delta, ttl).await
    }
    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        self.tick();
        self.inner.list(namespace, prefix, cursor, limit).await
    }
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
}
