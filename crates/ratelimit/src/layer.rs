//! A tower `Layer` for HTTP services.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderValue, Request, Response, StatusCode};
use store_core::Store;

use crate::{Decision, RateLimiter};

/// Limits an HTTP service per caller: 429 with `Retry-After` when refused, and the
/// `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers (seconds) on
/// every response.
///
/// `key` picks the caller from the request (IP, API key, route...); a request it returns
/// `None` for passes unlimited. A store error that the limiter's failure policy does not
/// absorb answers 503.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use http::{Request, Response, StatusCode};
/// use ratelimit::{Policy, Quota, RateLimitLayer, RateLimiter};
/// use tower::{Layer, ServiceExt, service_fn};
///
/// let limiter = RateLimiter::builder(store_memory::MemoryStore::new(), "http")
///     .default_policy(Policy::fixed_window(Quota::per_minute(1)))
///     .build()?;
/// let layer = RateLimitLayer::new(Arc::new(limiter), "api", |req: &Request<String>| {
///     req.headers().get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_owned)
/// });
/// let service = layer.layer(service_fn(|_req: Request<String>| async {
///     Ok::<_, std::convert::Infallible>(Response::new(String::from("hello")))
/// }));
/// let request = || Request::builder().header("x-api-key", "k1").body(String::new()).unwrap();
/// let first = service.clone().oneshot(request()).await.unwrap();
/// assert_eq!(first.headers()["ratelimit-remaining"], "0");
/// let second = service.oneshot(request()).await.unwrap();
/// assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
/// assert!(second.headers().contains_key("retry-after"));
/// # Ok::<(), store_core::Error>(())
/// # }).unwrap();
/// ```
pub struct RateLimitLayer<S, K> {
    limiter: Arc<RateLimiter<S>>,
    resource: Arc<str>,
    key: Arc<K>,
}

impl<S, K> Clone for RateLimitLayer<S, K> {
    fn clone(&self) -> Self {
        RateLimitLayer {
            limiter: self.limiter.clone(),
            resource: self.resource.clone(),
            key: self.key.clone(),
        }
    }
}

impl<S: std::fmt::Debug, K> std::fmt::Debug for RateLimitLayer<S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("limiter", &self.limiter)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl<S, K> RateLimitLayer<S, K> {
    /// Limits with `limiter` under `resource`, keyed by `key`.
    pub fn new(limiter: Arc<RateLimiter<S>>, resource: &str, key: K) -> Self {
        RateLimitLayer {
            limiter,
            resource: Arc::from(resource),
            key: Arc::new(key),
        }
    }
}

impl<Inner, S, K> tower::Layer<Inner> for RateLimitLayer<S, K> {
    type Service = RateLimitService<Inner, S, K>;

    fn layer(&self, inner: Inner) -> Self::Service {
        RateLimitService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`RateLimitLayer`] wraps around another.
pub struct RateLimitService<Inner, S, K> {
    inner: Inner,
    layer: RateLimitLayer<S, K>,
}

impl<Inner: Clone, S, K> Clone for RateLimitService<Inner, S, K> {
    fn clone(&self) -> Self {
        RateLimitService {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<Inner: std::fmt::Debug, S: std::fmt::Debug, K> std::fmt::Debug
    for RateLimitService<Inner, S, K>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

fn seconds(d: Duration) -> HeaderValue {
    HeaderValue::from(d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

fn set_headers<B>(response: &mut Response<B>, decision: &Decision) {
    let headers = response.headers_mut();
    headers.insert("ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(decision.remaining));
    headers.insert("ratelimit-reset", seconds(decision.reset_after));
    if let Some(retry) = decision.retry_after {
        headers.insert(http::header::RETRY_AFTER, seconds(retry));
    }
}

fn status<B: Default>(code: StatusCode) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = code;
    response
}

impl<Inner, S, K, ReqBody, ResBody> tower::Service<Request<ReqBody>>
    for RateLimitService<Inner, S, K>
where
    Inner: tower::Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    Inner::Future: Send,
    S: Store + 'static,
    K: Fn(&Request<ReqBody>) -> Option<String> + Send + Sync + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = Inner::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The clone that was polled ready serves this request (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let key = (self.layer.key)(&request);
        let limiter = self.layer.limiter.clone();
        let resource = self.layer.resource.clone();
        Box::pin(async move {
            let Some(key) = key else {
                return inner.call(request).await;
            };
            match limiter.check(&resource, &key).await {
                Ok(decision) if decision.allowed => {
                    let mut response = inner.call(request).await?;
                    set_headers(&mut response, &decision);
                    Ok(response)
                }
                Ok(decision) => {
                    let mut response = status(StatusCode::TOO_MANY_REQUESTS);
                    set_headers(&mut response, &decision);
                    Ok(response)
                }
                Err(error) => {
                    tracing::error!(%error, "rate limit check failed");
                    Ok(status(StatusCode::SERVICE_UNAVAILABLE))
                }
            }
        })
    }
}
