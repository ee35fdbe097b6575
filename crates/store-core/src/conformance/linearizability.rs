//! Linearizability of recorded histories: concurrent clients, each on its own store
//! instance, run random operations on a few hot keys; every operation's invocation,
//! completion and result are recorded, and each key's history is checked against a
//! sequential model of the contract with the Wing–Gong–Lowe search of `todc-utils`
//! (memoized on the set of linearized operations and the model's state).
//!
//! The model, per key (the contract's operations act on one key, and linearizability
//! is local, so each key is checked on its own):
//!
//! - a **register** key holds nothing or one value; every value written is unique in
//!   the history, so a value names the write that made it, and `IfVersion(v)` holds
//!   exactly when the key holds the value `v` was seen with (versions never repeat for a
//!   key, per the contract). `get`, `set` with every condition, `delete` with and
//!   without a version;
//! - a **counter** key holds nothing or a number: `incr` (the new value must be the old
//!   one plus the delta, absent counting as 0), `get`, `delete`.
//!
//! An operation that failed with [`Delivery::MaybeApplied`](crate::Delivery) may or
//! may not have taken effect: it is open-ended (its response is placed after every
//! other event, so the search may put its effect anywhere after its invocation, or
//! nowhere observable) and its result is not checked. Any other error means the
//! operation did not take effect (`NotSent` and refusals), and it is left out.
//! Expiry is kept out of these histories: nothing is written with a TTL.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use todc_utils::linearizability::WGLChecker;
use todc_utils::linearizability::history::{Action, History as TodcHistory};
use todc_utils::specifications::Specification;

use crate::{Capabilities, DeleteCondition, Error, SetOptions, SetOutcome, Store, Version};

/// What the recorded operations may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryShape {
    /// Concurrent clients, each on its own instance (in turn).
    pub clients: usize,
    /// Operations each client runs, one after another.
    pub ops_per_client: usize,
    /// Register keys (get, set, delete).
    pub registers: usize,
    /// Counter keys (incr, get, delete); none when the store has no atomic incr.
    pub counters: usize,
}

impl HistoryShape {
    /// A random shape within the suite's bounds: 4 to 8 clients, 20 to 50 operations
    /// each, 2 registers and 1 counter.
    pub fn random(rng: &mut fastrand::Rng) -> Self {
        HistoryShape {
            clients: rng.usize(4..=8),
            ops_per_client: rng.usize(20..=50),
            registers: 2,
            counters: 1,
        }
    }
}

/// A set's condition in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SetCond {
    Always,
    IfAbsent,
    IfPresent,
    /// `IfVersion` of the version seen with this value.
    IfValue(i64),
}

/// An operation as invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Get,
    Set { value: i64, cond: SetCond },
    Delete { if_value: Option<i64> },
    Incr { delta: i64 },
}

/// What came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Outcome {
    /// A read: the value, if any.
    Read(Option<i64>),
    Written,
    /// Rejected; the current value when the store returned it (`Some(None)`: absent).
    Rejected(Option<Option<i64>>),
    Deleted(bool),
    Counted(i64),
    /// `MaybeApplied`: may or may not have taken effect.
    Unknown,
    /// Failed without taking effect: left out of the check, shown in the printout.
    Failed,
}

/// One operation of a key's history, for the checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct KeyOp {
    kind: Kind,
    outcome: Outcome,
}

/// The sequential model of one key.
struct KeySpec;

fn holds(cond: SetCond, state: Option<i64>) -> bool {
    match cond {
        SetCond::Always => true,
        SetCond::IfAbsent => state.is_none(),
        SetCond::IfPresent => state.is_some(),
        SetCond::IfValue(v) => state == Some(v),
    }
}

/// The state after `kind` takes effect on `state`.
fn effect(kind: Kind, state: Option<i64>) -> Option<i64> {
    match kind {
        Kind::Get => state,
        Kind::Set { value, cond } => {
            if holds(cond, state) {
                Some(value)
            } else {
                state
            }
        }
        Kind::Delete { if_value: None } => None,
        Kind::Delete { if_value: Some(v) } => {
            if state == Some(v) {
                None
            } else {
                state
            }
        }
        Kind::Incr { delta } => Some(state.unwrap_or(0).saturating_add(delta)),
    }
}

impl Specification for KeySpec {
    type State = Option<i64>;
    type Operation = KeyOp;

    fn init() -> Self::State {
        None
    }

