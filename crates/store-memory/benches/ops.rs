//! `cargo bench -p store-memory`: get, set and incr on `MemoryStore` against a
//! `DashMap` and a `moka` cache in the same run, single-threaded and with 2 threads,
//! then a table of ratios (store-memory time / baseline time: below 1 is faster).
//!
//! The store is driven through the `Store` trait; its futures are ready on first poll,
//! so `now_or_never` runs them without an executor (the same work an `.await` does).
//! Baselines use their fastest natural form: `DashMap::get_mut` before falling back to
//! `insert`/`entry` (no key allocation for existing keys), `moka` with `Bytes` values
//! (cheap clones) and `and_upsert_with` for counters. Every entry owns its value buffer
//! and every `set` hands over a freshly allocated 64-byte value in all three, as a
//! service storing decoded request data does (one shared buffer would measure refcount
//! contention, not the map).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use dashmap::DashMap;
use futures::FutureExt;
use store_core::{Bytes, SetOptions, Store};
use store_memory::MemoryStore;

const KEYS: usize = 10_000;
const VALUE_LEN: usize = 64;
const NS: &str = "bench";

struct Fixture {
    keys: Vec<String>,
    value: Bytes,
    store: MemoryStore,
    dash: DashMap<String, Vec<u8>>,
    dash_counters: DashMap<String, i64>,
    moka: moka::sync::Cache<String, Bytes>,
    moka_counters: moka::sync::Cache<String, i64>,
}

impl Fixture {
    fn new() -> Self {
        let keys: Vec<String> = (0..KEYS).map(|i| format!("user:{i:08}")).collect();
        let value = Bytes::from(vec![0xab; VALUE_LEN]);
        let fixture = Fixture {
            store: MemoryStore::new(),
            dash: DashMap::new(),
            dash_counters: DashMap::new(),
            moka: moka::sync::Cache::new(KEYS as u64 * 2),
            moka_counters: moka::sync::Cache::new(KEYS as u64 * 2),
            keys,
            value,
        };
        for key in &fixture.keys {
            let set = fixture
                .store
                .set(NS, key, fixture.value.clone(), SetOptions::always());
            set.now_or_never().expect("ready").expect("set");
            let counter = format!("c:{key}");
            let incr = fixture.store.incr(NS, &counter, 1, None);
            incr.now_or_never().expect("ready").expect("incr");
            fixture.dash.insert(key.clone(), fixture.value.to_vec());
            fixture.dash_counters.insert(format!("c:{key}"), 1);
            fixture
                .moka
                .insert(key.clone(), Bytes::from(fixture.value.to_vec()));
            fixture.moka_counters.insert(format!("c:{key}"), 1);
        }
        fixture
    }
}

#[derive(Clone, Copy)]
enum Op {
    Get,
    Set,
    Incr,
}

#[derive(Clone, Copy)]
enum Imp {
    Store,
    Dash,
    Moka,
}

impl Imp {
    fn name(self) -> &'static str {
        match self {
            Imp::Store => "store-memory",
            Imp::Dash => "dashmap",
            Imp::Moka => "moka",
        }
    }
}

