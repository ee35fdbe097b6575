//! The `lambda_runtime` integration (feature `lambda`).
//!
//! [`make_idempotent`] turns a handler of `LambdaEvent<P>` into an idempotent
//! `tower::Service` that `lambda_runtime::run` accepts. The in-progress window of each
//! invocation ends at its deadline (`context.deadline`), so a duplicate can take over
//! as soon as the first invocation cannot be running any more, and not before.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde::de::DeserializeOwned;
use store_core::{Store, Timestamp};

use crate::{Idempotency, IdempotencyError};

/// An idempotent Lambda handler: a `tower::Service<LambdaEvent<P>>`.
pub struct IdempotentHandler<S, F> {
    idempotency: Idempotency<S>,
    handler: Arc<F>,
}

impl<S, F> Clone for IdempotentHandler<S, F> {
    fn clone(&self) -> Self {
        IdempotentHandler {
            idempotency: self.idempotency.clone(),
            handler: Arc::clone(&self.handler),
        }
    }
}

impl<S: fmt::Debug, F> fmt::Debug for IdempotentHandler<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotentHandler")
            .field("idempotency", &self.idempotency)
            .finish_non_exhaustive()
    }
}

/// Wraps `handler` so each event runs once per idempotency key of its payload.
///
/// ```no_run
/// use idempotency::{Config, Idempotency, lambda::make_idempotent};
/// use lambda_runtime::{Error, LambdaEvent};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Order { id: String, amount: u64 }
///
/// async fn charge(event: LambdaEvent<Order>) -> Result<String, Error> {
///     Ok(format!("charged {} for {}", event.payload.amount, event.payload.id))
/// }
///
/// # async fn run() -> Result<(), Error> {
/// let store = store_memory::MemoryStore::new(); // DynamoDB in production
/// // The name defaults to AWS_LAMBDA_FUNCTION_NAME.
/// let idempotency = Idempotency::new(store, Config::default().key_by(|o: &Order| o.id.clone()))?;
/// lambda_runtime::run(make_idempotent(idempotency, charge)).await
/// # }
/// ```
pub fn make_idempotent<S, F>(idempotency: Idempotency<S>, handler: F) -> IdempotentHandler<S, F> {
    IdempotentHandler {
        idempotency,
        handler: Arc::new(handler),
    }
}

impl<S: Store + 'static, F> IdempotentHandler<S, F> {
    /// Handles one event: replays a stored result or runs the handler, with the
    /// in-progress window ending at the invocation's deadline.
    pub async fn call<P, R, E, Fut>(&self, event: LambdaEvent<P>) -> Result<R, E>
    where
        P: Serialize + 'static,
        R: Serialize + DeserializeOwned,
        E: From<IdempotencyError>,
        F: Fn(LambdaEvent<P>) -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        let deadline = Some(Timestamp::from_millis(event.context.deadline));
        let handler = &*self.handler;
        if self.idempotency.is_disabled() {
            return handler(event).await;
        }
        match self.idempotency.keys(&event.payload)? {
            Some(keys) => {
                self.idempotency
                    .execute(keys, deadline, || handler(event))
                    .await
            }
            None => handler(event).await,
        }
    }
}

impl<S, F, P, R, E, Fut> tower::Service<LambdaEvent<P>> for IdempotentHandler<S, F>
where
    S: Store + 'static,
    F: Fn(LambdaEvent<P>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    P: Serialize + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
    E: From<IdempotencyError> + Send + 'static,
{
    type Response = R;
    type Error = E;
    type Future = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, event: LambdaEvent<P>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.call(event).await })
    }
}