    fn apply(op: &KeyOp, state: &Option<i64>) -> (bool, Option<i64>) {
        let state = *state;
        let valid = match (op.kind, op.outcome) {
            (_, Outcome::Unknown) => true,
            (Kind::Get, Outcome::Read(value)) => value == state,
            (Kind::Set { cond, .. }, Outcome::Written) => holds(cond, state),
            (Kind::Set { cond, .. }, Outcome::Rejected(current)) => {
                !holds(cond, state) && current.is_none_or(|c| c == state)
            }
            (Kind::Delete { if_value }, Outcome::Deleted(removed)) => match if_value {
                None => removed == state.is_some(),
                Some(v) => removed == (state == Some(v)),
            },
            (Kind::Incr { delta }, Outcome::Counted(value)) => {
                state.unwrap_or(0).checked_add(delta) == Some(value)
            }
            _ => false,
        };
        (valid, if valid { effect(op.kind, state) } else { state })
    }
}

/// One recorded operation.
#[derive(Debug, Clone)]
struct Recorded {
    client: usize,
    key: usize,
    op: KeyOp,
    invoked: Duration,
    /// `None`: open-ended (`MaybeApplied`).
    completed: Option<Duration>,
    /// The error, for the readable history.
    error: Option<String>,
}

/// A recorded history of concurrent operations on a few keys.
#[derive(Debug, Clone, Default)]
pub struct History {
    keys: Vec<String>,
    ops: Vec<Recorded>,
    /// Operations left out because they failed without taking effect (or were reads
    /// that may have happened), shown in a failing history.
    left_out: Vec<Recorded>,
}

impl History {
    /// Operations recorded (open-ended ones included).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Operations that may or may not have taken effect (`MaybeApplied`).
    pub fn open_ended(&self) -> usize {
        self.ops.iter().filter(|o| o.completed.is_none()).count()
    }

    /// Operations that failed without taking effect, left out of the history.
    pub fn dropped(&self) -> usize {
        self.left_out.len()
    }

    /// Checks every key's history; on failure, the first non-linearizable key's
    /// history in a readable form.
    pub fn check(&self) -> Result<(), String> {
        for key in 0..self.keys.len() {
            let ops: Vec<&Recorded> = self.ops.iter().filter(|o| o.key == key).collect();
            if ops.is_empty() {
                continue;
            }
            let mut events: Vec<(Duration, bool, usize)> = Vec::new();
            for (i, op) in ops.iter().enumerate() {
                events.push((op.invoked, false, i));
                events.push((op.completed.unwrap_or(Duration::MAX), true, i));
            }
            // At equal times calls go first: touching operations count as concurrent.
            events.sort_by_key(|&(at, is_response, i)| (at, is_response, i));
            let actions = events
                .into_iter()
                .map(|(_, is_response, i)| {
                    let op = ops[i].op;
                    (
                        i,
                        if is_response {
                            Action::Response(op)
                        } else {
                            Action::Call(op)
                        },
                    )
                })
                .collect();
            if !WGLChecker::<KeySpec>::is_linearizable(TodcHistory::from_actions(actions)) {
                return Err(self.describe(key, &ops));
            }
        }
        Ok(())
    }

