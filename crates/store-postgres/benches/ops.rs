//! `cargo bench -p store-postgres` (after `cargo xtask services up`, or via
//! `cargo xtask bench`): throughput of each store operation next to the plain statement
//! a hand-written service would send for it, prepared on the same pool, at 1 and 16
//! tasks. Rounds alternate store and raw runs; medians are compared. The raw statements
//! use a table of their own (`fleetstate_bench_raw`: a text key, a bytea value, an int8
//! counter and version), dropped after the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use store_core::{Bytes, SetOptions, Store, Version};
use store_postgres::{PostgresStore, PostgresStoreBuilder, TableLayout};

const KEYS: usize = 1000;
const ROUND: Duration = Duration::from_millis(1000);
const ROUNDS: usize = 3;
const NS: &str = "bench";
const RAW: &str = "fleetstate_bench_raw";

#[derive(Clone, Copy, Debug)]
enum Op {
    Get,
    Set,
    Incr,
    /// An insert-only write of a key that exists: rejected, the current entry returned.
    CondSet,
    /// A compare-and-set that succeeds: each task owns its key and keeps its version.
    CasSet,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Set => "set",
            Op::Incr => "incr",
            Op::CondSet => "set IfAbsent",
            Op::CasSet => "set IfVersion",
        }
    }

    /// The raw statement compared with.
    fn raw_sql(self) -> String {
        match self {
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

    fn raw_name(self) -> &'static str {
        match self {
            Op::Get => "SELECT by key",
            Op::Set => "upsert",
            Op::Incr => "upsert n + 1",
            Op::CondSet => "insert or return row",
            Op::CasSet => "UPDATE ... WHERE ver",
        }
    }
}

async fn store_op(
    store: &PostgresStore,
    op: Op,
    i: usize,
    value: &Bytes,
    owned: &str,
    version: &mut Option<Version>,
) {
    let key = format!("k{}", i % KEYS);
    match op {
        Op::Get => drop(store.get(NS, &key).await.expect("get")),
        Op::Set => drop(
            store
                .set(NS, &key, value.clone(), SetOptions::always())
                .await
                .expect("set"),
        ),
        Op::Incr => drop(
            store
                .incr(NS, &format!("c{}", i % KEYS), 1, None)
                .await
                .expect("incr"),
        ),
        Op::CondSet => drop(
            store
                .set(NS, &key, value.clone(), SetOptions::if_absent())
                .await
                .expect("set IfAbsent"),
        ),
        Op::CasSet => {
            let opts = match *version {
                Some(v) => SetOptions::if_version(v),
                None => SetOptions::always(),
            };
            let written = store
                .set(NS, owned, value.clone(), opts)
                .await
                .expect("set IfVersion");
            *version = written.version();
        }
    }
}

async fn raw_op(store: &PostgresStore, op: Op, i: usize, value: &Bytes, owned: &str) {
    let client = store.pool().get().await.expect("a connection");
    let statement = client.prepare_cached(&op.raw_sql()).await.expect("prepare");
    let key = match op {
        Op::Incr => format!("c{}", i % KEYS),
        Op::CasSet => owned.to_owned(),
        _ => format!("k{}", i % KEYS),
    };
    let value: &[u8] = value;
    match op {
        Op::Get | Op::Incr => client.query(&statement, &[&key]).await,
        Op::Set | Op::CondSet | Op::CasSet => client.query(&statement, &[&key, &value]).await,
    }
    .expect("raw statement");
}

async fn throughput(store: &PostgresStore, raw: bool, op: Op, tasks: usize) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let value = Bytes::from(vec![b'x'; 64]);
    let deadline = Instant::now() + ROUND;
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (store, done, value) = (store.clone(), done.clone(), value.clone());
            tokio::spawn(async move {
                let mut i = t * 7919;
                let owned = format!("owned-{t}");
                let mut version = None;
                while Instant::now() < deadline {
                    if raw {
                        raw_op(&store, op, i, &value, &owned).await;
                    } else {
                        store_op(&store, op, i, &value, &owned, &mut version).await;
                    }
                    i += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let started = Instant::now();
    for h in handles {
        h.await.expect("bench task");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
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
    for op in [Op::Get, Op::Set, Op::Incr, Op::CondSet, Op::CasSet] {
        throughput(&store, false, op, 16).await;
        throughput(&store, true, op, 16).await;
    }
    println!(
        "store-postgres vs the raw statement on the same pool, {} (ops/s, median of {ROUNDS} \
         rounds of {} ms)",
        url.split('@').next_back().unwrap_or(url),
        ROUND.as_millis()
    );
    println!("op            tasks        store          raw    ratio  raw statement");
    for op in [Op::Get, Op::Set, Op::Incr, Op::CondSet, Op::CasSet] {
        for tasks in [1, 16] {
            let (mut ours, mut raw) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                ours.push(throughput(&store, false, op, tasks).await);
                raw.push(throughput(&store, true, op, tasks).await);
            }
            let (ours, raw) = (median(ours), median(raw));
            println!(
                "{:<13} {:>5} {:>12.0} {:>12.0} {:>7.2}x  {}",
                op.name(),
                tasks,
                ours,
                raw,
                ours / raw,
                op.raw_name()
            );
        }
    }
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
