//! The algorithms, each generic over the store so the local fallback runs the same code.
//!
//! They are written as `fn ... -> impl Future + Send` rather than `async fn` on purpose:
//! with `async fn`, whether the limiter's futures are `Send` is inferred through these
//! generic helpers at every use site, and the compiler fails that inference when a
//! limiter is used from `tokio::spawn` ("implementation of `Store` is not general
//! enough"). Declaring `Send` here checks it once, at the definition.
#![allow(clippy::manual_async_fn)]

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use moka::sync::Cache;

use store_core::{
    Bytes, DeleteCondition, Entry, Error, Result, SetOptions, SetOutcome, Store, Timestamp,
};

use crate::{Decision, Quota};

/// Most compare-and-set rounds one GCRA check makes before refusing conservatively.
const GCRA_ROUNDS: usize = 16;

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn counter_of(entry: &Entry) -> u64 {
    std::str::from_utf8(&entry.value)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .map_or(0, |n| n.max(0) as u64)
}

/// Fixed window: one `incr` whose TTL, set when the window's first hit creates the
/// counter, is the window.
pub(crate) fn fixed_window<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    quota: Quota,
    n: u64,
) -> impl Future<Output = Result<Decision>> + Send + 'a {
    async move {
        let out = store.incr(ns, key, n as i64, Some(quota.window())).await?;
        let count = out.value.max(0) as u64;
        let reset_after = out.expires_at.map_or(quota.window(), |at| {
            at.saturating_duration_since(Timestamp::now())
        });
        Ok(window_decision(quota, count, reset_after))
    }
}

fn window_decision(quota: Quota, count: u64, reset_after: Duration) -> Decision {
    let allowed = count <= quota.limit();
    Decision {
        allowed,
        limit: quota.limit(),
        remaining: quota.limit().saturating_sub(count),
        reset_after,
        retry_after: (!allowed).then_some(reset_after),
        degraded: false,
    }
}

/// The key of window number `index` of a sliding-window counter.
pub(crate) fn window_key(key: &str, index: u64) -> String {
    format!("{key}#{index}")
}

/// Sliding-window counter: this window's `incr`, plus the previous window's final
/// count weighted by its overlap. That count no longer changes once its window has
/// closed, so `cache` keeps it: one round trip per check in steady state.
pub(crate) fn sliding_window<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    quota: Quota,
    n: u64,
    cache: Option<&'a Cache<String, u64>>,
) -> impl Future<Output = Result<Decision>> + Send + 'a {
    async move {
        let window = millis(quota.window()).max(1);
        let now = Timestamp::now().as_millis();
        let index = now / window;
        let elapsed = now % window;
        let current = store
            .incr(
                ns,
                &window_key(key, index),
                n as i64,
                Some(quota.window() * 2),
            )
            .await?
            .value
            .max(0) as u64;
        let previous = match index.checked_sub(1) {
            Some(before) => closed_count(store, ns, &window_key(key, before), cache, true).await?,
            None => 0,
        };
        Ok(sliding_decision(quota, current, previous, elapsed, window))
    }
}

fn sliding_decision(
    quota: Quota,
    current: u64,
    previous: u64,
    elapsed: u64,
    window: u64,
) -> Decision {
    // The previous window's share, rounded up: `weighted + current <= limit` is then
    // exactly `previous * overlap + current <= limit` over the reals, so a window edge
    // never admits a unit more than the limit.
    let left = window - elapsed;
    let weighted = (u128::from(previous) * u128::from(left)).div_ceil(u128::from(window)) as u64;
    let total = weighted.saturating_add(current);
    let allowed = total <= quota.limit();
    let reset_after = Duration::from_millis(left);
    let retry_after = (!allowed).then(|| {
        if current > quota.limit() || previous == 0 {
            reset_after
        } else {
            // Admitted once the previous window's share is down to `weighted - excess`:
            // `previous * (left - t) <= (weighted - excess) * window`.
            let keep = u128::from(weighted - (total - quota.limit())) * u128::from(window)
                / u128::from(previous);
            Duration::from_millis(left.saturating_sub(keep as u64))
        }
    });
    Decision {
        allowed,
        limit: quota.limit(),
        remaining: quota.limit().saturating_sub(total),
        reset_after,
        retry_after,
        degraded: false,
    }
}

