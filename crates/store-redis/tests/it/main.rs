//! store-redis's integration tests, against real servers started by
//! `cargo xtask test` (or `cargo xtask services up`).

mod at_most_once;
mod atomicity;
mod clear;
mod counters;
mod cursors;
mod fault;
mod linearizable_faults;
mod round_trips;
mod services;
mod tls;
mod urls;

/// The whole suite on a standalone Redis, racing across 4 connections.
mod conformance_standalone {
    store_core::conformance_tests!(crate::services::subject(crate::services::redis_url(), ""));
}

/// The whole suite on a 3-primary Redis Cluster, racing across 4 connections.
mod conformance_cluster {
    store_core::conformance_tests!(crate::services::subject(crate::services::cluster_url(), ""));
}

/// The whole suite with a key prefix that pins everything to one cluster slot.
mod conformance_cluster_pinned_prefix {
    store_core::conformance_tests!(crate::services::subject(
        crate::services::cluster_url(),
        "{pinned}:"
    ));
}

/// The whole suite on a standalone Redis through fred.
mod conformance_standalone_fred {
    store_core::conformance_tests!(crate::services::fred_subject(
        crate::services::redis_url(),
        ""
    ));
}

/// The whole suite on a 3-primary Redis Cluster through fred.
mod conformance_cluster_fred {
    store_core::conformance_tests!(crate::services::fred_subject(
        crate::services::cluster_url(),
        ""
    ));
}

/// The whole suite on a standalone Valkey 9.
mod conformance_valkey {
    store_core::conformance_tests!(crate::services::subject(crate::services::valkey_url(), ""));
}

/// The whole suite on a 3-primary Valkey 9 cluster.
mod conformance_valkey_cluster {
    store_core::conformance_tests!(crate::services::subject(
        crate::services::valkey_cluster_url(),
        ""
    ));
}

/// The whole suite over TLS (`rediss://`, a CA made for the run), in a build that also
/// holds store-dynamodb and so two rustls crypto providers.
mod conformance_tls {
    store_core::conformance_tests!(crate::services::subject(crate::services::tls_url(), ""));
}
