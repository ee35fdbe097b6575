//! Linearizable under faults: the conformance suite's random histories through a fault
//! proxy that delays, cuts mid-request, black-holes and resets connections. Every
//! history must be linearizable with the errors' `Delivery` taken at its word.

use std::net::SocketAddr;
use std::sync::Arc;

use store_core::Store;
use store_core::conformance::linearizability::{after_faults, check_under_faults};
use store_core::testing::{FaultProxy, Faults};
use store_denokv::DenoKvStoreBuilder;

/// Histories, each with faults.
const HISTORIES: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn histories_are_linearizable_under_faults() {
    let Some(url) = crate::services::url() else {
        return;
    };
    let (endpoint, token) = crate::services::endpoint_and_token(&url);
    let upstream: SocketAddr = format!(
        "{}:{}",
        endpoint.host_str().unwrap(),
        endpoint.port().unwrap()
    )
    .parse()
    .unwrap();
    let proxy = FaultProxy::start(upstream).await.unwrap();
    let mut stores = Vec::new();
    for _ in 0..4 {
        let through = format!(
            "denokv://:{token}@127.0.0.1:{}?timeout_ms=300",
            proxy.port()
        );
        stores.push(Arc::new(
            DenoKvStoreBuilder::from_url(&through)
                .unwrap()
                .build()
                .await
                .unwrap(),
        ));
    }
    let ns = format!("linearizable-faults/{}", fastrand::u64(..));
    let run = check_under_faults(&stores, &proxy, &ns, HISTORIES, Faults::mixed(150))
        .await
        .unwrap_or_else(|story| panic!("{story}"));
    let counts = proxy.counts();
    eprintln!("\nDeno KV: {run:?}, proxy {counts:?}");
    after_faults("the cleanup", || stores[0].clear(&ns, ""))
        .await
        .unwrap();
}
