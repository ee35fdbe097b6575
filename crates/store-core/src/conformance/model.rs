//! A reference model of the contract, and the random operation sequences checked
//! against it.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;

use super::Ctx;
use super::cases::{sorted, walk};
use crate::{
    Advance, Capabilities, DeleteCondition, Entry, Error, Floor, IncrOutcome, SetOptions,
    SetOutcome, Store, Timestamp, Version,
};

/// Keys chosen so that several are prefixes of others and of the list prefixes.
const KEYS: [&str; 5] = ["a", "ab", "b", "b/c", "ü"];
const PREFIXES: [&str; 4] = ["", "a", "b/", "z"];
/// The TTL of real-time runs: long enough never to expire during a sequence.
const REAL_TTL_MS: u64 = 3_600_000;

/// Which condition a generated write uses. Versions are picked from those the run has
/// seen, since a model cannot invent the backend's versions.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cond {
    Always,
    IfAbsent,
    IfPresent,
    /// The key's live version (learned with a `get` if an `incr` made it unknown).
    IfCurrent,
    /// The n-th version seen in this run (modulo how many there are).
    IfSeen(usize),
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Get(usize),
    Set {
        key: usize,
        value: Vec<u8>,
        cond: Cond,
        ttl_ms: Option<u64>,
    },
    Delete {
        key: usize,
        cond: Cond,
    },
    Incr {
        key: usize,
        delta: i64,
        ttl_ms: Option<u64>,
    },
    List {
        prefix: usize,
        limit: usize,
    },
    /// `Store::advance` with a fixed floor.
    Bump {
        key: usize,
        delta: u64,
        headroom: u64,
        floor: u64,
        ttl_ms: Option<u64>,
    },
    /// `Store::clear` of a prefix.
    Clear {
        prefix: usize,
    },
    Advance(u64),
}

pub(crate) type Sequence = Vec<Op>;

pub(crate) fn sequence(manual_time: bool, caps: &Capabilities) -> impl Strategy<Value = Sequence> {
    let key = 0..KEYS.len();
    let ttl = if manual_time {
        proptest::option::of(1u64..4_000).boxed()
    } else {
        proptest::option::of(Just(REAL_TTL_MS)).boxed()
    };
    let value = prop_oneof![
        Just(b"41".to_vec()),
        Just(b"-3".to_vec()),
        Just(i64::MAX.to_string().into_bytes()),
        Just(b"07".to_vec()),
        Just(Vec::new()),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    let cond = if caps.compare_and_set {
        prop_oneof![
            3 => Just(Cond::Always),
            1 => Just(Cond::IfAbsent),
            1 => Just(Cond::IfPresent),
            2 => Just(Cond::IfCurrent),
            1 => any::<usize>().prop_map(Cond::IfSeen),
        ]
        .boxed()
    } else {
        Just(Cond::Always).boxed()
    };
    let delete_cond = if caps.compare_and_set {
        prop_oneof![
            Just(Cond::Always),
            Just(Cond::IfCurrent),
            any::<usize>().prop_map(Cond::IfSeen)
        ]
        .boxed()
    } else {
        Just(Cond::Always).boxed()
    };
    let delta = prop_oneof![6 => -3i64..5, 1 => Just(i64::MAX), 1 => Just(i64::MIN)];
    let incr_weight = if caps.atomic_incr { 3 } else { 0 };
    let bump_weight = if caps.atomic_advance || caps.compare_and_set {
        3
    } else {
        0
    };
    let bump = (
        key.clone(),
        prop_oneof![4 => 0u64..40, 1 => Just(i64::MAX as u64)],
        0u64..120,
        0u64..100,
        ttl.clone(),
    )
        .prop_map(|(key, delta, headroom, floor, ttl_ms)| Op::Bump {
            key,
            delta,
            headroom,
            floor,
            ttl_ms,
        });
    let advance_weight = if manual_time { 2 } else { 0 };
    let op = prop_oneof![
        3 => key.clone().prop_map(Op::Get),
        4 => (key.clone(), value, cond, ttl.clone())
            .prop_map(|(key, value, cond, ttl_ms)| Op::Set { key, value, cond, ttl_ms }),
        2 => (key.clone(), delete_cond).prop_map(|(key, cond)| Op::Delete { key, cond }),
        incr_weight => (key, delta, ttl)
            .prop_map(|(key, delta, ttl_ms)| Op::Incr { key, delta, ttl_ms }),
        bump_weight => bump,
        1 => (0..PREFIXES.len()).prop_map(|prefix| Op::Clear { prefix }),
        1 => (0..PREFIXES.len(), 1usize..4).prop_map(|(prefix, limit)| Op::List { prefix, limit }),
        advance_weight => (1u64..3_000).prop_map(Op::Advance),
    ];
    proptest::collection::vec(op, 1..40)
}

#[derive(Debug, Clone)]
struct ModelEntry {
    value: Vec<u8>,
    /// `None` after an `incr`, which does not return the new version: learned by `get`.
    version: Option<Version>,
    expires_at: Option<Timestamp>,
}

struct Model<'a, S: Store + 'static> {
    cx: &'a Ctx<S>,
    ns: &'a str,
    entries: BTreeMap<usize, ModelEntry>,
    seen: Vec<Version>,
}

/// Runs `ops` in namespace `ns` against the store and the model; the first difference is
/// the error. Deletes the keys afterwards.
pub(crate) async fn check<S: Store + 'static>(
    cx: &Ctx<S>,
    ns: &str,
    ops: &[Op],
) -> Result<(), String> {
    let mut model = Model {
        cx,
        ns,
        entries: BTreeMap::new(),
        seen: Vec::new(),
    };
    let mut result = Ok(());
    for (step, op) in ops.iter().enumerate() {
        if let Err(e) = model.apply(op).await {
            result = Err(format!("step {step} ({op:?}): {e}"));
            break;
        }
    }
    for key in KEYS {
        let _ = cx.store().delete(ns, key, DeleteCondition::Always).await;
    }
    result
}

