//! # store-core: the contract between fleetstate's features and its backends
//!
//! fleetstate keeps the shared state of a fleet (many copies of a service) in one of
//! several interchangeable backends. This crate is the seam between them: the [`Store`]
//! trait every backend implements, the [`Error`] every operation returns, the key rules
//! ([`keys`]), [`Capabilities`] that say what a backend guarantees, [`layer`]s that add
//! retries, prefixes and tracing around any store, a [`SchemeRegistry`] that opens a
//! store from a URL, and (feature `conformance`) the suite that defines a correct backend.
//!
//! A backend author learns the whole contract here.
//!
//! ## The model
//!
//! A store holds **entries** addressed by a **namespace** and a **key**, two UTF-8
//! strings. Namespaces partition data (`idempotency#payments`, `ratelimit#api`); a
//! backend maps each `(namespace, key)` pair to a physical key **injectively**, so no two
//! pairs collide whatever characters they hold. An [`Entry`] has a value (bytes), a
//! [`Version`] that changes on every successful write, and an optional expiry
//! ([`Timestamp`], milliseconds).
//!
//! | operation | guarantee |
//! |---|---|
//! | [`get`](Store::get) | the live entry or `None`; expired entries are never returned |
//! | [`set`](Store::set) | writes if the [`Condition`] holds (`Always`, `IfAbsent`, `IfPresent`, `IfVersion`), atomically; a rejection carries the live entry where the backend can return it in the same round trip |
//! | [`delete`](Store::delete) | idempotent, optionally conditional on a version; says whether a live entry was removed |
//! | [`incr`](Store::incr) | atomic add; a new counter starts at 0 and gets the TTL, later calls never move the expiry |
//! | [`list`](Store::list) | pages of live keys by prefix with an opaque [`Cursor`]; a full walk returns each key that was live throughout exactly once |
//! | [`capabilities`](Store::capabilities) | what the backend guarantees and its limits |
//!
//! Bad input fails before any I/O with [`Error::InvalidKey`],
//! [`Error::InvalidArgument`] or [`Error::ValueTooLarge`]; transient failures say
//! whether the request may have been applied ([`Delivery`]), so retries never apply a
//! write twice ([`Error::is_retryable`]).
//!
//! ## Example
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use store_core::{SetOptions, SetOutcome, Store};
//!
//! /// Works with any backend: claims `job` for this worker for 30 seconds.
//! async fn claim<S: Store>(store: &S, job: &str, worker: &str) -> store_core::Result<bool> {
//!     let opts = SetOptions::if_absent().with_ttl(Duration::from_secs(30));
//!     let outcome = store.set("jobs", job, Bytes::from(worker.to_owned()), opts).await?;
//!     Ok(matches!(outcome, SetOutcome::Written(_)))
//! }
//! ```
//!
//! ## Static and dynamic dispatch
//!
//! Generic code takes `S: Store` and pays no allocation per call. When the backend is
//! picked at run time (from a URL), use [`SharedStore`] (`Arc<dyn DynStore>`), which is a
//! [`Store`] too.
//!
//! ## Writing a backend
//!
//! Implement [`Store`] with `async fn`s; call the [`validate`] helpers first in each
//! operation; declare honest [`Capabilities`]; map the backend's failures onto
//! [`Error`] (say [`Delivery::NotSent`] only when the request provably never left); and
//! run the conformance suite with [`conformance_tests!`] (feature `conformance`).

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod capabilities;
mod clock;
mod error;
pub mod keys;
pub mod layer;
mod registry;
mod store;
mod types;
pub mod validate;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use capabilities::Capabilities;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{BoxError, Delivery, Error, Result};
pub use layer::Layer;
pub use registry::{Opener, SchemeRegistry, open};
pub use store::{DynStore, SharedStore, Store, StoreExt};
pub use types::{
    Condition, Cursor, DeleteCondition, Entry, IncrOutcome, ListPage, SetOptions, SetOutcome,
    Timestamp, Version, ttl_millis,
};

/// Re-exported so backends and users name the same `Bytes`.
pub use bytes::Bytes;
