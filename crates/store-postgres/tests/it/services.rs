//! The test server, found through `store_core::testing::service_url`.

use store_core::conformance::Subject;
use store_core::testing::service_url;
use store_postgres::{PostgresStore, PostgresStoreBuilder, TableLayout};

/// Independent instances (a pool each) the conformance suite races across.
const INSTANCES: usize = 4;

pub(crate) fn url() -> Option<String> {
    service_url("FLEETSTATE_POSTGRES_URL")
}

/// A store on `url` with `layout`, its table created if missing.
pub(crate) async fn connect(url: &str, layout: &TableLayout) -> PostgresStore {
    PostgresStoreBuilder::from_url(url)
        .expect("a valid PostgreSQL URL")
        .layout(layout.clone())
        .pool_size(8)
        .create_schema(true)
        .build()
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// A conformance subject of [`INSTANCES`] stores, each with a pool of its own.
pub(crate) async fn subject(layout: TableLayout) -> Option<Subject<PostgresStore>> {
    let url = url()?;
    let mut stores = Vec::with_capacity(INSTANCES);
    for _ in 0..INSTANCES {
        stores.push(connect(&url, &layout).await);
    }
    let main = stores.remove(0);
    Some(Subject::new(main).with_instances(stores))
}

/// The default layout: `fleetstate` in `public`.
pub(crate) fn default_layout() -> TableLayout {
    TableLayout::default()
}

/// A renamed, `UNLOGGED` table in a schema of its own.
pub(crate) fn unlogged_layout() -> TableLayout {
    TableLayout::new("fleet_counters")
        .and_then(|l| l.in_schema("fleetstate_test"))
        .expect("valid names")
        .unlogged(true)
}

/// `host:port` of a `postgres://user@host:port/db` URL.
pub(crate) fn host_port(url: &str) -> String {
    let rest = url.split_once('@').map_or(url, |(_, rest)| rest);
    let rest = rest.trim_start_matches("postgres://");
    rest.split('/').next().unwrap_or(rest).to_owned()
}

/// `url` with its host and port replaced by a proxy's loopback port.
pub(crate) fn through_proxy(url: &str, port: u16) -> String {
    url.replace(&host_port(url), &format!("127.0.0.1:{port}"))
}
