//! Listing (sorted, across shards) and its cursor, and `clear`.

use std::sync::Arc;

use store_core::raw::validate;
use store_core::{Cursor, Error, ListPage, Result};

use crate::layout::hash_pair;
use crate::store::MemoryStore;

impl MemoryStore {
    pub(crate) fn list_now(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        validate::list(&self.inner.capabilities, namespace, prefix, limit)?;
        let after = cursor.map(decode_cursor).transpose()?;
        let now = self.inner.clock.now();
        let mut keys: Vec<Arc<str>> = Vec::new();
        for shard in self.inner.shards.iter() {
            // One more than asked per shard tells whether another page follows.
            let shard = shard.0.read();
            keys.extend(shard.keys_from(
                namespace,
                prefix,
                after,
                limit + 1,
                &self.inner.hasher,
                now,
            ));
        }
        keys.sort_unstable();
        let cursor = (keys.len() > limit).then(|| {
            keys.truncate(limit);
            encode_cursor(keys.last().map_or("", |k| k))
        });
        Ok(ListPage {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            cursor,
        })
    }

    /// Removes every live key of `namespace` under `prefix`, shard by shard, each under
    /// its write lock.
    pub(crate) fn clear_now(&self, namespace: &str, prefix: &str) -> Result<u64> {
        validate::list(&self.inner.capabilities, namespace, prefix, 1)?;
        let now = self.inner.clock.now();
        let mut removed = 0;
        for shard in self.inner.shards.iter() {
            let mut shard = shard.0.write();
            let keys =
                shard.keys_from(namespace, prefix, None, usize::MAX, &self.inner.hasher, now);
            for key in keys {
                let hash = hash_pair(&self.inner.hasher, namespace, &key);
                if let Some(slot) = shard.remove(hash, namespace, &key) {
                    self.inner.release(1, slot.size());
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

const CURSOR_TAG: char = 'k';

fn encode_cursor(last_key: &str) -> Cursor {
    let mut s = String::with_capacity(last_key.len() + 1);
    s.push(CURSOR_TAG);
    s.push_str(last_key);
    store_core::raw::cursor(s)
}

fn decode_cursor(cursor: &Cursor) -> Result<&str> {
    cursor.as_str().strip_prefix(CURSOR_TAG).ok_or_else(|| {
        Error::InvalidCursor(format!(
            "`{cursor}` was not produced by a memory store's list"
        ))
    })
}
