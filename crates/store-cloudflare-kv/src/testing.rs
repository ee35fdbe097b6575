//! Test helpers (feature `testing`): the conformance suite against workerd.
//!
//! A store lives in a Worker; the suite runs natively. So a test Worker built from this
//! crate answers `serve` (in wasm: each HTTP request is one store operation on the
//! real KV binding), and `WorkerStore` (native) is a `Store` whose every operation is
//! one such request: the suite drives the Worker's store through it, and every result
//! and error comes back as the Worker's store gave it. The wire form, both ways: a body
//! of JSON (the operation, or its result) followed by the value's bytes, and an
//! `x-fleetstate-json` header giving the JSON's length.

use serde::{Deserialize, Serialize};

/// The header giving the length of the JSON that starts a body.
const JSON_LEN: &str = "x-fleetstate-json";

/// One store operation, as sent to the test Worker.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Call {
    /// `get`, `exists`, `set`, `delete`, `incr`, `advance`, `list`, `clear`,
    /// `capabilities`.
    pub op: String,
    /// Namespace.
    pub ns: String,
    /// Key (or list prefix).
    pub key: String,
    /// `set`: `always`, `if_absent`, `if_present`, `if_version`.
    pub condition: Option<String>,
    /// The version of `if_version` (set or delete), decimal.
    pub version: Option<String>,
    /// TTL in ms.
    pub ttl_ms: Option<u64>,
    /// `incr`'s and `advance`'s delta.
    pub delta: i64,
    /// `advance`: headroom, and the floor (`None`: the clock).
    pub headroom: u64,
    /// `advance`'s floor value; `None` for the store's clock.
    pub floor: Option<u64>,
    /// `list`'s cursor.
    pub cursor: Option<String>,
    /// `list`'s limit.
    pub limit: usize,
}

/// The result of a [`Call`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    /// `get`: the entry (value in the body), or none.
    Entry(Option<Meta>),
    /// `exists`, `delete`.
    Bool(bool),
    /// `set` written, with the version.
    Written(String),
    /// `set` rejected, with the current entry (value in the body) if returned.
    Rejected(Option<Meta>),
    /// `incr`: value and expiry.
    Incr(i64, Option<u64>),
    /// `advance`: written, value, floor, contended.
    Advanced(bool, u64, u64, bool),
    /// `list`: keys and cursor.
    Page(Vec<String>, Option<String>),
    /// `clear`: live keys removed.
    Count(u64),
    /// `capabilities`.
    Capabilities(Caps),
    /// An error, by kind.
    Error(Failure),
}

/// An entry's version and expiry (its value travels in the body).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    /// Version, decimal.
    pub version: String,
    /// Expiry, ms since the epoch.
    pub expires_ms: Option<u64>,
}

/// The capabilities, field by field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Caps {
    pub atomic_incr: bool,
    pub compare_and_set: bool,
    pub atomic_advance: bool,
    pub max_advance_value: u64,
    pub returns_current_on_reject: bool,
    pub sorted_list: bool,
    pub strongly_consistent_reads: bool,
    pub max_namespace_len: usize,
    pub max_key_len: usize,
    pub max_value_size: usize,
    pub max_list_limit: usize,
    pub ttl_resolution_ms: u64,
    pub min_ttl_ms: u64,
}

/// An error: its kind and its parts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    /// `Error::kind_name()`.
    pub kind: String,
    /// The message, or the reason.
    pub message: String,
    /// `InvalidKey`'s `what`, `Unsupported`'s operation.
    pub what: String,
    /// `ValueTooLarge`'s size and max.
    pub size: usize,
    /// `ValueTooLarge`'s max.
    pub max: usize,
    /// `Unavailable`: whether it may have been applied.
    pub maybe_applied: bool,
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::WorkerStore;
#[cfg(target_arch = "wasm32")]
pub use worker_side::serve;

#[cfg(target_arch = "wasm32")]
mod worker_side {
    use std::time::Duration;

    use bytes::Bytes;
    use store_core::{
        Advance, Condition, DeleteCondition, Entry, Error, Floor, SetOptions, SetOutcome, Store,
    };

    use super::{Call, Caps, Failure, Meta, Reply};
    use crate::CloudflareKvStore;

