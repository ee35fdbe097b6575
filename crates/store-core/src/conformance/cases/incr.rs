//! Atomic counters.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::{fail, must_get, pass, put, skip};
use crate::conformance::{CaseResult, Ctx, ensure, ensure_eq};
use crate::{Error, SetOptions, SetOutcome, Store};

fn needs_incr<S: Store + 'static>(cx: &Ctx<S>) -> Option<CaseResult> {
    (!cx.caps().atomic_incr).then(|| {
        skip("backend does not declare atomic_incr (incr_is_refused_without_atomic_incr checks the refusal)")
    })
}

/// A missing counter starts at 0: the first `incr(d)` returns `d`.
pub async fn incr_missing_counter_starts_from_zero<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if let Some(skipped) = needs_incr(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    let first = cx.store().incr(&ns, "c", 7, None).await?;
    ensure_eq!(first.value, 7, "first incr by 7");
    ensure_eq!(
        first.expires_at,
        None,
        "expiry of a counter created without ttl"
    );
    ensure_eq!(
        cx.store().incr(&ns, "c", 1, None).await?.value,
        8,
        "second incr"
    );
    pass()
}

/// Negative deltas decrement (below zero too) and a zero delta reads the value.
pub async fn incr_adds_negative_and_zero_deltas<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if let Some(skipped) = needs_incr(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    ensure_eq!(cx.store().incr(&ns, "c", 3, None).await?.value, 3, "+3");
    ensure_eq!(cx.store().incr(&ns, "c", -5, None).await?.value, -2, "-5");
    ensure_eq!(cx.store().incr(&ns, "c", 0, None).await?.value, -2, "+0");
    ensure_eq!(
        cx.store().incr(&ns, "fresh", 0, None).await?.value,
        0,
        "+0 on a new counter"
    );
    pass()
}

/// The TTL given when the counter is created sets its expiry; later calls, with or
/// without a TTL, never move it.
pub async fn incr_sets_ttl_only_on_create<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if let Some(why) = cx.short_ttl_unsupported() {
        return skip(why);
    }
    if let Some(skipped) = needs_incr(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    let ttl = cx.short_ttl();
    let created = cx.store().incr(&ns, "c", 1, Some(ttl)).await?;
    let Some(expiry) = created.expires_at else {
        return fail("a counter created with a ttl reported no expiry");
    };
    cx.pass(ttl / 2).await;
    let later = cx
        .store()
        .incr(&ns, "c", 1, Some(Duration::from_secs(3600)))
        .await?;
    ensure_eq!(later.value, 2, "second incr");
    ensure_eq!(
        later.expires_at,
        Some(expiry),
        "expiry after an incr with a longer ttl"
    );
    let again = cx.store().incr(&ns, "c", 1, None).await?;
    ensure_eq!(
        again.expires_at,
        Some(expiry),
        "expiry after an incr without ttl"
    );
    cx.outlive_short_ttl().await;
    ensure!(
        cx.store().get(&ns, "c").await?.is_none(),
        "later incrs extended the counter past its first ttl"
    );
    pass()
}

/// A counter created without TTL stays permanent even if later calls pass one.
pub async fn incr_without_ttl_on_create_never_expires<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if let Some(why) = cx.short_ttl_unsupported() {
        return skip(why);
    }
    if let Some(skipped) = needs_incr(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    cx.store().incr(&ns, "c", 1, None).await?;
    let later = cx.store().incr(&ns, "c", 1, Some(cx.short_ttl())).await?;
    ensure_eq!(
        later.expires_at,
        None,
        "expiry after an incr with ttl on a permanent counter"
    );
    cx.outlive_short_ttl().await;
    ensure_eq!(
        cx.store().incr(&ns, "c", 1, None).await?.value,
        3,
        "counter after the ttl"
    );
    pass()
}

/// `get` of a counter returns its decimal ASCII form and a version.
pub async fn counter_reads_as_decimal_ascii<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if let Some(skipped) = needs_incr(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    cx.store().incr(&ns, "c", -42, None).await?;
    ensure_eq!(
        &must_get(cx.store(), &ns, "c").await?.value[..],
        b"-42",
        "negative counter"
    );
    cx.store().incr(&ns, "big", i64::MAX, None).await?;
    ensure_eq!(
        &must_get(cx.store(), &ns, "big").await?.value[..],
        i64::MAX.to_string().as_bytes(),
        "i64::MAX counter"
    );
    pass()
}

/// A value written by `set` that is the canonical decimal form of an `i64` is a counter.
pub async fn incr_accepts_canonical_decimal_written_by_set<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if let Some(skipped) = needs_incr(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    put(cx.store(), &ns, "c", b"41").await?;
    ensure_eq!(
        cx.store().incr(&ns, "c", 1, None).await?.value,
        42,
        "incr of \"41\""
    );
    put(cx.store(), &ns, "n", b"-9").await?;
    ensure_eq!(
        cx.store().incr(&ns, "n", 10, None).await?.value,
        1,
        "incr of \"-9\""
    );
    pass()
}

