//! The builder: the Worker's KV binding.

use store_core::{Error, Result};
use worker::kv::KvStore;

use crate::CloudflareKvStore;
use crate::layout::{DEFAULT_PREFIX, MAX_PREFIX_LEN};

/// Builds a [`CloudflareKvStore`] from a Worker's KV namespace binding.
///
/// ```no_run
/// # fn demo(env: &worker::Env) -> store_core::Result<()> {
/// let store = store_cloudflare_kv::CloudflareKvStoreBuilder::from_env(env, "SESSIONS")?
///     .prefix("my-app/")?
///     .build();
/// // store.get / set / delete / list ...
/// # let _ = store; Ok(()) }
/// ```
///
/// There is no URL form: a KV namespace is reached only through a binding of the
/// Worker that runs the code, so neither the scheme registry nor the `fleetstate`
/// command can open one.
#[derive(Debug)]
pub struct CloudflareKvStoreBuilder {
    kv: KvStore,
    prefix: String,
}

impl CloudflareKvStoreBuilder {
    /// A builder on a KV namespace you already hold.
    pub fn new(kv: KvStore) -> Self {
        CloudflareKvStoreBuilder {
            kv,
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }

    /// A builder on the KV namespace bound as `binding` in `env` (`wrangler.toml`'s
    /// `[[kv_namespaces]] binding`).
    ///
    /// Errors: `Misconfigured` when the Worker has no such KV binding.
    pub fn from_env(env: &worker::Env, binding: &str) -> Result<Self> {
        let kv = env.kv(binding).map_err(|e| {
            Error::Misconfigured(format!(
                "the Worker has no KV namespace bound as `{binding}` ({e}): add it under \
                 [[kv_namespaces]] in wrangler.toml"
            ))
        })?;
        Ok(Self::new(kv))
    }

    /// What every key starts with (default `fleetstate/`): up to 64 bytes, no control
    /// characters. Stores with different prefixes never see each other's keys.
    ///
    /// Errors: `Misconfigured` for a longer prefix or one with control characters.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Result<Self> {
        let prefix = prefix.into();
        if prefix.len() > MAX_PREFIX_LEN || prefix.chars().any(char::is_control) {
            return Err(Error::Misconfigured(format!(
                "Workers KV prefix {prefix:?}: at most {MAX_PREFIX_LEN} bytes, no control \
                 characters"
            )));
        }
        self.prefix = prefix;
        Ok(self)
    }

    /// The store. Nothing is called on KV.
    pub fn build(self) -> CloudflareKvStore {
        CloudflareKvStore::new(self.kv, self.prefix)
    }
}
