//! The contract mapped onto DynamoDB.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use store_core::{
    Capabilities, Condition, Cursor, DeleteCondition, Entry, Error, IncrOutcome, ListPage, Result,
    SetOptions, SetOutcome, Store, Timestamp, Version, keys, validate,
};

use crate::config::DynamoStoreBuilder;
use crate::error::from_sdk;
use crate::layout::{PartitionValue, TableLayout};

/// Largest page one `list` call returns.
pub const MAX_LIST_LIMIT: usize = 1000;
/// Items a `Scan` request examines (simple layout), and how many requests one `list`
/// sends at most before returning what it found (possibly an empty page with a cursor).
const SCAN_BATCH: i32 = 1000;
const MAX_SCANS_PER_PAGE: usize = 8;
/// Rounds of the `incr` state machine before giving up under extreme contention.
const MAX_INCR_ROUNDS: usize = 16;

/// The fleetstate store on DynamoDB.
///
/// Every operation is one request in the common case: `get` = `GetItem`, `set` =
/// `PutItem` with its condition (a rejection returns the current item through
/// `ReturnValuesOnConditionCheckFailure`, no second read), `delete` = `DeleteItem`,
/// `incr` = one `UpdateItem`. Two cases take a second, conditional request: restarting
/// an expired counter that DynamoDB has not yet removed, and giving a TTL to a counter
/// that was created without one (which must not get an expiry). `list` is a `Query` in
/// composite layouts and a filtered `Scan` otherwise (reads the whole table: costly).
///
/// Expiry: every item carries its expiry in milliseconds (filtered on every read, since
/// DynamoDB's own TTL deletes up to 48 hours late) and in seconds for native TTL.
/// DynamoDB expressions have no clock, so expiries come from this process's clock:
/// instances whose clocks disagree by `d` disagree on expiry by `d`.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
    layout: Arc<TableLayout>,
    consistent_read: bool,
    capabilities: Capabilities,
}

impl DynamoStore {
    /// A builder from a `dynamodb://table?...` URL (see [`DynamoStoreBuilder`]).
    pub fn builder(url: &str) -> Result<DynamoStoreBuilder> {
        DynamoStoreBuilder::from_url(url)
    }

    /// A builder around an SDK client you already have (its retry and timeout settings
    /// stay yours).
    pub fn from_client(client: Client, table: &str) -> DynamoStoreBuilder {
        DynamoStoreBuilder::from_client(client, table)
    }

    /// A builder from an `aws-config` `SdkConfig`.
    pub fn from_sdk_config(config: &aws_config::SdkConfig, table: &str) -> DynamoStoreBuilder {
        DynamoStoreBuilder::from_sdk_config(config, table)
    }

    pub(crate) fn new(client: Client, b: DynamoStoreBuilder) -> Self {
        let mut capabilities = Capabilities::default();
        capabilities.atomic_incr = true;
        capabilities.compare_and_set = true;
        capabilities.returns_current_on_reject = true;
        capabilities.sorted_list = b.layout.lists_by_query();
        capabilities.strongly_consistent_reads = b.consistent_read;
        capabilities.max_key_len = b.layout.max_key_len();
        capabilities.max_namespace_len = keys::MAX_NAMESPACE_LEN;
        capabilities.max_value_size = b.layout.max_value_size();
        capabilities.max_list_limit = MAX_LIST_LIMIT;
        capabilities.ttl_resolution = Duration::from_millis(1);
        DynamoStore {
            client,
            table: Arc::from(b.table.as_str()),
            layout: Arc::new(b.layout),
            consistent_read: b.consistent_read,
            capabilities,
        }
    }

    /// The SDK client underneath.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The layout in use.
    pub fn layout(&self) -> &TableLayout {
        &self.layout
    }

