//! What a limit is: a quota and the algorithm that enforces it.

use std::time::Duration;

use store_core::{Error, Result};

/// `limit` units per `window`.
///
/// ```
/// use std::time::Duration;
/// use ratelimit::Quota;
/// let q = Quota::per_minute(100);
/// assert_eq!((q.limit(), q.window()), (100, Duration::from_secs(60)));
/// assert!(Quota::new(0, Duration::from_secs(1)).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    limit: u64,
    window: Duration,
}

impl Quota {
    /// `limit` units per `window`; both must be non-zero, the window at least 1 ms.
    pub fn new(limit: u64, window: Duration) -> Result<Self> {
        if limit == 0 || window < Duration::from_millis(1) || limit > i64::MAX as u64 {
            return Err(Error::InvalidArgument(format!(
                "a quota needs a limit in 1..=i64::MAX and a window of at least 1 ms, got \
                 {limit} per {window:?}"
            )));
        }
        Ok(Quota { limit, window })
    }

    /// `limit` per second.
    pub fn per_second(limit: u64) -> Self {
        Self::fixed(limit, Duration::from_secs(1))
    }

    /// `limit` per minute.
    pub fn per_minute(limit: u64) -> Self {
        Self::fixed(limit, Duration::from_secs(60))
    }

    /// `limit` per hour.
    pub fn per_hour(limit: u64) -> Self {
        Self::fixed(limit, Duration::from_secs(3600))
    }

    fn fixed(limit: u64, window: Duration) -> Self {
        Quota {
            limit: limit.clamp(1, i64::MAX as u64),
            window,
        }
    }

    /// Units per window.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The same window with the limit divided by `parts` (at least 1), for a local
    /// fallback shared by `parts` instances.
    pub(crate) fn divided(&self, parts: u32) -> Self {
        Quota {
            limit: (self.limit / u64::from(parts.max(1))).max(1),
            window: self.window,
        }
    }
}

/// How a quota is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// A window that starts at its first hit and lasts `window`, timed by the store's
    /// own expiry (no client clock). Exact: of any number of concurrent checks, exactly
    /// `limit` units are admitted per window. One `incr` per check. Bursts of up to
    /// `2 × limit` can straddle two windows.
    #[default]
    FixedWindow,
    /// The sliding-window counter: this window's count plus the previous window's,
    /// weighted by how much of it still overlaps the sliding window (the weighted share
    /// is rounded up, so a check is admitted only if `previous × overlap + current`
    /// stays within the limit). Smooths the fixed window's boundary bursts; an
    /// approximation by design. Window boundaries come from this process's clock. One
    /// `incr` per check in steady state (the previous window's final count is cached
    /// once that window has closed).
    SlidingWindow,
    /// GCRA (a token bucket without a refill task): evenly spaced admissions with a
    /// burst of up to `limit`. State is the theoretical arrival time, moved by one
    /// `Store::advance` per check: one round trip on memory and Redis (on the server's
    /// clock: the fleet's clocks play no part), one on DynamoDB while the budget is in use
    /// and two on its first check after it refilled (on this process's clock). Never an
    /// error under contention: on a store without an atomic advance, a check that loses
    /// every compare-and-set race is refused with `contended` set.
    Gcra,
}

/// A quota with its algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The quota.
    pub quota: Quota,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Lease mode (fixed windows only): each instance takes units from the shared
    /// counter in blocks of this many and decides locally until its block is spent
    /// (see [`Policy::leased`]). `None`: every check goes to the store.
    pub lease: Option<u64>,
}

impl Policy {
    /// A fixed-window policy: one `incr` per check; the window starts at its first hit
    /// and is timed by the store's expiry. Exact: never more than `limit` per window.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> store_core::Result<()> {
    /// use ratelimit::{Policy, Quota, RateLimiter};
    /// let limiter = RateLimiter::builder(store_memory::MemoryStore::new(), "api")
    ///     .default_policy(Policy::fixed_window(Quota::per_minute(2)))
    ///     .build()?;
    /// assert!(limiter.check("search", "alice").await?.allowed);
    /// assert!(limiter.check("search", "alice").await?.allowed);
    /// let third = limiter.check("search", "alice").await?;
    /// assert!(!third.allowed);
    /// assert!(third.retry_after.unwrap() <= std::time::Duration::from_secs(60));
    /// assert!(limiter.check("search", "bob").await?.allowed); // per caller
    /// # Ok(())
    /// # }
    /// ```
    pub fn fixed_window(quota: Quota) -> Self {
        Policy {
            quota,
            algorithm: Algorithm::FixedWindow,
            lease: None,
        }
    }

