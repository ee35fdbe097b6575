//! store-memory's integration tests: the conformance suite twice (manual clock and
//! system clock), then what is particular to the memory backend.

mod bound;
mod layers;
mod metrics;
mod open;
mod suite_catches_bugs;
mod sweeper;

/// The suite with a manual clock: TTL cases advance time instantly.
mod conformance_manual_clock {
    use store_core::ManualClock;
    use store_core::conformance::Subject;
    use store_memory::MemoryStore;

    store_core::conformance_tests!(async {
        let clock = ManualClock::starting_now();
        let store = MemoryStore::builder().clock(clock.clone()).build();
        Subject::with_manual_clock(store, clock)
    });
}

/// The suite on the system clock, with few shards so keys share shards and the
/// cross-shard list merge is exercised both ways.
mod conformance_system_clock {
    use store_memory::MemoryStore;

    store_core::conformance_tests!(async { MemoryStore::builder().shards(2).build() });
}

/// The suite through `SharedStore` (dynamic dispatch) with every layer applied.
mod conformance_dyn_layered {
    use store_core::layer::{PrefixLayer, RetryLayer, TraceLayer};
    use store_core::{SharedStore, StoreExt};
    use store_memory::MemoryStore;

    store_core::conformance_tests!(async {
        let store: SharedStore = MemoryStore::new()
            .layer(PrefixLayer::new("app:").expect("valid prefix"))
            .layer(RetryLayer::default())
            .layer(TraceLayer::default())
            .into_shared();
        store
    });
}
