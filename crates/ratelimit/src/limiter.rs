//! The limiter: policies per resource, the shared store, and what to do when it fails.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use moka::sync::Cache;
use store_core::{Error, Result, SharedStore, Store};

use crate::algorithms::{self, window_key};
use crate::{Algorithm, Decision, Policy, Quota};

/// What a check does when the shared store fails or does not answer in time.
#[derive(Clone)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Admit (availability first). Decisions say `degraded`.
    Open,
    /// Refuse (protection first), with a one-second `retry_after`.
    Closed,
    /// Limit locally: the same algorithm on `local` (an in-process store, e.g.
    /// `store_memory::MemoryStore`) with the limit divided by `expected_instances`, so
    /// the fleet as a whole stays near its budget while the store is gone.
    Fallback {
        /// The local store.
        local: SharedStore,
        /// How many instances share the budget.
        expected_instances: u32,
    },
}

impl fmt::Debug for FailurePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailurePolicy::Open => f.write_str("Open"),
            FailurePolicy::Closed => f.write_str("Closed"),
            FailurePolicy::Fallback {
                expected_instances, ..
            } => f
                .debug_struct("Fallback")
                .field("expected_instances", expected_instances)
                .finish_non_exhaustive(),
        }
    }
}

/// The degraded decision of [`FailurePolicy::Open`] (`allowed`) or
/// [`FailurePolicy::Closed`] (refused, retry in a second).
pub(crate) fn fixed_decision(quota: Quota, allowed: bool) -> Decision {
    Decision {
        allowed,
        limit: quota.limit(),
        remaining: if allowed { quota.limit() } else { 0 },
        reset_after: if allowed {
            Duration::ZERO
        } else {
            Duration::from_secs(1)
        },
        retry_after: (!allowed).then_some(Duration::from_secs(1)),
        degraded: true,
    }
}

/// The shared store's decision within `timeout`, or `None` when the failure policy must
/// decide (the store failed transiently or did not answer). Non-transient errors are
/// returned. `degraded` records which side decided; every switch is logged.
pub(crate) async fn shared_or_degraded(
    shared: impl Future<Output = Result<Decision>>,
    timeout: Duration,
    degraded: &AtomicBool,
    namespace: &str,
    policy: &FailurePolicy,
) -> Result<Option<Decision>> {
    let mut pending = std::pin::pin!(shared);
    // An in-process store answers on the first poll: no timer needed then.
    let first = std::future::poll_fn(|cx| Poll::Ready(pending.as_mut().poll(cx))).await;
    let answer = match first {
        Poll::Ready(result) => Ok(result),
        Poll::Pending => tokio::time::timeout(timeout, pending).await,
    };
    let failure = match answer {
        Ok(Ok(decision)) => {
            if degraded.swap(false, Ordering::Relaxed) {
                tracing::info!(namespace, "rate limit store is back: shared budgets again");
            }
            return Ok(Some(decision));
        }
        Ok(Err(e)) if !e.is_transient() => return Err(e),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} ms", timeout.as_millis()),
    };
    if !degraded.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            namespace,
            ?policy,
            error = %failure,
            "rate limit store unavailable: applying the failure policy"
        );
    }
    Ok(None)
}

/// Builds a [`RateLimiter`].
#[derive(Debug)]
pub struct RateLimiterBuilder<S> {
    store: S,
    name: String,
    default: Policy,
    policies: HashMap<String, Policy>,
    failure: FailurePolicy,
    timeout: Duration,
}

impl<S: Store> RateLimiterBuilder<S> {
    /// The policy of resources without one of their own (default: 100 per minute,
    /// fixed window).
    pub fn default_policy(mut self, policy: Policy) -> Self {
        self.default = policy;
        self
    }

    /// The policy of `resource`.
    pub fn policy(mut self, resource: impl Into<String>, policy: Policy) -> Self {
        self.policies.insert(resource.into(), policy);
        self
    }

    /// What to do when the store fails (default [`FailurePolicy::Closed`]).
    pub fn on_failure(mut self, policy: FailurePolicy) -> Self {
        self.failure = policy;
        self
    }

