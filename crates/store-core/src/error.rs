//! The one error type of the contract.

use std::time::Duration;

/// A boxed error kept as the source of a backend failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias used throughout the contract.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether a failed request may have changed the store.
///
/// A retry is only safe when nothing was applied: a timed-out `incr` that did reach the
/// server would be counted twice if it were sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// The request provably never reached the server (connection refused, no connection
    /// available, rejected before sending): retrying cannot apply it twice.
    NotSent,
    /// The request may have reached the server (timeout after sending, connection
    /// dropped mid-request): its effect is unknown.
    MaybeApplied,
}

/// Every way a store operation can fail, with stable kinds to match on.
///
/// Validation errors ([`Error::InvalidKey`], [`Error::InvalidArgument`],
/// [`Error::ValueTooLarge`]) are raised before any I/O, so they never leave a partial write.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A namespace, key or list prefix breaks the key rules (see [`crate::raw::validate`]).
    #[error("invalid {what}: {reason}")]
    InvalidKey {
        /// Which part was invalid: `"namespace"`, `"key"` or `"prefix"`.
        what: &'static str,
        /// What rule it broke.
        reason: String,
    },
    /// An argument other than a key is out of range (a zero TTL, a zero page size, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A list cursor that this backend did not produce, or that was altered.
    #[error("invalid list cursor: {0}")]
    InvalidCursor(String),
    /// The value is larger than the backend accepts.
    #[error("value of {size} bytes exceeds the backend's maximum of {max} bytes")]
    ValueTooLarge {
        /// Size of the rejected value (or item) in bytes.
        size: usize,
        /// Largest size the backend accepts.
        max: usize,
    },
    /// `incr` met a value that is not a decimal 64-bit integer.
    #[error("the value at this key is not an integer counter")]
    NotACounter,
    /// `incr` would overflow a signed 64-bit counter; the counter is unchanged.
    #[error("incrementing the counter would overflow a 64-bit signed integer")]
    CounterOverflow,
    /// The backend cannot perform this operation at all (see [`crate::Capabilities`]).
    #[error("`{operation}` is not supported by this backend: {reason}")]
    Unsupported {
        /// The refused operation.
        operation: &'static str,
        /// Why, and what to use instead.
        reason: String,
    },
    /// A memory-bounded store is full and its eviction policy refuses to make room.
    #[error("store is full: {0}")]
    CapacityExceeded(String),
    /// The backend asked the client to slow down; nothing was applied.
    #[error("request throttled by the backend{}", retry_after_suffix(.retry_after))]
    Throttled {
        /// How long the backend asked to wait, when it said.
        retry_after: Option<Duration>,
        /// The backend's own error.
        #[source]
        source: Option<BoxError>,
    },
    /// The backend could not be reached or did not answer in time.
    #[error("backend unavailable ({delivery:?}): {message}")]
    Unavailable {
        /// Whether the request may have been applied.
        delivery: Delivery,
        /// What happened.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// The store is set up wrongly (missing table, bad URL, ...); the message says the fix.
    #[error("misconfigured store: {0}")]
    Misconfigured(String),
    /// Any other backend failure, with its source kept.
    #[error("backend error: {message}")]
    Backend {
        /// What happened.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
}

fn retry_after_suffix(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(" (retry after {} ms)", d.as_millis()),
        None => String::new(),
    }
}

impl Error {
    /// `true` when sending the same request again cannot apply it twice and may succeed:
    /// [`Error::Throttled`], and [`Error::Unavailable`] with [`Delivery::NotSent`].
    ///
    /// ```
    /// use store_core::{Delivery, Error};
    /// let refused = Error::unavailable(Delivery::NotSent, "connection refused");
    /// let timed_out = Error::unavailable(Delivery::MaybeApplied, "timed out after sending");
    /// assert!(refused.is_retryable());
    /// assert!(!timed_out.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Throttled { .. }
                | Error::Unavailable {
                    delivery: Delivery::NotSent,
                    ..
                }
        )
    }

    /// `true` when the failure is transient, whether or not the request may have been
    /// applied. Reads may be retried on any transient error; writes only when
    /// [`Error::is_retryable`].
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Throttled { .. } | Error::Unavailable { .. })
    }

    /// `true` when the request may have changed the store even though it failed.
    pub fn may_have_applied(&self) -> bool {
        matches!(
            self,
            Error::Unavailable {
                delivery: Delivery::MaybeApplied,
                ..
            }
        )
    }

    /// The kind as a short stable name (`unavailable`, `not_a_counter`, ...), for metric
    /// labels and logs.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Error::InvalidKey { .. } => "invalid_key",
            Error::InvalidArgument(_) => "invalid_argument",
            Error::InvalidCursor(_) => "invalid_cursor",
            Error::ValueTooLarge { .. } => "value_too_large",
            Error::NotACounter => "not_a_counter",
            Error::CounterOverflow => "counter_overflow",
            Error::Unsupported { .. } => "unsupported",
            Error::CapacityExceeded(_) => "capacity_exceeded",
            Error::Throttled { .. } => "throttled",
            Error::Unavailable { .. } => "unavailable",
            Error::Misconfigured(_) => "misconfigured",
            Error::Backend { .. } => "backend",
        }
    }

    /// An [`Error::Unavailable`] without a source.
    pub fn unavailable(delivery: Delivery, message: impl Into<String>) -> Self {
        Error::Unavailable {
            delivery,
            message: message.into(),
            source: None,
        }
    }

    /// An [`Error::Backend`] keeping `source`.
    pub fn backend(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Backend {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// An [`Error::Throttled`] without a source.
    pub fn throttled(retry_after: Option<Duration>) -> Self {
        Error::Throttled {
            retry_after,
            source: None,
        }
    }

    /// An [`Error::Unsupported`] for `operation`.
    pub fn unsupported(operation: &'static str, reason: impl Into<String>) -> Self {
        Error::Unsupported {
            operation,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_that_prove_nothing_was_applied_are_retryable() {
        assert!(Error::throttled(None).is_retryable());
        assert!(Error::unavailable(Delivery::NotSent, "refused").is_retryable());
        assert!(!Error::unavailable(Delivery::MaybeApplied, "timeout").is_retryable());
        assert!(Error::unavailable(Delivery::MaybeApplied, "timeout").is_transient());
        assert!(!Error::NotACounter.is_transient());
        assert!(!Error::Misconfigured("x".into()).is_retryable());
    }

    #[test]
    fn messages_say_what_went_wrong() {
        let e = Error::ValueTooLarge { size: 11, max: 10 };
        assert_eq!(
            e.to_string(),
            "value of 11 bytes exceeds the backend's maximum of 10 bytes"
        );
        let e = Error::throttled(Some(Duration::from_millis(250)));
        assert_eq!(
            e.to_string(),
            "request throttled by the backend (retry after 250 ms)"
        );
    }
}
