//! The `fleetstate` command's library: the one crate allowed to name every backend and
//! feature (an application, like the tests and benches).
//!
//! - [`registry`]: every backend's URL schemes in one [`SchemeRegistry`](store_core::SchemeRegistry).
//! - [`verify`]: the conformance suite against a live deployment, with a report for
//!   humans, JSON and JUnit XML.
//! - [`demo`]: the fleet on the embedded store.
//!
//! A backend author verifies a third-party backend the same way from Rust: register its
//! builder in a registry, open the URL, and call [`verify::run`] with the stores.

pub mod demo;
pub mod ops;
pub mod registry;
pub mod verify;
