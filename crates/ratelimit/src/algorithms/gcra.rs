//! GCRA on [`Store::advance`]: the stored value is the theoretical arrival time (TAT, µs
//! since the epoch), and a check is one bounded advance of it:
//!
//! ```text
//! floor    = now (the store's clock: the server's on Redis)
//! delta    = n × interval            interval = window / limit
//! headroom = limit × interval        a full budget admits `limit` at once
//! TAT'     = max(TAT, now) + delta   admitted iff TAT' <= now + headroom
//! ```
//!
//! One request per check on stores with an atomic advance (memory, Redis, DynamoDB when
//! the budget is busy), no compare-and-set loop to lose under contention, and on Redis
//! no client clock at all. On a store whose advance falls back to compare-and-set, a
//! check that loses every race is refused with a short `retry_after` and says so
//! ([`Decision::contended`]), never an error.
#![allow(clippy::manual_async_fn)] // See the module docs of `algorithms`.

use std::future::Future;
use std::time::Duration;

use store_core::{Advance, Advanced, Floor, Result, Store};

use crate::{Decision, Quota};

/// How long a contended check asks the caller to wait: long enough for the racing
/// writers to finish, short against any window.
const CONTENDED_RETRY: Duration = Duration::from_millis(5);

/// Interval between units and the headroom (a full budget), in µs.
fn params(quota: Quota) -> (u64, u64) {
    let window = u64::try_from(quota.window().as_micros()).unwrap_or(u64::MAX);
    let interval = (window / quota.limit()).max(1);
    (interval, interval.saturating_mul(quota.limit()))
}

/// The state lives until the budget it records is full again: the headroom.
fn ttl(headroom: u64) -> Option<Duration> {
    Some(Duration::from_micros(headroom).max(Duration::from_millis(1)))
}

/// The decision an advance of `n` units gave.
fn decision(quota: Quota, n: u64, done: Advanced) -> Decision {
    let (interval, headroom) = params(quota);
    let (tat, now) = (done.value, done.floor);
    let remaining =
        (now.saturating_add(headroom).saturating_sub(tat) / interval).min(quota.limit());
    let reset_after = Duration::from_micros(tat.saturating_sub(now));
    if done.written {
        return Decision {
            allowed: true,
            limit: quota.limit(),
            remaining,
            reset_after,
            retry_after: None,
            degraded: false,
            contended: false,
        };
    }
    let retry_after = if done.contended {
        CONTENDED_RETRY
    } else {
        // Admitted once `tat + n × interval <= now' + headroom`.
        let needed = tat.saturating_add(n.saturating_mul(interval));
        Duration::from_micros(needed.saturating_sub(now.saturating_add(headroom)))
    };
    Decision {
        allowed: false,
        limit: quota.limit(),
        remaining,
        reset_after,
        retry_after: Some(retry_after),
        degraded: false,
        contended: done.contended,
    }
}

/// Takes `n` units: one advance.
pub(crate) fn check<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    quota: Quota,
    n: u64,
) -> impl Future<Output = Result<Decision>> + Send + 'a {
    async move {
        let (interval, headroom) = params(quota);
        let take = Advance {
            delta: n.saturating_mul(interval),
            headroom,
            floor: Floor::Clock,
            ttl: ttl(headroom),
        };
        let done = store.advance(ns, key, take).await?;
        Ok(decision(quota, n, done))
    }
}

/// A decision for one more unit without taking it: an advance that cannot be written
/// (`delta > headroom`) reads the state on the store's clock.
pub(crate) fn status<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    quota: Quota,
) -> impl Future<Output = Result<Decision>> + Send + 'a {
    async move {
        let (interval, headroom) = params(quota);
        let read = Advance {
            delta: headroom.saturating_add(1),
            headroom,
            floor: Floor::Clock,
            ttl: None,
        };
        let state = store.advance(ns, key, read).await?;
        // As if one unit were asked: admitted iff it would fit.
        let fits = state.value.saturating_add(interval) <= state.floor.saturating_add(headroom);
        let done = Advanced {
            written: fits,
            value: if fits {
                state.value + interval
            } else {
                state.value
            },
            ..state
        };
        Ok(decision(quota, 1, done).unspent())
    }
}

/// Moves the arrival time `pause` and a full burst past where it was (at least now):
/// checks are refused for `pause`, and resume at most one window later (by as much as
/// the budget was already used up when the cooldown came).
pub(crate) fn cooldown<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    quota: Quota,
    pause: Duration,
) -> impl Future<Output = Result<()>> + Send + 'a {
    async move {
        let (_, headroom) = params(quota);
        let pause = u64::try_from(pause.as_micros()).unwrap_or(u64::MAX);
        let delta = pause.saturating_add(headroom);
        let saturate = Advance {
            delta,
            // The state is never more than a burst ahead of now (or an earlier, longer
            // cooldown is in force, which this one then leaves as it is).
            headroom: delta.saturating_add(headroom),
            floor: Floor::Clock,
            ttl: ttl(delta),
        };
        store.advance(ns, key, saturate).await?;
        Ok(())
    }
}
