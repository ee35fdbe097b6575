//! Linearizable under faults: the conformance suite's random histories, run through a
//! fault proxy that delays, cuts mid-request, black-holes and resets connections, on
//! each client library and on Valkey. Every history must be linearizable with the
//! errors' `Delivery` taken at its word: `MaybeApplied` may have landed, `NotSent` did
//! not.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use store_core::Store;
use store_core::conformance::linearizability::check_under_faults;
use store_core::testing::{FaultProxy, Faults};
use store_redis::{RedisStore, RedisStoreBuilder};

/// Histories per client library, each with faults.
const HISTORIES: usize = 100;

async fn store(proxy: &FaultProxy, client: &str) -> Arc<RedisStore> {
    let url = format!("redis://127.0.0.1:{}?client={client}", proxy.port());
    Arc::new(
        RedisStoreBuilder::from_url(&url)
            .unwrap()
            .command_timeout(Duration::from_millis(250))
            .connect_timeout(Duration::from_millis(250))
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
        stores.push(store(&proxy, client).await);
    }
    let ns = format!("linearizable-faults/{}", fastrand::u64(..));
    let run = check_under_faults(&stores, &proxy, &ns, HISTORIES, Faults::mixed(150))
        .await
        .unwrap_or_else(|story| panic!("{client} on {url}: {story}"));
    let counts = proxy.counts();
    eprintln!("\n{client} on {url}: {run:?}, proxy {counts:?}");
    assert!(
        counts.cuts > 0 && counts.black_holes > 0 && counts.resets > 0,
        "{counts:?}"
    );
    assert!(
        run.open_ended > 0,
        "faults left no operation open-ended: {run:?}"
    );
    stores[0].clear(&ns, "").await.unwrap();
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
