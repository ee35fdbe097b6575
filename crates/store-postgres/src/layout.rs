//! The physical layout: one row per entry, and every statement the store sends.
//!
//! ```sql
//! CREATE TABLE fleetstate (
//!     namespace  text COLLATE "C" NOT NULL,
//!     key        text COLLATE "C" NOT NULL,
//!     value      bytea            NOT NULL,
//!     version    int8             NOT NULL,  -- random, never 0: a write's version tag
//!     expires_at timestamptz,                -- NULL: never; set from the server's clock
//!     PRIMARY KEY (namespace, key)
//! );
//! CREATE INDEX fleetstate_expires_at ON fleetstate (expires_at) WHERE expires_at IS NOT NULL;
//! ```
//!
//! `(namespace, key)` is the primary key as is (the contract's keys are UTF-8 without
//! control characters, so `text` holds them exactly), in the `C` collation: byte order,
//! which `list` returns and its keyset pagination relies on. A counter is its decimal
//! ASCII in `value`, as everywhere. A row whose `expires_at` has passed is absent to
//! every statement; the sweeper deletes such rows in bounded batches, using the partial
//! index.
//!
//! Every operation is one statement. Conditions are checked in it, on the row's latest
//! committed version (`INSERT ... ON CONFLICT DO UPDATE` and `UPDATE` re-check under the
//! row lock in `READ COMMITTED`), and a rejected conditional write returns the current
//! row from the same statement: the `DO UPDATE` / `UPDATE` always runs and writes the
//! new values only when the condition holds (`CASE`), so `RETURNING` sees the row that
//! decided. The price is a no-op row version on a rejection.

use store_core::{Error, Result};

/// The default table name.
pub const DEFAULT_TABLE: &str = "fleetstate";

/// Where the store's rows live: a schema-qualified table, and whether `create_schema`
/// makes it `UNLOGGED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLayout {
    schema: Option<String>,
    table: String,
    unlogged: bool,
}

impl Default for TableLayout {
    fn default() -> Self {
        TableLayout {
            schema: None,
            table: DEFAULT_TABLE.to_owned(),
            unlogged: false,
        }
    }
}

/// A PostgreSQL identifier the store may splice into SQL: letters, digits and `_`, not
/// starting with a digit, at most 63 bytes (PostgreSQL's limit).
fn identifier(what: &str, name: &str) -> Result<String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(Error::Misconfigured(format!(
            "PostgreSQL {what} `{name}`: use 1 to 63 letters, digits and `_`, not starting \
             with a digit"
        )))
    }
}

impl TableLayout {
    /// The table `table` in the search path's schema (usually `public`).
    ///
    /// Errors: `Misconfigured` for a name that is not a plain identifier.
    pub fn new(table: &str) -> Result<Self> {
        Ok(TableLayout {
            table: identifier("table", table)?,
            ..TableLayout::default()
        })
    }

    /// In `schema` instead of the search path's.
    pub fn in_schema(mut self, schema: &str) -> Result<Self> {
        self.schema = Some(identifier("schema", schema)?);
        Ok(self)
    }

    /// Whether [`create_schema`](crate::create_schema) makes the table `UNLOGGED`: faster
    /// writes, no WAL, and **emptied after a crash** (and not replicated). For state
    /// that may be lost, such as rate-limit counters; never for idempotency records.
    pub fn unlogged(mut self, unlogged: bool) -> Self {
        self.unlogged = unlogged;
        self
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The schema, when one is set.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Whether the table is created `UNLOGGED`.
    pub fn is_unlogged(&self) -> bool {
        self.unlogged
    }

    /// The qualified, quoted name for SQL.
    pub(crate) fn qualified(&self) -> String {
        match &self.schema {
            Some(schema) => format!("\"{schema}\".\"{}\"", self.table),
            None => format!("\"{}\"", self.table),
        }
    }

    /// The DDL that creates the schema (when one is set), the table and its expiry
    /// index, idempotently: for migrations and infrastructure as code.
    pub fn schema_sql(&self) -> String {
        let t = self.qualified();
        let mut sql = String::new();
        if let Some(schema) = &self.schema {
            sql.push_str(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\";\n"));
        }
        let unlogged = if self.unlogged { "UNLOGGED " } else { "" };
        sql.push_str(&format!(
            "CREATE {unlogged}TABLE IF NOT EXISTS {t} (\n    \
             namespace text COLLATE \"C\" NOT NULL,\n    \
             key text COLLATE \"C\" NOT NULL,\n    \
             value bytea NOT NULL,\n    \
             version int8 NOT NULL,\n    \
             expires_at timestamptz,\n    \
             PRIMARY KEY (namespace, key)\n);\n\
             CREATE INDEX IF NOT EXISTS \"{}_expires_at\" ON {t} (expires_at) \
             WHERE expires_at IS NOT NULL;\n",
            self.table
        ));
        sql
    }
}

