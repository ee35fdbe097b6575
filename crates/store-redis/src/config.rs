//! Options, the builder, URL parsing and connecting.

use std::fmt;
use std::time::Duration;

use fred::clients::Client;
use fred::interfaces::ClientLike;
use fred::types::Builder;
use fred::types::config::{Config, ReconnectPolicy};
use store_core::{Delivery, Error, Result};

use crate::RedisStore;
use crate::error::from_fred;

/// Default largest value: 16 MiB (Redis itself accepts up to 512 MiB).
pub const DEFAULT_MAX_VALUE_SIZE: usize = 16 * 1024 * 1024;

enum Source {
    Url(String),
    Config(Box<Config>),
    Client(Box<Client>),
}

/// Builds a [`RedisStore`] from a URL, a fred `Config`, or a fred `Client` you already
/// have.
///
/// ```no_run
/// # async fn demo() -> store_core::Result<()> {
/// use std::time::Duration;
/// let store = store_redis::RedisStore::builder("redis://127.0.0.1:6379/0")
///     .key_prefix("billing:")
///     .command_timeout(Duration::from_millis(500))
///     .connect()
///     .await?;
/// # let _ = store; Ok(()) }
/// ```
///
/// URL forms: `redis://[user:password@]host:port[/db]`, `rediss://...` (TLS, feature
/// `tls`), `redis-cluster://host:port,host:port,...` (or fred's
/// `redis-cluster://host:port?node=host:port`). Query options read by fleetstate:
/// `key_prefix`, `command_timeout_ms`, `connect_timeout_ms`, `max_value_size`,
/// `scan_count`.
pub struct RedisStoreBuilder {
    source: Source,
    pub(crate) key_prefix: String,
    pub(crate) command_timeout: Duration,
    connect_timeout: Duration,
    reconnect_min: Duration,
    reconnect_max: Duration,
    reconnect_jitter: Duration,
    pub(crate) max_value_size: usize,
    pub(crate) scan_count: u32,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Url(url) => redact(url),
            Source::Config(_) => "<fred Config>".to_owned(),
            Source::Client(_) => "<fred Client>".to_owned(),
        };
        f.debug_struct("RedisStoreBuilder")
            .field("source", &source)
            .field("key_prefix", &self.key_prefix)
            .field("command_timeout", &self.command_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_value_size", &self.max_value_size)
            .finish_non_exhaustive()
    }
}

/// The URL with any password replaced, for logs and errors.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{user}:***@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl RedisStoreBuilder {
    fn with_source(source: Source) -> Self {
        RedisStoreBuilder {
            source,
            key_prefix: String::new(),
            command_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(2),
            reconnect_jitter: Duration::from_millis(100),
            max_value_size: DEFAULT_MAX_VALUE_SIZE,
            scan_count: 256,
        }
    }

    pub(crate) fn from_url(url: impl Into<String>) -> Self {
        Self::with_source(Source::Url(url.into()))
    }

    pub(crate) fn from_config(config: Config) -> Self {
        Self::with_source(Source::Config(Box::new(config)))
    }

    pub(crate) fn from_client(client: Client) -> Self {
        Self::with_source(Source::Client(Box::new(client)))
    }

    /// Prefix of every Redis key this store writes, so one Redis can be shared.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Longest wait for any one command (default 2 s). A dead server is reported as
    /// `Unavailable` within this bound, never a hang.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Longest wait to establish the first connection (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Reconnect backoff: exponential from `min` to `max`, plus up to `jitter` of random
    /// delay (defaults 50 ms, 2 s, 100 ms). Reconnection never stops on its own.
    pub fn reconnect(mut self, min: Duration, max: Duration, jitter: Duration) -> Self {
        self.reconnect_min = min;
        self.reconnect_max = max;
        self.reconnect_jitter = jitter;
        self
    }

    /// Largest value accepted, checked before sending (default 16 MiB).
    pub fn max_value_size(mut self, bytes: usize) -> Self {
        self.max_value_size = bytes;
        self
    }

    /// The `COUNT` hint of each `SCAN` that `list` sends (default 256).
    pub fn scan_count(mut self, count: u32) -> Self {
        self.scan_count = count.max(1);
        self
    }

    /// Connects (or, for a client you passed in, waits until it is connected) and
    /// returns the store.
    ///
    /// Errors: [`Error::Misconfigured`] for a bad URL or option; [`Error::Unavailable`]
    /// when no connection is made within the connect timeout.
    pub async fn connect(mut self) -> Result<RedisStore> {
        let source = std::mem::replace(&mut self.source, Source::Url(String::new()));
        match source {
            Source::Client(client) => {
                let ready = tokio::time::timeout(self.connect_timeout, client.wait_for_connect());
                match ready.await {
                    Ok(Ok(())) => Ok(RedisStore::new(*client, &self)),
                    Ok(Err(e)) => Err(from_fred(e, false)),
                    Err(_) => Err(not_connected(self.connect_timeout, "the given client")),
                }
            }
            Source::Url(url) => {
                let (fred_url, options) = split_url(&url)?;
                let config = Config::from_url(&fred_url).map_err(|e| {
                    Error::Misconfigured(format!(
                        "`{}` is not a valid Redis URL: {}",
                        redact(&url),
                        e.details()
                    ))
                })?;
                let this = options.apply(self)?;
                let client = this.connect_new(config).await?;
                Ok(RedisStore::new(client, &this))
            }
            Source::Config(config) => {
                let client = self.connect_new(*config).await?;
                Ok(RedisStore::new(client, &self))
            }
        }
    }

    async fn connect_new(&self, config: Config) -> Result<Client> {
        let timeout = self.command_timeout;
        let connect_timeout = self.connect_timeout;
        let mut policy = ReconnectPolicy::new_exponential(
            0,
            millis(self.reconnect_min),
            millis(self.reconnect_max),
            2,
        );
        policy.set_jitter(millis(self.reconnect_jitter));
        let client = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = connect_timeout;
                c.internal_command_timeout = timeout;
                // Every command at most once; a dropped connection surfaces as
                // `Unavailable` instead of a silent second send.
                c.max_command_attempts = 1;
            })
            .with_performance_config(|p| p.default_command_timeout = timeout)
            .set_policy(policy)
            .build()
            .map_err(|e| Error::Misconfigured(format!("Redis client: {}", e.details())))?;
        match tokio::time::timeout(connect_timeout, client.init()).await {
            Ok(Ok(_task)) => Ok(client),
            Ok(Err(e)) => {
                let _ = tokio::time::timeout(Duration::from_millis(200), client.quit()).await;
                Err(from_fred(e, false))
            }
            Err(_) => {
                let _ = tokio::time::timeout(Duration::from_millis(200), client.quit()).await;
                Err(not_connected(connect_timeout, "Redis"))
            }
        }
    }
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

