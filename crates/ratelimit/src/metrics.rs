//! What the limiters record through the [`metrics`] facade (no exporter chosen here):
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `fleetstate_ratelimit_decisions_total` | counter | `limiter`, `resource`, `algorithm` (`fixed_window`, `sliding_window`, `gcra`), `decision` (`allowed`, `denied`), `degraded` (`true` when the failure policy decided) |
//! | `fleetstate_ratelimit_adaptive_decisions_total` | counter | `limiter`, `resource`, `priority` (`user`, `background`), `decision` (`allowed`, `denied`), `degraded` ([`AdaptiveRateLimiter`](crate::AdaptiveRateLimiter) checks) |
//! | `fleetstate_ratelimit_store_switches_total` | counter | `limiter`, `to` (`failure_policy` when the store became unavailable, `store` when it came back) |

use std::sync::Arc;

use metrics::SharedString;

use crate::{Algorithm, Decision, Priority};

/// Checks decided: see the module table.
pub const DECISIONS: &str = "fleetstate_ratelimit_decisions_total";
/// Adaptive checks decided: see the module table.
pub const ADAPTIVE_DECISIONS: &str = "fleetstate_ratelimit_adaptive_decisions_total";
/// Switches between the shared store and the failure policy: see the module table.
pub const STORE_SWITCHES: &str = "fleetstate_ratelimit_store_switches_total";

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::FixedWindow => "fixed_window",
        Algorithm::SlidingWindow => "sliding_window",
        Algorithm::Gcra => "gcra",
    }
}

/// The limiter's name as a label value: shared, so a check does not copy it.
fn shared(limiter: &Arc<str>) -> SharedString {
    SharedString::from_shared(limiter.clone())
}

pub(crate) fn decision(
    limiter: &Arc<str>,
    resource: &str,
    algorithm: Algorithm,
    decision: &Decision,
) {
    metrics::counter!(
        DECISIONS,
        "limiter" => shared(limiter),
        "resource" => resource.to_owned(),
        "algorithm" => algorithm_name(algorithm),
        "decision" => if decision.allowed { "allowed" } else { "denied" },
        "degraded" => if decision.degraded { "true" } else { "false" }
    )
    .increment(1);
}

pub(crate) fn switch(limiter: &str, to_policy: bool) {
    metrics::counter!(
        STORE_SWITCHES,
        "limiter" => limiter.to_owned(),
        "to" => if to_policy { "failure_policy" } else { "store" }
    )
    .increment(1);
}

pub(crate) fn adaptive_decision(
    limiter: &Arc<str>,
    resource: &str,
    priority: Priority,
    decision: &Decision,
) {
    metrics::counter!(
        ADAPTIVE_DECISIONS,
        "limiter" => shared(limiter),
        "resource" => resource.to_owned(),
        "priority" => match priority {
            Priority::User => "user",
            Priority::Background => "background",
        },
        "decision" => if decision.allowed { "allowed" } else { "denied" },
        "degraded" => if decision.degraded { "true" } else { "false" }
    )
    .increment(1);
}
