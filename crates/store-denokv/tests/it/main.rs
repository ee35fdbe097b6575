//! store-denokv's integration tests, against a real `denokv` server started by
//! `cargo xtask test` (or `cargo xtask services up`).

mod contention;
mod errors;
mod fault;
mod linearizable_faults;
mod processes;
mod round_trips;
mod services;

/// The whole suite, racing across 4 clients.
mod conformance {
    store_core::conformance_tests!(crate::services::subject());
}
