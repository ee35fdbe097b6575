//! `list` on KV's prefix listing and its cursor, and `clear`.

use std::hash::{Hash, Hasher};

use store_core::raw::validate;
use store_core::{Cursor, Error, ListPage, Result, Store};

use crate::CloudflareKvStore;
use crate::error::from_kv;
use crate::layout::{self, Meta};
use crate::store::{MAX_LIST_LIMIT, now_ms};

/// The tag of this store's cursors.
const CURSOR_TAG: &str = "cfkv1.";

/// A short fingerprint of what a cursor lists, so a cursor handed to another namespace
/// or prefix is refused before any request.
fn scope(namespace: &str, prefix: &str) -> String {
    let mut h = std::hash::DefaultHasher::new();
    (namespace, prefix).hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Whether a listed key's metadata says it is live (no metadata: not fleetstate's, kept
/// so the caller sees it and `get` explains).
fn live(metadata: Option<&serde_json::Value>, now: u64) -> bool {
    metadata
        .and_then(|m| serde_json::from_value::<Meta>(m.clone()).ok())
        .is_none_or(|m| m.live(now))
}

impl CloudflareKvStore {
    /// See [`Store::list`](store_core::Store::list): KV lists keys in byte order; the
    /// store asks for what the page still needs, skips expired keys, and continues with
    /// KV's cursor until the page is full or the prefix is exhausted. Its cursor is
    /// `cfkv1.<scope>.<KV cursor>`: one from another namespace or prefix, or one KV does
    /// not recognise, is `InvalidCursor`.
    pub(crate) async fn list_page(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        validate::list(self.capabilities(), namespace, prefix, limit)?;
        let tag = format!("{CURSOR_TAG}{}.", scope(namespace, prefix));
        let mut kv_cursor = match cursor {
            None => None,
            Some(c) => {
                let rest = c.as_str().strip_prefix(&tag).ok_or_else(|| {
                    Error::InvalidCursor("not a cursor of this store, namespace and prefix".into())
                })?;
                if rest.is_empty() || rest.chars().any(char::is_control) {
                    return Err(Error::InvalidCursor("an empty or altered cursor".into()));
                }
                Some(rest.to_owned())
            }
        };
        let ns_prefix = layout::namespace_prefix(self.prefix(), namespace);
        let full = format!("{ns_prefix}{prefix}");
        let mut keys = Vec::new();
        loop {
            let need = (limit - keys.len()).min(MAX_LIST_LIMIT) as u64;
            let mut request = self.kv().list().prefix(full.clone()).limit(need);
            let continued = kv_cursor.is_some();
            if let Some(c) = kv_cursor.take() {
                request = request.cursor(c);
            }
            let page = request.execute().await.map_err(|e| {
                if continued && cursor.is_some() && keys.is_empty() {
                    Error::InvalidCursor(format!("Workers KV refused the cursor: {e}"))
                } else {
                    from_kv("list", &e)
                }
            })?;
            let now = now_ms();
            for key in page.keys {
                if !live(key.metadata.as_ref(), now) {
                    continue;
                }
                let Some(k) = key.name.strip_prefix(&ns_prefix) else {
                    return Err(Error::Backend {
                        message: format!("Workers KV listed `{}` outside the prefix", key.name),
                        source: None,
                    });
                };
                keys.push(k.to_owned());
            }
            match page.cursor {
                Some(c) if !page.list_complete && !c.is_empty() => {
                    if keys.len() >= limit {
                        return Ok(ListPage {
                            keys,
                            cursor: Some(store_core::raw::cursor(format!("{tag}{c}"))),
                        });
                    }
                    kv_cursor = Some(c);
                }
                _ => return Ok(ListPage { keys, cursor: None }),
            }
        }
    }

    /// See [`Store::clear`](store_core::Store::clear): lists every key under the prefix,
    /// then deletes them one KV call each, counting the live ones.
    pub(crate) async fn clear_prefix(&self, namespace: &str, prefix: &str) -> Result<u64> {
        validate::list(self.capabilities(), namespace, prefix, 1)?;
        let full = format!(
            "{}{prefix}",
            layout::namespace_prefix(self.prefix(), namespace)
        );
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut request = self
                .kv()
                .list()
                .prefix(full.clone())
                .limit(MAX_LIST_LIMIT as u64);
            if let Some(c) = cursor.take() {
                request = request.cursor(c);
            }
            let page = request.execute().await.map_err(|e| from_kv("clear", &e))?;
            let now = now_ms();
            found.extend(
                page.keys
                    .into_iter()
                    .map(|k| (live(k.metadata.as_ref(), now), k.name)),
            );
            match page.cursor {
                Some(c) if !page.list_complete && !c.is_empty() => cursor = Some(c),
                _ => break,
            }
        }
        let mut live_keys = 0;
        for (alive, name) in found {
            self.kv()
                .delete(&name)
                .await
                .map_err(|e| from_kv("clear", &e))?;
            live_keys += u64::from(alive);
        }
        Ok(live_keys)
    }
}
