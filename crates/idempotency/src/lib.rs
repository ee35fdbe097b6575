//! # idempotency: handlers that run once per logical request
//!
//! Retries and duplicate deliveries are normal in serverless systems: Lambda retries,
//! SQS delivers at least once, clients resend after a timeout. [`Idempotency`] makes a
//! handler run once per idempotency key across the whole fleet and replays its stored
//! result to duplicates, over any [`store_core::Store`] that can compare-and-set.
//!
//! It follows the model of Powertools for AWS Lambda's idempotency utility and fixes
//! what its users report:
//!
//! | Powertools | here |
//! |---|---|
//! | key prefix from the handler's module path, changes on refactor | a name you choose: namespace `idempotency#<name>` |
//! | no in-progress expiry without a Lambda context: a crashed run blocks duplicates for an hour | a bounded default window ([`DEFAULT_IN_PROGRESS_WINDOW`]) |
//! | completion written unconditionally: a slow first run can overwrite the run that took over | completion by compare-and-set; the late run's result goes to its caller only |
//! | a second read after a failed conditional write | the rejected write returns the record: one round trip per duplicate |
//! | MD5 of the payload | SHA-256 of canonical JSON (sorted keys) |
//! | one static partition key in DynamoDB | the store's layout: per-namespace partitions, or a static one when you want it |
//!
//! ## Flow
//!
//! ```text
//! claim: set IfAbsent {INPROGRESS, in_progress_expiration, validation}, ttl expires_after
//!   written   -> run the handler
//!                  Ok  -> set IfVersion {COMPLETED, data}   (lost the CAS: LostOwnership, logged)
//!                  Err -> delete IfVersion, return the error unchanged
//!   rejected  -> the current record:
//!                  COMPLETED, validation matches   -> replay data (through the response hook)
//!                  validation differs              -> PayloadMismatch
//!                  INPROGRESS, window passed       -> take over: set IfVersion
//!                  INPROGRESS, live                -> AlreadyInProgress, or wait (dedupe mode)
//! ```
//!
//! ## Use
//!
//! - [`Idempotency::idempotent`]: wrap any async closure; [`Idempotency::wrap`]: a
//!   reusable handler for per-record use in batches.
//! - [`IdempotencyLayer`]: a tower layer keyed by the `Idempotency-Key` header (409 in
//!   progress, 422 for another payload under the same key, 400 or pass-through without
//!   a key; replays keep status, headers and body).
//! - `lambda::make_idempotent` (feature `lambda`): a `lambda_runtime` service whose
//!   in-progress window ends at the invocation's deadline.
//!
//! Key selection: the whole payload, a JMESPath expression over it as JSON (with
//! Powertools' `powertools_json`, `powertools_base64`, `powertools_base64_gzip`), or a
//! closure over the typed payload ([`Config`]). Handler errors convert from
//! [`IdempotencyError`] (`E: From<IdempotencyError>`), so they come back unchanged.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use idempotency::{Config, Idempotency};
//!
//! #[derive(serde::Serialize)]
//! struct Payment { id: String, cents: u64 }
//!
//! let idempotency = Idempotency::new(
//!     store_memory::MemoryStore::new(),
//!     Config::new("payments")
//!         .key_by(|p: &Payment| p.id.clone())
//!         .validate_by(|p: &Payment| p.cents),
//! )?;
//! let payment = Payment { id: "p-1".into(), cents: 1250 };
//! let receipt: String = idempotency
//!     .idempotent(&payment, || async {
//!         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(format!("charged {}", payment.cents))
//!     })
//!     .await?;
//! assert_eq!(receipt, "charged 1250");
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod config;
mod error;
mod hash;
mod inspect;
mod jmes;
#[cfg(feature = "lambda")]
pub mod lambda;
mod layer;
pub mod metrics;
mod protocol;
mod record;

pub use config::{
    Config, DEFAULT_EXPIRES_AFTER, DEFAULT_IN_PROGRESS_WINDOW, DEFAULT_MAX_NESTING, DISABLED_ENV,
    Dedupe, FUNCTION_NAME_ENV, MAX_NESTING_LIMIT, Replay,
};
pub use error::IdempotencyError;
pub use inspect::RecordInfo;
pub use jmes::JmesPath;
pub use layer::{IdempotencyLayer, IdempotencyService, MissingKey, REPLAYED_HEADER};
pub use protocol::{Idempotency, Wrapped};
pub use record::Status;
