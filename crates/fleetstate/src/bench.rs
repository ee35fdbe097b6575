//! `fleetstate bench`: operations per second and latency percentiles of a store at a
//! sweep of concurrencies, with a latency histogram per operation.
//!
//! It writes only keys under `fleetstate-bench/` in its namespace and deletes them
//! afterwards; it refuses a namespace that already holds data unless told (`--force`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use store_core::{BoxError, Bytes, SetOptions, SharedStore, Store};

use crate::Output;
use crate::ops::parse_duration;

/// The prefix of every key the benchmark writes.
pub const KEY_PREFIX: &str = "fleetstate-bench/";

/// An operation the benchmark measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchOp {
    /// `get` of a present key.
    Get,
    /// `exists` of a present key.
    Exists,
    /// Unconditional `set`.
    Set,
    /// `set` only if absent (every write after the first is rejected).
    SetIfAbsent,
    /// `incr` of one counter per task.
    Incr,
    /// `incr` of one counter shared by every task (a hot key).
    IncrHot,
}

impl BenchOp {
    fn name(self) -> &'static str {
        match self {
            BenchOp::Get => "get",
            BenchOp::Exists => "exists",
            BenchOp::Set => "set",
            BenchOp::SetIfAbsent => "set-if-absent",
            BenchOp::Incr => "incr",
            BenchOp::IncrHot => "incr-hot",
        }
    }
}

/// Arguments of `fleetstate bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The store URL.
    pub url: String,
    /// The namespace written to.
    #[arg(long, default_value = "fleetstate-bench")]
    pub namespace: String,
    /// The operations measured.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "get,set,incr"
    )]
    pub ops: Vec<BenchOp>,
    /// The concurrencies swept (tasks issuing operations back to back).
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    pub concurrency: Vec<usize>,
    /// How long each (operation, concurrency) pair runs.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub duration: Duration,
    /// Distinct keys read and written.
    #[arg(long, default_value_t = 100)]
    pub keys: usize,
    /// Bytes per written value.
    #[arg(long, default_value_t = 64)]
    pub value_size: usize,
    /// Most separate store instances (connections) the tasks share.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Run even though the namespace holds data (only the benchmark's keys are deleted).
    #[arg(long)]
    pub force: bool,
}

/// One measured (operation, concurrency) pair.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// The operation.
    pub op: BenchOp,
    /// Tasks at once.
    pub concurrency: usize,
    /// Operations completed (errors excluded).
    pub completed: u64,
    /// Operations that returned an error.
    pub errors: u64,
    /// Completed operations per second.
    pub ops_per_sec: f64,
    /// Latencies of completed operations, microseconds.
    pub latency: Histogram<u64>,
}

