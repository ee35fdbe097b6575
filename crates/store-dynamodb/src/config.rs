//! Options, the builder and URL parsing.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Intercept, Region, SharedInterceptor};
use store_core::{Error, Result};

use crate::{DynamoStore, TableLayout};

enum Source {
    /// The default AWS configuration chain, with the builder's region and endpoint.
    DefaultChain,
    SdkConfig(Box<aws_config::SdkConfig>),
    Client(Box<Client>),
}

/// Builds a [`DynamoStore`] from a URL, an `aws-config` `SdkConfig`, or an SDK client
/// you already have.
///
/// ```no_run
/// # async fn demo() -> store_core::Result<()> {
/// use store_dynamodb::{DynamoStore, TableLayout};
/// let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
/// let store = DynamoStore::from_sdk_config(&sdk, "fleetstate")
///     .layout(TableLayout::composite("pk", "sk"))
///     .build()
///     .await?;
/// # let _ = store; Ok(()) }
/// ```
///
/// URL form: `dynamodb://<table>?region=..&endpoint=..&layout=simple|composite&
/// partition_key=..&sort_key=..&static_partition=..&consistent_read=true|false&
/// timeout_ms=..&sdk_retries=<attempts>`. Credentials come from the default AWS chain
/// (environment, profile, SSO, process, IMDS...); an `endpoint` on a loopback host uses
/// dummy ones unless `AWS_ACCESS_KEY_ID`, `AWS_PROFILE` or a web identity is configured,
/// as DynamoDB Local accepts any.
pub struct DynamoStoreBuilder {
    source: Source,
    pub(crate) table: String,
    pub(crate) layout: TableLayout,
    pub(crate) consistent_read: bool,
    timeout: Duration,
    sdk_retry: RetryConfig,
    endpoint: Option<String>,
    region: Option<String>,
    interceptors: Vec<SharedInterceptor>,
}

