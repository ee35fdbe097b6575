//! Options, the builder and URL parsing.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Intercept, Region, SharedInterceptor};
use store_core::raw::StoreUrl;
use store_core::{Error, Result, StoreBuilder};

use crate::TableLayout;
use crate::store::{DynamoStore, Settings};

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
/// use store_dynamodb::{DynamoStoreBuilder, TableLayout};
/// let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
/// let store = DynamoStoreBuilder::from_sdk_config(&sdk, "fleetstate")
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
    settings: Settings,
    timeout: Duration,
    sdk_retry: RetryConfig,
    endpoint: Option<String>,
    region: Option<String>,
    interceptors: Vec<SharedInterceptor>,
}

impl std::fmt::Debug for DynamoStoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStoreBuilder")
            .field("settings", &self.settings)
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
            settings: Settings {
                table,
                layout: TableLayout::default(),
                consistent_read: true,
            },
            timeout: DEFAULT_TIMEOUT,
            sdk_retry: RetryConfig::disabled(),
            endpoint: None,
            region: None,
            interceptors: Vec::new(),
        }
    }

    /// Reads a `dynamodb://<table>?...` URL (options above). Nothing is sent until
    /// the first operation.
    ///
    /// Errors: `Misconfigured` for a malformed URL, an invalid table name or value, or
    /// an unknown option.
    pub fn from_url(url: &str) -> Result<Self> {
        let mut url = StoreUrl::parse(url, Self::SCHEMES)?;
        let table = url.target().trim_end_matches('/').to_owned();
        validate_table_name(&table)?;
        let mut b = Self::with_source(Source::DefaultChain, table);
        b.region = url.take("region")?;
        b.endpoint = url.take("endpoint")?;
        let composite = url.take_choice("layout", &["simple", "composite"])? == Some("composite");
        let partition_key = url.take::<String>("partition_key")?;
        let sort_key = url.take::<String>("sort_key")?;
        let static_partition = url.take::<String>("static_partition")?;
        if let Some(consistent) = url.take("consistent_read")? {
            b.settings.consistent_read = consistent;
        }
        if let Some(ms) = url.take::<u64>("timeout_ms")? {
            b.timeout = Duration::from_millis(ms);
        }
        if let Some(attempts) = url.take::<u32>("sdk_retries")? {
            b.sdk_retry = RetryConfig::standard().with_max_attempts(attempts.max(1));
        }
        url.finish(&OPTIONS)?;
        let mut layout = if composite {
            TableLayout::composite("pk", sort_key.unwrap_or_else(|| "sk".into()))
        } else if sort_key.is_some() {
            return Err(Error::Misconfigured(
                "dynamodb:// option `sort_key` needs `layout=composite`".into(),
            ));
        } else {
            TableLayout::default()
        };
        if let Some(pk) = partition_key {
            layout.partition_key = pk;
        }
        if let Some(value) = static_partition {
            layout = layout.with_static_partition(value);
        }
        b.settings.layout = layout;
        Ok(b)
    }

    /// The table the store will use.
    pub fn table_name(&self) -> &str {
        &self.settings.table
    }

    /// The layout the store will expect (from the URL or [`Self::layout`]).
    pub fn table_layout(&self) -> &TableLayout {
        &self.settings.layout
    }

    /// A builder from an `aws-config` `SdkConfig`.
    pub fn from_sdk_config(config: &aws_config::SdkConfig, table: &str) -> Self {
        Self::with_source(
            Source::SdkConfig(Box::new(config.clone())),
            table.to_owned(),
        )
    }

    /// A builder around an SDK client you already have: its endpoint, region, retry
    /// and timeout settings stay yours, so [`endpoint`](Self::endpoint),
    /// [`region`](Self::region), [`timeout`](Self::timeout),
    /// [`sdk_retry`](Self::sdk_retry) and [`interceptor`](Self::interceptor) are refused
    /// by [`build`](Self::build) (configure the client instead).
    pub fn from_client(client: Client, table: &str) -> Self {
        Self::with_source(Source::Client(Box::new(client)), table.to_owned())
    }

    /// The table layout (default: [`TableLayout::default`], a `pk`-only table).
    pub fn layout(mut self, layout: TableLayout) -> Self {
        self.settings.layout = layout;
        self
    }

    /// Strongly consistent `GetItem` and `Query` (default `true`). Eventually
    /// consistent reads cost half and may miss a write that just completed.
    pub fn consistent_read(mut self, consistent: bool) -> Self {
        self.settings.consistent_read = consistent;
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

    /// Adds an SDK interceptor (for example [`crate::testing::RequestCounter`] (feature `testing`), or your own
    /// metrics) to clients this builder creates.
    pub fn interceptor(mut self, interceptor: impl Intercept + 'static) -> Self {
        self.interceptors.push(SharedInterceptor::new(interceptor));
        self
    }

    /// Checks the table name and layout and builds the store. Nothing is sent: a
    /// missing table shows on the first operation as `Misconfigured` naming the fix.
    ///
    /// Errors: `Misconfigured` for an invalid table name or layout, and for client
    /// settings given with [`from_client`](Self::from_client), whose client they cannot
    /// change.
    pub async fn build(self) -> Result<DynamoStore> {
        validate_table_name(&self.settings.table)?;
        self.settings.layout.validate()?;
        let client = match &self.source {
            Source::Client(client) => {
                self.refuse_client_settings()?;
                (**client).clone()
            }
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
        Ok(DynamoStore::new(client, self.settings))
    }

    /// Settings for a client this builder creates, given with a client it did not.
    fn refuse_client_settings(&self) -> Result<()> {
        let given = [
            ("endpoint", self.endpoint.is_some()),
            ("region", self.region.is_some()),
            ("timeout", self.timeout != DEFAULT_TIMEOUT),
            ("sdk_retry", self.sdk_retry.max_attempts() != 1),
            ("interceptor", !self.interceptors.is_empty()),
        ];
        match given.iter().find(|(_, set)| *set) {
            None => Ok(()),
            Some((name, _)) => Err(Error::Misconfigured(format!(
                "`{name}` applies to clients the builder creates; a store built from_client \
                 uses that client as it is: set `{name}` on the client's config instead"
            ))),
        }
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

/// Longest wait for one request by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// The options a `dynamodb://` URL takes.
const OPTIONS: [&str; 9] = [
    "region",
    "endpoint",
    "layout",
    "partition_key",
    "sort_key",
    "static_partition",
    "consistent_read",
    "timeout_ms",
    "sdk_retries",
];

impl StoreBuilder for DynamoStoreBuilder {
    type Store = DynamoStore;
    const SCHEMES: &'static [&'static str] = &["dynamodb"];

    fn from_url(url: &str) -> Result<Self> {
        DynamoStoreBuilder::from_url(url)
    }

    async fn build(self) -> Result<DynamoStore> {
        DynamoStoreBuilder::build(self).await
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
        assert_eq!(b.settings.table, "fleet");
        assert_eq!(b.settings.layout, TableLayout::composite("pk", "id"));
        assert!(!b.settings.consistent_read);
        assert_eq!(b.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, needle) in [
            (
                "dynamodb://tab?layout=wide",
                "`layout` must be one of `simple`, `composite`, got `wide`",
            ),
            (
                "dynamodb://tab?colour=red",
                "unknown dynamodb:// option `colour` (valid options: region, endpoint",
            ),
            (
                "dynamodb://tab?timeout_ms=soon",
                "`timeout_ms` must be a whole number",
            ),
            ("dynamodb://tab?sort_key=id", "needs `layout=composite`"),
            ("dynamodb://tab?region=%FF", "not percent-encoded UTF-8"),
            ("dynamodb://ab", "not a valid DynamoDB table name"),
            ("dynamodb:tab", "is not a valid store URL"),
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