    fn meta(e: &Entry) -> Meta {
        Meta {
            version: store_core::raw::version_number(e.version).to_string(),
            expires_ms: e.expires_at.map(|t| t.as_millis()),
        }
    }

    fn failure(e: &Error) -> Failure {
        let mut f = Failure {
            kind: e.kind_name().to_owned(),
            message: e.to_string(),
            what: String::new(),
            size: 0,
            max: 0,
            maybe_applied: e.may_have_applied(),
        };
        match e {
            Error::InvalidKey { what, reason } => {
                f.what = (*what).to_owned();
                f.message = reason.clone();
            }
            Error::InvalidArgument(m) | Error::InvalidCursor(m) | Error::Misconfigured(m) => {
                f.message = m.clone();
            }
            Error::ValueTooLarge { size, max } => {
                f.size = *size;
                f.max = *max;
            }
            Error::Unsupported { operation, reason } => {
                f.what = (*operation).to_owned();
                f.message = reason.clone();
            }
            _ => {}
        }
        f
    }

    fn version(v: &Option<String>) -> store_core::Version {
        store_core::raw::version(v.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    async fn run(store: &CloudflareKvStore, call: &Call, body: Bytes) -> (Reply, Bytes) {
        let ttl = call.ttl_ms.map(Duration::from_millis);
        let (ns, key) = (call.ns.as_str(), call.key.as_str());
        let result: Result<(Reply, Bytes), Error> = async {
            Ok(match call.op.as_str() {
                "get" => match store.get(ns, key).await? {
                    Some(e) => (Reply::Entry(Some(meta(&e))), e.value),
                    None => (Reply::Entry(None), Bytes::new()),
                },
                "exists" => (Reply::Bool(store.exists(ns, key).await?), Bytes::new()),
                "set" => {
                    let condition = match call.condition.as_deref() {
                        Some("if_absent") => Condition::IfAbsent,
                        Some("if_present") => Condition::IfPresent,
                        Some("if_version") => Condition::IfVersion(version(&call.version)),
                        _ => Condition::Always,
                    };
                    let opts = SetOptions::always()
                        .with_condition(condition)
                        .with_ttl_opt(ttl);
                    match store.set(ns, key, body, opts).await? {
                        SetOutcome::Written(v) => (
                            Reply::Written(store_core::raw::version_number(v).to_string()),
                            Bytes::new(),
                        ),
                        SetOutcome::Rejected { current } => match current {
                            Some(e) => (Reply::Rejected(Some(meta(&e))), e.value),
                            None => (Reply::Rejected(None), Bytes::new()),
                        },
                    }
                }
                "delete" => {
                    let condition = match &call.version {
                        Some(_) => DeleteCondition::IfVersion(version(&call.version)),
                        None => DeleteCondition::Always,
                    };
                    (
                        Reply::Bool(store.delete(ns, key, condition).await?),
                        Bytes::new(),
                    )
                }
                "incr" => {
                    let out = store.incr(ns, key, call.delta, ttl).await?;
                    let expires = out.expires_at.map(|t| t.as_millis());
                    (Reply::Incr(out.value, expires), Bytes::new())
                }
                "advance" => {
                    let advance = Advance {
                        delta: call.delta.unsigned_abs(),
                        headroom: call.headroom,
                        floor: call.floor.map_or(Floor::Clock, Floor::Value),
                        ttl,
                    };
                    let a = store.advance(ns, key, advance).await?;
                    (
                        Reply::Advanced(a.written, a.value, a.floor, a.contended),
                        Bytes::new(),
                    )
                }
                "list" => {
                    let cursor = call.cursor.clone().map(store_core::raw::cursor);
                    let page = store.list(ns, key, cursor.as_ref(), call.limit).await?;
                    let cursor = page.cursor.map(|c| c.as_str().to_owned());
                    (Reply::Page(page.keys, cursor), Bytes::new())
                }
                "clear" => (Reply::Count(store.clear(ns, key).await?), Bytes::new()),
                "capabilities" => {
                    let c = store.capabilities();
                    let caps = Caps {
                        atomic_incr: c.atomic_incr,
                        compare_and_set: c.compare_and_set,
                        atomic_advance: c.atomic_advance,
                        max_advance_value: c.max_advance_value,
                        returns_current_on_reject: c.returns_current_on_reject,
                        sorted_list: c.sorted_list,
                        strongly_consistent_reads: c.strongly_consistent_reads,
                        max_namespace_len: c.max_namespace_len,
                        max_key_len: c.max_key_len,
                        max_value_size: c.max_value_size,
                        max_list_limit: c.max_list_limit,
                        ttl_resolution_ms: c.ttl_resolution.as_millis() as u64,
                        min_ttl_ms: c.min_ttl.as_millis() as u64,
                    };
                    (Reply::Capabilities(caps), Bytes::new())
                }
                other => {
                    return Err(Error::InvalidArgument(format!(
                        "unknown operation `{other}`"
                    )));
                }
            })
        }
        .await;
        result.unwrap_or_else(|e| (Reply::Error(failure(&e)), Bytes::new()))
    }

    /// Answers one request of [`super::WorkerStore`]'s wire form with `store`.
    ///
    /// Errors: the request is not of that form.
    pub async fn serve(
        mut req: worker::Request,
        store: &CloudflareKvStore,
    ) -> worker::Result<worker::Response> {
        let len: usize = req
            .headers()
            .get(super::JSON_LEN)?
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| worker::Error::RustError(format!("no {} header", super::JSON_LEN)))?;
        let mut body = Bytes::from(req.bytes().await?);
        if body.len() < len {
            return Err(worker::Error::RustError(
                "a body shorter than its JSON".into(),
            ));
        }
        let value = body.split_off(len);
        let call: Call = serde_json::from_slice(&body)?;
        let (reply, value) = run(store, &call, value).await;
        let json = serde_json::to_vec(&reply)?;
        let mut out = Vec::with_capacity(json.len() + value.len());
        out.extend_from_slice(&json);
        out.extend_from_slice(&value);
        let mut response = worker::Response::from_bytes(out)?;
        response
            .headers_mut()
            .set(super::JSON_LEN, &json.len().to_string())?;
        Ok(response)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::time::Duration;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;
    use store_core::{
        Advance, Advanced, Capabilities, Condition, Cursor, DeleteCondition, Delivery, Entry,
        Error, Floor, IncrOutcome, ListPage, Result, SetOptions, SetOutcome, Store, Timestamp,
    };

    use super::{Call, Failure, Meta, Reply};

    /// A `Store` whose every operation is one request to a test Worker running
    /// `serve` on a real KV binding (in workerd, under miniflare): the
    /// conformance suite drives the Worker's store through it. Its capabilities are the
    /// Worker store's, fetched at [`connect`](Self::connect).
    #[derive(Clone, Debug)]
    pub struct WorkerStore {
        url: String,
        client: Client<HttpConnector, Full<Bytes>>,
        capabilities: Capabilities,
    }

    fn to_static(what: &str) -> &'static str {
        match what {
            "namespace" => "namespace",
            "key" => "key",
            "prefix" => "prefix",
            "conditional set" => "conditional set",
            "conditional delete" => "conditional delete",
            "incr" => "incr",
            "advance" => "advance",
            _ => "operation",
        }
    }

    fn error(f: Failure) -> Error {
        match f.kind.as_str() {
            "invalid_key" => Error::InvalidKey {
                what: to_static(&f.what),
                reason: f.message,
            },
            "invalid_argument" => Error::InvalidArgument(f.message),
            "invalid_cursor" => Error::InvalidCursor(f.message),
            "value_too_large" => Error::ValueTooLarge {
                size: f.size,
                max: f.max,
            },
            "not_a_counter" => Error::NotACounter,
            "counter_overflow" => Error::CounterOverflow,
            "unsupported" => Error::Unsupported {
                operation: to_static(&f.what),
                reason: f.message,
            },
            "misconfigured" => Error::Misconfigured(f.message),
            "throttled" => Error::throttled(None),
            "unavailable" => {
                let delivery = if f.maybe_applied {
                    Delivery::MaybeApplied
                } else {
                    Delivery::NotSent
                };
                Error::unavailable(delivery, f.message)
            }
            _ => Error::Backend {
                message: f.message,
                source: None,
            },
        }
    }

    fn entry(meta: Meta, value: Bytes) -> Entry {
        Entry {
            value,
            version: store_core::raw::version(meta.version.parse().unwrap_or(0)),
            expires_at: meta.expires_ms.map(Timestamp::from_millis),
        }
    }

    impl WorkerStore {
        /// Connects to the test Worker at `url` (`http://127.0.0.1:port`) and reads its
        /// store's capabilities.
        ///
        /// Errors: the Worker does not answer.
        pub async fn connect(url: &str) -> Result<Self> {
            let mut store = WorkerStore {
                url: url.trim_end_matches('/').to_owned(),
                client: Client::builder(TokioExecutor::new()).build_http(),
                capabilities: Capabilities::default(),
            };
            let call = Call {
                op: "capabilities".into(),
                ..Call::default()
            };
            let Reply::Capabilities(c) = store.call(call, Bytes::new()).await?.0 else {
                return Err(Error::backend(
                    "the test Worker's capabilities",
                    "no answer",
                ));
            };
            let mut caps = Capabilities::default();
            caps.atomic_incr = c.atomic_incr;
            caps.compare_and_set = c.compare_and_set;
            caps.atomic_advance = c.atomic_advance;
            caps.max_advance_value = c.max_advance_value;
            caps.returns_current_on_reject = c.returns_current_on_reject;
            caps.sorted_list = c.sorted_list;
            caps.strongly_consistent_reads = c.strongly_consistent_reads;
            caps.max_namespace_len = c.max_namespace_len;
            caps.max_key_len = c.max_key_len;
            caps.max_value_size = c.max_value_size;
            caps.max_list_limit = c.max_list_limit;
            caps.ttl_resolution = Duration::from_millis(c.ttl_resolution_ms);
            caps.min_ttl = Duration::from_millis(c.min_ttl_ms);
            store.capabilities = caps;
            Ok(store)
        }

        async fn call(&self, call: Call, body: Bytes) -> Result<(Reply, Bytes)> {
            let json =
                serde_json::to_vec(&call).map_err(|e| Error::backend("encoding a call", e))?;
            let len = json.len();
            let mut payload = json;
            payload.extend_from_slice(&body);
            let request = http::Request::post(format!("{}/op", self.url))
                .header(super::JSON_LEN, len.to_string())
                .body(Full::new(Bytes::from(payload)))
                .map_err(|e| Error::backend("building a request", e))?;
            let response =
                tokio::time::timeout(Duration::from_secs(30), self.client.request(request))
                    .await
                    .map_err(|_| {
                        Error::unavailable(
                            Delivery::MaybeApplied,
                            "the test Worker did not answer in 30 s",
                        )
                    })?
                    .map_err(|e| {
                        Error::unavailable(Delivery::MaybeApplied, format!("the test Worker: {e}"))
                    })?;
            let len = response
                .headers()
                .get(super::JSON_LEN)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok());
            let status = response.status();
            let mut body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| {
                    Error::unavailable(Delivery::MaybeApplied, format!("the test Worker: {e}"))
                })?
                .to_bytes();
            let Some(len) = len.filter(|&len| len <= body.len()) else {
                return Err(Error::Backend {
                    message: format!(
                        "the test Worker answered {status} without a reply: {}",
                        String::from_utf8_lossy(&body)
                    ),
                    source: None,
                });
            };
            let value = body.split_off(len);
            let reply: Reply = serde_json::from_slice(&body)
                .map_err(|e| Error::backend("decoding the test Worker's reply", e))?;
            let body = value;
            match reply {
                Reply::Error(f) => Err(error(f)),
                reply => Ok((reply, body)),
            }
        }

