//! Linearizable under faults: the conformance suite's random histories, run through a
//! fault proxy that delays, cuts mid-request, black-holes and resets connections, on
//! each client library and on Valkey. Every history must be linearizable with the
//! errors' `Delivery` taken at its word: `MaybeApplied` may have landed, `NotSent` did
//! not.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use store_core::Store;
use store_core::conformance::linearizability::{after_faults, check_under_faults};
use store_core::testing::{FaultProxy, Faults};
use store_redis::{RedisStore, RedisStoreBuilder};

/// Histories per client library, each with faults.
const HISTORIES: usize = 100;

/// A store on `client` for the server on loopback `port`, timing out after `timeout`
/// and reconnecting within 50 ms.
async fn store(port: u16, client: &str, timeout: Duration) -> Arc<RedisStore> {
    let url = format!("redis://127.0.0.1:{port}?client={client}");
    Arc::new(
        RedisStoreBuilder::from_url(&url)
            .unwrap()
            .command_timeout(timeout)
            .connect_timeout(timeout)
            .reconnect(
                Duration::from_millis(5),
                Duration::from_millis(50),
                Duration::from_millis(5),
            )
            .build()
            .await
            .unwrap(),
    )
}

async fn histories_under_faults(url: Option<String>, client: &str) {
    let Some(url) = url else {
        return;
    };
    let upstream: SocketAddr = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let proxy = FaultProxy::start(upstream).await.unwrap();
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(store(proxy.port(), client, Duration::from_millis(250)).await);
    }
    let ns = format!("linearizable-faults/{}", fastrand::u64(..));
    let run = check_under_faults(&stores, &proxy, &ns, HISTORIES, Faults::mixed(150))
        .await
        .unwrap_or_else(|story| panic!("{client} on {url}: {story}"));
    let counts = proxy.counts();
    eprintln!("\n{client} on {url}: {run:?}, proxy {counts:?}");
    after_faults("the cleanup", || stores[0].clear(&ns, ""))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_rs_histories_are_linearizable_under_faults() {
    histories_under_faults(crate::services::redis_url(), "redis-rs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fred_histories_are_linearizable_under_faults() {
    histories_under_faults(crate::services::redis_url(), "fred").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn valkey_histories_are_linearizable_under_faults() {
    histories_under_faults(crate::services::valkey_url(), "redis-rs").await;
}

/// Durable: every write fsynced before it is acknowledged.
const DURABLE_ARGS: &[&str] = &[
    "--bind",
    "127.0.0.1",
    "--port",
    "{port}",
    "--save",
    "",
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--dir",
];

/// Histories while the server is killed (SIGKILL) and restarted mid-history; it keeps
/// its data (append-only file, fsync on every write), so every history stays
/// linearizable: an acknowledged write survives, one in flight may or may not have.
async fn histories_across_kill_and_restart(server: &str, client: &str) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("redis-aof-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let mut args = DURABLE_ARGS.to_vec();
    let dir_text = dir.to_str().unwrap().to_owned();
    args.push(&dir_text);
    let server = store_core::testing::LocalServer::start(server, &args).await;
    let port = server.port();
    let server = Arc::new(tokio::sync::Mutex::new(server));
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(store(port, client, Duration::from_millis(300)).await);
    }
    let kills = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let during = || {
        let (server, kills) = (server.clone(), kills.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(fastrand::u64(5..60))).await;
            let mut server = server.lock().await;
            server.stop();
            kills.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(30)).await;
            server.restart().await;
        }
    };
    let ns = format!("kill-restart/{}", fastrand::u64(..));
    let run = store_core::conformance::linearizability::check_while(&stores, &ns, 30, during)
        .await
        .unwrap_or_else(|story| panic!("{client} across kill -9: {story}"));
    eprintln!(
        "\n{client} across {} kills: {run:?}",
        kills.load(std::sync::atomic::Ordering::SeqCst)
    );
    assert!(
        run.open_ended + run.dropped > 0,
        "no operation met a kill: {run:?}"
    );
    server.lock().await.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_rs_histories_stay_linearizable_across_kill_and_restart() {
    if crate::services::redis_url().is_none() {
        return;
    }
    histories_across_kill_and_restart("redis-server", "redis-rs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fred_histories_stay_linearizable_across_kill_and_restart() {
    if crate::services::redis_url().is_none() {
        return;
    }
    histories_across_kill_and_restart("redis-server", "fred").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn valkey_histories_stay_linearizable_across_kill_and_restart() {
    let Some(server) = crate::services::valkey_server() else {
        return;
    };
    histories_across_kill_and_restart(&server, "redis-rs").await;
}
