//! Checks every backend runs before any I/O, so bad input never reaches the network
//! and never leaves a partial write.

use std::time::Duration;

use crate::{Capabilities, Condition, Error, Result, SetOptions, keys};

/// Longest TTL accepted: 100 years, far beyond any use and within every backend's range.
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Checks a namespace and key.
pub fn entry_key(caps: &Capabilities, namespace: &str, key: &str) -> Result<()> {
    keys::validate_namespace_within(namespace, caps.max_namespace_len)?;
    keys::validate_key(key, caps.max_key_len)
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

/// Everything a `list` checks before I/O.
pub fn list(caps: &Capabilities, namespace: &str, prefix: &str, limit: usize) -> Result<()> {
    keys::validate_namespace_within(namespace, caps.max_namespace_len)?;
    keys::validate_prefix(prefix, caps.max_key_len)?;
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
