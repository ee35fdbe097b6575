//! Conditional writes.

use std::sync::Arc;

use bytes::Bytes;

use super::{check_current, must_get, pass, put, rejected, skip, written};
use crate::conformance::{CaseResult, Ctx, ensure, ensure_eq};
use crate::{SetOptions, Store};

fn needs_cas<S: Store + 'static>(cx: &Ctx<S>) -> Option<CaseResult> {
    (!cx.caps().compare_and_set)
        .then(|| skip("backend does not declare compare_and_set (conditional writes are refused)"))
}

/// `IfAbsent` on a missing key writes.
pub async fn if_absent_writes_when_missing<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if let Some(skipped) = needs_cas(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    let v = written(
        cx.store()
            .set(
                &ns,
                "k",
                Bytes::from_static(b"first"),
                SetOptions::if_absent(),
            )
            .await?,
        "IfAbsent on a missing key",
    )?;
    let entry = must_get(cx.store(), &ns, "k").await?;
    ensure_eq!(
        (&entry.value[..], entry.version),
        (&b"first"[..], v),
        "entry"
    );
    pass()
}

/// `IfAbsent` on a live key is rejected with the live entry.
pub async fn if_absent_rejects_when_present_returning_current<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if let Some(skipped) = needs_cas(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    put(cx.store(), &ns, "k", b"first").await?;
    let live = must_get(cx.store(), &ns, "k").await?;
    let current = rejected(
        cx.store()
            .set(
                &ns,
                "k",
                Bytes::from_static(b"second"),
                SetOptions::if_absent(),
            )
            .await?,
        "IfAbsent on a live key",
    )?;
    check_current(cx.store(), current, &live, "IfAbsent rejection")?;
    pass()
}

/// `IfPresent` on a missing key is rejected with no current entry.
pub async fn if_present_rejects_when_missing<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if let Some(skipped) = needs_cas(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    let current = rejected(
        cx.store()
            .set(&ns, "k", Bytes::from_static(b"v"), SetOptions::if_present())
            .await?,
        "IfPresent on a missing key",
    )?;
    ensure!(
        current.is_none(),
        "rejection invented a current entry: {current:?}"
    );
    ensure!(
        cx.store().get(&ns, "k").await?.is_none(),
        "IfPresent created the key"
    );
    pass()
}

/// `IfPresent` on a live key overwrites it.
pub async fn if_present_overwrites_when_present<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if let Some(skipped) = needs_cas(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    let old = put(cx.store(), &ns, "k", b"old").await?;
    let new = written(
        cx.store()
            .set(
                &ns,
                "k",
                Bytes::from_static(b"new"),
                SetOptions::if_present(),
            )
            .await?,
        "IfPresent on a live key",
    )?;
    ensure!(new != old, "IfPresent write kept the version");
    ensure_eq!(
        &must_get(cx.store(), &ns, "k").await?.value[..],
        b"new",
        "value"
    );
    pass()
}

/// `IfVersion` with the live version writes and returns a new version.
pub async fn if_version_writes_on_match<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if let Some(skipped) = needs_cas(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    let v1 = put(cx.store(), &ns, "k", b"1").await?;
    let v2 = written(
        cx.store()
            .set(
                &ns,
                "k",
                Bytes::from_static(b"2"),
                SetOptions::if_version(v1),
            )
            .await?,
        "IfVersion with the live version",
    )?;
    ensure!(v1 != v2, "CAS kept the version");
    let entry = must_get(cx.store(), &ns, "k").await?;
    ensure_eq!((&entry.value[..], entry.version), (&b"2"[..], v2), "entry");
    pass()
}

/// `IfVersion` with a stale version is rejected with the live entry.
pub async fn if_version_rejects_stale_version_returning_current<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if let Some(skipped) = needs_cas(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    let stale = put(cx.store(), &ns, "k", b"1").await?;
    put(cx.store(), &ns, "k", b"2").await?;
    let live = must_get(cx.store(), &ns, "k").await?;
    let current = rejected(
        cx.store()
            .set(
                &ns,
                "k",
                Bytes::from_static(b"3"),
                SetOptions::if_version(stale),
            )
            .await?,
        "IfVersion with a stale version",
    )?;
    check_current(cx.store(), current, &live, "IfVersion rejection")?;
    pass()
}

/// `IfVersion` on a missing key is rejected, even with a version the key once had.
pub async fn if_version_rejects_when_missing<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if let Some(skipped) = needs_cas(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    let v = put(cx.store(), &ns, "other", b"x").await?;
    for version in [v, crate::raw::version(0), crate::raw::version(u64::MAX)] {
        let current = rejected(
            cx.store()
                .set(
                    &ns,
                    "k",
                    Bytes::from_static(b"v"),
                    SetOptions::if_version(version),
                )
                .await?,
            "IfVersion on a missing key",
        )?;
        ensure!(
            current.is_none(),
            "rejection invented a current entry: {current:?}"
        );
    }
    ensure!(
        cx.store().get(&ns, "k").await?.is_none(),
        "IfVersion created the key"
    );
    pass()
}

/// A rejected write leaves value, version and expiry exactly as they were.
pub async fn rejected_write_changes_nothing<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if let Some(skipped) = needs_cas(&cx) {
        return skipped;
    }
    let ns = cx.ns();
    let ttl = std::time::Duration::from_secs(3600);
    cx.store()
        .set(
            &ns,
            "k",
            Bytes::from_static(b"orig"),
            SetOptions::always().with_ttl(ttl),
        )
        .await?;
    let before = must_get(cx.store(), &ns, "k").await?;
    let stale = crate::raw::version(crate::raw::version_number(before.version) ^ 1);
    for opts in [SetOptions::if_absent(), SetOptions::if_version(stale)] {
        let opts = opts.with_ttl_opt(None);
        rejected(
            cx.store()
                .set(&ns, "k", Bytes::from_static(b"changed"), opts)
                .await?,
            "conditional write on a live key",
        )?;
    }
    let after = must_get(cx.store(), &ns, "k").await?;
    ensure_eq!(after, before, "entry after rejected writes");
    pass()
}

/// This group's cases, in order, for [`conformance_tests!`](crate::conformance_tests)
/// and [`cases`](crate::conformance::cases()).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_group_conditions {
    ($mode:ident [$($arg:tt)*]) => {
        $crate::__conformance_emit! { $mode [$($arg)*] conditions:
            if_absent_writes_when_missing,
            if_absent_rejects_when_present_returning_current,
            if_present_rejects_when_missing,
            if_present_overwrites_when_present,
            if_version_writes_on_match,
            if_version_rejects_stale_version_returning_current,
            if_version_rejects_when_missing,
            rejected_write_changes_nothing,
        }
    };
}
