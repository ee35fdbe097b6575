//! Secure records: round trip, swap attack, tampering, rotation, wrong keys, and no
//! plaintext in the backend's bytes.

use record_storage::{Format, Keyring, Options, RecordError, RecordStorage, Scope};
use store_core::{SetOptions, SharedStore, Store};

use crate::backends;

fn key(byte: u8) -> [u8; 32] {
    [byte; 32]
}

fn secure(store: &SharedStore, keyring: Keyring) -> (RecordStorage, String) {
    let context = backends::fresh_context();
    let ns = format!("records/e/{}/env", context.workspace_id());
    let storage = RecordStorage::new(
        store.clone(),
        Options::new()
            .context(context)
            .keyring(keyring)
            .secure(true),
    );
    (storage, ns)
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Credentials {
    user: String,
    password: String,
}

fn credentials() -> Credentials {
    Credentials {
        user: "ana".into(),
        password: "correct horse battery staple".into(),
    }
}

#[tokio::test]
async fn secure_records_round_trip_and_store_no_plaintext() {
    for (name, store) in backends::all().await {
        let (storage, ns) = secure(&store, Keyring::new(1, &key(1)));
        for format in [Format::Json, Format::MessagePack] {
            let call = Options::new().format(format);
            storage
                .set_value_with("creds", &credentials(), &call)
                .await
                .unwrap();
            let raw = store.get(&ns, "creds").await.unwrap().unwrap().value;
            for needle in [&b"correct horse"[..], b"password", b"ana"] {
                assert!(
                    !raw.windows(needle.len()).any(|w| w == needle),
                    "{name}: {:?} found in the stored bytes",
                    String::from_utf8_lossy(needle)
                );
            }
            let read: Credentials = storage.get_value("creds").await.unwrap().unwrap();
            assert_eq!(read, credentials(), "{name} {format:?}");
        }
    }
}

#[tokio::test]
async fn a_ciphertext_copied_onto_another_record_fails_to_decrypt() {
    for (name, store) in backends::all().await {
        let (storage, ns) = secure(&store, Keyring::new(1, &key(1)));
        storage.set_value("alice", &"alice's token").await.unwrap();
        storage.set_value("bob", &"bob's token").await.unwrap();
        let alice = store.get(&ns, "alice").await.unwrap().unwrap().value;
        store
            .set(&ns, "bob", alice.clone(), SetOptions::always())
            .await
            .unwrap();
        let err = storage.get_value::<String>("bob").await.unwrap_err();
        assert!(
            matches!(err, RecordError::Integrity { ref key } if key == "bob"),
            "{name}: {err}"
        );
        // Same key, other scope: the workspace scope of the same ids.
        let ws_ns = ns.replacen("records/e/", "records/w/", 1);
        let ws_ns = &ws_ns[..ws_ns.rfind('/').unwrap()];
        store
            .set(ws_ns, "alice", alice, SetOptions::always())
            .await
            .unwrap();
        let err = storage
            .get_value_with::<String>("alice", &Options::new().scope(Scope::Workspace))
            .await
            .unwrap_err();
        assert!(
            matches!(err, RecordError::Integrity { .. }),
            "{name}: {err}"
        );
    }
}

#[tokio::test]
async fn a_tampered_byte_fails_with_an_integrity_error() {
    let store = store_core::StoreExt::into_shared(store_memory::MemoryStore::new());
    let (storage, ns) = secure(&store, Keyring::new(1, &key(1)));
    storage.set_value("k", &"value").await.unwrap();
    let raw = store.get(&ns, "k").await.unwrap().unwrap().value.to_vec();
    for i in [1, 5, 6, 29, 30, raw.len() - 1] {
        let mut bad = raw.clone();
        bad[i] ^= 0x80;
        store
            .set(&ns, "k", bad.into(), SetOptions::always())
            .await
            .unwrap();
        let err = storage.get_value::<String>("k").await.unwrap_err();
        assert!(
            matches!(
                err,
                RecordError::Integrity { .. } | RecordError::UnknownKeyId { .. }
            ),
            "byte {i}: {err}"
        );
    }
    store
        .set(&ns, "k", raw[..20].to_vec().into(), SetOptions::always())
        .await
        .unwrap();
    assert!(matches!(
        storage.get_value::<String>("k").await,
        Err(RecordError::Integrity { .. })
    ));
}

#[tokio::test]
async fn rotation_reads_old_records_and_writes_with_the_primary() {
    let store = store_core::StoreExt::into_shared(store_memory::MemoryStore::new());
    let (old, ns) = secure(&store, Keyring::new(1, &key(1)));
    old.set_value("k", &"written under key 1").await.unwrap();
    let rotated = RecordStorage::new(
        store.clone(),
        old.options()
            .clone()
            .keyring(Keyring::new(2, &key(2)).with_old_key(1, &key(1)).unwrap()),
    );
    assert_eq!(
        rotated.get_value::<String>("k").await.unwrap().as_deref(),
        Some("written under key 1")
    );
    rotated.set_value("k", &"rewritten").await.unwrap();
    let raw = store.get(&ns, "k").await.unwrap().unwrap().value;
    assert_eq!(
        &raw[2..6],
        &2u32.to_be_bytes(),
        "new writes use the primary key id"
    );
    // The old keyring alone no longer reads the rewritten record.
    let err = old.get_value::<String>("k").await.unwrap_err();
    assert!(
        matches!(err, RecordError::UnknownKeyId { key_id: 2, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_key_or_no_keyring_is_an_error_never_garbage() {
    let store = store_core::StoreExt::into_shared(store_memory::MemoryStore::new());
    let (storage, _) = secure(&store, Keyring::new(1, &key(1)));
    storage.set_value("k", &"value").await.unwrap();
    let same_id_other_key = RecordStorage::new(
        store.clone(),
        storage.options().clone().keyring(Keyring::new(1, &key(9))),
    );
    let err = same_id_other_key
        .get_value::<String>("k")
        .await
        .unwrap_err();
    assert!(matches!(err, RecordError::Integrity { .. }), "{err}");
    let no_keyring = RecordStorage::new(
        store.clone(),
        Options::new().context(storage.options().get_context().unwrap().clone()),
    );
    for secure in [true, false] {
        let err = no_keyring
            .get_value_with::<String>("k", &Options::new().secure(secure))
            .await
            .unwrap_err();
        assert!(matches!(err, RecordError::MissingKeyring { .. }), "{err}");
    }
    let err = no_keyring
        .set_value_with("k2", &1, &Options::new().secure(true))
        .await
        .unwrap_err();
    assert!(matches!(err, RecordError::MissingKeyring { .. }), "{err}");
}

#[tokio::test]
async fn keyrings_load_from_base64_and_env_specs() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(key(7));
    let store = store_core::StoreExt::into_shared(store_memory::MemoryStore::new());
    let (writer, _) = secure(&store, Keyring::from_base64(3, &b64).unwrap());
    writer.set_value("k", &42).await.unwrap();
    let reader = RecordStorage::new(
        store,
        writer
            .options()
            .clone()
            .keyring(Keyring::parse(&format!("4:{b64}, 3:{b64}")).unwrap()),
    );
    assert_eq!(reader.get_value::<u32>("k").await.unwrap(), Some(42));
}
