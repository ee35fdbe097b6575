//! The client seam: the few commands the store sends (`GET`, `SET` with its options,
//! `EXISTS`, `DEL`/`UNLINK`, `EVALSHA`, `SCRIPT LOAD` on every primary, `SCAN` per
//! primary), behind one small trait with an implementation per client library:
//! [`redis_rs`] (the `redis` crate, feature `redis-rs`) and [`fred`] (feature `fred`).
//! The layout, keys and scripts live elsewhere and are shared by every client.
//!
//! What every implementation guarantees, and the tests check on each: one command per
//! call; a command that may have reached the server is never sent again unless it is
//! marked [`Resend::Allowed`]; every call ends within the command timeout; errors are
//! the contract's kinds, with `Delivery::NotSent` only when the command provably did not
//! run.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use store_core::Result;

use crate::error::unexpected;

#[cfg(feature = "fred")]
pub(crate) mod fred;
#[cfg(feature = "redis-rs")]
pub(crate) mod redis_rs;

/// A reply, in the shapes the store's commands and scripts produce (simple strings,
/// doubles and verbatim strings arrive as `Bytes`, booleans as `Int`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "testing"), allow(unreachable_pub))]
pub enum Reply {
    /// Nil.
    Nil,
    /// An integer.
    Int(i64),
    /// A bulk or simple string.
    Bytes(Bytes),
    /// An array (or set).
    Array(Vec<Reply>),
}

#[cfg_attr(not(feature = "testing"), allow(unreachable_pub))]
impl Reply {
    /// The integer, or the decimal string's number.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Reply::Int(i) => Some(*i),
            Reply::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    }

    /// The bytes of a bulk reply, `None` for nil and arrays.
    pub fn into_bytes(self) -> Option<Bytes> {
        match self {
            Reply::Bytes(b) => Some(b),
            Reply::Int(i) => Some(Bytes::from(i.to_string())),
            Reply::Nil | Reply::Array(_) => None,
        }
    }

    /// An integer reply, or a decimal one, as a number.
    pub(crate) fn number<T: std::str::FromStr + TryFrom<i64>>(&self, what: &str) -> Result<T> {
        match self {
            Reply::Bytes(b) => std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()),
            Reply::Int(i) => T::try_from(*i).ok(),
            _ => None,
        }
        .ok_or_else(|| unexpected(what, self))
    }
}

/// A Lua script and its SHA-1, hashed once.
#[derive(Debug, Clone)]
pub(crate) struct Script {
    pub(crate) lua: &'static str,
    pub(crate) sha: String,
}

impl Script {
    pub(crate) fn new(lua: &'static str) -> Self {
        Script {
            lua,
            sha: sha1_smol::Sha1::from(lua).digest().to_string(),
        }
    }
}

/// The plain `SET` forms the store sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetMode {
    /// Unconditional.
    Always,
    /// `NX GET`: written only when absent; the reply is the current value otherwise.
    IfAbsentGet,
    /// `XX`: written only when present; the reply is nil otherwise.
    IfPresent,
}

/// Whether a client may send a command again after the connection dropped with it in
/// flight: only when doing it twice changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resend {
    /// Sending it twice changes nothing (reads, unconditional deletes).
    Allowed,
    /// At most once: `incr`, every write, every script.
    Never,
}

/// A boxed command future.
pub(crate) type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// The commands the store sends, as one client library sends them. Keys are physical
/// (prefixed) keys; a primary is named `host:port` (`None` on a single node).
pub(crate) trait Commands: Send + Sync + fmt::Debug {
    /// The client library's name, for errors and `Debug`.
    fn library(&self) -> &'static str;
    fn is_cluster(&self) -> bool;
    /// `GET`.
    fn get(&self, key: String) -> Fut<'_, Option<Bytes>>;
    /// `SET key value [PX ttl] [NX GET | XX]`, sent at most once.
    fn set(&self, key: String, value: Bytes, ttl_ms: Option<u64>, mode: SetMode) -> Fut<'_, Reply>;
    /// `EXISTS`.
    fn exists(&self, key: String) -> Fut<'_, bool>;
    /// `DEL` of one key: how many existed.
    fn del(&self, key: String) -> Fut<'_, i64>;
    /// `UNLINK` of `keys`: one command on a single node, one per key in a cluster (the
    /// keys of a `SCAN` page lie in different slots). How many existed.
    fn unlink(&self, keys: Vec<Bytes>) -> Fut<'_, u64>;
    /// `EVALSHA sha 1 key args...`; `None` when the server answers `NOSCRIPT` (it ran
    /// nothing).
    fn evalsha<'a>(
        &'a self,
        sha: &'a str,
        key: &'a str,
        args: Vec<Bytes>,
        resend: Resend,
    ) -> Fut<'a, Option<Reply>>;
    /// `SCRIPT LOAD` on every primary.
    fn script_load<'a>(&'a self, lua: &'a str) -> Fut<'a, ()>;
    /// The primaries to walk for `list`, sorted (one `None` on a single node).
    fn primaries(&self) -> Fut<'_, Vec<Option<String>>>;
    /// One `SCAN cursor MATCH pattern COUNT count TYPE string` page on `node`.
    fn scan<'a>(
        &'a self,
        node: Option<&'a str>,
        cursor: &'a str,
        pattern: &'a str,
        count: u32,
    ) -> Fut<'a, (String, Vec<Bytes>)>;
    /// Any command, for benchmarks' raw baselines and test helpers (sent at most once).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    fn raw<'a>(&'a self, args: Vec<Bytes>) -> Fut<'a, Reply>;
    /// For handing the library's own connection back to the user.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// The store's connection: a client library behind [`Commands`].
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    inner: Arc<dyn Commands>,
}

impl Conn {
    pub(crate) fn new(inner: Arc<dyn Commands>) -> Self {
        Conn { inner }
    }

    /// `EVALSHA`, loading the script and sending again after `NOSCRIPT` (the server
    /// ran nothing then, so the second send cannot apply anything twice). `args` builds
    /// the arguments, so the common path sends without keeping copies for a retry.
    pub(crate) async fn eval(
        &self,
        script: &Script,
        key: &str,
        args: impl Fn() -> Vec<Bytes>,
        resend: Resend,
    ) -> Result<Reply> {
        if let Some(reply) = self.inner.evalsha(&script.sha, key, args(), resend).await? {
            return Ok(reply);
        }
        self.inner.script_load(script.lua).await?;
        self.inner
            .evalsha(&script.sha, key, args(), resend)
            .await?
            .ok_or_else(|| unexpected("EVALSHA", "NOSCRIPT right after SCRIPT LOAD"))
    }
}

impl std::ops::Deref for Conn {
    type Target = dyn Commands;

    fn deref(&self) -> &Self::Target {
        &*self.inner
    }
}

/// A `SCAN` reply's parts: the next cursor and the keys.
pub(crate) fn scan_reply(reply: Reply) -> Result<(String, Vec<Bytes>)> {
    let Reply::Array(mut parts) = reply else {
        return Err(unexpected("SCAN", reply));
    };
    let (Some(keys), Some(next)) = (parts.pop(), parts.pop()) else {
        return Err(unexpected("SCAN", parts));
    };
    let next = match next {
        Reply::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
        Reply::Int(i) => i.to_string(),
        other => return Err(unexpected("SCAN cursor", other)),
    };
    let keys = match keys {
        Reply::Array(keys) => keys.into_iter().filter_map(Reply::into_bytes).collect(),
        Reply::Nil => Vec::new(),
        other => return Err(unexpected("SCAN keys", other)),
    };
    Ok((next, keys))
}
