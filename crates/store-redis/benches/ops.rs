//! `cargo bench -p store-redis` (after `cargo xtask services up`, or via
//! `cargo xtask bench`): throughput of each store operation next to the raw command it
//! is compared with, sent by the same client library on the same connection, in the same
//! run, at concurrency 1 and 32; once on redis-rs, once on fred. Rounds alternate store and raw runs; medians are compared.
//! Twice: with client and server sharing the machine's cores, then with the server on
//! cores of its own (`CoreSplit`), as in a deployment.

use std::time::Duration;

use store_core::testing::CoreSplit;
use store_core::testing::bench::{self, KEYS, Op, Task};
use store_redis::testing::RawClient;
use store_redis::{RedisStore, RedisStoreBuilder};

const ROUND: Duration = Duration::from_millis(1000);
const ROUNDS: usize = 3;
const NS: &str = "bench";
/// Every key of a run, the store's and the raw ones, lives under this prefix and is
/// deleted before and after the run, so benchmarks leave the shared server as found.
const PREFIX: &str = "fleetstate-bench:";

/// The raw command compared with.
fn baseline(op: Op) -> String {
    match op {
        Op::Get => "raw GET",
        Op::Set | Op::CondSet | Op::CasSet => "raw SET",
        Op::Incr => "raw INCR",
    }
    .to_owned()
}

/// The service from the environment or `cargo xtask services up` (a missing one is a
/// failure under `CI=true`, a message otherwise).
fn redis_url() -> Option<String> {
    store_core::testing::service_url("FLEETSTATE_REDIS_URL")
}

async fn raw_op(client: &RawClient, op: Op, i: usize, task: &Task) {
    let value = &task.value;
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
async fn throughput(store: &RedisStore, op: Op, tasks: usize, raw: bool) -> f64 {
    let step = move |(store, client): (RedisStore, RawClient), i, mut task: Task| async move {
        if raw {
            raw_op(&client, op, i, &task).await;
        } else {
            bench::store_op(&store, NS, op, i, &mut task).await;
        }
        ((store, client), task)
    };
    let ctx = (store.clone(), RawClient::of(store));
    bench::throughput(ctx, tasks, ROUND, step).await
}

/// Every operation at 1 and 32 tasks, alternating store and raw rounds.
async fn table(store: &RedisStore, placement: &str) {
    println!("\nplacement: {placement}");
    println!("op            tasks        store          raw    ratio  baseline");
    let measure = |op, tasks, raw| throughput(store, op, tasks, raw);
    bench::compare(&Op::ALL, &[1, 32], ROUNDS, Op::name, baseline, measure).await;
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
    for op in Op::ALL {
        throughput(&store, op, 8, false).await;
        throughput(&store, op, 8, true).await;
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
