//! A run whose handler has started and holds until the test releases it.

use std::sync::Arc;

use idempotency::Idempotency;
use serde_json::Value;
use store_core::{Store, Timestamp};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::scenarios::AppError;

pub(crate) struct StalledRun {
    release: Arc<Notify>,
    run: JoinHandle<Result<Value, AppError>>,
}

impl StalledRun {
    /// Starts the run of `payload` (with `deadline`) and returns once its handler is
    /// running; released, the handler returns `result`.
    pub(crate) async fn start<S: Store + Send + Sync + 'static>(
        idempotency: &Idempotency<S>,
        payload: Value,
        deadline: Option<Timestamp>,
        result: Value,
    ) -> Self {
        let started = Arc::new(Notify::new());
        let release = Arc::new(Notify::new());
        let run = {
            let (idempotency, started, release) =
                (idempotency.clone(), started.clone(), release.clone());
            tokio::spawn(async move {
                idempotency
                    .idempotent_until(&payload, deadline, || async move {
                        started.notify_one();
                        release.notified().await;
                        Ok::<_, AppError>(result)
                    })
                    .await
            })
        };
        started.notified().await;
        StalledRun { release, run }
    }

    /// Lets the handler finish, and returns what the run returned to its caller.
    pub(crate) async fn finish(self) -> Result<Value, AppError> {
        self.release.notify_one();
        self.run.await.expect("the stalled run did not panic")
    }
}
