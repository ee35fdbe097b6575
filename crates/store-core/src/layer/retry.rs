use std::future::Future;
use std::time::Duration;

use super::Layer;
use crate::raw::{Call, Forward, Operation};
use crate::{Error, Result, Store};
use backon::{BackoffBuilder, ExponentialBuilder};

/// Retries transient failures with full-jitter exponential backoff, never applying a
/// write twice.
///
/// Attempt `n` (from 1) waits a uniformly random time in `[0, min(cap, base * 2^(n-1))]`
/// ("full jitter"), or the backend's `retry_after` when it asked for longer.
///
/// Which errors are retried depends on the operation:
/// - reads (`get`, `exists`, `list`), `clear` and idempotent writes (`set` with
///   [`Condition::Always`](crate::Condition::Always),
///   `delete` with [`DeleteCondition::Always`](crate::DeleteCondition::Always)): any
///   transient error
///   ([`Error::is_transient`]);
/// - `incr`, conditional `set` and conditional `delete`: only errors that prove nothing
///   was applied ([`Error::is_retryable`]), because a second attempt after one that did
///   land would count twice or report its own write as a conflict.
///
/// ```
/// use std::time::Duration;
/// use store_core::layer::RetryLayer;
/// let retry = RetryLayer::default()
///     .max_attempts(4)
///     .base_delay(Duration::from_millis(20))
///     .max_delay(Duration::from_secs(1))
///     .warn_on_retry(false);
/// # let _ = retry;
/// ```
#[derive(Debug, Clone)]
pub struct RetryLayer {
    max_attempts: usize,
    base: Duration,
    cap: Duration,
    warn: bool,
}

impl Default for RetryLayer {
    /// 5 attempts, 50 ms base, 2 s cap, a warning per retry.
    fn default() -> Self {
        RetryLayer {
            max_attempts: 5,
            base: Duration::from_millis(50),
            cap: Duration::from_secs(2),
            warn: true,
        }
    }
}

impl RetryLayer {
    /// Total attempts including the first (at least 1; 1 disables retries).
    pub fn max_attempts(mut self, attempts: usize) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Upper bound of the first retry's delay.
    pub fn base_delay(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// Largest delay between two attempts.
    pub fn max_delay(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    /// Whether each retry logs a `tracing` warning (default `true`).
    pub fn warn_on_retry(mut self, warn: bool) -> Self {
        self.warn = warn;
        self
    }
}

impl<S: Store> Layer<S> for RetryLayer {
    type Store = Retry<S>;
    fn layer(&self, inner: S) -> Retry<S> {
        Retry {
            inner,
            policy: self.clone(),
        }
    }
}

/// A store wrapped by [`RetryLayer`].
#[derive(Debug, Clone)]
pub struct Retry<S> {
    inner: S,
    policy: RetryLayer,
}

impl RetryLayer {
    async fn run<T, F, Fut>(&self, operation: Operation, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(self.base)
            .with_max_delay(self.cap)
            .with_max_times(self.max_attempts - 1)
            .build();
        let mut attempt = 1;
        loop {
            let err = match call().await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            // A write that may have landed is sent again only when the error proves it
            // did not.
            let retry = if operation.is_idempotent() {
                err.is_transient()
            } else {
                err.is_retryable()
            };
            let Some(ceiling) = delays.next().filter(|_| retry) else {
                return Err(err);
            };
            let jittered = ceiling.mul_f64(fastrand::f64());
            let delay = match &err {
                Error::Throttled {
                    retry_after: Some(asked),
                    ..
                } => jittered.max(*asked),
                _ => jittered,
            };
            if self.warn {
                tracing::warn!(
                    operation = operation.name(),
                    attempt,
                    delay_ms = delay.as_millis() as u64,
                    error = %err,
                    "store operation failed, retrying"
                );
            }
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

impl<S: Store> Forward for Retry<S> {
    type Inner = S;

    fn inner(&self) -> &S {
        &self.inner
    }

    async fn around<T, F, Fut>(&self, call: Call<'_>, run: F) -> Result<T>
    where
        T: Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
    {
        self.policy.run(call.operation, run).await
    }
}

crate::forward_store!(impl[S: Store] Retry<S>);
