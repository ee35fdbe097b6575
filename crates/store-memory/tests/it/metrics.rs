//! `MetricsLayer` records what its documentation names, checked with a recording
//! recorder.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use store_core::layer::{MetricsLayer, OPERATION_SECONDS, OPERATIONS};
use store_core::{Bytes, SetOptions, Store, StoreExt};
use store_memory::MemoryStore;

#[test]
fn operations_are_counted_by_outcome_and_timed() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let store = MemoryStore::new().layer(MetricsLayer::new("test"));
            store
                .set("ns", "k", Bytes::from_static(b"v"), SetOptions::always())
                .await
                .unwrap();
            store.get("ns", "k").await.unwrap();
            store.get("ns", "missing").await.unwrap();
            // Not a counter: counted under its kind.
            assert!(store.incr("ns", "k", 1, None).await.is_err());
        });
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let count = |operation: &str, outcome: &str| {
        snapshot.iter().find_map(|(key, _, _, value)| {
            let labels: Vec<_> = key.key().labels().map(|l| (l.key(), l.value())).collect();
            let ours = key.key().name() == OPERATIONS
                && labels.contains(&("operation", operation))
                && labels.contains(&("outcome", outcome))
                && labels.contains(&("store", "test"));
            match value {
                DebugValue::Counter(n) if ours => Some(*n),
                _ => None,
            }
        })
    };
    assert_eq!(count("set", "ok"), Some(1));
    assert_eq!(count("get", "ok"), Some(2));
    assert_eq!(count("incr", "not_a_counter"), Some(1));
    let timed: Vec<_> = snapshot
        .iter()
        .filter(|(key, ..)| key.key().name() == OPERATION_SECONDS)
        .filter_map(|(_, _, _, value)| match value {
            DebugValue::Histogram(samples) => Some(samples.len()),
            _ => None,
        })
        .collect();
    assert_eq!(
        timed.iter().sum::<usize>(),
        4,
        "one latency sample per operation"
    );
}
