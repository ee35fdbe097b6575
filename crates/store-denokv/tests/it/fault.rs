//! A `denokv` of the test's own killed mid-run: operations fail fast with
//! `Unavailable` (never a hang), writes that may have landed say so, and the same store
//! works again once the server is back, with what it committed kept.

use std::time::{Duration, Instant};

use store_core::testing::{LocalServer, service_url};
use store_core::{Delivery, Error, SetOptions, Store};
use store_denokv::DenoKvStoreBuilder;

const TOKEN: &str = "fault-test-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_is_unavailable_fast_and_recovery_needs_no_new_store() {
    let Some(bin) = service_url("FLEETSTATE_DENOKV_BIN") else {
        return;
    };
    let db = std::env::temp_dir().join(format!("fleetstate-denokv-{}.sqlite", fastrand::u64(..)));
    let db = db.display().to_string();
    let mut server = LocalServer::start(
        &bin,
        &[
            "--sqlite-path",
            &db,
            "serve",
            "--access-token",
            TOKEN,
            "--addr",
            "127.0.0.1:{port}",
        ],
    )
    .await;
    let url = format!(
        "denokv://:{TOKEN}@127.0.0.1:{}?timeout_ms=500",
        server.port()
    );
    let store = DenoKvStoreBuilder::from_url(&url)
        .unwrap()
        .build()
        .await
        .unwrap();
    store
        .set("fault", "kept", "1".into(), SetOptions::always())
        .await
        .unwrap();
    store.incr("fault", "n", 5, None).await.unwrap();

    server.stop();
    for attempt in 0..3 {
        let started = Instant::now();
        let read = store.get("fault", "kept").await.unwrap_err();
        let write = store
            .set("fault", "k", "v".into(), SetOptions::always())
            .await
            .unwrap_err();
        let incr = store.incr("fault", "n", 1, None).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "attempt {attempt}: {:?}",
            started.elapsed()
        );
        for e in [read, write, incr] {
            assert!(
                matches!(e, Error::Unavailable { .. }),
                "attempt {attempt}: {e:?}"
            );
            // Refused connections: nothing sent, so safe to retry.
            assert!(
                matches!(
                    e,
                    Error::Unavailable {
                        delivery: Delivery::NotSent,
                        ..
                    }
                ),
                "attempt {attempt}: {e:?}"
            );
        }
    }

    server.restart().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let kept = loop {
        match store.get("fault", "kept").await {
            Ok(entry) => break entry,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for recovery: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no recovery within 10 s: {e}"),
        }
    };
    assert_eq!(
        &kept.unwrap().value[..],
        b"1",
        "a committed write survives the restart"
    );
    assert_eq!(
        store.incr("fault", "n", 1, None).await.unwrap().value,
        6,
        "failed increments applied nothing"
    );
    drop(server);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{db}{suffix}"));
    }
}
