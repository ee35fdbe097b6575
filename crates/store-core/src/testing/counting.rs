use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::raw::{Call, Forward};
use crate::{Capabilities, Result, Store};

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

    /// The capabilities this store declares, to weaken in a test.
    pub fn capabilities_mut(&mut self) -> &mut Capabilities {
        &mut self.caps
    }

    fn tick(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl<S: Store> Forward for Counting<S> {
    type Inner = S;

    fn inner(&self) -> &S {
        &self.inner
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn around<T, F, Fut>(
        &self,
        _call: Call<'_>,
        mut run: F,
    ) -> impl Future<Output = Result<T>> + Send
    where
        T: Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
    {
        self.tick();
        run()
    }
}

crate::forward_store!(impl[S: Store] Counting<S>);
