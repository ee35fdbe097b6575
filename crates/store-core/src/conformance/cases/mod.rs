//! The cases, by group. Each is `async fn(Arc<Ctx<S>>) -> CaseResult`, named for the
//! behaviour it proves.

use bytes::Bytes;

use super::{CaseResult, Failure, Verdict};
use crate::{Entry, SetOptions, SetOutcome, Store, Version};

pub mod advance;
pub mod basic;
pub mod clear;
pub mod concurrency;
pub mod conditions;
pub mod incr;
pub mod linearizability;
pub mod list;
pub mod properties;
pub mod ttl;
pub mod validation;

/// Every case, group by group.
pub(crate) fn all<S: Store + 'static>() -> Vec<super::Case<S>> {
    let mut all = Vec::new();
    all.extend(crate::__conformance_group_basic!(list []));
    all.extend(crate::__conformance_group_conditions!(list []));
    all.extend(crate::__conformance_group_ttl!(list []));
    all.extend(crate::__conformance_group_incr!(list []));
    all.extend(crate::__conformance_group_concurrency!(list []));
    all.extend(crate::__conformance_group_list!(list []));
    all.extend(crate::__conformance_group_clear!(list []));
    all.extend(crate::__conformance_group_advance!(list []));
    all.extend(crate::__conformance_group_validation!(list []));
    all.extend(crate::__conformance_group_properties!(list []));
    all.extend(crate::__conformance_group_linearizability!(list []));
    all
}

fn pass() -> CaseResult {
    Ok(Verdict::Passed)
}

fn skip(why: impl Into<String>) -> CaseResult {
    Ok(Verdict::Skipped(why.into()))
}

pub(crate) fn fail<T>(why: impl Into<String>) -> Result<T, Failure> {
    Err(Failure(why.into()))
}

/// The version of a write that must have happened.
fn written(outcome: SetOutcome, what: &str) -> Result<Version, Failure> {
    match outcome {
        SetOutcome::Written(v) => Ok(v),
        SetOutcome::Rejected { current } => fail(format!(
            "{what}: expected the write to succeed, it was rejected (current: {current:?})"
        )),
    }
}

/// The `current` of a write that must have been rejected.
fn rejected(outcome: SetOutcome, what: &str) -> Result<Option<Entry>, Failure> {
    match outcome {
        SetOutcome::Rejected { current } => Ok(current),
        SetOutcome::Written(v) => fail(format!(
            "{what}: expected the write to be rejected, it was written as {v}"
        )),
    }
}

/// Unconditional write without TTL.
async fn put<S: Store>(store: &S, ns: &str, key: &str, value: &[u8]) -> Result<Version, Failure> {
    let outcome = store
        .set(ns, key, Bytes::copy_from_slice(value), SetOptions::always())
        .await?;
    written(outcome, &format!("set {key:?}"))
}

/// The live entry, which must exist.
async fn must_get<S: Store>(store: &S, ns: &str, key: &str) -> Result<Entry, Failure> {
    match store.get(ns, key).await? {
        Some(entry) => Ok(entry),
        None => fail(format!("get {key:?}: expected a live entry, found none")),
    }
}

/// Checks that a rejection carried the live entry, where the backend says it does.
fn check_current<S: Store>(
    store: &S,
    current: Option<Entry>,
    expected: &Entry,
    what: &str,
) -> Result<(), Failure> {
    if !store.capabilities().returns_current_on_reject {
        return Ok(());
    }
    match current {
        Some(c) if c.value == expected.value && c.version == expected.version => Ok(()),
        other => fail(format!(
            "{what}: rejection should carry the live entry {expected:?}, got {other:?}"
        )),
    }
}

/// Every walk of `list` from the start, in pages of `limit`.
pub(crate) async fn walk<S: Store>(
    store: &S,
    ns: &str,
    prefix: &str,
    limit: usize,
) -> Result<Vec<String>, Failure> {
    let mut keys = Vec::new();
    let mut cursor = None;
    for page_no in 0.. {
        if page_no > 100_000 {
            return fail("list walk did not end after 100000 pages");
        }
        let page = store.list(ns, prefix, cursor.as_ref(), limit).await?;
        if page.keys.len() > limit {
            return fail(format!(
                "list returned {} keys for limit {limit}",
                page.keys.len()
            ));
        }
        keys.extend(page.keys);
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(keys),
        }
    }
    unreachable!("the loop returns")
}

pub(crate) fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys
}