impl std::fmt::Debug for DynamoStoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStoreBuilder")
            .field("table", &self.table)
            .field("layout", &self.layout)
            .field("consistent_read", &self.consistent_read)
            .field("timeout", &self.timeout)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl DynamoStoreBuilder {
    fn with_source(source: Source, table: String) -> Self {
        DynamoStoreBuilder {
            source,
            table,
            layout: TableLayout::default(),
            consistent_read: true,
            timeout: Duration::from_secs(3),
            sdk_retry: RetryConfig::disabled(),
            endpoint: None,
            region: None,
            interceptors: Vec::new(),
        }
    }

    pub(crate) fn from_url(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("dynamodb://")
            .ok_or_else(|| Error::Misconfigured(format!("`{url}` is not a dynamodb:// URL")))?;
        let (table, query) = rest.split_once('?').unwrap_or((rest, ""));
        let table = table.trim_end_matches('/');
        let mut b = Self::with_source(Source::DefaultChain, table.to_owned());
        let mut layout_kind = "simple".to_owned();
        let (mut pk, mut sk, mut static_pk) = (None, None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = value.to_owned();
            let bad = |what: &str| {
                Error::Misconfigured(format!(
                    "dynamodb:// option `{name}` must be {what}, got `{value}`"
                ))
            };
            match name {
                "region" => b.region = Some(value.clone()),
                "endpoint" => b.endpoint = Some(value.clone()),
                "layout" => layout_kind = value.clone(),
                "partition_key" => pk = Some(value.clone()),
                "sort_key" => sk = Some(value.clone()),
                "static_partition" => static_pk = Some(value.clone()),
                "consistent_read" => {
                    b.consistent_read = value.parse().map_err(|_| bad("true or false"))?;
                }
                "timeout_ms" => {
                    b.timeout =
                        Duration::from_millis(value.parse().map_err(|_| bad("a whole number"))?);
                }
                "sdk_retries" => {
                    let attempts: u32 = value.parse().map_err(|_| bad("a whole number"))?;
                    b.sdk_retry = RetryConfig::standard().with_max_attempts(attempts.max(1));
                }
                other => {
                    return Err(Error::Misconfigured(format!(
                        "unknown dynamodb:// option `{other}` (known: region, endpoint, layout, \
                         partition_key, sort_key, static_partition, consistent_read, timeout_ms, \
                         sdk_retries)"
                    )));
                }
            }
        }
        let mut layout = match layout_kind.as_str() {
            "simple" => TableLayout::default(),
            "composite" => TableLayout::composite("pk", sk.clone().unwrap_or_else(|| "sk".into())),
            other => {
                return Err(Error::Misconfigured(format!(
                    "dynamodb:// option `layout` must be `simple` or `composite`, got `{other}`"
                )));
            }
        };
        if let Some(pk) = pk {
            layout.partition_key = pk;
        }
        if let Some(value) = static_pk {
            layout = layout.with_static_partition(value);
        }
        b.layout = layout;
        Ok(b)
    }

    pub(crate) fn from_sdk_config(config: &aws_config::SdkConfig, table: &str) -> Self {
        Self::with_source(
            Source::SdkConfig(Box::new(config.clone())),
            table.to_owned(),
        )
    }

    pub(crate) fn from_client(client: Client, table: &str) -> Self {
        Self::with_source(Source::Client(Box::new(client)), table.to_owned())
    }

    /// The table layout (default: [`TableLayout::default`], a `pk`-only table).
    pub fn layout(mut self, layout: TableLayout) -> Self {
        self.layout = layout;
        self
    }

    /// Strongly consistent `GetItem` and `Query` (default `true`). Eventually
    /// consistent reads cost half and may miss a write that just completed.
    pub fn consistent_read(mut self, consistent: bool) -> Self {
        self.consistent_read = consistent;
        self
    }

    /// Longest wait for one request, connecting included (default 3 s). Applies to
    /// clients this builder creates.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The SDK's own retries for clients this builder creates. Default: disabled, so
    /// that retrying stays with `store_core::layer::RetryLayer`, which never sends again
    /// a conditional write or `incr` that may have been applied (the SDK's retry would,
    /// and a retried `IfAbsent` that had landed reports its own write as a conflict).
    pub fn sdk_retry(mut self, retry: RetryConfig) -> Self {
        self.sdk_retry = retry;
        self
    }

    /// Overrides the endpoint (DynamoDB Local: `http://127.0.0.1:8000`).
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Overrides the region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Adds an SDK interceptor (for example [`crate::RequestCounter`], or your own
    /// metrics) to clients this builder creates.
    pub fn interceptor(mut self, interceptor: impl Intercept + 'static) -> Self {
        self.interceptors.push(SharedInterceptor::new(interceptor));
        self
    }

    /// Checks the table name and layout and builds the store. Nothing is sent: a
    /// missing table shows on the first operation as `Misconfigured` naming the fix.
    pub async fn build(self) -> Result<DynamoStore> {
        validate_table_name(&self.table)?;
        self.layout.validate()?;
        let client = match &self.source {
            Source::Client(client) => (**client).clone(),
            Source::SdkConfig(config) => Client::from_conf(self.sdk_conf((&**config).into())),
            Source::DefaultChain => {
                let loopback = self.endpoint.as_deref().is_some_and(is_loopback);
                let mut loader = aws_config::defaults(BehaviorVersion::latest());
                if let Some(region) = &self.region {
                    loader = loader.region(Region::new(region.clone()));
                } else if loopback {
                    loader = loader.region(Region::new("us-east-1"));
                }
                // DynamoDB Local accepts any credentials; without configured ones the
                // default chain would end at the EC2 metadata service and fail.
                let configured = [
                    "AWS_ACCESS_KEY_ID",
                    "AWS_PROFILE",
                    "AWS_WEB_IDENTITY_TOKEN_FILE",
                ]
                .iter()
                .any(|var| std::env::var_os(var).is_some());
                if loopback && !configured {
                    loader = loader.credentials_provider(Credentials::new(
                        "local",
                        "local",
                        None,
                        None,
                        "fleetstate-local",
                    ));
                }
                let config = loader.load().await;
                Client::from_conf(self.sdk_conf((&config).into()))
            }
        };
        Ok(DynamoStore::new(client, self))
    }

    fn sdk_conf(&self, builder: aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::Config {
        let mut builder = builder.retry_config(self.sdk_retry.clone()).timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(self.timeout)
                .connect_timeout(self.timeout)
                .build(),
        );
        if let Some(endpoint) = &self.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        if let Some(region) = &self.region {
            builder = builder.region(Region::new(region.clone()));
        }
        for interceptor in &self.interceptors {
            builder.push_interceptor(interceptor.clone());
        }
        builder.build()
    }
}

fn is_loopback(endpoint: &str) -> bool {
    let host = endpoint
        .split("://")
        .nth(1)
        .unwrap_or(endpoint)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    matches!(host, "localhost" | "127.0.0.1" | "[::1]") || host.starts_with("127.")
}

/// DynamoDB's table name rules: 3 to 255 of `[a-zA-Z0-9_.-]`.
fn validate_table_name(table: &str) -> Result<()> {
    let valid = (3..=255).contains(&table.len())
        && table
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(Error::Misconfigured(format!(
            "`{table}` is not a valid DynamoDB table name: 3 to 255 characters of a-z, A-Z, 0-9, \
             `_`, `-` and `.`"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_options_build_the_layout() {
        let b = DynamoStoreBuilder::from_url(
            "dynamodb://fleet?region=eu-west-1&endpoint=http://127.0.0.1:8000&layout=composite&sort_key=id&consistent_read=false",
        )
        .unwrap();
        assert_eq!(b.table, "fleet");
        assert_eq!(b.layout, TableLayout::composite("pk", "id"));
        assert!(!b.consistent_read);
        assert_eq!(b.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, needle) in [
            (
                "dynamodb://t?layout=wide",
                "`layout` must be `simple` or `composite`",
            ),
            (
                "dynamodb://t?colour=red",
                "unknown dynamodb:// option `colour`",
            ),
            (
                "dynamodb://t?timeout_ms=soon",
                "`timeout_ms` must be a whole number",
            ),
        ] {
            let err = DynamoStoreBuilder::from_url(url).map(drop).unwrap_err();
            assert!(err.to_string().contains(needle), "{url}: {err}");
        }
        assert!(validate_table_name("ab").is_err());
        assert!(validate_table_name("my table").is_err());
        assert!(validate_table_name("fleet-state_1.x").is_ok());
    }

    #[test]
    fn loopback_endpoints_are_recognised() {
        assert!(is_loopback("http://127.0.0.1:8000"));
        assert!(is_loopback("http://localhost:8000/"));
        assert!(!is_loopback("https://dynamodb.eu-west-1.amazonaws.com"));
    }
}
