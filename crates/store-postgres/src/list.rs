//! `list` by keyset pagination over `(namespace, key)`, and `clear` in bounded batches.

use store_core::raw::{keyset_after, keyset_cursor, validate};
use store_core::{Cursor, ListPage, Result};

use crate::PostgresStore;
use crate::error::unexpected;
use crate::layout::like_prefix;

/// The tag of this store's list cursors (`store_core::raw::keyset_cursor`).
const CURSOR_TAG: &str = "pg1.";

/// Rows one `clear` statement deletes at most.
const CLEAR_BATCH: i64 = 1000;

impl PostgresStore {
    /// See [`Store::list`](store_core::Store::list): keys in byte order after the
    /// cursor's key, the prefix matched literally. The cursor is the last key handed
    /// out; one that comes back is checked to be a key under the prefix, so an edited
    /// cursor only moves the walk, and every key listed comes from the table.
    pub(crate) async fn list_page(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        validate::list(&self.capabilities, namespace, prefix, limit)?;
        let after = keyset_after(CURSOR_TAG, cursor, prefix, self.capabilities.max_key_len)?;
        let pattern = like_prefix(prefix);
        let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
        let rows = self
            .run(
                &self.statements().list,
                &[&namespace, &pattern, &after, &fetch],
            )
            .await?;
        let mut keys = rows
            .iter()
            .map(|row| row.try_get::<_, String>(0))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| unexpected("list", e))?;
        let more = keys.len() > limit;
        keys.truncate(limit);
        let cursor = match keys.last() {
            Some(last) if more => Some(keyset_cursor(CURSOR_TAG, last)),
            _ => None,
        };
        Ok(ListPage { keys, cursor })
    }

    /// See [`Store::clear`](store_core::Store::clear): deletes in batches of
    /// [`CLEAR_BATCH`] rows, one statement each, and counts the live ones.
    pub(crate) async fn clear_prefix(&self, namespace: &str, prefix: &str) -> Result<u64> {
        validate::list(&self.capabilities, namespace, prefix, 1)?;
        let pattern = like_prefix(prefix);
        let mut live = 0u64;
        loop {
            let rows = self
                .run(
                    &self.statements().clear,
                    &[&namespace, &pattern, &CLEAR_BATCH],
                )
                .await?;
            let row = rows.first().ok_or_else(|| unexpected("clear", "no row"))?;
            let deleted: i64 = row.try_get(0).map_err(|e| unexpected("clear", e))?;
            let alive: i64 = row.try_get(1).map_err(|e| unexpected("clear", e))?;
            live += u64::try_from(alive).unwrap_or(0);
            if deleted < CLEAR_BATCH {
                return Ok(live);
            }
        }
    }
}