    /// Longest a check waits for the store before applying the failure policy (default
    /// 250 ms): a slow store never stalls requests longer than this.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Builds the limiter, refusing a store that cannot enforce a policy exactly
    /// (windows need atomic `incr`; GCRA needs compare-and-set).
    pub fn build(self) -> Result<RateLimiter<S>> {
        for policy in std::iter::once(&self.default).chain(self.policies.values()) {
            supports(self.store.capabilities(), policy)?;
            if let FailurePolicy::Fallback { local, .. } = &self.failure {
                supports(local.capabilities(), policy)?;
            }
        }
        store_core::raw::validate::validate_namespace(&format!("ratelimit#{}", self.name))?;
        Ok(RateLimiter {
            namespace: format!("ratelimit#{}", self.name),
            store: self.store,
            default: self.default,
            policies: RwLock::new(self.policies),
            failure: self.failure,
            timeout: self.timeout,
            degraded: AtomicBool::new(false),
            previous_counts: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(3600))
                .build(),
        })
    }
}

fn supports(caps: &store_core::Capabilities, policy: &Policy) -> Result<()> {
    let (ok, need) = match policy.algorithm {
        Algorithm::FixedWindow | Algorithm::SlidingWindow => (caps.atomic_incr, "atomic incr"),
        Algorithm::Gcra => (caps.compare_and_set, "compare-and-set"),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::unsupported(
            "rate limiting",
            format!(
                "{:?} needs {need}, which this store does not declare: a limiter on it would \
                 admit more than its limit under concurrency",
                policy.algorithm
            ),
        ))
    }
}

/// A rate limiter whose budgets are shared by every instance using the same store.
///
/// State lives in namespace `ratelimit#<name>`, one key per resource and caller.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use ratelimit::{Policy, Quota, RateLimiter};
/// let store = store_memory::MemoryStore::new();
/// let limiter = RateLimiter::builder(store, "api")
///     .default_policy(Policy::fixed_window(Quota::per_minute(2)))
///     .build()?;
/// assert!(limiter.check("search", "client-7").await?.allowed);
/// assert!(limiter.check("search", "client-7").await?.allowed);
/// let third = limiter.check("search", "client-7").await?;
/// assert!(!third.allowed && third.retry_after.is_some());
/// # Ok::<(), store_core::Error>(())
/// # }).unwrap();
/// ```
pub struct RateLimiter<S> {
    store: S,
    namespace: String,
    default: Policy,
    policies: RwLock<HashMap<String, Policy>>,
    failure: FailurePolicy,
    timeout: Duration,
    degraded: AtomicBool,
    previous_counts: Cache<String, u64>,
}

