//! Options, the builder, URL parsing and connecting, on either client library.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use store_core::raw::StoreUrl;
use store_core::{Delivery, Error, Result, StoreBuilder};

use crate::client::Commands;
use crate::store::{RedisStore, Settings};

/// The client library a store sends its commands through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientLibrary {
    /// redis-rs (the `redis` crate, feature `redis-rs`, the default).
    RedisRs,
    /// fred (feature `fred`).
    Fred,
}

impl ClientLibrary {
    /// redis-rs when compiled in, else fred.
    pub const DEFAULT: ClientLibrary = if cfg!(feature = "redis-rs") {
        ClientLibrary::RedisRs
    } else {
        ClientLibrary::Fred
    };

    fn parse(name: &str) -> Result<Self> {
        match name {
            "redis-rs" if cfg!(feature = "redis-rs") => Ok(ClientLibrary::RedisRs),
            "fred" if cfg!(feature = "fred") => Ok(ClientLibrary::Fred),
            "redis-rs" | "fred" => Err(Error::Misconfigured(format!(
                "redis:// option `client={name}`: enable the `{name}` feature of store-redis"
            ))),
            other => Err(Error::Misconfigured(format!(
                "redis:// option `client`: `{other}` is not a client library (valid: \
                 redis-rs, fred)"
            ))),
        }
    }
}

/// A URL, read: what either client needs to connect.
#[derive(Clone)]
#[cfg_attr(not(feature = "redis-rs"), allow(dead_code))]
struct Endpoint {
    client: ClientLibrary,
    cluster: bool,
    tls: bool,
    /// `[user:password@]`, empty without credentials.
    userinfo: String,
    /// Every `host:port` given (the seed nodes of a cluster).
    hosts: Vec<String>,
    /// `/db` or empty.
    path: String,
}

#[cfg_attr(not(feature = "redis-rs"), allow(dead_code))]
impl Endpoint {
    /// The URL of `host` with the credentials, for the client library.
    fn node_url(&self, host: &str, tls: bool) -> String {
        let scheme = if tls { "rediss" } else { "redis" };
        format!("{scheme}://{}{host}{}", self.userinfo, self.path)
    }
}

enum Source {
    Url(Endpoint),
    #[cfg(feature = "fred")]
    FredConfig(Box<fred::types::config::Config>),
    #[cfg(feature = "fred")]
    FredClient(Box<fred::clients::Client>),
    #[cfg(feature = "redis-rs")]
    RedisClient(Box<redis::Client>),
    #[cfg(feature = "redis-rs")]
    RedisCluster(Box<redis::cluster::ClusterClient>),
    #[cfg(feature = "redis-rs")]
    Connection(crate::RedisRsConnection),
}

