//! `cargo bench -p record-storage`: the cost of `secure` on store-memory.
//!
//! A set followed by a get of the same record (a "round trip"), for 1 KiB and 64 KiB
//! values, with and without `secure`, in alternating rounds; medians compared. Prints
//! the ratio and the time `secure` adds per round trip (target for 1 KiB: under 5 µs).

use std::hint::black_box;
use std::time::{Duration, Instant};

use record_storage::{Context, Keyring, Options, RecordStorage};
use store_core::testing::bench::median;
use store_memory::MemoryStore;

const ROUND: Duration = Duration::from_millis(400);
const ROUNDS: usize = 7;

/// Nanoseconds per set+get round trip over one round.
async fn round(storage: &RecordStorage<MemoryStore>, value: &String) -> f64 {
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < ROUND {
        for i in 0..64 {
            let key = if i % 2 == 0 { "a" } else { "b" };
            storage.set_value(key, value).await.expect("set");
            let back: String = storage.get_value(key).await.expect("get").expect("present");
            black_box(back);
        }
        n += 64;
    }
    started.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let keyring = std::sync::Arc::new(Keyring::random(1));
    println!(
        "record-storage secure overhead, set+get round trip on store-memory (median of {ROUNDS} rounds)"
    );
    println!("| value | plain ns | secure ns | ratio | secure adds |");
    println!("|---|---|---|---|---|");
    for size in [1024usize, 64 * 1024] {
        let value: String = (0..size)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let options = Options::new().context(Context::new("bench", "bench"));
        let plain = RecordStorage::new(MemoryStore::new(), options.clone());
        let secure = RecordStorage::new(
            MemoryStore::new(),
            options.keyring(keyring.clone()).secure(true),
        );
        let (mut p, mut s) = (Vec::new(), Vec::new());
        runtime.block_on(async {
            round(&plain, &value).await;
            round(&secure, &value).await;
            for _ in 0..ROUNDS {
                p.push(round(&plain, &value).await);
                s.push(round(&secure, &value).await);
            }
        });
        let (p, s) = (median(p), median(s));
        let added_us = (s - p) / 1000.0;
        let target = if size == 1024 {
            if added_us < 5.0 {
                " (target < 5 µs: met)"
            } else {
                " (target < 5 µs: MISSED)"
            }
        } else {
            ""
        };
        println!(
            "| {} KiB | {p:.0} | {s:.0} | {:.2}x | {added_us:.2} µs{target} |",
            size / 1024,
            s / p
        );
    }
}
