//! The limiter: policies per resource, the shared store, and what to do when it fails.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use moka::sync::Cache;
use store_core::{Clock, Error, Result, Store, SystemClock};

use crate::algorithms::{self, supports};
use crate::failure::{FailureGuard, FailureSettings};
use crate::keys::{queue_key, state_key};
use crate::lease::Leases;
use crate::{Decision, FailurePolicy, Policy, Quota};

/// Builds a [`RateLimiter`].
#[derive(Debug)]
pub struct RateLimiterBuilder<S> {
    store: S,
    name: String,
    default: Policy,
    policies: HashMap<String, Policy>,
    failure: FailureSettings,
    clock: Arc<dyn Clock>,
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
        self.failure.policy = policy;
        self
    }

    /// Longest a check waits for the store before applying the failure policy (default
    /// 250 ms): a slow store never stalls requests longer than this.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.failure.timeout = timeout;
        self
    }

    /// The clock this instance reads where the store's own does not decide: the
    /// sliding window's epoch-aligned boundaries, the fixed window's `reset_after`, and
    /// every algorithm on the local fallback store (default: the system clock). GCRA
    /// on a store that reads its own clock (Redis: the server's `TIME`) never reads it,
    /// so instances whose clocks disagree share one budget exactly there.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Builds the limiter, refusing a store that cannot enforce a policy exactly
    /// (windows need atomic `incr`; GCRA needs compare-and-set).
    pub fn build(self) -> Result<RateLimiter<S>> {
        let failure = FailureGuard::new(self.failure, &self.name);
        for policy in std::iter::once(&self.default).chain(self.policies.values()) {
            supports(self.store.capabilities(), policy)?;
            if let Some(local) = failure.local() {
                supports(local.capabilities(), policy)?;
            }
        }
        Ok(RateLimiter {
            namespace: crate::keys::namespace(&self.name, self.store.capabilities())?,
            name: Arc::from(self.name.as_str()),
            store: self.store,
            default: self.default,
            policies: RwLock::new(self.policies),
            failure,
            clock: self.clock,
            leases: Leases::new(),
            previous_counts: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(3600))
                .build(),
        })
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
    /// The name the limiter was built with, the `limiter` label of its metrics.
    name: Arc<str>,
    default: Policy,
    policies: RwLock<HashMap<String, Policy>>,
    failure: FailureGuard,
    clock: Arc<dyn Clock>,
    leases: Leases,
    previous_counts: Cache<String, u64>,
}

impl<S: fmt::Debug> fmt::Debug for RateLimiter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("store", &self.store)
            .field("namespace", &self.namespace)
            .field("default", &self.default)
            .field("failure", &self.failure)
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
            failure: FailureSettings::default(),
            clock: Arc::new(SystemClock),
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
        self.failure.is_degraded()
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
        let now = self.clock.now();
        let shared = async {
            match policy.lease {
                Some(_) => {
                    let ns = &self.namespace;
                    self.leases
                        .check(&self.store, ns, &key, policy, n, now)
                        .await
                }
                None => {
                    let cache = Some(&self.previous_counts);
                    algorithms::check(&self.store, &self.namespace, &key, policy, n, cache, now)
                        .await
                }
            }
        };
        let decision = self
            .failure
            .decide(&self.namespace, policy.quota, shared, |local, instances| {
                let local_policy = Policy {
                    quota: policy.quota.divided(instances),
                    algorithm: policy.algorithm,
                    lease: None,
                };
                algorithms::check(
                    local,
                    &self.namespace,
                    &key,
                    local_policy,
                    n,
                    None,
                    self.clock.now(),
                )
            })
            .await?;
        crate::metrics::decision(&self.name, resource, policy.algorithm, &decision);
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
        let queue = queue_key(&state_key(resource, key));
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
            self.clock.now(),
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
    /// limiter's state is saturated, so checks keep their single round trip. A fixed
    /// window admits again right after `pause` (a fresh window); a sliding window and
    /// GCRA within one window after it.
    pub async fn cooldown(&self, resource: &str, key: &str, pause: Duration) -> Result<()> {
        if pause.is_zero() {
            return Ok(());
        }
        store_core::raw::validate::ttl(Some(pause))?;
        let policy = self.policy_for(resource);
        let key = state_key(resource, key);
        let now = self.clock.now();
        algorithms::cooldown(&self.store, &self.namespace, &key, policy, pause, now).await
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
        let keys = algorithms::state_keys(&key, policy, self.clock.now());
        algorithms::reset(&self.store, &self.namespace, &keys).await
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
