//! Lease mode for fixed windows: units taken from the shared counter in blocks, handed
//! out locally (see [`crate::Policy::leased`]).

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use store_core::{Result, Store, Timestamp};

use crate::{Decision, Policy};

/// One instance's lease on one key.
#[derive(Debug, Default)]
struct Lease {
    /// When the window ends (the shared counter's expiry).
    window_end: Option<Timestamp>,
    /// Units leased and not handed out yet.
    left: u64,
    /// The shared counter after this instance's last `incr`.
    counter: u64,
    /// The window is spent: refuse locally until it ends.
    exhausted: bool,
}

/// Every key's lease in this instance. Each key's lease is behind an async mutex held
/// across its `incr`, so an instance takes one block at a time per key.
#[derive(Debug)]
pub(crate) struct Leases {
    leases: Cache<String, Arc<tokio::sync::Mutex<Lease>>>,
}

impl Leases {
    pub(crate) fn new() -> Self {
        Leases {
            leases: Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(3600))
                .build(),
        }
    }

    /// Takes `n` units of `key` under a leased fixed-window `policy`, leasing a block
    /// more from the store when this instance's lease cannot cover them.
    pub(crate) async fn check<S: Store>(
        &self,
        store: &S,
        ns: &str,
        key: &str,
        policy: Policy,
        n: u64,
        now: Timestamp,
    ) -> Result<Decision> {
        let (quota, block) = (policy.quota, policy.lease.unwrap_or(1));
        let lease = self
            .leases
            .get_with(format!("{ns}\u{0}{key}"), Default::default);
        let mut lease = lease.lock().await;
        let live = lease.window_end.is_some_and(|end| end > now);
        if !live {
            *lease = Lease::default();
        }
        if lease.left < n && !lease.exhausted {
            let take = block.max(n);
            let out = store
                .incr(
                    ns,
                    key,
                    i64::try_from(take).unwrap_or(i64::MAX),
                    Some(quota.window()),
                )
                .await?;
            let counter = u64::try_from(out.value).unwrap_or(0);
            // The units of this block that fall within the limit.
            let granted = quota
                .limit()
                .saturating_sub(counter.saturating_sub(take))
                .min(take);
            if lease.window_end != out.expires_at {
                // A new window: what was leased in the old one is void.
                lease.left = 0;
            }
            lease.left += granted;
            lease.counter = counter;
            lease.window_end = out.expires_at;
            lease.exhausted = counter >= quota.limit();
        }
        // `now` was read before any request: a window never has more than itself left.
        let reset_after = lease
            .window_end
            .map_or(quota.window(), |end| end.saturating_duration_since(now))
            .min(quota.window());
        let allowed = lease.left >= n;
        if allowed {
            lease.left -= n;
        }
        let remaining = quota
            .limit()
            .saturating_sub(lease.counter)
            .saturating_add(lease.left);
        Ok(Decision {
            allowed,
            limit: quota.limit(),
            remaining,
            reset_after,
            retry_after: (!allowed).then_some(reset_after),
            degraded: false,
            contended: false,
        })
    }
}
