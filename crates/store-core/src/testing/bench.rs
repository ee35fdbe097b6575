//! What the backends' benchmarks (`benches/ops.rs`) share: the store operations each
//! one puts against its raw call, the keys they work on, and the table of alternating
//! rounds they print. Each backend keeps its raw calls and its task loop (how it spawns
//! tasks depends on its client).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::{SetOptions, Store, Version};

/// Keys a benchmark spreads its operations over (`k0` … `k999`, `c0` … `c999`).
pub const KEYS: usize = 1000;

/// A store operation a backend benchmark measures against its raw call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `get` of a key that may or may not exist.
    Get,
    /// An unconditional `set`.
    Set,
    /// `incr` by 1 of a counter without a TTL.
    Incr,
    /// An insert-only write of a key that exists: rejected, the current entry returned.
    CondSet,
    /// A compare-and-set that succeeds: each task owns its key and keeps its version.
    CasSet,
}

impl Op {
    /// Every operation, in the order the tables print them.
    pub const ALL: [Op; 5] = [Op::Get, Op::Set, Op::Incr, Op::CondSet, Op::CasSet];

    /// The operation's name in a table.
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Set => "set",
            Op::Incr => "incr",
            Op::CondSet => "set IfAbsent",
            Op::CasSet => "set IfVersion",
        }
    }

    /// The key the `i`-th operation of `task` works on: a counter `c…` for `Incr`, the
    /// task's own key for `CasSet`, `k…` otherwise; the store and the raw call use the
    /// same one.
    pub fn key(self, i: usize, task: &Task) -> String {
        match self {
            Op::Incr => format!("c{}", i % KEYS),
            Op::CasSet => task.owned.clone(),
            _ => format!("k{}", i % KEYS),
        }
    }
}

/// What one benchmark task carries between its operations.
#[derive(Clone, Debug)]
pub struct Task {
    /// The task's own key (`owned-<task>`), the one its compare-and-sets write.
    pub owned: String,
    /// The version the task's last compare-and-set wrote.
    pub version: Option<Version>,
    /// The value every write sends: 64 bytes.
    pub value: Bytes,
}

impl Task {
    /// The state of task number `task`.
    pub fn new(task: usize) -> Self {
        Task {
            owned: format!("owned-{task}"),
            version: None,
            value: Bytes::from(vec![b'x'; 64]),
        }
    }
}

/// Runs `op` number `i` on `store` in namespace `ns`. Panics when the store errors (a
/// benchmark has no use for a failed operation).
pub async fn store_op<S: Store + ?Sized>(store: &S, ns: &str, op: Op, i: usize, task: &mut Task) {
    let key = op.key(i, task);
    let value = task.value.clone();
    match op {
        Op::Get => drop(store.get(ns, &key).await.expect("get")),
        Op::Set => drop(
            store
                .set(ns, &key, value, SetOptions::always())
                .await
                .expect("set"),
        ),
        Op::Incr => drop(store.incr(ns, &key, 1, None).await.expect("incr")),
        Op::CondSet => drop(
            store
                .set(ns, &key, value, SetOptions::if_absent())
                .await
                .expect("set IfAbsent"),
        ),
        Op::CasSet => {
            let opts = task
                .version
                .map_or_else(SetOptions::always, SetOptions::if_version);
            let written = store
                .set(ns, &key, value, opts)
                .await
                .expect("set IfVersion");
            task.version = written.version();
        }
    }
}

/// Operations per second of `tasks` tokio tasks, each running `step` in a loop for
/// `round`. A step gets the context, the operation's number `i` and the task's state,
/// and hands the context and state back (so no borrow outlives it); task `t` starts
/// numbering at `t * 7919`, spreading the tasks over the keys.
pub async fn throughput<C, F, Fut>(ctx: C, tasks: usize, round: Duration, step: F) -> f64
where
    C: Clone + Send + 'static,
    F: Fn(C, usize, Task) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = (C, Task)> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + round;
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (mut ctx, done) = (ctx.clone(), done.clone());
            tokio::spawn(async move {
                let mut i = t * 7919;
                let mut task = Task::new(t);
                while Instant::now() < deadline {
                    (ctx, task) = step(ctx, i, task).await;
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

/// The median of `v` (the upper one of an even count).
///
/// ```
/// assert_eq!(store_core::testing::bench::median(vec![3.0, 1.0, 2.0]), 2.0);
/// ```
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Prints one line per operation and task count: the store's and the raw call's
/// throughput (medians of `rounds` rounds, store and raw alternating, so the machine's
/// drift hits both) and their ratio, with `raw_name(op)` saying what the raw call is.
/// `measure(op, tasks, raw)` runs one round and returns operations per second.
#[allow(clippy::print_stdout)]
pub async fn compare<O, F, Fut>(
    ops: &[O],
    tasks: &[usize],
    rounds: usize,
    name: impl Fn(O) -> &'static str,
    raw_name: impl Fn(O) -> String,
    mut measure: F,
) where
    O: Copy,
    F: FnMut(O, usize, bool) -> Fut,
    Fut: Future<Output = f64>,
{
    for &op in ops {
        for &n in tasks {
            let (mut ours, mut raw) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                ours.push(measure(op, n, false).await);
                raw.push(measure(op, n, true).await);
            }
            let (ours, raw) = (median(ours), median(raw));
            println!(
                "{:<13} {:>5} {:>12.0} {:>12.0} {:>7.2}x  {}",
                name(op),
                n,
                ours,
                raw,
                ours / raw,
                raw_name(op)
            );
        }
    }
}
