//! `list` by keyset pagination over `(namespace, key)`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use deadpool_sqlite::rusqlite::params;
use store_core::raw::validate;
use store_core::{Cursor, Error, ListPage, Result, Timestamp};

use crate::SqliteStore;

/// The cursor's form: this tag, then the last key handed out in URL-safe base64.
const CURSOR_TAG: &str = "sq1.";

impl SqliteStore {
    /// See [`Store::list`](store_core::Store::list): keys in byte order after the
    /// cursor's key, the prefix matched literally. A cursor that comes back is checked
    /// to name a key under the prefix, so an edited one only moves the walk.
    pub(crate) async fn list_page(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        validate::list(&self.capabilities, namespace, prefix, limit)?;
        let after = match cursor {
            None => String::new(),
            Some(cursor) => {
                let key = cursor
                    .as_str()
                    .strip_prefix(CURSOR_TAG)
                    .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| Error::InvalidCursor("not a SQLite list cursor".into()))?;
                let valid = key.starts_with(prefix)
                    && !key.is_empty()
                    && key.len() <= self.capabilities.max_key_len
                    && !key.chars().any(char::is_control);
                if !valid {
                    return Err(Error::InvalidCursor(
                        "not a cursor of this namespace and prefix".into(),
                    ));
                }
                key
            }
        };
        let (ns, prefix) = (namespace.to_owned(), prefix.to_owned());
        let now = i64::try_from(Timestamp::now().as_millis()).unwrap_or(i64::MAX);
        let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
        let mut keys = self
            .call(move |conn, s| {
                conn.prepare_cached(&s.list)?
                    .query_map(params![ns, "", now, prefix, after, fetch], |row| {
                        row.get::<_, String>(0)
                    })?
                    .collect::<deadpool_sqlite::rusqlite::Result<Vec<String>>>()
            })
            .await?;
        let more = keys.len() > limit;
        keys.truncate(limit);
        let cursor = match keys.last() {
            Some(last) if more => Some(store_core::raw::cursor(format!(
                "{CURSOR_TAG}{}",
                URL_SAFE_NO_PAD.encode(last)
            ))),
            _ => None,
        };
        Ok(ListPage { keys, cursor })
    }
}
