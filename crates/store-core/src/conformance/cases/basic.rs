//! Plain reads, writes and deletes.

use std::sync::Arc;

use bytes::Bytes;

use super::{fail, must_get, pass, put, skip, written};
use crate::conformance::{CaseResult, Ctx, ensure, ensure_eq};
use crate::{DeleteCondition, Error, SetOptions, Store};

/// `get` of a key never written is `None`.
pub async fn get_missing_returns_none<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    ensure!(
        cx.store().get(&cx.ns(), "missing").await?.is_none(),
        "get of a never-written key returned an entry"
    );
    pass()
}

/// `exists` is false for a missing key, true once written, false again after delete,
/// and never disagrees with `get`.
pub async fn exists_tracks_writes_and_deletes<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let ns = cx.ns();
    let store = cx.store();
    ensure!(
        !store.exists(&ns, "k").await?,
        "exists of a never-written key"
    );
    put(store, &ns, "k", b"").await?;
    ensure!(
        store.exists(&ns, "k").await?,
        "exists after set (empty value)"
    );
    ensure!(
        !store.exists(&ns, "other").await?,
        "exists of a sibling key"
    );
    store.delete(&ns, "k", DeleteCondition::Always).await?;
    ensure!(!store.exists(&ns, "k").await?, "exists after delete");
    pass()
}

/// A written value reads back with the version the write returned and no expiry.
pub async fn set_then_get_returns_value_and_version<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    let ns = cx.ns();
    let version = put(cx.store(), &ns, "k", b"hello").await?;
    let entry = must_get(cx.store(), &ns, "k").await?;
    ensure_eq!(&entry.value[..], b"hello", "value read back");
    ensure_eq!(entry.version, version, "version read back");
    ensure_eq!(entry.expires_at, None, "expiry of a write without ttl");
    pass()
}

/// Overwriting replaces the value and gives a new version.
pub async fn set_overwrites_and_changes_version<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let ns = cx.ns();
    let v1 = put(cx.store(), &ns, "k", b"one").await?;
    let v2 = put(cx.store(), &ns, "k", b"two").await?;
    ensure!(v1 != v2, "overwrite kept version {v1}");
    let v3 = put(cx.store(), &ns, "k", b"two").await?;
    ensure!(v3 != v2, "rewriting the same bytes kept version {v2}");
    let entry = must_get(cx.store(), &ns, "k").await?;
    ensure_eq!(&entry.value[..], b"two", "value after overwrite");
    ensure_eq!(entry.version, v3, "version after overwrite");
    pass()
}

/// Every byte value survives a round trip (no text encoding on the way).
pub async fn values_are_binary_safe<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let ns = cx.ns();
    let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let max = cx.caps().max_value_size;
    let value = &all[..all.len().min(max)];
    put(cx.store(), &ns, "bin", value).await?;
    ensure_eq!(
        &must_get(cx.store(), &ns, "bin").await?.value[..],
        value,
        "binary value read back"
    );
    pass()
}

/// A zero-length value is stored and read back as empty, not as absent.
pub async fn empty_value_round_trips<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let ns = cx.ns();
    put(cx.store(), &ns, "empty", b"").await?;
    let entry = must_get(cx.store(), &ns, "empty").await?;
    ensure!(
        entry.value.is_empty(),
        "empty value read back as {:?}",
        entry.value
    );
    pass()
}

/// A value of exactly `max_value_size` bytes is accepted and read back intact.
pub async fn max_size_value_round_trips<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let ns = cx.ns();
    let max = cx.caps().max_value_size;
    let value: Vec<u8> = (0..max).map(|i| (i % 251) as u8).collect();
    put(cx.store(), &ns, "big", &value).await?;
    let entry = must_get(cx.store(), &ns, "big").await?;
    ensure!(
        entry.value.len() == max && entry.value[..] == value[..],
        "value of {max} bytes read back as {} bytes (or altered)",
        entry.value.len()
    );
    pass()
}

/// A value one byte over the limit fails with `ValueTooLarge` and leaves the previous
/// value in place.
pub async fn oversized_value_is_rejected_and_nothing_written<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    let ns = cx.ns();
    let max = cx.caps().max_value_size;
    let before = put(cx.store(), &ns, "k", b"kept").await?;
    let too_big = Bytes::from(vec![7u8; max + 1]);
    for opts in [SetOptions::always(), SetOptions::if_absent()] {
        match cx.store().set(&ns, "k", too_big.clone(), opts).await {
            Err(Error::ValueTooLarge { size, max: m }) if size == max + 1 && m == max => {}
            other => {
                return fail(format!(
                    "set of {} bytes: expected ValueTooLarge {{ size: {}, max: {max} }}, got {other:?}",
                    max + 1,
                    max + 1
                ));
            }
        }
    }
    match cx
        .store()
        .set(&ns, "new", too_big, SetOptions::always())
        .await
    {
        Err(Error::ValueTooLarge { .. }) => {}
        other => return fail(format!("oversized new key: got {other:?}")),
    }
    let entry = must_get(cx.store(), &ns, "k").await?;
    ensure_eq!(
        (&entry.value[..], entry.version),
        (&b"kept"[..], before),
        "entry after a rejected oversized write"
    );
    ensure!(
        cx.store().get(&ns, "new").await?.is_none(),
        "an oversized write created its key"
    );
    pass()
}