/// The final count of a closed window: from `cache` when it holds it, else read (and
/// kept in `cache` when `remember`; a closed window's count no longer changes).
pub(crate) fn closed_count<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    cache: Option<&'a Cache<String, u64>>,
    remember: bool,
) -> impl Future<Output = Result<u64>> + Send + 'a {
    async move {
        let cache_key = format!("{ns}\u{0}{key}");
        if let Some(count) = cache.and_then(|c| c.get(&cache_key)) {
            return Ok(count);
        }
        let count = read_count(store, ns, key).await?;
        if let Some(cache) = cache.filter(|_| remember) {
            cache.insert(cache_key, count);
        }
        Ok(count)
    }
}

/// A window's final count (0 if it has none).
pub(crate) fn read_count<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
) -> impl Future<Output = Result<u64>> + Send + 'a {
    async move { Ok(store.get(ns, key).await?.as_ref().map_or(0, counter_of)) }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// GCRA: the stored value is the theoretical arrival time (µs since the epoch).
pub(crate) fn gcra<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    quota: Quota,
    n: u64,
) -> impl Future<Output = Result<Decision>> + Send + 'a {
    async move {
        // A full bucket admits `limit` at once: tolerance of `limit - 1` intervals.
        let (interval, tolerance) = gcra_params(quota);
        let mut current = store.get(ns, key).await?;
        for _ in 0..GCRA_ROUNDS {
            let now = now_micros();
            let stored = current.as_ref().and_then(|e| {
                std::str::from_utf8(&e.value)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
            });
            let tat = stored.unwrap_or(now).max(now);
            let new_tat = tat.saturating_add(interval.saturating_mul(n));
            let allow_at = new_tat.saturating_sub(tolerance + interval);
            if allow_at > now {
                let full_after = Duration::from_micros(tat - now);
                return Ok(Decision {
                    allowed: false,
                    limit: quota.limit(),
                    remaining: ((now + tolerance + interval).saturating_sub(tat) / interval)
                        .min(quota.limit()),
                    reset_after: full_after,
                    retry_after: Some(Duration::from_micros(allow_at - now)),
                    degraded: false,
                });
            }
            let condition = match &current {
                Some(entry) => SetOptions::if_version(entry.version),
                None => SetOptions::if_absent(),
            };
            // The state is useless once the bucket is full again: let it expire then.
            let ttl = Duration::from_micros(new_tat - now).max(Duration::from_millis(1));
            let value = Bytes::from(new_tat.to_string());
            match store.set(ns, key, value, condition.with_ttl(ttl)).await? {
                SetOutcome::Written(_) => {
                    return Ok(Decision {
                        allowed: true,
                        limit: quota.limit(),
                        remaining: ((now + tolerance + interval).saturating_sub(new_tat)
                            / interval)
                            .min(quota.limit()),
                        reset_after: Duration::from_micros(new_tat - now),
                        retry_after: None,
                        degraded: false,
                    });
                }
                SetOutcome::Rejected { current: seen } => {
                    current = if store.capabilities().returns_current_on_reject {
                        seen
                    } else {
                        store.get(ns, key).await?
                    };
                }
            }
        }
        Err(Error::Backend {
            message: format!("GCRA lost {GCRA_ROUNDS} compare-and-set races in a row on one key"),
            source: None,
        })
    }
}