/// Live: not expired by the server's clock.
fn live(row: &str) -> String {
    format!("({row}expires_at IS NULL OR {row}expires_at > now())")
}

/// Expired by the server's clock (a present row that counts as absent).
fn dead(row: &str) -> String {
    format!("({row}expires_at IS NOT NULL AND {row}expires_at <= now())")
}

/// The expiry of a write with a TTL of `param` ms (NULL: none), on the server's clock.
fn expiry(param: &str) -> String {
    format!("(now() + {param}::int8 * interval '1 millisecond')")
}

/// A `timestamptz` as ms since the epoch.
fn millis(column: &str) -> String {
    format!("floor(extract(epoch from {column}) * 1000)::int8")
}

/// `value` is the canonical decimal of a signed 64-bit integer's digits (range checked
/// apart).
fn canonical(value: &str) -> String {
    format!("(encode({value}, 'escape') ~ '^(0|-?[1-9][0-9]{{0,18}})$')")
}

/// `value` is the canonical decimal of a non-negative integer of up to 19 digits.
fn canonical_unsigned(value: &str) -> String {
    format!("(encode({value}, 'escape') ~ '^(0|[1-9][0-9]{{0,18}})$')")
}

fn number(value: &str) -> String {
    format!("encode({value}, 'escape')::numeric")
}

/// Every statement, with the table's name in place.
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
    pub(crate) advance: String,
    pub(crate) list: String,
    pub(crate) clear: String,
    pub(crate) sweep: String,
}