    fn err<E, R>(&self, e: aws_sdk_dynamodb::error::SdkError<E, R>) -> Error
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        from_sdk(e, &self.table)
    }

    /// The live entry an item holds at `now`, `None` if it is expired.
    fn entry_of(
        &self,
        item: &HashMap<String, AttributeValue>,
        now: Timestamp,
    ) -> Result<Option<Entry>> {
        let l = &*self.layout;
        let expires_at =
            number::<u64>(item.get(&l.expires_at_attribute))?.map(Timestamp::from_millis);
        if expires_at.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        let value = match item.get(&l.value_attribute) {
            Some(AttributeValue::B(blob)) => Bytes::copy_from_slice(blob.as_ref()),
            Some(AttributeValue::N(n)) => Bytes::from(n.clone()),
            other => {
                return Err(malformed(&format!(
                    "value attribute `{}` is {other:?}",
                    l.value_attribute
                )));
            }
        };
        let version = number::<u64>(item.get(&l.version_attribute))?
            .ok_or_else(|| malformed(&format!("no version attribute `{}`", l.version_attribute)))?;
        Ok(Some(Entry {
            value,
            version: Version::from_raw(version),
            expires_at,
        }))
    }

    /// A `GetItem` of one entry, with the store's read consistency.
    fn get_item(
        &self,
        namespace: &str,
        key: &str,
    ) -> aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder {
        self.client
            .get_item()
            .table_name(&*self.table)
            .set_key(Some(self.layout.item_key(namespace, key)))
            .consistent_read(self.consistent_read)
    }

    /// Names used by the expressions, keyed by placeholder.
    fn names(&self, which: &[&str]) -> HashMap<String, String> {
        let l = &*self.layout;
        which
            .iter()
            .map(|p| {
                let attr = match *p {
                    "#pk" => &l.partition_key,
                    "#sk" => l.sort_key.as_ref().unwrap_or(&l.partition_key),
                    "#v" => &l.value_attribute,
                    "#ver" => &l.version_attribute,
                    "#exp" => &l.expires_at_attribute,
                    "#ttl" => &l.ttl_attribute,
                    other => unreachable!("unknown placeholder {other}"),
                };
                ((*p).to_owned(), attr.clone())
            })
            .collect()
    }

    /// The attributes of a new item, expiry included.
    fn new_item(
        &self,
        namespace: &str,
        key: &str,
        value: AttributeValue,
        version: u64,
        expires_at: Option<Timestamp>,
    ) -> HashMap<String, AttributeValue> {
        let l = &*self.layout;
        let mut item = l.item_key(namespace, key);
        item.insert(l.value_attribute.clone(), value);
        item.insert(l.version_attribute.clone(), n(version));
        if let Some(at) = expires_at {
            item.insert(l.expires_at_attribute.clone(), n(at.as_millis()));
            item.insert(l.ttl_attribute.clone(), n(at.as_millis().div_ceil(1000)));
        }
        item
    }
}

fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

fn malformed(what: &str) -> Error {
    Error::Backend {
        message: format!("malformed item in the table: {what}"),
        source: None,
    }
}

fn number<T: std::str::FromStr>(value: Option<&AttributeValue>) -> Result<Option<T>> {
    match value {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| malformed(&format!("number {s:?} out of range"))),
        Some(other) => Err(malformed(&format!("expected a number, found {other:?}"))),
    }
}

/// A canonical decimal `i64` is stored as a Number, so `incr` can add to it; anything
/// else as Binary.
fn value_attribute(value: &Bytes) -> AttributeValue {
    let canonical = std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse::<i64>().ok().filter(|n| n.to_string() == s));
    match canonical {
        Some(number) => n(number),
        None => AttributeValue::B(Blob::new(value.to_vec())),
    }
}

fn new_version() -> u64 {
    fastrand::u64(1..)
}

const LIVE: &str = "(attribute_not_exists(#exp) OR #exp > :now)";

