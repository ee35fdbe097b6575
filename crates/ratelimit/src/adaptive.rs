//! The adaptive limiter: user requests before background work, with the activity that
//! decides it shared through the store so every instance agrees.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use store_core::{Error, Result, Store, Timestamp};

use crate::algorithms::read_count;
use crate::algorithms::sliding::{Remember, closed_count};
use crate::failure::{FailureGuard, FailureSettings};
use crate::keys::{bucket_key, usage_key};
use crate::{Decision, FailurePolicy, Quota};

/// Whose request a check is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    /// A person is waiting: always served while the budget lasts.
    User,
    /// Work nobody waits on (sync, prefetch, reports): served from what users leave.
    Background,
}

/// How much of the budget recent user activity reserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActivityLevel {
    /// Fewer user requests than the moderate threshold: background may use everything.
    Low,
    /// At least the moderate threshold.
    Moderate,
    /// At least the high threshold.
    High,
}

/// The strategy's knobs (http-client-toolkit's adaptive store, with its defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct AdaptiveConfig {
    /// User requests in the activity window from which activity is high. Default 10.
    pub high_activity_threshold: u64,
    /// User requests in the activity window from which activity is moderate. Default 3.
    pub moderate_activity_threshold: u64,
    /// How far back user activity counts (two buckets of half of it). Default 5 minutes.
    pub activity_window: Duration,
    /// Share of the limit reserved for users at high activity. Default 0.9.
    pub high_activity_reserve: f64,
    /// Share of the limit reserved for users at moderate activity. Default 0.5.
    pub moderate_activity_reserve: f64,
    /// Pause background work entirely while user activity is rising (and at least
    /// moderate). Default `true`.
    pub pause_background_on_rising_trend: bool,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        AdaptiveConfig {
            high_activity_threshold: 10,
            moderate_activity_threshold: 3,
            activity_window: Duration::from_secs(300),
            high_activity_reserve: 0.9,
            moderate_activity_reserve: 0.5,
            pause_background_on_rising_trend: true,
        }
    }
}

impl AdaptiveConfig {
    /// Sets both thresholds.
    pub fn thresholds(mut self, moderate: u64, high: u64) -> Self {
        self.moderate_activity_threshold = moderate;
        self.high_activity_threshold = high;
        self
    }

    /// Sets the activity window.
    pub fn activity_window(mut self, window: Duration) -> Self {
        self.activity_window = window;
        self
    }

    /// Sets the reserved shares at moderate and high activity.
    pub fn reserves(mut self, moderate: f64, high: f64) -> Self {
        self.moderate_activity_reserve = moderate;
        self.high_activity_reserve = high;
        self
    }

    /// Whether a rising trend pauses background work.
    pub fn pause_background_on_rising_trend(mut self, pause: bool) -> Self {
        self.pause_background_on_rising_trend = pause;
        self
    }

    fn validate(&self) -> Result<()> {
        let share = |x: f64| (0.0..=1.0).contains(&x);
        if self.moderate_activity_threshold == 0
            || self.high_activity_threshold < self.moderate_activity_threshold
            || self.activity_window < Duration::from_millis(2)
            || !share(self.moderate_activity_reserve)
            || !share(self.high_activity_reserve)
        {
            return Err(Error::InvalidArgument(format!(
                "adaptive config needs 0 < moderate <= high thresholds, an activity window of at \
                 least 2 ms and reserves within 0..=1, got {self:?}"
            )));
        }
        Ok(())
    }
}

/// Recent user activity on a resource, as every instance sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    /// User requests in the current and previous activity buckets.
    pub recent_user_requests: u64,
    /// The level those requests reach.
    pub level: ActivityLevel,
    /// Whether the current bucket runs at a higher rate than the previous one.
    pub rising: bool,
    /// Units background work may use in the current window at this level.
    pub background_capacity: u64,
}

