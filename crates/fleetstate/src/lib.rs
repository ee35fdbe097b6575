//! The `fleetstate` command's library: the one crate allowed to name every backend and
//! feature (an application, like the tests and benches).
//!
//! - [`registry`]: every backend's URL schemes in one [`SchemeRegistry`](store_core::SchemeRegistry).
//! - [`verify`]: the conformance suite against a live deployment, with a report for
//!   humans, JSON and JUnit XML.
//! - [`ops`], [`records`], [`idem`]: state as operators see it: entries, scoped and
//!   encrypted records, idempotency records.
//! - [`bench`](mod@bench): throughput and latency percentiles of a store.
//! - [`iam`]: least-privilege IAM policies and DynamoDB table definitions.
//! - [`demo`]: the fleet on the embedded store.
//!
//! A backend author verifies a third-party backend the same way from Rust: register its
//! builder in a registry, open the URL, and call [`verify::run`] with the stores.

pub mod bench;
pub mod demo;
pub mod iam;
pub mod idem;
pub mod ops;
pub mod records;
pub mod registry;
pub mod verify;

/// What a command prints: JSON under `--json`, text otherwise, and whether it
/// succeeded (exit code 0, else 1).
#[derive(Debug, Clone)]
pub struct Output {
    /// The machine-readable result.
    pub json: serde_json::Value,
    /// The result for humans.
    pub text: String,
    /// Whether the command found what it was asked for.
    pub success: bool,
}

impl Output {
    /// A successful result.
    pub fn ok(json: serde_json::Value, text: String) -> Self {
        Output {
            json,
            text,
            success: true,
        }
    }

    /// A result that exits with code 1 (absent, rejected, failed).
    pub fn fail(json: serde_json::Value, text: String) -> Self {
        Output {
            json,
            text,
            success: false,
        }
    }
}

/// Opens `url` with every backend registered.
pub async fn open(url: &str) -> store_core::Result<store_core::SharedStore> {
    registry::open(&registry::all(), url).await
}
