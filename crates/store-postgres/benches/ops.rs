//! `cargo bench -p store-postgres` (after `cargo xtask services up`, or via
//! `cargo xtask bench`): throughput of each store operation next to the plain statement
//! a hand-written service would send for it, prepared on the same pool, at 1 and 16
//! tasks. Rounds alternate store and raw runs; medians are compared. The raw statements
//! use a table of their own (`fleetstate_bench_raw`: a text key, a bytea value, an int8
//! counter and version), dropped after the run.

use std::time::Duration;

use store_core::Store;
use store_core::testing::bench::{self, Op, Task};
use store_postgres::{PostgresStore, PostgresStoreBuilder, TableLayout};

const ROUND: Duration = Duration::from_millis(1000);
const ROUNDS: usize = 3;
const NS: &str = "bench";
const RAW: &str = "fleetstate_bench_raw";

/// The raw statement compared with.
fn raw_sql(op: Op) -> String {
    match op {
        Op::Get => format!("SELECT v FROM {RAW} WHERE k = $1"),
        Op::Set => format!(
            "INSERT INTO {RAW} (k, v, n, ver) VALUES ($1, $2, 0, 0) \
             ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"
        ),
        Op::Incr => format!(
            "INSERT INTO {RAW} (k, v, n, ver) VALUES ($1, '', 1, 0) \
             ON CONFLICT (k) DO UPDATE SET n = {RAW}.n + 1 RETURNING n"
        ),
        // The usual "insert, or give me the current row" idiom.
        Op::CondSet => format!(
            "INSERT INTO {RAW} (k, v, n, ver) VALUES ($1, $2, 0, 0) \
             ON CONFLICT (k) DO UPDATE SET k = EXCLUDED.k RETURNING v"
        ),
        Op::CasSet => format!(
            "UPDATE {RAW} SET v = $2, ver = ver + 1 WHERE k = $1 AND ver = ver RETURNING ver"
        ),
    }
}

fn raw_name(op: Op) -> String {
    match op {
        Op::Get => "SELECT by key",
        Op::Set => "upsert",
        Op::Incr => "upsert n + 1",
        Op::CondSet => "insert or return row",
        Op::CasSet => "UPDATE ... WHERE ver",
    }
    .to_owned()
}

async fn raw_op(store: &PostgresStore, op: Op, i: usize, task: &Task) {
    let client = store.pool().get().await.expect("a connection");
    let statement = client.prepare_cached(&raw_sql(op)).await.expect("prepare");
    let key = op.key(i, task);
    let value: &[u8] = &task.value;
    match op {
        Op::Get | Op::Incr => client.query(&statement, &[&key]).await,
        Op::Set | Op::CondSet | Op::CasSet => client.query(&statement, &[&key, &value]).await,
    }
    .expect("raw statement");
}

async fn throughput(store: &PostgresStore, op: Op, tasks: usize, raw: bool) -> f64 {
    let step = move |store: PostgresStore, i, mut task: Task| async move {
        if raw {
            raw_op(&store, op, i, &task).await;
        } else {
            bench::store_op(&store, NS, op, i, &mut task).await;
        }
        (store, task)
    };
    bench::throughput(store.clone(), tasks, ROUND, step).await
}

#[allow(clippy::print_stdout)]
async fn run(url: &str) {
    let store = PostgresStoreBuilder::from_url(url)
        .expect("a valid PostgreSQL URL")
        .layout(TableLayout::new("fleetstate_bench").expect("a valid name"))
        .pool_size(16)
        .create_schema(true)
        .build()
        .await
        .expect("connect");
    let client = store.pool().get().await.expect("a connection");
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {RAW} (k text PRIMARY KEY, v bytea NOT NULL, \
             n int8 NOT NULL, ver int8 NOT NULL)"
        ))
        .await
        .expect("raw table");
    drop(client);
    store.clear(NS, "").await.expect("clear");
    for op in Op::ALL {
        throughput(&store, op, 16, false).await;
        throughput(&store, op, 16, true).await;
    }
    println!(
        "store-postgres vs the raw statement on the same pool, {} (ops/s, median of {ROUNDS} \
         rounds of {} ms)",
        url.split('@').next_back().unwrap_or(url),
        ROUND.as_millis()
    );
    println!("op            tasks        store          raw    ratio  raw statement");
    let measure = |op, tasks, raw| throughput(&store, op, tasks, raw);
    bench::compare(&Op::ALL, &[1, 16], ROUNDS, Op::name, raw_name, measure).await;
    store.clear(NS, "").await.expect("clear");
    let client = store.pool().get().await.expect("a connection");
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {RAW}; DROP TABLE IF EXISTS fleetstate_bench"
        ))
        .await
        .expect("drop the bench tables");
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` probes; nothing to list.
    }
    let Some(url) = store_core::testing::service_url("FLEETSTATE_POSTGRES_URL") else {
        eprintln!("no PostgreSQL: run `cargo xtask services up` first, or `cargo xtask bench`");
        std::process::exit(1);
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run(&url));
}
