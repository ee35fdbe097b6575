//! At most once, on each client: a reply lost after the server applied the command
//! (the connection cut between server and client) is `Unavailable` with
//! `Delivery::MaybeApplied`, and the command is never sent again, so the write counts
//! once. A TCP proxy in front of the real server does the cutting.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use store_core::{Bytes, Delivery, Error, SetOptions, Store};
use store_redis::RedisStoreBuilder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Forwards loopback connections to `upstream`; once `cut` is set, the next bytes the
/// server sends are dropped with both connections (and `cut` is cleared).
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    cuts: Arc<AtomicUsize>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let cuts = Arc::new(AtomicUsize::new(0));
        let (armed, counted) = (cut.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let mut buf = vec![0; 64 * 1024];
                    while let Ok(n @ 1..) = client_read.read(&mut buf).await {
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
                let (armed, counted) = (armed.clone(), counted.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0; 64 * 1024];
                    while let Ok(n @ 1..) = server_read.read(&mut buf).await {
                        if armed.swap(false, Ordering::SeqCst) {
                            counted.fetch_add(1, Ordering::SeqCst);
                            // Dropping both halves closes the client's connection with
                            // the reply unsent.
                            return;
                        }
                        if client_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Proxy { port, cut, cuts }
    }
}

async fn lost_replies_are_never_resent(client: &str) {
    let Some(url) = crate::services::redis_url() else {
        return;
    };
    let upstream = url.trim_start_matches("redis://").to_owned();
    let proxy = Proxy::start(upstream).await;
    let store =
        RedisStoreBuilder::from_url(&format!("redis://127.0.0.1:{}?client={client}", proxy.port))
            .unwrap()
            .command_timeout(Duration::from_millis(500))
            .reconnect(
                Duration::from_millis(10),
                Duration::from_millis(100),
                Duration::from_millis(10),
            )
            .build()
            .await
            .unwrap();
    assert_eq!(store.client_library(), client);
    let direct = crate::services::standalone().await.unwrap();
    let ns = format!("at-most-once/{}", fastrand::u64(..));
    assert_eq!(store.incr(&ns, "c", 1, None).await.unwrap().value, 1);
    let written = store
        .set(&ns, "k", Bytes::from_static(b"v1"), SetOptions::always())
        .await
        .unwrap();

    // The increment reaches the server; its reply never comes back.
    proxy.cut.store(true, Ordering::SeqCst);
    match store.incr(&ns, "c", 1, None).await {
        Err(Error::Unavailable {
            delivery: Delivery::MaybeApplied,
            ..
        }) => {}
        other => panic!("{client}: a lost incr reply gave {other:?}"),
    }
    // So does a compare-and-set, once the store has reconnected (arming the cut earlier
    // would cut the reconnection's handshake instead).
    recovered(&store, &ns, client).await;
    proxy.cut.store(true, Ordering::SeqCst);
    let cas = SetOptions::if_version(written.version().unwrap());
    match store.set(&ns, "k", Bytes::from_static(b"v2"), cas).await {
        Err(Error::Unavailable {
            delivery: Delivery::MaybeApplied,
            ..
        }) => {}
        other => panic!("{client}: a lost compare-and-set reply gave {other:?}"),
    }
    assert_eq!(
        proxy.cuts.load(Ordering::SeqCst),
        2,
        "{client}: both replies cut"
    );

    // Applied once each, never again (a re-send would make the counter 3 and reject
    // or re-apply the write).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let counter = direct.get(&ns, "c").await.unwrap().unwrap();
    assert_eq!(
        &counter.value[..],
        b"2",
        "{client}: incr applied exactly once"
    );
    let value = direct.get(&ns, "k").await.unwrap().unwrap();
    assert_eq!(&value.value[..], b"v2", "{client}: the write applied once");
    // The same store works again through the proxy.
    recovered(&store, &ns, client).await;
    assert_eq!(
        store.incr(&ns, "c", 1, None).await.unwrap().value,
        3,
        "{client}"
    );
    store.clear(&ns, "").await.unwrap();
}

/// Waits until `store` answers a read again (it reconnects on its own).
async fn recovered(store: &store_redis::RedisStore, ns: &str, client: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match store.get(ns, "probe").await {
            Ok(_) => return,
            Err(e) if e.is_transient() && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{client}: the store did not recover: {e:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_replies_are_never_resent_on_redis_rs() {
    lost_replies_are_never_resent("redis-rs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_replies_are_never_resent_on_fred() {
    lost_replies_are_never_resent("fred").await;
}
