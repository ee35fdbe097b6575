//! Each client library's errors as the contract's kinds.

#[cfg(feature = "fred")]
use fred::error::{Error as FredError, ErrorKind};
use store_core::{Delivery, Error};

/// Server replies that mean the server refused to run the command at all.
const REFUSED: [&str; 6] = [
    "LOADING",
    "BUSY",
    "CLUSTERDOWN",
    "TRYAGAIN",
    "MASTERDOWN",
    "READONLY",
];

/// Maps a failed redis-rs command. `delivery` says whether the command may have reached
/// the server.
#[cfg(feature = "redis-rs")]
pub(crate) fn from_redis(e: redis::RedisError, delivery: Delivery) -> Error {
    use redis::ErrorKind as Kind;
    let details = e.to_string();
    let code = e.code().unwrap_or("");
    let unavailable =
        |delivery: Delivery, message: &str, e: redis::RedisError| Error::Unavailable {
            delivery,
            message: format!("{message}: {details}"),
            source: Some(Box::new(e)),
        };
    if REFUSED.contains(&code) {
        return unavailable(Delivery::NotSent, "Redis refused to run the command", e);
    }
    if code == "OOM" {
        return Error::CapacityExceeded(format!("Redis is out of memory (maxmemory): {details}"));
    }
    if details.contains("InvalidCertificate") || details.contains("invalid peer certificate") {
        return Error::Misconfigured(format!(
            "Redis's TLS certificate is not trusted ({details}): give its CA with the \
             `tls_ca_file` URL option"
        ));
    }
    if e.is_connection_refusal() {
        return unavailable(Delivery::NotSent, "cannot connect to Redis", e);
    }
    if e.is_timeout() {
        return unavailable(delivery, "Redis did not answer in time", e);
    }
    if e.is_io_error() || e.is_connection_dropped() {
        return unavailable(delivery, "connection to Redis lost", e);
    }
    match e.kind() {
        Kind::ClusterConnectionNotFound => {
            unavailable(Delivery::NotSent, "no connection to the cluster node", e)
        }
        Kind::AuthenticationFailed => Error::Misconfigured(format!(
            "Redis refused the credentials ({details}): check the user and password in the URL"
        )),
        Kind::InvalidClientConfig => {
            Error::Misconfigured(format!("Redis client configuration: {details}"))
        }
        Kind::Server(_) if matches!(code, "NOAUTH" | "WRONGPASS" | "NOPERM") => {
            Error::Misconfigured(format!("Redis refused the credentials ({details})"))
        }
        _ => Error::backend(format!("Redis: {details}"), e),
    }
}

/// Maps a failed fred command. `delivery` says whether the command may have reached the
/// server (the client was connected when it was issued): the kinds of failure that do
/// not prove otherwise report it.
#[cfg(feature = "fred")]
pub(crate) fn from_fred(e: FredError, delivery: Delivery) -> Error {
    let details = e.details().to_owned();
    let code = details.split_whitespace().next().unwrap_or("");
    // Replies that mean the server refused to run the command at all.
    if REFUSED.contains(&code) {
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

#[cfg(feature = "fred")]
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

#[cfg(all(test, feature = "fred"))]
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
