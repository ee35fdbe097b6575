//! The `Store` trait (static dispatch) and `DynStore` (dynamic dispatch).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

use crate::raw::Forward;
use crate::{
    Advance, Advanced, Capabilities, Cursor, DeleteCondition, Entry, IncrOutcome, ListPage, Result,
    SetOptions, SetOutcome,
};

/// The contract between fleetstate's features and its backends.
///
/// Entries are addressed by a namespace and a key (see [`crate::raw::validate`] for the rules).
/// Every method is one atomic operation on the backend, cancel-safe (dropping the future
/// either applies the operation entirely or not at all, as far as the backend allows:
/// see each backend's docs), and validates its input before any I/O.
///
/// Implement it with `async fn`; use it generically (`S: Store`, no allocation per call)
/// or behind [`SharedStore`] (`Arc<dyn DynStore>`) when the backend is chosen at run time.
pub trait Store: Send + Sync + fmt::Debug {
    /// The live entry at `(namespace, key)`, or `None`. An expired entry is never
    /// returned, even where the backend's own expiry lags.
    fn get(&self, namespace: &str, key: &str)
    -> impl Future<Output = Result<Option<Entry>>> + Send;

    /// Whether a live entry exists at `(namespace, key)`: the same answer as
    /// `get(..).is_some()`, without transferring the value where the backend can avoid
    /// it. The provided method calls [`Store::get`]; backends override it.
    fn exists(&self, namespace: &str, key: &str) -> impl Future<Output = Result<bool>> + Send {
        async move { Ok(self.get(namespace, key).await?.is_some()) }
    }

    /// Writes `value` if `opts.condition` holds, atomically with the check. An expired
    /// entry counts as absent for every condition.
    fn set(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        opts: SetOptions,
    ) -> impl Future<Output = Result<SetOutcome>> + Send;

    /// Removes the entry if `condition` holds. Deleting a missing key succeeds. Returns
    /// whether a live entry was removed.
    fn delete(
        &self,
        namespace: &str,
        key: &str,
        condition: DeleteCondition,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Atomically adds `delta` to an integer counter and returns the new value and the
    /// counter's expiry. A missing or expired counter starts at 0, and only then is
    /// `ttl` applied: later calls never move the expiry, so a window measured by it never
    /// slides. `get` reads a counter as its decimal ASCII form.
    ///
    /// Errors: [`crate::Error::NotACounter`] if the value is not a decimal `i64`,
    /// [`crate::Error::CounterOverflow`] on overflow (counter unchanged).
    fn incr(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<IncrOutcome>> + Send;

    /// A page of at most `limit` live keys of `namespace` starting with `prefix`, and a
    /// cursor when more may follow. A walk from `cursor = None` until the cursor is `None`
    /// returns every key that was live throughout the walk exactly once.
    fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> impl Future<Output = Result<ListPage>> + Send;

    /// Applies `advance` to the numeric value at `(namespace, key)` atomically (see
    /// [`Advance`] for the definition) and says what it did. The value is a
    /// non-negative counter (`get` reads its canonical decimal form, `incr` adds to it);
    /// any other live value is [`crate::Error::NotACounter`], and a new value past
    /// `i64::MAX` is [`crate::Error::CounterOverflow`], both changing nothing.
    ///
    /// Backends declaring [`Capabilities::atomic_advance`] apply it in one request. The
    /// provided method is a compare-and-set loop (needs `compare_and_set`) with
    /// [`Floor::Clock`](crate::Floor::Clock) read from this process's clock: under contention it may give up
    /// after a few lost races and report [`Advanced::contended`] (nothing written), never
    /// an error.
    fn advance(
        &self,
        namespace: &str,
        key: &str,
        advance: Advance,
    ) -> impl Future<Output = Result<Advanced>> + Send {
        crate::raw::advance_by_compare_and_set(self, namespace, key, advance)
    }

    /// Deletes every live key of `namespace` that starts with `prefix` (every key of the
    /// namespace for an empty prefix) and returns how many it removed. Keys written while
    /// it runs may survive; keys live throughout are all removed.
    ///
    /// Not atomic: it is a walk, and a failure part way leaves the rest in place (run it
    /// again). The provided method lists pages and deletes their keys one by one;
    /// backends override it where they have better (batch deletes, server-side scans).
    fn clear(&self, namespace: &str, prefix: &str) -> impl Future<Output = Result<u64>> + Send {
        async move {
            crate::raw::validate::list(self.capabilities(), namespace, prefix, 1)?;
            let limit = self.capabilities().max_list_limit.clamp(1, 1000);
            let mut removed = 0;
            let mut cursor = None;
            loop {
                let page = self.list(namespace, prefix, cursor.as_ref(), limit).await?;
                for key in &page.keys {
                    if self.delete(namespace, key, DeleteCondition::Always).await? {
                        removed += 1;
                    }
                }
                match page.cursor {
                    Some(next) => cursor = Some(next),
                    None => return Ok(removed),
                }
            }
        }
    }

    /// What this backend guarantees.
    fn capabilities(&self) -> &Capabilities;
}

/// The object-safe twin of [`Store`], implemented for every `Store`.
///
/// Use it through [`SharedStore`], which implements [`Store`] again, so code written
/// against `S: Store` accepts a run-time-chosen backend too.
pub trait DynStore: Send + Sync + fmt::Debug {
    /// See [`Store::get`].
    fn get_dyn<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Entry>>>;
    /// See [`Store::exists`].
    fn exists_dyn<'a>(&'a self, namespace: &'a str, key: &'a str) -> BoxFuture<'a, Result<bool>>;
    /// See [`Store::set`].
    fn set_dyn<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        value: Bytes,
        opts: SetOptions,
    ) -> BoxFuture<'a, Result<SetOutcome>>;
    /// See [`Store::delete`].
    fn delete_dyn<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        condition: DeleteCondition,
    ) -> BoxFuture<'a, Result<bool>>;
    /// See [`Store::incr`].
    fn incr_dyn<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<IncrOutcome>>;
    /// See [`Store::list`].
    fn list_dyn<'a>(
        &'a self,
        namespace: &'a str,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<ListPage>>;
    /// See [`Store::advance`].
    fn advance_dyn<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        advance: Advance,
    ) -> BoxFuture<'a, Result<Advanced>>;
    /// See [`Store::clear`].
    fn clear_dyn<'a>(&'a self, namespace: &'a str, prefix: &'a str) -> BoxFuture<'a, Result<u64>>;
    /// See [`Store::capabilities`].
    fn capabilities_dyn(&self) -> &Capabilities;
}

