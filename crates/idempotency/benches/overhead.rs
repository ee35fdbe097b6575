//! `cargo bench -p idempotency`: what idempotency costs per call on store-memory.
//!
//! Against calling the handler directly, in alternating rounds on one thread (medians
//! of 7): a fresh idempotent call (claim + complete), a duplicate replayed from the
//! store, and a duplicate served by the local cache. The handler builds a small JSON
//! result, as a real one would.

use std::hint::black_box;
use std::time::{Duration, Instant};

use idempotency::{Config, Idempotency, IdempotencyError};
use serde_json::{Value, json};
use store_core::testing::bench::median;
use store_memory::MemoryStore;

const ROUND: Duration = Duration::from_millis(300);
const ROUNDS: usize = 7;

async fn handler(order: &Value) -> Result<Value, IdempotencyError> {
    Ok(json!({"order": order["id"], "status": "charged", "amount": order["amount"]}))
}

/// Nanoseconds per call of `call(i)` over one round.
async fn round<F, Fut>(mut call: F) -> f64
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < ROUND {
        for _ in 0..100 {
            black_box(call(n).await);
            n += 1;
        }
    }
    started.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let plain = Idempotency::new(MemoryStore::new(), Config::new("bench")).expect("config");
    let cached = Idempotency::new(
        MemoryStore::new(),
        Config::new("bench-cached").local_cache(1024),
    )
    .expect("config");
    let order = |i: u64| json!({"id": i, "amount": 1250, "currency": "EUR", "customer": "c-42"});
    let (mut direct, mut fresh, mut replay, mut cache_hit) = (vec![], vec![], vec![], vec![]);
    runtime.block_on(async {
        // Records the replay rounds read back.
        for i in 0..100 {
            let o = order(i);
            let _: Value = plain.idempotent(&o, || handler(&o)).await.expect("first");
            let _: Value = cached.idempotent(&o, || handler(&o)).await.expect("first");
        }
        let mut next_fresh = 1_000_000u64;
        for _ in 0..ROUNDS {
            direct.push(round(|i| async move { handler(&order(i)).await.expect("handler") }).await);
            fresh.push(
                round(|_| {
                    next_fresh += 1;
                    let o = order(next_fresh);
                    let plain = &plain;
                    async move { plain.idempotent(&o, || handler(&o)).await.expect("fresh") }
                })
                .await,
            );
            replay.push(
                round(|i| {
                    let o = order(i % 100);
                    let plain = &plain;
                    async move { plain.idempotent(&o, || handler(&o)).await.expect("replay") }
                })
                .await,
            );
            cache_hit.push(
                round(|i| {
                    let o = order(i % 100);
                    let cached = &cached;
                    async move { cached.idempotent(&o, || handler(&o)).await.expect("cache") }
                })
                .await,
            );
        }
    });
    let direct = median(direct);
    println!("idempotency on store-memory, one thread, median of {ROUNDS} rounds");
    println!("| call | ns/call | calls/s | vs direct | overhead |");
    println!("|---|---|---|---|---|");
    println!(
        "| handler called directly | {direct:.0} | {:.0} | 1.00x | |",
        1e9 / direct
    );
    for (name, ns) in [
        ("fresh idempotent call (2 store ops)", median(fresh)),
        ("duplicate, replayed from the store (1 op)", median(replay)),
        ("duplicate, local cache hit (0 ops)", median(cache_hit)),
    ] {
        println!(
            "| {name} | {ns:.0} | {:.0} | {:.2}x | +{:.2} µs |",
            1e9 / ns,
            ns / direct,
            (ns - direct) / 1000.0
        );
    }
}