    fn describe(&self, key: usize, ops: &[&Recorded]) -> String {
        let mut ops = ops.to_vec();
        ops.extend(self.left_out.iter().filter(|o| o.key == key));
        ops.sort_by_key(|o| o.invoked);
        let mut out = format!(
            "the history of key {:?} is not linearizable ({} operations; times in µs from \
             the start; `...` = may or may not have taken effect):\n",
            self.keys[key],
            ops.len()
        );
        for op in ops {
            let end = match op.completed {
                Some(at) => format!("{:>8}", at.as_micros()),
                None => "     ...".to_owned(),
            };
            if op.op.outcome == Outcome::Failed {
                let _ = writeln!(
                    out,
                    "  [{:>8} – {end}] client {}: {} → left out, taken as not applied ({})",
                    op.invoked.as_micros(),
                    op.client,
                    kind_text(op.op.kind),
                    op.error.as_deref().unwrap_or_default()
                );
                continue;
            }
            let _ = writeln!(
                out,
                "  [{:>8} – {end}] client {}: {} → {}{}",
                op.invoked.as_micros(),
                op.client,
                kind_text(op.op.kind),
                outcome_text(op.op.outcome),
                op.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
        }
        out
    }
}

fn value_text(value: Option<i64>) -> String {
    value.map_or("absent".to_owned(), |v| format!("v{v}"))
}

fn kind_text(kind: Kind) -> String {
    match kind {
        Kind::Get => "get".to_owned(),
        Kind::Set { value, cond } => {
            let cond = match cond {
                SetCond::Always => String::new(),
                SetCond::IfAbsent => " if absent".to_owned(),
                SetCond::IfPresent => " if present".to_owned(),
                SetCond::IfValue(v) => format!(" if version of v{v}"),
            };
            format!("set v{value}{cond}")
        }
        Kind::Delete { if_value: None } => "delete".to_owned(),
        Kind::Delete { if_value: Some(v) } => format!("delete if version of v{v}"),
        Kind::Incr { delta } => format!("incr {delta:+}"),
    }
}

fn outcome_text(outcome: Outcome) -> String {
    match outcome {
        Outcome::Read(value) => value_text(value),
        Outcome::Written => "written".to_owned(),
        Outcome::Rejected(Some(current)) => format!("rejected (current {})", value_text(current)),
        Outcome::Rejected(None) => "rejected".to_owned(),
        Outcome::Deleted(true) => "deleted".to_owned(),
        Outcome::Deleted(false) => "not deleted".to_owned(),
        Outcome::Counted(value) => value.to_string(),
        Outcome::Unknown => "unknown".to_owned(),
        Outcome::Failed => "failed".to_owned(),
    }
}

/// The versions seen so far, with the value each was seen with, per key: what
/// `IfVersion` conditions are drawn from (recent and stale alike).
type Seen = Arc<Mutex<BTreeMap<usize, Vec<(Version, i64)>>>>;

fn parse(value: &Bytes) -> Result<i64, String> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("a value the history never wrote: {value:?}"))
}

/// Runs `shape`'s clients on `stores` (client `i` on `stores[i % len]`), on keys under
/// `prefix` in `ns`, and records the history. Conditional writes are used only when
/// the store declares compare-and-set, counters only when it declares atomic incr.
///
/// Errors only when the store returns something no write in the history made.
pub async fn record<S: Store + 'static>(
    stores: &[Arc<S>],
    ns: &str,
    prefix: &str,
    shape: HistoryShape,
    seed: u64,
) -> Result<History, String> {
    let caps = stores[0].capabilities().clone();
    let counters = if caps.atomic_incr { shape.counters } else { 0 };
    let keys: Vec<String> = (0..shape.registers)
        .map(|i| format!("{prefix}r{i}"))
        .chain((0..counters).map(|i| format!("{prefix}c{i}")))
        .collect();
    let start = Instant::now();
    let seen: Seen = Arc::default();
    let ns: Arc<str> = Arc::from(ns);
    let keys_shared: Arc<[String]> = Arc::from(keys.clone());
    let clients: Vec<_> = (0..shape.clients)
        .map(|client| {
            let store = stores[client % stores.len()].clone();
            let (ns, keys, seen, caps) =
                (ns.clone(), keys_shared.clone(), seen.clone(), caps.clone());
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(
                    seed ^ (client as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                let mut ops = Vec::with_capacity(shape.ops_per_client);
                let mut left_out = Vec::new();
                for n in 0..shape.ops_per_client {
                    let key = rng.usize(..keys.len());
                    let is_counter = key >= shape.registers;
                    let value = (client * 10_000 + n + 1) as i64;
                    let kind = pick(&mut rng, is_counter, value, key, &seen, &caps);
                    let invoked = start.elapsed();
                    let result = run(&*store, &ns, (&keys[key], key), kind, &seen, &caps).await;
                    let completed = start.elapsed();
                    match result {
                        Ok(outcome) => ops.push(Recorded {
                            client,
                            key,
                            op: KeyOp {
                                kind: kind.0,
                                outcome: outcome?,
                            },
                            invoked,
                            completed: Some(completed),
                            error: None,
                        }),
                        // A read that may have happened changes nothing: left out, as
                        // is an operation that failed without taking effect.
                        Err(e) if !e.may_have_applied() || kind.0 == Kind::Get => {
                            left_out.push(Recorded {
                                client,
                                key,
                                op: KeyOp {
                                    kind: kind.0,
                                    outcome: Outcome::Failed,
                                },
                                invoked,
                                completed: Some(completed),
                                error: Some(e.to_string()),
                            });
                        }
                        Err(e) => ops.push(Recorded {
                            client,
                            key,
                            op: KeyOp {
                                kind: kind.0,
                                outcome: Outcome::Unknown,
                            },
                            invoked,
                            completed: None,
                            error: Some(e.to_string()),
                        }),
                    }
                }
                Ok::<_, String>((ops, left_out))
            })
        })
        .collect();
    let mut history = History {
        keys,
        ..History::default()
    };
    for client in clients {
        let (ops, left_out) = client
            .await
            .map_err(|e| format!("a client panicked: {e}"))??;
        history.ops.extend(ops);
        history.left_out.extend(left_out);
    }
    Ok(history)
}

