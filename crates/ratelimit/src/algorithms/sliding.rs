//! Sliding-window counter: this window's `incr`, plus the previous window's final count
//! weighted by its overlap (epoch-aligned windows).
#![allow(clippy::manual_async_fn)] // See the module docs of `algorithms`.

use std::future::Future;
use std::time::Duration;

use moka::sync::Cache;
use store_core::{Bytes, Result, SetOptions, Store, Timestamp};

use super::{millis, read_count};
use crate::keys::window_key;
use crate::{Decision, Quota};

/// Takes `n` units. The previous window's count no longer changes once its window
/// has closed, so `cache` keeps it: one request per check in steady state. The first
/// check of an instance in a window sends the read beside the increment, concurrently:
/// two requests, one round trip of waiting.
pub(crate) fn check<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    quota: Quota,
    n: u64,
    cache: Option<&'a Cache<String, u64>>,
    now: Timestamp,
) -> impl Future<Output = Result<Decision>> + Send + 'a {
    async move {
        let at = Position::of(quota, now);
        let this_window = window_key(key, at.index);
        let counted = store.incr(ns, &this_window, n as i64, Some(quota.window() * 2));
        // The increment and the previous window's read go out together: on the first
        // check in a window the read costs a second request but no second wait.
        let (counted, previous) = futures::future::join(
            counted,
            previous_count(store, ns, key, at, cache, Remember::Yes),
        )
        .await;
        let current = counted?.value.max(0) as u64;
        let previous = previous?;
        Ok(sliding_decision(
            quota, current, previous, at.elapsed, at.window,
        ))
    }
}

pub(crate) fn sliding_decision(
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
        contended: false,
    }
}

/// Where a moment falls among a quota's epoch-aligned windows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Position {
    /// The window's length in ms (at least 1).
    pub(crate) window: u64,
    /// The window's number since the epoch.
    pub(crate) index: u64,
    /// Ms since the window began.
    pub(crate) elapsed: u64,
}

impl Position {
    pub(crate) fn of(quota: Quota, now: Timestamp) -> Self {
        let window = millis(quota.window()).max(1);
        let now = now.as_millis();
        Position {
            window,
            index: now / window,
            elapsed: now % window,
        }
    }
}

/// The final count of the window before `at` (0 before the first window).
fn previous_count<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    at: Position,
    cache: Option<&'a Cache<String, u64>>,
    remember: Remember,
) -> impl Future<Output = Result<u64>> + Send + 'a {
    async move {
        match at.index.checked_sub(1) {
            Some(before) => {
                closed_count(store, ns, &window_key(key, before), cache, remember).await
            }
            None => Ok(0),
        }
    }
}

/// Whether [`closed_count`] keeps what it read in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Remember {
    /// Keep it: checks, whose next calls read the same closed window.
    Yes,
    /// Do not: a read-only `status` leaves the cache as it found it.
    No,
}

/// The final count of a closed window: from `cache` when it holds it, else read (and
/// kept in `cache` with [`Remember::Yes`]; a closed window's count no longer changes).
pub(crate) fn closed_count<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    cache: Option<&'a Cache<String, u64>>,
    remember: Remember,
) -> impl Future<Output = Result<u64>> + Send + 'a {
    async move {
        let cache_key = format!("{ns}\u{0}{key}");
        if let Some(count) = cache.and_then(|c| c.get(&cache_key)) {
            return Ok(count);
        }
        let count = read_count(store, ns, key).await?;
        if let Some(cache) = cache.filter(|_| remember == Remember::Yes) {
            cache.insert(cache_key, count);
        }
        Ok(count)
    }
}

/// A decision for one more unit without taking it (the cache is read, not filled).
pub(crate) fn status<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    quota: Quota,
    cache: Option<&'a Cache<String, u64>>,
    now: Timestamp,
) -> impl Future<Output = Result<Decision>> + Send + 'a {
    async move {
        let at = Position::of(quota, now);
        let current = read_count(store, ns, &window_key(key, at.index)).await?;
        let previous = previous_count(store, ns, key, at, cache, Remember::No).await?;
        let one_more = current.saturating_add(1);
        Ok(sliding_decision(quota, one_more, previous, at.elapsed, at.window).unspent())
    }
}

/// Saturates every window the pause touches; checks resume once they have slid out,
/// at most one window after `pause`.
pub(crate) fn cooldown<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    quota: Quota,
    pause: Duration,
    now: Timestamp,
) -> impl Future<Output = Result<()>> + Send + 'a {
    async move {
        let full = Bytes::from(quota.limit().to_string());
        let Position { window, index, .. } = Position::of(quota, now);
        let now = now.as_millis();
        let last = now.saturating_add(millis(pause)) / window;
        for index in index..=last.min(index + 256) {
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
        Ok(())
    }
}
