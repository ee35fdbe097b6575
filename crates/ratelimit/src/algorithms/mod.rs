//! The algorithms, each generic over the store so the local fallback runs the same code.
//!
//! They are written as `fn ... -> impl Future + Send` rather than `async fn` on purpose:
//! with `async fn`, whether the limiter's futures are `Send` is inferred through these
//! generic helpers at every use site, and the compiler fails that inference when a
//! limiter is used from `tokio::spawn` ("implementation of `Store` is not general
//! enough"). Declaring `Send` here checks it once, at the definition.
//!
//! One file per algorithm (`fixed`, `sliding`, `gcra`), each with its check, `status`
//! and `cooldown`; the functions here dispatch with exhaustive matches, so a new
//! algorithm cannot silently run as another.
#![allow(clippy::manual_async_fn)]

use std::future::Future;
use std::time::Duration;

use moka::sync::Cache;
use store_core::{Capabilities, DeleteCondition, Entry, Error, Result, Store, Timestamp};

use crate::keys::window_key;
use crate::{Algorithm, Decision, Policy};

pub(crate) mod fixed;
pub(crate) mod gcra;
pub(crate) mod sliding;

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn counter_of(entry: &Entry) -> u64 {
    std::str::from_utf8(&entry.value)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .map_or(0, |n| n.max(0) as u64)
}

/// A window's final count (0 if it has none).
pub(crate) fn read_count<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
) -> impl Future<Output = Result<u64>> + Send + 'a {
    async move { Ok(store.get(ns, key).await?.as_ref().map_or(0, counter_of)) }
}

/// Refuses a store that cannot enforce `policy` exactly, and a lease on an algorithm
/// other than the fixed window.
pub(crate) fn supports(caps: &Capabilities, policy: &Policy) -> Result<()> {
    if policy.lease.is_some() && policy.algorithm != Algorithm::FixedWindow {
        return Err(Error::InvalidArgument(format!(
            "lease mode applies to fixed windows, not {:?}",
            policy.algorithm
        )));
    }
    let (ok, need) = match policy.algorithm {
        Algorithm::FixedWindow | Algorithm::SlidingWindow => (caps.atomic_incr, "atomic incr"),
        Algorithm::Gcra => (
            caps.atomic_advance || caps.compare_and_set,
            "an atomic advance or compare-and-set",
        ),
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

/// Takes `n` units of `key` under `policy`.
pub(crate) fn check<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    policy: Policy,
    n: u64,
    cache: Option<&'a Cache<String, u64>>,
    now: Timestamp,
) -> impl Future<Output = Result<Decision>> + Send + 'a {
    async move {
        let quota = policy.quota;
        match policy.algorithm {
            Algorithm::FixedWindow => fixed::check(store, ns, key, quota, n, now).await,
            Algorithm::SlidingWindow => sliding::check(store, ns, key, quota, n, cache, now).await,
            Algorithm::Gcra => gcra::check(store, ns, key, quota, n).await,
        }
    }
}

/// A decision for one more unit without taking it: the state is only read.
pub(crate) fn status<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    policy: Policy,
    cache: Option<&'a Cache<String, u64>>,
    now: Timestamp,
) -> impl Future<Output = Result<Decision>> + Send + 'a {
    async move {
        let quota = policy.quota;
        match policy.algorithm {
            Algorithm::FixedWindow => fixed::status(store, ns, key, quota, now).await,
            Algorithm::SlidingWindow => sliding::status(store, ns, key, quota, cache, now).await,
            Algorithm::Gcra => gcra::status(store, ns, key, quota).await,
        }
    }
}

