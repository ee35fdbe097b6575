//! `cargo bench -p store-denokv` (after `cargo xtask services up`, or via
//! `cargo xtask bench`): throughput of each store operation next to the raw
//! `denokv_remote` call a hand-written service would make for it, on a client of the
//! same transport, at 1 and 32 tasks. Rounds alternate store and raw runs; medians are
//! compared. Tasks of both run on one current-thread runtime (the raw client's futures
//! are not `Send`); the store's own client thread runs beside it. Raw keys live under a
//! root of their own, removed before and after.

use std::cell::Cell;
use std::num::NonZeroU32;
use std::rc::Rc;
use std::time::{Duration, Instant};

use store_core::testing::bench::{self, Op, Task};
use store_core::{Bytes, Store};
use store_denokv::client::{AllowAll, HttpTransport, raw_client};
use store_denokv::denokv_proto::{
    AtomicWrite, Check, Database, Key, KeyPart, KvValue, Mutation, MutationKind, ReadRange,
    SnapshotReadOptions,
};
use store_denokv::denokv_remote::Remote;
use store_denokv::{DenoKvStore, DenoKvStoreBuilder};

const ROUND: Duration = Duration::from_millis(1000);
const ROUNDS: usize = 3;
const NS: &str = "bench";
const ROOT: &str = "fleetstate-bench";
const RAW_ROOT: &str = "fleetstate-bench-raw";

type Raw = Remote<AllowAll, HttpTransport>;

fn raw_name(op: Op) -> String {
    match op {
        Op::Get => "snapshot_read",
        Op::Set => "atomic_write set",
        Op::Incr => "atomic_write sum (u64, wraps)",
        Op::CondSet => "check null + set (no current entry)",
        Op::CasSet => "snapshot_read, check versionstamp + set",
    }
    .to_owned()
}

fn raw_key(key: &str) -> Vec<u8> {
    store_denokv::denokv_proto::encode_key(&Key(vec![
        KeyPart::String(RAW_ROOT.into()),
        KeyPart::String(key.into()),
    ]))
    .expect("a key")
}

fn point(key: &[u8]) -> ReadRange {
    let mut end = key.to_vec();
    end.push(0);
    ReadRange {
        start: key.to_vec(),
        end,
        limit: NonZeroU32::MIN,
        reverse: false,
    }
}

fn options() -> SnapshotReadOptions {
    SnapshotReadOptions {
        consistency: store_denokv::denokv_proto::Consistency::Strong,
    }
}

async fn commit(raw: &Raw, checks: Vec<Check>, mutations: Vec<Mutation>) -> bool {
    let write = AtomicWrite {
        checks,
        mutations,
        enqueues: vec![],
    };
    raw.atomic_write(write)
        .await
        .expect("atomic_write")
        .is_some()
}

fn set(key: Vec<u8>, value: &Bytes) -> Mutation {
    Mutation {
        key,
        kind: MutationKind::Set(KvValue::Bytes(value.to_vec())),
        expire_at: None,
    }
}

async fn raw_op(raw: &Raw, op: Op, i: usize, task: &Task) {
    let (key, value) = (raw_key(&op.key(i, task)), &task.value);
    match op {
        Op::Get => {
            raw.snapshot_read(vec![point(&key)], options())
                .await
                .expect("read");
        }
        Op::Set => {
            commit(raw, vec![], vec![set(key, value)]).await;
        }
        Op::Incr => {
            let sum = Mutation {
                key,
                kind: MutationKind::Sum {
                    value: KvValue::U64(1),
                    min_v8: vec![],
                    max_v8: vec![],
                    clamp: false,
                },
                expire_at: None,
            };
            commit(raw, vec![], vec![sum]).await;
        }
        Op::CondSet => {
            let check = Check {
                key: key.clone(),
                versionstamp: None,
            };
            commit(raw, vec![check], vec![set(key, value)]).await;
        }
        Op::CasSet => {
            let mut read = raw
                .snapshot_read(vec![point(&key)], options())
                .await
                .expect("read");
            let stamp = read
                .pop()
                .and_then(|r| r.entries.into_iter().next())
                .map(|e| e.versionstamp);
            let check = Check {
                key: key.clone(),
                versionstamp: stamp,
            };
            commit(raw, vec![check], vec![set(key, value)]).await;
        }
    }
}

