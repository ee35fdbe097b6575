//! `list` by keyset pagination over `(namespace, key)`.

use deadpool_sqlite::rusqlite::params;
use store_core::raw::{keyset_after, keyset_cursor, validate};
use store_core::{Cursor, ListPage, Result, Timestamp};

use crate::SqliteStore;

/// The tag of this store's list cursors (`store_core::raw::keyset_cursor`).
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
        let after = keyset_after(CURSOR_TAG, cursor, prefix, self.capabilities.max_key_len)?;
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
            Some(last) if more => Some(keyset_cursor(CURSOR_TAG, last)),
            _ => None,
        };
        Ok(ListPage { keys, cursor })
    }
}
