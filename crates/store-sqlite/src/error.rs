//! rusqlite and pool errors as the contract's kinds.

use deadpool_sqlite::rusqlite::{self, ErrorCode};
use store_core::{Delivery, Error};

/// A statement that failed inside SQLite (it did not commit).
pub(crate) fn from_sqlite(e: rusqlite::Error, table: &str) -> Error {
    if let rusqlite::Error::SqliteFailure(failure, ref detail) = e {
        let detail = detail.clone().unwrap_or_default();
        match failure.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                return Error::unavailable(
                    Delivery::NotSent,
                    format!(
                        "SQLite stayed locked by another connection past the busy timeout: \
                         {detail}"
                    ),
                );
            }
            ErrorCode::DiskFull => {
                return Error::CapacityExceeded(format!("SQLite: the disk is full: {detail}"));
            }
            ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied => {
                return Error::Misconfigured(format!("SQLite cannot write the file: {detail}"));
            }
            _ if detail.contains("no such table") => {
                return Error::Misconfigured(format!(
                    "SQLite has no table `{table}` ({detail}): build the store with \
                     `create_schema(true)` (the default) or run `store_sqlite::schema_sql()`"
                ));
            }
            _ => {}
        }
    }
    Error::backend(format!("SQLite: {e}"), e)
}

/// A call that never reached SQLite: no connection, or the worker thread failed.
pub(crate) fn not_run(what: impl std::fmt::Display) -> Error {
    Error::unavailable(Delivery::NotSent, format!("SQLite: {what}"))
}

/// A row of a shape the statements never produce.
pub(crate) fn unexpected(what: &str, detail: impl std::fmt::Debug) -> Error {
    Error::Backend {
        message: format!("unexpected SQLite reply to {what}: {detail:?}"),
        source: None,
    }
}
