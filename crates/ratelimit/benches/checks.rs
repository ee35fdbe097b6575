//! `cargo bench -p ratelimit` (Redis rows need `cargo xtask services up`, or run
//! `cargo xtask bench`): checks per second for each algorithm next to a baseline in the
//! same run.
//!
//! - Redis: each algorithm vs one raw `INCR` (fred) on the same connection, at
//!   concurrency 1 and 32; alternating 1-second rounds, medians compared. A last row
//!   puts the cheapest script call (`EVALSHA` of `return 1`) against the same `INCR`:
//!   the ceiling of any check that needs a script to be atomic. Twice: with
//!   client and server sharing the machine's cores, then with the server on cores of
//!   its own (`CoreSplit`), as in a deployment.
//! - Hot key: each algorithm with 128 tasks checking one key vs 128 tasks on 128 keys
//!   (one each), checks/s and the 99th-percentile latency of a check.
//! - Memory: the fixed-window and GCRA limiters on `MemoryStore` vs governor's keyed
//!   limiter (itself GCRA), single-threaded, 1000 keys.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratelimit::{Policy, Quota, RateLimiter};
use store_core::testing::CoreSplit;
use store_core::testing::bench::{self, median};
use store_core::{SharedStore, StoreExt};
use store_redis::testing::RawClient;
use store_redis::{RedisStore, RedisStoreBuilder};

const ROUND: Duration = Duration::from_millis(1000);
const ROUNDS: usize = 3;
const KEYS: usize = 1000;
/// Every key of a run, the limiters' and the raw ones, lives under this prefix and is
/// deleted before and after the run, so benchmarks leave the shared server as found.
const PREFIX: &str = "fleetstate-bench-ratelimit:";

/// The service from the environment or `cargo xtask services up` (a missing one is a
/// failure under `CI=true`, a message otherwise).
fn redis_url() -> Option<String> {
    store_core::testing::service_url("FLEETSTATE_REDIS_URL")
}

/// A huge limit so every check takes the admitting path, as most real checks do.
fn policy(algorithm: &str) -> Policy {
    let quota = Quota::per_hour(1_000_000_000);
    match algorithm {
        "fixed window" => Policy::fixed_window(quota),
        "sliding window" => Policy::sliding_window(quota),
        "fixed leased 50" => Policy::fixed_window(quota).leased(50),
        _ => Policy::gcra(quota),
    }
}

/// What a bench task does in a loop.
#[derive(Clone)]
enum Op {
    /// One check of the limiter.
    Check(Arc<RateLimiter<SharedStore>>),
    /// The baseline: one raw `INCR`.
    Incr,
    /// The cheapest script call there is (`EVALSHA` of `return 1` on the key): the
    /// ceiling of any check whose atomicity needs a script.
    BareScript(Arc<str>),
}

async fn throughput(op: Op, raw: &RedisStore, tasks: usize) -> f64 {
    let step = |(op, raw): (Op, RawClient), i: usize, task| async move {
        let key = format!("client-{}", i % KEYS);
        let raw_key = || format!("{PREFIX}raw:{key}");
        match &op {
            Op::Check(l) => drop(black_box(l.check("api", &key).await.expect("check"))),
            Op::Incr => raw
                .command(&[b"INCR", raw_key().as_bytes()])
                .await
                .expect("INCR"),
            Op::BareScript(sha) => raw
                .command(&[b"EVALSHA", sha.as_bytes(), b"1", raw_key().as_bytes()])
                .await
                .expect("EVALSHA"),
        }
        ((op, raw), task)
    };
    bench::throughput((op, RawClient::of(raw)), tasks, ROUND, step).await
}

/// `op` against raw `INCR` at 1 and 32 tasks, alternating rounds: one line each.
#[allow(clippy::print_stdout)]
async fn rows(label: &str, op: Op, store: &RedisStore) {
    throughput(op.clone(), store, 8).await;
    for tasks in [1, 32] {
        let (mut ours, mut raw) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            ours.push(throughput(op.clone(), store, tasks).await);
            raw.push(throughput(Op::Incr, store, tasks).await);
        }
        let (ours, raw) = (median(ours), median(raw));
        println!(
            "{label:<17} {tasks:>5} {ours:>12.0} {raw:>12.0} {:>7.2}x",
            ours / raw
        );
    }
}

/// Each algorithm, then the bare script, at 1 and 32 tasks against raw `INCR`.
#[allow(clippy::print_stdout)]
async fn redis_table(store: &RedisStore, bare_script: &Arc<str>, placement: &str) {
    println!("\nplacement: {placement}");
    println!("check             tasks        check     raw INCR    ratio");
    for algorithm in ["fixed window", "sliding window", "gcra", "fixed leased 50"] {
        let limiter = RateLimiter::builder(
            store.clone().into_shared(),
            &format!("bench-{}", fastrand::u32(..)),
        )
        .default_policy(policy(algorithm))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("limiter");
        rows(algorithm, Op::Check(Arc::new(limiter)), store).await;
    }
    rows("bare EVALSHA", Op::BareScript(bare_script.clone()), store).await;
}

/// Checks/s and p99 latency of `tasks` tasks checking for one `ROUND`, task `t` on key
/// `client-{t % keys}`.
async fn latencies(
    limiter: Arc<RateLimiter<SharedStore>>,
    tasks: usize,
    keys: usize,
) -> (f64, Duration) {
    let deadline = Instant::now() + ROUND;
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let key = format!("client-{}", t % keys);
                let mut took = Vec::new();
                while Instant::now() < deadline {
                    let at = Instant::now();
                    black_box(limiter.check("api", &key).await.expect("check"));
                    took.push(at.elapsed());
                }
                took
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("bench task"));
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    all.sort();
    (rate, all[all.len() * 99 / 100])
}

