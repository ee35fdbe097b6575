//! Every fred call the store makes, behind one small type, so the client library could
//! be swapped without touching the store logic.

use std::time::Duration;

use bytes::Bytes;
use fred::clients::Client;
use fred::interfaces::{ClientLike, ClusterInterface, KeysInterface, LuaInterface};
use fred::types::Value;
use fred::types::config::{Options, Server};
use fred::types::scan::ScanType;
use fred::types::scripts::Script;
use fred::types::{Expiration, SetOptions};
use store_core::{Delivery, Error, Result};

use crate::error::from_fred;

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

/// Whether fred may send a command again after the connection dropped with it in
/// flight: only when doing it twice changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resend {
    /// Sending it twice changes nothing (reads, unconditional deletes).
    Allowed,
    /// At most once: `incr`, every write, every script.
    Never,
}

#[derive(Debug, Clone)]
pub(crate) struct Conn {
    client: Client,
    timeout: Duration,
    cluster: bool,
}

impl Conn {
    pub(crate) fn new(client: Client, timeout: Duration) -> Self {
        let cluster = client.is_clustered();
        Conn {
            client,
            timeout,
            cluster,
        }
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn is_cluster(&self) -> bool {
        self.cluster
    }

    fn options(&self, resend: Resend, node: Option<Server>) -> Options {
        Options {
            // fred re-sends a command that was in flight when its connection dropped;
            // for incr or a conditional write that would apply it twice.
            max_attempts: (resend == Resend::Never).then_some(1),
            timeout: Some(self.timeout),
            // Fail at once while disconnected instead of queueing behind a reconnect.
            fail_fast: true,
            cluster_node: node,
            ..Options::default()
        }
    }

    /// Fails fast, and says nothing was sent, while the client is reconnecting.
    fn ensure_connected(&self) -> Result<()> {
        if self.client.is_connected() {
            Ok(())
        } else {
            Err(Error::unavailable(
                Delivery::NotSent,
                "not connected to Redis (reconnecting in the background)",
            ))
        }
    }

    /// `GET`: the stored form, `None` when the key does not exist.
    pub(crate) async fn get(&self, key: String) -> Result<Option<Bytes>> {
        self.ensure_connected()?;
        self.client
            .with_options(&self.options(Resend::Allowed, None))
            .get::<Option<Bytes>, _>(key)
            .await
            .map_err(|e| from_fred(e, Delivery::MaybeApplied))
    }

    /// `SET key value [PX ttl] [NX GET | XX]`, sent at most once.
    pub(crate) async fn set(
        &self,
        key: String,
        value: Bytes,
        ttl_ms: Option<u64>,
        mode: SetMode,
    ) -> Result<Value> {
        self.ensure_connected()?;
        let expire = ttl_ms.map(|ms| Expiration::PX(i64::try_from(ms).unwrap_or(i64::MAX)));
        let (options, get) = match mode {
            SetMode::Always => (None, false),
            SetMode::IfAbsentGet => (Some(SetOptions::NX), true),
            SetMode::IfPresent => (Some(SetOptions::XX), false),
        };
        self.client
            .with_options(&self.options(Resend::Never, None))
            .set::<Value, _, _>(key, Value::Bytes(value), expire, options, get)
            .await
            .map_err(|e| from_fred(e, Delivery::MaybeApplied))
    }

    pub(crate) async fn exists(&self, key: String) -> Result<bool> {
        self.ensure_connected()?;
        self.client
            .with_options(&self.options(Resend::Allowed, None))
            .exists::<i64, _>(key)
            .await
            .map(|n| n > 0)
            .map_err(|e| from_fred(e, Delivery::MaybeApplied))
    }

    /// `UNLINK` of `keys`: one command standalone, one per key in a cluster (the keys
    /// of a `SCAN` page lie in different slots), sent concurrently. Returns how many
    /// existed.
    pub(crate) async fn unlink(&self, keys: Vec<Bytes>) -> Result<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        self.ensure_connected()?;
        let client = self
            .client
            .with_options(&self.options(Resend::Allowed, None));
        let removed: Vec<i64> = if self.cluster {
            futures::future::try_join_all(keys.into_iter().map(|key| client.unlink::<i64, _>(key)))
                .await
        } else {
            client.unlink::<i64, _>(keys).await.map(|n| vec![n])
        }
        .map_err(|e| from_fred(e, Delivery::MaybeApplied))?;
        Ok(removed
            .into_iter()
            .map(|n| u64::try_from(n).unwrap_or(0))
            .sum())
    }

