//! Listing (a `Query` in composite layouts, a filtered `Scan` otherwise), its cursor,
//! and `clear`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, KeysAndAttributes, WriteRequest};
use backon::{BackoffBuilder, ExponentialBuilder};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use store_core::raw::{check_deferred_keys, take_deferred, validate};
use store_core::{Cursor, Error, ListPage, Result, Timestamp};

use crate::layout::{PartitionValue, TableLayout};
use crate::store::{DynamoStore, LIVE, MAX_LIST_LIMIT, malformed, n, number};

/// Items a `Scan` request examines (simple layout), and how many requests one `list`
/// sends at most before returning what it found (possibly an empty page with a cursor).
const SCAN_BATCH: i32 = 1000;
const MAX_SCANS_PER_PAGE: usize = 8;
/// Most requests of one `BatchWriteItem`.
const BATCH_WRITE_LIMIT: usize = 25;
/// Most keys of one `BatchGetItem`.
const BATCH_GET_LIMIT: usize = 100;
/// Retries of a `BatchWriteItem`'s unprocessed deletes.
const BATCH_ROUNDS: usize = 8;

type Items = Vec<HashMap<String, AttributeValue>>;
type LastKey = Option<HashMap<String, AttributeValue>>;

impl DynamoStore {
    /// See [`Store::list`](store_core::Store::list).
    pub(crate) async fn list_page(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        validate::list(&self.capabilities, namespace, prefix, limit)?;
        let mut state = match cursor {
            Some(c) => {
                let state = ListState::decode(c)?;
                state.check(
                    &self.layout,
                    namespace,
                    prefix,
                    self.capabilities.max_key_len,
                )?;
                state
            }
            None => ListState::default(),
        };
        let deferred = take_deferred(&mut state.pending, limit);
        // Keys carried by a cursor are the caller's text, not the table's: hand out only
        // those that are live (one `BatchGetItem`), so an edited cursor can never make
        // `list` return a key that was never written.
        let mut page = self.live_keys(namespace, deferred).await?;
        let now = Timestamp::now();
        let mut requests = 0;
        while page.len() < limit && !state.finished && requests < MAX_SCANS_PER_PAGE {
            requests += 1;
            let (items, last) = if self.layout.lists_by_query() {
                self.query_page(namespace, prefix, &state, limit, now)
                    .await?
            } else {
                self.scan_page(namespace, prefix, &state, now).await?
            };
            let mut seen: HashSet<String> = page.iter().chain(&state.pending).cloned().collect();
            let found = items
                .iter()
                .filter_map(|item| self.layout.key_of(namespace, item));
            for key in found {
                if seen.insert(key.clone()) {
                    if page.len() < limit {
                        page.push(key);
                    } else {
                        state.pending.push(key);
                    }
                }
            }
            state.set_last(last, &self.layout)?;
        }
        let done = state.finished && state.pending.is_empty();
        Ok(ListPage {
            keys: page,
            cursor: (!done).then(|| state.encode()),
        })
    }

