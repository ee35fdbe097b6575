//! # idempotency: handlers that run once per logical request
//!
//! (crate docs below)

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod config;
mod error;
mod hash;
mod idempotency;
mod jmes;
#[cfg(feature = "lambda")]
pub mod lambda;
mod layer;
mod record;

pub use config::{
    Config, DEFAULT_EXPIRES_AFTER, DEFAULT_IN_PROGRESS_WINDOW, DISABLED_ENV, Dedupe,
    FUNCTION_NAME_ENV, Replay,
};
pub use error::IdempotencyError;
pub use idempotency::{Idempotency, Wrapped};
pub use jmes::JmesPath;
pub use layer::{IdempotencyLayer, IdempotencyService, MissingKey, REPLAYED_HEADER};
pub use record::Status;
