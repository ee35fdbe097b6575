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

/// The KV Connect endpoint and token of a `denokv://:token@host:port` URL.
pub(crate) fn endpoint_and_token(url: &str) -> (url::Url, String) {
    let rest = url
        .strip_prefix("denokv://:")
        .expect("a denokv://:token@ URL");
    let (token, host) = rest.split_once('@').expect("a token");
    let host = host.split('?').next().unwrap_or(host);
    (
        url::Url::parse(&format!("http://{host}")).unwrap(),
        token.to_owned(),
    )
}
