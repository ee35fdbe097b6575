//! The table layout: which attributes hold what, so the store fits an existing table.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use store_core::raw::validate as keys;
use store_core::{Error, Result};

/// What the partition key holds when the table also has a sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartitionValue {
    /// The namespace: each namespace is its own partition, `list` is a `Query` of it.
    Namespace,
    /// One fixed value for every item (Powertools' "static partition key" layout), the
    /// sort key then holds namespace and key. Every item lands in one partition: a hot
    /// partition under load, offered to fit tables that already use it.
    Static(String),
}

/// Attribute names and key shape of the table.
///
/// ```
/// use store_dynamodb::TableLayout;
/// let simple = TableLayout::default();                 // pk only, list = Scan
/// let composite = TableLayout::composite("pk", "sk");  // namespace in pk, key in sk
/// assert!(simple.validate().is_ok() && composite.validate().is_ok());
/// assert!(TableLayout::composite("id", "id").validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableLayout {
    /// Partition key attribute (string). Default `pk`.
    pub partition_key: String,
    /// Sort key attribute (string), if the table has one. Default none.
    pub sort_key: Option<String>,
    /// With a sort key: what the partition key holds. Default the namespace.
    pub partition_value: PartitionValue,
    /// Expiry in epoch **seconds**, for DynamoDB's native TTL (which deletes up to 48 h
    /// late). Default `ttl`.
    pub ttl_attribute: String,
    /// Expiry in epoch **milliseconds**, filtered on every read so an expired item is
    /// never returned. Default `expires_at_ms`.
    pub expires_at_attribute: String,
    /// The value. Default `v`.
    pub value_attribute: String,
    /// The version. Default `ver`.
    pub version_attribute: String,
}

impl Default for TableLayout {
    fn default() -> Self {
        TableLayout {
            partition_key: "pk".into(),
            sort_key: None,
            partition_value: PartitionValue::Namespace,
            ttl_attribute: "ttl".into(),
            expires_at_attribute: "expires_at_ms".into(),
            value_attribute: "v".into(),
            version_attribute: "ver".into(),
        }
    }
}

/// DynamoDB's item size limit.
pub const MAX_ITEM_SIZE: usize = 400 * 1024;
/// DynamoDB's partition key limit, in bytes.
const MAX_PARTITION_KEY: usize = 2048;
/// DynamoDB's sort key limit, in bytes.
const MAX_SORT_KEY: usize = 1024;

impl TableLayout {
    /// A composite-key layout with the namespace as partition key.
    pub fn composite(partition_key: impl Into<String>, sort_key: impl Into<String>) -> Self {
        TableLayout {
            partition_key: partition_key.into(),
            sort_key: Some(sort_key.into()),
            ..TableLayout::default()
        }
    }

    /// A composite-key layout with one fixed partition value (see
    /// [`PartitionValue::Static`]).
    pub fn with_static_partition(mut self, value: impl Into<String>) -> Self {
        self.partition_value = PartitionValue::Static(value.into());
        self
    }

    /// Renames the TTL (seconds) attribute.
    pub fn ttl_attribute(mut self, name: impl Into<String>) -> Self {
        self.ttl_attribute = name.into();
        self
    }

    /// Renames the millisecond expiry attribute.
    pub fn expires_at_attribute(mut self, name: impl Into<String>) -> Self {
        self.expires_at_attribute = name.into();
        self
    }

    /// Renames the value attribute.
    pub fn value_attribute(mut self, name: impl Into<String>) -> Self {
        self.value_attribute = name.into();
        self
    }

    /// Renames the version attribute.
    pub fn version_attribute(mut self, name: impl Into<String>) -> Self {
        self.version_attribute = name.into();
        self
    }

    fn names(&self) -> Vec<(&'static str, &str)> {
        let mut names = vec![
            ("partition key", self.partition_key.as_str()),
            ("ttl", self.ttl_attribute.as_str()),
            ("expiry", self.expires_at_attribute.as_str()),
            ("value", self.value_attribute.as_str()),
            ("version", self.version_attribute.as_str()),
        ];
        if let Some(sk) = &self.sort_key {
            names.push(("sort key", sk.as_str()));
        }
        names
    }

