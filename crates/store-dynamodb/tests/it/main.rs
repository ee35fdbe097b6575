//! store-dynamodb's integration tests, against DynamoDB Local started by
//! `cargo xtask test` (or `cargo xtask services up`).

mod cursors;
mod errors;
mod linearizable_faults;
mod requests;
mod support;

/// The whole suite (racing across 4 clients), simple key layout (`pk` only; `list` is a Scan).
mod conformance_simple {
    store_core::conformance_tests!(crate::support::subject(
        "fleetstate-simple",
        store_dynamodb::TableLayout::default()
    ));
}

/// The whole suite, composite layout with the namespace as partition key.
mod conformance_composite {
    store_core::conformance_tests!(crate::support::subject(
        "fleetstate-composite",
        store_dynamodb::TableLayout::composite("pk", "sk")
    ));
}

/// The whole suite, Powertools-style static partition value and custom attribute names.
mod conformance_static_partition {
    store_core::conformance_tests!(crate::support::subject(
        "fleetstate-static",
        store_dynamodb::TableLayout::composite("id", "sort")
            .with_static_partition("fleetstate")
            .value_attribute("data")
            .version_attribute("rev")
            .expires_at_attribute("expiry_ms")
            .ttl_attribute("expiration")
    ));
}
