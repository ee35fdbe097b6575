//! The client's errors as the contract's kinds.
//!
//! `denokv_remote` hands errors up as text (`JsErrorBox`); what matters is read from it:
//! the transport's markers ([`crate::client`]) say whether a request may have been
//! applied, an authentication refusal is a misconfiguration.

use deno_error::{JsErrorBox, JsErrorClass};
use store_core::{Delivery, Error};

use crate::client::{MAYBE_SENT, NOT_SENT};

/// `e`, from a `snapshot_read` or (`write`) an `atomic_write`.
pub(crate) fn from_client(e: &JsErrorBox, write: bool) -> Error {
    let message = e.get_message().into_owned();
    let metadata = message.contains("Failed to fetch metadata");
    if message.contains(NOT_SENT) {
        return Error::unavailable(Delivery::NotSent, format!("Deno KV: {message}"));
    }
    if metadata && message.contains(MAYBE_SENT) {
        // The metadata exchange failed: the operation itself was never sent.
        return Error::unavailable(Delivery::NotSent, format!("Deno KV: {message}"));
    }
    if message.contains(MAYBE_SENT) {
        let delivery = if write {
            Delivery::MaybeApplied
        } else {
            Delivery::NotSent
        };
        return Error::unavailable(delivery, format!("Deno KV: {message}"));
    }
    let lower = message.to_ascii_lowercase();
    if metadata
        || lower.contains("status=401")
        || lower.contains("status=403")
        || lower.contains("accesstoken")
    {
        return Error::Misconfigured(format!(
            "Deno KV refused the connection (check the URL and the access token): {message}"
        ));
    }
    if lower.contains("database is closed") {
        return Error::unavailable(Delivery::NotSent, format!("Deno KV: {message}"));
    }
    Error::Backend {
        message: format!("Deno KV: {message}"),
        source: None,
    }
}

/// An answer of a shape the operations never produce.
pub(crate) fn unexpected(what: &str, detail: impl std::fmt::Debug) -> Error {
    Error::Backend {
        message: format!("unexpected Deno KV answer to {what}: {detail:?}"),
        source: None,
    }
}