async fn throughput(store: &DenoKvStore, raw: &Raw, use_raw: bool, op: Op, tasks: usize) -> f64 {
    let done = Rc::new(Cell::new(0u64));
    let deadline = Instant::now() + ROUND;
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (store, raw, done) = (store.clone(), raw.clone(), done.clone());
            tokio::task::spawn_local(async move {
                let mut i = t * 7919;
                let mut task = Task::new(t);
                while Instant::now() < deadline {
                    if use_raw {
                        raw_op(&raw, op, i, &task).await;
                    } else {
                        bench::store_op(&store, NS, op, i, &mut task).await;
                    }
                    i += 1;
                    done.set(done.get() + 1);
                }
            })
        })
        .collect();
    let started = Instant::now();
    for h in handles {
        h.await.expect("bench task");
    }
    done.get() as f64 / started.elapsed().as_secs_f64()
}

async fn clear_raw(raw: &Raw) {
    let start =
        store_denokv::denokv_proto::encode_key(&Key(vec![KeyPart::String(RAW_ROOT.into())]))
            .expect("a key");
    let mut end = start.clone();
    end.push(0xff);
    loop {
        let range = ReadRange {
            start: start.clone(),
            end: end.clone(),
            limit: NonZeroU32::new(300).expect("nonzero"),
            reverse: false,
        };
        let entries = raw
            .snapshot_read(vec![range], options())
            .await
            .expect("read")
            .pop()
            .map(|r| r.entries)
            .unwrap_or_default();
        if entries.is_empty() {
            return;
        }
        let deletes = entries
            .into_iter()
            .map(|e| Mutation {
                key: e.key,
                kind: MutationKind::Delete,
                expire_at: None,
            })
            .collect();
        commit(raw, vec![], deletes).await;
    }
}

#[allow(clippy::print_stdout)]
async fn run(url: &str) {
    let store = DenoKvStoreBuilder::from_url(url)
        .expect("a valid Deno KV URL")
        .root(ROOT)
        .expect("a root")
        .build()
        .await
        .expect("connect");
    let rest = url
        .strip_prefix("denokv://:")
        .expect("denokv://:token@host");
    let (token, host) = rest.split_once('@').expect("a token");
    let endpoint = url::Url::parse(&format!(
        "http://{}",
        host.split('?').next().unwrap_or(host)
    ))
    .expect("an endpoint");
    let raw = raw_client(endpoint, token.to_owned(), Duration::from_secs(2)).expect("a raw client");
    store.clear(NS, "").await.expect("clear");
    clear_raw(&raw).await;
    for op in Op::ALL {
        throughput(&store, &raw, false, op, 32).await;
        throughput(&store, &raw, true, op, 32).await;
    }
    println!(
        "store-denokv vs the raw denokv_remote call, {} (ops/s, median of {ROUNDS} rounds of {} ms)",
        host.split('?').next().unwrap_or(host),
        ROUND.as_millis()
    );
    println!("op            tasks        store          raw    ratio  raw call");
    let measure = |op, tasks, use_raw| throughput(&store, &raw, use_raw, op, tasks);
    bench::compare(&Op::ALL, &[1, 32], ROUNDS, Op::name, raw_name, measure).await;
    store.clear(NS, "").await.expect("clear");
    clear_raw(&raw).await;
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` probes; nothing to list.
    }
    let Some(url) = store_core::testing::service_url("FLEETSTATE_DENOKV_URL") else {
        eprintln!("no Deno KV: run `cargo xtask services up` first, or `cargo xtask bench`");
        std::process::exit(1);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tokio::task::LocalSet::new().block_on(&runtime, run(&url));
}