impl Statements {
    pub(crate) fn new(layout: &TableLayout) -> Self {
        let t = layout.qualified();
        let live_row = live("");
        let live_cur = live("cur.");
        let dead_cur = dead("cur.");
        let exp = expiry("$5");
        let ms = millis("expires_at");
        let i64_range = "BETWEEN -9223372036854775808 AND 9223372036854775807";
        // `incr`: the current value may take the delta when it is a canonical decimal
        // in range and the sum stays in range (CASE keeps the cast behind the check).
        let incr_ok = format!(
            "CASE WHEN {} THEN {} + $3 {i64_range} AND {} {i64_range} ELSE false END",
            canonical("cur.value"),
            number("cur.value"),
            number("cur.value"),
        );
        // `advance`: the floor is what the proposed row carries minus the delta; the
        // start is the larger of the live current value and the floor.
        let floor = format!("({} - $3::text::numeric)", number("EXCLUDED.value"));
        let start = format!(
            "GREATEST(CASE WHEN {dead_cur} THEN NULL ELSE {} END, {floor})",
            number("cur.value")
        );
        let advance_ok = format!(
            "CASE WHEN {dead_cur} OR {} THEN {start} + $3::text::numeric <= {floor} + \
             $4::text::numeric AND {start} + $3::text::numeric <= 9223372036854775807 \
             ELSE false END",
            canonical_unsigned("cur.value")
        );
        Statements {
            get: format!(
                "SELECT value, version, {ms} FROM {t} WHERE namespace = $1 AND key = $2 \
                 AND {live_row}"
            ),
            exists: format!(
                "SELECT EXISTS (SELECT 1 FROM {t} WHERE namespace = $1 AND key = $2 AND \
                 {live_row})"
            ),
            set: format!(
                "INSERT INTO {t} (namespace, key, value, version, expires_at) \
                 VALUES ($1, $2, $3, $4, {exp}) \
                 ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value, \
                 version = EXCLUDED.version, expires_at = EXCLUDED.expires_at"
            ),
            set_if_absent: format!(
                "INSERT INTO {t} AS cur (namespace, key, value, version, expires_at) \
                 VALUES ($1, $2, $3, $4, {exp}) \
                 ON CONFLICT (namespace, key) DO UPDATE SET \
                 value = CASE WHEN {dead_cur} THEN EXCLUDED.value ELSE cur.value END, \
                 version = CASE WHEN {dead_cur} THEN EXCLUDED.version ELSE cur.version END, \
                 expires_at = CASE WHEN {dead_cur} THEN EXCLUDED.expires_at \
                 ELSE cur.expires_at END \
                 RETURNING version = $4, value, version, {ms}"
            ),
            set_if_present: format!(
                "UPDATE {t} SET value = $3, version = $4, expires_at = {exp} \
                 WHERE namespace = $1 AND key = $2 AND {live_row} RETURNING version"
            ),
            set_if_version: format!(
                "UPDATE {t} AS cur SET \
                 value = CASE WHEN cur.version = $6 THEN $3 ELSE cur.value END, \
                 version = CASE WHEN cur.version = $6 THEN $4 ELSE cur.version END, \
                 expires_at = CASE WHEN cur.version = $6 THEN {exp} ELSE cur.expires_at END \
                 WHERE namespace = $1 AND key = $2 AND {live_cur} \
                 RETURNING version = $4, value, version, {ms}"
            ),
            delete: format!(
                "DELETE FROM {t} WHERE namespace = $1 AND key = $2 RETURNING {live_row}"
            ),
            delete_if_version: format!(
                "DELETE FROM {t} WHERE namespace = $1 AND key = $2 AND version = $3 AND \
                 {live_row} RETURNING 1"
            ),
            incr: format!(
                "INSERT INTO {t} AS cur (namespace, key, value, version, expires_at) \
                 VALUES ($1, $2, convert_to($3::int8::text, 'UTF8'), $4, {exp}) \
                 ON CONFLICT (namespace, key) DO UPDATE SET \
                 value = CASE WHEN {dead_cur} THEN EXCLUDED.value \
                 WHEN {incr_ok} THEN convert_to(({} + $3)::text, 'UTF8') \
                 ELSE cur.value END, \
                 version = CASE WHEN {dead_cur} OR {incr_ok} THEN EXCLUDED.version \
                 ELSE cur.version END, \
                 expires_at = CASE WHEN {dead_cur} THEN EXCLUDED.expires_at \
                 ELSE cur.expires_at END \
                 RETURNING version = $4, value, {ms}",
                number("cur.value")
            ),
            // $1 namespace, $2 key, $3 delta, $4 headroom, $5 TTL ms, $6 version,
            // $7 floor (NULL: the server's clock in µs). The insert is proposed only
            // when the delta fits the headroom (a missing entry starts at the floor);
            // the final select returns the floor whatever happened, and the live value
            // for a refusal that never reached the row.
            advance: format!(
                "WITH f AS (SELECT COALESCE($7::text::numeric, \
                 floor(extract(epoch from now()) * 1000000)) AS floor), \
                 up AS (INSERT INTO {t} AS cur (namespace, key, value, version, expires_at) \
                 SELECT $1, $2, convert_to((f.floor + $3::text::numeric)::text, 'UTF8'), $6, \
                 {} FROM f WHERE $3::text::numeric <= $4::text::numeric \
                 ON CONFLICT (namespace, key) DO UPDATE SET \
                 value = CASE WHEN {advance_ok} \
                 THEN convert_to(({start} + $3::text::numeric)::text, 'UTF8') \
                 ELSE cur.value END, \
                 version = CASE WHEN {advance_ok} THEN EXCLUDED.version ELSE cur.version END, \
                 expires_at = CASE WHEN {advance_ok} THEN EXCLUDED.expires_at \
                 ELSE cur.expires_at END \
                 RETURNING version = $6 AS written, value, {live_cur} AS live) \
                 SELECT f.floor::text, up.written, up.value, up.live, \
                 (SELECT value FROM {t} WHERE namespace = $1 AND key = $2 AND {live_row}) \
                 FROM f LEFT JOIN up ON true",
                expiry("$5")
            ),
            list: format!(
                "SELECT key FROM {t} WHERE namespace = $1 AND key LIKE $2 ESCAPE '\\' \
                 AND key > $3 AND {live_row} ORDER BY key LIMIT $4"
            ),
            clear: format!(
                "WITH gone AS (DELETE FROM {t} WHERE ctid IN (SELECT ctid FROM {t} \
                 WHERE namespace = $1 AND key LIKE $2 ESCAPE '\\' LIMIT $3) \
                 RETURNING {live_row} AS live) \
                 SELECT count(*), count(*) FILTER (WHERE live) FROM gone"
            ),
            sweep: format!(
                "DELETE FROM {t} WHERE ctid IN (SELECT ctid FROM {t} WHERE \
                 expires_at <= now() LIMIT $1)"
            ),
        }
    }
}

/// A `LIKE` pattern matching keys that start with `prefix`, literally.
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_identifiers() {
        assert!(TableLayout::new("fleet_state2").is_ok());
        for bad in ["", "2x", "a-b", "a\"b", "a;drop", &"x".repeat(64)] {
            assert!(TableLayout::new(bad).is_err(), "{bad}");
        }
        let layout = TableLayout::new("t").unwrap().in_schema("s").unwrap();
        assert_eq!(layout.qualified(), "\"s\".\"t\"");
        assert!(
            layout
                .schema_sql()
                .contains("CREATE SCHEMA IF NOT EXISTS \"s\"")
        );
        assert!(
            layout
                .clone()
                .unlogged(true)
                .schema_sql()
                .contains("UNLOGGED TABLE")
        );
    }

    #[test]
    fn like_patterns_are_literal() {
        assert_eq!(like_prefix("a%b_c\\"), "a\\%b\\_c\\\\%");
        assert_eq!(like_prefix(""), "%");
    }
}
