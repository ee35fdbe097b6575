//! `clear`: every live key under a prefix removed and counted, nothing else touched.

use std::sync::Arc;

use bytes::Bytes;

use super::{pass, put, skip, sorted, walk};
use crate::conformance::{CaseResult, Ctx, ensure, ensure_eq};
use crate::{Error, SetOptions, Store};

/// Keys whose characters are glob or `LIKE` syntax somewhere (`*`, `?`, `[`, `\`, `%`,
/// `_`, `{`), plus plain neighbours a pattern would also match.
pub(crate) const AWKWARD_KEYS: [&str; 11] = [
    "a*b", "a?b", "a[b]", "a[", "a\\b", "a%b", "a_b", "a{b}", "axb", "ab", "a\\x",
];

/// Prefixes that a store treating them as a pattern would widen.
pub(crate) const AWKWARD_PREFIXES: [&str; 8] = ["a*", "a?", "a[", "a[b", "a\\", "a%", "a_", "a{"];

/// `clear(ns, prefix)` removes every live key starting with `prefix` (counters too),
/// returns how many, and leaves the other keys of the namespace.
pub async fn clear_removes_the_keys_under_the_prefix_and_counts_them<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    let ns = cx.ns();
    for key in ["user:1", "user:2", "users", "admin:1", "use"] {
        put(cx.store(), &ns, key, b"v").await?;
    }
    if cx.caps().atomic_incr {
        cx.store().incr(&ns, "user:hits", 3, None).await?;
    } else {
        put(cx.store(), &ns, "user:hits", b"3").await?;
    }
    ensure_eq!(
        cx.store().clear(&ns, "user:").await?,
        3,
        "keys cleared under `user:`"
    );
    ensure_eq!(
        sorted(walk(cx.store(), &ns, "", 100).await?),
        vec!["admin:1", "use", "users"],
        "keys left"
    );
    ensure_eq!(
        cx.store().clear(&ns, "user:").await?,
        0,
        "a second clear finds nothing"
    );
    pass()
}

/// An empty prefix empties the namespace, and only that namespace (not one it is a
/// prefix of, nor one that is a prefix of it).
pub async fn clear_with_an_empty_prefix_empties_only_its_namespace<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    let (short, long) = (cx.namespace("x"), cx.namespace("x:y"));
    for key in ["a", "b", "ü/ß"] {
        put(cx.store(), &short, key, b"v").await?;
        put(cx.store(), &long, key, b"v").await?;
    }
    ensure_eq!(cx.store().clear(&short, "").await?, 3, "keys cleared");
    ensure!(
        walk(cx.store(), &short, "", 100).await?.is_empty(),
        "the namespace is empty"
    );
    ensure_eq!(
        sorted(walk(cx.store(), &long, "", 100).await?),
        vec!["a", "b", "ü/ß"],
        "the other namespace is untouched"
    );
    pass()
}

/// Expired entries are not counted (they were not live), and a clear across many pages
/// (more keys than one list page or one batch holds) removes every key.
pub async fn clear_counts_live_keys_across_pages<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if let Some(why) = cx.short_ttl_unsupported() {
        return skip(why);
    }
    let ns = cx.ns();
    let ttl = SetOptions::always().with_ttl(cx.short_ttl());
    cx.store()
        .set(&ns, "k:expired", Bytes::from_static(b"v"), ttl)
        .await?;
    cx.outlive_short_ttl().await;
    let many = 260;
    for i in 0..many {
        put(cx.store(), &ns, &format!("k:{i:03}"), b"v").await?;
    }
    ensure_eq!(
        cx.store().clear(&ns, "k:").await?,
        many,
        "live keys cleared"
    );
    ensure!(
        walk(cx.store(), &ns, "", 1000).await?.is_empty(),
        "nothing is left"
    );
    pass()
}

/// A prefix is literal text: glob and `LIKE` characters in it match only themselves.
pub async fn clear_prefix_is_literal<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    for (i, prefix) in AWKWARD_PREFIXES.iter().enumerate() {
        let ns = cx.namespace(&format!("p{i}"));
        for key in AWKWARD_KEYS {
            put(cx.store(), &ns, key, b"v").await?;
        }
        let expected = AWKWARD_KEYS
            .iter()
            .filter(|k| k.starts_with(prefix))
            .count();
        ensure_eq!(
            cx.store().clear(&ns, prefix).await?,
            expected as u64,
            "keys cleared under the literal prefix {prefix:?}"
        );
        let left = sorted(walk(cx.store(), &ns, "", 100).await?);
        let kept: Vec<String> = AWKWARD_KEYS
            .iter()
            .filter(|k| !k.starts_with(prefix))
            .map(|k| (*k).to_owned())
            .collect();
        ensure_eq!(left, sorted(kept), "keys left after clearing {prefix:?}");
    }
    pass()
}

/// Invalid input is refused before any I/O, as for `list`.
pub async fn clear_validates_its_input<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    for (ns, prefix) in [("", ""), ("bad\nns", ""), ("ok", "bad\u{7}prefix")] {
        let result = cx.store().clear(ns, prefix).await;
        ensure!(
            matches!(result, Err(Error::InvalidKey { .. })),
            "clear({ns:?}, {prefix:?}) should be InvalidKey, got {result:?}"
        );
    }
    pass()
}

/// This group's cases, in order, for [`conformance_tests!`](crate::conformance_tests)
/// and [`cases`](crate::conformance::cases()).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_group_clear {
    ($mode:ident [$($arg:tt)*]) => {
        $crate::__conformance_emit! { $mode [$($arg)*] clear:
            clear_removes_the_keys_under_the_prefix_and_counts_them,
            clear_with_an_empty_prefix_empties_only_its_namespace,
            clear_counts_live_keys_across_pages,
            clear_prefix_is_literal,
            clear_validates_its_input,
        }
    };
}
