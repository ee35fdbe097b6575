//! Linearizable under faults: the conformance suite's random histories through a fault
//! proxy in front of DynamoDB Local that delays, cuts mid-request, black-holes and
//! resets connections. Every history must be linearizable with the errors' `Delivery`
//! taken at its word.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use store_core::Store;
use store_core::conformance::linearizability::{after_faults, check_under_faults};
use store_core::testing::{FaultProxy, Faults};
use store_dynamodb::{DynamoStoreBuilder, TableLayout, aws_sdk_dynamodb};

/// Histories, each with faults.
const HISTORIES: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn histories_are_linearizable_under_faults() {
    let Some(endpoint) = crate::support::endpoint() else {
        return;
    };
    let table = "fleetstate-faults";
    let client = Client::from_conf(crate::support::client_config(&endpoint).build());
    store_dynamodb::create_table(&client, table, &TableLayout::default())
        .await
        .unwrap();
    let upstream: SocketAddr = endpoint.trim_start_matches("http://").parse().unwrap();
    let proxy = FaultProxy::start(upstream).await.unwrap();
    let through = format!("http://127.0.0.1:{}", proxy.port());
    let mut stores = Vec::new();
    for _ in 0..4 {
        let url = format!("dynamodb://{table}?endpoint={through}&region=us-east-1");
        let store = DynamoStoreBuilder::from_url(&url)
            .unwrap()
            .timeout(Duration::from_millis(400))
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
    eprintln!("\nDynamoDB Local: {run:?}, proxy {counts:?}");
    after_faults("the cleanup", || stores[0].clear(&ns, ""))
        .await
        .unwrap();
}
