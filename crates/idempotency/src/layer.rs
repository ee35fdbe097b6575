//! A tower layer for HTTP services keyed by the `Idempotency-Key` header.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use base64::Engine as _;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, request};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store_core::{BoxError, Store};

use crate::protocol::Keys;
use crate::{Idempotency, IdempotencyError, hash};

/// The header replayed responses carry: `idempotent-replayed: true`.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// What to do with a request that has no idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingKey {
    /// Answer `400 Bad Request` without calling the service (the default).
    #[default]
    Reject,
    /// Call the service without idempotency.
    PassThrough,
}

type KeyScope = Arc<dyn Fn(&request::Parts) -> Option<String> + Send + Sync>;

/// Makes an HTTP service idempotent per `Idempotency-Key` header.
///
/// - The first request with a key runs the service; its response (status, headers,
///   body) is stored unless it is a server error (5xx), which deletes the record so a
///   retry can run.
/// - A repeat with the same key and the same method, URI and body gets the stored
///   response, with `idempotent-replayed: true`.
/// - Same key while the first is still running: `409 Conflict`. Same key with a
///   different method, URI or body: `422 Unprocessable Entity`. No key: `400` or
///   pass-through ([`MissingKey`]). Store failure: `503`.
///
/// Keys are global to the [`Idempotency`] namespace unless [`IdempotencyLayer::key_scope`]
/// scopes them (e.g. per API client, as payment APIs do).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use idempotency::{Config, Idempotency, IdempotencyLayer};
/// use tower::{Layer, ServiceExt, service_fn};
///
/// let idempotency = Idempotency::new(store_memory::MemoryStore::new(), Config::new("orders-api"))?;
/// let service = IdempotencyLayer::new(idempotency).layer(service_fn(|_req: Request<Full<bytes::Bytes>>| async {
///     Ok::<_, std::convert::Infallible>(Response::new(Full::from("created order 17")))
/// }));
/// let request = || Request::post("/orders").header("idempotency-key", "k-1").body(Full::from("{}")).unwrap();
/// let first = service.clone().oneshot(request()).await?;
/// let again = service.clone().oneshot(request()).await?;
/// assert_eq!(again.headers()["idempotent-replayed"], "true");
/// # let _ = first;
/// # Ok(())
/// # }
/// ```
pub struct IdempotencyLayer<S> {
    idempotency: Idempotency<S>,
    header: HeaderName,
    missing_key: MissingKey,
    key_scope: Option<KeyScope>,
}

impl<S> Clone for IdempotencyLayer<S> {
    fn clone(&self) -> Self {
        IdempotencyLayer {
            idempotency: self.idempotency.clone(),
            header: self.header.clone(),
            missing_key: self.missing_key,
            key_scope: self.key_scope.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for IdempotencyLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyLayer")
            .field("idempotency", &self.idempotency)
            .field("header", &self.header)
            .field("missing_key", &self.missing_key)
            .field("key_scope", &self.key_scope.is_some())
            .finish()
    }
}

impl<S> IdempotencyLayer<S> {
    /// A layer keyed by the `Idempotency-Key` header.
    pub fn new(idempotency: Idempotency<S>) -> Self {
        IdempotencyLayer {
            idempotency,
            header: HeaderName::from_static("idempotency-key"),
            missing_key: MissingKey::default(),
            key_scope: None,
        }
    }

    /// Reads the key from another header.
    pub fn header(mut self, header: HeaderName) -> Self {
        self.header = header;
        self
    }

    /// What happens to requests without a key (default: `400`).
    pub fn missing_key(mut self, missing_key: MissingKey) -> Self {
        self.missing_key = missing_key;
        self
    }

