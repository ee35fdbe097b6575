//! Expiry, for every operation.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::{fail, must_get, pass, put, rejected, skip, walk, written};
use crate::conformance::{CaseResult, Ctx, Failure, ensure, ensure_eq};
use crate::{DeleteCondition, SetOptions, Store, Timestamp};

async fn put_short<S: Store + 'static>(cx: &Ctx<S>, ns: &str, key: &str) -> Result<(), Failure> {
    let opts = SetOptions::always().with_ttl(cx.short_ttl());
    written(
        cx.store()
            .set(ns, key, Bytes::from_static(b"short"), opts)
            .await?,
        "set with ttl",
    )?;
    Ok(())
}

/// Checks that `at` is `ttl` after a moment between `before` and `after`.
fn check_expiry<S: Store + 'static>(
    cx: &Ctx<S>,
    at: Option<Timestamp>,
    before: Timestamp,
    after: Timestamp,
    ttl: Duration,
    what: &str,
) -> Result<(), Failure> {
    let Some(at) = at else {
        return fail(format!(
            "{what}: no expiry reported, expected one {ttl:?} out"
        ));
    };
    // A backend with a TTL floor raises shorter TTLs to it.
    let ttl = ttl.max(cx.caps().min_ttl);
    let slack = cx.expiry_tolerance();
    let earliest = Timestamp::from_millis(
        before
            .add_ttl(ttl)
            .as_millis()
            .saturating_sub(slack.as_millis() as u64),
    );
    let latest = after.add_ttl(ttl + slack);
    ensure!(
        earliest <= at && at <= latest,
        "{what}: expiry {at:?} not within [{earliest:?}, {latest:?}] for ttl {ttl:?}"
    );
    Ok(())
}

/// An entry is readable until its TTL passes and never after.
pub async fn entry_expires_after_ttl<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if let Some(why) = cx.short_ttl_unsupported() {
        return skip(why);
    }
    let ns = cx.ns();
    put_short(&cx, &ns, "k").await?;
    ensure!(
        cx.store().get(&ns, "k").await?.is_some(),
        "entry gone before its ttl"
    );
    cx.outlive_short_ttl().await;
    ensure!(
        cx.store().get(&ns, "k").await?.is_none(),
        "expired entry still returned by get"
    );
    pass()
}

/// `exists` is true until the TTL passes and false after, like `get`.
pub async fn exists_is_false_after_expiry<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if let Some(why) = cx.short_ttl_unsupported() {
        return skip(why);
    }
    let ns = cx.ns();
    put_short(&cx, &ns, "k").await?;
    ensure!(cx.store().exists(&ns, "k").await?, "exists before the ttl");
    cx.outlive_short_ttl().await;
    ensure!(
        !cx.store().exists(&ns, "k").await?,
        "exists reported an expired entry"
    );
    pass()
}

/// Writes an entry with `ttl` and checks the expiry `get` reports (`max(ttl, min_ttl)`).
async fn set_and_check_expiry<S: Store + 'static>(
    cx: &Ctx<S>,
    ttl: Duration,
    what: &str,
) -> Result<(), Failure> {
    let ns = cx.ns();
    let before = cx.now();
    cx.store()
        .set(
            &ns,
            "k",
            Bytes::from_static(b"v"),
            SetOptions::always().with_ttl(ttl),
        )
        .await?;
    let after = cx.now();
    let entry = must_get(cx.store(), &ns, "k").await?;
    check_expiry(cx, entry.expires_at, before, after, ttl, what)
}

/// `get` reports the absolute expiry the TTL asked for.
pub async fn expiry_is_reported_and_matches_ttl<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    set_and_check_expiry(&cx, Duration::from_secs(90), "get after set with ttl").await?;
    pass()
}

/// A TTL below the backend's floor ([`min_ttl`](crate::Capabilities::min_ttl)) is raised
/// to it, and the reported expiry says so; with no floor, a 1-second TTL is kept as
/// given. Either way what the store reports matches what it declares.
pub async fn a_ttl_below_the_floor_is_raised_to_it<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    set_and_check_expiry(&cx, Duration::from_secs(1), "get after set with a 1 s ttl").await?;
    pass()
}

/// Overwriting without a TTL makes the entry permanent.
pub async fn set_without_ttl_clears_previous_ttl<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if let Some(why) = cx.short_ttl_unsupported() {
        return skip(why);
    }
    let ns = cx.ns();
    put_short(&cx, &ns, "k").await?;
    put(cx.store(), &ns, "k", b"forever").await?;
    ensure_eq!(
        must_get(cx.store(), &ns, "k").await?.expires_at,
        None,
        "expiry"
    );
    cx.outlive_short_ttl().await;
    ensure_eq!(
        &must_get(cx.store(), &ns, "k").await?.value[..],
        b"forever",
        "entry after the old ttl passed"
    );
    pass()
}

/// Overwriting with a TTL replaces the old expiry with the new one.
pub async fn overwrite_with_ttl_sets_new_expiry<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if let Some(why) = cx.short_ttl_unsupported() {
        return skip(why);
    }
    let ns = cx.ns();
    let long = Duration::from_secs(3600);
    cx.store()
        .set(
            &ns,
            "k",
            Bytes::from_static(b"v"),
            SetOptions::always().with_ttl(long),
        )
        .await?;
    put_short(&cx, &ns, "k").await?;
    cx.outlive_short_ttl().await;
    ensure!(
        cx.store().get(&ns, "k").await?.is_none(),
        "entry kept its old, longer ttl after an overwrite with a short one"
    );
    pass()
}

