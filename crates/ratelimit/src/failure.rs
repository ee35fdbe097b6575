//! What a check does when the shared store fails or is slow: one policy, one timeout and
//! one degraded flag, the same for [`crate::RateLimiter`] and
//! [`crate::AdaptiveRateLimiter`].

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use store_core::{Result, SharedStore};

use crate::{Decision, Quota};

/// What a check does when the shared store fails or does not answer in time.
#[derive(Clone)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Admit (availability first). Decisions say `degraded`.
    Open,
    /// Refuse (protection first), with a one-second `retry_after`.
    Closed,
    /// Limit locally: the same algorithm on `local` (an in-process store, e.g.
    /// `store_memory::MemoryStore`) with the limit divided by `expected_instances`, so
    /// the fleet as a whole stays near its budget while the store is gone.
    Fallback {
        /// The local store.
        local: SharedStore,
        /// How many instances share the budget.
        expected_instances: u32,
    },
}

impl fmt::Debug for FailurePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailurePolicy::Open => f.write_str("Open"),
            FailurePolicy::Closed => f.write_str("Closed"),
            FailurePolicy::Fallback {
                expected_instances, ..
            } => f
                .debug_struct("Fallback")
                .field("expected_instances", expected_instances)
                .finish_non_exhaustive(),
        }
    }
}

/// A limiter's failure settings, as its builder collects them.
#[derive(Debug, Clone)]
pub(crate) struct FailureSettings {
    pub(crate) policy: FailurePolicy,
    pub(crate) timeout: Duration,
}

impl Default for FailureSettings {
    /// [`FailurePolicy::Closed`] within 250 ms.
    fn default() -> Self {
        FailureSettings {
            policy: FailurePolicy::Closed,
            timeout: Duration::from_millis(250),
        }
    }
}

/// Every check goes through it: the shared store's answer within the timeout, or the
/// failure policy's decision; it remembers which side decided last.
pub(crate) struct FailureGuard {
    /// The limiter's name, for metrics.
    name: std::sync::Arc<str>,
    policy: FailurePolicy,
    timeout: Duration,
    degraded: AtomicBool,
}

impl fmt::Debug for FailureGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailureGuard")
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .field("degraded", &self.is_degraded())
            .finish()
    }
}

impl FailureGuard {
    pub(crate) fn new(settings: FailureSettings, name: &str) -> Self {
        FailureGuard {
            name: std::sync::Arc::from(name),
            policy: settings.policy,
            timeout: settings.timeout,
            degraded: AtomicBool::new(false),
        }
    }

    /// The local store of a [`FailurePolicy::Fallback`].
    pub(crate) fn local(&self) -> Option<&SharedStore> {
        match &self.policy {
            FailurePolicy::Fallback { local, .. } => Some(local),
            FailurePolicy::Open | FailurePolicy::Closed => None,
        }
    }

    /// `true` while the last check could not reach the store.
    pub(crate) fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// The shared store's decision within the timeout; when it fails transiently or
    /// does not answer, the policy's: admit, refuse, or `fallback(local, instances)`
    /// (the same algorithm on the local store for `instances` instances). Errors that
    /// are not transient (a misconfiguration) are returned.
    pub(crate) async fn decide<'s, F, Fut>(
        &'s self,
        namespace: &str,
        quota: Quota,
        shared: impl Future<Output = Result<Decision>>,
        fallback: F,
    ) -> Result<Decision>
    where
        F: FnOnce(&'s SharedStore, u32) -> Fut,
        Fut: Future<Output = Result<Decision>>,
    {
        if let Some(decision) = self.shared(shared, namespace).await? {
            return Ok(decision);
        }
        match &self.policy {
            FailurePolicy::Open => Ok(fixed_decision(quota, true)),
            FailurePolicy::Closed => Ok(fixed_decision(quota, false)),
            FailurePolicy::Fallback {
                local,
                expected_instances,
            } => {
                let mut decision = fallback(local, *expected_instances).await?;
                decision.degraded = true;
                Ok(decision)
            }
        }
    }

    /// The shared store's decision, or `None` when the policy must decide. Every switch
    /// between the two is logged.
    async fn shared(
        &self,
        shared: impl Future<Output = Result<Decision>>,
        namespace: &str,
    ) -> Result<Option<Decision>> {
        let mut pending = std::pin::pin!(shared);
        // An in-process store answers on the first poll: no timer needed then.
        let first = std::future::poll_fn(|cx| Poll::Ready(pending.as_mut().poll(cx))).await;
        let answer = match first {
            Poll::Ready(result) => Ok(result),
            Poll::Pending => tokio::time::timeout(self.timeout, pending).await,
        };
        let failure = match answer {
            Ok(Ok(decision)) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!(namespace, "rate limit store is back: shared budgets again");
                    crate::metrics::switch(&self.name, false);
                }
                return Ok(Some(decision));
            }
            Ok(Err(e)) if !e.is_transient() => return Err(e),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} ms", self.timeout.as_millis()),
        };
        if !self.degraded.swap(true, Ordering::Relaxed) {
            crate::metrics::switch(&self.name, true);
            tracing::warn!(
                namespace,
                policy = ?self.policy,
                error = %failure,
                "rate limit store unavailable: applying the failure policy"
            );
        }
        Ok(None)
    }
}

/// The degraded decision of [`FailurePolicy::Open`] (`allowed`) or
/// [`FailurePolicy::Closed`] (refused, retry in a second).
fn fixed_decision(quota: Quota, allowed: bool) -> Decision {
    Decision {
        allowed,
        limit: quota.limit(),
        remaining: if allowed { quota.limit() } else { 0 },
        reset_after: if allowed {
            Duration::ZERO
        } else {
            Duration::from_secs(1)
        },
        retry_after: (!allowed).then_some(Duration::from_secs(1)),
        degraded: true,
        contended: false,
    }
}
