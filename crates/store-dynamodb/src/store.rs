//! The contract mapped onto DynamoDB.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use bytes::Bytes;
use store_core::raw::validate;
use store_core::{
    Advance, Advanced, Capabilities, Condition, Cursor, DeleteCondition, Entry, Error, IncrOutcome,
    ListPage, Result, SetOptions, SetOutcome, Store, Timestamp,
};

use crate::error::from_sdk;
use crate::layout::TableLayout;

/// Largest page one `list` call returns.
pub const MAX_LIST_LIMIT: usize = 1000;

/// What a store is built from (filled by [`crate::DynamoStoreBuilder`]).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) table: String,
    pub(crate) layout: TableLayout,
    pub(crate) consistent_read: bool,
}

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
    pub(crate) client: Client,
    pub(crate) table: Arc<str>,
    pub(crate) layout: Arc<TableLayout>,
    pub(crate) consistent_read: bool,
    pub(crate) capabilities: Capabilities,
}

impl DynamoStore {
    pub(crate) fn new(client: Client, b: Settings) -> Self {
        let mut capabilities = Capabilities::default();
        capabilities.atomic_incr = true;
        capabilities.atomic_advance = true;
        capabilities.max_advance_value = store_core::raw::MAX_ADVANCE_VALUE;
        capabilities.compare_and_set = true;
        capabilities.returns_current_on_reject = true;
        capabilities.sorted_list = b.layout.lists_by_query();
        capabilities.strongly_consistent_reads = b.consistent_read;
        capabilities.max_key_len = b.layout.max_key_len();
        capabilities.max_namespace_len = validate::MAX_NAMESPACE_LEN;
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

    pub(crate) fn err<E, R>(&self, e: aws_sdk_dynamodb::error::SdkError<E, R>) -> Error
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
    pub(crate) fn entry_of(
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
            version: store_core::raw::version(version),
            expires_at,
        }))
    }

    /// A `GetItem` of one entry, with the store's read consistency.
    pub(crate) fn get_item(
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
    pub(crate) fn names(&self, which: &[&str]) -> HashMap<String, String> {
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
    pub(crate) fn new_item(
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

pub(crate) fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

pub(crate) fn malformed(what: &str) -> Error {
    Error::Backend {
        message: format!("malformed item in the table: {what}"),
        source: None,
    }
}

pub(crate) fn number<T: std::str::FromStr>(value: Option<&AttributeValue>) -> Result<Option<T>> {
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
pub(crate) fn value_attribute(value: &Bytes) -> AttributeValue {
    let canonical = std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse::<i64>().ok().filter(|n| n.to_string() == s));
    match canonical {
        Some(number) => n(number),
        None => AttributeValue::B(Blob::new(value.to_vec())),
    }
}

pub(crate) fn new_version() -> u64 {
    fastrand::u64(1..)
}

pub(crate) const LIVE: &str = "(attribute_not_exists(#exp) OR #exp > :now)";

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
                .expression_attribute_values(":expected", n(store_core::raw::version_number(v))),
        };
        match request.send().await {
            Ok(_) => Ok(SetOutcome::Written(store_core::raw::version(version))),
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
        // Both deletes carry their condition, so DynamoDB decides "was it there" in
        // the write itself: an unconditional `DeleteItem` with `ALL_OLD` let two
        // concurrent deletes both report the item (seen on DynamoDB Local by the
        // linearizability histories). An expired item is left to DynamoDB's TTL.
        let sent = match condition {
            DeleteCondition::Always => {
                request
                    .condition_expression(format!("attribute_exists(#pk) AND {LIVE}"))
                    .set_expression_attribute_names(Some(self.names(&["#pk", "#exp"])))
                    .expression_attribute_values(":now", n(now.as_millis()))
                    .send()
                    .await
            }
            DeleteCondition::IfVersion(v) => {
                request
                    .condition_expression(format!("#ver = :expected AND {LIVE}"))
                    .set_expression_attribute_names(Some(self.names(&["#ver", "#exp"])))
                    .expression_attribute_values(":now", n(now.as_millis()))
                    .expression_attribute_values(":expected", n(store_core::raw::version_number(v)))
                    .send()
                    .await
            }
        };
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

    async fn incr(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        self.incr_counter(namespace, key, delta, ttl).await
    }

    /// One conditional `UpdateItem` when the value is ahead of the floor or the advance
    /// is refused, two when it is behind (see the `advance` module); the clock floor is
    /// this process's clock.
    async fn advance(&self, namespace: &str, key: &str, advance: Advance) -> Result<Advanced> {
        self.advance_value(namespace, key, advance).await
    }

    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        self.list_page(namespace, prefix, cursor, limit).await
    }

    /// Walks like `list` (a `Query` in composite layouts, a `Scan` otherwise) and deletes
    /// each page's keys with `BatchWriteItem`, 25 per request.
    async fn clear(&self, namespace: &str, prefix: &str) -> Result<u64> {
        self.clear_keys(namespace, prefix).await
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
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
}
