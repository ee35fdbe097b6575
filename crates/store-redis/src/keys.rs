//! From `(namespace, key)` to a Redis key, and back for listing.
//!
//! The physical key is `<key_prefix><n>:<ns>:<key>`, where `<ns>` and `<key>` are the
//! namespace and key with `%`, `{` and `}` percent-escaped and `<n>` is the escaped
//! namespace's length in bytes. The length makes the mapping injective whatever
//! characters the parts hold (`("a:b", "c")` and `("a", "b:c")` differ in `<n>`), and
//! escaping the braces keeps callers from forming a Redis Cluster hash tag by accident:
//! each operation touches one key, hence one slot, and keys spread over all slots. A
//! `key_prefix` may hold a hash tag on purpose (`{app}:`) to pin everything to one slot.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use store_core::{Cursor, Error, Result};

fn escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '{', '}']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3)?;
        out.push(match code {
            "25" => '%',
            "7B" => '{',
            "7D" => '}',
            _ => return None,
        });
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// Where the keys of one namespace live: the common head of their physical keys.
#[derive(Debug, Clone)]
pub(crate) struct NamespaceKeys {
    head: String,
}

impl NamespaceKeys {
    pub(crate) fn new(key_prefix: &str, namespace: &str) -> Self {
        let ns = escape(namespace);
        NamespaceKeys {
            head: format!("{key_prefix}{}:{ns}:", ns.len()),
        }
    }

    /// The Redis key of `(namespace, key)`, built in one allocation.
    pub(crate) fn physical_key(key_prefix: &str, namespace: &str, key: &str) -> String {
        let ns = escape(namespace);
        let key = escape(key);
        let mut len = itoa::Buffer::new();
        let len = len.format(ns.len());
        let mut out =
            String::with_capacity(key_prefix.len() + len.len() + ns.len() + key.len() + 2);
        out.push_str(key_prefix);
        out.push_str(len);
        out.push(':');
        out.push_str(&ns);
        out.push(':');
        out.push_str(&key);
        out
    }

    /// A `SCAN MATCH` pattern for the keys starting with `prefix`.
    pub(crate) fn pattern(&self, prefix: &str) -> String {
        prefix_pattern(&format!("{}{}", self.head, escape(prefix)))
    }

    /// The user's key from a physical key found by `SCAN`.
    pub(crate) fn key_of(&self, physical: &[u8]) -> Option<String> {
        let physical = std::str::from_utf8(physical).ok()?;
        unescape(physical.strip_prefix(&self.head)?)
    }
}

/// A `SCAN MATCH` pattern for every key starting with `literal`.
pub(crate) fn prefix_pattern(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len() + 8);
    for c in literal.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('*');
    out
}

/// Where a `list` walk stands: which node (cluster) and `SCAN` cursor, and keys already
/// found but not yet returned (a `SCAN` batch can exceed the page).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct WalkState {
    pub(crate) node: String,
    pub(crate) scan: String,
    pub(crate) pending: Vec<String>,
}

const CURSOR_VERSION: &str = "r1";

impl WalkState {
    /// Keys are free of control characters (key rules), so `\n` separates fields.
    pub(crate) fn encode(&self) -> Cursor {
        let mut text = format!("{CURSOR_VERSION}\n{}\n{}", self.node, self.scan);
        for key in &self.pending {
            text.push('\n');
            text.push_str(key);
        }
        Cursor::new(URL_SAFE_NO_PAD.encode(text))
    }

    pub(crate) fn decode(cursor: &Cursor) -> Result<Self> {
        let invalid = || Error::InvalidCursor("not a cursor of a Redis store's list".into());
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor.as_str())
            .map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = text.split('\n');
        if parts.next() != Some(CURSOR_VERSION) {
            return Err(invalid());
        }
        let node = parts.next().ok_or_else(invalid)?.to_owned();
        let scan = parts.next().ok_or_else(invalid)?.to_owned();
        if scan.is_empty() || !scan.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        Ok(WalkState {
            node,
            scan,
            pending: parts.map(str::to_owned).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_is_injective_across_the_namespace_key_boundary() {
        let a = NamespaceKeys::physical_key("p:", "a:b", "c");
        let b = NamespaceKeys::physical_key("p:", "a", "b:c");
        assert_ne!(a, b);
        assert_eq!(a, "p:3:a:b:c");
        assert_eq!(b, "p:1:a:b:c");
        let ns = NamespaceKeys::new("p:", "a:b");
        assert_eq!(
            ns.key_of(a.as_bytes()).as_deref(),
            Some("c"),
            "listing reads it back"
        );
    }

    #[test]
    fn braces_and_percent_are_escaped_and_round_trip() {
        let ns = NamespaceKeys::new("", "n{1}");
        let physical = NamespaceKeys::physical_key("", "n{1}", "%{tag}");
        assert_eq!(physical, "8:n%7B1%7D:%25%7Btag%7D");
        assert!(!physical.contains(['{', '}']));
        assert_eq!(ns.key_of(physical.as_bytes()).as_deref(), Some("%{tag}"));
    }

    #[test]
    fn patterns_escape_glob_characters() {
        let ns = NamespaceKeys::new("", "a*b");
        assert_eq!(ns.pattern("[x]?"), "3:a\\*b:\\[x\\]\\?*");
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let state = WalkState {
            node: "127.0.0.1:7000".into(),
            scan: "1234".into(),
            pending: vec!["a".into(), "ü b".into()],
        };
        assert_eq!(WalkState::decode(&state.encode()).unwrap(), state);
        assert!(WalkState::decode(&Cursor::new("garbage!")).is_err());
        assert!(
            WalkState::decode(&Cursor::new(URL_SAFE_NO_PAD.encode("r1\nx\nnotanumber"))).is_err()
        );
    }
}
