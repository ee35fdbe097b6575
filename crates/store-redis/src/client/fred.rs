//! The seam on fred: every call with per-command options (timeout, at most one attempt
//! unless [`Resend::Allowed`], fail fast while disconnected).

use std::time::Duration;

use bytes::Bytes;
use fred::clients::Client;
use fred::interfaces::{ClientLike, ClusterInterface, KeysInterface, LuaInterface};
use fred::types::config::{Options, Server};
use fred::types::scan::ScanType;
use fred::types::{ClusterHash, CustomCommand, Expiration, SetOptions, Value};
use store_core::{Delivery, Error, Result};

use super::{Commands, Fut, Reply, Resend, SetMode, scan_reply};
use crate::error::from_fred;

#[derive(Debug, Clone)]
pub(crate) struct FredCommands {
    client: Client,
    timeout: Duration,
    cluster: bool,
}

impl FredCommands {
    pub(crate) fn new(client: Client, timeout: Duration) -> Self {
        let cluster = client.is_clustered();
        FredCommands {
            client,
            timeout,
            cluster,
        }
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
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

    fn with(&self, resend: Resend) -> fred::clients::WithOptions<Client> {
        self.client.with_options(&self.options(resend, None))
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
}

fn maybe(e: fred::error::Error) -> Error {
    from_fred(e, Delivery::MaybeApplied)
}

fn reply(value: Value) -> Reply {
    match value {
        Value::Null => Reply::Nil,
        Value::Integer(i) => Reply::Int(i),
        Value::Bytes(b) => Reply::Bytes(b),
        Value::String(s) => Reply::Bytes(s.into_inner()),
        Value::Array(items) => Reply::Array(items.into_iter().map(reply).collect()),
        Value::Boolean(b) => Reply::Int(i64::from(b)),
        Value::Double(d) => Reply::Bytes(Bytes::from(d.to_string())),
        other => Reply::Bytes(Bytes::from(format!("{other:?}"))),
    }
}

impl Commands for FredCommands {
    fn library(&self) -> &'static str {
        "fred"
    }

    fn is_cluster(&self) -> bool {
        self.cluster
    }

    fn get(&self, key: String) -> Fut<'_, Option<Bytes>> {
        Box::pin(async move {
            self.ensure_connected()?;
            self.with(Resend::Allowed)
                .get::<Option<Bytes>, _>(key)
                .await
                .map_err(maybe)
        })
    }

    fn set(&self, key: String, value: Bytes, ttl_ms: Option<u64>, mode: SetMode) -> Fut<'_, Reply> {
        Box::pin(async move {
            self.ensure_connected()?;
            let expire = ttl_ms.map(|ms| Expiration::PX(i64::try_from(ms).unwrap_or(i64::MAX)));
            let (options, get) = match mode {
                SetMode::Always => (None, false),
                SetMode::IfAbsentGet => (Some(SetOptions::NX), true),
                SetMode::IfPresent => (Some(SetOptions::XX), false),
            };
            self.with(Resend::Never)
                .set::<Value, _, _>(key, Value::Bytes(value), expire, options, get)
                .await
                .map(reply)
                .map_err(maybe)
        })
    }

    fn exists(&self, key: String) -> Fut<'_, bool> {
        Box::pin(async move {
            self.ensure_connected()?;
            self.with(Resend::Allowed)
                .exists::<i64, _>(key)
                .await
                .map(|n| n > 0)
                .map_err(maybe)
        })
    }

    fn del(&self, key: String) -> Fut<'_, i64> {
        Box::pin(async move {
            self.ensure_connected()?;
            self.with(Resend::Allowed)
                .del::<i64, _>(key)
                .await
                .map_err(maybe)
        })
    }

    fn unlink(&self, keys: Vec<Bytes>) -> Fut<'_, u64> {
        Box::pin(async move {
            if keys.is_empty() {
                return Ok(0);
            }
            self.ensure_connected()?;
            let client = self.with(Resend::Allowed);
            let removed: Vec<i64> = if self.cluster {
                futures::future::try_join_all(
                    keys.into_iter().map(|key| client.unlink::<i64, _>(key)),
                )
                .await
            } else {
                client.unlink::<i64, _>(keys).await.map(|n| vec![n])
            }
            .map_err(maybe)?;
            Ok(removed
                .into_iter()
                .map(|n| u64::try_from(n).unwrap_or(0))
                .sum())
        })
    }

    fn evalsha<'a>(
        &'a self,
        sha: &'a str,
        key: &'a str,
        args: Vec<Bytes>,
        resend: Resend,
    ) -> Fut<'a, Option<Reply>> {
        Box::pin(async move {
            self.ensure_connected()?;
            let args: Vec<Value> = args.into_iter().map(Value::Bytes).collect();
            match self
                .with(resend)
                .evalsha::<Value, _, _, _>(sha, key, args)
                .await
            {
                Err(e) if e.details().starts_with("NOSCRIPT") => Ok(None),
                result => result.map(|v| Some(reply(v))).map_err(maybe),
            }
        })
    }

    fn script_load<'a>(&'a self, lua: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            self.client
                .script_load_cluster::<(), _>(lua)
                .await
                .map_err(|e| from_fred(e, Delivery::NotSent))
        })
    }

    fn primaries(&self) -> Fut<'_, Vec<Option<String>>> {
        Box::pin(async move {
            if !self.cluster {
                return Ok(vec![None]);
            }
            let mut nodes: Vec<Option<String>> = self
                .client
                .cached_cluster_state()
                .map(|state| state.unique_primary_nodes())
                .unwrap_or_default()
                .into_iter()
                .map(|s| Some(format!("{}:{}", s.host, s.port)))
                .collect();
            nodes.sort();
            Ok(nodes)
        })
    }

    fn scan<'a>(
        &'a self,
        node: Option<&'a str>,
        cursor: &'a str,
        pattern: &'a str,
        count: u32,
    ) -> Fut<'a, (String, Vec<Bytes>)> {
        Box::pin(async move {
            self.ensure_connected()?;
            let server = node.map(|n| {
                let (host, port) = n.rsplit_once(':').unwrap_or((n, "6379"));
                Server::new(host, port.parse().unwrap_or(6379))
            });
            let reply: Value = self
                .client
                .with_options(&self.options(Resend::Allowed, server))
                .scan_page(
                    cursor.to_owned(),
                    pattern.to_owned(),
                    Some(count),
                    Some(ScanType::String),
                )
                .await
                .map_err(maybe)?;
            scan_reply(self::reply(reply))
        })
    }

    fn raw<'a>(&'a self, args: Vec<Bytes>) -> Fut<'a, Reply> {
        Box::pin(async move {
            self.ensure_connected()?;
            let mut args = args.into_iter();
            let name = args.next().unwrap_or_default();
            let name = String::from_utf8_lossy(&name).into_owned();
            let command = CustomCommand::new(name, ClusterHash::FirstKey, false);
            let args: Vec<Value> = args.map(Value::Bytes).collect();
            self.with(Resend::Never)
                .custom::<Value, _>(command, args)
                .await
                .map(reply)
                .map_err(maybe)
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
