//! `cargo bench -p store-sqlite`: throughput of each store operation next to the plain
//! statement a hand-written service would run for it, on the same pool and file, at 1
//! and 16 tasks. Rounds alternate store and raw runs; medians are compared. No service
//! is needed: the file lives in `target/` and is removed afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use store_core::{Bytes, SetOptions, Store, Version};
use store_sqlite::deadpool_sqlite::rusqlite::params;
use store_sqlite::{SqliteStore, SqliteStoreBuilder};

const KEYS: usize = 1000;
const ROUND: Duration = Duration::from_millis(1000);
const ROUNDS: usize = 3;
const NS: &str = "bench";
const RAW: &str = "bench_raw";

#[derive(Clone, Copy, Debug)]
enum Op {
    Get,
    Set,
    Incr,
    CondSet,
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

    fn raw_sql(self) -> String {
        match self {
            Op::Get => format!("SELECT v FROM {RAW} WHERE k = ?1 AND ?2 = ?2"),
            Op::Set => format!(
                "INSERT INTO {RAW} (k, v, n, ver) VALUES (?1, ?2, 0, 0) \
                 ON CONFLICT (k) DO UPDATE SET v = excluded.v"
            ),
            Op::Incr => format!(
                "INSERT INTO {RAW} (k, v, n, ver) VALUES (?1, x'', 1, 0) \
                 ON CONFLICT (k) DO UPDATE SET n = n + 1 WHERE ?2 = ?2 RETURNING n"
            ),
            Op::CondSet => format!(
                "INSERT INTO {RAW} (k, v, n, ver) VALUES (?1, ?2, 0, 0) \
                 ON CONFLICT (k) DO UPDATE SET k = excluded.k RETURNING v"
            ),
            Op::CasSet => format!(
                "UPDATE {RAW} SET v = ?2, ver = ver + 1 WHERE k = ?1 AND ver = ver RETURNING ver"
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
    store: &SqliteStore,
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
            *version = store
                .set(NS, owned, value.clone(), opts)
                .await
                .expect("set IfVersion")
                .version();
        }
    }
}

async fn raw_op(store: &SqliteStore, op: Op, i: usize, value: &Bytes, owned: &str) {
    let key = match op {
        Op::Incr => format!("c{}", i % KEYS),
        Op::CasSet => owned.to_owned(),
        _ => format!("k{}", i % KEYS),
    };
    let value = value.to_vec();
    let conn = store.pool().get().await.expect("a connection");
    conn.interact(move |c| {
        let mut statement = c.prepare_cached(&op.raw_sql())?;
        let mut rows = statement.query(params![key, value])?;
        while rows.next()?.is_some() {}
        Ok::<_, store_sqlite::deadpool_sqlite::rusqlite::Error>(())
    })
    .await
    .expect("the worker")
    .expect("raw statement");
}

async fn throughput(store: &SqliteStore, raw: bool, op: Op, tasks: usize) -> f64 {
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
async fn run(path: &std::path::Path) {
    let store = SqliteStoreBuilder::file(path)
        .pool_size(4)
        .build()
        .await
        .expect("open");
    let conn = store.pool().get().await.expect("a connection");
    conn.interact(|c| {
        c.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {RAW} (k TEXT PRIMARY KEY, v BLOB NOT NULL, \
             n INTEGER NOT NULL, ver INTEGER NOT NULL) WITHOUT ROWID"
        ))
    })
    .await
    .expect("the worker")
    .expect("raw table");
    drop(conn);
    for op in [Op::Get, Op::Set, Op::Incr, Op::CondSet, Op::CasSet] {
        throughput(&store, false, op, 4).await;
        throughput(&store, true, op, 4).await;
    }
    println!(
        "store-sqlite vs the raw statement on the same pool, one file in WAL mode (ops/s, \
         median of {ROUNDS} rounds of {} ms)",
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
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-sqlite");
    std::fs::create_dir_all(&dir).expect("bench directory");
    let path = dir.join(format!("bench-{}.db", fastrand::u64(..)));
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run(&path));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