fn not_connected(after: Duration, what: &str) -> Error {
    Error::unavailable(
        Delivery::NotSent,
        format!(
            "could not connect to {what} within {} ms",
            after.as_millis()
        ),
    )
}

/// fleetstate's own query options, taken out of the URL before fred reads it.
#[derive(Debug, Default)]
struct UrlOptions(Vec<(String, String)>);

impl UrlOptions {
    fn apply(self, mut b: RedisStoreBuilder) -> Result<RedisStoreBuilder> {
        for (name, value) in self.0 {
            let number = || {
                value.parse::<u64>().map_err(|_| {
                    Error::Misconfigured(format!(
                        "Redis URL option `{name}` must be a whole number, got `{value}`"
                    ))
                })
            };
            b = match name.as_str() {
                "key_prefix" => b.key_prefix(value.clone()),
                "command_timeout_ms" => b.command_timeout(Duration::from_millis(number()?)),
                "connect_timeout_ms" => b.connect_timeout(Duration::from_millis(number()?)),
                "max_value_size" => b.max_value_size(number()? as usize),
                "scan_count" => b.scan_count(u32::try_from(number()?).unwrap_or(u32::MAX)),
                _ => unreachable!("only known options are collected"),
            };
        }
        Ok(b)
    }
}

const OPTIONS: [&str; 5] = [
    "key_prefix",
    "command_timeout_ms",
    "connect_timeout_ms",
    "max_value_size",
    "scan_count",
];

/// Splits fleetstate's options off `url` and rewrites the comma form of cluster URLs
/// (`redis-cluster://h1:p1,h2:p2`) into fred's (`redis-cluster://h1:p1?node=h2:p2`).
fn split_url(url: &str) -> Result<(String, UrlOptions)> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| Error::Misconfigured(format!("`{}` is not a Redis URL", redact(url))))?;
    let (authority_path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut options = UrlOptions::default();
    let mut fred_query: Vec<String> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if OPTIONS.contains(&name) {
            options.0.push((name.to_owned(), percent_decode(value)));
        } else {
            fred_query.push(pair.to_owned());
        }
    }
    let (authority, path) = match authority_path.find('/') {
        Some(at) => authority_path.split_at(at),
        None => (authority_path, ""),
    };
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let mut hosts = hosts.split(',').filter(|h| !h.is_empty());
    let first = hosts
        .next()
        .ok_or_else(|| Error::Misconfigured(format!("`{}` names no Redis host", redact(url))))?;
    let extra: Vec<String> = hosts.map(|h| format!("node={h}")).collect();
    if !extra.is_empty() && !scheme.ends_with("-cluster") {
        return Err(Error::Misconfigured(format!(
            "`{}` lists several hosts: use redis-cluster:// for a cluster",
            redact(url)
        )));
    }
    fred_query.splice(0..0, extra);
    let mut fred_url = format!("{scheme}://{userinfo}{first}{path}");
    if !fred_query.is_empty() {
        fred_url.push('?');
        fred_url.push_str(&fred_query.join("&"));
    }
    Ok((fred_url, options))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_comma_form_becomes_fred_node_params() {
        let (url, _) =
            split_url("redis-cluster://u:p@h1:7000,h2:7001,h3:7002?key_prefix=app%3A").unwrap();
        assert_eq!(url, "redis-cluster://u:p@h1:7000?node=h2:7001&node=h3:7002");
    }

    #[test]
    fn fleetstate_options_are_taken_out_and_decoded() {
        let (url, options) =
            split_url("redis://h:6379/2?key_prefix=app%3A&command_timeout_ms=250").unwrap();
        assert_eq!(url, "redis://h:6379/2");
        assert_eq!(
            options.0,
            vec![
                ("key_prefix".to_owned(), "app:".to_owned()),
                ("command_timeout_ms".to_owned(), "250".to_owned())
            ]
        );
    }

    #[test]
    fn several_hosts_need_the_cluster_scheme() {
        let err = split_url("redis://h1:1,h2:2").unwrap_err();
        assert!(err.to_string().contains("use redis-cluster://"), "{err}");
    }

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redact("redis://user:secret@h:1/0"),
            "redis://user:***@h:1/0"
        );
        let b = RedisStoreBuilder::from_url("rediss://:hunter2@h:1");
        assert!(!format!("{b:?}").contains("hunter2"));
    }
}
