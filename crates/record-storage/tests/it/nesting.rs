//! Hostile nesting: a value nested deeper than `max_nesting` is refused on write and, when
//! someone else stored it, on read before any recursive decoding, so no reader's stack
//! overflows. Reads run on a 256 KiB thread stack, where a MessagePack value of about 75
//! levels aborted a debug build before the bound.

use record_storage::{DEFAULT_MAX_NESTING, Format, Keyring, Options, RecordError, RecordStorage};
use serde_json::{Value, json};
use store_core::{Bytes, SetOptions, SharedStore, Store, StoreExt};

use crate::backends;

const SMALL_STACK: usize = 256 * 1024;

/// Runs `f` on a thread with a 256 KiB stack, in a runtime of its own.
fn on_a_small_stack<T: Send + 'static>(
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(f)
        })
        .unwrap()
        .join()
        .expect("the reader's thread did not overflow or panic")
}

fn nested(depth: usize) -> Value {
    (0..depth).fold(json!(1), |inner, _| json!([inner]))
}

fn storage_of(store: &SharedStore, options: Options) -> (RecordStorage, String) {
    let context = backends::fresh_context();
    let ns = format!("records/e/{}/env", context.workspace_id());
    (
        RecordStorage::new(store.clone(), options.context(context)),
        ns,
    )
}

#[test]
fn values_up_to_the_limit_round_trip_and_deeper_ones_are_not_written() {
    for format in [Format::Json, Format::MessagePack] {
        let limit = usize::from(DEFAULT_MAX_NESTING);
        on_a_small_stack(async move {
            let store = store_memory::MemoryStore::new().into_shared();
            let (storage, _) = storage_of(&store, Options::new().format(format));
            storage.set_value("v", &nested(limit)).await.unwrap();
            let read: Value = storage.get_value("v").await.unwrap().unwrap();
            assert_eq!(read, nested(limit), "{format:?}: at the limit");
            let err = storage
                .set_value("v", &nested(limit + 1))
                .await
                .unwrap_err();
            assert!(
                matches!(err, RecordError::NestedTooDeep { max, .. } if max == DEFAULT_MAX_NESTING),
                "{format:?}: {err}"
            );
            let kept: Value = storage.get_value("v").await.unwrap().unwrap();
            assert_eq!(
                kept,
                nested(limit),
                "{format:?}: the refused write lost nothing"
            );
        });
    }
}

#[test]
fn hostile_stored_values_are_refused_without_overflowing_the_reader() {
    let mut hostile: Vec<(&str, Vec<u8>)> = vec![
        (
            "JSON arrays x 640",
            [&[b'['; 640][..], b"1", &[b']'; 640]].concat(),
        ),
        ("JSON objects x 100000", b"{\"a\":".repeat(100_000)),
        (
            "MessagePack arrays x 640",
            [&[0xC1][..], &[0x91; 640], &[0x01]].concat(),
        ),
        (
            "MessagePack maps x 1000",
            [vec![0xC1], [0x81, 0xA1, 0x61].repeat(1000), vec![0x01]].concat(),
        ),
        (
            "MessagePack arrays x 100000",
            [&[0xC1][..], &vec![0x91; 100_000]].concat(),
        ),
    ];
    // Just past the limit, in both formats.
    let past = usize::from(DEFAULT_MAX_NESTING) + 1;
    hostile.push((
        "JSON just past the limit",
        serde_json::to_vec(&nested(past)).unwrap(),
    ));
    let mut mp = vec![0xC1];
    mp.extend(rmp_serde::to_vec(&nested(past)).unwrap());
    hostile.push(("MessagePack just past the limit", mp));
    for (what, bytes) in hostile {
        on_a_small_stack(async move {
            let store = store_memory::MemoryStore::new().into_shared();
            let (storage, ns) = storage_of(&store, Options::new());
            // Someone else who can write to the store put it there.
            store
                .set(&ns, "v", Bytes::from(bytes), SetOptions::always())
                .await
                .unwrap();
            let err = storage.get_value::<Value>("v").await.unwrap_err();
            assert!(
                matches!(err, RecordError::NestedTooDeep { .. }),
                "{what}: {err}"
            );
        });
    }
}

#[tokio::test]
async fn authentic_secure_envelopes_of_deep_values_are_refused_on_read() {
    for format in [Format::Json, Format::MessagePack] {
        let store = store_memory::MemoryStore::new().into_shared();
        let keyring = std::sync::Arc::new(Keyring::new(1, &[7; 32]));
        let secure = Options::new().format(format).secure(true).keyring(keyring);
        // A writer allowed deeper values seals one (authentic: it holds the key), on an
        // ordinary stack.
        let (writer, _) = storage_of(&store, secure.clone().max_nesting(128));
        let context = writer.options().get_context().unwrap().clone();
        writer.set_value("v", &nested(100)).await.unwrap();
        let err = on_a_small_stack(async move {
            let reader = RecordStorage::new(store, secure.context(context));
            reader.get_value::<Value>("v").await.unwrap_err()
        });
        assert!(
            matches!(err, RecordError::NestedTooDeep { .. }),
            "{format:?}: {err}"
        );
    }
}
