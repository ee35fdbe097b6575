//! The builder: a URL, or the KV Connect endpoint and token you already have.

use std::time::Duration;

use store_core::raw::StoreUrl;
use store_core::{Error, Result, StoreBuilder};
use url::Url;

use crate::driver::Driver;
use crate::layout::MAX_ROOT_LEN;
use crate::store::{DenoKvStore, Settings};

const SCHEMES: &[&str] = &["denokv", "denokvs"];

const OPTIONS: [&str; 5] = [
    "root",
    "token_env",
    "timeout_ms",
    "connect_timeout_ms",
    "max_rounds",
];

/// The environment variable Deno reads a KV Connect access token from.
pub const TOKEN_ENV: &str = "DENO_KV_ACCESS_TOKEN";

/// Builds a [`DenoKvStore`] from a URL, or from a KV Connect endpoint and its token.
///
/// ```no_run
/// # async fn demo() -> store_core::Result<()> {
/// // A self-hosted `denokv serve` on plain HTTP, the token in the URL's password:
/// let store = store_denokv::DenoKvStoreBuilder::from_url("denokv://:secret@kv.internal:4512")?
///     .build()
///     .await?;
/// // Deno Deploy (HTTPS), the token from DENO_KV_ACCESS_TOKEN:
/// let deployed = store_denokv::DenoKvStoreBuilder::from_url(
///     "denokvs://api.deno.com/databases/00000000-0000-0000-0000-000000000000/connect",
/// )?
/// .build()
/// .await?;
/// # let _ = (store, deployed); Ok(()) }
/// ```
///
/// URL: `denokv://[:token@]host[:port][/path]` speaks HTTP to the KV Connect metadata
/// endpoint `http://host:port/path` (what `Deno.openKv` is given), `denokvs://` HTTPS
/// (rustls, the system's roots). The access token is the URL's password (percent-encoded
/// as needed; never shown in messages), else the variable named by `token_env` (default
/// `DENO_KV_ACCESS_TOKEN`). Options: `root` (the first part of every key, default
/// `fleetstate`; stores with different roots never see each other's keys),
/// `timeout_ms` (default 2000: every request, a dead server is `Unavailable` within
/// it), `connect_timeout_ms` (default 2000), `max_rounds` (default 256: lost
/// compare-and-set rounds before an operation gives up). Anything else is refused.
#[derive(Clone)]
pub struct DenoKvStoreBuilder {
    endpoint: Url,
    token: Option<String>,
    token_env: String,
    settings: Settings,
}

impl std::fmt::Debug for DenoKvStoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenoKvStoreBuilder")
            .field("endpoint", &self.endpoint.as_str())
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("token_env", &self.token_env)
            .field("settings", &self.settings)
            .finish()
    }
}

impl DenoKvStoreBuilder {
    /// A builder for the KV Connect metadata endpoint `endpoint` (an `http` or `https`
    /// URL, as given to `Deno.openKv`) with access token `token`.
    ///
    /// Errors: `Misconfigured` for a URL that is not `http(s)://host...` or carries a
    /// query or fragment.
    pub fn new(endpoint: &str, token: impl Into<String>) -> Result<Self> {
        let endpoint = Url::parse(endpoint).map_err(|e| {
            Error::Misconfigured(format!(
                "`{}` is not a KV Connect URL: {e}",
                store_core::raw::redact(endpoint)
            ))
        })?;
        let mut b = Self::for_endpoint(endpoint)?;
        b.token = Some(token.into());
        Ok(b)
    }

    fn for_endpoint(endpoint: Url) -> Result<Self> {
        if !matches!(endpoint.scheme(), "http" | "https") || !endpoint.has_host() {
            return Err(Error::Misconfigured(format!(
                "`{}`: a KV Connect endpoint is an http:// or https:// URL with a host",
                endpoint.as_str()
            )));
        }
        if endpoint.query().is_some() || endpoint.fragment().is_some() {
            return Err(Error::Misconfigured(format!(
                "`{}`: a KV Connect endpoint has no query or fragment",
                endpoint.as_str()
            )));
        }
        Ok(DenoKvStoreBuilder {
            endpoint,
            token: None,
            token_env: TOKEN_ENV.to_owned(),
            settings: Settings::default(),
        })
    }