impl<S: Store + 'static> Model<'_, S> {
    fn now(&self) -> Timestamp {
        self.cx.now()
    }

    fn live(&self, key: usize) -> Option<&ModelEntry> {
        let now = self.now();
        self.entries
            .get(&key)
            .filter(|e| e.expires_at.is_none_or(|at| at > now))
    }

    fn expiry(&self, ttl_ms: Option<u64>) -> Option<Timestamp> {
        ttl_ms.map(|ms| self.now().add_ttl(Duration::from_millis(ms)))
    }

    fn same_expiry(&self, got: Option<Timestamp>, want: Option<Timestamp>) -> bool {
        let slack = self.cx.expiry_tolerance().as_millis() as u64;
        match (got, want) {
            (None, None) => true,
            (Some(g), Some(w)) => g.as_millis().abs_diff(w.as_millis()) <= slack,
            _ => false,
        }
    }

    /// Records a version the store reported; it must be new.
    fn learn(&mut self, version: Version) -> Result<(), String> {
        if self.seen.contains(&version) {
            return Err(format!("version {version} was issued before"));
        }
        self.seen.push(version);
        Ok(())
    }

    fn compare_entry(&mut self, key: usize, got: Option<&Entry>, what: &str) -> Result<(), String> {
        let want = self.live(key).cloned();
        match (got, want) {
            (None, None) => Ok(()),
            (Some(g), Some(w)) => {
                if g.value[..] != w.value[..] {
                    return Err(format!("{what}: value {:?}, model {:?}", g.value, w.value));
                }
                if !self.same_expiry(g.expires_at, w.expires_at) {
                    return Err(format!(
                        "{what}: expiry {:?}, model {:?}",
                        g.expires_at, w.expires_at
                    ));
                }
                match w.version {
                    Some(v) if v != g.version => {
                        Err(format!("{what}: version {}, model {v}", g.version))
                    }
                    Some(_) => Ok(()),
                    None => {
                        self.learn(g.version)?;
                        if let Some(e) = self.entries.get_mut(&key) {
                            e.version = Some(g.version);
                        }
                        Ok(())
                    }
                }
            }
            (g, w) => Err(format!("{what}: store has {g:?}, model has {w:?}")),
        }
    }

    async fn get(&mut self, key: usize) -> Result<(), String> {
        let got = self
            .cx
            .store()
            .get(self.ns, KEYS[key])
            .await
            .map_err(|e| format!("get failed: {e}"))?;
        self.compare_entry(key, got.as_ref(), "get")
    }

