//! fred's errors as the contract's kinds.

use fred::error::{Error as FredError, ErrorKind};
use store_core::{Delivery, Error};

/// Maps a failed command. `delivery` says whether the command may have reached the
/// server (the client was connected when it was issued): the kinds of failure that do
/// not prove otherwise report it.
pub(crate) fn from_fred(e: FredError, delivery: Delivery) -> Error {
    let details = e.details().to_owned();
    let code = details.split_whitespace().next().unwrap_or("");
    // Replies that mean the server refused to run the command at all.
    if matches!(
        code,
        "LOADING" | "BUSY" | "CLUSTERDOWN" | "TRYAGAIN" | "MASTERDOWN" | "READONLY"
    ) {
        return unavailable(Delivery::NotSent, &details, e);
    }
    // fred found no connection to write to: the command was never sent.
    if details.starts_with("Failed to route command") {
        return unavailable(Delivery::NotSent, "no connection to Redis", e);
    }
    if details.contains("InvalidCertificate") || details.contains("invalid peer certificate") {
        return Error::Misconfigured(format!(
            "Redis's TLS certificate is not trusted ({details}): give its CA with the \
             `tls_ca_file` URL option or `RedisStoreBuilder::tls_config`"
        ));
    }
    if code == "OOM" {
        return Error::CapacityExceeded(format!("Redis is out of memory (maxmemory): {details}"));
    }
    let maybe = delivery;
    match e.kind() {
        ErrorKind::Timeout => unavailable(maybe, "Redis did not answer in time", e),
        ErrorKind::IO | ErrorKind::Canceled => unavailable(maybe, "connection to Redis lost", e),
        ErrorKind::Backpressure | ErrorKind::Routing => {
            unavailable(Delivery::NotSent, "no Redis connection available", e)
        }
        ErrorKind::Cluster => unavailable(maybe, "Redis cluster is changing", e),
        ErrorKind::Auth => Error::Misconfigured(format!(
            "Redis refused the credentials ({details}): check the user and password in the URL"
        )),
        ErrorKind::Config | ErrorKind::Url => {
            Error::Misconfigured(format!("Redis client configuration: {details}"))
        }
        #[cfg(feature = "tls")]
        ErrorKind::Tls => Error::Misconfigured(format!("TLS with Redis: {details}")),
        _ => Error::backend(format!("Redis: {details}"), e),
    }
}

fn unavailable(delivery: Delivery, message: &str, e: FredError) -> Error {
    Error::Unavailable {
        delivery,
        message: format!("{message}: {}", e.details()),
        source: Some(Box::new(e)),
    }
}

/// A reply of a shape the scripts never produce.
pub(crate) fn unexpected(what: &str, reply: impl std::fmt::Debug) -> Error {
    Error::Backend {
        message: format!("unexpected Redis reply to {what}: {reply:?}"),
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unroutable_and_refused_commands_were_not_sent() {
        for (kind, details) in [
            (ErrorKind::Unknown, "Failed to route command."),
            (ErrorKind::Routing, "Failed to route command."),
            (
                ErrorKind::Unknown,
                "LOADING Redis is loading the dataset in memory",
            ),
            (ErrorKind::Cluster, "CLUSTERDOWN The cluster is down"),
        ] {
            let e = from_fred(FredError::new(kind, details), Delivery::MaybeApplied);
            assert!(e.is_retryable(), "{details}: {e:?}");
        }
        let timeout = from_fred(
            FredError::new(ErrorKind::Timeout, "timed out"),
            Delivery::MaybeApplied,
        );
        assert!(timeout.is_transient() && timeout.may_have_applied());
        let wrong = from_fred(
            FredError::new(ErrorKind::InvalidArgument, "WRONGTYPE x"),
            Delivery::MaybeApplied,
        );
        assert!(matches!(wrong, Error::Backend { .. }));
    }
}