/// Builds a [`RedisStore`] from a URL, or around a client you already have: a redis-rs
/// `Client`, `ClusterClient`, `ConnectionManager` or cluster connection, or a fred
/// `Config` or `Client`.
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
/// `scan_count`, `client` (`redis-rs`, the default, or `fred`), `node` on cluster URLs
/// and `tls_ca_file` (a PEM file of the CA certificates to trust instead of the
/// system's) on `rediss` URLs; any other option is refused (see [`StoreUrl`] for the
/// shared rules). The same URL gives the same store on either client.
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
            Source::Url(e) => format!("<{:?} URL, {} host(s)>", e.client, e.hosts.len()),
            #[cfg(feature = "fred")]
            Source::FredConfig(_) => "<fred Config>".into(),
            #[cfg(feature = "fred")]
            Source::FredClient(_) => "<fred Client>".into(),
            #[cfg(feature = "redis-rs")]
            Source::RedisClient(_) => "<redis-rs Client>".into(),
            #[cfg(feature = "redis-rs")]
            Source::RedisCluster(_) => "<redis-rs ClusterClient>".into(),
            #[cfg(feature = "redis-rs")]
            Source::Connection(c) => format!("<{c:?}>"),
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
    /// scheme), an invalid value, an unknown option, or a client library that is not
    /// compiled in.
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
        let client = match parsed.take::<String>("client")? {
            Some(name) => ClientLibrary::parse(&name)?,
            None => ClientLibrary::DEFAULT,
        };
        let mut b = Self::with_source(Source::Url(Endpoint {
            client,
            cluster,
            tls,
            userinfo: target.userinfo.clone(),
            hosts: Vec::new(),
            path: target.path.clone(),
        }));
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
        let redacted = parsed.redacted().to_owned();
        parsed.finish(&valid)?;
        if tls {
            b = b.with_tls(ca_file, &redacted)?;
        }
        nodes.splice(0..0, target.hosts.iter().cloned());
        for node in &nodes[target.hosts.len()..] {
            Target::check_host(node).map_err(|why| {
                Error::Misconfigured(format!("`{redacted}`: cluster node `{node}` {why}"))
            })?;
        }
        if let Source::Url(endpoint) = &mut b.source {
            endpoint.hosts = nodes;
        }
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
    /// roots...), on a `rediss://` URL with the fred client or over a fred `Config`'s own
    /// TLS settings. Without it a `rediss://` URL trusts the system's CA certificates,
    /// or only those of `tls_ca_file`. redis-rs builds its own rustls configuration from
    /// those (a custom one is refused at `build`).
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: rustls::ClientConfig) -> Self {
        self.tls = Some(crate::tls::Trust::Custom(Arc::new(config)));
        self
    }

    /// A builder from a fred `Config` (to set TLS, credentials providers, sentinel...).
    #[cfg(feature = "fred")]
    pub fn from_fred_config(config: fred::types::config::Config) -> Self {
        Self::with_source(Source::FredConfig(Box::new(config)))
    }

    /// A builder around a fred client you already have (connected with `init()`, or
    /// connecting). Command timeouts and at-most-once sending are applied per command,
    /// whatever the client's own settings.
    #[cfg(feature = "fred")]
    pub fn from_fred_client(client: fred::clients::Client) -> Self {
        Self::with_source(Source::FredClient(Box::new(client)))
    }

    /// A builder around a redis-rs `Client` (a single node): the store opens a
    /// `ConnectionManager` on it with its own timeouts and reconnect backoff.
    #[cfg(feature = "redis-rs")]
    pub fn from_redis_client(client: redis::Client) -> Self {
        Self::with_source(Source::RedisClient(Box::new(client)))
    }

    /// A builder around a redis-rs `ClusterClient`: the store opens its async cluster
    /// connection. Build the client with `retries(0)` (see
    /// [`RedisRsConnection::Cluster`](crate::RedisRsConnection::Cluster)).
    #[cfg(feature = "redis-rs")]
    pub fn from_redis_cluster_client(client: redis::cluster::ClusterClient) -> Self {
        Self::with_source(Source::RedisCluster(Box::new(client)))
    }

    /// A builder around a redis-rs connection you already hold: your
    /// `ConnectionManager` or cluster connection, shared with the rest of your service
    /// (commands of both are pipelined on it). The store's command timeout still bounds
    /// every call.
    #[cfg(feature = "redis-rs")]
    pub fn from_redis_connection(connection: crate::RedisRsConnection) -> Self {
        Self::with_source(Source::Connection(connection))
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

    /// Reconnect backoff: exponential from `min` to `max`, plus (on fred) up to `jitter`
    /// of random delay (defaults 50 ms, 2 s, 100 ms). Reconnection never stops on its
    /// own.
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
        let commands: Arc<dyn Commands> = match &self.source {
            Source::Url(endpoint) => match endpoint.client {
                #[cfg(feature = "redis-rs")]
                ClientLibrary::RedisRs => Arc::new(self.redis_rs_from_url(endpoint).await?),
                #[cfg(feature = "fred")]
                ClientLibrary::Fred => Arc::new(self.fred_from_url(endpoint).await?),
                #[allow(unreachable_patterns)]
                other => {
                    return Err(Error::Misconfigured(format!(
                        "{other:?} is not compiled in"
                    )));
                }
            },
            #[cfg(feature = "fred")]
            Source::FredConfig(config) => {
                #[allow(unused_mut)]
                let mut config = (**config).clone();
                #[cfg(feature = "tls")]
                if let Some(trust) = &self.tls {
                    config.tls = Some(trust.fred_config()?);
                }
                Arc::new(self.fred_connect(config).await?)
            }
            #[cfg(feature = "fred")]
            Source::FredClient(client) => Arc::new(self.fred_wait(client).await?),
            #[cfg(feature = "redis-rs")]
            Source::RedisClient(client) => Arc::new(self.manager((**client).clone()).await?),
            #[cfg(feature = "redis-rs")]
            Source::RedisCluster(client) => Arc::new(self.cluster(client).await?),
            #[cfg(feature = "redis-rs")]
            Source::Connection(connection) => {
                Arc::new(crate::client::redis_rs::RedisRsCommands::new(
                    connection.clone(),
                    self.settings.command_timeout,
                    None,
                ))
            }
        };
        Ok(RedisStore::new(commands, &self.settings))
    }
}