    /// Checks the layout: names non-empty and distinct, a static partition value only
    /// with a sort key and non-empty.
    pub fn validate(&self) -> Result<()> {
        let names = self.names();
        for (role, name) in &names {
            if name.is_empty() || name.len() > 255 {
                return Err(Error::Misconfigured(format!(
                    "table layout: the {role} attribute name must be 1 to 255 bytes, got {name:?}"
                )));
            }
        }
        for (i, (role, name)) in names.iter().enumerate() {
            if let Some((other, _)) = names[i + 1..].iter().find(|(_, n)| n == name) {
                return Err(Error::Misconfigured(format!(
                    "table layout: the {role} and the {other} attributes are both named `{name}`; \
                     every role needs its own attribute"
                )));
            }
        }
        if let PartitionValue::Static(value) = &self.partition_value {
            if self.sort_key.is_none() {
                return Err(Error::Misconfigured(
                    "table layout: a static partition value needs a sort key to hold the namespace \
                     and key"
                        .into(),
                ));
            }
            if value.is_empty() {
                return Err(Error::Misconfigured(
                    "table layout: the static partition value must not be empty".into(),
                ));
            }
        }
        Ok(())
    }

    /// Longest user key this layout can store, given DynamoDB's key size limits.
    pub(crate) fn max_key_len(&self) -> usize {
        let encoded_namespace = keys::MAX_NAMESPACE_LEN + 5;
        match (&self.sort_key, &self.partition_value) {
            (None, _) => (MAX_PARTITION_KEY - encoded_namespace).min(keys::MAX_KEY_LEN),
            (Some(_), PartitionValue::Namespace) => MAX_SORT_KEY.min(keys::MAX_KEY_LEN),
            (Some(_), PartitionValue::Static(_)) => MAX_SORT_KEY - encoded_namespace,
        }
    }

    /// Largest value that always fits the 400 KB item limit, whatever the key: the item
    /// limit less the attribute names, the longest keys and the bookkeeping numbers.
    pub(crate) fn max_value_size(&self) -> usize {
        let names: usize = self.names().iter().map(|(_, n)| n.len()).sum();
        let keys = MAX_PARTITION_KEY + MAX_SORT_KEY;
        let numbers = 3 * 21; // version, expiry ms, ttl s: at most 21 bytes each
        MAX_ITEM_SIZE - names - keys - numbers
    }

    /// `true` when `list` can be a sorted `Query` rather than a `Scan`.
    pub fn lists_by_query(&self) -> bool {
        self.sort_key.is_some()
    }

    /// The key attributes of `(namespace, key)`.
    pub(crate) fn item_key(&self, namespace: &str, key: &str) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::with_capacity(2);
        match (&self.sort_key, &self.partition_value) {
            (None, _) => {
                item.insert(self.partition_key.clone(), s(encode(namespace, key)));
            }
            (Some(sk), PartitionValue::Namespace) => {
                item.insert(self.partition_key.clone(), s(namespace.to_owned()));
                item.insert(sk.clone(), s(key.to_owned()));
            }
            (Some(sk), PartitionValue::Static(value)) => {
                item.insert(self.partition_key.clone(), s(value.clone()));
                item.insert(sk.clone(), s(encode(namespace, key)));
            }
        }
        item
    }

    /// The string every encoded key of `namespace` starts with (`<len>:<ns>:`).
    pub(crate) fn namespace_head(namespace: &str) -> String {
        format!("{}:{namespace}:", namespace.len())
    }

    /// The user's key from an item's key attributes.
    pub(crate) fn key_of(
        &self,
        namespace: &str,
        item: &HashMap<String, AttributeValue>,
    ) -> Option<String> {
        let head = Self::namespace_head(namespace);
        match (&self.sort_key, &self.partition_value) {
            (None, _) => item
                .get(&self.partition_key)?
                .as_s()
                .ok()?
                .strip_prefix(&head)
                .map(str::to_owned),
            (Some(sk), PartitionValue::Namespace) => item.get(sk)?.as_s().ok().cloned(),
            (Some(sk), PartitionValue::Static(_)) => item
                .get(sk)?
                .as_s()
                .ok()?
                .strip_prefix(&head)
                .map(str::to_owned),
        }
    }

    /// The table definition this layout expects (for IaC, tests and quick starts).
    pub fn table_schema(&self) -> TableSchema {
        let mut attributes = vec![(self.partition_key.clone(), "S")];
        let mut key_schema = vec![(self.partition_key.clone(), "HASH")];
        if let Some(sk) = &self.sort_key {
            attributes.push((sk.clone(), "S"));
            key_schema.push((sk.clone(), "RANGE"));
        }
        TableSchema {
            attribute_definitions: attributes,
            key_schema,
            ttl_attribute: self.ttl_attribute.clone(),
            billing_mode: "PAY_PER_REQUEST",
        }
    }
}

/// Injective: the namespace's byte length ends where the namespace does.
fn encode(namespace: &str, key: &str) -> String {
    let mut out = TableLayout::namespace_head(namespace);
    out.push_str(key);
    out
}

fn s(value: String) -> AttributeValue {
    AttributeValue::S(value)
}

