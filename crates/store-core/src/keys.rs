//! Key rules, enforced by every backend before any I/O.
//!
//! | part | length (UTF-8 bytes) | characters |
//! |---|---|---|
//! | namespace | 1 ..= [`MAX_NAMESPACE_LEN`] (or the store's smaller [`Capabilities::max_namespace_len`]) | any but ASCII control characters |
//! | key | 1 ..= [`MAX_KEY_LEN`] (or the backend's smaller [`Capabilities::max_key_len`]) | any but ASCII control characters |
//! | list prefix | 0 ..= the key limit | any but ASCII control characters |
//!
//! Separators (`:`, `#`, `/`, `{`, `}`) and any Unicode are allowed: a backend maps
//! `(namespace, key)` to its physical key injectively, so no choice of characters makes
//! two pairs collide. Control characters are refused because they corrupt logs and
//! terminals where keys are shown, and no legitimate key needs them.
//!
//! ```
//! use store_core::{keys, Error};
//! assert!(keys::validate_key("user:42/ü#{tag}", keys::MAX_KEY_LEN).is_ok());
//! assert!(matches!(keys::validate_key("", keys::MAX_KEY_LEN), Err(Error::InvalidKey { .. })));
//! assert!(matches!(keys::validate_namespace("a\nb"), Err(Error::InvalidKey { .. })));
//! ```
//!
//! [`Capabilities::max_key_len`]: crate::Capabilities::max_key_len
//! [`Capabilities::max_namespace_len`]: crate::Capabilities::max_namespace_len

use crate::{Error, Result};

/// Longest namespace, in UTF-8 bytes.
pub const MAX_NAMESPACE_LEN: usize = 256;
/// Longest key accepted by any backend, in UTF-8 bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Checks a namespace against the rules above.
pub fn validate_namespace(namespace: &str) -> Result<()> {
    validate_namespace_within(namespace, MAX_NAMESPACE_LEN)
}

/// Checks a namespace against the rules above with a smaller length limit (a store
/// behind a prefix layer has less room).
pub fn validate_namespace_within(namespace: &str, max_len: usize) -> Result<()> {
    validate("namespace", namespace, 1, max_len.min(MAX_NAMESPACE_LEN))
}

/// Checks a key against the rules above, with `max_len` the backend's key limit.
pub fn validate_key(key: &str, max_len: usize) -> Result<()> {
    validate("key", key, 1, max_len.min(MAX_KEY_LEN))
}

/// Checks a list prefix (may be empty).
pub fn validate_prefix(prefix: &str, max_len: usize) -> Result<()> {
    validate("prefix", prefix, 0, max_len.min(MAX_KEY_LEN))
}

fn validate(what: &'static str, s: &str, min: usize, max: usize) -> Result<()> {
    let invalid = |reason: String| Err(Error::InvalidKey { what, reason });
    if s.len() < min {
        return invalid(format!("must not be empty (at least {min} byte)"));
    }
    if s.len() > max {
        return invalid(format!(
            "is {} bytes long, the limit is {max} bytes",
            s.len()
        ));
    }
    if let Some(pos) = s.bytes().position(|b| b.is_ascii_control()) {
        return invalid(format!(
            "contains the control character 0x{:02x} at byte {pos}",
            s.as_bytes()[pos]
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_inclusive() {
        assert!(validate_namespace(&"n".repeat(MAX_NAMESPACE_LEN)).is_ok());
        assert!(validate_namespace(&"n".repeat(MAX_NAMESPACE_LEN + 1)).is_err());
        assert!(validate_key(&"k".repeat(10), 10).is_ok());
        assert!(validate_key(&"k".repeat(11), 10).is_err());
        assert!(validate_prefix("", 10).is_ok());
    }

    #[test]
    fn errors_name_the_part_and_the_rule() {
        let err = validate_key("a\u{7f}", 10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid key: contains the control character 0x7f at byte 1"
        );
        let err = validate_namespace("").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid namespace: must not be empty (at least 1 byte)"
        );
    }
}
