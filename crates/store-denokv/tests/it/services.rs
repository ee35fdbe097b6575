//! The test server, found through `store_core::testing::service_url`.

use store_core::conformance::Subject;
use store_core::testing::service_url;
use store_denokv::{DenoKvStore, DenoKvStoreBuilder};

/// Independent instances (a client thread and connections each) the suite races across.
const INSTANCES: usize = 4;

pub(crate) fn url() -> Option<String> {
    service_url("FLEETSTATE_DENOKV_URL")
}

/// A store on `url`.
pub(crate) async fn connect(url: &str) -> DenoKvStore {
    DenoKvStoreBuilder::from_url(url)
        .expect("a valid Deno KV URL")
        .build()
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// A conformance subject of [`INSTANCES`] stores, each with a client of its own.
pub(crate) async fn subject() -> Option<Subject<DenoKvStore>> {
    let url = url()?;
    let mut stores = Vec::with_capacity(INSTANCES);
    for _ in 0..INSTANCES {
        stores.push(connect(&url).await);
    }
    let main = stores.remove(0);
    Some(Subject::new(main).with_instances(stores))
}