/// An operation to invoke: the model's kind, and the version an `IfVersion` uses.
type Pick = (Kind, Option<Version>);

fn pick(
    rng: &mut fastrand::Rng,
    is_counter: bool,
    value: i64,
    key: usize,
    seen: &Seen,
    caps: &Capabilities,
) -> Pick {
    if is_counter {
        return match rng.u8(..10) {
            0..=5 => (
                Kind::Incr {
                    delta: rng.i64(-3..=5),
                },
                None,
            ),
            6..=8 => (Kind::Get, None),
            _ => (Kind::Delete { if_value: None }, None),
        };
    }
    let conditional = caps.compare_and_set;
    let seen_version = seen_version(rng, seen, key);
    match rng.u8(..12) {
        0..=3 => (Kind::Get, None),
        4..=5 => (
            Kind::Set {
                value,
                cond: SetCond::Always,
            },
            None,
        ),
        6 if conditional => (
            Kind::Set {
                value,
                cond: SetCond::IfAbsent,
            },
            None,
        ),
        7 if conditional => (
            Kind::Set {
                value,
                cond: SetCond::IfPresent,
            },
            None,
        ),
        8..=9 if conditional => match seen_version {
            Some((version, seen)) => (
                Kind::Set {
                    value,
                    cond: SetCond::IfValue(seen),
                },
                Some(version),
            ),
            None => (
                Kind::Set {
                    value,
                    cond: SetCond::IfAbsent,
                },
                None,
            ),
        },
        10 if conditional => match seen_version {
            Some((version, seen)) => (
                Kind::Delete {
                    if_value: Some(seen),
                },
                Some(version),
            ),
            None => (Kind::Delete { if_value: None }, None),
        },
        6..=10 => (
            Kind::Set {
                value,
                cond: SetCond::Always,
            },
            None,
        ),
        _ => (Kind::Delete { if_value: None }, None),
    }
}

/// A version seen on `key` with its value: mostly the latest, sometimes a stale one.
fn seen_version(rng: &mut fastrand::Rng, seen: &Seen, key: usize) -> Option<(Version, i64)> {
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    let versions = seen.get(&key)?;
    let i = if rng.bool() {
        versions.len() - 1
    } else {
        rng.usize(..versions.len())
    };
    versions.get(i).copied()
}

