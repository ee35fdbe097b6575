//! The one description of how fleetstate lays its data out in Redis: keys, then values.
//! Every other document links here.
//!
//! ## Keys
//!
//! The physical key is `<key_prefix><n>:<ns>:<key>`, where `<ns>` and `<key>` are the
//! namespace and key with `%`, `{` and `}` percent-escaped and `<n>` is the escaped
//! namespace's length in bytes. The length makes the mapping injective whatever
//! characters the parts hold (`("a:b", "c")` and `("a", "b:c")` differ in `<n>`), and
//! escaping the braces keeps callers from forming a Redis Cluster hash tag by accident:
//! each operation touches one key, hence one slot, and keys spread over all slots. A
//! `key_prefix` may hold a hash tag on purpose (`{app}:`) to pin everything to one slot.
//!
//! ## Values
//!
//! | bytes | holds |
//! |---|---|
//! | 0 | the layout mark, `0x01` |
//! | 1..9 | the entry's version, a random non-zero `u64`, big-endian |
//! | 9..17 | the absolute expiry in Unix milliseconds, big-endian; `0` for none |
//! | 17.. | the value's bytes (a counter as its decimal ASCII) |
//!
//! The key also carries the expiry natively (`PX` / `PXAT`), so Redis drops it on time
//! and never returns it late: the header's expiry is only what `get` reports. One string
//! is what makes the common operations plain commands, each one round trip with one
//! reply: `get` is `GET`, an unconditional `set` is `SET … PX`, `IfAbsent` is
//! `SET … NX GET` (the rejected write's reply is the current entry), `IfPresent` is
//! `SET … XX`, `delete` is `DEL`. Only `IfVersion` and `incr` need a script (see
//! [`crate::scripts`]); the version they compare is bytes 0..9, read with `GETRANGE`.
//!
//! Clocks: the expiry in the header of an entry written by `set` is the writer's clock
//! plus the TTL, while Redis counts the TTL itself from the moment it applies the write;
//! a counter created by `incr` takes its expiry from the server's `TIME`, so a
//! rate-limit window is measured by Redis alone.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};
use store_core::{Entry, Result, Timestamp, Version};

use crate::error::unexpected;

/// The first byte of every entry.
pub(crate) const MARK: u8 = 0x01;
/// Bytes before the value.
pub(crate) const HEADER_LEN: usize = 17;

/// The bytes a conditional script compares: the mark and the version.
pub(crate) fn version_tag(version: Version) -> Bytes {
    let mut tag = BytesMut::with_capacity(9);
    tag.put_u8(MARK);
    tag.put_u64(store_core::raw::version_number(version));
    tag.freeze()
}

/// The stored form of `value` at `version`, expiring at `expires_at`.
pub(crate) fn encode(version: Version, expires_at: Option<Timestamp>, value: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(HEADER_LEN + value.len());
    out.put_u8(MARK);
    out.put_u64(store_core::raw::version_number(version));
    out.put_u64(expires_at.map_or(0, Timestamp::as_millis));
    out.put_slice(value);
    out.freeze()
}

/// The entry stored as `raw` (the value shares `raw`'s buffer).
pub(crate) fn decode(raw: Bytes) -> Result<Entry> {
    if raw.len() < HEADER_LEN || raw[0] != MARK {
        return Err(unexpected(
            "a fleetstate entry (wrong layout: written by something else?)",
            raw.get(..raw.len().min(HEADER_LEN)),
        ));
    }
    let word = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&raw[at..at + 8]);
        u64::from_be_bytes(bytes)
    };
    let version = word(1);
    let expiry = word(9);
    Ok(Entry {
        version: store_core::raw::version(version),
        expires_at: (expiry != 0).then(|| Timestamp::from_millis(expiry)),
        value: raw.slice(HEADER_LEN..),
    })
}

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

    /// The Redis key of `key` in this namespace.
    pub(crate) fn physical(&self, key: &str) -> String {
        format!("{}{}", self.head, escape(key))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_with_and_without_expiry() {
        let version = store_core::raw::version(0x0102_0304_0506_0708);
        for expires_at in [None, Some(Timestamp::from_millis(1_700_000_000_123))] {
            let raw = encode(version, expires_at, b"value");
            assert_eq!(raw.len(), HEADER_LEN + 5);
            assert_eq!(&raw[..9], &version_tag(version)[..]);
            let entry = decode(raw).unwrap();
            assert_eq!(entry.version, version);
            assert_eq!(entry.expires_at, expires_at);
            assert_eq!(&entry.value[..], b"value");
        }
    }

    #[test]
    fn foreign_strings_are_an_error_not_a_value() {
        assert!(decode(Bytes::from_static(b"plain")).is_err());
        let mut raw = encode(store_core::raw::version(7), None, b"x").to_vec();
        raw[0] = b'{';
        assert!(decode(Bytes::from(raw)).is_err());
    }

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
}