impl Store for DynamoStore {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Entry>> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        let out = self
            .get_item(namespace, key)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        match out.item() {
            Some(item) => self.entry_of(item, Timestamp::now()),
            None => Ok(None),
        }
    }

    /// `GetItem` projecting only the key and expiry attributes: the value never
    /// crosses the wire.
    async fn exists(&self, namespace: &str, key: &str) -> Result<bool> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        let out = self
            .get_item(namespace, key)
            .projection_expression("#pk, #exp")
            .set_expression_attribute_names(Some(self.names(&["#pk", "#exp"])))
            .send()
            .await
            .map_err(|e| self.err(e))?;
        let Some(item) = out.item() else {
            return Ok(false);
        };
        let expires_at = number::<u64>(item.get(&self.layout.expires_at_attribute))?;
        Ok(expires_at.is_none_or(|at| at > Timestamp::now().as_millis()))
    }

    async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        opts: SetOptions,
    ) -> Result<SetOutcome> {
        validate::set(&self.capabilities, namespace, key, &value, &opts)?;
        let now = Timestamp::now();
        let version = new_version();
        let expires_at = opts.ttl.map(|ttl| now.add_ttl(ttl));
        let item = self.new_item(namespace, key, value_attribute(&value), version, expires_at);
        let mut request = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(item))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let now_value = n(now.as_millis());
        request = match opts.condition {
            Condition::Always => request,
            Condition::IfAbsent => request
                .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
                .set_expression_attribute_names(Some(self.names(&["#pk", "#exp"])))
                .expression_attribute_values(":now", now_value),
            Condition::IfPresent => request
                .condition_expression(format!("attribute_exists(#pk) AND {LIVE}"))
                .set_expression_attribute_names(Some(self.names(&["#pk", "#exp"])))
                .expression_attribute_values(":now", now_value),
            Condition::IfVersion(v) => request
                .condition_expression(format!("#ver = :expected AND {LIVE}"))
                .set_expression_attribute_names(Some(self.names(&["#ver", "#exp"])))
                .expression_attribute_values(":now", now_value)
                .expression_attribute_values(":expected", n(v.as_raw())),
        };
        match request.send().await {
            Ok(_) => Ok(SetOutcome::Written(Version::from_raw(version))),
            Err(e) => match e.as_service_error() {
                Some(service) if service.is_conditional_check_failed_exception() => {
                    let current = match &service {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                            c.item().map(|item| self.entry_of(item, now)).transpose()?.flatten()
                        }
                        _ => None,
                    };
                    Ok(SetOutcome::Rejected { current })
                }
                _ => Err(self.err(e)),
            },
        }
    }

    async fn delete(&self, namespace: &str, key: &str, condition: DeleteCondition) -> Result<bool> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        let now = Timestamp::now();
        let request = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .set_key(Some(self.layout.item_key(namespace, key)));
        match condition {
            DeleteCondition::Always => {
                let out = request
                    .return_values(ReturnValue::AllOld)
                    .send()
                    .await
                    .map_err(|e| self.err(e))?;
                // Removing an expired item is housekeeping, not a live delete.
                Ok(match out.attributes() {
                    Some(item) => self.entry_of(item, now)?.is_some(),
                    None => false,
                })
            }
            DeleteCondition::IfVersion(v) => {
                let sent = request
                    .condition_expression(format!("#ver = :expected AND {LIVE}"))
                    .set_expression_attribute_names(Some(self.names(&["#ver", "#exp"])))
                    .expression_attribute_values(":now", n(now.as_millis()))
                    .expression_attribute_values(":expected", n(v.as_raw()))
                    .send()
                    .await;
                match sent {
                    Ok(_) => Ok(true),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                    {
                        Ok(false)
                    }
                    Err(e) => Err(self.err(e)),
                }
            }
        }
    }

    async fn incr(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        validate::incr(&self.capabilities, namespace, key, ttl)?;
        let mut keep_permanent = false;
        for _ in 0..MAX_INCR_ROUNDS {
            let now = Timestamp::now();
            let step = IncrStep {
                now,
                delta,
                expires_at: ttl.filter(|_| !keep_permanent).map(|ttl| now.add_ttl(ttl)),
            };
            match self.try_incr(namespace, key, &step).await? {
                Attempt::Done(outcome) => return Ok(outcome),
                Attempt::Rejected(old) => {
                    let old_entry = old
                        .as_ref()
                        .map(|item| self.entry_of(item, now))
                        .transpose()?
                        .flatten();
                    let Some(_live) = old_entry else {
                        // Missing (deleted meanwhile) or expired: start a new counter,
                        // replacing the expired item only if it is still expired.
                        if let Some(outcome) =
                            self.restart_counter(namespace, key, &step, ttl).await?
                        {
                            return Ok(outcome);
                        }
                        continue;
                    };
                    let item = old.unwrap_or_default();
                    let current = match item.get(&self.layout.value_attribute) {
                        Some(AttributeValue::N(s)) => s.parse::<i64>().ok(),
                        _ => None,
                    };
                    let Some(current) = current else {
                        return Err(Error::NotACounter);
                    };
                    if current.checked_add(delta).is_none() {
                        return Err(Error::CounterOverflow);
                    }
                    if ttl.is_some() && !item.contains_key(&self.layout.expires_at_attribute) {
                        // A permanent counter: it keeps having no expiry.
                        keep_permanent = true;
                    }
                }
            }
        }
        Err(Error::Backend {
            message: format!("incr gave up after {MAX_INCR_ROUNDS} rounds of contention"),
            source: None,
        })
    }

    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        validate::list(&self.capabilities, namespace, prefix, limit)?;
        let mut state = match cursor {
            Some(c) => ListState::decode(c)?,
            None => ListState::default(),
        };
        let take = state.pending.len().min(limit);
        let mut page: Vec<String> = state.pending.drain(..take).collect();
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

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }
}

struct IncrStep {
    now: Timestamp,
    delta: i64,
    expires_at: Option<Timestamp>,
}

