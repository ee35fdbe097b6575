//! GCRA: the stored value is the theoretical arrival time (µs since the epoch), updated
//! by compare-and-set.
#![allow(clippy::manual_async_fn)] // See the module docs of `algorithms`.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use store_core::{Bytes, Error, Result, SetOptions, SetOutcome, Store};

use crate::{Decision, Quota};

/// Most compare-and-set rounds one GCRA check makes before giving up.
const GCRA_ROUNDS: usize = 16;

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Takes `n` units: a read, then a compare-and-set loop.
pub(crate) fn check<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    quota: Quota,
    n: u64,
) -> impl Future<Output = Result<Decision>> + Send + 'a {
    async move {
        // A full bucket admits `limit` at once: tolerance of `limit - 1` intervals.
        let (interval, tolerance) = params(quota);
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

/// A decision for one more unit without taking it: one `get`.
pub(crate) fn status<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    quota: Quota,
) -> impl Future<Output = Result<Decision>> + Send + 'a {
    async move {
        let (interval, tolerance) = params(quota);
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

/// Interval between units and burst tolerance of a GCRA quota, in µs.
fn params(quota: Quota) -> (u64, u64) {
    let interval =
        (u64::try_from(quota.window().as_micros()).unwrap_or(u64::MAX) / quota.limit()).max(1);
    (interval, interval * (quota.limit() - 1))
}

/// Moves the arrival time `pause` (and a full burst) ahead: checks resume right after.
pub(crate) fn cooldown<'a, S: Store>(
    store: &'a S,
    ns: &'a str,
    key: &'a str,
    quota: Quota,
    pause: Duration,
) -> impl Future<Output = Result<()>> + Send + 'a {
    async move {
        let (_, tolerance) = params(quota);
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
        Ok(())
    }
}