/// A fleet-wide limit that serves users first.
///
/// Every check of either priority counts against one exact budget (`incr` on a shared
/// fixed-window counter). User checks also count activity in shared buckets (an `incr`
/// sent concurrently: one round trip of latency). Background checks read that activity
/// (the closed bucket is cached, so one `get` in steady state, sent concurrently with
/// the usage `incr`) and are admitted only within what the activity level leaves them:
/// all of the limit at low activity, `1 - reserve` of it at moderate or high activity,
/// and nothing while activity is rising. A refused background check gives its units
/// back, so it never eats the users' budget.
///
/// Like [`crate::RateLimiter`], every check answers within a timeout and a
/// [`FailurePolicy`] decides while the store is down (the fallback runs this same
/// strategy on a local store). A user check that races a refused background check may
/// see the background units before they are given back and be refused: the budget is
/// never exceeded, but can be under-used by that much.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> store_core::Result<()> {
/// use ratelimit::{AdaptiveConfig, AdaptiveRateLimiter, Priority, Quota};
/// let limiter = AdaptiveRateLimiter::builder(store_memory::MemoryStore::new(), "github-api")
///     .quota(Quota::per_hour(5000))
///     .config(AdaptiveConfig::default().thresholds(3, 10))
///     .build()?;
/// assert!(limiter.check("repos", Priority::User).await?.allowed);
/// assert!(limiter.check("repos", Priority::Background).await?.allowed);
/// # Ok(())
/// # }
/// ```
pub struct AdaptiveRateLimiter<S> {
    store: S,
    name: Arc<str>,
    namespace: String,
    default: Quota,
    quotas: RwLock<HashMap<String, Quota>>,
    config: AdaptiveConfig,
    closed_buckets: moka::sync::Cache<String, u64>,
    failure: FailureGuard,
    /// Closed activity buckets of the local fallback store (its counts differ).
    local_closed_buckets: moka::sync::Cache<String, u64>,
}

impl<S: fmt::Debug> fmt::Debug for AdaptiveRateLimiter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveRateLimiter")
            .field("store", &self.store)
            .field("namespace", &self.namespace)
            .field("default", &self.default)
            .field("config", &self.config)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

/// Builds an [`AdaptiveRateLimiter`].
#[derive(Debug)]
pub struct AdaptiveRateLimiterBuilder<S> {
    store: S,
    name: String,
    default: Quota,
    quotas: HashMap<String, Quota>,
    config: AdaptiveConfig,
    failure: FailureSettings,
}

impl<S: Store> AdaptiveRateLimiterBuilder<S> {
    /// The default quota (default 60 per minute).
    pub fn quota(mut self, quota: Quota) -> Self {
        self.default = quota;
        self
    }

    /// A quota for one resource.
    pub fn resource(mut self, resource: impl Into<String>, quota: Quota) -> Self {
        self.quotas.insert(resource.into(), quota);
        self
    }

    /// The strategy's knobs.
    pub fn config(mut self, config: AdaptiveConfig) -> Self {
        self.config = config;
        self
    }

    /// What a check does when the store fails or is slow (default
    /// [`FailurePolicy::Closed`]). With a fallback, the same adaptive strategy runs on the
    /// local store with the limit divided by the expected instances.
    pub fn on_failure(mut self, policy: FailurePolicy) -> Self {
        self.failure.policy = policy;
        self
    }

