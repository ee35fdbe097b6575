//! The store a single call goes through: direct, or behind store-core's `RetryLayer`
//! when `retry_on_429` is enabled for that call.

use std::time::Duration;

use store_core::layer::{Retry, RetryLayer};
use store_core::{
    Bytes, Capabilities, Cursor, DeleteCondition, Entry, IncrOutcome, Layer, ListPage, Result,
    SetOptions, SetOutcome, Store,
};

use crate::options::RetryOn429;

#[derive(Debug)]
pub(crate) enum Route<'a, S> {
    Direct(&'a S),
    Retry(Retry<&'a S>),
}

impl<'a, S: Store> Route<'a, S> {
    pub(crate) fn new(store: &'a S, retry: &RetryLayer, on_429: RetryOn429) -> Self {
        if on_429.enabled {
            Route::Retry(retry.clone().warn_on_retry(on_429.verbose).layer(store))
        } else {
            Route::Direct(store)
        }
    }
}

macro_rules! route {
    ($self:ident . $op:ident ( $($arg:expr),* )) => {
        match $self {
            Route::Direct(store) => store.$op($($arg),*).await,
            Route::Retry(store) => store.$op($($arg),*).await,
        }
    };
}

impl<S: Store> Store for Route<'_, S> {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Entry>> {
        route!(self.get(namespace, key))
    }
    async fn exists(&self, namespace: &str, key: &str) -> Result<bool> {
        route!(self.exists(namespace, key))
    }
    async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        opts: SetOptions,
    ) -> Result<SetOutcome> {
        route!(self.set(namespace, key, value, opts))
    }
    async fn delete(&self, namespace: &str, key: &str, condition: DeleteCondition) -> Result<bool> {
        route!(self.delete(namespace, key, condition))
    }
    async fn incr(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        route!(self.incr(namespace, key, delta, ttl))
    }
    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        route!(self.list(namespace, prefix, cursor, limit))
    }
    fn capabilities(&self) -> &Capabilities {
        match self {
            Route::Direct(store) => store.capabilities(),
            Route::Retry(store) => store.capabilities(),
        }
    }
}
