//! ratelimit's integration tests: exactness on every backend, round trips, the failure
//! policies against a Redis the test kills, and construction refusals.

mod adaptive;
mod controls;
mod exact;
mod failure;
mod layer;
mod ops;
mod round_trips;
