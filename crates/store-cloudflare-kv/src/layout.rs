//! The physical layout: keys and entries as Workers KV holds them. The one place that
//! describes it.
//!
//! **Keys.** `(namespace, key)` is the KV key `{prefix}{n}:{namespace}/{key}`, `n` the
//! namespace's length in bytes (decimal): the length makes the mapping injective
//! whatever the namespace holds, and keeps one namespace's keys one contiguous,
//! byte-ordered run that KV's prefix listing walks in order. With the limits below
//! (prefix at most 64 bytes, namespace 128, key 256) a key stays under KV's 512 bytes.
//!
//! **Entries.** The value is stored as given (bytes); the key's KV metadata (JSON) is
//! `{"v": "<version>", "e": <expiry in ms since the epoch, 0 for none>}`. The version is
//! random (64 bits, never 0). KV expires keys itself, at a whole second and no sooner
//! than 60 s after the write: a shorter TTL is raised to 60 s, a fractional one rounded
//! up, and the expiry in the metadata is that raised one; reads treat an entry past it
//! as absent even while KV still returns it.

use serde::{Deserialize, Serialize};
use store_core::{Error, Result};

/// The default prefix of every key.
pub const DEFAULT_PREFIX: &str = "fleetstate/";
/// Longest prefix, in bytes.
pub const MAX_PREFIX_LEN: usize = 64;
/// Longest namespace, in bytes.
pub const MAX_NAMESPACE_LEN: usize = 128;
/// Longest key, in bytes.
pub const MAX_KEY_LEN: usize = 256;
/// Workers KV's shortest expiration TTL.
pub const MIN_TTL_SECS: u64 = 60;
/// Workers KV's largest value: 25 MiB.
pub const MAX_VALUE_SIZE: usize = 25 * 1024 * 1024;

/// The KV key of `(namespace, key)` under `prefix`.
pub(crate) fn key(prefix: &str, namespace: &str, key: &str) -> String {
    format!("{}{key}", namespace_prefix(prefix, namespace))
}

/// What every KV key of `namespace` starts with.
pub(crate) fn namespace_prefix(prefix: &str, namespace: &str) -> String {
    format!("{prefix}{}:{namespace}/", namespace.len())
}

/// The KV metadata of an entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Meta {
    /// The version, decimal (JSON numbers lose precision past 2^53).
    pub(crate) v: String,
    /// Expiry, ms since the epoch; 0 for none.
    pub(crate) e: u64,
}

impl Meta {
    pub(crate) fn version(&self) -> Result<u64> {
        match self.v.parse::<u64>() {
            Ok(v) if v != 0 => Ok(v),
            _ => Err(foreign("metadata without a version")),
        }
    }

    pub(crate) fn live(&self, now_ms: u64) -> bool {
        self.e == 0 || self.e > now_ms
    }
}

/// The TTL KV keeps for `ttl_ms`: at least 60 s, whole seconds, rounded up.
pub(crate) fn kv_ttl_secs(ttl_ms: u64) -> u64 {
    ttl_ms.div_ceil(1000).max(MIN_TTL_SECS)
}

pub(crate) fn foreign(what: &str) -> Error {
    Error::Backend {
        message: format!(
            "the Workers KV entry at this key has {what}: it was not written by fleetstate \
             (give the store a prefix of its own)"
        ),
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_injective_and_namespaces_are_runs() {
        assert_ne!(key("p/", "a/b", "c"), key("p/", "a", "b/c"));
        assert_ne!(key("p/", "a1:", "x"), key("p/", "a", "1:x"));
        let ns = namespace_prefix("p/", "ns");
        assert!(key("p/", "ns", "k").starts_with(&ns));
        assert!(!key("p/", "ns2", "k").starts_with(&ns));
        let longest = key(
            &"p".repeat(MAX_PREFIX_LEN),
            &"n".repeat(MAX_NAMESPACE_LEN),
            &"k".repeat(MAX_KEY_LEN),
        );
        assert!(longest.len() <= 512, "{}", longest.len());
    }

    #[test]
    fn ttls_are_raised_to_kv_floor() {
        assert_eq!(kv_ttl_secs(1), 60);
        assert_eq!(kv_ttl_secs(60_000), 60);
        assert_eq!(kv_ttl_secs(60_001), 61);
        assert_eq!(kv_ttl_secs(3_600_000), 3600);
    }
}
