//! Paginated listing.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::clear::{AWKWARD_KEYS, AWKWARD_PREFIXES};
use super::{fail, pass, put, skip, sorted, walk};
use crate::conformance::{CaseResult, Ctx, ensure, ensure_eq};
use crate::{Cursor, DeleteCondition, Error, Store};

/// A prefix is literal text: glob and `LIKE` characters in it (`*`, `?`, `[`, `\\`, `%`,
/// `_`, `{`) match only themselves, in every page size.
pub async fn list_prefix_is_literal<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let ns = cx.ns();
    for key in AWKWARD_KEYS {
        put(cx.store(), &ns, key, b"v").await?;
    }
    for prefix in AWKWARD_PREFIXES {
        let expected: Vec<String> = AWKWARD_KEYS
            .iter()
            .filter(|k| k.starts_with(prefix))
            .map(|k| (*k).to_owned())
            .collect();
        for limit in [1, 100] {
            ensure_eq!(
                sorted(walk(cx.store(), &ns, prefix, limit).await?),
                sorted(expected.clone()),
                "keys under the literal prefix {prefix:?} (pages of {limit})"
            );
        }
    }
    pass()
}

/// An edited cursor (a character changed, cut short, lengthened, or handed to a call
/// with another prefix) is refused as `InvalidCursor` before any I/O, or continues a
/// walk: it never makes `list` return a key that was never written or lies outside the
/// prefix, and never fails with another error.
pub async fn edited_cursors_never_yield_unwritten_keys<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    let ns = cx.ns();
    let written: BTreeSet<String> = (0..12).map(|i| format!("k{i:02}")).collect();
    for key in &written {
        put(cx.store(), &ns, key, b"v").await?;
    }
    let page = cx.store().list(&ns, "k", None, 3).await?;
    let Some(cursor) = page.cursor else {
        return fail("a page of 3 out of 12 keys came without a cursor");
    };
    let text: Vec<char> = cursor.as_str().chars().collect();
    let mut variants: Vec<String> = Vec::new();
    let step = (text.len() / 48).max(1);
    for at in (0..text.len()).step_by(step) {
        let mut edited = text.clone();
        edited[at] = if edited[at] == 'A' { 'z' } else { 'A' };
        variants.push(edited.into_iter().collect());
    }
    let whole: String = text.iter().collect();
    variants.push(whole[..whole.len() / 2].to_owned());
    variants.push(whole[..whole.len().saturating_sub(1)].to_owned());
    variants.push(format!("{whole}AAAA"));
    variants.push(format!("{whole}Cgo"));
    variants.push(whole.clone());
    for variant in variants {
        for prefix in ["k", "k1", "x"] {
            let cursor = Cursor::from(variant.clone());
            match cx.store().list(&ns, prefix, Some(&cursor), 5).await {
                Err(Error::InvalidCursor(_)) => {}
                Err(other) => {
                    return fail(format!(
                        "edited cursor {variant:?} with prefix {prefix:?}: expected \
                         InvalidCursor or a page, got {other:?}"
                    ));
                }
                Ok(page) => {
                    for key in &page.keys {
                        ensure!(
                            written.contains(key) && key.starts_with(prefix),
                            "edited cursor {variant:?} with prefix {prefix:?} returned {key:?}, \
                             which was never written under that prefix"
                        );
                    }
                }
            }
        }
    }
    pass()
}

/// Listing a namespace with nothing in it gives no keys and no cursor.
pub async fn list_of_empty_namespace_is_empty<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let page = cx.store().list(&cx.ns(), "", None, 10).await?;
    ensure!(
        page.keys.is_empty(),
        "keys in an empty namespace: {:?}",
        page.keys
    );
    ensure!(page.cursor.is_none(), "cursor on an empty namespace");
    pass()
}

/// Keys come back as written, and only those of the namespace (not of a namespace it
/// is a prefix of, nor one that is a prefix of it).
pub async fn list_returns_only_the_namespace_keys<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    let short = cx.namespace("x");
    let long = cx.namespace("x:y");
    let keys = ["a", "y:b", "ü/ß", "{tag}:c", "#1"];
    for key in keys {
        put(cx.store(), &short, key, b"v").await?;
    }
    put(cx.store(), &long, "a", b"v").await?;
    put(cx.store(), &long, "other", b"v").await?;
    let listed = sorted(walk(cx.store(), &short, "", 100).await?);
    ensure_eq!(
        listed,
        sorted(keys.map(String::from).to_vec()),
        "keys of the namespace"
    );
    let listed = sorted(walk(cx.store(), &long, "", 100).await?);
    ensure_eq!(listed, vec!["a", "other"], "keys of the longer namespace");
    pass()
}

/// Only keys starting with the prefix are listed; an empty prefix lists all.
pub async fn list_filters_by_prefix<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let ns = cx.ns();
    for key in [
        "user:1", "user:2", "user:10", "users", "use", "admin:1", "u",
    ] {
        put(cx.store(), &ns, key, b"v").await?;
    }
    let cases: [(&str, &[&str]); 4] = [
        ("user:", &["user:1", "user:10", "user:2"]),
        ("user", &["user:1", "user:10", "user:2", "users"]),
        ("nobody", &[]),
        (
            "",
            &[
                "admin:1", "u", "use", "user:1", "user:10", "user:2", "users",
            ],
        ),
    ];
    for (prefix, expected) in cases {
        for limit in [1, 2, 100] {
            let listed = sorted(walk(cx.store(), &ns, prefix, limit).await?);
            ensure_eq!(
                listed,
                expected.to_vec(),
                "prefix {prefix:?}, limit {limit}"
            );
        }
    }
    pass()
}

