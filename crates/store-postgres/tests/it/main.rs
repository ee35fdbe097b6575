//! store-postgres's integration tests, against a real PostgreSQL started by
//! `cargo xtask test` (or `cargo xtask services up`).

mod fault;
mod linearizable_faults;
mod processes;
mod round_trips;
mod services;

/// The whole suite on the default table, racing across 4 pools.
mod conformance_default {
    store_core::conformance_tests!(crate::services::subject(crate::services::default_layout()));
}

/// The whole suite on a renamed `UNLOGGED` table in a schema of its own.
mod conformance_unlogged {
    store_core::conformance_tests!(crate::services::subject(crate::services::unlogged_layout()));
}
