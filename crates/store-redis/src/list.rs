//! Listing by `SCAN` on every primary, its cursor, and `clear`.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use store_core::raw::{check_deferred_keys, take_deferred, validate};
use store_core::{Cursor, Error, ListPage, Result};

use crate::RedisStore;
use crate::layout::NamespaceKeys;

/// Most `SCAN` calls one `list` call sends before returning what it has (possibly an
/// empty page with a cursor), so a sparse keyspace cannot stall a caller.
const MAX_SCANS_PER_PAGE: usize = 32;
/// Marks a walk whose scanning is over and only has pending keys to hand out.
const FINISHED: &str = "-";

impl RedisStore {
    /// See [`Store::list`].
    pub(crate) async fn list_page(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        validate::list(&self.capabilities, namespace, prefix, limit)?;
        let keys = NamespaceKeys::new(&self.key_prefix, namespace);
        let pattern = keys.pattern(prefix);
        let nodes = self.conn.primaries().await?;
        let Some(first) = nodes.first() else {
            return Err(Error::unavailable(
                store_core::Delivery::NotSent,
                "the Redis cluster's primaries are not known yet",
            ));
        };
        let mut state = match cursor {
            Some(cursor) => {
                let state = WalkState::decode(cursor)?;
                // A cursor travels through callers: every key it carries must be one this
                // walk could have found.
                check_deferred_keys(&state.pending, prefix, self.capabilities.max_key_len)?;
                state
            }
            None => WalkState {
                node: node_name(first),
                scan: "0".into(),
                pending: Vec::new(),
            },
        };
        let mut node_index = if state.node == FINISHED {
            nodes.len()
        } else {
            nodes
                .iter()
                .position(|n| node_name(n) == state.node)
                .ok_or_else(|| {
                    Error::InvalidCursor(
                        "the Redis cluster's primaries changed during the walk: start it again"
                            .into(),
                    )
                })?
        };
        let deferred = take_deferred(&mut state.pending, limit);
        let mut seen: HashSet<String> = deferred.iter().chain(&state.pending).cloned().collect();
        // Keys carried by a cursor are the caller's text, not the server's: hand out only
        // those that exist (one pipelined `EXISTS` each), so an edited cursor can never
        // make `list` return a key that was never written.
        let mut page = self.existing(&keys, deferred).await?;
        let count = self
            .scan_count
            .max(u32::try_from(limit).unwrap_or(u32::MAX));
        let mut scans = 0;
        while page.len() < limit && node_index < nodes.len() && scans < MAX_SCANS_PER_PAGE {
            scans += 1;
            let node = nodes[node_index].clone();
            let (next, found) = self
                .conn
                .scan(node.as_deref(), &state.scan, &pattern, count)
                .await?;
            for key in found.iter().filter_map(|raw| keys.key_of(raw)) {
                // SCAN may repeat a key (while Redis resizes its tables): hand out once.
                if seen.insert(key.clone()) {
                    if page.len() < limit {
                        page.push(key);
                    } else {
                        state.pending.push(key);
                    }
                }
            }
            if next == "0" {
                node_index += 1;
                state.scan = "0".into();
                state.node = nodes
                    .get(node_index)
                    .map_or_else(|| FINISHED.to_owned(), node_name);
            } else {
                state.scan = next;
            }
        }
        let done = node_index >= nodes.len() && state.pending.is_empty();
        Ok(ListPage {
            keys: page,
            cursor: (!done).then(|| state.encode()),
        })
    }

    /// The keys of `candidates` that exist, in order.
    async fn existing(&self, keys: &NamespaceKeys, candidates: Vec<String>) -> Result<Vec<String>> {
        if candidates.is_empty() {
            return Ok(candidates);
        }
        let physical = candidates.iter().map(|key| keys.physical(key));
        let found = futures::future::try_join_all(physical.map(|k| self.conn.exists(k))).await?;
        Ok(candidates
            .into_iter()
            .zip(found)
            .filter_map(|(key, exists)| exists.then_some(key))
            .collect())
    }

    /// See [`Store::clear`](store_core::Store::clear): `SCAN` on every primary, then
    /// one `UNLINK` per batch found (per key in a cluster, where keys of one batch lie
    /// in different slots).
    pub(crate) async fn clear_keys(&self, namespace: &str, prefix: &str) -> Result<u64> {
        validate::list(&self.capabilities, namespace, prefix, 1)?;
        let pattern = NamespaceKeys::new(&self.key_prefix, namespace).pattern(prefix);
        self.unlink_matching(&pattern).await
    }

    /// `SCAN … MATCH pattern TYPE string` on every primary, `UNLINK` of what it finds.
    pub(crate) async fn unlink_matching(&self, pattern: &str) -> Result<u64> {
        let mut removed = 0;
        for node in self.conn.primaries().await? {
            let mut cursor = "0".to_owned();
            loop {
                let (next, found) = self
                    .conn
                    .scan(node.as_deref(), &cursor, pattern, self.scan_count)
                    .await?;
                removed += self.conn.unlink(found).await?;
                if next == "0" {
                    break;
                }
                cursor = next;
            }
        }
        Ok(removed)
    }
}

fn node_name(node: &Option<String>) -> String {
    node.clone().unwrap_or_default()
}

/// Where a `list` walk stands: which node (cluster) and `SCAN` cursor, and keys already
/// found but not yet returned (a `SCAN` batch can exceed the page).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct WalkState {
    pub(crate) node: String,
    pub(crate) scan: String,
    pub(crate) pending: Vec<String>,
}

const CURSOR_VERSION: &str = "r1";

impl WalkState {
    /// Keys are free of control characters (key rules), so `\n` separates fields.
    pub(crate) fn encode(&self) -> Cursor {
        let mut text = format!("{CURSOR_VERSION}\n{}\n{}", self.node, self.scan);
        for key in &self.pending {
            text.push('\n');
            text.push_str(key);
        }
        store_core::raw::cursor(URL_SAFE_NO_PAD.encode(text))
    }

    pub(crate) fn decode(cursor: &Cursor) -> Result<Self> {
        let invalid = || Error::InvalidCursor("not a cursor of a Redis store's list".into());
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor.as_str())
            .map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = text.split('\n');
        if parts.next() != Some(CURSOR_VERSION) {
            return Err(invalid());
        }
        let node = parts.next().ok_or_else(invalid)?.to_owned();
        let scan = parts.next().ok_or_else(invalid)?.to_owned();
        // Checked here, not by the server: a forged number is refused before any I/O.
        if scan.parse::<u64>().is_err() || scan.starts_with('+') {
            return Err(invalid());
        }
        Ok(WalkState {
            node,
            scan,
            pending: parts.map(str::to_owned).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let state = WalkState {
            node: "127.0.0.1:7000".into(),
            scan: "1234".into(),
            pending: vec!["a".into(), "ü b".into()],
        };
        assert_eq!(WalkState::decode(&state.encode()).unwrap(), state);
        assert!(WalkState::decode(&store_core::raw::cursor("garbage!")).is_err());
        assert!(
            WalkState::decode(&store_core::raw::cursor(
                URL_SAFE_NO_PAD.encode("r1\nx\nnotanumber")
            ))
            .is_err()
        );
    }
}
