//! Bad input: a clear error before any I/O, and nothing written.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::{fail, pass, put};
use crate::conformance::{CaseResult, Ctx, Failure, ensure, ensure_eq};
use crate::{DeleteCondition, Error, SetOptions, Store};

/// Runs every keyed operation on `(ns, key)` and expects `InvalidKey` naming `what`.
async fn all_ops_reject<S: Store + 'static>(
    cx: &Ctx<S>,
    ns: &str,
    key: &str,
    what: &str,
) -> Result<(), Failure> {
    let check = |op: &str, result: Result<(), Error>| -> Result<(), Failure> {
        match result {
            Err(Error::InvalidKey { what: w, .. }) if w == what => Ok(()),
            other => fail(format!(
                "{op} with invalid {what} ({ns:?}, {key:?}): expected InvalidKey {{ what: {what:?} }}, got {other:?}"
            )),
        }
    };
    let store = cx.store();
    check("get", store.get(ns, key).await.map(drop))?;
    check("exists", store.exists(ns, key).await.map(drop))?;
    let value = Bytes::from_static(b"v");
    for opts in [SetOptions::always(), SetOptions::if_absent()] {
        check(
            "set",
            store.set(ns, key, value.clone(), opts).await.map(drop),
        )?;
    }
    check(
        "delete",
        store
            .delete(ns, key, DeleteCondition::Always)
            .await
            .map(drop),
    )?;
    if cx.caps().atomic_incr {
        check("incr", store.incr(ns, key, 1, None).await.map(drop))?;
    }
    Ok(())
}

async fn nothing_written<S: Store + 'static>(cx: &Ctx<S>, ns: &str) -> Result<(), Failure> {
    let page = cx.store().list(ns, "", None, 10).await?;
    ensure!(
        page.keys.is_empty(),
        "an invalid operation wrote keys: {:?}",
        page.keys
    );
    Ok(())
}

/// An empty key is refused by every operation.
pub async fn empty_key_is_rejected<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let ns = cx.ns();
    all_ops_reject(&cx, &ns, "", "key").await?;
    nothing_written(&cx, &ns).await?;
    pass()
}

/// A key one byte over `max_key_len` is refused by every operation.
pub async fn oversized_key_is_rejected<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let ns = cx.ns();
    let key = "k".repeat(cx.caps().max_key_len + 1);
    all_ops_reject(&cx, &ns, &key, "key").await?;
    // Multi-byte characters count in bytes, not characters.
    let key = "é".repeat(cx.caps().max_key_len / 2 + 1);
    all_ops_reject(&cx, &ns, &key, "key").await?;
    nothing_written(&cx, &ns).await?;
    pass()
}

/// An empty namespace is refused by every operation, `list` included.
pub async fn empty_namespace_is_rejected<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    all_ops_reject(&cx, "", "k", "namespace").await?;
    match cx.store().list("", "", None, 10).await {
        Err(Error::InvalidKey {
            what: "namespace", ..
        }) => pass(),
        other => fail(format!("list of the empty namespace: got {other:?}")),
    }
}

/// A namespace one byte over the limit is refused.
pub async fn oversized_namespace_is_rejected<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let base = cx.ns();
    let ns = format!(
        "{base}{}",
        "n".repeat(cx.caps().max_namespace_len + 1 - base.len())
    );
    ensure_eq!(
        ns.len(),
        cx.caps().max_namespace_len + 1,
        "test namespace length"
    );
    all_ops_reject(&cx, &ns, "k", "namespace").await?;
    match cx.store().list(&ns, "", None, 10).await {
        Err(Error::InvalidKey {
            what: "namespace", ..
        }) => pass(),
        other => fail(format!("list of an oversized namespace: got {other:?}")),
    }
}

/// ASCII control characters in a key, namespace or prefix are refused.
pub async fn control_characters_are_rejected<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let ns = cx.ns();
    for bad in ["a\0b", "line\nbreak", "tab\t", "\u{7f}", "\u{1b}[31m"] {
        all_ops_reject(&cx, &ns, bad, "key").await?;
        all_ops_reject(&cx, &format!("{ns}{bad}"), "k", "namespace").await?;
        match cx.store().list(&ns, bad, None, 10).await {
            Err(Error::InvalidKey { what: "prefix", .. }) => {}
            other => return fail(format!("list with prefix {bad:?}: got {other:?}")),
        }
    }
    nothing_written(&cx, &ns).await?;
    pass()
}

/// A key of exactly `max_key_len` bytes and a namespace of exactly the limit work.
pub async fn limits_are_inclusive<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let ns = cx.ns();
    let key = "k".repeat(cx.caps().max_key_len);
    put(cx.store(), &ns, &key, b"v").await?;
    ensure!(
        cx.store().get(&ns, &key).await?.is_some(),
        "max-length key not readable"
    );
    let listed = cx.store().list(&ns, "", None, 10).await?.keys;
    ensure_eq!(listed, vec![key.clone()], "max-length key listed");
    let base_len = cx.namespace("").len();
    let long_ns = cx.namespace(&"n".repeat(cx.caps().max_namespace_len - base_len));
    ensure_eq!(
        long_ns.len(),
        cx.caps().max_namespace_len,
        "test namespace length"
    );
    put(cx.store(), &long_ns, "k", b"v").await?;
    ensure!(
        cx.store().get(&long_ns, "k").await?.is_some(),
        "max-length namespace not readable"
    );
    cx.store()
        .delete(&long_ns, "k", DeleteCondition::Always)
        .await?;
    pass()
}

/// A zero TTL is an `InvalidArgument` for `set` and `incr`, and writes nothing.
pub async fn invalid_ttl_is_rejected<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let ns = cx.ns();
    let opts = SetOptions::always().with_ttl(Duration::ZERO);
    match cx
        .store()
        .set(&ns, "k", Bytes::from_static(b"v"), opts)
        .await
    {
        Err(Error::InvalidArgument(_)) => {}
        other => return fail(format!("set with zero ttl: got {other:?}")),
    }
    if cx.caps().atomic_incr {
        match cx.store().incr(&ns, "c", 1, Some(Duration::ZERO)).await {
            Err(Error::InvalidArgument(_)) => {}
            other => return fail(format!("incr with zero ttl: got {other:?}")),
        }
    }
    let too_long = crate::raw::validate::MAX_TTL + Duration::from_secs(1);
    let opts = SetOptions::always().with_ttl(too_long);
    match cx
        .store()
        .set(&ns, "k", Bytes::from_static(b"v"), opts)
        .await
    {
        Err(Error::InvalidArgument(_)) => {}
        other => return fail(format!("set with ttl over the maximum: got {other:?}")),
    }
    nothing_written(&cx, &ns).await?;
    pass()
}

/// This group's cases, in order, for [`conformance_tests!`](crate::conformance_tests)
/// and [`cases`](crate::conformance::cases()).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_group_validation {
    ($mode:ident [$($arg:tt)*]) => {
        $crate::__conformance_emit! { $mode [$($arg)*] validation:
            empty_key_is_rejected,
            oversized_key_is_rejected,
            empty_namespace_is_rejected,
            oversized_namespace_is_rejected,
            control_characters_are_rejected,
            limits_are_inclusive,
            invalid_ttl_is_rejected,
        }
    };
}
