//! The physical layout: one row per entry in one table of one file, and every statement
//! the store runs.
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS fleetstate (
//!     namespace  TEXT    NOT NULL,
//!     key        TEXT    NOT NULL,
//!     value      BLOB    NOT NULL,
//!     version    INTEGER NOT NULL,  -- random, never 0
//!     expires_at INTEGER,           -- ms since the epoch by the client's clock; NULL: never
//!     PRIMARY KEY (namespace, key)
//! ) WITHOUT ROWID;
//! CREATE INDEX IF NOT EXISTS fleetstate_expires_at ON fleetstate (expires_at)
//!     WHERE expires_at IS NOT NULL;
//! ```
//!
//! `TEXT` compares with the `BINARY` collation: byte order, which `list` returns. A
//! counter is its decimal ASCII in `value`. SQLite has no server and so no clock of its
//! own: "now" is the calling process's clock, passed into every statement. A row past
//! its expiry is absent to every statement.
//!
//! Each operation is one statement (`advance`: one `IMMEDIATE` transaction), atomic
//! under SQLite's write lock, which every process on the host shares through the file.

use store_core::{Error, Result};

/// The default table name.
pub const DEFAULT_TABLE: &str = "fleetstate";

/// A table name the store may splice into SQL: letters, digits and `_`, not starting
/// with a digit, at most 63 bytes.
pub(crate) fn table_name(name: &str) -> Result<String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(Error::Misconfigured(format!(
            "SQLite table `{name}`: use 1 to 63 letters, digits and `_`, not starting with \
             a digit"
        )))
    }
}

/// The DDL of `table` (idempotent).
pub fn schema_sql(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS \"{table}\" (\n    \
         namespace TEXT NOT NULL,\n    \
         key TEXT NOT NULL,\n    \
         value BLOB NOT NULL,\n    \
         version INTEGER NOT NULL,\n    \
         expires_at INTEGER,\n    \
         PRIMARY KEY (namespace, key)\n) WITHOUT ROWID;\n\
         CREATE INDEX IF NOT EXISTS \"{table}_expires_at\" ON \"{table}\" (expires_at) \
         WHERE expires_at IS NOT NULL;\n"
    )
}

/// The value of a row is the canonical decimal of an `i64` (casting it to an integer
/// and back gives the same bytes; SQLite saturates out-of-range text, so that fails).
const CANONICAL: &str = "(CAST(CAST(value AS INTEGER) AS BLOB) = value)";

/// The key starts with the prefix `?4`, compared as text (not `LIKE`, which folds case).
const PREFIXED: &str = "substr(key, 1, length(?4)) = ?4";

/// Every statement, with the table's name in place. Parameters: `?1` namespace, `?2`
/// key, `?3` the caller's clock in ms, then per statement.
#[derive(Debug)]
pub(crate) struct Statements {
    pub(crate) get: String,
    pub(crate) exists: String,
    pub(crate) set: String,
    pub(crate) set_if_absent: String,
    pub(crate) set_if_present: String,
    pub(crate) set_if_version: String,
    pub(crate) delete: String,
    pub(crate) delete_if_version: String,
    pub(crate) incr: String,
    pub(crate) read_for_advance: String,
    pub(crate) write_advance: String,
    pub(crate) list: String,
    pub(crate) clear: String,
    pub(crate) sweep: String,
}

