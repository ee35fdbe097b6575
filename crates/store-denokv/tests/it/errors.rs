//! Errors: URLs through the registry, a refused token, no token, a server that is not
//! there, values the store did not write.

use std::time::{Duration, Instant};

use store_core::{Error, SchemeRegistry, SetOptions, Store};
use store_denokv::DenoKvStoreBuilder;
use store_denokv::denokv_proto::{
    AtomicWrite, Database, Key, KeyPart, KvValue, Mutation, MutationKind,
};

#[tokio::test]
async fn urls_open_through_the_registry() {
    let Some(url) = crate::services::url() else {
        return;
    };
    let registry = SchemeRegistry::new();
    store_denokv::register(&registry);
    let store = registry
        .open(&format!("{url}?root=registry&timeout_ms=3000"))
        .await
        .unwrap();
    let ns = format!("registry/{}", fastrand::u64(..));
    store
        .set(&ns, "k", "v".into(), SetOptions::always())
        .await
        .unwrap();
    assert_eq!(&store.get(&ns, "k").await.unwrap().unwrap().value[..], b"v");
    // Another root never sees it.
    let other = registry.open(&format!("{url}?root=other")).await.unwrap();
    assert!(other.get(&ns, "k").await.unwrap().is_none());
    store.clear(&ns, "").await.unwrap();
}

#[tokio::test]
async fn a_refused_or_missing_token_is_misconfigured() {
    let Some(url) = crate::services::url() else {
        return;
    };
    let (_, rest) = url.split_once('@').unwrap();
    let wrong = format!("denokv://:not-the-token-at-all@{rest}");
    let err = DenoKvStoreBuilder::from_url(&wrong)
        .unwrap()
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Misconfigured(_)), "{err:?}");
    assert!(!err.to_string().contains("not-the-token-at-all"), "{err}");
    let none = format!("denokv://{rest}?token_env=FLEETSTATE_NO_SUCH_VARIABLE");
    let err = DenoKvStoreBuilder::from_url(&none)
        .unwrap()
        .build()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("FLEETSTATE_NO_SUCH_VARIABLE"),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_that_is_not_there_is_unavailable_fast() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let err = DenoKvStoreBuilder::from_url(&format!("denokv://:token-0123456789@127.0.0.1:{port}"))
        .unwrap()
        .build()
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "nothing was sent: {err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// Values at the store's keys that it did not write (a `Deno.KvU64`, V8-serialized
/// data, bare bytes) are errors that say so, for every operation that reads them;
/// nothing panics and nothing is overwritten by a conditional write.
#[tokio::test]
async fn values_it_did_not_write_are_clear_errors() {
    let Some(url) = crate::services::url() else {
        return;
    };
    let store = crate::services::connect(&url).await;
    let ns = format!("foreign/{}", fastrand::u64(..));
    let (endpoint, token) = crate::services::endpoint_and_token(&url);
    let client = store_denokv::client::raw_client(endpoint, token, Duration::from_secs(2)).unwrap();
    let values = [
        ("u64", KvValue::U64(7)),
        ("v8", KvValue::V8(vec![0xff, 0x0f, 0x22, 0x01, 0x61])),
        ("bytes", KvValue::Bytes(vec![1, 2, 3])),
    ];
    for (name, value) in values {
        let key = Key(vec![
            KeyPart::String("fleetstate".into()),
            KeyPart::String(ns.clone()),
            KeyPart::String(name.into()),
        ]);
        let write = AtomicWrite {
            checks: vec![],
            mutations: vec![Mutation {
                key: store_denokv::denokv_proto::encode_key(&key).unwrap(),
                kind: MutationKind::Set(value),
                expire_at: None,
            }],
            enqueues: vec![],
        };
        client.atomic_write(write).await.unwrap().unwrap();
        for err in [
            store.get(&ns, name).await.map(|_| ()).unwrap_err(),
            store
                .incr(&ns, name, 1, None)
                .await
                .map(|_| ())
                .unwrap_err(),
            store
                .set(&ns, name, "x".into(), SetOptions::if_present())
                .await
                .map(|_| ())
                .unwrap_err(),
            store.list(&ns, "", None, 10).await.map(|_| ()).unwrap_err(),
        ] {
            assert!(
                err.to_string().contains("not written by fleetstate"),
                "{name}: {err}"
            );
        }
    }
    assert_eq!(store.clear(&ns, "").await.unwrap(), 3);
}