/// Refuses every check of `key` for `pause`, for the whole fleet, by saturating the
/// state checks read (no extra round trip per check). A fixed window resumes exactly
/// after `pause`; a sliding window and GCRA at most one window after it.
pub(crate) fn cooldown<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    policy: Policy,
    pause: Duration,
    now: Timestamp,
) -> impl Future<Output = Result<()>> + Send + 'a {
    async move {
        let quota = policy.quota;
        match policy.algorithm {
            Algorithm::FixedWindow => fixed::cooldown(store, ns, key, quota, pause).await,
            Algorithm::SlidingWindow => sliding::cooldown(store, ns, key, quota, pause, now).await,
            Algorithm::Gcra => gcra::cooldown(store, ns, key, quota, pause).await,
        }
    }
}

/// Every state key a check of `key` under `policy` may read now.
pub(crate) fn state_keys(key: &str, policy: Policy, now: Timestamp) -> Vec<String> {
    match policy.algorithm {
        Algorithm::FixedWindow | Algorithm::Gcra => vec![key.to_owned()],
        Algorithm::SlidingWindow => {
            let index = sliding::Position::of(policy.quota, now).index;
            vec![
                window_key(key, index),
                window_key(key, index.saturating_sub(1)),
            ]
        }
    }
}

/// Deletes a key's state (all windows a check may read).
pub(crate) fn reset<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    keys: &'a [String],
) -> impl Future<Output = Result<()>> + Send + 'a {
    async move {
        for key in keys {
            store.delete(ns, key, DeleteCondition::Always).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::fixed::window_decision;
    use super::sliding::sliding_decision;
    use super::*;
    use crate::Quota;

    #[test]
    fn sliding_window_weights_the_previous_window_by_its_overlap() {
        let quota = Quota::new(100, Duration::from_millis(1000)).unwrap();
        // 30% into the window: 70% of the previous 100 still counts, 70 + 30 = 100.
        let d = sliding_decision(quota, 30, 100, 300, 1000);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        // One more is over by 1, which slides out after 1000 ms / 100 = 10 ms.
        let d = sliding_decision(quota, 31, 100, 300, 1000);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Some(Duration::from_millis(10)));
        // Over the limit within this window alone: wait for the window to end.
        let d = sliding_decision(quota, 101, 0, 300, 1000);
        assert_eq!(d.retry_after, Some(Duration::from_millis(700)));
    }

    #[test]
    fn the_previous_windows_share_is_rounded_up_at_the_edge() {
        let quota = Quota::new(3, Duration::from_millis(1000)).unwrap();
        // 1 ms into the window, 3 × 0.999 of the previous window still counts: with
        // the one taken now that is over 3, so nothing more is admitted at the edge.
        let d = sliding_decision(quota, 1, 3, 1, 1000);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        // 3 × (1000 - 334) / 1000 = 1.998 is the first share that leaves room: 333 ms on.
        assert_eq!(d.retry_after, Some(Duration::from_millis(333)));
        assert!(!sliding_decision(quota, 1, 3, 333, 1000).allowed);
        assert!(sliding_decision(quota, 1, 3, 334, 1000).allowed);
        // Every retry time is the first millisecond that admits, never later or earlier.
        for previous in 1..=7 {
            for current in 0..=3 {
                for elapsed in 0..1000 {
                    let d = sliding_decision(quota, current, previous, elapsed, 1000);
                    let Some(wait) = d.retry_after else { continue };
                    let at = elapsed + wait.as_millis() as u64;
                    if at < 1000 {
                        assert!(sliding_decision(quota, current, previous, at, 1000).allowed);
                    }
                    let before = at - 1;
                    assert!(
                        before < elapsed
                            || !sliding_decision(quota, current, previous, before, 1000).allowed,
                        "previous {previous} current {current} at {elapsed}: {wait:?} is late"
                    );
                }
            }
        }
    }

    #[test]
    fn fixed_window_admits_exactly_the_limit() {
        let quota = Quota::per_minute(3);
        assert!(window_decision(quota, 3, Duration::ZERO).allowed);
        let d = window_decision(quota, 4, Duration::from_secs(5));
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Some(Duration::from_secs(5)));
    }
}
