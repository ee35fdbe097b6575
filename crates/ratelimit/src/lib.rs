//! # ratelimit: one rate budget for the whole fleet
//!
//! A limit of 100 requests a minute means 100 for the fleet, not 100 per instance and
//! not 130 when 32 workers race: the counters live in a shared [`store_core::Store`]
//! and every decision is made on the store's atomic result.
//!
//! | mode | store requests per check | clock | what is exact |
//! |---|---|---|---|
//! | [`Algorithm::FixedWindow`] | one `incr` (one `EVALSHA` on Redis/Valkey, one statement on PostgreSQL and SQLite, one `UpdateItem` on DynamoDB) | none read: the window is the counter's TTL, timed by the store's expiry | never more than `limit` per window, across the fleet |
//! | [`Algorithm::SlidingWindow`] | one `incr` in steady state; on an instance's first check in a window, the previous window's read is sent beside it (two requests, one round trip of waiting) | this process's clock places the window boundaries | this window's count; the previous window's share is an approximation by design (rounded up, so it never over-admits against the weighted count) |
//! | [`Algorithm::Gcra`] | one `Store::advance`: one `EVALSHA` on Redis/Valkey, one statement on PostgreSQL, one transaction on SQLite, one `UpdateItem` on DynamoDB (two on the first check after the budget refilled); on stores without an atomic advance (Deno KV) a bounded compare-and-set loop | the server's (`TIME` on Redis/Valkey, `now()` on PostgreSQL); this process's on SQLite, DynamoDB and memory | never more than the burst plus what the elapsed time allows; never an error under contention (a check that loses every compare-and-set race on a fallback store is refused with `contended` set) |
//! | [`Policy::leased`] (fixed windows) | one `incr(block)` per block, decisions local until it is spent | as the fixed window | never more than `limit` per window; under by at most `instances × (block - 1)` |
//!
//! Tested on the real servers: for each algorithm a hot key (4 store instances × 32
//! tasks, 1000 checks on one key) admits exactly the limit with no error; lease mode
//! with 8 instances sharing 1000 in blocks of 50 stays within its bounds; the requests
//! per check are counted (MONITOR on Redis, the request interceptor on DynamoDB, the
//! wire on PostgreSQL). Figures: `docs/BENCHMARKS.md`.
//!
//! Stores that cannot do what a policy needs are refused when the limiter is built.
//! When the store fails or is slow, a [`FailurePolicy`] decides (open, closed, or a
//! local fallback limiter), within a per-check timeout, with a `tracing` event on every
//! switch to and from the fallback.
//!
//! [`RateLimitLayer`] puts a limiter in front of any tower HTTP service (429 with
//! `Retry-After`, and the `RateLimit-*` headers on every response).
//!
//! Beyond checks: [`RateLimiter::status`] and [`RateLimiter::wait_time`] read without
//! taking; [`RateLimiter::cooldown`] (or [`RateLimiter::cooldown_from_retry_after`])
//! pauses a key for the whole fleet when the server behind it answers 429;
//! [`RateLimiter::acquire`] waits, spacing waiters evenly across the fleet.
//!
//! [`AdaptiveRateLimiter`] serves users before background work, with the activity that
//! decides it shared through the store so every instance agrees.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod adaptive;
mod algorithms;
mod failure;
mod keys;
mod layer;
mod lease;
mod limiter;
pub mod metrics;
mod quota;

pub use adaptive::{
    Activity, ActivityLevel, AdaptiveConfig, AdaptiveRateLimiter, AdaptiveRateLimiterBuilder,
    Priority,
};
pub use failure::FailurePolicy;
pub use layer::{RateLimitLayer, RateLimitService};
pub use limiter::{RateLimiter, RateLimiterBuilder};
pub use quota::{Algorithm, Decision, Policy, Quota};
