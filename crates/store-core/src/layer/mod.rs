//! Layers: cross-cutting behaviour that wraps any store and is a store again.
//!
//! A store stays a straight mapping onto its backend; retries, key prefixes and tracing
//! are added around it, like tower's `Layer`:
//!
//! ```
//! # use store_core::{Store, StoreExt, layer::{PrefixLayer, RetryLayer, TraceLayer}};
//! fn wrap<S: Store>(backend: S) -> impl Store {
//!     backend
//!         .layer(PrefixLayer::new("myapp:").expect("valid prefix"))
//!         .layer(RetryLayer::default())
//!         .layer(TraceLayer::default())
//! }
//! ```
//!
//! Order matters: a layer wraps everything applied before it. With the order above the
//! trace span covers all retry attempts of one call (one span per logical operation);
//! put `TraceLayer` before `RetryLayer` to get one span per attempt instead. The prefix
//! is innermost, so retries and traces see the namespace the caller gave.

#[cfg(feature = "metrics")]
mod metrics;
mod prefix;
mod retry;
mod trace;

#[cfg(feature = "metrics")]
pub use metrics::{Metered, MetricsLayer, OPERATION_SECONDS, OPERATIONS};
pub use prefix::{PrefixLayer, Prefixed};
pub use retry::{Retry, RetryLayer};
pub use trace::{TraceLayer, Traced};

/// Turns a store into another store that adds behaviour around it.
pub trait Layer<S> {
    /// The wrapped store.
    type Store: crate::Store;
    /// Wraps `inner`.
    fn layer(&self, inner: S) -> Self::Store;
}
