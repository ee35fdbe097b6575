//! store-cloudflare-kv's integration tests: the store runs in a test Worker in workerd
//! (miniflare, a real KV binding), started by `cargo xtask test` (or `cargo xtask
//! services up`); this process drives it over HTTP with `testing::WorkerStore`.

mod refusals;
mod services;

/// The whole suite: cases its capabilities exclude report as skipped, with the reason.
mod conformance {
    store_core::conformance_tests!(crate::services::subject());
}
