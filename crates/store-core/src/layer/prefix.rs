use std::borrow::Cow;

use super::Layer;
use crate::raw::{Forward, validate};
use crate::{Capabilities, Error, Result, Store};

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
        validate::validate_namespace(&prefix).map_err(|e| match e {
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

impl<S: Store> Forward for Prefixed<S> {
    type Inner = S;

    fn inner(&self) -> &S {
        &self.inner
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn namespace<'n>(&self, namespace: &'n str) -> Result<Cow<'n, str>> {
        validate::validate_namespace_within(namespace, self.capabilities.max_namespace_len)?;
        let mut full = String::with_capacity(self.prefix.len() + namespace.len());
        full.push_str(&self.prefix);
        full.push_str(namespace);
        Ok(Cow::Owned(full))
    }
}

crate::forward_store!(impl[S: Store] Prefixed<S>);
