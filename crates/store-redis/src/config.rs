//! Options, the builder, URL parsing and connecting.

use std::fmt;
use std::time::Duration;

use fred::clients::Client;
use fred::interfaces::ClientLike;
use fred::types::Builder;
use fred::types::config::{Config, ReconnectPolicy};
use store_core::raw::StoreUrl;
use store_core::{Delivery, Error, Result, StoreBuilder};

use crate::error::from_fred;
use crate::store::{RedisStore, Settings};

enum Source {
    Config(Box<Config>),
    Client(Box<Client>),
}

/// Builds a [`RedisStore`] from a URL, a fred `Config`, or a fred `Client` you already
/// have.
///
/// ```no_run
/// # async fn demo() -> store_core::Result<()> {
/// use std::time::Duration;
/// let store = store_redis::RedisStoreBuilder::from_url("redis://127.0.0.1:6379/0")?
///     .key_prefix("billing:")
///     .command_timeout(Duration::from_millis(500))
///     .build()
///     .await?;
/// # let _ = store; Ok(()) }
/// ```
///
/// URL forms: `redis://[user:password@]host[:port][/db]`, `rediss://...` (TLS, feature
/// `tls`), `redis-cluster://host:port,host:port,...` and `rediss-cluster://...` (or
/// `redis-cluster://host:port?node=host:port&node=...`). Query options:
/// `key_prefix`, `command_timeout_ms`, `connect_timeout_ms`, `max_value_size`,
/// `scan_count`, `node` on cluster URLs and `tls_ca_file` (a PEM file of the CA
/// certificates to trust instead of the system's) on `rediss` URLs; any other option is
/// refused (see [`StoreUrl`] for the shared rules).
pub struct RedisStoreBuilder {
    source: Source,
    settings: Settings,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::Trust>,
    connect_timeout: Duration,
    reconnect_min: Duration,
    reconnect_max: Duration,
    reconnect_jitter: Duration,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Config(_) => "<fred Config>",
            Source::Client(_) => "<fred Client>",
        };
        f.debug_struct("RedisStoreBuilder")
            .field("source", &source)
            .field("settings", &self.settings)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStoreBuilder {
    fn with_source(source: Source) -> Self {
        RedisStoreBuilder {
            source,
            settings: Settings::default(),
            #[cfg(feature = "tls")]
            tls: None,
            connect_timeout: Duration::from_secs(2),
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(2),
            reconnect_jitter: Duration::from_millis(100),
        }
    }

    /// Reads a Redis URL (forms and options above). Nothing is connected until
    /// [`build`](Self::build).
    ///
    /// Errors: `Misconfigured` for a malformed URL (an unescaped `@` in the password, no
    /// host, a port or database that is not a number, several hosts without a cluster
    /// scheme), an invalid value, or an unknown option.
    pub fn from_url(url: &str) -> Result<Self> {
        let mut parsed = StoreUrl::parse(url, SCHEMES)?;
        let cluster = parsed.scheme().ends_with("-cluster");
        let tls = parsed.scheme().starts_with("rediss");
        let mut nodes = parsed.take_all::<String>("node")?;
        if !cluster && !nodes.is_empty() {
            return Err(Error::Misconfigured(format!(
                "`{}`: the `node` option is for redis-cluster:// URLs",
                parsed.redacted()
            )));
        }
        let target = Target::parse(parsed.target(), cluster).map_err(|why| {
            Error::Misconfigured(format!(
                "`{}` is not a valid Redis URL: {why}",
                parsed.redacted()
            ))
        })?;
        let mut b = Self::with_source(Source::Config(Box::default()));
        if let Some(prefix) = parsed.take::<String>("key_prefix")? {
            b = b.key_prefix(prefix);
        }
        if let Some(ms) = parsed.take::<u64>("command_timeout_ms")? {
            b = b.command_timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = parsed.take::<u64>("connect_timeout_ms")? {
            b = b.connect_timeout(Duration::from_millis(ms));
        }
        if let Some(bytes) = parsed.take::<usize>("max_value_size")? {
            b = b.max_value_size(bytes);
        }
        if let Some(count) = parsed.take::<u32>("scan_count")? {
            b = b.scan_count(count);
        }
        let ca_file = if tls {
            parsed.take::<String>("tls_ca_file")?
        } else {
            None
        };
        let mut valid: Vec<&str> = OPTIONS.to_vec();
        if cluster {
            valid.push("node");
        }
        if tls {
            valid.push("tls_ca_file");
        }
        // TLS is configured by this crate, with an explicit provider (see `tls.rs`):
        // fred reads the plain scheme.
        let scheme = if cluster { "redis-cluster" } else { "redis" };
        let redacted = parsed.redacted().to_owned();
        parsed.finish(&valid)?;
        if tls {
            b = b.with_tls(ca_file, &redacted)?;
        }
        nodes.splice(0..0, target.hosts[1..].iter().cloned());
        for node in &nodes {
            Target::check_host(node).map_err(|why| {
                Error::Misconfigured(format!("`{redacted}`: cluster node `{node}` {why}"))
            })?;
        }
        let mut fred_url = format!(
            "{scheme}://{}{}{}",
            target.userinfo, target.hosts[0], target.path
        );
        for (i, node) in nodes.iter().enumerate() {
            fred_url.push(if i == 0 { '?' } else { '&' });
            fred_url.push_str("node=");
            fred_url.push_str(node);
        }
        let config = Config::from_url(&fred_url).map_err(|e| {
            Error::Misconfigured(format!(
                "`{redacted}` is not a valid Redis URL: {}",
                e.details()
            ))
        })?;
        b.source = Source::Config(Box::new(config));
        Ok(b)
    }

    #[cfg(feature = "tls")]
    fn with_tls(mut self, ca_file: Option<String>, _url: &str) -> Result<Self> {
        self.tls = Some(match ca_file {
            Some(path) => crate::tls::Trust::CaFile(path),
            None => crate::tls::Trust::System,
        });
        Ok(self)
    }

    #[cfg(not(feature = "tls"))]
    fn with_tls(self, _ca_file: Option<String>, url: &str) -> Result<Self> {
        Err(Error::Misconfigured(format!(
            "`{url}` asks for TLS: enable the `tls` feature of store-redis"
        )))
    }

    /// Uses your own rustls client configuration for TLS (client certificates, pinned
    /// roots...), on a `rediss://` URL or over a fred `Config`'s own TLS settings.
    /// Without it a `rediss://` URL trusts the system's CA certificates, or only those
    /// of `tls_ca_file`, on the aws-lc-rs provider.
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: rustls::ClientConfig) -> Self {
        self.tls = Some(crate::tls::Trust::Custom(std::sync::Arc::new(config)));
        self
    }

    /// A builder from a fred `Config` (to set TLS, credentials providers, sentinel...).
    pub fn from_config(config: Config) -> Self {
        Self::with_source(Source::Config(Box::new(config)))
    }

    /// A builder around a fred client you already have (connected with `init()`, or
    /// connecting). Command timeouts and at-most-once sending are applied per command,
    /// whatever the client's own settings.
    pub fn from_client(client: Client) -> Self {
        Self::with_source(Source::Client(Box::new(client)))
    }

    /// Prefix of every Redis key this store writes, so one Redis can be shared.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.key_prefix = prefix.into();
        self
    }

    /// Longest wait for any one command (default 2 s). A dead server is reported as
    /// `Unavailable` within this bound, never a hang.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.settings.command_timeout = timeout;
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
        self.settings.max_value_size = bytes;
        self
    }

    /// The `COUNT` hint of each `SCAN` that `list` sends (default 256).
    pub fn scan_count(mut self, count: u32) -> Self {
        self.settings.scan_count = count.max(1);
        self
    }

    /// Connects (or, for a client you passed in, waits until it is connected) and
    /// returns the store.
    ///
    /// Errors: [`Error::Unavailable`] when no connection is made within the connect
    /// timeout; [`Error::Misconfigured`] when the server refuses the credentials.
    pub async fn build(self) -> Result<RedisStore> {
        let client = match &self.source {
            Source::Client(client) => {
                let ready = tokio::time::timeout(self.connect_timeout, client.wait_for_connect());
                match ready.await {
                    Ok(Ok(())) => (**client).clone(),
                    Ok(Err(e)) => return Err(from_fred(e, Delivery::NotSent)),
                    Err(_) => return Err(not_connected(self.connect_timeout, "the given client")),
                }
            }
            Source::Config(config) => {
                #[allow(unused_mut)]
                let mut config = (**config).clone();
                #[cfg(feature = "tls")]
                if let Some(trust) = &self.tls {
                    config.tls = Some(trust.fred_config()?);
                }
                self.connect_new(config).await?
            }
        };
        Ok(RedisStore::new(client, &self.settings))
    }

    async fn connect_new(&self, config: Config) -> Result<Client> {
        let timeout = self.settings.command_timeout;
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
                Err(from_fred(e, Delivery::NotSent))
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

const SCHEMES: &[&str] = &["redis", "rediss", "redis-cluster", "rediss-cluster"];

const OPTIONS: [&str; 5] = [
    "key_prefix",
    "command_timeout_ms",
    "connect_timeout_ms",
    "max_value_size",
    "scan_count",
];

/// The part of a Redis URL between `://` and `?`: `[userinfo@]host[:port][,host...][/db]`.
#[derive(Debug)]
struct Target {
    /// With its trailing `@`, or empty.
    userinfo: String,
    hosts: Vec<String>,
    /// `/db` or empty.
    path: String,
}

impl Target {
    fn parse(target: &str, cluster: bool) -> std::result::Result<Self, String> {
        let (authority, path) = match target.find('/') {
            Some(at) => target.split_at(at),
            None => (target, ""),
        };
        let (userinfo, hosts) = match authority.rfind('@') {
            Some(at) => (&authority[..=at], &authority[at + 1..]),
            None => ("", authority),
        };
        if userinfo[..userinfo.len().saturating_sub(1)].contains('@') {
            return Err("an `@` in the user name or password must be written `%40`".into());
        }
        let hosts: Vec<String> = hosts.split(',').map(str::to_owned).collect();
        for host in &hosts {
            Self::check_host(host).map_err(|why| format!("host `{host}` {why}"))?;
        }
        if hosts.len() > 1 && !cluster {
            return Err("it lists several hosts: use redis-cluster:// for a cluster".into());
        }
        match path.strip_prefix('/') {
            None | Some("") => {}
            Some(_) if cluster => {
                return Err("a cluster has no database number (database 0 only)".into());
            }
            Some(db) if db.parse::<u8>().is_ok() => {}
            Some(db) => return Err(format!("the database `{db}` is not a number")),
        }
        Ok(Target {
            userinfo: userinfo.to_owned(),
            hosts,
            path: if path == "/" {
                String::new()
            } else {
                path.to_owned()
            },
        })
    }

    /// `host`, `host:port`, `[v6]` or `[v6]:port`.
    fn check_host(host: &str) -> std::result::Result<(), String> {
        let (name, port) = if let Some(rest) = host.strip_prefix('[') {
            let (v6, after) = rest.split_once(']').ok_or("has an unclosed `[`")?;
            if v6.parse::<std::net::Ipv6Addr>().is_err() {
                return Err("is not an IPv6 address".into());
            }
            match after {
                "" => (v6, None),
                p => (v6, Some(p.strip_prefix(':').ok_or("has text after `]`")?)),
            }
        } else {
            match host.split_once(':') {
                Some((name, port)) => (name, Some(port)),
                None => (host, None),
            }
        };
        if name.is_empty() {
            return Err("is empty: the URL names no host".into());
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b))
        {
            return Err("is not a host name or address".into());
        }
        match port {
            Some(port) if port.parse::<u16>().map_or(true, |p| p == 0) => Err(format!(
                "has the port `{port}`, not a number from 1 to 65535"
            )),
            _ => Ok(()),
        }
    }
}

