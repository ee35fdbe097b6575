//! One forwarding mechanism for every store that wraps another (layers, pointers, test
//! wrappers): a wrapper implements [`Forward`] (what it wraps, and optionally how it
//! maps namespaces and runs each call) and [`forward_store!`](crate::forward_store)
//! writes its [`Store`](crate::Store) impl. An operation added to the contract is
//! added here and in the macro, and every wrapper forwards it.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;

use crate::{Capabilities, Condition, DeleteCondition, Result, Store};

/// One operation of the contract, as a wrapper sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// [`Store::get`].
    Get,
    /// [`Store::exists`].
    Exists,
    /// [`Store::set`] with its condition.
    Set(Condition),
    /// [`Store::delete`] with its condition.
    Delete(DeleteCondition),
    /// [`Store::incr`].
    Incr,
    /// [`Store::list`].
    List,
    /// [`Store::advance`].
    Advance,
    /// [`Store::clear`].
    Clear,
}

impl Operation {
    /// The operation's name (`"get"`, `"set"`...), for spans, logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Get => "get",
            Operation::Exists => "exists",
            Operation::Set(_) => "set",
            Operation::Delete(_) => "delete",
            Operation::Incr => "incr",
            Operation::List => "list",
            Operation::Advance => "advance",
            Operation::Clear => "clear",
        }
    }

    /// Whether sending it again after an attempt that may have landed changes nothing:
    /// reads, `clear`, and unconditional `set` and `delete`. `incr` and `advance` would
    /// count twice and a conditional write would report its own landed write as a
    /// conflict.
    pub fn is_idempotent(self) -> bool {
        match self {
            Operation::Get | Operation::Exists | Operation::List | Operation::Clear => true,
            Operation::Set(condition) => condition == Condition::Always,
            Operation::Delete(condition) => condition == DeleteCondition::Always,
            Operation::Incr | Operation::Advance => false,
        }
    }
}

/// One call as a wrapper sees it: the operation, the namespace the caller gave, and the
/// key (the prefix for `list` and `clear`).
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// Which operation.
    pub operation: Operation,
    /// The namespace as the caller gave it (before any [`Forward::namespace`] mapping).
    pub namespace: &'a str,
    /// The key, or the prefix for `list` and `clear`.
    pub key: &'a str,
}

/// A store that forwards every operation to an inner store;
/// [`forward_store!`](crate::forward_store) turns it into a [`Store`].
pub trait Forward: Send + Sync + fmt::Debug {
    /// The wrapped store.
    type Inner: Store;

    /// The wrapped store.
    fn inner(&self) -> &Self::Inner;

    /// What this store guarantees (default: the inner store's).
    fn capabilities(&self) -> &Capabilities {
        self.inner().capabilities()
    }

    /// The namespace to send to the inner store (default: unchanged).
    fn namespace<'n>(&self, namespace: &'n str) -> Result<Cow<'n, str>> {
        Ok(Cow::Borrowed(namespace))
    }

    /// Runs one call: `run` sends it to the inner store and may be called again to
    /// resend it (default: once).
    fn around<T, F, Fut>(&self, call: Call<'_>, run: F) -> impl Future<Output = Result<T>> + Send
    where
        T: Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
    {
        let _ = call;
        let mut run = run;
        async move { run().await }
    }
}

/// Writes the [`Store`](crate::Store) impl of a type that implements
/// [`Forward`](crate::raw::Forward): every operation goes through its `namespace` and
/// `around` to the inner store.
///
/// ```
/// use store_core::raw::Forward;
/// use store_core::Store;
///
/// /// Forwards everything unchanged.
/// #[derive(Debug)]
/// struct Passthrough<S>(S);
///
/// impl<S: Store> Forward for Passthrough<S> {
///     type Inner = S;
///     fn inner(&self) -> &S { &self.0 }
/// }
/// store_core::forward_store!(impl[S: Store] Passthrough<S>);
/// ```
#[macro_export]
macro_rules! forward_store {
    ($(#[$attr:meta])* impl[$($generics:tt)*] $ty:ty) => {
        $(#[$attr])*
        impl<$($generics)*> $crate::Store for $ty {
            async fn get(
                &self,
                namespace: &str,
                key: &str,
            ) -> $crate::Result<::core::option::Option<$crate::Entry>> {
                $crate::forward_store!(@call self, Get, namespace, key, |inner, ns| inner.get(ns, key))
            }
            async fn exists(&self, namespace: &str, key: &str) -> $crate::Result<bool> {
                $crate::forward_store!(@call self, Exists, namespace, key, |inner, ns| inner.exists(ns, key))
            }
            async fn set(
                &self,
                namespace: &str,
                key: &str,
                value: $crate::Bytes,
                opts: $crate::SetOptions,
            ) -> $crate::Result<$crate::SetOutcome> {
                $crate::forward_store!(@call self, Set(opts.condition), namespace, key,
                    |inner, ns| inner.set(ns, key, value.clone(), opts))
            }
            async fn delete(
                &self,
                namespace: &str,
                key: &str,
                condition: $crate::DeleteCondition,
            ) -> $crate::Result<bool> {
                $crate::forward_store!(@call self, Delete(condition), namespace, key,
                    |inner, ns| inner.delete(ns, key, condition))
            }
            async fn incr(
                &self,
                namespace: &str,
                key: &str,
                delta: i64,
                ttl: ::core::option::Option<::std::time::Duration>,
            ) -> $crate::Result<$crate::IncrOutcome> {
                $crate::forward_store!(@call self, Incr, namespace, key,
                    |inner, ns| inner.incr(ns, key, delta, ttl))
            }
            async fn list(
                &self,
                namespace: &str,
                prefix: &str,
                cursor: ::core::option::Option<&$crate::Cursor>,
                limit: usize,
            ) -> $crate::Result<$crate::ListPage> {
                $crate::forward_store!(@call self, List, namespace, prefix,
                    |inner, ns| inner.list(ns, prefix, cursor, limit))
            }
            async fn advance(
                &self,
                namespace: &str,
                key: &str,
                advance: $crate::Advance,
            ) -> $crate::Result<$crate::Advanced> {
                $crate::forward_store!(@call self, Advance, namespace, key,
                    |inner, ns| inner.advance(ns, key, advance))
            }
            async fn clear(&self, namespace: &str, prefix: &str) -> $crate::Result<u64> {
                $crate::forward_store!(@call self, Clear, namespace, prefix,
                    |inner, ns| inner.clear(ns, prefix))
            }
            fn capabilities(&self) -> &$crate::Capabilities {
                $crate::raw::Forward::capabilities(self)
            }
        }
    };
    (@call $self:ident, $op:ident $(($cond:expr))?, $namespace:ident, $key:ident,
        |$inner:ident, $ns:ident| $send:expr) => {{
        #[allow(unused_imports)]
        use $crate::Store as _;
        let mapped = $crate::raw::Forward::namespace($self, $namespace)?;
        let $ns: &str = &mapped;
        let $inner = $crate::raw::Forward::inner($self);
        let call = $crate::raw::Call {
            operation: $crate::raw::Operation::$op $(($cond))?,
            namespace: $namespace,
            key: $key,
        };
        $crate::raw::Forward::around($self, call, || $send).await
    }};
}