/// `incr` on a value that is not a canonical decimal `i64` fails with `NotACounter`
/// and changes nothing.
pub async fn incr_on_non_counter_is_typed_error_and_keeps_value<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if let Some(skipped) = needs_incr(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    for (i, value) in [
        &b"abc"[..],
        b"",
        b"1.5",
        b" 1",
        b"+1",
        b"01",
        b"99999999999999999999",
        &[0xff, 0x31],
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("v{i}");
        let version = put(cx.store(), &ns, &key, value).await?;
        match cx.store().incr(&ns, &key, 1, None).await {
            Err(Error::NotACounter) => {}
            other => {
                return fail(format!(
                    "incr on {value:?}: expected NotACounter, got {other:?}"
                ));
            }
        }
        let entry = must_get(cx.store(), &ns, &key).await?;
        ensure_eq!(
            (&entry.value[..], entry.version),
            (value, version),
            "entry after failed incr"
        );
    }
    pass()
}

/// Overflowing an `i64` fails with `CounterOverflow` and leaves the counter as it was.
pub async fn incr_overflow_is_error_and_keeps_counter<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if let Some(skipped) = needs_incr(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    cx.store().incr(&ns, "max", i64::MAX - 1, None).await?;
    ensure_eq!(
        cx.store().incr(&ns, "max", 1, None).await?.value,
        i64::MAX,
        "up to MAX"
    );
    match cx.store().incr(&ns, "max", 1, None).await {
        Err(Error::CounterOverflow) => {}
        other => return fail(format!("MAX + 1: expected CounterOverflow, got {other:?}")),
    }
    cx.store().incr(&ns, "min", i64::MIN, None).await?;
    match cx.store().incr(&ns, "min", -1, None).await {
        Err(Error::CounterOverflow) => {}
        other => return fail(format!("MIN - 1: expected CounterOverflow, got {other:?}")),
    }
    ensure_eq!(
        cx.store().incr(&ns, "max", 0, None).await?.value,
        i64::MAX,
        "max kept"
    );
    ensure_eq!(
        cx.store().incr(&ns, "min", 0, None).await?.value,
        i64::MIN,
        "min kept"
    );
    pass()
}

/// `incr` is a write: it changes the version, so a CAS from before it fails.
pub async fn incr_changes_version<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if let Some(skipped) = needs_incr(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    cx.store().incr(&ns, "c", 1, None).await?;
    let before = must_get(cx.store(), &ns, "c").await?.version;
    cx.store().incr(&ns, "c", 1, None).await?;
    let after = must_get(cx.store(), &ns, "c").await?.version;
    ensure!(before != after, "incr kept version {before}");
    if cx.caps().compare_and_set {
        let outcome = cx
            .store()
            .set(
                &ns,
                "c",
                Bytes::from_static(b"0"),
                SetOptions::if_version(before),
            )
            .await?;
        ensure!(
            matches!(outcome, SetOutcome::Rejected { .. }),
            "a CAS with the pre-incr version overwrote the counter"
        );
    }
    pass()
}

/// A backend without atomic incr refuses `incr` with `Unsupported` and writes nothing.
pub async fn incr_is_refused_without_atomic_incr<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if cx.caps().atomic_incr {
        return skip("backend declares atomic_incr (the incr cases apply instead)");
    }
    let ns = cx.ns();
    match cx.store().incr(&ns, "c", 1, None).await {
        Err(Error::Unsupported { .. }) => {}
        other => return fail(format!("expected Unsupported, got {other:?}")),
    }
    ensure!(
        cx.store().get(&ns, "c").await?.is_none(),
        "refused incr wrote a value"
    );
    pass()
}

/// This group's cases, in order, for [`conformance_tests!`](crate::conformance_tests)
/// and [`cases`](crate::conformance::cases()).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_group_incr {
    ($mode:ident [$($arg:tt)*]) => {
        $crate::__conformance_emit! { $mode [$($arg)*] incr:
            incr_missing_counter_starts_from_zero,
            incr_adds_negative_and_zero_deltas,
            incr_sets_ttl_only_on_create,
            incr_without_ttl_on_create_never_expires,
            counter_reads_as_decimal_ascii,
            incr_accepts_canonical_decimal_written_by_set,
            incr_on_non_counter_is_typed_error_and_keeps_value,
            incr_overflow_is_error_and_keeps_counter,
            incr_changes_version,
            incr_is_refused_without_atomic_incr,
        }
    };
}