/// Connecting through redis-rs.
#[cfg(feature = "redis-rs")]
impl RedisStoreBuilder {
    async fn redis_rs_from_url(
        &self,
        endpoint: &Endpoint,
    ) -> Result<crate::client::redis_rs::RedisRsCommands> {
        let misconfigured = |e: redis::RedisError| Error::Misconfigured(format!("Redis URL: {e}"));
        #[cfg(feature = "tls")]
        let certs = match &self.tls {
            Some(trust) => Some(trust.redis_rs_certificates()?),
            None => None,
        };
        if endpoint.cluster {
            let urls: Vec<String> = endpoint
                .hosts
                .iter()
                .map(|h| endpoint.node_url(h, endpoint.tls))
                .collect();
            #[allow(unused_mut)]
            // No retries: the cluster connection would re-send a command that was in
            // flight on a dropped connection (the seam follows redirects itself).
            let mut builder = redis::cluster::ClusterClientBuilder::new(urls).retries(0);
            #[cfg(feature = "tls")]
            if let Some(certs) = certs {
                builder = builder.certs(certs);
            }
            let client = builder.build().map_err(misconfigured)?;
            self.cluster(&client).await
        } else {
            let url = endpoint.node_url(&endpoint.hosts[0], endpoint.tls);
            #[cfg(feature = "tls")]
            let client = match certs {
                Some(certs) => redis::Client::build_with_tls(url, certs),
                None => redis::Client::open(url),
            };
            #[cfg(not(feature = "tls"))]
            let client = redis::Client::open(url);
            self.manager(client.map_err(misconfigured)?).await
        }
    }

    /// A `ConnectionManager` on `client`: it never re-sends a command, and reconnects
    /// on demand after a drop.
    async fn manager(
        &self,
        client: redis::Client,
    ) -> Result<crate::client::redis_rs::RedisRsCommands> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.settings.command_timeout))
            .set_min_delay(self.reconnect_min)
            .set_max_delay(self.reconnect_max)
            .set_number_of_retries(2);
        let renew = crate::client::redis_rs::Renew::new(client.clone(), config.clone());
        let connect = redis::aio::ConnectionManager::new_with_config(client, config);
        let manager = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(manager)) => manager,
            Ok(Err(e)) => return Err(crate::error::from_redis(e, Delivery::NotSent)),
            Err(_) => return Err(not_connected(self.connect_timeout, "Redis")),
        };
        Ok(crate::client::redis_rs::RedisRsCommands::new(
            crate::RedisRsConnection::Single(manager),
            self.settings.command_timeout,
            Some(renew),
        ))
    }

    /// The async cluster connection of `client`.
    async fn cluster(
        &self,
        client: &redis::cluster::ClusterClient,
    ) -> Result<crate::client::redis_rs::RedisRsCommands> {
        let config = redis::cluster::ClusterConfig::new()
            .set_connection_timeout(self.connect_timeout)
            .set_response_timeout(self.settings.command_timeout);
        let connect = client.get_async_connection_with_config(config);
        let connection = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(e)) => return Err(crate::error::from_redis(e, Delivery::NotSent)),
            Err(_) => return Err(not_connected(self.connect_timeout, "the Redis cluster")),
        };
        Ok(crate::client::redis_rs::RedisRsCommands::new(
            crate::RedisRsConnection::Cluster(connection),
            self.settings.command_timeout,
            None,
        ))
    }
}

