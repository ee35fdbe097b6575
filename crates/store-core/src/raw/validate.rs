//! The checks every backend runs before any I/O, so bad input never reaches the network
//! and never leaves a partial write: the key rules below, value sizes, TTLs and list limits.
//!
//! ## Key rules
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
//! use store_core::{raw::validate as keys, Error};
//! assert!(keys::validate_key("user:42/ü#{tag}", keys::MAX_KEY_LEN).is_ok());
//! assert!(matches!(keys::validate_key("", keys::MAX_KEY_LEN), Err(Error::InvalidKey { .. })));
//! assert!(matches!(keys::validate_namespace("a\nb"), Err(Error::InvalidKey { .. })));
//! ```
//!
//! [`Capabilities::max_key_len`]: crate::Capabilities::max_key_len
//! [`Capabilities::max_namespace_len`]: crate::Capabilities::max_namespace_len

use std::time::Duration;

use crate::{Advance, Capabilities, Condition, Error, Floor, Result, SetOptions};

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

/// Longest TTL accepted: 100 years, far beyond any use and within every backend's range.
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Checks a namespace and key.
pub fn entry_key(caps: &Capabilities, namespace: &str, key: &str) -> Result<()> {
    validate_namespace_within(namespace, caps.max_namespace_len)?;
    validate_key(key, caps.max_key_len)
}

/// Checks a TTL: at least one millisecond's worth of time, at most [`MAX_TTL`].
pub fn ttl(ttl: Option<Duration>) -> Result<()> {
    match ttl {
        Some(d) if d.is_zero() => Err(Error::InvalidArgument(
            "ttl must be greater than zero (use `delete` to remove an entry now)".into(),
        )),
        Some(d) if d > MAX_TTL => Err(Error::InvalidArgument(format!(
            "ttl of {} s exceeds the maximum of {} s",
            d.as_secs(),
            MAX_TTL.as_secs()
        ))),
        _ => Ok(()),
    }
}

/// Everything a `set` checks before I/O: key, value size, TTL, and that the backend
/// supports the condition.
pub fn set(
    caps: &Capabilities,
    namespace: &str,
    key: &str,
    value: &[u8],
    opts: &SetOptions,
) -> Result<()> {
    entry_key(caps, namespace, key)?;
    if value.len() > caps.max_value_size {
        return Err(Error::ValueTooLarge {
            size: value.len(),
            max: caps.max_value_size,
        });
    }
    ttl(opts.ttl)?;
    if opts.condition != Condition::Always && !caps.compare_and_set {
        return Err(Error::unsupported(
            "conditional set",
            "this backend cannot check a condition atomically with the write",
        ));
    }
    Ok(())
}

/// Everything an `incr` checks before I/O.
pub fn incr(caps: &Capabilities, namespace: &str, key: &str, ttl: Option<Duration>) -> Result<()> {
    entry_key(caps, namespace, key)?;
    self::ttl(ttl)?;
    if !caps.atomic_incr {
        return Err(Error::unsupported(
            "incr",
            "this backend has no atomic increment; a read-then-write counter would \
             undercount under concurrency, so use a backend that declares `atomic_incr`",
        ));
    }
    Ok(())
}

/// Everything an `advance` checks before I/O: key, TTL, that `floor + headroom` and
/// `floor + delta` fit a `u64` for a fixed floor, and that the store can apply it
/// (atomically, or by compare-and-set).
pub fn advance(caps: &Capabilities, namespace: &str, key: &str, advance: &Advance) -> Result<()> {
    entry_key(caps, namespace, key)?;
    ttl(advance.ttl)?;
    if let Floor::Value(floor) = advance.floor
        && (floor.checked_add(advance.headroom).is_none()
            || floor.checked_add(advance.delta).is_none())
    {
        return Err(Error::InvalidArgument(format!(
            "advance: floor {floor} plus delta {} or headroom {} overflows a u64",
            advance.delta, advance.headroom
        )));
    }
    if !caps.atomic_advance && !caps.compare_and_set {
        return Err(Error::unsupported(
            "advance",
            "this backend has neither an atomic advance nor compare-and-set to build one from",
        ));
    }
    Ok(())
}

/// Everything a `list` checks before I/O.
pub fn list(caps: &Capabilities, namespace: &str, prefix: &str, limit: usize) -> Result<()> {
    validate_namespace_within(namespace, caps.max_namespace_len)?;
    validate_prefix(prefix, caps.max_key_len)?;
    if limit == 0 || limit > caps.max_list_limit {
        return Err(Error::InvalidArgument(format!(
            "list limit must be between 1 and {}, got {limit}",
            caps.max_list_limit
        )));
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

    fn caps() -> Capabilities {
        Capabilities {
            max_key_len: 8,
            max_namespace_len: 8,
            max_value_size: 4,
            max_list_limit: 10,
            ..Capabilities::default()
        }
    }

    #[test]
    fn set_checks_size_ttl_and_condition_support() {
        let c = caps();
        assert!(set(&c, "ns", "k", b"1234", &SetOptions::always()).is_ok());
        assert!(matches!(
            set(&c, "ns", "k", b"12345", &SetOptions::always()),
            Err(Error::ValueTooLarge { size: 5, max: 4 })
        ));
        assert!(matches!(
            set(
                &c,
                "ns",
                "k",
                b"",
                &SetOptions::always().with_ttl(Duration::ZERO)
            ),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            set(&c, "ns", "k", b"", &SetOptions::if_absent()),
            Err(Error::Unsupported { .. })
        ));
    }

    #[test]
    fn incr_is_refused_without_atomic_incr() {
        let err = incr(&caps(), "ns", "k", None).unwrap_err();
        assert!(err.to_string().contains("atomic_incr"), "{err}");
    }

    #[test]
    fn list_limit_is_bounded() {
        assert!(list(&caps(), "ns", "", 10).is_ok());
        assert!(list(&caps(), "ns", "", 0).is_err());
        assert!(list(&caps(), "ns", "", 11).is_err());
    }
}
