use store_core::BoxError;

/// Why an idempotent call did not run the handler or could not record its result.
///
/// The handler's own errors are never wrapped: an idempotent call returns the handler's
/// error type `E`, which converts from this one (`E: From<IdempotencyError>`), so a
/// handler error reaches the caller unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdempotencyError {
    /// Another execution with the same key is running and has not passed its
    /// in-progress window.
    #[error("an execution with idempotency key {key} is already in progress")]
    AlreadyInProgress {
        /// The record key (hash of the idempotency key).
        key: String,
    },
    /// The key matches a stored record made from a different payload.
    #[error("the payload differs from the one stored under idempotency key {key}")]
    PayloadMismatch {
        /// The record key.
        key: String,
    },
    /// The key selection found nothing, and `raise_on_no_idempotency_key` is set.
    #[error("no idempotency key found in the payload (the key selection returned nothing)")]
    NoIdempotencyKey,
    /// The store failed before the handler ran (claiming the key, or reading the
    /// record); its error (and kind, and `Delivery`) is kept as the source. The handler
    /// did not run in this call.
    #[error("idempotency store failed: {0}")]
    Persistence(#[source] store_core::Error),
    /// The handler **ran** (its side effects happened) but its result could not be
    /// recorded: the store failed storing it. The record stays in progress until its
    /// in-progress window passes (duplicates meanwhile get `AlreadyInProgress`), unless
    /// the write landed after all (`MaybeApplied`), in which case duplicates replay it.
    #[error("the handler ran but its result could not be recorded: {0}")]
    Unrecorded(#[source] store_core::Error),
    /// A payload, key or result could not be (de)serialized, or a stored record is not
    /// one this crate wrote.
    #[error("idempotency serialization failed: {0}")]
    Serialization(#[source] BoxError),
    /// The handler ran but its result is too large for the store, so it cannot be
    /// replayed. The record stays in progress until its in-progress window passes, so
    /// duplicates in the meantime do not repeat the handler's side effects.
    #[error("the handler's result is {size} bytes as a record, the store accepts at most {limit}")]
    ResultTooLarge {
        /// Size of the completed record.
        size: usize,
        /// The store's value limit.
        limit: usize,
    },
    /// The handler ran but its result nests arrays and objects deeper than
    /// [`Config::max_nesting`](crate::Config::max_nesting), so it is not stored (a
    /// duplicate could not read it back safely). As for [`Self::ResultTooLarge`], the
    /// record stays in progress until its window passes.
    #[error("the handler's result nests more than {max} levels deep (Config::max_nesting)")]
    ResultTooDeep {
        /// The limit in force.
        max: u16,
    },
    /// The configuration cannot work (invalid JMESPath, no function name, a store
    /// without compare-and-set, a key selector for another payload type).
    #[error("idempotency misconfigured: {0}")]
    Configuration(String),
}

impl IdempotencyError {
    /// Whether the handler may have run in the call that returned this error: `true`
    /// for [`Self::Unrecorded`], [`Self::ResultTooLarge`] and [`Self::ResultTooDeep`]
    /// (it ran, its result was not stored), `false` for every other variant (the call
    /// stopped before the handler). A handler's own errors are never wrapped: a call
    /// that returns one ran it.
    pub fn handler_may_have_run(&self) -> bool {
        matches!(
            self,
            IdempotencyError::Unrecorded(_)
                | IdempotencyError::ResultTooLarge { .. }
                | IdempotencyError::ResultTooDeep { .. }
        )
    }

    pub(crate) fn serialization(source: impl Into<BoxError>) -> Self {
        IdempotencyError::Serialization(source.into())
    }
}

impl From<store_core::Error> for IdempotencyError {
    fn from(error: store_core::Error) -> Self {
        IdempotencyError::Persistence(error)
    }
}