        fn unexpected<T>(reply: &Reply) -> Result<T> {
            Err(Error::Backend {
                message: format!("unexpected reply from the test Worker: {reply:?}"),
                source: None,
            })
        }
    }

    fn op(name: &str, ns: &str, key: &str) -> Call {
        Call {
            op: name.into(),
            ns: ns.into(),
            key: key.into(),
            ..Call::default()
        }
    }

    impl Store for WorkerStore {
        async fn get(&self, namespace: &str, key: &str) -> Result<Option<Entry>> {
            match self.call(op("get", namespace, key), Bytes::new()).await? {
                (Reply::Entry(meta), value) => Ok(meta.map(|m| entry(m, value))),
                (other, _) => Self::unexpected(&other),
            }
        }

        async fn exists(&self, namespace: &str, key: &str) -> Result<bool> {
            match self
                .call(op("exists", namespace, key), Bytes::new())
                .await?
            {
                (Reply::Bool(b), _) => Ok(b),
                (other, _) => Self::unexpected(&other),
            }
        }

        async fn set(
            &self,
            namespace: &str,
            key: &str,
            value: Bytes,
            opts: SetOptions,
        ) -> Result<SetOutcome> {
            let mut call = op("set", namespace, key);
            call.ttl_ms = opts.ttl.map(|t| t.as_millis() as u64);
            call.condition = Some(
                match opts.condition {
                    Condition::Always => "always",
                    Condition::IfAbsent => "if_absent",
                    Condition::IfPresent => "if_present",
                    Condition::IfVersion(v) => {
                        call.version = Some(store_core::raw::version_number(v).to_string());
                        "if_version"
                    }
                }
                .to_owned(),
            );
            match self.call(call, value).await? {
                (Reply::Written(v), _) => Ok(SetOutcome::Written(store_core::raw::version(
                    v.parse().unwrap_or(0),
                ))),
                (Reply::Rejected(meta), value) => Ok(SetOutcome::Rejected {
                    current: meta.map(|m| entry(m, value)),
                }),
                (other, _) => Self::unexpected(&other),
            }
        }

        async fn delete(
            &self,
            namespace: &str,
            key: &str,
            condition: DeleteCondition,
        ) -> Result<bool> {
            let mut call = op("delete", namespace, key);
            if let DeleteCondition::IfVersion(v) = condition {
                call.version = Some(store_core::raw::version_number(v).to_string());
            }
            match self.call(call, Bytes::new()).await? {
                (Reply::Bool(b), _) => Ok(b),
                (other, _) => Self::unexpected(&other),
            }
        }

        async fn incr(
            &self,
            namespace: &str,
            key: &str,
            delta: i64,
            ttl: Option<Duration>,
        ) -> Result<IncrOutcome> {
            let mut call = op("incr", namespace, key);
            call.delta = delta;
            call.ttl_ms = ttl.map(|t| t.as_millis() as u64);
            match self.call(call, Bytes::new()).await? {
                (Reply::Incr(value, expires), _) => Ok(IncrOutcome {
                    value,
                    expires_at: expires.map(Timestamp::from_millis),
                }),
                (other, _) => Self::unexpected(&other),
            }
        }

        async fn advance(&self, namespace: &str, key: &str, advance: Advance) -> Result<Advanced> {
            let mut call = op("advance", namespace, key);
            call.delta = i64::try_from(advance.delta).unwrap_or(i64::MAX);
            call.headroom = advance.headroom;
            call.floor = match advance.floor {
                Floor::Value(v) => Some(v),
                Floor::Clock => None,
            };
            call.ttl_ms = advance.ttl.map(|t| t.as_millis() as u64);
            match self.call(call, Bytes::new()).await? {
                (Reply::Advanced(written, value, floor, contended), _) => Ok(Advanced {
                    written,
                    value,
                    floor,
                    contended,
                }),
                (other, _) => Self::unexpected(&other),
            }
        }

        async fn list(
            &self,
            namespace: &str,
            prefix: &str,
            cursor: Option<&Cursor>,
            limit: usize,
        ) -> Result<ListPage> {
            let mut call = op("list", namespace, prefix);
            call.cursor = cursor.map(|c| c.as_str().to_owned());
            call.limit = limit;
            match self.call(call, Bytes::new()).await? {
                (Reply::Page(keys, cursor), _) => Ok(ListPage {
                    keys,
                    cursor: cursor.map(store_core::raw::cursor),
                }),
                (other, _) => Self::unexpected(&other),
            }
        }

        async fn clear(&self, namespace: &str, prefix: &str) -> Result<u64> {
            match self
                .call(op("clear", namespace, prefix), Bytes::new())
                .await?
            {
                (Reply::Count(n), _) => Ok(n),
                (other, _) => Self::unexpected(&other),
            }
        }

        fn capabilities(&self) -> &Capabilities {
            &self.capabilities
        }
    }
}