/// Invokes `pick` on `key`; the outcome, or `Err(Err(..))` when the store returned
/// something the history never wrote.
async fn run<S: Store>(
    store: &S,
    ns: &str,
    (key, slot): (&str, usize),
    (kind, version): Pick,
    seen: &Seen,
    caps: &Capabilities,
) -> Result<Result<Outcome, String>, Error> {
    let remember = |version: Version, value: i64| {
        let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
        let versions = seen.entry(slot).or_default();
        if !versions.iter().any(|(v, _)| *v == version) {
            versions.push((version, value));
        }
    };
    Ok(match kind {
        Kind::Get => match store.get(ns, key).await? {
            None => Ok(Outcome::Read(None)),
            Some(entry) => parse(&entry.value).map(|value| {
                remember(entry.version, value);
                Outcome::Read(Some(value))
            }),
        },
        Kind::Set { value, cond } => {
            let opts = match (cond, version) {
                (SetCond::Always, _) => SetOptions::always(),
                (SetCond::IfAbsent, _) => SetOptions::if_absent(),
                (SetCond::IfPresent, _) => SetOptions::if_present(),
                (SetCond::IfValue(_), Some(v)) => SetOptions::if_version(v),
                (SetCond::IfValue(_), None) => unreachable!("picked with a version"),
            };
            match store
                .set(ns, key, Bytes::from(value.to_string()), opts)
                .await?
            {
                SetOutcome::Written(version) => {
                    remember(version, value);
                    Ok(Outcome::Written)
                }
                SetOutcome::Rejected { current } => {
                    let current = match current {
                        Some(entry) => match parse(&entry.value) {
                            Ok(v) => {
                                remember(entry.version, v);
                                Some(Some(v))
                            }
                            Err(e) => return Ok(Err(e)),
                        },
                        None if caps.returns_current_on_reject => Some(None),
                        None => None,
                    };
                    Ok(Outcome::Rejected(current))
                }
            }
        }
        Kind::Delete { if_value } => {
            let condition = match (if_value, version) {
                (Some(_), Some(v)) => DeleteCondition::IfVersion(v),
                _ => DeleteCondition::Always,
            };
            Ok(Outcome::Deleted(store.delete(ns, key, condition).await?))
        }
        Kind::Incr { delta } => Ok(Outcome::Counted(
            store.incr(ns, key, delta, None).await?.value,
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: Kind, outcome: Outcome, invoked: u64, completed: Option<u64>) -> Recorded {
        Recorded {
            client: 0,
            key: 0,
            op: KeyOp { kind, outcome },
            invoked: Duration::from_micros(invoked),
            completed: completed.map(Duration::from_micros),
            error: None,
        }
    }

    fn history(ops: Vec<Recorded>) -> History {
        History {
            keys: vec!["k".into()],
            ops,
            left_out: Vec::new(),
        }
    }

    const SET1: Kind = Kind::Set {
        value: 1,
        cond: SetCond::Always,
    };
    const SET2: Kind = Kind::Set {
        value: 2,
        cond: SetCond::Always,
    };

    #[test]
    fn a_read_after_a_completed_write_must_see_it() {
        let ok = history(vec![
            op(SET1, Outcome::Written, 0, Some(10)),
            op(Kind::Get, Outcome::Read(Some(1)), 20, Some(30)),
        ]);
        assert!(ok.check().is_ok());
        let stale = history(vec![
            op(SET1, Outcome::Written, 0, Some(10)),
            op(Kind::Get, Outcome::Read(None), 20, Some(30)),
        ]);
        let err = stale.check().unwrap_err();
        assert!(err.contains("get → absent"), "{err}");
    }

    #[test]
    fn concurrent_writes_may_land_in_either_order_but_reads_must_agree() {
        let ok = history(vec![
            op(SET1, Outcome::Written, 0, Some(50)),
            op(SET2, Outcome::Written, 0, Some(50)),
            op(Kind::Get, Outcome::Read(Some(2)), 10, Some(20)),
            op(Kind::Get, Outcome::Read(Some(1)), 30, Some(40)),
        ]);
        assert!(ok.check().is_ok());
        // Once both writes completed, reads cannot flip back and forth.
        let flips = history(vec![
            op(SET1, Outcome::Written, 0, Some(5)),
            op(SET2, Outcome::Written, 0, Some(5)),
            op(Kind::Get, Outcome::Read(Some(2)), 10, Some(20)),
            op(Kind::Get, Outcome::Read(Some(1)), 30, Some(40)),
        ]);
        assert!(flips.check().is_err());
    }

    #[test]
    fn an_open_ended_write_may_land_late_or_never() {
        let landed = history(vec![
            op(SET1, Outcome::Unknown, 0, None),
            op(Kind::Get, Outcome::Read(None), 10, Some(20)),
            op(Kind::Get, Outcome::Read(Some(1)), 30, Some(40)),
        ]);
        assert!(landed.check().is_ok());
        let never = history(vec![
            op(SET1, Outcome::Unknown, 0, None),
            op(Kind::Get, Outcome::Read(None), 30, Some(40)),
        ]);
        assert!(never.check().is_ok());
    }

    #[test]
    fn conditions_and_counters_follow_the_contract() {
        let if_absent_twice = history(vec![
            op(
                Kind::Set {
                    value: 1,
                    cond: SetCond::IfAbsent,
                },
                Outcome::Written,
                0,
                Some(5),
            ),
            op(
                Kind::Set {
                    value: 2,
                    cond: SetCond::IfAbsent,
                },
                Outcome::Written,
                10,
                Some(15),
            ),
        ]);
        assert!(if_absent_twice.check().is_err());
        let cas = history(vec![
            op(SET1, Outcome::Written, 0, Some(5)),
            op(
                Kind::Set {
                    value: 2,
                    cond: SetCond::IfValue(1),
                },
                Outcome::Written,
                10,
                Some(15),
            ),
            op(
                Kind::Set {
                    value: 3,
                    cond: SetCond::IfValue(1),
                },
                Outcome::Rejected(Some(Some(2))),
                20,
                Some(25),
            ),
            op(
                Kind::Delete { if_value: Some(2) },
                Outcome::Deleted(true),
                30,
                Some(35),
            ),
        ]);
        assert!(cas.check().is_ok());
        let lost_incr = history(vec![
            op(Kind::Incr { delta: 2 }, Outcome::Counted(2), 0, Some(5)),
            op(Kind::Incr { delta: 3 }, Outcome::Counted(3), 10, Some(15)),
        ]);
        assert!(lost_incr.check().is_err());
    }
}

/// What [`check_under_faults`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultRun {
    /// Histories recorded and found linearizable.
    pub histories: usize,
    /// Operations recorded, in all.
    pub operations: usize,
    /// Operations that ended `MaybeApplied` (open-ended in their history).
    pub open_ended: usize,
    /// Operations that failed without taking effect (left out).
    pub dropped: usize,
}

/// Records `histories` random histories on `stores` (which reach their server through
/// `proxy`) with `faults` injected, and checks each: the store is linearizable under
/// faults when every operation's result, or its error's `Delivery`, is true.
///
/// The stores should time out quickly (a black-holed request waits for its timeout).
/// Errors with the first history that is not linearizable, printed; when a kind
/// of fault asked for was never injected, or faults left no operation in doubt (the
/// run proved nothing); and when a store does not answer again within [`RECOVERY`]
/// once the faults stop.
pub async fn check_under_faults<S: Store + 'static>(
    stores: &[Arc<S>],
    proxy: &crate::testing::FaultProxy,
    ns: &str,
    histories: usize,
    faults: crate::testing::Faults,
) -> Result<FaultRun, String> {
    proxy.set(faults);
    let run = check_while(stores, ns, histories, || async {}).await;
    proxy.set(crate::testing::Faults::none());
    let run = run?;
    for (i, store) in stores.iter().enumerate() {
        after_faults(&format!("store {i}"), || store.get(ns, "recovered")).await?;
    }
    let counts = proxy.counts();
    let injected = |p: f64, n: u64| p == 0.0 || n > 0;
    if !(injected(faults.cut, counts.cuts)
        && injected(faults.black_hole, counts.black_holes)
        && injected(faults.reset, counts.resets))
    {
        return Err(format!(
            "a fault asked for was never injected ({faults:?}): {counts:?}"
        ));
    }
    if counts.cuts + counts.black_holes + counts.resets > 0 && run.open_ended == 0 {
        return Err(format!(
            "faults were injected ({counts:?}) but no operation was left in doubt: {run:?}"
        ));
    }
    Ok(run)
}

/// How long a store may take to answer again once faults stop: a connection
/// black-holed when they stopped waits out its timeout before the client reconnects.
pub const RECOVERY: Duration = Duration::from_secs(10);

/// Runs `op` until it succeeds, retrying transient errors (a connection still broken
/// by a fault that has just stopped) for up to [`RECOVERY`]; errors with the last
/// error, named by `what`, when it does not recover or fails otherwise.
pub async fn after_faults<T, F, Fut>(what: &str, mut op: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::Result<T>>,
{
    let started = Instant::now();
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(e) if e.is_transient() && started.elapsed() < RECOVERY => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => {
                return Err(format!(
                    "{what} did not recover within {RECOVERY:?} after the faults stopped: {e}"
                ));
            }
        }
    }
}