enum Attempt {
    Done(IncrOutcome),
    /// The condition failed; the item as it was (absent if there was none).
    Rejected(Option<HashMap<String, AttributeValue>>),
}

type Items = Vec<HashMap<String, AttributeValue>>;
type LastKey = Option<HashMap<String, AttributeValue>>;

impl DynamoStore {
    /// One `UpdateItem`: add to a live counter (creating it, with its expiry, if absent),
    /// refusing expired items, non-numbers, overflow, and giving a TTL to an existing
    /// counter without one.
    async fn try_incr(&self, namespace: &str, key: &str, step: &IncrStep) -> Result<Attempt> {
        let mut update = String::from("SET #v = if_not_exists(#v, :zero) + :d, #ver = :ver");
        let mut condition =
            format!("{LIVE} AND (attribute_not_exists(#v) OR (attribute_type(#v, :ntype)");
        match step.delta.signum() {
            1 => condition.push_str(" AND #v <= :lim))"),
            -1 => condition.push_str(" AND #v >= :lim))"),
            _ => condition.push_str("))"),
        }
        let mut names = vec!["#v", "#ver", "#exp"];
        let mut request = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(self.layout.item_key(namespace, key)))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":d", n(step.delta))
            .expression_attribute_values(":ver", n(new_version()))
            .expression_attribute_values(":now", n(step.now.as_millis()))
            .expression_attribute_values(":ntype", AttributeValue::S("N".into()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match step.delta.signum() {
            1 => request = request.expression_attribute_values(":lim", n(i64::MAX - step.delta)),
            -1 => request = request.expression_attribute_values(":lim", n(i64::MIN - step.delta)),
            _ => {}
        }
        if let Some(at) = step.expires_at {
            update
                .push_str(", #exp = if_not_exists(#exp, :exp), #ttl = if_not_exists(#ttl, :ttls)");
            // The expiry is set only by the call that creates the counter.
            condition.push_str(" AND (attribute_not_exists(#v) OR attribute_exists(#exp))");
            names.push("#ttl");
            request = request
                .expression_attribute_values(":exp", n(at.as_millis()))
                .expression_attribute_values(":ttls", n(at.as_millis().div_ceil(1000)));
        }
        let sent = request
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(self.names(&names)))
            .send()
            .await;
        match sent {
            Ok(out) => {
                let item = out.attributes().cloned().unwrap_or_default();
                let value = number::<i64>(item.get(&self.layout.value_attribute))?
                    .ok_or_else(|| malformed("incr returned no value"))?;
                let expires_at =
                    number::<u64>(item.get(&self.layout.expires_at_attribute))?.map(Timestamp::from_millis);
                Ok(Attempt::Done(IncrOutcome { value, expires_at }))
            }
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c)) => {
                    Ok(Attempt::Rejected(c.item().cloned()))
                }
                _ => Err(self.err(e)),
            },
        }
    }

    /// Replaces an absent or still-expired item with a new counter; `None` if someone
    /// else got there first (the caller tries again).
    async fn restart_counter(
        &self,
        namespace: &str,
        key: &str,
        step: &IncrStep,
        ttl: Option<Duration>,
    ) -> Result<Option<IncrOutcome>> {
        let expires_at = ttl.map(|ttl| step.now.add_ttl(ttl));
        let item = self.new_item(namespace, key, n(step.delta), new_version(), expires_at);
        let sent = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
            .set_expression_attribute_names(Some(self.names(&["#pk", "#exp"])))
            .expression_attribute_values(":now", n(step.now.as_millis()))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Some(IncrOutcome {
                value: step.delta,
                expires_at,
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.err(e)),
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
        Cursor::new(URL_SAFE_NO_PAD.encode(text))
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
    fn canonical_decimals_are_numbers_and_the_rest_binary() {
        assert_eq!(
            value_attribute(&Bytes::from("41")),
            AttributeValue::N("41".into())
        );
        assert_eq!(
            value_attribute(&Bytes::from("-9")),
            AttributeValue::N("-9".into())
        );
        for raw in ["07", "+1", "", "1.0", "abc", "99999999999999999999"] {
            assert!(
                matches!(value_attribute(&Bytes::from(raw)), AttributeValue::B(_)),
                "{raw}"
            );
        }
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let state = ListState {
            partition: Some("5:a:b:k".into()),
            sort: None,
            finished: false,
            pending: vec!["x".into(), "y z".into()],
        };
        assert_eq!(ListState::decode(&state.encode()).unwrap(), state);
        assert!(ListState::decode(&Cursor::new("nope")).is_err());
    }
}
