//! The store a single call goes through: store-core's `RetryLayer` over the borrowed
//! store, retrying throttling when `retry_on_429` is enabled for that call and sending
//! once otherwise.

use store_core::Layer;
use store_core::layer::{Retry, RetryLayer};

use crate::options::RetryOn429;

/// A call's route to the store.
pub(crate) type Route<'a, S> = Retry<&'a S>;

/// The route for one call with `on_429`.
pub(crate) fn route<'a, S: store_core::Store>(
    store: &'a S,
    retry: &RetryLayer,
    on_429: RetryOn429,
) -> Route<'a, S> {
    let policy = if on_429.enabled {
        retry.clone().warn_on_retry(on_429.verbose)
    } else {
        retry.clone().max_attempts(1)
    };
    policy.layer(store)
}