/// For every page size from 1 to n+1, a walk returns each of n keys exactly once.
pub async fn list_pages_cover_every_key_once_for_each_page_size<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    let ns = cx.ns();
    let n = 23usize;
    let expected: Vec<String> = (0..n).map(|i| format!("key-{i:03}")).collect();
    for key in &expected {
        put(cx.store(), &ns, key, b"v").await?;
    }
    for limit in 1..=n + 1 {
        let listed = walk(cx.store(), &ns, "", limit).await?;
        let distinct: BTreeSet<&String> = listed.iter().collect();
        ensure!(
            distinct.len() == listed.len(),
            "page size {limit}: a key was returned twice: {listed:?}"
        );
        ensure_eq!(sorted(listed), expected, "page size {limit}");
    }
    pass()
}

/// Keys written and deleted during a walk do not disturb it: every key live throughout
/// is returned exactly once, and nothing that never existed appears.
pub async fn list_walk_during_writes_returns_stable_keys_once<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    let ns = cx.ns();
    let stable: Vec<String> = (0..30).map(|i| format!("s-{i:02}")).collect();
    let doomed: Vec<String> = (0..30).map(|i| format!("d-{i:02}")).collect();
    for key in stable.iter().chain(&doomed) {
        put(cx.store(), &ns, key, b"v").await?;
    }
    let mut listed = Vec::new();
    let mut cursor: Option<Cursor> = None;
    let mut page_no = 0;
    loop {
        let page = cx.store().list(&ns, "", cursor.as_ref(), 4).await?;
        listed.extend(page.keys);
        // Between pages: delete two doomed keys and add two new ones, spread over the
        // key space (before and after the walk's position).
        for j in 0..2 {
            let i = page_no * 2 + j;
            if let Some(key) = doomed.get(i) {
                cx.store().delete(&ns, key, DeleteCondition::Always).await?;
            }
            put(cx.store(), &ns, &format!("a-new-{i:02}"), b"v").await?;
            put(cx.store(), &ns, &format!("z-new-{i:02}"), b"v").await?;
        }
        page_no += 1;
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        if page_no > 1000 {
            return fail("walk did not end");
        }
    }
    let counts = listed
        .iter()
        .fold(std::collections::BTreeMap::new(), |mut m, k| {
            *m.entry(k.clone()).or_insert(0) += 1;
            m
        });
    for key in &stable {
        ensure_eq!(
            counts.get(key).copied().unwrap_or(0),
            1,
            "times stable key {key} was listed"
        );
    }
    for (key, count) in &counts {
        ensure!(*count == 1, "key {key} listed {count} times");
        let known = key.starts_with("s-") || key.starts_with("d-") || key.contains("-new-");
        ensure!(known, "listed a key that was never written: {key}");
    }
    pass()
}

/// A backend that declares sorted listing returns keys in ascending byte order across
/// pages.
pub async fn list_is_sorted_when_declared<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if !cx.caps().sorted_list {
        return skip("backend does not declare sorted_list");
    }
    let ns = cx.ns();
    let keys = ["b", "a", "ab", "B", "aa", "ü", "z", "0", "a/b", "a:b"];
    for key in keys {
        put(cx.store(), &ns, key, b"v").await?;
    }
    for limit in [1, 3, 100] {
        let listed = walk(cx.store(), &ns, "", limit).await?;
        let mut expected: Vec<String> = keys.map(String::from).to_vec();
        expected.sort();
        ensure_eq!(listed, expected, "order with page size {limit}");
    }
    pass()
}

/// A page size of 0 or above `max_list_limit` is an `InvalidArgument`.
pub async fn list_rejects_invalid_limit<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let ns = cx.ns();
    for limit in [0, cx.caps().max_list_limit + 1] {
        match cx.store().list(&ns, "", None, limit).await {
            Err(Error::InvalidArgument(_)) => {}
            other => {
                return fail(format!(
                    "limit {limit}: expected InvalidArgument, got {other:?}"
                ));
            }
        }
    }
    ensure!(
        cx.store()
            .list(&ns, "", None, cx.caps().max_list_limit)
            .await
            .is_ok(),
        "limit = max_list_limit was refused"
    );
    pass()
}

/// A cursor the backend never produced is an `InvalidCursor`, not a wrong page.
pub async fn list_rejects_garbage_cursor<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    let ns = cx.ns();
    put(cx.store(), &ns, "k", b"v").await?;
    let garbage = crate::raw::cursor("\u{1F4A9} not a cursor");
    match cx.store().list(&ns, "", Some(&garbage), 10).await {
        Err(Error::InvalidCursor(_)) => pass(),
        other => fail(format!("expected InvalidCursor, got {other:?}")),
    }
}

/// This group's cases, in order, for [`conformance_tests!`](crate::conformance_tests)
/// and [`cases`](crate::conformance::cases()).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_group_list {
    ($mode:ident [$($arg:tt)*]) => {
        $crate::__conformance_emit! { $mode [$($arg)*] list:
            list_of_empty_namespace_is_empty,
            list_returns_only_the_namespace_keys,
            list_filters_by_prefix,
            list_prefix_is_literal,
            list_pages_cover_every_key_once_for_each_page_size,
            list_walk_during_writes_returns_stable_keys_once,
            list_is_sorted_when_declared,
            list_rejects_invalid_limit,
            list_rejects_garbage_cursor,
            edited_cursors_never_yield_unwritten_keys,
        }
    };
}
