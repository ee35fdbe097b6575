//! # ratelimit: one rate budget for the whole fleet
//!
//! A limit of 100 requests a minute means 100 for the fleet, not 100 per instance and
//! not 130 when 32 workers race: the counters live in a shared [`store_core::Store`]
//! and every decision is made on the store's atomic result.
//!
//! - [`Algorithm::FixedWindow`]: one `incr` per check; the window starts at its first
//!   hit and is timed by the store's own expiry, so no client clock is involved. Exact.
//! - [`Algorithm::SlidingWindow`]: one `incr` per check in steady state, smoother.
//! - [`Algorithm::Gcra`]: evenly spaced admissions, on compare-and-set.
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