impl Statements {
    pub(crate) fn new(table: &str) -> Self {
        let t = format!("\"{table}\"");
        let live = "(expires_at IS NULL OR expires_at > ?3)";
        let dead = "(expires_at IS NOT NULL AND expires_at <= ?3)";
        // `incr`: a canonical counter whose sum stays an integer (SQLite turns an
        // overflowing sum into a REAL).
        let incr_ok = format!("({CANONICAL} AND typeof(CAST(value AS INTEGER) + ?4) = 'integer')");
        Statements {
            get: format!(
                "SELECT value, version, expires_at FROM {t} WHERE namespace = ?1 AND key = ?2 \
                 AND {live}"
            ),
            exists: format!(
                "SELECT EXISTS (SELECT 1 FROM {t} WHERE namespace = ?1 AND key = ?2 AND {live})"
            ),
            // ?4 value, ?5 version, ?6 expires_at
            set: format!(
                "INSERT INTO {t} (namespace, key, value, version, expires_at) \
                 VALUES (?1, ?2, ?4, ?5, ?6) ON CONFLICT (namespace, key) DO UPDATE SET \
                 value = excluded.value, version = excluded.version, \
                 expires_at = excluded.expires_at"
            ),
            set_if_absent: format!(
                "INSERT INTO {t} (namespace, key, value, version, expires_at) \
                 VALUES (?1, ?2, ?4, ?5, ?6) ON CONFLICT (namespace, key) DO UPDATE SET \
                 value = CASE WHEN {dead} THEN excluded.value ELSE value END, \
                 version = CASE WHEN {dead} THEN excluded.version ELSE version END, \
                 expires_at = CASE WHEN {dead} THEN excluded.expires_at ELSE expires_at END \
                 RETURNING version = ?5, value, version, expires_at"
            ),
            set_if_present: format!(
                "UPDATE {t} SET value = ?4, version = ?5, expires_at = ?6 \
                 WHERE namespace = ?1 AND key = ?2 AND {live} RETURNING version"
            ),
            // ?7 the expected version
            set_if_version: format!(
                "UPDATE {t} SET \
                 value = CASE WHEN version = ?7 THEN ?4 ELSE value END, \
                 version = CASE WHEN version = ?7 THEN ?5 ELSE version END, \
                 expires_at = CASE WHEN version = ?7 THEN ?6 ELSE expires_at END \
                 WHERE namespace = ?1 AND key = ?2 AND {live} \
                 RETURNING version = ?5, value, version, expires_at"
            ),
            delete: format!("DELETE FROM {t} WHERE namespace = ?1 AND key = ?2 RETURNING {live}"),
            // ?4 the expected version
            delete_if_version: format!(
                "DELETE FROM {t} WHERE namespace = ?1 AND key = ?2 AND version = ?4 AND {live} \
                 RETURNING 1"
            ),
            // ?4 delta, ?5 version, ?6 expires_at (applied only when created)
            incr: format!(
                "INSERT INTO {t} (namespace, key, value, version, expires_at) \
                 VALUES (?1, ?2, CAST(CAST(?4 AS TEXT) AS BLOB), ?5, ?6) \
                 ON CONFLICT (namespace, key) DO UPDATE SET \
                 value = CASE WHEN {dead} THEN excluded.value \
                 WHEN {incr_ok} THEN CAST(CAST(CAST(value AS INTEGER) + ?4 AS TEXT) AS BLOB) \
                 ELSE value END, \
                 version = CASE WHEN {dead} OR {incr_ok} THEN excluded.version ELSE version END, \
                 expires_at = CASE WHEN {dead} THEN excluded.expires_at ELSE expires_at END \
                 RETURNING version = ?5, value, expires_at"
            ),
            read_for_advance: format!(
                "SELECT value FROM {t} WHERE namespace = ?1 AND key = ?2 AND {live}"
            ),
            // ?4 value, ?5 version, ?6 expires_at
            write_advance: format!(
                "INSERT INTO {t} (namespace, key, value, version, expires_at) \
                 VALUES (?1, ?2, ?4, ?5, ?6) ON CONFLICT (namespace, key) DO UPDATE SET \
                 value = excluded.value, version = excluded.version, \
                 expires_at = excluded.expires_at"
            ),
            // ?4 the prefix (matched literally and case-sensitively: SQLite's LIKE
            // folds ASCII case), ?5 the key to continue after, ?6 the limit
            list: format!(
                "SELECT key FROM {t} WHERE namespace = ?1 AND key >= ?4 AND {PREFIXED} \
                 AND key > ?5 AND {live} ORDER BY key LIMIT ?6"
            ),
            // ?4 the prefix
            clear: format!(
                "DELETE FROM {t} WHERE namespace = ?1 AND key >= ?4 AND {PREFIXED} \
                 RETURNING {live}"
            ),
            // ?1 the clock, ?2 the batch
            sweep: format!(
                "DELETE FROM {t} WHERE (namespace, key) IN (SELECT namespace, key FROM {t} \
                 WHERE expires_at <= ?1 LIMIT ?2)"
            ),
        }
    }
}