    /// Reads a `denokv://` or `denokvs://` URL (form and options above). Nothing is
    /// connected until [`build`](Self::build).
    ///
    /// Errors: `Misconfigured` for a malformed URL, a user name without a password, an
    /// invalid root, or an unknown option.
    pub fn from_url(url: &str) -> Result<Self> {
        let mut parsed = StoreUrl::parse(url, SCHEMES)?;
        let redacted = parsed.redacted().to_owned();
        let http = if parsed.scheme() == "denokvs" {
            "https"
        } else {
            "http"
        };
        let mut endpoint = Url::parse(&format!("{http}://{}", parsed.target())).map_err(|e| {
            Error::Misconfigured(format!("`{redacted}` is not a valid Deno KV URL: {e}"))
        })?;
        if endpoint.host_str().is_none_or(str::is_empty) {
            return Err(Error::Misconfigured(format!("`{redacted}` names no host")));
        }
        let token = match endpoint.password() {
            Some(p) => Some(decode(p).ok_or_else(|| {
                Error::Misconfigured(format!("`{redacted}`: the token does not decode to UTF-8"))
            })?),
            None if !endpoint.username().is_empty() => {
                return Err(Error::Misconfigured(format!(
                    "`{redacted}`: the access token goes in the password: \
                     `denokv://:TOKEN@host:port`"
                )));
            }
            None => None,
        };
        let _ = endpoint.set_password(None);
        let _ = endpoint.set_username("");
        let mut b = Self::for_endpoint(endpoint)?;
        b.token = token;
        if let Some(root) = parsed.take::<String>("root")? {
            b = b.root(root)?;
        }
        if let Some(var) = parsed.take::<String>("token_env")? {
            b.token_env = var;
        }
        if let Some(ms) = parsed.take::<u64>("timeout_ms")? {
            b = b.timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = parsed.take::<u64>("connect_timeout_ms")? {
            b = b.connect_timeout(Duration::from_millis(ms));
        }
        if let Some(n) = parsed.take::<u32>("max_rounds")? {
            if n < 2 {
                return Err(Error::Misconfigured(format!(
                    "`{redacted}`: max_rounds must be at least 2"
                )));
            }
            b = b.max_rounds(n);
        }
        parsed.finish(&OPTIONS)?;
        Ok(b)
    }

    /// The first part of every key (default `fleetstate`): 1 to 256 bytes, no control
    /// characters.
    ///
    /// Errors: `Misconfigured` for an empty or too long root, or one with control
    /// characters.
    pub fn root(mut self, root: impl Into<String>) -> Result<Self> {
        let root = root.into();
        if root.is_empty() || root.len() > MAX_ROOT_LEN || root.chars().any(char::is_control) {
            return Err(Error::Misconfigured(format!(
                "Deno KV root {root:?}: 1 to {MAX_ROOT_LEN} bytes without control characters"
            )));
        }
        self.settings.root = root;
        Ok(self)
    }

    /// Longest wait for any one request (default 2 s): a dead or silent server is
    /// `Unavailable` within it, never a hang.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Longest wait to open a connection (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Lost compare-and-set rounds after which a conditional write, `delete` or `incr`
    /// gives up (default 256, at least 2).
    pub fn max_rounds(mut self, rounds: u32) -> Self {
        self.settings.max_rounds = rounds.max(2);
        self
    }

    /// Starts the client and checks the server answers a strongly consistent read with
    /// the token.
    ///
    /// Errors: `Misconfigured` when there is no token (neither in the URL nor in the
    /// environment) or the server refuses it; `Unavailable` when the server cannot be
    /// reached within the timeouts.
    pub async fn build(self) -> Result<DenoKvStore> {
        let token = match self.token {
            Some(token) => token,
            None => std::env::var(&self.token_env).map_err(|_| {
                Error::Misconfigured(format!(
                    "no Deno KV access token: put it in the URL's password \
                     (`denokv://:TOKEN@host`) or in the environment variable {}",
                    self.token_env
                ))
            })?,
        };
        let driver = Driver::start(
            self.endpoint,
            token,
            self.settings.timeout,
            self.settings.connect_timeout,
        )?;
        let store = DenoKvStore::new(driver, &self.settings);
        store.probe().await?;
        Ok(store)
    }
}

/// Percent-decodes a URL's password.
fn decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("t={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.contains('\u{fffd}'))
}

impl StoreBuilder for DenoKvStoreBuilder {
    type Store = DenoKvStore;
    const SCHEMES: &'static [&'static str] = SCHEMES;

    fn from_url(url: &str) -> Result<Self> {
        DenoKvStoreBuilder::from_url(url)
    }

    async fn build(self) -> Result<DenoKvStore> {
        DenoKvStoreBuilder::build(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(url: &str) -> std::result::Result<DenoKvStoreBuilder, String> {
        DenoKvStoreBuilder::from_url(url).map_err(|e| e.to_string())
    }

    #[test]
    fn good_urls_are_read() {
        let b = read("denokv://:s%2Fecret@127.0.0.1:4512").unwrap();
        assert_eq!(b.endpoint.as_str(), "http://127.0.0.1:4512/");
        assert_eq!(b.token.as_deref(), Some("s/ecret"));
        let b =
            read("denokvs://api.deno.com/databases/abc/connect?root=app&timeout_ms=500").unwrap();
        assert_eq!(
            b.endpoint.as_str(),
            "https://api.deno.com/databases/abc/connect"
        );
        assert_eq!((b.token, b.settings.root.as_str()), (None, "app"));
        assert_eq!(b.settings.timeout, Duration::from_millis(500));
        let b =
            read("denokv://[::1]:1?token_env=MY_TOKEN&max_rounds=9&connect_timeout_ms=7").unwrap();
        assert_eq!(
            (b.token_env.as_str(), b.settings.max_rounds),
            ("MY_TOKEN", 9)
        );
        let b = DenoKvStoreBuilder::new("http://h:1/kv", "t").unwrap();
        assert_eq!(b.token.as_deref(), Some("t"));
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, needle) in [
            (
                "denokv://:t@h:1?colour=red",
                "unknown denokv:// option `colour`",
            ),
            ("denokv://user@h:1", "goes in the password"),
            ("denokv://:t@h:port", "not a valid Deno KV URL"),
            ("denokv://:t@h:1?max_rounds=1", "at least 2"),
            ("denokv://:t@h:1?timeout_ms=x", "whole number"),
            ("denokv://:t@h:1?root=", "1 to 256 bytes"),
            ("redis://h:1", "expected denokv:// or denokvs://"),
        ] {
            let err = read(url).unwrap_err();
            assert!(err.contains(needle), "{url}: {err}");
        }
        let err = read("denokv://:hunter2@h:port").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        for endpoint in ["ftp://h/x", "http://h/x?a=1", "not a url"] {
            let err = DenoKvStoreBuilder::new(endpoint, "t")
                .unwrap_err()
                .to_string();
            assert!(err.contains("KV Connect"), "{endpoint}: {err}");
        }
    }
}
