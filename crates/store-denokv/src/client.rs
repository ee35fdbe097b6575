//! KV Connect's HTTP transport: hyper with rustls, every failure turned into an answer
//! `denokv_remote` does not re-send. Public, with [`raw_client`], for calls of your own
//! on the same footing as the store's (and for its benchmark's baseline).
//!
//! `denokv_remote` re-sends a request forever, with backoff, after a transport error
//! or a 5xx answer. For a write that may have landed, that is a second application (an
//! increment counted twice); for a dead server it is a hang. So this transport never
//! returns an error and never a 5xx: such outcomes come back as a `499` answer whose
//! body starts with a "not sent" or "maybe applied" marker, which the client hands up unchanged
//! and the store reads back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use deno_error::JsErrorBox;
use denokv_remote::{MetadataEndpoint, Remote, RemotePermissions, RemoteResponse, RemoteTransport};
use futures::{Stream, stream};
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use url::Url;

/// Marks a request that never left this process (no connection could be made).
pub(crate) const NOT_SENT: &str = "fleetstate-transport: not sent:";
/// Marks a request that may have reached the server (lost after sending, timed out,
/// or answered with a server error).
pub(crate) const MAYBE_SENT: &str = "fleetstate-transport: maybe applied:";
/// The status the two markers come with: a client error the client neither retries
/// nor takes for an authentication failure.
const SYNTHETIC: u16 = 499;

/// Requests sent, by KV Connect method, shared by a store's clones.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    pub(crate) reads: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) other: AtomicU64,
}

/// hyper's pooled client over TLS (rustls with aws-lc-rs, the system's roots) or plain
/// HTTP, with a deadline on every request, for `denokv_remote::Remote`. It never fails
/// and never hands back a 5xx: a request that got no answer comes back as status 499
/// with a body saying whether it was sent, so `denokv_remote` never re-sends it.
#[derive(Clone)]
pub struct HttpTransport {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    pub(crate) sent: Arc<Sent>,
}

impl HttpTransport {
    /// A transport whose requests time out after `timeout` and connections after
    /// `connect_timeout`.
    ///
    /// Errors: the system's TLS roots could not be loaded.
    pub fn new(timeout: Duration, connect_timeout: Duration) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(connect_timeout));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| format!("loading the system's TLS roots: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(HttpTransport {
            client,
            timeout,
            sent: Arc::new(Sent::default()),
        })
    }

    fn count(&self, url: &Url) {
        let counter = match url.path().rsplit('/').next() {
            Some("snapshot_read") => &self.sent.reads,
            Some("atomic_write") => &self.sent.writes,
            _ => &self.sent.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A whole answer, read before it is handed over.
#[derive(Debug)]
pub struct Answer(Bytes);

fn synthetic(url: Url, marker: &str, detail: String) -> (Url, StatusCode, Answer) {
    let status = StatusCode::from_u16(SYNTHETIC).unwrap_or(StatusCode::BAD_REQUEST);
    (
        url,
        status,
        Answer(Bytes::from(format!("{marker} {detail}"))),
    )
}

impl RemoteTransport for HttpTransport {
    type Response = Answer;

    fn post(
        &self,
        url: Url,
        headers: HeaderMap,
        body: Bytes,
    ) -> impl Future<Output = Result<(Url, StatusCode, Answer), JsErrorBox>> + Send + Sync {
        self.count(&url);
        let client = self.client.clone();
        let timeout = self.timeout;
        // Spawned so the future handed back holds only a join handle (`Sync`, as the
        // client requires); the request runs on the same runtime.
        let call = tokio::spawn(async move {
            let mut request = http::Request::post(url.as_str());
            if let Some(h) = request.headers_mut() {
                *h = headers;
            }
            let request = match request.body(Full::new(body)) {
                Ok(request) => request,
                Err(e) => return synthetic(url, NOT_SENT, format!("invalid request: {e}")),
            };
            let exchange = async {
                let response = client.request(request).await.map_err(Lost::Request)?;
                let status = response.status();
                let body = response.into_body().collect().await.map_err(Lost::Body)?;
                Ok::<_, Lost>((status, body.to_bytes()))
            };
            match tokio::time::timeout(timeout, exchange).await {
                Ok(Ok((status, bytes))) if status.is_server_error() => {
                    let text = String::from_utf8_lossy(&bytes);
                    synthetic(
                        url,
                        MAYBE_SENT,
                        format!("the server answered {status}: {text}"),
                    )
                }
                Ok(Ok((status, bytes))) => (url, status, Answer(bytes)),
                Ok(Err(Lost::Request(e))) if e.is_connect() => {
                    synthetic(url, NOT_SENT, format!("no connection: {}", chain(&e)))
                }
                Ok(Err(Lost::Request(e))) => {
                    synthetic(url, MAYBE_SENT, format!("connection lost: {}", chain(&e)))
                }
                Ok(Err(Lost::Body(e))) => synthetic(
                    url,
                    MAYBE_SENT,
                    format!("connection lost reading the answer: {}", chain(&e)),
                ),
                Err(_) => synthetic(
                    url,
                    MAYBE_SENT,
                    format!("no answer within {} ms", timeout.as_millis()),
                ),
            }
        });
        async move {
            call.await.map_err(|e| {
                JsErrorBox::generic(format!("the KV Connect request task failed: {e}"))
            })
        }
    }
}

/// Why an exchange failed.
enum Lost {
    Request(hyper_util::client::legacy::Error),
    Body(hyper::Error),
}

/// An error and its sources, one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Every URL is allowed: the client was given its endpoint by its owner.
#[derive(Clone, Copy, Debug)]
pub struct AllowAll;

impl RemotePermissions for AllowAll {
    fn check_net_url(&self, _url: &Url) -> Result<(), JsErrorBox> {
        Ok(())
    }
}

/// A `denokv_remote` client on `endpoint` (the KV Connect metadata URL) with `token`,
/// over [`HttpTransport`]. Call within a tokio runtime (it spawns its metadata refresh);
/// its futures are not `Send` (`denokv_proto::Database`): await them on a
/// current-thread runtime or a `LocalSet`.
///
/// Errors: the system's TLS roots could not be loaded.
pub fn raw_client(
    endpoint: Url,
    token: String,
    timeout: Duration,
) -> Result<Remote<AllowAll, HttpTransport>, String> {
    let transport = HttpTransport::new(timeout, timeout)?;
    Ok(Remote::new(
        transport,
        AllowAll,
        MetadataEndpoint {
            url: endpoint,
            access_token: token,
        },
    ))
}

impl RemoteResponse for Answer {
    fn bytes(self) -> impl Future<Output = Result<Bytes, JsErrorBox>> + Send + Sync {
        std::future::ready(Ok(self.0))
    }

    fn text(self) -> impl Future<Output = Result<String, JsErrorBox>> + Send + Sync {
        std::future::ready(Ok(String::from_utf8_lossy(&self.0).into_owned()))
    }

    fn stream(self) -> impl Stream<Item = Result<Bytes, JsErrorBox>> + Send + Sync {
        stream::iter([Ok(self.0)])
    }
}
