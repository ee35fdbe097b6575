//! Fixed window: one `incr` whose TTL, set when the window's first hit creates the
//! counter, is the window, timed by the store's clock.
#![allow(clippy::manual_async_fn)] // See the module docs of `algorithms`.

use std::future::Future;
use std::time::Duration;

use store_core::{Bytes, Result, SetOptions, Store, Timestamp};

use super::counter_of;
use crate::{Decision, Quota};

/// Takes `n` units: one `incr`.
pub(crate) fn check<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    quota: Quota,
    n: u64,
    now: Timestamp,
) -> impl Future<Output = Result<Decision>> + Send + 'a {
    async move {
        let out = store.incr(ns, key, n as i64, Some(quota.window())).await?;
        let count = out.value.max(0) as u64;
        // `now` was read before the request: a window never has more than itself left.
        let reset_after = out
            .expires_at
            .map_or(quota.window(), |at| at.saturating_duration_since(now))
            .min(quota.window());
        Ok(window_decision(quota, count, reset_after))
    }
}

/// The decision a window's `count` gets.
pub(crate) fn window_decision(quota: Quota, count: u64, reset_after: Duration) -> Decision {
    let allowed = count <= quota.limit();
    Decision {
        allowed,
        limit: quota.limit(),
        remaining: quota.limit().saturating_sub(count),
        reset_after,
        retry_after: (!allowed).then_some(reset_after),
        degraded: false,
        contended: false,
    }
}

/// A decision for one more unit without taking it: one `get`.
pub(crate) fn status<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    quota: Quota,
    now: Timestamp,
) -> impl Future<Output = Result<Decision>> + Send + 'a {
    async move {
        let entry = store.get(ns, key).await?;
        let count = entry.as_ref().map_or(0, counter_of);
        let reset_after = entry
            .and_then(|e| e.expires_at)
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
        Ok(window_decision(quota, count.saturating_add(1), reset_after).unspent())
    }
}

/// Saturates the window for `pause`: a new window starts when the pause ends.
pub(crate) fn cooldown<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    quota: Quota,
    pause: Duration,
) -> impl Future<Output = Result<()>> + Send + 'a {
    async move {
        let full = Bytes::from(quota.limit().to_string());
        // The window restarts when the pause ends.
        store
            .set(ns, key, full, SetOptions::always().with_ttl(pause))
            .await?;
        Ok(())
    }
}
