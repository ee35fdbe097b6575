//! `list` as one read range over a namespace's keys, and `clear` in bounded batches.

use std::num::NonZeroU32;

use denokv_proto::{KvEntry, ReadRange};
use store_core::raw::{keyset_after, keyset_cursor, validate};
use store_core::{Cursor, ListPage, Result, Timestamp};

use crate::DenoKvStore;
use crate::error::unexpected;
use crate::layout::{self, MAX_READ_ENTRIES, MAX_WRITE_BYTES};

/// The tag of this store's list cursors (`store_core::raw::keyset_cursor`).
const CURSOR_TAG: &str = "dkv1.";

/// Deletes one `clear` write carries at most (Deno KV allows 1000 mutations and
/// 800 KiB of keys per atomic write; a key is at most 2 KiB).
const CLEAR_BATCH: usize = 300;

impl DenoKvStore {
    /// Up to `limit` entries of `namespace` from `start` (inclusive) below `end`.
    async fn range(&self, start: Vec<u8>, end: Vec<u8>, limit: usize) -> Result<Vec<KvEntry>> {
        let limit = u32::try_from(limit.clamp(1, MAX_READ_ENTRIES)).unwrap_or(1);
        let range = ReadRange {
            start,
            end,
            limit: NonZeroU32::new(limit).unwrap_or(NonZeroU32::MIN),
            reverse: false,
        };
        let mut out = self.driver().read(vec![range]).await?;
        out.pop()
            .map(|r| r.entries)
            .ok_or_else(|| unexpected("snapshot_read", "no range"))
    }

    /// See [`Store::list`](store_core::Store::list): keys in byte order after the
    /// cursor's key, the prefix matched literally, expired entries skipped (reading on
    /// when a range held fewer live keys than asked). The cursor is the last key handed
    /// out; one that comes back is checked to be a key under the prefix, so an edited
    /// cursor only moves the walk, and every key listed comes from the database.
    pub(crate) async fn list_page(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        validate::list(&self.capabilities, namespace, prefix, limit)?;
        let after = keyset_after(CURSOR_TAG, cursor, prefix, self.capabilities.max_key_len)?;
        let first = layout::prefix_start(self.root(), namespace, prefix)?;
        let end = layout::prefix_end(&first);
        let mut start = if after.is_empty() {
            first
        } else {
            layout::after(&layout::key(self.root(), namespace, &after)?)
        };
        let mut keys = Vec::new();
        let now = Timestamp::now().as_millis();
        loop {
            let want = limit + 1 - keys.len();
            let entries = self.range(start.clone(), end.clone(), want).await?;
            let exhausted = entries.len() < want.min(MAX_READ_ENTRIES);
            let last = entries.last().map(|e| layout::after(&e.key));
            for entry in entries {
                let stored = layout::unpack(entry.value, entry.versionstamp)?;
                if !stored.live(now) {
                    continue;
                }
                let key = layout::contract_key(&entry.key, self.root(), namespace)
                    .ok_or_else(|| unexpected("list", &entry.key))?;
                keys.push(key);
            }
            match last {
                Some(next) if !exhausted && keys.len() <= limit => start = next,
                _ => break,
            }
        }
        let more = keys.len() > limit;
        keys.truncate(limit);
        let cursor = match keys.last() {
            Some(last) if more => Some(keyset_cursor(CURSOR_TAG, last)),
            _ => None,
        };
        Ok(ListPage { keys, cursor })
    }

    /// See [`Store::clear`](store_core::Store::clear): reads the prefix's keys a batch
    /// at a time and deletes each batch in one atomic write, counting the live ones. A
    /// write that lands between a batch's read and its delete may be deleted uncounted.
    pub(crate) async fn clear_prefix(&self, namespace: &str, prefix: &str) -> Result<u64> {
        validate::list(&self.capabilities, namespace, prefix, 1)?;
        let start = layout::prefix_start(self.root(), namespace, prefix)?;
        let end = layout::prefix_end(&start);
        let mut live = 0u64;
        loop {
            let entries = self.range(start.clone(), end.clone(), CLEAR_BATCH).await?;
            if entries.is_empty() {
                return Ok(live);
            }
            let now = Timestamp::now().as_millis();
            let mut deletes = Vec::with_capacity(entries.len());
            let mut bytes = 0;
            for entry in entries {
                // A value not written by fleetstate is deleted too, and counted live.
                let alive =
                    layout::unpack(entry.value, entry.versionstamp).map_or(true, |s| s.live(now));
                live += u64::from(alive);
                bytes += entry.key.len();
                deletes.push(denokv_proto::Mutation {
                    key: entry.key,
                    kind: denokv_proto::MutationKind::Delete,
                    expire_at: None,
                });
            }
            debug_assert!(bytes <= MAX_WRITE_BYTES);
            let write = denokv_proto::AtomicWrite {
                checks: Vec::new(),
                mutations: deletes,
                enqueues: Vec::new(),
            };
            self.driver().write(write).await?;
        }
    }
}
