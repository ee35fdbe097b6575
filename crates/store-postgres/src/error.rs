//! tokio-postgres and pool errors as the contract's kinds.

use store_core::{Delivery, Error};
use tokio_postgres::error::SqlState;

/// Why a statement failed, before it becomes an [`Error`].
#[derive(Debug)]
pub(crate) enum Failure {
    /// No connection was taken from the pool, or the statement was not prepared: nothing
    /// ran.
    NotSent(Error),
    /// The server refused the statement (it did not commit); `retry` when a second run
    /// may succeed (serialization failure, deadlock).
    Refused { error: Error, retry: bool },
    /// The connection broke or the answer did not come: the statement may have
    /// committed.
    Lost(Error),
}

impl Failure {
    pub(crate) fn into_error(self) -> Error {
        match self {
            Failure::NotSent(e) | Failure::Refused { error: e, .. } | Failure::Lost(e) => e,
        }
    }

    pub(crate) fn retryable(&self) -> bool {
        matches!(self, Failure::Refused { retry: true, .. })
    }
}

/// A failed statement. `table` names the store's table for the missing-table message.
pub(crate) fn from_postgres(e: tokio_postgres::Error, table: &str, sent: bool) -> Failure {
    let Some(db) = e.as_db_error() else {
        let message = if e.is_closed() {
            "connection to PostgreSQL closed"
        } else {
            "PostgreSQL connection failed"
        };
        let error = Error::Unavailable {
            delivery: if sent {
                Delivery::MaybeApplied
            } else {
                Delivery::NotSent
            },
            message: format!("{message}: {e}"),
            source: Some(Box::new(e)),
        };
        return if sent {
            Failure::Lost(error)
        } else {
            Failure::NotSent(error)
        };
    };
    // The server answered with an error: a single statement outside a transaction
    // rolled back, nothing of it committed.
    let code = db.code().clone();
    let detail = db.message().to_owned();
    let refused = |error: Error| Failure::Refused {
        error,
        retry: false,
    };
    if code == SqlState::UNDEFINED_TABLE {
        return refused(Error::Misconfigured(format!(
            "PostgreSQL has no table `{table}` ({detail}): create it with \
             `store_postgres::create_schema` or run the SQL of `TableLayout::schema_sql()` \
             in a migration (the store never creates tables by itself)"
        )));
    }
    if code == SqlState::T_R_SERIALIZATION_FAILURE || code == SqlState::T_R_DEADLOCK_DETECTED {
        return Failure::Refused {
            error: Error::unavailable(
                Delivery::NotSent,
                format!("PostgreSQL could not serialize the statement: {detail}"),
            ),
            retry: true,
        };
    }
    if code == SqlState::QUERY_CANCELED {
        return refused(Error::unavailable(
            Delivery::NotSent,
            format!("PostgreSQL cancelled the statement (statement_timeout): {detail}"),
        ));
    }
    if matches!(
        code,
        SqlState::ADMIN_SHUTDOWN
            | SqlState::CRASH_SHUTDOWN
            | SqlState::CANNOT_CONNECT_NOW
            | SqlState::TOO_MANY_CONNECTIONS
            | SqlState::READ_ONLY_SQL_TRANSACTION
    ) {
        return refused(Error::unavailable(
            Delivery::NotSent,
            format!("PostgreSQL is not accepting the statement: {detail}"),
        ));
    }
    if matches!(
        code,
        SqlState::INVALID_PASSWORD
            | SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            | SqlState::INSUFFICIENT_PRIVILEGE
            | SqlState::INVALID_CATALOG_NAME
            | SqlState::INVALID_SCHEMA_NAME
    ) {
        return refused(Error::Misconfigured(format!(
            "PostgreSQL refused the store ({}): {detail}",
            code.code()
        )));
    }
    if matches!(
        code,
        SqlState::DISK_FULL | SqlState::OUT_OF_MEMORY | SqlState::PROGRAM_LIMIT_EXCEEDED
    ) {
        return refused(Error::CapacityExceeded(format!(
            "PostgreSQL: {detail} ({})",
            code.code()
        )));
    }
    refused(Error::backend(
        format!("PostgreSQL: {detail} ({})", code.code()),
        e,
    ))
}

/// A pool that gave no connection: nothing was sent.
pub(crate) fn from_pool(e: deadpool_postgres::PoolError, table: &str) -> Failure {
    use deadpool_postgres::PoolError;
    match e {
        PoolError::Backend(e) => match from_postgres(e, table, false) {
            Failure::Refused { error, .. } | Failure::Lost(error) | Failure::NotSent(error) => {
                Failure::NotSent(match error {
                    Error::Unavailable {
                        message, source, ..
                    } => Error::Unavailable {
                        delivery: Delivery::NotSent,
                        message: format!("cannot connect to PostgreSQL: {message}"),
                        source,
                    },
                    other => other,
                })
            }
        },
        PoolError::Timeout(_) => Failure::NotSent(Error::unavailable(
            Delivery::NotSent,
            "no PostgreSQL connection available in time (pool exhausted or server down)",
        )),
        other => Failure::NotSent(Error::unavailable(
            Delivery::NotSent,
            format!("PostgreSQL connection pool: {other}"),
        )),
    }
}

/// A reply of a shape the statements never produce.
pub(crate) fn unexpected(what: &str, detail: impl std::fmt::Debug) -> Error {
    Error::Backend {
        message: format!("unexpected PostgreSQL reply to {what}: {detail:?}"),
        source: None,
    }
}
