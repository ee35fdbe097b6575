//! The backend kit: what backend and layer authors need and users do not.
//!
//! - [`validate`]: the key rules and the checks every backend runs before any I/O;
//! - [`StoreUrl`]: the one parser of store URLs and their options;
//! - [`Forward`] and [`forward_store!`](crate::forward_store): one mechanism for every
//!   store that wraps another;
//! - [`version`], [`version_number`], [`cursor`] and [`ttl_millis`]: building the opaque
//!   values of the contract from a backend's own;
//! - [`json_nesting`]: how deep a stored JSON value nests, for features that bound it
//!   before decoding.
//!
//! `docs/BACKENDS.md` in the repository is the recipe that uses them.

mod advance;
mod deferred;
mod forward;
mod keyset;
mod nesting;
mod url;
pub mod validate;

pub use advance::{MAX_ADVANCE_VALUE, advance_by_compare_and_set, parse_value};
pub use deferred::{check_deferred_keys, take_deferred};
pub use forward::{Call, Forward, Operation};
pub use keyset::{keyset_after, keyset_cursor};
pub use nesting::json_nesting;
pub use url::{OptionValue, StoreUrl, redact};

use std::time::Duration;

use crate::{Cursor, Version};

/// A TTL in whole milliseconds, rounded up (a 1 µs TTL lives 1 ms, not 0).
pub fn ttl_millis(ttl: Duration) -> u64 {
    let millis = ttl.as_nanos().div_ceil(1_000_000);
    u64::try_from(millis).unwrap_or(u64::MAX)
}

/// The contract's counter rule: `value` is a counter when it is exactly the decimal
/// form `i64::to_string` gives (no sign on zero, no leading zeros, no spaces); its
/// number, or `None` for anything else (`incr` then fails with `NotACounter`).
///
/// ```
/// use store_core::raw::counter;
/// assert_eq!(counter(b"-42"), Some(-42));
/// assert_eq!(counter(b"042"), None);
/// assert_eq!(counter(b"+1"), None);
/// ```
pub fn counter(value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?;
    let n: i64 = text.parse().ok()?;
    (n.to_string() == text).then_some(n)
}

/// Wraps a backend's raw version number.
pub const fn version(raw: u64) -> Version {
    Version(raw)
}

/// The backend's raw version number of `version`.
pub const fn version_number(version: Version) -> u64 {
    version.0
}

/// Wraps a backend's encoded list position.
pub fn cursor(encoded: impl Into<String>) -> Cursor {
    Cursor(encoded.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    #[test]
    fn ttl_rounds_up_to_the_millisecond() {
        assert_eq!(ttl_millis(Duration::from_micros(1)), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1500)), 2);
        assert_eq!(ttl_millis(Duration::from_millis(7)), 7);
        assert_eq!(
            Timestamp::from_millis(10).add_ttl(Duration::from_nanos(1)),
            Timestamp::from_millis(11)
        );
    }
}