    /// Scopes keys, e.g. by API client: requests whose scope differs never share a
    /// record even with equal keys. `None` from the closure means no scope.
    pub fn key_scope(
        mut self,
        scope: impl Fn(&request::Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.key_scope = Some(Arc::new(scope));
        self
    }
}

impl<S, Inner> tower::Layer<Inner> for IdempotencyLayer<S> {
    type Service = IdempotencyService<S, Inner>;
    fn layer(&self, inner: Inner) -> Self::Service {
        IdempotencyService {
            layer: self.clone(),
            inner,
        }
    }
}

/// The service [`IdempotencyLayer`] produces.
pub struct IdempotencyService<S, Inner> {
    layer: IdempotencyLayer<S>,
    inner: Inner,
}

impl<S, Inner: Clone> Clone for IdempotencyService<S, Inner> {
    fn clone(&self) -> Self {
        IdempotencyService {
            layer: self.layer.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<S: fmt::Debug, Inner> fmt::Debug for IdempotencyService<S, Inner> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyService")
            .field("layer", &self.layer)
            .finish_non_exhaustive()
    }
}

/// A response as stored: status, headers (values as text, or base64 when not text) and
/// the body in base64.
#[derive(Debug, Serialize, Deserialize)]
struct StoredResponse {
    status: u16,
    headers: Vec<StoredHeader>,
    body: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredHeader {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
}

const B64: base64::engine::general_purpose::GeneralPurpose =
    base64::engine::general_purpose::STANDARD;

/// Hop-by-hop and length headers are the transport's, not the response's.
fn stored_header(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "content-length"
            | "upgrade"
            | "te"
            | "trailer"
    )
}

impl StoredResponse {
    fn new(parts: &http::response::Parts, body: &Bytes) -> Self {
        let headers = parts
            .headers
            .iter()
            .filter(|(name, _)| stored_header(name))
            .map(|(name, value)| match value.to_str() {
                Ok(text) => StoredHeader {
                    name: name.as_str().to_owned(),
                    text: Some(text.to_owned()),
                    base64: None,
                },
                Err(_) => StoredHeader {
                    name: name.as_str().to_owned(),
                    text: None,
                    base64: Some(B64.encode(value.as_bytes())),
                },
            })
            .collect();
        StoredResponse {
            status: parts.status.as_u16(),
            headers,
            body: B64.encode(body),
        }
    }