impl<S: Store> DynStore for S {
    fn get_dyn<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Entry>>> {
        Box::pin(self.get(namespace, key))
    }
    fn exists_dyn<'a>(&'a self, namespace: &'a str, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(self.exists(namespace, key))
    }
    fn set_dyn<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        value: Bytes,
        opts: SetOptions,
    ) -> BoxFuture<'a, Result<SetOutcome>> {
        Box::pin(self.set(namespace, key, value, opts))
    }
    fn delete_dyn<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        condition: DeleteCondition,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(self.delete(namespace, key, condition))
    }
    fn incr_dyn<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<IncrOutcome>> {
        Box::pin(self.incr(namespace, key, delta, ttl))
    }
    fn list_dyn<'a>(
        &'a self,
        namespace: &'a str,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<ListPage>> {
        Box::pin(self.list(namespace, prefix, cursor, limit))
    }
    fn advance_dyn<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        advance: Advance,
    ) -> BoxFuture<'a, Result<Advanced>> {
        Box::pin(self.advance(namespace, key, advance))
    }
    fn clear_dyn<'a>(&'a self, namespace: &'a str, prefix: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(self.clear(namespace, prefix))
    }
    fn capabilities_dyn(&self) -> &Capabilities {
        self.capabilities()
    }
}

/// A backend chosen at run time: `Arc<dyn DynStore>`, itself a [`Store`].
///
/// ```
/// # use store_core::{SharedStore, Store};
/// fn takes_any_store<S: Store>(_store: &S) {}
/// fn with_shared(store: SharedStore) { takes_any_store(&store) }
/// ```
pub type SharedStore = Arc<dyn DynStore>;

// Generic over the trait object's lifetime: the compiler checks `Send` of futures that
// hold a `SharedStore` across an await for every lifetime of `dyn DynStore`, so an impl
// for `'static` alone makes spawning such futures fail ("not general enough").
impl<'d> Store for Arc<dyn DynStore + 'd> {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Entry>> {
        (**self).get_dyn(namespace, key).await
    }
    async fn exists(&self, namespace: &str, key: &str) -> Result<bool> {
        (**self).exists_dyn(namespace, key).await
    }
    async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        opts: SetOptions,
    ) -> Result<SetOutcome> {
        (**self).set_dyn(namespace, key, value, opts).await
    }
    async fn delete(&self, namespace: &str, key: &str, condition: DeleteCondition) -> Result<bool> {
        (**self).delete_dyn(namespace, key, condition).await
    }
    async fn incr(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        (**self).incr_dyn(namespace, key, delta, ttl).await
    }
    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        (**self).list_dyn(namespace, prefix, cursor, limit).await
    }
    async fn advance(&self, namespace: &str, key: &str, advance: Advance) -> Result<Advanced> {
        (**self).advance_dyn(namespace, key, advance).await
    }
    async fn clear(&self, namespace: &str, prefix: &str) -> Result<u64> {
        (**self).clear_dyn(namespace, prefix).await
    }
    fn capabilities(&self) -> &Capabilities {
        (**self).capabilities_dyn()
    }
}

impl<S: Store> Forward for Arc<S> {
    type Inner = S;
    fn inner(&self) -> &S {
        self
    }
}

crate::forward_store!(
    /// Sharing a concrete store: `Arc<S>` is a store wherever `S` is.
    impl[S: Store] Arc<S>
);

impl<S: Store> Forward for &S {
    type Inner = S;
    fn inner(&self) -> &S {
        self
    }
}

crate::forward_store!(
    /// Borrowing a store: `&S` is a store wherever `S` is, so a layer can wrap a
    /// borrowed store for one call (`RetryLayer::default().layer(&store)`).
    impl[S: Store] &S
);

/// Conveniences on every store.
pub trait StoreExt: Store + Sized {
    /// Wraps this store in a layer (see [`crate::layer`]).
    fn layer<L: crate::Layer<Self>>(self, layer: L) -> L::Store {
        layer.layer(self)
    }

    /// Erases the store's type for run-time dispatch.
    fn into_shared(self) -> SharedStore
    where
        Self: 'static,
    {
        Arc::new(self)
    }
}

impl<S: Store> StoreExt for S {}
