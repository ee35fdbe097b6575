//! Property tests: injective key mapping and a model-based comparison, driven by
//! proptest (with shrinking: a failure reports the smallest failing input).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tokio::runtime::{Handle, RuntimeFlavor};

use super::{pass, skip, sorted, walk};
use crate::conformance::model::{self, Sequence};
use crate::conformance::{CaseResult, Ctx, Failure, ensure};
use crate::raw::validate as keys;
use crate::{DeleteCondition, SetOptions, Store};

/// Runs `check` on inputs from `strategy` until one fails (then shrinks it) or
/// `cases` pass. Blocks in place: needs a multi-thread tokio runtime.
fn run_property<T: std::fmt::Debug>(
    cases: u32,
    strategy: impl Strategy<Value = T>,
    check: impl Fn(T) -> Result<(), String>,
) -> Result<(), Failure> {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2048,
        ..Config::default()
    });
    tokio::task::block_in_place(|| {
        runner
            .run(&strategy, |input| check(input).map_err(TestCaseError::fail))
            .map_err(|e| Failure(format!("{e}")))
    })
}

fn multi_thread() -> bool {
    Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread
}

/// The declared capabilities are coherent and within the contract's limits.
pub async fn capabilities_are_consistent<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let caps = cx.caps();
    ensure!(
        (1..=keys::MAX_KEY_LEN).contains(&caps.max_key_len),
        "max_key_len {} outside 1..={}",
        caps.max_key_len,
        keys::MAX_KEY_LEN
    );
    ensure!(
        (1..=keys::MAX_NAMESPACE_LEN).contains(&caps.max_namespace_len),
        "max_namespace_len {} outside 1..={}",
        caps.max_namespace_len,
        keys::MAX_NAMESPACE_LEN
    );
    ensure!(caps.max_value_size > 0, "max_value_size is 0");
    ensure!(caps.max_list_limit > 0, "max_list_limit is 0");
    ensure!(!caps.ttl_resolution.is_zero(), "ttl_resolution is 0");
    ensure!(
        !caps.returns_current_on_reject || caps.compare_and_set,
        "returns_current_on_reject without compare_and_set"
    );
    pass()
}

const AWKWARD: &[char] = &[
    'a', 'b', ':', '#', '/', '{', '}', '\\', '%', ' ', '.', '*', '?', '[', ']', '|', '"', '\'',
    '=', '&', 'ü', '日', '😀', '\u{200b}', '\u{fffd}',
];

fn awkward(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(AWKWARD), len)
        .prop_map(|chars| chars.into_iter().collect())
}

/// Distinct `(namespace, key)` pairs made of separators, escapes and Unicode, where
/// namespaces and keys are prefixes of each other, never share an entry: each reads
/// back its own value and each namespace lists exactly its own keys.
pub async fn key_mapping_is_injective<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if !multi_thread() {
        return skip("needs a multi-thread tokio runtime");
    }
    let base = cx.namespace("inj");
    let store = cx.shared();
    let handle = Handle::current();
    let pairs = proptest::collection::vec((awkward(0..4), awkward(1..5)), 1..12);
    run_property(24, pairs, |pairs| {
        let pairs: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(suffix, key)| (format!("{base}{suffix}"), key))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        handle.block_on(check_injective(&*store, &pairs))
    })?;
    pass()
}

async fn check_injective<S: Store>(store: &S, pairs: &[(String, String)]) -> Result<(), String> {
    let result = async {
        for (i, (ns, key)) in pairs.iter().enumerate() {
            store
                .set(ns, key, Bytes::from(i.to_string()), SetOptions::always())
                .await
                .map_err(|e| format!("set {ns:?}/{key:?}: {e}"))?;
        }
        for (i, (ns, key)) in pairs.iter().enumerate() {
            let got = store.get(ns, key).await.map_err(|e| e.to_string())?;
            let got = got.map(|e| e.value);
            if got.as_deref() != Some(i.to_string().as_bytes()) {
                return Err(format!("({ns:?}, {key:?}) read {got:?}, wrote {i}"));
            }
        }
        let mut by_ns: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (ns, key) in pairs {
            by_ns.entry(ns).or_default().push(key.clone());
        }
        for (ns, expected) in by_ns {
            let listed = walk(store, ns, "", 3).await.map_err(|f| f.0)?;
            if sorted(listed.clone()) != sorted(expected.clone()) {
                return Err(format!(
                    "namespace {ns:?} listed {listed:?}, holds {expected:?}"
                ));
            }
        }
        Ok(())
    }
    .await;
    for (ns, key) in pairs {
        let _ = store.delete(ns, key, DeleteCondition::Always).await;
    }
    result
}

/// Random sequences of every operation (all conditions, TTLs, counters, overflow,
/// listing, and the passing of time where the clock is manual) give the same results as
/// a reference model, step by step.
pub async fn model_based_random_operations<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if !multi_thread() {
        return skip("needs a multi-thread tokio runtime");
    }
    let base = cx.namespace("model");
    let handle = Handle::current();
    let runs = AtomicUsize::new(0);
    let strategy = model::sequence(cx.manual_time(), cx.caps());
    run_property(64, strategy, |sequence: Sequence| {
        let ns = format!("{base}/{}", runs.fetch_add(1, Ordering::Relaxed));
        handle.block_on(model::check(&cx, &ns, &sequence))
    })?;
    pass()
}

/// This group's cases, in order, for [`conformance_tests!`](crate::conformance_tests)
/// and [`cases`](crate::conformance::cases()).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_group_properties {
    ($mode:ident [$($arg:tt)*]) => {
        $crate::__conformance_emit! { $mode [$($arg)*] properties:
            capabilities_are_consistent,
            key_mapping_is_injective,
            model_based_random_operations,
        }
    };
}