    /// The keys of `candidates` that are live, in order: `BatchGetItem` of their key
    /// attributes and expiry (at most [`MAX_LIST_LIMIT`] keys: 10 requests of 100),
    /// unprocessed keys sent again with backoff.
    async fn live_keys(&self, namespace: &str, candidates: Vec<String>) -> Result<Vec<String>> {
        if candidates.is_empty() {
            return Ok(candidates);
        }
        let now = Timestamp::now().as_millis();
        let projection: &[&str] = match self.layout.sort_key {
            Some(_) => &["#pk", "#sk", "#exp"],
            None => &["#pk", "#exp"],
        };
        let mut live = HashSet::new();
        for chunk in candidates.chunks(BATCH_GET_LIMIT) {
            let keys: Vec<_> = chunk
                .iter()
                .map(|key| self.layout.item_key(namespace, key))
                .collect();
            let mut request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(self.consistent_read)
                .projection_expression(projection.join(", "))
                .set_expression_attribute_names(Some(self.names(projection)))
                .build()
                .map_err(|e| Error::backend("BatchGetItem request", e))?;
            let mut delays = batch_backoff();
            loop {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&*self.table, request)
                    .send()
                    .await
                    .map_err(|e| self.err(e))?;
                for item in out
                    .responses()
                    .and_then(|r| r.get(&*self.table))
                    .into_iter()
                    .flatten()
                {
                    let expires: Option<u64> = number(item.get(&self.layout.expires_at_attribute))?;
                    if expires.is_none_or(|at| at > now) {
                        live.extend(self.layout.key_of(namespace, item));
                    }
                }
                match out.unprocessed_keys().and_then(|u| u.get(&*self.table)) {
                    Some(rest) if !rest.keys().is_empty() => {
                        request = rest.clone();
                        let Some(delay) = delays.next() else {
                            return Err(Error::Throttled {
                                retry_after: None,
                                source: Some(
                                    "list: DynamoDB left keys of BatchGetItem unprocessed".into(),
                                ),
                            });
                        };
                        tokio::time::sleep(delay).await;
                    }
                    _ => break,
                }
            }
        }
        Ok(candidates
            .into_iter()
            .filter(|key| live.contains(key))
            .collect())
    }

    /// See [`Store::clear`](store_core::Store::clear).
    pub(crate) async fn clear_keys(&self, namespace: &str, prefix: &str) -> Result<u64> {
        validate::list(&self.capabilities, namespace, prefix, 1)?;
        let mut removed = 0;
        let mut cursor = None;
        loop {
            let page = self
                .list_page(namespace, prefix, cursor.as_ref(), MAX_LIST_LIMIT)
                .await?;
            for batch in page.keys.chunks(BATCH_WRITE_LIMIT) {
                self.delete_batch(namespace, batch).await?;
                removed += batch.len() as u64;
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(removed),
            }
        }
    }

    /// One `BatchWriteItem` of deletes, sending again what DynamoDB left unprocessed
    /// (throttling) with full-jitter backoff, at most [`BATCH_ROUNDS`] times.
    async fn delete_batch(&self, namespace: &str, keys: &[String]) -> Result<()> {
        let mut requests: Vec<WriteRequest> = keys
            .iter()
            .map(|key| {
                let delete = DeleteRequest::builder()
                    .set_key(Some(self.layout.item_key(namespace, key)))
                    .build()
                    .map_err(|e| Error::backend("BatchWriteItem request", e))?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<_>>()?;
        let mut delays = batch_backoff();
        loop {
            let out = self
                .client
                .batch_write_item()
                .request_items(&*self.table, requests)
                .send()
                .await
                .map_err(|e| self.err(e))?;
            requests = out
                .unprocessed_items()
                .and_then(|items| items.get(&*self.table))
                .cloned()
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            let Some(delay) = delays.next() else {
                return Err(Error::Throttled {
                    retry_after: None,
                    source: Some(
                        format!(
                            "clear: DynamoDB left {} deletes unprocessed after {BATCH_ROUNDS} \
                         retries; run clear again",
                            requests.len()
                        )
                        .into(),
                    ),
                });
            };
            tokio::time::sleep(delay).await;
        }
    }
    async fn query_page(
        &self,
        namespace: &str,
        prefix: &str,
        state: &ListState,
        limit: usize,
        now: Timestamp,
    ) -> Result<(Items, LastKey)> {
        let (partition, sort_prefix) = match &self.layout.partition_value {
            PartitionValue::Namespace => (namespace.to_owned(), prefix.to_owned()),
            PartitionValue::Static(value) => (
                value.clone(),
                format!("{}{prefix}", TableLayout::namespace_head(namespace)),
            ),
        };
        let mut key_condition = String::from("#pk = :pk");
        let mut names = vec!["#pk", "#exp"];
        let mut request = self
            .client
            .query()
            .table_name(&*self.table)
            .consistent_read(self.consistent_read)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .filter_expression(LIVE)
            .expression_attribute_values(":pk", AttributeValue::S(partition))
            .expression_attribute_values(":now", n(now.as_millis()))
            .set_exclusive_start_key(state.last_key(&self.layout));
        if !sort_prefix.is_empty() {
            key_condition.push_str(" AND begins_with(#sk, :prefix)");
            names.push("#sk");
            request =
                request.expression_attribute_values(":prefix", AttributeValue::S(sort_prefix));
        }
        let out = request
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(Some(self.names(&names)))
            .send()
            .await
            .map_err(|e| self.err(e))?;
        Ok((out.items().to_vec(), out.last_evaluated_key().cloned()))
    }

    async fn scan_page(
        &self,
        namespace: &str,
        prefix: &str,
        state: &ListState,
        now: Timestamp,
    ) -> Result<(Items, LastKey)> {
        let head = format!("{}{prefix}", TableLayout::namespace_head(namespace));
        let out = self
            .client
            .scan()
            .table_name(&*self.table)
            .consistent_read(self.consistent_read)
            .limit(SCAN_BATCH)
            .filter_expression(format!("begins_with(#pk, :head) AND {LIVE}"))
            .projection_expression("#pk")
            .set_expression_attribute_names(Some(self.names(&["#pk", "#exp"])))
            .expression_attribute_values(":head", AttributeValue::S(head))
            .expression_attribute_values(":now", n(now.as_millis()))
            .set_exclusive_start_key(state.last_key(&self.layout))
            .send()
            .await
            .map_err(|e| self.err(e))?;
        Ok((out.items().to_vec(), out.last_evaluated_key().cloned()))
    }
}

/// Full-jitter backoff between re-sends of a batch's unprocessed part.
fn batch_backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(25))
        .with_max_delay(Duration::from_secs(1))
        .with_jitter()
        .with_max_times(BATCH_ROUNDS)
        .build()
}