/// Records `histories` random histories on `stores` (4 to 8 clients x 20 operations)
/// while `during()` runs beside each one (kill and restart the server, say), and
/// checks each. Errors with the first history that is not linearizable, printed.
pub async fn check_while<S, F, Fut>(
    stores: &[Arc<S>],
    ns: &str,
    histories: usize,
    mut during: F,
) -> Result<FaultRun, String>
where
    S: Store + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut run = FaultRun::default();
    for n in 0..histories {
        // Smaller than the fault-free ones: every fault costs a timeout.
        let shape = HistoryShape {
            clients: rng.usize(4..=8),
            ops_per_client: 20,
            registers: 2,
            counters: 1,
        };
        let prefix = format!("f{seed:x}/{n}/");
        let (recorded, ()) =
            tokio::join!(record(stores, ns, &prefix, shape, rng.u64(..)), during());
        let history = recorded?;
        if let Err(story) = history.check() {
            return Err(format!(
                "history {n} of {histories} under faults (seed {seed}, {} clients, {} \
                 operations, {} open-ended, {} failed unapplied): {story}",
                shape.clients,
                history.len(),
                history.open_ended(),
                history.dropped()
            ));
        }
        run.histories += 1;
        run.operations += history.len();
        run.open_ended += history.open_ended();
        run.dropped += history.dropped();
    }
    Ok(run)
}
