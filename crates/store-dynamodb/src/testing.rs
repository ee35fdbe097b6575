//! Test and benchmark helpers (feature `testing`): a request counter and a log of the
//! actions sent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};

/// An SDK interceptor counting the requests a client transmits (retries included), to
/// see how many round trips an operation costs. Clones share the count.
///
/// ```
/// use store_dynamodb::{aws_sdk_dynamodb, testing::RequestCounter};
/// let counter = RequestCounter::default();
/// let config = aws_sdk_dynamodb::Config::builder()
///     .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
///     .interceptor(counter.clone())
///     .build();
/// # let _ = config;
/// assert_eq!(counter.count(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<AtomicUsize>);

impl RequestCounter {
    /// Requests transmitted so far.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// An SDK interceptor recording the DynamoDB action of every request a client
/// transmits (`GetItem`, `PutItem`...; retries included), to check what an IAM policy
/// must allow. Clones share the log.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<String>>>);

impl RequestLog {
    /// The actions sent so far, in order.
    pub fn actions(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The distinct actions sent so far, sorted.
    pub fn distinct(&self) -> Vec<String> {
        let mut all = self.actions();
        all.sort_unstable();
        all.dedup();
        all
    }
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "RequestLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        // `X-Amz-Target: DynamoDB_20120810.GetItem`.
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown");
        let action = target.rsplit('.').next().unwrap_or(target).to_owned();
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(action);
        Ok(())
    }
}

/// A store on `table` at the DynamoDB Local `endpoint` (`http://host:port`), reached
/// through a [`FaultProxy`](store_core::testing::FaultProxy) started here, with a
/// 400 ms request timeout so injected faults cost little; the table is created first
/// (directly) if missing. Returns the proxy (drop it to cut everything) and the store.
pub async fn behind_fault_proxy(
    endpoint: &str,
    table: &str,
) -> store_core::Result<(store_core::testing::FaultProxy, crate::DynamoStore)> {
    let direct = crate::DynamoStoreBuilder::from_url(&format!(
        "dynamodb://{table}?endpoint={endpoint}&region=us-east-1"
    ))?
    .build()
    .await?;
    crate::create_table(direct.client(), table, direct.layout()).await?;
    let upstream: std::net::SocketAddr = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| {
            store_core::Error::Misconfigured(format!("`{endpoint}` is not http://host:port: {e}"))
        })?;
    let proxy = store_core::testing::FaultProxy::start(upstream)
        .await
        .map_err(|e| store_core::Error::backend("starting the fault proxy", e))?;
    let store = crate::DynamoStoreBuilder::from_url(&format!(
        "dynamodb://{table}?endpoint=http://127.0.0.1:{}&region=us-east-1",
        proxy.port()
    ))?
    .timeout(std::time::Duration::from_millis(400))
    .build()
    .await?;
    Ok((proxy, store))
}