impl Measurement {
    fn percentile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    fn json(&self) -> Value {
        json!({
            "op": self.op.name(),
            "concurrency": self.concurrency,
            "completed": self.completed,
            "errors": self.errors,
            "ops_per_sec": self.ops_per_sec,
            "p50_ms": self.percentile_ms(0.5),
            "p99_ms": self.percentile_ms(0.99),
            "p999_ms": self.percentile_ms(0.999),
            "max_ms": self.latency.max() as f64 / 1000.0,
        })
    }
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 60 s at 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

async fn one(
    store: &SharedStore,
    ns: &str,
    op: BenchOp,
    task: usize,
    i: usize,
    value: &Bytes,
    keys: usize,
) -> store_core::Result<()> {
    let key = format!("{KEY_PREFIX}k{}", (task * 7919 + i) % keys);
    match op {
        BenchOp::Get => store.get(ns, &key).await.map(drop),
        BenchOp::Exists => store.exists(ns, &key).await.map(drop),
        BenchOp::Set => store
            .set(ns, &key, value.clone(), SetOptions::always())
            .await
            .map(drop),
        BenchOp::SetIfAbsent => store
            .set(ns, &key, value.clone(), SetOptions::if_absent())
            .await
            .map(drop),
        BenchOp::Incr => store
            .incr(ns, &format!("{KEY_PREFIX}counter-{task}"), 1, None)
            .await
            .map(drop),
        BenchOp::IncrHot => store
            .incr(ns, &format!("{KEY_PREFIX}counter-hot"), 1, None)
            .await
            .map(drop),
    }
}

/// Opens up to `connections` instances of `url` (one shared store for in-process URLs).
async fn instances(url: &str, connections: usize) -> store_core::Result<Vec<SharedStore>> {
    let first = crate::open(url).await?;
    let mut stores = vec![first.clone()];
    for _ in 1..connections.max(1) {
        stores.push(if crate::registry::is_private(url) {
            first.clone()
        } else {
            crate::open(url).await?
        });
    }
    Ok(stores)
}

async fn measure(
    stores: &[SharedStore],
    args: &BenchArgs,
    op: BenchOp,
    concurrency: usize,
    value: &Bytes,
) -> Measurement {
    let ns: Arc<str> = Arc::from(args.namespace.as_str());
    let start = Instant::now();
    let deadline = start + args.duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|task| {
            let store = stores[task % stores.len()].clone();
            let (ns, value, keys) = (ns.clone(), value.clone(), args.keys.max(1));
            tokio::spawn(async move {
                let mut latency = new_histogram();
                let mut errors = 0u64;
                let mut i = 0;
                while Instant::now() < deadline {
                    let began = Instant::now();
                    match one(&store, &ns, op, task, i, &value, keys).await {
                        Ok(()) => latency.saturating_record(began.elapsed().as_micros() as u64),
                        Err(_) => errors += 1,
                    }
                    i += 1;
                }
                (latency, errors)
            })
        })
        .collect();
    let mut latency = new_histogram();
    let mut errors = 0;
    for task in tasks {
        if let Ok((h, e)) = task.await {
            latency.add(&h).expect("histograms of equal bounds");
            errors += e;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    Measurement {
        op,
        concurrency,
        completed: latency.len(),
        errors,
        ops_per_sec: latency.len() as f64 / elapsed,
        latency,
    }
}

/// A latency histogram for the terminal: power-of-two buckets in µs, bars scaled to
/// the fullest bucket.
pub fn histogram_text(latency: &Histogram<u64>) -> String {
    if latency.is_empty() {
        return "  (no completed operations)".to_owned();
    }
    let mut lines = Vec::new();
    let mut low = 1u64 << (63 - latency.min().max(1).leading_zeros());
    let mut buckets = Vec::new();
    while low <= latency.max() {
        let high = low * 2;
        buckets.push((low, high, latency.count_between(low, high - 1)));
        low = high;
    }
    let fullest = buckets.iter().map(|b| b.2).max().unwrap_or(1).max(1);
    let fmt = |us: u64| {
        if us >= 1000 {
            format!("{:.1} ms", us as f64 / 1000.0)
        } else {
            format!("{us} µs")
        }
    };
    for (low, high, count) in buckets {
        let bar = "█".repeat(((count * 40).div_ceil(fullest)) as usize);
        lines.push(format!(
            "  {:>9} – {:<9} {bar} {count}",
            fmt(low),
            fmt(high)
        ));
    }
    lines.join("\n")
}

/// Runs the benchmark; `progress` is called after each measured pair.
pub async fn run(
    args: &BenchArgs,
    mut progress: impl FnMut(&Measurement),
) -> Result<Vec<Measurement>, BoxError> {
    if args.concurrency.is_empty() || args.concurrency.contains(&0) {
        return Err("--concurrency takes positive numbers (1,8,32)".into());
    }
    let stores = instances(
        &args.url,
        args.connections
            .min(*args.concurrency.iter().max().unwrap_or(&1)),
    )
    .await?;
    let first = &stores[0];
    let ns = &args.namespace;
    let existing = first.list(ns, "", None, 1).await?;
    if !existing.keys.is_empty() && !args.force {
        return Err(format!(
            "namespace `{ns}` holds data (`{}`...): bench writes there; pick another \
             --namespace, or pass --force (only keys under `{KEY_PREFIX}` are deleted)",
            existing.keys[0]
        )
        .into());
    }
    let value = Bytes::from(vec![b'x'; args.value_size]);
    for k in 0..args.keys.max(1) {
        first
            .set(
                ns,
                &format!("{KEY_PREFIX}k{k}"),
                value.clone(),
                SetOptions::always(),
            )
            .await?;
    }
    let mut results = Vec::new();
    for &op in &args.ops {
        for &concurrency in &args.concurrency {
            let m = measure(&stores, args, op, concurrency, &value).await;
            progress(&m);
            results.push(m);
        }
    }
    first.clear(ns, KEY_PREFIX).await?;
    Ok(results)
}

/// The report: JSON rows, and for humans a table and each operation's histogram at its
/// highest concurrency.
pub fn report(results: &[Measurement]) -> Output {
    let rows: Vec<Value> = results.iter().map(Measurement::json).collect();
    let mut table = comfy_table::Table::new();
    table.set_header([
        "op", "tasks", "ops/s", "p50 ms", "p99 ms", "p99.9 ms", "errors",
    ]);
    for m in results {
        table.add_row([
            m.op.name().to_owned(),
            m.concurrency.to_string(),
            format!("{:.0}", m.ops_per_sec),
            format!("{:.3}", m.percentile_ms(0.5)),
            format!("{:.3}", m.percentile_ms(0.99)),
            format!("{:.3}", m.percentile_ms(0.999)),
            m.errors.to_string(),
        ]);
    }
    let mut text = table.to_string();
    let mut seen = Vec::new();
    for m in results.iter().rev() {
        if !seen.contains(&m.op) {
            seen.push(m.op);
        }
    }
    for op in seen.into_iter().rev() {
        if let Some(m) = results
            .iter()
            .filter(|m| m.op == op)
            .max_by_key(|m| m.concurrency)
        {
            text.push_str(&format!(
                "\n\n{} at {} tasks, latency:\n{}",
                op.name(),
                m.concurrency,
                histogram_text(&m.latency)
            ));
        }
    }
    let failed = results.iter().any(|m| m.errors > 0);
    let json = json!({"results": rows});
    if failed {
        Output::fail(json, text)
    } else {
        Output::ok(json, text)
    }
}