    pub(crate) async fn del(&self, key: impl Into<fred::types::Key> + Send) -> Result<i64> {
        self.ensure_connected()?;
        self.client
            .with_options(&self.options(Resend::Allowed, None))
            .del::<i64, _>(key)
            .await
            .map_err(|e| from_fred(e, Delivery::MaybeApplied))
    }

    /// `EVALSHA`, loading the script and sending again after `NOSCRIPT` (the server
    /// ran nothing then, so the second send cannot apply anything twice). `args` builds
    /// the arguments, so the common path sends without keeping copies for a retry.
    pub(crate) async fn eval(
        &self,
        script: &Script,
        key: &str,
        args: impl Fn() -> Vec<Value>,
        resend: Resend,
    ) -> Result<Value> {
        self.ensure_connected()?;
        let client = self.client.with_options(&self.options(resend, None));
        match client
            .evalsha::<Value, _, _, _>(script.sha1().clone(), key, args())
            .await
        {
            Err(e) if e.details().starts_with("NOSCRIPT") => {
                let lua = script.lua().cloned().unwrap_or_default();
                self.client
                    .script_load_cluster::<(), _>(lua)
                    .await
                    .map_err(|e| from_fred(e, Delivery::NotSent))?;
                client
                    .evalsha::<Value, _, _, _>(script.sha1().clone(), key, args())
                    .await
                    .map_err(|e| from_fred(e, Delivery::MaybeApplied))
            }
            result => result.map_err(|e| from_fred(e, Delivery::MaybeApplied)),
        }
    }

    /// The primaries to walk for `list`, in a stable order (one `None` when standalone).
    pub(crate) fn scan_nodes(&self) -> Vec<Option<Server>> {
        if !self.cluster {
            return vec![None];
        }
        let mut nodes = self
            .client
            .cached_cluster_state()
            .map(|state| state.unique_primary_nodes())
            .unwrap_or_default();
        nodes.sort_by_key(|s| s.to_string());
        nodes.into_iter().map(Some).collect()
    }

    /// One `SCAN … TYPE string` page (the store's entries are strings) of keys matching
    /// `pattern` on `node`.
    pub(crate) async fn scan(
        &self,
        node: Option<Server>,
        cursor: &str,
        pattern: &str,
        count: u32,
    ) -> Result<(String, Vec<Bytes>)> {
        self.ensure_connected()?;
        let reply: Value = self
            .client
            .with_options(&self.options(Resend::Allowed, node))
            .scan_page(
                cursor.to_owned(),
                pattern.to_owned(),
                Some(count),
                Some(ScanType::String),
            )
            .await
            .map_err(|e| from_fred(e, Delivery::MaybeApplied))?;
        let Value::Array(mut parts) = reply else {
            return Err(crate::error::unexpected("SCAN", reply));
        };
        let (Some(keys), Some(next)) = (parts.pop(), parts.pop()) else {
            return Err(crate::error::unexpected("SCAN", parts));
        };
        let next = match next {
            Value::String(s) => s.to_string(),
            Value::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
            Value::Integer(i) => i.to_string(),
            other => return Err(crate::error::unexpected("SCAN cursor", other)),
        };
        let keys = match keys {
            Value::Array(keys) => keys.into_iter().filter_map(into_bytes).collect(),
            Value::Null => Vec::new(),
            other => return Err(crate::error::unexpected("SCAN keys", other)),
        };
        Ok((next, keys))
    }
}

/// The bytes of a bulk reply, `None` for nil.
pub(crate) fn into_bytes(value: Value) -> Option<Bytes> {
    match value {
        Value::Bytes(b) => Some(b),
        Value::String(s) => Some(s.into_inner()),
        Value::Integer(i) => Some(Bytes::from(i.to_string())),
        _ => None,
    }
}