/// A table definition, like http-client-toolkit's `TABLE_SCHEMA`: what to declare in
/// CloudFormation, CDK or Terraform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    /// `(name, type)` of the key attributes (`S`: string).
    pub attribute_definitions: Vec<(String, &'static str)>,
    /// `(name, HASH | RANGE)`.
    pub key_schema: Vec<(String, &'static str)>,
    /// The attribute to enable DynamoDB TTL on.
    pub ttl_attribute: String,
    /// `PAY_PER_REQUEST`.
    pub billing_mode: &'static str,
}

impl TableSchema {
    /// The definition as CloudFormation-style JSON properties.
    ///
    /// ```
    /// let json = store_dynamodb::TableLayout::default().table_schema().to_json();
    /// assert!(json.contains(r#""KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}]"#));
    /// assert!(json.contains(r#""TimeToLiveSpecification":{"AttributeName":"ttl","Enabled":true}"#));
    /// ```
    pub fn to_json(&self) -> String {
        let defs: Vec<String> = self
            .attribute_definitions
            .iter()
            .map(|(n, t)| format!(r#"{{"AttributeName":"{n}","AttributeType":"{t}"}}"#))
            .collect();
        let keys: Vec<String> = self
            .key_schema
            .iter()
            .map(|(n, t)| format!(r#"{{"AttributeName":"{n}","KeyType":"{t}"}}"#))
            .collect();
        format!(
            r#"{{"AttributeDefinitions":[{}],"KeySchema":[{}],"BillingMode":"{}","TimeToLiveSpecification":{{"AttributeName":"{}","Enabled":true}}}}"#,
            defs.join(","),
            keys.join(","),
            self.billing_mode,
            self.ttl_attribute
        )
    }
}

/// Creates `table` for `layout` (on-demand billing) and enables TTL on its TTL
/// attribute. For tests and quick starts: the store never creates tables by itself.
/// An existing table is left as it is (`Ok(false)`); `Ok(true)` when created.
pub async fn create_table(client: &Client, table: &str, layout: &TableLayout) -> Result<bool> {
    layout.validate()?;
    let schema = layout.table_schema();
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest);
    for (name, _) in &schema.attribute_definitions {
        let definition = AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| Error::backend("building the table definition", e))?;
        request = request.attribute_definitions(definition);
    }
    for (name, kind) in &schema.key_schema {
        let key_type = if *kind == "HASH" {
            KeyType::Hash
        } else {
            KeyType::Range
        };
        let element = KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(|e| Error::backend("building the key schema", e))?;
        request = request.key_schema(element);
    }
    match request.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            return Ok(false);
        }
        Err(e) => return Err(crate::error::from_sdk(e, table)),
    }
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(&schema.ttl_attribute)
        .enabled(true)
        .build()
        .map_err(|e| Error::backend("building the TTL specification", e))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| crate::error::from_sdk(e, table))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_layouts_are_refused_with_the_reason() {
        let same = TableLayout::composite("pk", "pk").validate().unwrap_err();
        assert!(same.to_string().contains("both named `pk`"), "{same}");
        let empty = TableLayout::default()
            .value_attribute("")
            .validate()
            .unwrap_err();
        assert!(
            empty.to_string().contains("value attribute name"),
            "{empty}"
        );
        let static_without_sk = TableLayout::default()
            .with_static_partition("all")
            .validate()
            .unwrap_err();
        assert!(
            static_without_sk.to_string().contains("needs a sort key"),
            "{static_without_sk}"
        );
        let clash = TableLayout::default()
            .ttl_attribute("v")
            .validate()
            .unwrap_err();
        assert!(clash.to_string().contains("both named `v`"), "{clash}");
    }

    #[test]
    fn keys_are_injective_and_read_back() {
        let layout = TableLayout::default();
        let a = layout.item_key("a:b", "c");
        let b = layout.item_key("a", "b:c");
        assert_ne!(a, b);
        assert_eq!(layout.key_of("a:b", &a).as_deref(), Some("c"));
        let composite = TableLayout::composite("pk", "sk").with_static_partition("fs");
        let item = composite.item_key("ns", "k");
        assert_eq!(item["pk"].as_s().unwrap(), "fs");
        assert_eq!(composite.key_of("ns", &item).as_deref(), Some("k"));
    }

    #[test]
    fn the_largest_value_fits_the_item_limit_with_the_longest_keys() {
        let layout = TableLayout::default();
        let names = "pk".len() + "ttl".len() + "expires_at_ms".len() + "v".len() + "ver".len();
        let worst = layout.max_value_size() + 2048 + 1024 + 63 + names;
        assert!(worst <= MAX_ITEM_SIZE, "{worst}");
        assert!(layout.max_value_size() > 395_000);
    }
}