impl<S: fmt::Debug> fmt::Debug for RateLimiter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("store", &self.store)
            .field("namespace", &self.namespace)
            .field("default", &self.default)
            .field("failure", &self.failure)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<S: Store> RateLimiter<S> {
    /// A builder for a limiter named `name` (its state's namespace) over `store`.
    pub fn builder(store: S, name: &str) -> RateLimiterBuilder<S> {
        RateLimiterBuilder {
            store,
            name: name.to_owned(),
            default: Policy::fixed_window(Quota::per_minute(100)),
            policies: HashMap::new(),
            failure: FailurePolicy::Closed,
            timeout: Duration::from_millis(250),
        }
    }

    /// Sets `resource`'s policy at run time (checked against the store's
    /// capabilities). Counters already running keep their window.
    pub fn set_policy(&self, resource: &str, policy: Policy) -> Result<()> {
        supports(self.store.capabilities(), &policy)?;
        let mut policies = self.policies.write().unwrap_or_else(|p| p.into_inner());
        policies.insert(resource.to_owned(), policy);
        Ok(())
    }

    /// Removes `resource`'s own policy: the default applies again.
    pub fn remove_policy(&self, resource: &str) {
        let mut policies = self.policies.write().unwrap_or_else(|p| p.into_inner());
        policies.remove(resource);
    }

    /// The policy in force for `resource`.
    pub fn policy_for(&self, resource: &str) -> Policy {
        let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
        policies.get(resource).copied().unwrap_or(self.default)
    }

    /// `true` while the last check could not reach the store.
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// Takes one unit for `key` (a caller: IP, API key, user) on `resource`.
    pub async fn check(&self, resource: &str, key: &str) -> Result<Decision> {
        self.check_n(resource, key, 1).await
    }

    /// Takes `n` units at once (all or, if refused, none admitted; a refused batch still
    /// counts against a window, so the limiter never admits more than its limit).
    pub async fn check_n(&self, resource: &str, key: &str, n: u64) -> Result<Decision> {
        if n == 0 || n > i64::MAX as u64 {
            return Err(Error::InvalidArgument(format!(
                "units must be in 1..=i64::MAX, got {n}"
            )));
        }
        let policy = self.policy_for(resource);
        let key = state_key(resource, key);
        let shared = run(
            &self.store,
            &self.namespace,
            &key,
            policy,
            n,
            Some(&self.previous_counts),
        );
        let answer = shared_or_degraded(
            shared,
            self.timeout,
            &self.degraded,
            &self.namespace,
            &self.failure,
        )
        .await?;
        if let Some(decision) = answer {
            return Ok(decision);
        }
        self.degraded_decision(&key, policy, n).await
    }

    async fn degraded_decision(&self, key: &str, policy: Policy, n: u64) -> Result<Decision> {
        let quota = policy.quota;
        let decision = match &self.failure {
            FailurePolicy::Open => fixed_decision(quota, true),
            FailurePolicy::Closed => fixed_decision(quota, false),
            FailurePolicy::Fallback {
                local,
                expected_instances,
            } => {
                let local_policy = Policy {
                    quota: quota.divided(*expected_instances),
                    algorithm: policy.algorithm,
                };
                let mut d = run(local, &self.namespace, key, local_policy, n, None).await?;
                d.degraded = true;
                d
            }
        };
        Ok(decision)
    }

    /// Waits (at most `max_wait`) until `n` units are admitted. Returns the last
    /// decision: refused if the wait ran out. Cancel-safe: dropping it mid-wait takes
    /// nothing more.
    ///
    /// Waiters are spaced evenly across the fleet instead of all waking when the window
    /// resets: each refused waiter draws a ticket from a shared queue counter (one more
    /// `incr`, only on refusal) and sleeps until `retry_after + (ticket - 1) * window / limit`,
    /// so the next window's budget is handed out one slot after another.
    pub async fn acquire(
        &self,
        resource: &str,
        key: &str,
        n: u64,
        max_wait: Duration,
    ) -> Result<Decision> {
        let deadline = Instant::now() + max_wait;
        let policy = self.policy_for(resource);
        let queue = format!("{}#queue", state_key(resource, key));
        loop {
            let decision = self.check_n(resource, key, n).await?;
            let now = Instant::now();
            if decision.allowed || now >= deadline {
                return Ok(decision);
            }
            let retry_after = decision
                .retry_after
                .unwrap_or(Duration::from_millis(10))
                .max(Duration::from_millis(1));
            let slot =
                policy.quota.window() / u32::try_from(policy.quota.limit()).unwrap_or(u32::MAX);
            let position = if decision.degraded {
                0
            } else {
                // The queue lives until the budget it queues for opens.
                match self
                    .store
                    .incr(&self.namespace, &queue, 1, Some(retry_after))
                    .await
                {
                    Ok(ticket) => u32::try_from(ticket.value.max(1) - 1).unwrap_or(u32::MAX),
                    Err(_) => 0,
                }
            };
            let wait = retry_after
                .saturating_add(slot.saturating_mul(position))
                .min(deadline - now);
            tokio::time::sleep(wait).await;
        }
    }

    /// The decision one more unit would get, without taking it (the state is only read:
    /// one `get`, two for a sliding window outside steady state).
    pub async fn status(&self, resource: &str, key: &str) -> Result<Decision> {
        let policy = self.policy_for(resource);
        let key = state_key(resource, key);
        algorithms::status(
            &self.store,
            &self.namespace,
            &key,
            policy,
            Some(&self.previous_counts),
        )
        .await
    }

    /// How long until one unit would be admitted (zero when it would be now).
    pub async fn wait_time(&self, resource: &str, key: &str) -> Result<Duration> {
        Ok(self
            .status(resource, key)
            .await?
            .retry_after
            .unwrap_or(Duration::ZERO))
    }

    /// Refuses `key` on `resource` for `pause`, for every instance sharing the store:
    /// use it when the server behind the limit answers 429 with `Retry-After`. The
    /// limiter's state is saturated, so checks keep their single round trip. Fixed
    /// window and GCRA admit again right after `pause` (a fresh window); a sliding
    /// window within one window after it.
    pub async fn cooldown(&self, resource: &str, key: &str, pause: Duration) -> Result<()> {
        if pause.is_zero() {
            return Ok(());
        }
        store_core::raw::validate::ttl(Some(pause))?;
        let policy = self.policy_for(resource);
        let key = state_key(resource, key);
        algorithms::cooldown(&self.store, &self.namespace, &key, policy, pause).await
    }

    /// [`RateLimiter::cooldown`] for the pause a `Retry-After` header asks for (delay
    /// seconds or an HTTP date). Returns the pause applied; an unreadable header is
    /// an `InvalidArgument` error and changes nothing.
    pub async fn cooldown_from_retry_after(
        &self,
        resource: &str,
        key: &str,
        retry_after: &http::HeaderValue,
    ) -> Result<Duration> {
        let pause = parse_retry_after(retry_after, std::time::SystemTime::now())?;
        self.cooldown(resource, key, pause).await?;
        Ok(pause)
    }

    /// Forgets `key`'s usage on `resource` (a full budget again).
    pub async fn reset(&self, resource: &str, key: &str) -> Result<()> {
        let policy = self.policy_for(resource);
        let key = state_key(resource, key);
        let keys = match policy.algorithm {
            Algorithm::SlidingWindow => {
                let window = u64::try_from(policy.quota.window().as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1);
                let index = store_core::Timestamp::now().as_millis() / window;
                vec![
                    window_key(&key, index),
                    window_key(&key, index.saturating_sub(1)),
                ]
            }
            _ => vec![key],
        };
        algorithms::reset(&self.store, &self.namespace, &keys).await
    }
}