impl StoreBuilder for RedisStoreBuilder {
    type Store = RedisStore;
    const SCHEMES: &'static [&'static str] = SCHEMES;

    fn from_url(url: &str) -> Result<Self> {
        RedisStoreBuilder::from_url(url)
    }

    async fn build(self) -> Result<RedisStore> {
        RedisStoreBuilder::build(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fred_url_of(url: &str) -> std::result::Result<(), String> {
        RedisStoreBuilder::from_url(url)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn good_urls_are_read() {
        for url in [
            "redis://127.0.0.1:6379/2?key_prefix=app%3A&command_timeout_ms=250",
            "redis://localhost",
            "rediss://user:p%40ss@h:6380/0",
            "redis://[::1]:6379",
            "redis-cluster://u:p@h1:7000,h2:7001,h3:7002?key_prefix=app%3A",
            "redis-cluster://h1:7000?node=h2:7001&node=h3:7002",
        ] {
            fred_url_of(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        let b = RedisStoreBuilder::from_url("redis://h/1?key_prefix=app%3A&scan_count=9").unwrap();
        assert_eq!(b.settings.key_prefix, "app:");
        assert_eq!(b.settings.scan_count, 9);
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, needle) in [
            ("redis://h1:1,h2:2", "use redis-cluster://"),
            ("redis://@@@host", "must be written `%40`"),
            ("redis://", "names no host"),
            ("redis://h:port", "not a number from 1 to 65535"),
            ("redis://h:0", "not a number from 1 to 65535"),
            ("redis://h/db", "the database `db` is not a number"),
            ("redis-cluster://h:1/3", "no database number"),
            (
                "redis://h?node=h2:1",
                "the `node` option is for redis-cluster://",
            ),
            (
                "redis://h?comand_timeout_ms=100",
                "unknown redis:// option `comand_timeout_ms`",
            ),
            (
                "redis://h?colour=red",
                "unknown redis:// option `colour` (valid options: key_prefix",
            ),
            (
                "redis-cluster://h:1?node=garbage%20host",
                "cluster node `garbage host`",
            ),
            ("redis://h?key_prefix=%FF%FE", "not percent-encoded UTF-8"),
            ("redis://h?scan_count=-1", "must be a whole number"),
            ("redis:/h", "is not a valid store URL"),
            ("memory://", "is not a valid store URL"),
        ] {
            let err = fred_url_of(url).unwrap_err();
            assert!(err.contains(needle), "{url}: {err}");
        }
    }

    #[test]
    fn passwords_never_reach_logs_or_errors() {
        let err = fred_url_of("redis://user:hunter2@h:1?colour=red").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        let err = fred_url_of("redis://user:hunter2@h:port").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        let b = RedisStoreBuilder::from_url("rediss://:hunter2@h:1").unwrap();
        assert!(!format!("{b:?}").contains("hunter2"));
    }
}
