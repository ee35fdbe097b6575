//! Linearizable under faults: the conformance suite's random histories through a fault
//! proxy that delays, cuts mid-request, black-holes and resets connections. Every
//! history must be linearizable with the errors' `Delivery` taken at its word.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use store_core::Store;
use store_core::conformance::linearizability::{after_faults, check_under_faults};
use store_core::testing::{FaultProxy, Faults};
use store_postgres::PostgresStoreBuilder;

/// Histories, each with faults.
const HISTORIES: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn histories_are_linearizable_under_faults() {
    let Some(url) = crate::services::url() else {
        return;
    };
    // The table exists before the proxy starts cutting.
    crate::services::connect(&url, &crate::services::default_layout()).await;
    let upstream: SocketAddr = crate::services::host_port(&url).parse().unwrap();
    let proxy = FaultProxy::start(upstream).await.unwrap();
    let mut stores = Vec::new();
    for _ in 0..4 {
        let store =
            PostgresStoreBuilder::from_url(&crate::services::through_proxy(&url, proxy.port()))
                .unwrap()
                .command_timeout(Duration::from_millis(300))
                .connect_timeout(Duration::from_millis(300))
                .pool_size(8)
                .build()
                .await
                .unwrap();
        stores.push(Arc::new(store));
    }
    let ns = format!("linearizable-faults/{}", fastrand::u64(..));
    let run = check_under_faults(&stores, &proxy, &ns, HISTORIES, Faults::mixed(150))
        .await
        .unwrap_or_else(|story| panic!("{story}"));
    let counts = proxy.counts();
    eprintln!("\nPostgreSQL: {run:?}, proxy {counts:?}");
    after_faults("the cleanup", || stores[0].clear(&ns, ""))
        .await
        .unwrap();
}