/// A decision for one more unit without taking it: the state is only read.
pub(crate) fn status<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    policy: crate::Policy,
    cache: Option<&'a Cache<String, u64>>,
) -> impl Future<Output = Result<Decision>> + Send + 'a {
    async move {
        let quota = policy.quota;
        match policy.algorithm {
            crate::Algorithm::FixedWindow => {
                let entry = store.get(ns, key).await?;
                let count = entry.as_ref().map_or(0, counter_of);
                let reset_after = entry
                    .and_then(|e| e.expires_at)
                    .map_or(Duration::ZERO, |at| {
                        at.saturating_duration_since(Timestamp::now())
                    });
                Ok(window_decision(quota, count.saturating_add(1), reset_after).unspent())
            }
            crate::Algorithm::SlidingWindow => {
                let window = millis(quota.window()).max(1);
                let now = Timestamp::now().as_millis();
                let index = now / window;
                let current = read_count(store, ns, &window_key(key, index)).await?;
                let previous = match index.checked_sub(1) {
                    Some(before) => {
                        closed_count(store, ns, &window_key(key, before), cache, false).await?
                    }
                    None => 0,
                };
                Ok(sliding_decision(
                    quota,
                    current.saturating_add(1),
                    previous,
                    now % window,
                    window,
                )
                .unspent())
            }
            _ => {
                let (interval, tolerance) = gcra_params(quota);
                let now = now_micros();
                let tat = store
                    .get(ns, key)
                    .await?
                    .and_then(|e| {
                        std::str::from_utf8(&e.value)
                            .ok()
                            .and_then(|s| s.parse::<u64>().ok())
                    })
                    .unwrap_or(now)
                    .max(now);
                let allow_at = tat
                    .saturating_add(interval)
                    .saturating_sub(tolerance + interval);
                let allowed = allow_at <= now;
                Ok(Decision {
                    allowed,
                    limit: quota.limit(),
                    remaining: ((now + tolerance + interval).saturating_sub(tat) / interval)
                        .min(quota.limit()),
                    reset_after: Duration::from_micros(tat - now),
                    retry_after: (!allowed).then(|| Duration::from_micros(allow_at - now)),
                    degraded: false,
                })
            }
        }
    }
}

/// Interval between units and burst tolerance of a GCRA quota, in µs.
fn gcra_params(quota: Quota) -> (u64, u64) {
    let interval =
        (u64::try_from(quota.window().as_micros()).unwrap_or(u64::MAX) / quota.limit()).max(1);
    (interval, interval * (quota.limit() - 1))
}

/// Refuses every check of `key` for `pause`, for the whole fleet, by saturating the
/// state checks read (no extra round trip per check). Fixed window and GCRA resume
/// exactly after `pause`; a sliding window resumes once the saturated windows have
/// slid out, at most one window after `pause`.
pub(crate) fn cooldown<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    policy: crate::Policy,
    pause: Duration,
) -> impl Future<Output = Result<()>> + Send + 'a {
    async move {
        let quota = policy.quota;
        let full = Bytes::from(quota.limit().to_string());
        match policy.algorithm {
            crate::Algorithm::FixedWindow => {
                // The window restarts when the pause ends.
                store
                    .set(ns, key, full, SetOptions::always().with_ttl(pause))
                    .await?;
            }
            crate::Algorithm::SlidingWindow => {
                let window = millis(quota.window()).max(1);
                let now = Timestamp::now().as_millis();
                let last = now.saturating_add(millis(pause)) / window;
                for index in (now / window)..=last.min(now / window + 256) {
                    // Live until the end of the window after it, like a counter `incr` made.
                    let ttl = Duration::from_millis((index + 2) * window - now);
                    store
                        .set(
                            ns,
                            &window_key(key, index),
                            full.clone(),
                            SetOptions::always().with_ttl(ttl),
                        )
                        .await?;
                }
            }
            _ => {
                let (_, tolerance) = gcra_params(quota);
                let now = now_micros();
                let tat = now
                    .saturating_add(u64::try_from(pause.as_micros()).unwrap_or(u64::MAX))
                    .saturating_add(tolerance);
                let ttl = Duration::from_micros(tat - now).max(Duration::from_millis(1));
                store
                    .set(
                        ns,
                        key,
                        Bytes::from(tat.to_string()),
                        SetOptions::always().with_ttl(ttl),
                    )
                    .await?;
            }
        }
        Ok(())
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
    use super::*;

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