/// The same key in two namespaces (one a prefix of the other) holds two entries.
pub async fn namespaces_are_isolated<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let a = cx.namespace("a");
    let ab = cx.namespace("a:b");
    put(cx.store(), &a, "b:k", b"in a").await?;
    put(cx.store(), &ab, "k", b"in a:b").await?;
    ensure_eq!(
        &must_get(cx.store(), &a, "b:k").await?.value[..],
        b"in a",
        "a"
    );
    ensure_eq!(
        &must_get(cx.store(), &ab, "k").await?.value[..],
        b"in a:b",
        "a:b"
    );
    ensure!(
        cx.store().get(&ab, "b:k").await?.is_none() && cx.store().get(&a, "k").await?.is_none(),
        "an entry leaked into the other namespace"
    );
    cx.store()
        .delete(&a, "b:k", DeleteCondition::Always)
        .await?;
    ensure!(
        cx.store().get(&ab, "k").await?.is_some(),
        "deleting in one namespace removed the other's entry"
    );
    pass()
}

/// `delete` of a live entry removes it and reports `true`.
pub async fn delete_removes_live_entry<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let ns = cx.ns();
    put(cx.store(), &ns, "k", b"v").await?;
    ensure!(
        cx.store().delete(&ns, "k", DeleteCondition::Always).await?,
        "delete of a live entry reported false"
    );
    ensure!(
        cx.store().get(&ns, "k").await?.is_none(),
        "entry still readable after delete"
    );
    pass()
}

/// Deleting a missing key succeeds and reports `false`, twice.
pub async fn delete_missing_succeeds_and_reports_false<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    let ns = cx.ns();
    for attempt in 1..=2 {
        ensure!(
            !cx.store()
                .delete(&ns, "never", DeleteCondition::Always)
                .await?,
            "delete #{attempt} of a missing key reported true"
        );
    }
    put(cx.store(), &ns, "k", b"v").await?;
    ensure!(
        cx.store().delete(&ns, "k", DeleteCondition::Always).await?,
        "first delete"
    );
    ensure!(
        !cx.store().delete(&ns, "k", DeleteCondition::Always).await?,
        "second delete of the same key reported true"
    );
    pass()
}

/// `delete` with the live version removes the entry.
pub async fn delete_if_version_removes_matching_entry<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if !cx.caps().compare_and_set {
        return skip("backend does not declare compare_and_set");
    }
    let ns = cx.ns();
    let v = put(cx.store(), &ns, "k", b"v").await?;
    ensure!(
        cx.store()
            .delete(&ns, "k", DeleteCondition::IfVersion(v))
            .await?,
        "delete with the live version reported false"
    );
    ensure!(cx.store().get(&ns, "k").await?.is_none(), "entry survived");
    pass()
}

/// `delete` with a stale version keeps the entry and reports `false`.
pub async fn delete_if_version_keeps_entry_on_mismatch<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if !cx.caps().compare_and_set {
        return skip("backend does not declare compare_and_set");
    }
    let ns = cx.ns();
    let stale = put(cx.store(), &ns, "k", b"old").await?;
    let live = put(cx.store(), &ns, "k", b"new").await?;
    ensure!(
        !cx.store()
            .delete(&ns, "k", DeleteCondition::IfVersion(stale))
            .await?,
        "delete with a stale version reported true"
    );
    let entry = must_get(cx.store(), &ns, "k").await?;
    ensure_eq!(
        (&entry.value[..], entry.version),
        (&b"new"[..], live),
        "entry kept"
    );
    ensure!(
        !cx.store()
            .delete(&ns, "gone", DeleteCondition::IfVersion(live))
            .await?,
        "conditional delete of a missing key reported true"
    );
    pass()
}

/// A key deleted and written again never gets back an old version (no ABA).
pub async fn versions_never_repeat_after_delete_and_recreate<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    let ns = cx.ns();
    let mut seen = Vec::new();
    for round in 0..5 {
        let v = put(cx.store(), &ns, "k", b"same").await?;
        ensure!(
            !seen.contains(&v),
            "round {round}: version {v} was issued before"
        );
        seen.push(v);
        cx.store().delete(&ns, "k", DeleteCondition::Always).await?;
    }
    if cx.caps().compare_and_set {
        let v = written(
            cx.store()
                .set(&ns, "k", Bytes::from_static(b"x"), SetOptions::if_absent())
                .await?,
            "recreate",
        )?;
        for old in &seen {
            let outcome = cx
                .store()
                .set(
                    &ns,
                    "k",
                    Bytes::from_static(b"y"),
                    SetOptions::if_version(*old),
                )
                .await?;
            ensure!(
                !outcome.is_written(),
                "a CAS with version {old} from an earlier life of the key overwrote {v}"
            );
        }
    }
    pass()
}

/// This group's cases, in order, for [`conformance_tests!`](crate::conformance_tests)
/// and [`cases`](crate::conformance::cases()).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_group_basic {
    ($mode:ident [$($arg:tt)*]) => {
        $crate::__conformance_emit! { $mode [$($arg)*] basic:
            get_missing_returns_none,
            exists_tracks_writes_and_deletes,
            set_then_get_returns_value_and_version,
            set_overwrites_and_changes_version,
            values_are_binary_safe,
            empty_value_round_trips,
            max_size_value_round_trips,
            oversized_value_is_rejected_and_nothing_written,
            namespaces_are_isolated,
            delete_removes_live_entry,
            delete_missing_succeeds_and_reports_false,
            delete_if_version_removes_matching_entry,
            delete_if_version_keeps_entry_on_mismatch,
            versions_never_repeat_after_delete_and_recreate,
        }
    };
}
