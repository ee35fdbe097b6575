#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod client;
mod config;
mod driver;
mod error;
mod layout;
mod list;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{DenoKvStoreBuilder, TOKEN_ENV};
pub use layout::{DEFAULT_ROOT, MAX_ROOT_LEN};
pub use store::{DEFAULT_MAX_ROUNDS, DenoKvStore, MAX_LIST_LIMIT, MAX_VALUE_SIZE};

/// Deno KV's protocol types (keys, values, atomic writes).
pub use denokv_proto;
/// The KV Connect client this backend drives, for raw calls of your own.
pub use denokv_remote;

use store_core::SchemeRegistry;

/// Registers `denokv://` and `denokvs://` in `registry`.
pub fn register(registry: &SchemeRegistry) {
    registry.register_builder::<DenoKvStoreBuilder>();
}