/// `IfAbsent` succeeds over an expired entry.
pub async fn if_absent_treats_expired_entry_as_absent<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if let Some(why) = cx.short_ttl_unsupported() {
        return skip(why);
    }
    if !cx.caps().compare_and_set {
        return skip("backend does not declare compare_and_set");
    }
    let ns = cx.ns();
    put_short(&cx, &ns, "k").await?;
    cx.outlive_short_ttl().await;
    let v = written(
        cx.store()
            .set(
                &ns,
                "k",
                Bytes::from_static(b"fresh"),
                SetOptions::if_absent(),
            )
            .await?,
        "IfAbsent over an expired entry",
    )?;
    let entry = must_get(cx.store(), &ns, "k").await?;
    ensure_eq!(
        (&entry.value[..], entry.version, entry.expires_at),
        (&b"fresh"[..], v, None),
        "entry written over the expired one"
    );
    pass()
}

/// `IfPresent` is rejected on an expired entry, without a current entry.
pub async fn if_present_treats_expired_entry_as_absent<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if let Some(why) = cx.short_ttl_unsupported() {
        return skip(why);
    }
    if !cx.caps().compare_and_set {
        return skip("backend does not declare compare_and_set");
    }
    let ns = cx.ns();
    put_short(&cx, &ns, "k").await?;
    cx.outlive_short_ttl().await;
    let current = rejected(
        cx.store()
            .set(&ns, "k", Bytes::from_static(b"v"), SetOptions::if_present())
            .await?,
        "IfPresent on an expired entry",
    )?;
    ensure!(
        current.is_none(),
        "rejection returned the expired entry: {current:?}"
    );
    ensure!(
        cx.store().get(&ns, "k").await?.is_none(),
        "IfPresent revived the entry"
    );
    pass()
}

/// `IfVersion` with the version of an expired entry is rejected.
pub async fn if_version_rejects_expired_entry<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if let Some(why) = cx.short_ttl_unsupported() {
        return skip(why);
    }
    if !cx.caps().compare_and_set {
        return skip("backend does not declare compare_and_set");
    }
    let ns = cx.ns();
    let opts = SetOptions::always().with_ttl(cx.short_ttl());
    let v = written(
        cx.store()
            .set(&ns, "k", Bytes::from_static(b"v"), opts)
            .await?,
        "set with ttl",
    )?;
    cx.outlive_short_ttl().await;
    let current = rejected(
        cx.store()
            .set(
                &ns,
                "k",
                Bytes::from_static(b"late"),
                SetOptions::if_version(v),
            )
            .await?,
        "IfVersion on an expired entry",
    )?;
    ensure!(
        current.is_none(),
        "rejection returned the expired entry: {current:?}"
    );
    ensure!(
        !cx.store()
            .delete(&ns, "k", DeleteCondition::IfVersion(v))
            .await?,
        "conditional delete of an expired entry reported true"
    );
    pass()
}

/// Deleting an expired entry reports `false`: nothing live was removed.
pub async fn delete_of_expired_entry_reports_false<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if let Some(why) = cx.short_ttl_unsupported() {
        return skip(why);
    }
    let ns = cx.ns();
    put_short(&cx, &ns, "k").await?;
    cx.outlive_short_ttl().await;
    ensure!(
        !cx.store().delete(&ns, "k", DeleteCondition::Always).await?,
        "delete of an expired entry reported true"
    );
    pass()
}

/// `list` leaves out expired keys.
pub async fn list_skips_expired_entries<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if let Some(why) = cx.short_ttl_unsupported() {
        return skip(why);
    }
    let ns = cx.ns();
    put(cx.store(), &ns, "keep-1", b"v").await?;
    put_short(&cx, &ns, "gone-1").await?;
    put(cx.store(), &ns, "keep-2", b"v").await?;
    put_short(&cx, &ns, "gone-2").await?;
    cx.outlive_short_ttl().await;
    let keys = super::sorted(walk(cx.store(), &ns, "", 1).await?);
    ensure_eq!(keys, vec!["keep-1", "keep-2"], "keys listed after expiry");
    pass()
}

/// `incr` on an expired counter starts again from zero with the new TTL.
pub async fn incr_restarts_expired_counter<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if let Some(why) = cx.short_ttl_unsupported() {
        return skip(why);
    }
    if !cx.caps().atomic_incr {
        return skip("backend does not declare atomic_incr");
    }
    let ns = cx.ns();
    let ttl = cx.short_ttl();
    cx.store().incr(&ns, "c", 5, Some(ttl)).await?;
    cx.store().incr(&ns, "c", 5, Some(ttl)).await?;
    cx.outlive_short_ttl().await;
    let long = Duration::from_secs(3600);
    let before = cx.now();
    let restarted = cx.store().incr(&ns, "c", 1, Some(long)).await?;
    let after = cx.now();
    ensure_eq!(
        restarted.value,
        1,
        "value of an expired counter incremented by 1"
    );
    check_expiry(
        &cx,
        restarted.expires_at,
        before,
        after,
        long,
        "restarted counter",
    )?;
    pass()
}

/// This group's cases, in order, for [`conformance_tests!`](crate::conformance_tests)
/// and [`cases`](crate::conformance::cases()).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_group_ttl {
    ($mode:ident [$($arg:tt)*]) => {
        $crate::__conformance_emit! { $mode [$($arg)*] ttl:
            entry_expires_after_ttl,
            exists_is_false_after_expiry,
            expiry_is_reported_and_matches_ttl,
            a_ttl_below_the_floor_is_raised_to_it,
            set_without_ttl_clears_previous_ttl,
            overwrite_with_ttl_sets_new_expiry,
            if_absent_treats_expired_entry_as_absent,
            if_present_treats_expired_entry_as_absent,
            if_version_rejects_expired_entry,
            delete_of_expired_entry_reports_false,
            list_skips_expired_entries,
            incr_restarts_expired_counter,
        }
    };
}
