use std::time::Duration;

use bytes::Bytes;

use super::Layer;
use crate::{
    Capabilities, Cursor, DeleteCondition, Entry, Error, IncrOutcome, ListPage, Result, SetOptions,
    SetOutcome, Store, keys,
};

/// Prepends a fixed prefix to every namespace, so several applications can share one
/// backend without seeing each other's entries.
///
/// The mapping stays injective: a fixed prefix followed by the namespace is a different
/// string for every namespace. Keys are untouched, so `list` returns them as written.
/// The prefix uses part of the namespace budget: the wrapped store declares
/// `max_namespace_len` reduced by the prefix length, and checks the caller's namespace
/// (non-empty, within that budget) before prefixing, so an empty namespace is refused
/// as it would be without the layer.
///
/// ```
/// use store_core::layer::PrefixLayer;
/// assert!(PrefixLayer::new("billing:").is_ok());
/// assert!(PrefixLayer::new("bad\nprefix").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct PrefixLayer {
    prefix: String,
}

impl PrefixLayer {
    /// A layer adding `prefix`; it follows the namespace rules (may not be empty).
    pub fn new(prefix: impl Into<String>) -> Result<Self> {
        let prefix = prefix.into();
        keys::validate_namespace(&prefix).map_err(|e| match e {
            Error::InvalidKey { reason, .. } => Error::InvalidKey {
                what: "namespace prefix",
                reason,
            },
            other => other,
        })?;
        Ok(PrefixLayer { prefix })
    }
}

impl<S: Store> Layer<S> for PrefixLayer {
    type Store = Prefixed<S>;
    fn layer(&self, inner: S) -> Prefixed<S> {
        let mut capabilities = inner.capabilities().clone();
        capabilities.max_namespace_len = capabilities
            .max_namespace_len
            .saturating_sub(self.prefix.len());
        Prefixed {
            inner,
            prefix: self.prefix.clone(),
            capabilities,
        }
    }
}

/// A store wrapped by [`PrefixLayer`].
#[derive(Debug, Clone)]
pub struct Prefixed<S> {
    inner: S,
    prefix: String,
    capabilities: Capabilities,
}

impl<S> Prefixed<S> {
    fn namespace(&self, namespace: &str) -> Result<String> {
        keys::validate_namespace_within(namespace, self.capabilities.max_namespace_len)?;
        let mut full = String::with_capacity(self.prefix.len() + namespace.len());
        full.push_str(&self.prefix);
        full.push_str(namespace);
        Ok(full)
    }
}

impl<S: Store> Store for Prefixed<S> {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Entry>> {
        self.inner.get(&self.namespace(namespace)?, key).await
    }

    async fn exists(&self, namespace: &str, key: &str) -> Result<bool> {
        self.inner.exists(&self.namespace(namespace)?, key).await
    }

    async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        opts: SetOptions,
    ) -> Result<SetOutcome> {
        self.inner
            .set(&self.namespace(namespace)?, key, value, opts)
            .await
    }

    async fn delete(&self, namespace: &str, key: &str, condition: DeleteCondition) -> Result<bool> {
        self.inner
            .delete(&self.namespace(namespace)?, key, condition)
            .await
    }

    async fn incr(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        self.inner
            .incr(&self.namespace(namespace)?, key, delta, ttl)
            .await
    }

    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        self.inner
            .list(&self.namespace(namespace)?, prefix, cursor, limit)
            .await
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }
}