/// Connecting through fred.
#[cfg(feature = "fred")]
impl RedisStoreBuilder {
    async fn fred_from_url(
        &self,
        endpoint: &Endpoint,
    ) -> Result<crate::client::fred::FredCommands> {
        // TLS is configured by this crate, with an explicit provider (see `tls.rs`):
        // fred reads the plain scheme.
        let scheme = if endpoint.cluster {
            "redis-cluster"
        } else {
            "redis"
        };
        let mut fred_url = format!(
            "{scheme}://{}{}{}",
            endpoint.userinfo, endpoint.hosts[0], endpoint.path
        );
        for (i, node) in endpoint.hosts[1..].iter().enumerate() {
            fred_url.push(if i == 0 { '?' } else { '&' });
            fred_url.push_str("node=");
            fred_url.push_str(node);
        }
        #[allow(unused_mut)]
        let mut config = fred::types::config::Config::from_url(&fred_url)
            .map_err(|e| Error::Misconfigured(format!("not a valid Redis URL: {}", e.details())))?;
        #[cfg(feature = "tls")]
        if let Some(trust) = &self.tls {
            config.tls = Some(trust.fred_config()?);
        }
        self.fred_connect(config).await
    }

    async fn fred_wait(
        &self,
        client: &fred::clients::Client,
    ) -> Result<crate::client::fred::FredCommands> {
        use fred::interfaces::ClientLike;
        let ready = tokio::time::timeout(self.connect_timeout, client.wait_for_connect());
        match ready.await {
            Ok(Ok(())) => Ok(crate::client::fred::FredCommands::new(
                client.clone(),
                self.settings.command_timeout,
            )),
            Ok(Err(e)) => Err(crate::error::from_fred(e, Delivery::NotSent)),
            Err(_) => Err(not_connected(self.connect_timeout, "the given client")),
        }
    }

    async fn fred_connect(
        &self,
        config: fred::types::config::Config,
    ) -> Result<crate::client::fred::FredCommands> {
        use fred::interfaces::ClientLike;
        let timeout = self.settings.command_timeout;
        let connect_timeout = self.connect_timeout;
        let mut policy = fred::types::config::ReconnectPolicy::new_exponential(
            0,
            millis(self.reconnect_min),
            millis(self.reconnect_max),
            2,
        );
        policy.set_jitter(millis(self.reconnect_jitter));
        let client = fred::types::Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = connect_timeout;
                c.internal_command_timeout = timeout;
                // Every command at most once; a dropped connection surfaces as
                // `Unavailable` instead of a silent second send.
                c.max_command_attempts = 1;
                // A connection that stops answering (a black-holed path, a host gone
                // without a reset) is closed and replaced once a command has waited a
                // command timeout, instead of timing out every command after it.
                c.unresponsive = fred::types::config::UnresponsiveConfig {
                    max_timeout: Some(timeout),
                    interval: (timeout / 4).max(Duration::from_millis(5)),
                };
            })
            .with_performance_config(|p| p.default_command_timeout = timeout)
            .set_policy(policy)
            .build()
            .map_err(|e| Error::Misconfigured(format!("Redis client: {}", e.details())))?;
        let quit = |client: fred::clients::Client| async move {
            let _ = tokio::time::timeout(Duration::from_millis(200), client.quit()).await;
        };
        match tokio::time::timeout(connect_timeout, client.init()).await {
            Ok(Ok(_task)) => Ok(crate::client::fred::FredCommands::new(client, timeout)),
            Ok(Err(e)) => {
                quit(client).await;
                Err(crate::error::from_fred(e, Delivery::NotSent))
            }
            Err(_) => {
                quit(client).await;
                Err(not_connected(connect_timeout, "Redis"))
            }
        }
    }
}

#[cfg(feature = "fred")]
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

const OPTIONS: [&str; 6] = [
    "client",
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
                "unknown redis:// option `colour` (valid options: client, key_prefix",
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
