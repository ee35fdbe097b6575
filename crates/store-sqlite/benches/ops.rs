//! `cargo bench -p store-sqlite`: throughput of each store operation next to the plain
//! statement a hand-written service would run for it, on the same pool and file, at 1
//! and 16 tasks. Rounds alternate store and raw runs; medians are compared. No service
//! is needed: the file lives in `target/` and is removed afterwards.

use std::time::Duration;

use store_core::testing::bench::{self, Op, Task};
use store_sqlite::deadpool_sqlite::rusqlite::params;
use store_sqlite::{SqliteStore, SqliteStoreBuilder};

const ROUND: Duration = Duration::from_millis(1000);
const ROUNDS: usize = 3;
const NS: &str = "bench";
const RAW: &str = "bench_raw";

/// The raw statement compared with (two parameters each, the key and the value).
fn raw_sql(op: Op) -> String {
    match op {
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

async fn raw_op(store: &SqliteStore, op: Op, i: usize, task: &Task) {
    let key = op.key(i, task);
    let value = task.value.to_vec();
    let conn = store.pool().get().await.expect("a connection");
    conn.interact(move |c| {
        let mut statement = c.prepare_cached(&raw_sql(op))?;
        let mut rows = statement.query(params![key, value])?;
        while rows.next()?.is_some() {}
        Ok::<_, store_sqlite::deadpool_sqlite::rusqlite::Error>(())
    })
    .await
    .expect("the worker")
    .expect("raw statement");
}

async fn throughput(store: &SqliteStore, op: Op, tasks: usize, raw: bool) -> f64 {
    let step = move |store: SqliteStore, i, mut task: Task| async move {
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
    for op in Op::ALL {
        throughput(&store, op, 4, false).await;
        throughput(&store, op, 4, true).await;
    }
    println!(
        "store-sqlite vs the raw statement on the same pool, one file in WAL mode (ops/s, \
         median of {ROUNDS} rounds of {} ms)",
        ROUND.as_millis()
    );
    println!("op            tasks        store          raw    ratio  raw statement");
    let measure = |op, tasks, raw| throughput(&store, op, tasks, raw);
    bench::compare(&Op::ALL, &[1, 16], ROUNDS, Op::name, raw_name, measure).await;
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
