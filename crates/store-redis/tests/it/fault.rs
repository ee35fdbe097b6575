//! The server goes away mid-run and comes back: calls fail fast with `Unavailable`,
//! never hang or panic, and the same store works again afterwards.

use std::time::{Duration, Instant};

use store_core::testing::LocalServer;
use store_core::{Bytes, Error, SetOptions, Store};
use store_redis::RedisStoreBuilder;

/// No persistence (append-only files are off by default).
const REDIS_ARGS: &[&str] = &["--bind", "127.0.0.1", "--port", "{port}", "--save", ""];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_server_fails_fast_and_the_same_store_recovers_on_redis_rs() {
    // Needs the redis-server binary the services install; same rule as the services.
    if crate::services::redis_url().is_none() {
        return;
    }
    fails_fast_and_recovers("redis-server", "redis-rs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_server_fails_fast_and_the_same_store_recovers_on_fred() {
    if crate::services::redis_url().is_none() {
        return;
    }
    fails_fast_and_recovers("redis-server", "fred").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_valkey_fails_fast_and_the_same_store_recovers_on_redis_rs() {
    // The valkey-server binary the services install, found through their environment.
    let Some(server) = crate::services::valkey_server() else {
        return;
    };
    fails_fast_and_recovers(&server, "redis-rs").await;
}

/// Kills `server` under a store on `client`, checks every call fails fast with
/// `Unavailable`, restarts it, checks the same store works again and `incr` counted once.
async fn fails_fast_and_recovers(server: &str, client: &str) {
    let mut server = LocalServer::start(server, REDIS_ARGS).await;
    let port = server.port();
    let timeout = Duration::from_millis(500);
    let url = format!("redis://127.0.0.1:{port}?client={client}");
    let store = RedisStoreBuilder::from_url(&url)
        .expect("a valid Redis URL")
        .command_timeout(timeout)
        .reconnect(
            Duration::from_millis(20),
            Duration::from_millis(200),
            Duration::from_millis(20),
        )
        .build()
        .await
        .expect("connect");
    store
        .set(
            "fault",
            "k",
            Bytes::from_static(b"before"),
            SetOptions::always(),
        )
        .await
        .unwrap();

    server.stop();

    let bound = timeout + Duration::from_millis(300);
    for attempt in 0..20 {
        let started = Instant::now();
        let results = [
            store.get("fault", "k").await.map(drop),
            store.incr("fault", "c", 1, None).await.map(drop),
            store
                .set("fault", "k", Bytes::new(), SetOptions::if_absent())
                .await
                .map(drop),
        ];
        let elapsed = started.elapsed();
        assert!(
            elapsed < bound * 3,
            "attempt {attempt}: three calls took {elapsed:?}"
        );
        for result in results {
            match result {
                Err(Error::Unavailable { .. }) => {}
                other => panic!("attempt {attempt}: expected Unavailable, got {other:?}"),
            }
        }
    }

    server.restart().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match store
            .set(
                "fault",
                "k",
                Bytes::from_static(b"after"),
                SetOptions::always(),
            )
            .await
        {
            Ok(_) => break,
            Err(Error::Unavailable { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("store did not recover: {e:?}"),
        }
    }
    let entry = store
        .get("fault", "k")
        .await
        .unwrap()
        .expect("written after recovery");
    assert_eq!(&entry.value[..], b"after");
    assert_eq!(store.incr("fault", "c", 1, None).await.unwrap().value, 1);
}