    fn into_response(self) -> Result<Response<Full<Bytes>>, IdempotencyError> {
        let corrupt =
            |what: &str| IdempotencyError::serialization(format!("stored response: {what}"));
        let mut response = Response::new(Full::from(
            B64.decode(self.body.as_bytes())
                .map_err(|_| corrupt("body is not base64"))?,
        ));
        *response.status_mut() =
            StatusCode::from_u16(self.status).map_err(|_| corrupt("bad status"))?;
        for header in self.headers {
            let name = HeaderName::from_bytes(header.name.as_bytes())
                .map_err(|_| corrupt("bad header name"))?;
            let value = match (header.text, header.base64) {
                (Some(text), _) => {
                    HeaderValue::from_str(&text).map_err(|_| corrupt("bad header value"))?
                }
                (None, Some(b64)) => {
                    let bytes = B64
                        .decode(b64.as_bytes())
                        .map_err(|_| corrupt("bad header value"))?;
                    HeaderValue::from_bytes(&bytes).map_err(|_| corrupt("bad header value"))?
                }
                (None, None) => continue,
            };
            response.headers_mut().append(name, value);
        }
        Ok(response)
    }
}

/// Why a request was not answered from or recorded into the store.
enum Failure<E> {
    Idempotency(IdempotencyError),
    /// The service failed: the record is deleted and the error returned.
    Service(E),
    /// A 5xx response: not stored, passed through.
    NotStored(Response<Full<Bytes>>),
    /// The service's response body failed.
    Body(BoxError),
}

impl<E> From<IdempotencyError> for Failure<E> {
    fn from(error: IdempotencyError) -> Self {
        Failure::Idempotency(error)
    }
}

fn plain(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::from(message.to_owned()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn error_response(error: &IdempotencyError) -> Response<Full<Bytes>> {
    let status = match error {
        IdempotencyError::AlreadyInProgress { .. } => StatusCode::CONFLICT,
        IdempotencyError::PayloadMismatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        IdempotencyError::NoIdempotencyKey => StatusCode::BAD_REQUEST,
        IdempotencyError::Persistence(_) | IdempotencyError::Unrecorded(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status.is_server_error() {
        tracing::error!(%error, "idempotency layer failed");
    }
    plain(status, &error.to_string())
}

fn request_hash(parts: &request::Parts, body: &Bytes) -> String {
    let mut hasher = Sha256::new();
    for part in [
        parts.method.as_str().as_bytes(),
        b"\n",
        parts.uri.to_string().as_bytes(),
        b"\n",
    ] {
        hasher.update(part);
    }
    hasher.update(body);
    hex::encode(hasher.finalize())
}

impl<S, Inner, ReqBody, ResBody> tower::Service<Request<ReqBody>> for IdempotencyService<S, Inner>
where
    S: Store + 'static,
    Inner:
        tower::Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone + Send + 'static,
    Inner::Future: Send + 'static,
    Inner::Error: Send + 'static,
    ReqBody: Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Inner::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The clone that was driven to readiness serves this request.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(error) => {
                    let error: BoxError = error.into();
                    return Ok(plain(
                        StatusCode::BAD_REQUEST,
                        &format!("could not read the request body: {error}"),
                    ));
                }
            };
            let Some(key) = parts.headers.get(&layer.header).cloned() else {
                return match layer.missing_key {
                    MissingKey::Reject => Ok(plain(
                        StatusCode::BAD_REQUEST,
                        &format!("the `{}` header is required", layer.header),
                    )),
                    MissingKey::PassThrough => {
                        let response = inner
                            .call(Request::from_parts(parts, Full::from(body)))
                            .await?;
                        Ok(collect_response(response).await.unwrap_or_else(|e| {
                            plain(
                                StatusCode::BAD_GATEWAY,
                                &format!("response body failed: {e}"),
                            )
                        }))
                    }
                };
            };
            let scope = layer.key_scope.as_ref().and_then(|scope| scope(&parts));
            let keys = Keys {
                key: hash::hash(&serde_json::json!([scope, B64.encode(key.as_bytes())])),
                validation: Some(request_hash(&parts, &body)),
            };
            let ran = AtomicBool::new(false);
            let handler = || async {
                ran.store(true, Ordering::Relaxed);
                let response = inner
                    .call(Request::from_parts(parts, Full::from(body)))
                    .await
                    .map_err(Failure::Service)?;
                let (parts, body) = response.into_parts();
                let body = body
                    .collect()
                    .await
                    .map_err(|e| Failure::Body(e.into()))?
                    .to_bytes();
                if parts.status.is_server_error() {
                    return Err(Failure::NotStored(Response::from_parts(
                        parts,
                        Full::from(body),
                    )));
                }
                Ok(StoredResponse::new(&parts, &body))
            };
            let outcome: Result<StoredResponse, Failure<Inner::Error>> =
                layer.idempotency.execute(keys, None, handler).await;
            match outcome {
                Ok(stored) => match stored.into_response() {
                    Ok(mut response) => {
                        if !ran.load(Ordering::Relaxed) {
                            response
                                .headers_mut()
                                .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
                        }
                        Ok(response)
                    }
                    Err(error) => Ok(error_response(&error)),
                },
                Err(Failure::Idempotency(error)) => Ok(error_response(&error)),
                Err(Failure::Service(error)) => Err(error),
                Err(Failure::NotStored(response)) => Ok(response),
                Err(Failure::Body(error)) => Ok(plain(
                    StatusCode::BAD_GATEWAY,
                    &format!("the service's response body failed: {error}"),
                )),
            }
        })
    }
}

async fn collect_response<B>(response: Response<B>) -> Result<Response<Full<Bytes>>, BoxError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(Into::into)?.to_bytes();
    Ok(Response::from_parts(parts, Full::from(body)))
}
