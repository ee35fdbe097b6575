//! `cargo bench -p store-redis` (after `cargo xtask services up`, or via
//! `cargo xtask bench`): throughput of each store operation next to the raw command it
//! is compared with, sent by the same client library on the same connection, in the same
//! run, at concurrency 1 and 32; once on redis-rs, once on fred. Rounds alternate store and raw runs; medians are compared.
//! Twice: with client and server sharing the machine's cores, then with the server on
//! cores of its own (`CoreSplit`), as in a deployment.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use store_core::testing::CoreSplit;
use store_core::{Bytes, SetOptions, Store, Version};
use store_redis::testing::RawClient;
use store_redis::{RedisStore, RedisStoreBuilder};

const KEYS: usize = 1000;
const ROUND: Duration = Duration::from_millis(1000);
const ROUNDS: usize = 3;
const NS: &str = "bench";
/// Every key of a run, the store's and the raw ones, lives under this prefix and is
/// deleted before and after the run, so benchmarks leave the shared server as found.
const PREFIX: &str = "fleetstate-bench:";

#[derive(Clone, Copy, Debug)]
enum Op {
    Get,
    Set,
    Incr,
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
    fn baseline(self) -> &'static str {
        match self {
            Op::Get => "GET",
            Op::Set | Op::CondSet | Op::CasSet => "SET",
            Op::Incr => "INCR",
        }
    }
}

/// The service from the environment or `cargo xtask services up` (a missing one is a
/// failure under `CI=true`, a message otherwise).
fn redis_url() -> Option<String> {
    store_core::testing::service_url("FLEETSTATE_REDIS_URL")
}

async fn store_op(
    store: &RedisStore,
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
            *version = Some(
                written
                    .version()
                    .expect("the task owns its key: never rejected"),
            );
        }
    }
}

async fn raw_op(client: &RawClient, op: Op, i: usize, value: &Bytes) {
    let key = format!("{PREFIX}raw:k{}", i % KEYS);
    match op {
        Op::Get => client.command(&[b"GET", key.as_bytes()]).await,
        Op::Set | Op::CondSet | Op::CasSet => {
            client.command(&[b"SET", key.as_bytes(), value]).await
        }
        Op::Incr => {
            let key = format!("{PREFIX}raw:c{}", i % KEYS);
            client.command(&[b"INCR", key.as_bytes()]).await
        }
    }
    .expect("raw command");
}

/// Operations per second with `tasks` concurrent tasks for one round.
async fn throughput(store: &RedisStore, raw: bool, op: Op, tasks: usize) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let value = Bytes::from(vec![b'x'; 64]);
    let deadline = Instant::now() + ROUND;
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (store, done, value) = (store.clone(), done.clone(), value.clone());
            let raw_client = RawClient::of(&store);
            tokio::spawn(async move {
                let mut i = t * 7919;
                let owned = format!("owned-{t}");
                let mut version = None;
                while Instant::now() < deadline {
                    if raw {
                        raw_op(&raw_client, op, i, &value).await;
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

/// Every operation at 1 and 32 tasks, alternating store and raw rounds.
async fn table(store: &RedisStore, placement: &str) {
    println!("\nplacement: {placement}");
    println!("op            tasks        store          raw    ratio  baseline");
    for op in [Op::Get, Op::Set, Op::Incr, Op::CondSet, Op::CasSet] {
        for tasks in [1, 32] {
            let (mut ours, mut raw) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                ours.push(throughput(store, false, op, tasks).await);
                raw.push(throughput(store, true, op, tasks).await);
            }
            let (ours, raw) = (median(ours), median(raw));
            println!(
                "{:<13} {:>5} {:>12.0} {:>12.0} {:>7.2}x  raw {}",
                op.name(),
                tasks,
                ours,
                raw,
                ours / raw,
                op.baseline()
            );
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[allow(clippy::print_stdout)]
fn main() {
    let Some(url) = redis_url() else {
        eprintln!(
            "no Redis: run `cargo xtask services up` first, or `cargo xtask bench` \
             (FLEETSTATE_REDIS_URL overrides)"
        );
        std::process::exit(1);
    };
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` probes; nothing to list.
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for client in ["redis-rs", "fred"] {
        let sep = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{sep}client={client}");
        rt.block_on(client_tables(&url, client));
    }
}

#[allow(clippy::print_stdout)]
async fn client_tables(url: &str, client: &str) {
    let store = RedisStoreBuilder::from_url(url)
        .expect("a valid Redis URL")
        .key_prefix(PREFIX)
        .build()
        .await
        .expect("connect");
    store_redis::testing::purge_key_prefix(&store)
        .await
        .expect("remove a previous run's keys");
    // Warm up: scripts loaded, keys present.
    for op in [Op::Get, Op::Set, Op::Incr, Op::CondSet, Op::CasSet] {
        throughput(&store, false, op, 8).await;
        throughput(&store, true, op, 8).await;
    }
    println!(
        "\nstore-redis on {client} vs raw {client} commands, {url} (ops/s, median of {ROUNDS} rounds of {} ms)",
        ROUND.as_millis()
    );
    table(&store, "shared cores").await;
    // The same rows with the server on cores of its own, as in any deployment.
    match CoreSplit::for_server(store_redis::testing::local_server_pid(&store).await) {
        Ok(_split) => table(&store, "client core 0, redis-server the others").await,
        Err(why) => println!("\n(no separate-core rows: {why})"),
    }
    store_redis::testing::purge_key_prefix(&store)
        .await
        .expect("remove this run's keys");
}