    /// The version a condition names, learning the live one first if needed.
    async fn version_for(&mut self, key: usize, cond: Cond) -> Result<Option<Version>, String> {
        match cond {
            Cond::IfCurrent => {
                if self.live(key).is_some_and(|e| e.version.is_none()) {
                    self.get(key).await?;
                }
                Ok(Some(
                    self.live(key)
                        .and_then(|e| e.version)
                        .or_else(|| self.seen.last().copied())
                        .unwrap_or(crate::raw::version(0x5eed)),
                ))
            }
            Cond::IfSeen(n) if !self.seen.is_empty() => Ok(Some(self.seen[n % self.seen.len()])),
            Cond::IfSeen(_) => Ok(Some(crate::raw::version(0x5eed))),
            _ => Ok(None),
        }
    }

    async fn apply(&mut self, op: &Op) -> Result<(), String> {
        let store = self.cx.store();
        match *op {
            Op::Get(key) => self.get(key).await,
            Op::Advance(ms) => {
                self.cx.pass(Duration::from_millis(ms)).await;
                Ok(())
            }
            Op::Set {
                key,
                ref value,
                cond,
                ttl_ms,
            } => {
                let version = self.version_for(key, cond).await?;
                let live = self.live(key).cloned();
                let condition = match (cond, version) {
                    (Cond::Always, _) => crate::Condition::Always,
                    (Cond::IfAbsent, _) => crate::Condition::IfAbsent,
                    (Cond::IfPresent, _) => crate::Condition::IfPresent,
                    (_, Some(v)) => crate::Condition::IfVersion(v),
                    (_, None) => unreachable!("version conditions carry a version"),
                };
                let allowed = match condition {
                    crate::Condition::Always => true,
                    crate::Condition::IfAbsent => live.is_none(),
                    crate::Condition::IfPresent => live.is_some(),
                    crate::Condition::IfVersion(v) => {
                        live.as_ref().is_some_and(|e| e.version == Some(v))
                    }
                };
                let opts = SetOptions::always()
                    .with_condition(condition)
                    .with_ttl_opt(ttl_ms.map(Duration::from_millis));
                let outcome = store
                    .set(self.ns, KEYS[key], Bytes::from(value.clone()), opts)
                    .await
                    .map_err(|e| format!("set failed: {e}"))?;
                match (outcome, allowed) {
                    (SetOutcome::Written(v), true) => {
                        self.learn(v)?;
                        let expires_at = self.expiry(ttl_ms);
                        self.entries.insert(
                            key,
                            ModelEntry {
                                value: value.clone(),
                                version: Some(v),
                                expires_at,
                            },
                        );
                        Ok(())
                    }
                    (SetOutcome::Rejected { current }, false) => {
                        if store.capabilities().returns_current_on_reject {
                            self.compare_entry(key, current.as_ref(), "rejection's current")
                        } else {
                            Ok(())
                        }
                    }
                    (outcome, allowed) => Err(format!(
                        "set {condition:?}: store says {outcome:?}, model says {}",
                        if allowed { "written" } else { "rejected" }
                    )),
                }
            }
            Op::Delete { key, cond } => {
                let version = self.version_for(key, cond).await?;
                let condition = match version {
                    Some(v) => DeleteCondition::IfVersion(v),
                    None => DeleteCondition::Always,
                };
                let live = self.live(key).cloned();
                let removes = match (&live, condition) {
                    (None, _) => false,
                    (Some(_), DeleteCondition::Always) => true,
                    (Some(e), DeleteCondition::IfVersion(v)) => e.version == Some(v),
                };
                let removed = store
                    .delete(self.ns, KEYS[key], condition)
                    .await
                    .map_err(|e| format!("delete failed: {e}"))?;
                if removed != removes {
                    return Err(format!(
                        "delete {condition:?}: store says {removed}, model says {removes}"
                    ));
                }
                if removes || live.is_none() {
                    self.entries.remove(&key);
                }
                Ok(())
            }
            Op::Incr { key, delta, ttl_ms } => {
                let live = self.live(key).cloned();
                let expected: Result<IncrOutcome, Error> = match &live {
                    None => Ok(IncrOutcome {
                        value: delta,
                        expires_at: self.expiry(ttl_ms),
                    }),
                    Some(e) => match crate::raw::counter(&e.value) {
                        None => Err(Error::NotACounter),
                        Some(n) => match n.checked_add(delta) {
                            None => Err(Error::CounterOverflow),
                            Some(value) => Ok(IncrOutcome {
                                value,
                                expires_at: e.expires_at,
                            }),
                        },
                    },
                };
                let ttl = ttl_ms.map(Duration::from_millis);
                let got = store.incr(self.ns, KEYS[key], delta, ttl).await;
                match (got, expected) {
                    (Ok(g), Ok(w))
                        if g.value == w.value && self.same_expiry(g.expires_at, w.expires_at) =>
                    {
                        self.entries.insert(
                            key,
                            ModelEntry {
                                value: g.value.to_string().into_bytes(),
                                version: None,
                                expires_at: w.expires_at,
                            },
                        );
                        Ok(())
                    }
                    (Err(Error::NotACounter), Err(Error::NotACounter))
                    | (Err(Error::CounterOverflow), Err(Error::CounterOverflow)) => Ok(()),
                    (got, want) => Err(format!("incr: store says {got:?}, model says {want:?}")),
                }
            }
            Op::Bump {
                key,
                delta,
                headroom,
                floor,
                ttl_ms,
            } => {
                let caps = store.capabilities();
                let max = if caps.atomic_advance {
                    caps.max_advance_value
                } else {
                    crate::raw::MAX_ADVANCE_VALUE
                };
                let advance = Advance {
                    delta,
                    headroom,
                    floor: Floor::Value(floor),
                    ttl: ttl_ms.map(Duration::from_millis),
                };
                let current = match self.live(key) {
                    None => Ok(None),
                    Some(e) => crate::raw::parse_value(&e.value).map(Some),
                };
                let expected = current.and_then(|current| {
                    if current.is_some_and(|c| c > max) {
                        return Err(Error::CounterOverflow);
                    }
                    match advance.apply(current, floor) {
                        (_, Some(new)) if new > max => Err(Error::CounterOverflow),
                        (start, new) => Ok((start, new)),
                    }
                });
                let got = store.advance(self.ns, KEYS[key], advance).await;
                match (got, expected) {
                    (Ok(g), Ok((start, new)))
                        if g.written == new.is_some()
                            && g.value == new.unwrap_or(start)
                            && g.floor == floor
                            && !g.contended =>
                    {
                        if let Some(new) = new {
                            self.entries.insert(
                                key,
                                ModelEntry {
                                    value: new.to_string().into_bytes(),
                                    version: None,
                                    expires_at: self.expiry(ttl_ms),
                                },
                            );
                        }
                        Ok(())
                    }
                    (Err(Error::NotACounter), Err(Error::NotACounter))
                    | (Err(Error::CounterOverflow), Err(Error::CounterOverflow)) => Ok(()),
                    (got, want) => Err(format!(
                        "advance {advance:?} of {:?}: store says {got:?}, model says {want:?}",
                        KEYS[key]
                    )),
                }
            }
            Op::Clear { prefix } => {
                let prefix = PREFIXES[prefix];
                let want: Vec<usize> = (0..KEYS.len())
                    .filter(|&k| self.live(k).is_some() && KEYS[k].starts_with(prefix))
                    .collect();
                let got = store
                    .clear(self.ns, prefix)
                    .await
                    .map_err(|e| format!("clear failed: {e}"))?;
                if got != want.len() as u64 {
                    return Err(format!(
                        "clear {prefix:?}: store removed {got}, model has {} live",
                        want.len()
                    ));
                }
                for k in want {
                    self.entries.remove(&k);
                }
                Ok(())
            }
            Op::List { prefix, limit } => {
                let prefix = PREFIXES[prefix];
                let got = walk(store, self.ns, prefix, limit).await.map_err(|f| f.0)?;
                let want: Vec<String> = (0..KEYS.len())
                    .filter(|&k| self.live(k).is_some() && KEYS[k].starts_with(prefix))
                    .map(|k| KEYS[k].to_owned())
                    .collect();
                let got = if store.capabilities().sorted_list {
                    got
                } else {
                    sorted(got)
                };
                if got != sorted(want.clone()) {
                    return Err(format!("list {prefix:?}: store {got:?}, model {want:?}"));
                }
                Ok(())
            }
        }
    }
}
