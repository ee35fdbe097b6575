//! store-redis's integration tests, against real servers started by
//! `cargo xtask test` (or `cargo xtask services up`).

mod atomicity;
mod counters;
mod fault;
mod purge;
mod round_trips;
mod services;
mod urls;

/// The whole suite on a standalone Redis.
mod conformance_standalone {
    store_core::conformance_tests!(crate::services::standalone());
}

/// The whole suite on a 3-primary Redis Cluster.
mod conformance_cluster {
    store_core::conformance_tests!(crate::services::cluster());
}

/// The whole suite with a key prefix that pins everything to one cluster slot.
mod conformance_cluster_pinned_prefix {
    store_core::conformance_tests!(async {
        let url = crate::services::cluster_url()?;
        let store = store_redis::RedisStore::builder(url)
            .key_prefix("{pinned}:")
            .connect()
            .await
            .expect("connect to the Redis cluster");
        Some(store)
    });
}
