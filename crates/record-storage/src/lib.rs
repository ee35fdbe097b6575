//! # record-storage: typed, scoped, optionally encrypted records over any store
//!
//! The key-value API a service reaches for to keep a session, a token, a cursor, a
//! cached response or a flag, shared by every instance of the service. It runs over any
//! [`store_core::Store`] (memory, Redis, DynamoDB), generically or behind a
//! [`store_core::SharedStore`].
//!
//! It offers what Stitch It's Record Storage documents, and goes beyond it: insert-only
//! writes are atomic (of N concurrent writers exactly one wins), read-modify-write is
//! safe ([`RecordStorage::update_value`], [`RecordStorage::set_value_if_version`]), and
//! secure records are bound to their scope and key.
//!
//! ## Constructing record storage
//!
//! Options given to [`RecordStorage::new`] apply to every call; each method has a
//! `_with` twin whose [`Options`] override them field by field.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), record_storage::RecordError> {
//! use std::time::Duration;
//! use record_storage::{Context, Options, RecordStorage, RetryOn429, Scope};
//!
//! let storage = RecordStorage::new(
//!     store_memory::MemoryStore::new(),
//!     Options::new()
//!         .context(Context::new("acme", "prod")) // default: from FLEETSTATE_* env vars
//!         .scope(Scope::Environment)             // the default
//!         .retry_on_429(RetryOn429 { enabled: true, verbose: false }),
//! );
//! // Per call: this record lives a minute and is visible from every environment.
//! let call = Options::new().scope(Scope::Workspace).ttl(Duration::from_secs(60));
//! storage.set_value_with("feature-flags", &["beta"], &call).await?;
//! # Ok(())
//! # }
//! ```
//!
//! The free functions ([`set_record_value`], [`get_record_value`],
//! [`get_keys_of_all_records`], [`delete_record_value`], [`record_value_exists`]) take
//! the store and options explicitly instead.
//!
//! ## Scopes
//!
//! [`Scope::Workspace`], [`Scope::Environment`] (default) and [`Scope::Invocation`]
//! resolve the [`Context`]'s ids into a namespace. Ids may contain any characters: they
//! are escaped, so no choice of ids lets one scope read another's records.
//! Invocation records live at most [`INVOCATION_TTL`] (15 minutes) and are deleted when
//! the invocation ends:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), record_storage::RecordError> {
//! # use record_storage::{Context, Options, RecordStorage, Scope};
//! # let storage = RecordStorage::new(store_memory::MemoryStore::new(), Options::new().context(Context::new("w", "e")));
//! let invocation = storage.invocation("req-42");
//! let scratch = Options::new().scope(Scope::Invocation);
//! invocation.set_value_with("step", &1, &scratch).await?;
//! assert_eq!(invocation.get_value_with::<u32>("step", &scratch).await?, Some(1));
//! assert_eq!(invocation.end().await?, 1); // deleted
//! # Ok(())
//! # }
//! ```
//!
//! ## setValue / getValue
//!
//! Any `T: Serialize + DeserializeOwned` is stored; nulls (`()`, `None`, a JSON null)
//! are refused with [`RecordError::NullValue`], and reading as the wrong type is
//! [`RecordError::Decode`]. Values are JSON by default (readable from any language),
//! MessagePack with named fields with [`Format::MessagePack`]; reads detect either.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), record_storage::RecordError> {
//! # use record_storage::{Context, Options, RecordStorage, RecordError};
//! # let storage = RecordStorage::new(store_memory::MemoryStore::new(), Options::new().context(Context::new("w", "e")));
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct TestRecord { hello: String }
//!
//! storage.set_value("MY_KEY", &TestRecord { hello: "world".into() }).await?;
//! let value: Option<TestRecord> = storage.get_value("MY_KEY").await?;
//! assert_eq!(value, Some(TestRecord { hello: "world".into() }));
//! assert!(matches!(storage.set_value("MY_KEY", &None::<u8>).await, Err(RecordError::NullValue { .. })));
//! assert!(matches!(storage.get_value::<u64>("MY_KEY").await, Err(RecordError::Decode { .. })));
//! # Ok(())
//! # }
//! ```
//!
//! ## Data overwrite
//!
//! Writes overwrite by default. With `deny_update_overwrite` a write to an existing
//! record fails with [`RecordError::AlreadyExists`], atomically.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), record_storage::RecordError> {
//! # use record_storage::{Context, Options, RecordStorage, RecordError};
//! # let storage = RecordStorage::new(store_memory::MemoryStore::new(), Options::new().context(Context::new("w", "e")));
//! let insert_only = Options::new().deny_update_overwrite(true);
//! storage.set_value_with("lock", &"me", &insert_only).await?;
//! let second = storage.set_value_with("lock", &"you", &insert_only).await;
//! assert!(matches!(second, Err(RecordError::AlreadyExists { .. })));
//! # Ok(())
//! # }
//! ```
//!
//! ## valueExists, deleteValue, getAllKeys
//!
//! [`RecordStorage::value_exists`] answers without transferring the value where the
//! backend allows. [`RecordStorage::delete_value`] is idempotent.
//! [`RecordStorage::get_all_keys`] pages with `last_evaluated_key` (see its example);
//! [`RecordStorage::keys`] streams every key.
//!
//! ## Secure records
//!
//! With `secure`, values are encrypted client-side with XChaCha20-Poly1305 under the
//! [`Keyring`]'s primary key; the envelope names the key id, so rotated keys still read
//! old records. The ciphertext is bound to its scope, namespace and key: copied onto
//! another record it fails with [`RecordError::Integrity`]. A secure record read without
//! a keyring, or with the wrong one, is an error, never garbage.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), record_storage::RecordError> {
//! # use record_storage::{Context, Options, RecordStorage, Keyring};
//! let keyring = Keyring::random(1); // in production: Keyring::from_env("RECORD_KEYS")
//! let storage = RecordStorage::new(
//!     store_memory::MemoryStore::new(),
//!     Options::new().context(Context::new("w", "e")).keyring(keyring).secure(true),
//! );
//! storage.set_value("api-token", &"s3cr3t").await?;
//! assert_eq!(storage.get_value::<String>("api-token").await?.as_deref(), Some("s3cr3t"));
//! # Ok(())
//! # }
//! ```
//!
//! ## Rate limits
//!
//! `retry_on_429` (enabled and verbose by default) retries throttled calls with
//! store-core's full-jitter `RetryLayer`, logging a `tracing` warning per retry when
//! `verbose`. Disabled, the first throttling reaches the caller as
//! `RecordError::Store(store_core::Error::Throttled { .. })` ([`RecordError::is_throttled`]).
//!
//! ## Beyond the reference
//!
//! - [`RecordStorage::update_value`]: a compare-and-set loop, no lost update.
//! - [`RecordStorage::set_value_if_version`] with [`RecordStorage::get_record`]'s version.
//! - [`RecordStorage::get_or_set_with`]: a cache helper computing a missing value once
//!   per key among concurrent callers.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod codec;
mod error;
mod functions;
mod ops;
mod options;
mod route;
mod scope;
mod secure;
mod storage;

pub use codec::{DEFAULT_MAX_NESTING, Format, MAX_NESTING_LIMIT};
pub use error::{RecordError, Result};
pub use functions::{
    delete_record_value, get_keys_of_all_records, get_record_value, record_value_exists,
    set_record_value,
};
pub use ops::{KeysPage, KeysRequest, Record};
pub use options::{
    Context, ENVIRONMENT_ENV, INVOCATION_TTL, Options, RetryOn429, Scope, WORKSPACE_ENV,
};
pub use secure::{Keyring, OVERHEAD as SECURE_OVERHEAD};
pub use storage::{Invocation, RecordStorage};