/// 128 tasks on one key against 128 tasks on 128 keys, for each algorithm.
#[allow(clippy::print_stdout)]
async fn hot_key_table(store: &RedisStore) {
    const TASKS: usize = 128;
    println!(
        "
hot key: {TASKS} tasks on 1 key vs on {TASKS} keys (checks/s, p99; median of {ROUNDS} rounds)"
    );
    println!("check              1 key/s    p99 ms   {TASKS} keys/s    p99 ms    ratio");
    for algorithm in ["fixed window", "sliding window", "gcra", "fixed leased 50"] {
        let limiter = Arc::new(
            RateLimiter::builder(
                store.clone().into_shared(),
                &format!("bench-hot-{}", fastrand::u32(..)),
            )
            .default_policy(policy(algorithm))
            .timeout(Duration::from_secs(5))
            .build()
            .expect("limiter"),
        );
        latencies(limiter.clone(), TASKS, TASKS).await;
        let (mut one, mut many) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            one.push(latencies(limiter.clone(), TASKS, 1).await);
            many.push(latencies(limiter.clone(), TASKS, TASKS).await);
        }
        let pick = |v: Vec<(f64, Duration)>| {
            let rate = median(v.iter().map(|r| r.0).collect());
            let p99 = median(v.iter().map(|r| r.1.as_secs_f64() * 1000.0).collect());
            (rate, p99)
        };
        let ((one, one_p99), (many, many_p99)) = (pick(one), pick(many));
        println!(
            "{algorithm:<17} {one:>9.0} {one_p99:>9.2} {many:>12.0} {many_p99:>9.2} {:>7.2}x",
            one / many
        );
    }
}

#[allow(clippy::print_stdout)]
fn memory_vs_governor() {
    const CHECKS: usize = 2_000_000;
    let keys: Vec<String> = (0..KEYS).map(|i| format!("client-{i}")).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let governor = governor::RateLimiter::keyed(governor::Quota::per_hour(
        NonZeroU32::new(1_000_000_000).expect("non-zero"),
    ));
    println!(
        "\nmemory, 1 thread, {KEYS} keys (checks/s, median of {ROUNDS} rounds of {CHECKS} checks)"
    );
    for algorithm in ["fixed window", "gcra"] {
        let limiter = RateLimiter::builder(store_memory::MemoryStore::new(), "bench")
            .default_policy(policy(algorithm))
            .build()
            .expect("limiter");
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for _ in 0..ROUNDS {
            let started = Instant::now();
            rt.block_on(async {
                for i in 0..CHECKS {
                    black_box(limiter.check("api", &keys[i % KEYS]).await.expect("check"));
                }
            });
            ours.push(CHECKS as f64 / started.elapsed().as_secs_f64());
            let started = Instant::now();
            for i in 0..CHECKS {
                black_box(governor.check_key(&keys[i % KEYS]).is_ok());
            }
            theirs.push(CHECKS as f64 / started.elapsed().as_secs_f64());
        }
        let (ours, theirs) = (median(ours), median(theirs));
        println!(
            "{algorithm:<12} on MemoryStore {ours:>12.0}   governor keyed {theirs:>12.0}   ratio {:.2}x",
            ours / theirs
        );
    }
}

#[allow(clippy::print_stdout)]
fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    memory_vs_governor();
    let Some(url) = redis_url() else {
        eprintln!(
            "\nno Redis: run `cargo xtask services up` for the Redis rows (or `cargo xtask bench`)"
        );
        std::process::exit(1);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Every row on redis-rs (the default client), then the table again on fred.
    for client in ["redis-rs", "fred"] {
        let sep = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{sep}client={client}");
        rt.block_on(redis_rows(&url, client == "redis-rs"));
    }
}

#[allow(clippy::print_stdout)]
async fn redis_rows(url: &str, all: bool) {
    let store = RedisStoreBuilder::from_url(url)
        .expect("a valid Redis URL")
        .key_prefix(PREFIX)
        .build()
        .await
        .expect("connect");
    store_redis::testing::purge_key_prefix(&store)
        .await
        .expect("remove a previous run's keys");
    println!(
        "\nRedis at {url}, client {} (checks/s, median of {ROUNDS} alternating rounds of {} ms)",
        store.client_library(),
        ROUND.as_millis()
    );
    let sha = store_redis::testing::raw_command(&store, &["SCRIPT", "LOAD", "return 1"])
        .await
        .expect("SCRIPT LOAD")
        .into_bytes()
        .expect("a SHA");
    let bare_script: Arc<str> = String::from_utf8_lossy(&sha).into();
    redis_table(&store, &bare_script, "shared cores").await;
    if all {
        hot_key_table(&store).await;
        // The same rows with the server on cores of its own, as in any deployment.
        match CoreSplit::for_server(store_redis::testing::local_server_pid(&store).await) {
            Ok(_split) => {
                let placement = "client core 0, redis-server the others";
                redis_table(&store, &bare_script, placement).await;
            }
            Err(why) => println!("\n(no separate-core rows: {why})"),
        }
    }
    store_redis::testing::purge_key_prefix(&store)
        .await
        .expect("remove this run's keys");
}
