//! KV errors as the contract's kinds.

use store_core::{Delivery, Error};
use worker::kv::KvError;

/// A failed KV call of `operation`. KV answers 429 when one key is written more than
/// once a second: `Throttled`. Anything else may have been applied (KV's writes are not
/// conditional, so re-sending one is harmless but the store does not): `Unavailable`
/// with `MaybeApplied`, or `Backend` for a refusal such as a bad argument.
pub(crate) fn from_kv(operation: &str, e: &KvError) -> Error {
    let text = e.to_string();
    if text.contains("429") || text.to_ascii_lowercase().contains("too many requests") {
        return Error::throttled(None);
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("network") || lower.contains("timed out") || lower.contains("internal error")
    {
        return Error::unavailable(
            Delivery::MaybeApplied,
            format!("Workers KV {operation}: {text}"),
        );
    }
    Error::Backend {
        message: format!("Workers KV {operation}: {text}"),
        source: None,
    }
}