    /// The longest a check waits for the store (default 250 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.failure.timeout = timeout;
        self
    }

    /// The limiter; refuses stores without atomic incr and invalid configurations.
    pub fn build(self) -> Result<AdaptiveRateLimiter<S>> {
        if !self.store.capabilities().atomic_incr {
            return Err(Error::unsupported(
                "incr",
                "an adaptive limit needs a store with atomic incr",
            ));
        }
        self.config.validate()?;
        let namespace = crate::keys::namespace(&self.name, self.store.capabilities())?;
        Ok(AdaptiveRateLimiter {
            store: self.store,
            name: Arc::from(self.name.as_str()),
            namespace,
            default: self.default,
            quotas: RwLock::new(self.quotas),
            config: self.config,
            closed_buckets: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(self.config.activity_window)
                .build(),
            failure: FailureGuard::new(self.failure, &self.name),
            local_closed_buckets: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(self.config.activity_window)
                .build(),
        })
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl<S: Store> AdaptiveRateLimiter<S> {
    /// A builder for a limiter named `name` over `store`.
    pub fn builder(store: S, name: &str) -> AdaptiveRateLimiterBuilder<S> {
        AdaptiveRateLimiterBuilder {
            store,
            name: name.to_owned(),
            default: Quota::per_minute(60),
            quotas: HashMap::new(),
            config: AdaptiveConfig::default(),
            failure: FailureSettings::default(),
        }
    }

    /// `true` while the last check could not reach the store.
    pub fn is_degraded(&self) -> bool {
        self.failure.is_degraded()
    }

    /// Sets a resource's quota at run time.
    pub fn set_quota(&self, resource: &str, quota: Quota) {
        let mut quotas = self.quotas.write().unwrap_or_else(|p| p.into_inner());
        quotas.insert(resource.to_owned(), quota);
    }

    /// The quota in force for `resource`.
    pub fn quota_for(&self, resource: &str) -> Quota {
        let quotas = self.quotas.read().unwrap_or_else(|p| p.into_inner());
        quotas.get(resource).copied().unwrap_or(self.default)
    }

    fn bucket_len(&self) -> u64 {
        (millis(self.config.activity_window) / 2).max(1)
    }

    /// Takes one unit for `resource` at `priority`.
    pub async fn check(&self, resource: &str, priority: Priority) -> Result<Decision> {
        self.check_n(resource, priority, 1).await
    }

    /// Takes `n` units for `resource` at `priority`, within the timeout; when the store
    /// fails or is slow, the failure policy decides (`degraded` decisions).
    pub async fn check_n(&self, resource: &str, priority: Priority, n: u64) -> Result<Decision> {
        if n == 0 || n > i64::MAX as u64 {
            return Err(Error::InvalidArgument(format!(
                "units must be in 1..=i64::MAX, got {n}"
            )));
        }
        let quota = self.quota_for(resource);
        let shared = self.decide_on(
            &self.store,
            &self.closed_buckets,
            resource,
            priority,
            n,
            quota,
        );
        let decision = self
            .failure
            .decide(&self.namespace, quota, shared, |local, instances| {
                self.decide_on(
                    local,
                    &self.local_closed_buckets,
                    resource,
                    priority,
                    n,
                    quota.divided(instances),
                )
            })
            .await?;
        crate::metrics::adaptive_decision(&self.name, resource, priority, &decision);
        Ok(decision)
    }

    /// The strategy on `store` (the shared one, or the local fallback).
    async fn decide_on<T: Store>(
        &self,
        store: &T,
        closed_buckets: &moka::sync::Cache<String, u64>,
        resource: &str,
        priority: Priority,
        n: u64,
        quota: Quota,
    ) -> Result<Decision> {
        let usage_key = usage_key(resource);
        let bucket = self.bucket_len();
        let now = Timestamp::now().as_millis();
        let index = now / bucket;
        let ns = self.namespace.as_str();
        let usage = store.incr(ns, &usage_key, n as i64, Some(quota.window()));
        match priority {
            Priority::User => {
                let bucket_key = bucket_key(resource, index);
                let activity = store.incr(
                    ns,
                    &bucket_key,
                    n as i64,
                    Some(Duration::from_millis(bucket * 3)),
                );
                let (usage, activity) = futures::join!(usage, activity);
                activity?;
                let usage = usage?;
                Ok(decide(
                    quota,
                    quota.limit(),
                    usage.value.max(0) as u64,
                    usage.expires_at,
                ))
            }
            Priority::Background => {
                let (usage, activity) = futures::join!(
                    usage,
                    self.activity_on(store, closed_buckets, resource, quota, now)
                );
                let usage = usage?;
                let activity = match activity {
                    Ok(activity) => activity,
                    Err(e) => {
                        let _ = store.incr(ns, &usage_key, -(n as i64), None).await;
                        return Err(e);
                    }
                };
                let count = usage.value.max(0) as u64;
                let paused = self.config.pause_background_on_rising_trend
                    && activity.rising
                    && activity.level >= ActivityLevel::Moderate;
                let cap = if paused {
                    0
                } else {
                    activity.background_capacity
                };
                let mut decision = decide(quota, cap, count, usage.expires_at);
                if !decision.allowed {
                    // Give the units back: background refusals must not eat the users' budget.
                    store.incr(ns, &usage_key, -(n as i64), None).await?;
                    if paused {
                        let into_bucket = now % bucket;
                        decision.retry_after = Some(Duration::from_millis(bucket - into_bucket));
                    }
                }
                Ok(decision)
            }
        }
    }

    /// Recent user activity on `resource`, read from the store.
    pub async fn activity(&self, resource: &str) -> Result<Activity> {
        let quota = self.quota_for(resource);
        let now = Timestamp::now().as_millis();
        self.activity_on(&self.store, &self.closed_buckets, resource, quota, now)
            .await
    }

    async fn activity_on<T: Store>(
        &self,
        store: &T,
        closed_buckets: &moka::sync::Cache<String, u64>,
        resource: &str,
        quota: Quota,
        now: u64,
    ) -> Result<Activity> {
        let bucket = self.bucket_len();
        let index = now / bucket;
        let ns = self.namespace.as_str();
        let current_key = bucket_key(resource, index);
        let current = read_count(store, ns, &current_key);
        let previous_key = index.checked_sub(1).map(|i| bucket_key(resource, i));
        let previous = async {
            match &previous_key {
                Some(key) => {
                    closed_count(store, ns, key, Some(closed_buckets), Remember::Yes).await
                }
                None => Ok(0),
            }
        };
        let (current, previous) = futures::join!(current, previous);
        let (current, previous) = (current?, previous?);
        let recent = current.saturating_add(previous);
        let c = &self.config;
        let level = if recent >= c.high_activity_threshold {
            ActivityLevel::High
        } else if recent >= c.moderate_activity_threshold {
            ActivityLevel::Moderate
        } else {
            ActivityLevel::Low
        };
        // Rates per millisecond: the current bucket has run `elapsed` ms so far.
        let elapsed = (now % bucket).max(1);
        let rising = u128::from(current) * u128::from(bucket)
            > u128::from(previous) * u128::from(elapsed) * 3 / 2
            && current > 0;
        let reserve = match level {
            ActivityLevel::High => c.high_activity_reserve,
            ActivityLevel::Moderate => c.moderate_activity_reserve,
            ActivityLevel::Low => 0.0,
        };
        // Rounded, so 80 % of 100 reserves 80 and not 79.99…
        let reserved = ((quota.limit() as f64) * reserve).round() as u64;
        let background_capacity = quota.limit().saturating_sub(reserved);
        Ok(Activity {
            recent_user_requests: recent,
            level,
            rising,
            background_capacity,
        })
    }
}

/// Admitted while `count` is within `cap` (the whole limit for users).
fn decide(quota: Quota, cap: u64, count: u64, expires_at: Option<Timestamp>) -> Decision {
    let reset_after = expires_at.map_or(quota.window(), |at| {
        at.saturating_duration_since(Timestamp::now())
    });
    let allowed = count <= cap;
    Decision {
        allowed,
        limit: quota.limit(),
        remaining: cap.saturating_sub(count),
        reset_after,
        retry_after: (!allowed).then_some(reset_after),
        degraded: false,
        contended: false,
    }
}