    /// A sliding-window counter: this window's count plus the previous window's, weighted
    /// by how much of it still overlaps; no burst of twice the limit at a window edge.
    /// One round trip per check in steady state.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> store_core::Result<()> {
    /// use ratelimit::{Policy, Quota, RateLimiter};
    /// let limiter = RateLimiter::builder(store_memory::MemoryStore::new(), "api")
    ///     .default_policy(Policy::sliding_window(Quota::per_hour(3)))
    ///     .build()?;
    /// for _ in 0..3 {
    ///     assert!(limiter.check("export", "tenant-1").await?.allowed);
    /// }
    /// assert!(!limiter.check("export", "tenant-1").await?.allowed);
    /// # Ok(())
    /// # }
    /// ```
    pub fn sliding_window(quota: Quota) -> Self {
        Policy {
            quota,
            algorithm: Algorithm::SlidingWindow,
            lease: None,
        }
    }

    /// Lease mode, for limits hotter than one key can take (a DynamoDB item takes about
    /// 1,000 writes per second; a Redis key lives on one core and one cluster slot):
    /// each instance takes `block` units at a time with one `incr(block)`, and decides
    /// locally until they are spent. Fixed windows only (the builder refuses others).
    ///
    /// Exact upwards: the fleet is never admitted more than the limit per window (an
    /// instance hands out only the units its `incr` reserved within the limit). It may
    /// under-admit by the units leased and not used when the window ends: at most
    /// `instances × (block - 1)` per window. Store requests: one per block, plus one per
    /// instance when it finds the window spent (then it refuses locally until the
    /// window ends). `remaining` is what the shared counter has not leased plus this
    /// instance's unspent lease; `reset_after` is the window's end, from the store.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> store_core::Result<()> {
    /// use ratelimit::{Policy, Quota, RateLimiter};
    /// let store = store_core::testing::Counting::new(store_memory::MemoryStore::new());
    /// let limiter = RateLimiter::builder(store.clone(), "api")
    ///     .default_policy(Policy::fixed_window(Quota::per_minute(1000)).leased(50))
    ///     .build()?;
    /// for _ in 0..100 {
    ///     assert!(limiter.check("search", "tenant").await?.allowed);
    /// }
    /// assert_eq!(store.calls(), 2); // two blocks of 50
    /// # Ok(())
    /// # }
    /// ```
    pub fn leased(mut self, block: u64) -> Self {
        self.lease = Some(block.max(1));
        self
    }

    /// GCRA (a token bucket kept as one timestamp): a burst of up to `limit`, then one
    /// unit every `window / limit`: one `Store::advance` per check (see
    /// [`Algorithm::Gcra`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> store_core::Result<()> {
    /// use std::time::Duration;
    /// use ratelimit::{Policy, Quota, RateLimiter};
    /// let limiter = RateLimiter::builder(store_memory::MemoryStore::new(), "api")
    ///     .default_policy(Policy::gcra(Quota::per_second(10)))
    ///     .build()?;
    /// for _ in 0..10 {
    ///     assert!(limiter.check("send", "device-7").await?.allowed); // the burst
    /// }
    /// let next = limiter.check("send", "device-7").await?;
    /// assert!(!next.allowed);
    /// assert!(next.retry_after.unwrap() <= Duration::from_millis(100)); // one interval
    /// # Ok(())
    /// # }
    /// ```
    pub fn gcra(quota: Quota) -> Self {
        Policy {
            quota,
            algorithm: Algorithm::Gcra,
            lease: None,
        }
    }
}

/// The answer to a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the units were admitted.
    pub allowed: bool,
    /// The quota's limit (for `RateLimit-Limit`).
    pub limit: u64,
    /// Units left in the current window (for `RateLimit-Remaining`).
    pub remaining: u64,
    /// When the window resets or, for GCRA, when the budget is full again (for
    /// `RateLimit-Reset`).
    pub reset_after: Duration,
    /// When refused: how long to wait before trying again (for `Retry-After`).
    pub retry_after: Option<Duration>,
    /// `true` when the decision came from the failure policy, not the shared store.
    pub degraded: bool,
    /// `true` when a GCRA check on a store without an atomic advance lost every
    /// compare-and-set race: refused, with a short `retry_after`. Never on memory, Redis
    /// or DynamoDB.
    pub contended: bool,
}

impl Decision {
    /// This decision, read for one more unit, reported as the state without it: the
    /// remaining budget counts the unit as not taken.
    pub(crate) fn unspent(mut self) -> Self {
        if self.allowed {
            self.remaining = (self.remaining + 1).min(self.limit);
        }
        self
    }
}