/// Where a `list` walk stands: DynamoDB's `LastEvaluatedKey` (string key attributes)
/// and keys found beyond the last page.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ListState {
    partition: Option<String>,
    sort: Option<String>,
    finished: bool,
    pending: Vec<String>,
}

const CURSOR_VERSION: &str = "d1";

impl ListState {
    fn last_key(&self, layout: &TableLayout) -> LastKey {
        let partition = self.partition.clone()?;
        let mut key = HashMap::new();
        key.insert(layout.partition_key.clone(), AttributeValue::S(partition));
        if let (Some(sk), Some(sort)) = (&layout.sort_key, &self.sort) {
            key.insert(sk.clone(), AttributeValue::S(sort.clone()));
        }
        Some(key)
    }

    fn set_last(&mut self, last: LastKey, layout: &TableLayout) -> Result<()> {
        let Some(last) = last else {
            self.finished = true;
            return Ok(());
        };
        let text = |name: &str| -> Result<Option<String>> {
            match last.get(name) {
                None => Ok(None),
                Some(AttributeValue::S(s)) => Ok(Some(s.clone())),
                Some(other) => Err(malformed(&format!("key attribute `{name}` is {other:?}"))),
            }
        };
        self.partition = text(&layout.partition_key)?;
        self.sort = match &layout.sort_key {
            Some(sk) => text(sk)?,
            None => None,
        };
        Ok(())
    }

    /// Refuses, before any request, a cursor this walk cannot have produced: a start key
    /// outside the namespace and prefix (DynamoDB would answer `ValidationException`) or
    /// deferred keys that are not keys under the prefix (an edited cursor must never
    /// make `list` return keys that were never written).
    fn check(
        &self,
        layout: &TableLayout,
        namespace: &str,
        prefix: &str,
        max_key_len: usize,
    ) -> Result<()> {
        let forged = |what: &str| {
            Err(Error::InvalidCursor(format!(
                "this cursor {what}: it was edited or belongs to another list call"
            )))
        };
        check_deferred_keys(&self.pending, prefix, max_key_len)?;
        if self.finished {
            return Ok(());
        }
        let head = TableLayout::namespace_head(namespace);
        let start_ok = match (
            &layout.sort_key,
            &layout.partition_value,
            &self.partition,
            &self.sort,
        ) {
            (None, _, Some(pk), None) => !pk.is_empty(),
            (Some(_), PartitionValue::Namespace, Some(pk), Some(sk)) => {
                pk == namespace && sk.starts_with(prefix) && !sk.is_empty()
            }
            (Some(_), PartitionValue::Static(value), Some(pk), Some(sk)) => {
                pk == value && sk.starts_with(&format!("{head}{prefix}"))
            }
            _ => false,
        };
        if start_ok {
            Ok(())
        } else {
            forged("starts outside the walk's namespace and prefix")
        }
    }

    /// Keys and key attributes hold no control characters (key rules), so `\n`
    /// separates the fields.
    fn encode(&self) -> Cursor {
        let state = if self.finished { "end" } else { "more" };
        let mut text = format!(
            "{CURSOR_VERSION}\n{state}\n{}\n{}",
            self.partition.as_deref().unwrap_or("\u{1}"),
            self.sort.as_deref().unwrap_or("\u{1}")
        );
        for key in &self.pending {
            text.push('\n');
            text.push_str(key);
        }
        store_core::raw::cursor(URL_SAFE_NO_PAD.encode(text))
    }

    fn decode(cursor: &Cursor) -> Result<Self> {
        let invalid = || Error::InvalidCursor("not a cursor of a DynamoDB store's list".into());
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor.as_str())
            .map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = text.split('\n');
        if parts.next() != Some(CURSOR_VERSION) {
            return Err(invalid());
        }
        let finished = match parts.next() {
            Some("end") => true,
            Some("more") => false,
            _ => return Err(invalid()),
        };
        let field = |s: Option<&str>| -> Result<Option<String>> {
            match s {
                Some("\u{1}") => Ok(None),
                Some(s) => Ok(Some(s.to_owned())),
                None => Err(invalid()),
            }
        };
        let partition = field(parts.next())?;
        let sort = field(parts.next())?;
        Ok(ListState {
            partition,
            sort,
            finished,
            pending: parts.map(str::to_owned).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let state = ListState {
            partition: Some("5:a:b:k".into()),
            sort: None,
            finished: false,
            pending: vec!["x".into(), "y z".into()],
        };
        assert_eq!(ListState::decode(&state.encode()).unwrap(), state);
        assert!(ListState::decode(&store_core::raw::cursor("nope")).is_err());
    }
}