/// One key per resource and caller: `<resource length>:<resource>:<caller>`.
fn state_key(resource: &str, key: &str) -> String {
    format!("{}:{resource}:{key}", resource.len())
}

async fn run<T: Store>(
    store: &T,
    namespace: &str,
    key: &str,
    policy: Policy,
    n: u64,
    cache: Option<&Cache<String, u64>>,
) -> Result<Decision> {
    match policy.algorithm {
        Algorithm::FixedWindow => {
            algorithms::fixed_window(store, namespace, key, policy.quota, n).await
        }
        Algorithm::SlidingWindow => {
            algorithms::sliding_window(store, namespace, key, policy.quota, n, cache).await
        }
        Algorithm::Gcra => algorithms::gcra(store, namespace, key, policy.quota, n).await,
    }
}

/// The pause a `Retry-After` value asks for: delay seconds, or an HTTP date (a date in
/// the past is no pause).
fn parse_retry_after(value: &http::HeaderValue, now: std::time::SystemTime) -> Result<Duration> {
    let invalid = || Error::InvalidArgument(format!("unreadable Retry-After value {value:?}"));
    let text = value.to_str().map_err(|_| invalid())?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(text).map_err(|_| invalid())?;
    Ok(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let header = |s: &'static str| http::HeaderValue::from_static(s);
        assert_eq!(
            parse_retry_after(&header("120"), now).unwrap(),
            Duration::from_secs(120)
        );
        assert_eq!(
            parse_retry_after(&header("Wed, 21 Oct 2015 07:28:30 GMT"), now).unwrap(),
            Duration::from_secs(30)
        );
        assert_eq!(
            parse_retry_after(&header("Wed, 21 Oct 2015 07:00:00 GMT"), now).unwrap(),
            Duration::ZERO
        );
        assert!(parse_retry_after(&header("soon"), now).is_err());
        assert!(parse_retry_after(&header("-5"), now).is_err());
    }
}