/// One operation on the `i`-th key.
fn run_one(f: &Fixture, op: Op, imp: Imp, i: usize, counter_keys: &[String]) {
    let key = &f.keys[i % KEYS];
    let ckey = &counter_keys[i % KEYS];
    match (op, imp) {
        (Op::Get, Imp::Store) => {
            black_box(f.store.get(NS, key).now_or_never());
        }
        (Op::Get, Imp::Dash) => {
            black_box(f.dash.get(key.as_str()).map(|v| v.clone()));
        }
        (Op::Get, Imp::Moka) => {
            black_box(f.moka.get(key.as_str()));
        }
        (Op::Set, Imp::Store) => {
            let set = f
                .store
                .set(NS, key, Bytes::from(f.value.to_vec()), SetOptions::always());
            black_box(set.now_or_never());
        }
        (Op::Set, Imp::Dash) => match f.dash.get_mut(key.as_str()) {
            Some(mut slot) => *slot = f.value.to_vec(),
            None => {
                f.dash.insert(key.clone(), f.value.to_vec());
            }
        },
        (Op::Set, Imp::Moka) => f.moka.insert(key.clone(), Bytes::from(f.value.to_vec())),
        (Op::Incr, Imp::Store) => {
            black_box(f.store.incr(NS, ckey, 1, None).now_or_never());
        }
        (Op::Incr, Imp::Dash) => match f.dash_counters.get_mut(ckey.as_str()) {
            Some(mut n) => *n += 1,
            None => *f.dash_counters.entry(ckey.clone()).or_insert(0) += 1,
        },
        (Op::Incr, Imp::Moka) => {
            black_box(
                f.moka_counters
                    .entry_by_ref(ckey.as_str())
                    .and_upsert_with(|e| e.map_or(1, |e| e.into_value() + 1)),
            );
        }
    }
}

/// Runs `iters` operations split over `threads` threads (each on its own stride of the
/// key space, all on the same map) and returns the wall time.
fn timed(f: &Fixture, op: Op, imp: Imp, threads: usize, iters: u64, ck: &[String]) -> Duration {
    let per_thread = iters / threads as u64;
    let barrier = std::sync::Barrier::new(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let started = Instant::now();
                    let offset = t * 7919;
                    for i in 0..per_thread as usize {
                        run_one(f, op, imp, offset + i * 13, ck);
                    }
                    started.elapsed()
                })
            })
            .collect();
        // The run lasts as long as its slowest thread.
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread"))
            .max()
            .unwrap_or_default()
    })
}

fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("criterion")
}

const OPS: [(Op, &str); 3] = [(Op::Get, "get"), (Op::Set, "set"), (Op::Incr, "incr")];
const IMPS: [Imp; 3] = [Imp::Store, Imp::Dash, Imp::Moka];
const THREADS: [usize; 2] = [1, 2];

fn main() {
    let fixture = Fixture::new();
    let counter_keys: Vec<String> = fixture.keys.iter().map(|k| format!("c:{k}")).collect();
    let mut c = Criterion::default()
        .output_directory(&criterion_dir())
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args();
    for (op, op_name) in OPS {
        let mut group = c.benchmark_group(op_name);
        for threads in THREADS {
            for imp in IMPS {
                let id = BenchmarkId::new(imp.name(), format!("{threads}t"));
                group.bench_function(id, |b| {
                    b.iter_custom(|iters| timed(&fixture, op, imp, threads, iters, &counter_keys))
                });
            }
        }
        group.finish();
    }
    c.final_summary();
    print_ratios();
}

/// Mean time per operation of one benchmark, from criterion's estimates file.
fn estimate_ns(group: &str, imp: Imp, threads: usize) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(imp.name())
        .join(format!("{threads}t"))
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let estimate = json
        .get("slope")
        .filter(|v| !v.is_null())
        .or_else(|| json.get("mean"))?;
    estimate.get("point_estimate")?.as_f64()
}

#[allow(clippy::print_stdout)]
fn print_ratios() {
    println!();
    println!("store-memory vs baselines (ns per operation of the whole run, wall time / ops;");
    println!("ratio = store-memory / baseline, below 1.00 is faster than the baseline)");
    println!(
        "{:<6} {:>7} {:>14} {:>10} {:>10} {:>12} {:>10}",
        "op", "threads", "store-memory", "dashmap", "moka", "vs dashmap", "vs moka"
    );
    for (_, op) in OPS {
        for threads in THREADS {
            let [Some(store), Some(dash), Some(moka)] =
                IMPS.map(|imp| estimate_ns(op, imp, threads))
            else {
                println!("{op:<6} {threads:>7} (no estimates: run without a filter)");
                continue;
            };
            println!(
                "{op:<6} {threads:>7} {store:>14.1} {dash:>10.1} {moka:>10.1} {:>11.2}x {:>9.2}x",
                store / dash,
                store / moka
            );
        }
    }
}
