use std::time::Duration;

use store_core::BoxError;

/// Everything a record operation can fail with.
///
/// Store failures keep their [`store_core::Error`] kind intact inside
/// [`RecordError::Store`]: with `retry_on_429` disabled, a throttled call is
/// `RecordError::Store(store_core::Error::Throttled { .. })`, the reference's
/// `ServiceError` with code 429 ([`RecordError::is_throttled`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The value serializes to null (`()`, `None`, a JSON null): a missing record and a
    /// stored null would be indistinguishable, so nulls are not stored.
    #[error("record `{key}`: null values cannot be stored; delete the record instead")]
    NullValue {
        /// The record key.
        key: String,
    },
    /// `deny_update_overwrite` is set and the record already exists.
    #[error("record `{key}` already exists and `deny_update_overwrite` is set")]
    AlreadyExists {
        /// The record key.
        key: String,
    },
    /// A conditional write found another version (or no record) in place.
    #[error("record `{key}` changed since it was read (expected version {expected})")]
    VersionMismatch {
        /// The record key.
        key: String,
        /// The version the caller expected.
        expected: store_core::Version,
    },
    /// An update loop lost the race too many times in a row.
    #[error("record `{key}`: update gave up after {attempts} conflicting attempts")]
    Contention {
        /// The record key.
        key: String,
        /// How many times it tried.
        attempts: u32,
    },
    /// The value could not be serialized.
    #[error("record `{key}`: the value could not be serialized: {source}")]
    Encode {
        /// The record key.
        key: String,
        /// The serializer's error.
        #[source]
        source: BoxError,
    },
    /// The stored bytes are not a `T` (wrong type asked for, or not a record).
    #[error("record `{key}`: the stored value could not be read as the requested type: {source}")]
    Decode {
        /// The record key.
        key: String,
        /// The deserializer's error.
        #[source]
        source: BoxError,
    },
    /// The value nests arrays and maps deeper than the `max_nesting` option allows: a
    /// write is refused (nothing stored), a read is refused before the decoder recurses
    /// into it (a hostile record cannot overflow a reader's stack).
    #[error(
        "record `{key}`: the value nests arrays and maps more than {max} levels deep \
         (option `max_nesting`)"
    )]
    NestedTooDeep {
        /// The record key.
        key: String,
        /// The limit in force.
        max: u16,
    },
    /// A secure record failed authentication: it was tampered with, copied from another
    /// record, or encrypted under a different key with the same id.
    #[error(
        "record `{key}`: integrity check failed (tampered, moved from another record, or wrong key)"
    )]
    Integrity {
        /// The record key.
        key: String,
    },
    /// A secure record was read or written without a keyring.
    #[error("record `{key}` is secure but no keyring is configured: set `Options::keyring`")]
    MissingKeyring {
        /// The record key.
        key: String,
    },
    /// A secure record names a key id the keyring does not hold.
    #[error("record `{key}` was encrypted with key id {key_id}, which the keyring does not hold")]
    UnknownKeyId {
        /// The record key.
        key: String,
        /// The id in the record's envelope.
        key_id: u32,
    },
    /// `secure` was asked for but the stored record is plaintext: reading it as if it
    /// were protected would hide a downgrade.
    #[error("record `{key}` was read with `secure` but is stored unencrypted")]
    NotEncrypted {
        /// The record key.
        key: String,
    },
    /// The invocation scope was used without an invocation id in the context.
    #[error(
        "the invocation scope needs an invocation id: use `Context::with_invocation` or `RecordStorage::invocation`"
    )]
    NoInvocation,
    /// A scope's ids do not fit in the store's namespace limit.
    #[error(
        "scope namespace `{namespace}` is {len} bytes, the store allows {max}: use shorter ids"
    )]
    ScopeTooLong {
        /// The namespace that was built.
        namespace: String,
        /// Its length.
        len: usize,
        /// The store's limit.
        max: usize,
    },
    /// A keyring could not be built (bad base64, wrong key length, duplicate id).
    #[error("invalid keyring: {0}")]
    Keyring(String),
    /// The store failed; its error kind is kept.
    #[error(transparent)]
    Store(#[from] store_core::Error),
}

impl RecordError {
    /// `true` when the store throttled the call (HTTP 429 in the reference).
    pub fn is_throttled(&self) -> bool {
        matches!(
            self,
            RecordError::Store(store_core::Error::Throttled { .. })
        )
    }

    /// How long the store asked to wait, when it throttled and said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RecordError::Store(store_core::Error::Throttled { retry_after, .. }) => *retry_after,
            _ => None,
        }
    }
}

/// The result of record operations.
pub type Result<T, E = RecordError> = std::result::Result<T, E>;
