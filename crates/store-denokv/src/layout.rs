//! The physical layout: keys and entries as Deno KV holds them. The one place that
//! describes it.
//!
//! **Keys.** `(namespace, key)` is the Deno KV key `[root, namespace, key]`, three
//! strings (`root` is the store's key prefix, `fleetstate` by default). Deno KV's tuple
//! encoding is injective, and orders strings by their UTF-8 bytes, so one namespace's
//! keys are one contiguous range sorted as the contract's `list` wants them. The
//! longest encoded key (256-byte root, 256-byte namespace, 1024-byte key, 6 bytes of
//! framing) stays under Deno KV's 2048-byte limit.
//!
//! **Entries.** A Deno KV `Uint8Array` (bytes) value: one format byte `0x01`, the
//! contract's version (8 bytes, big-endian; random, never 0), the expiry in
//! milliseconds since the Unix epoch (8 bytes, big-endian; 0 for none), then the value.
//! The expiry is carried in the entry because Deno KV deletes expired keys lazily and
//! still returns them until then: every read compares it with the clock and treats an
//! expired entry as absent. The same instant goes to Deno KV as the mutation's
//! `expireAt`, so the server reclaims the key. Counters are entries whose value is the
//! canonical decimal text of an `i64` (what `get` returns for them).
//!
//! Anything else at a key of the store (a V8-serialized value, a `KvU64`, bytes without
//! the header) was not written by it: reading it is an error that says so, never a
//! panic or a guess.

use bytes::Bytes;
use denokv_proto::{Key, KeyPart, KvValue, Versionstamp};
use store_core::{Entry, Error, Result, Timestamp, Version};

/// The format byte of an entry.
const FORMAT: u8 = 1;
/// Bytes before the value: format, version, expiry.
pub(crate) const HEADER: usize = 17;
/// Deno KV's largest value, the header included (its documented limit, 64 KiB).
pub(crate) const MAX_KV_VALUE: usize = 65_536;
/// Deno KV's longest key, in encoded bytes.
#[cfg(test)]
pub(crate) const MAX_KV_KEY: usize = 2048;
/// Most entries one read range returns.
pub(crate) const MAX_READ_ENTRIES: usize = 1000;
/// Most bytes of keys and values one atomic write may carry.
pub(crate) const MAX_WRITE_BYTES: usize = 819_200;
/// The default root of every key.
pub const DEFAULT_ROOT: &str = "fleetstate";
/// Longest root, in UTF-8 bytes.
pub const MAX_ROOT_LEN: usize = 256;

/// The Deno KV key of `(namespace, key)` under `root`.
pub(crate) fn key(root: &str, namespace: &str, key: &str) -> Result<Vec<u8>> {
    encode(vec![
        KeyPart::String(root.to_owned()),
        KeyPart::String(namespace.to_owned()),
        KeyPart::String(key.to_owned()),
    ])
}

/// The bytes every key of `namespace` starting with `prefix` starts with: the encoded
/// key without the last string's terminator. Keys hold no NUL (the contract refuses
/// control characters), so no escape byte follows it inside a key.
pub(crate) fn prefix_start(root: &str, namespace: &str, prefix: &str) -> Result<Vec<u8>> {
    let mut bytes = key(root, namespace, prefix)?;
    bytes.pop();
    Ok(bytes)
}

/// The exclusive end of the range of keys starting with `start` ([`prefix_start`]):
/// `0xff` never occurs in UTF-8 nor in the encoding of a string without NUL.
pub(crate) fn prefix_end(start: &[u8]) -> Vec<u8> {
    let mut end = start.to_vec();
    end.push(0xff);
    end
}

/// The first key after `key` in byte order: `key` followed by `0x00`.
pub(crate) fn after(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    next.push(0);
    next
}

fn encode(parts: Vec<KeyPart>) -> Result<Vec<u8>> {
    denokv_proto::encode_key(&Key(parts)).map_err(|e| Error::backend("encoding a Deno KV key", e))
}

/// The contract's key of an encoded Deno KV key under `root` and `namespace`, or `None`
/// for a key of another shape.
pub(crate) fn contract_key(bytes: &[u8], root: &str, namespace: &str) -> Option<String> {
    let Key(parts) = denokv_proto::decode_key(bytes).ok()?;
    match <[KeyPart; 3]>::try_from(parts).ok()? {
        [KeyPart::String(r), KeyPart::String(n), KeyPart::String(k)]
            if r == root && n == namespace =>
        {
            Some(k)
        }
        _ => None,
    }
}

/// An entry as stored, and the versionstamp Deno KV gave its last write.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) value: Bytes,
    pub(crate) version: u64,
    /// Milliseconds since the epoch; 0 for none.
    pub(crate) expires_ms: u64,
    pub(crate) stamp: Versionstamp,
}

impl Stored {
    /// Whether it is live at `now_ms`.
    pub(crate) fn live(&self, now_ms: u64) -> bool {
        self.expires_ms == 0 || self.expires_ms > now_ms
    }

    /// The contract's view of it.
    pub(crate) fn entry(&self) -> Entry {
        Entry {
            value: self.value.clone(),
            version: store_core::raw::version(self.version),
            expires_at: (self.expires_ms != 0).then(|| Timestamp::from_millis(self.expires_ms)),
        }
    }
}

/// The value Deno KV stores for an entry.
pub(crate) fn pack(value: &[u8], version: u64, expires_ms: u64) -> KvValue {
    let mut bytes = Vec::with_capacity(HEADER + value.len());
    bytes.push(FORMAT);
    bytes.extend_from_slice(&version.to_be_bytes());
    bytes.extend_from_slice(&expires_ms.to_be_bytes());
    bytes.extend_from_slice(value);
    KvValue::Bytes(bytes)
}

/// Reads a stored entry; an error names what was found instead.
pub(crate) fn unpack(value: KvValue, stamp: Versionstamp) -> Result<Stored> {
    let bytes = match value {
        KvValue::Bytes(bytes) => bytes,
        KvValue::V8(_) => return Err(foreign("a V8-serialized value")),
        KvValue::U64(_) => return Err(foreign("a Deno.KvU64")),
    };
    if bytes.len() < HEADER || bytes[0] != FORMAT {
        return Err(foreign("bytes without fleetstate's entry header"));
    }
    let word = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[at..at + 8]);
        u64::from_be_bytes(b)
    };
    let version = word(1);
    let expires_ms = word(9);
    if version == 0 {
        return Err(foreign("an entry with version 0"));
    }
    let mut bytes = Bytes::from(bytes);
    let value = bytes.split_off(HEADER);
    Ok(Stored {
        value,
        version,
        expires_ms,
        stamp,
    })
}

fn foreign(what: &str) -> Error {
    Error::Backend {
        message: format!(
            "the Deno KV entry at this key holds {what}: it was not written by fleetstate \
             (a store's keys are `[root, namespace, key]`; give it a root of its own)"
        ),
        source: None,
    }
}

/// The version of an entry written now: random, never 0.
pub(crate) fn new_version() -> u64 {
    fastrand::u64(1..)
}

/// The contract's version of number `n`.
pub(crate) fn to_version(n: u64) -> Version {
    store_core::raw::version(n)
}

/// The contract's version number of `v`.
pub(crate) fn version_number(v: Version) -> u64 {
    store_core::raw::version_number(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_injective_and_prefix_ranges_hold_exactly_their_keys() {
        let a = key("r", "ns", "a/b").unwrap();
        let b = key("r", "ns/a", "b").unwrap();
        assert_ne!(a, b);
        let start = prefix_start("r", "ns", "a/").unwrap();
        let end = prefix_end(&start);
        for k in ["a/", "a/b", "a/\u{10ffff}", "a/zzz"] {
            let bytes = key("r", "ns", k).unwrap();
            assert!(bytes >= start && bytes < end, "{k} in range");
            assert_eq!(contract_key(&bytes, "r", "ns").as_deref(), Some(k));
        }
        for k in ["a", "b", "a."] {
            let bytes = key("r", "ns", k).unwrap();
            assert!(!(bytes >= start && bytes < end), "{k} out of range");
        }
        assert_eq!(
            contract_key(&key("r", "other", "a/").unwrap(), "r", "ns"),
            None
        );
    }

    #[test]
    fn longest_key_fits_deno_kv() {
        let long = |n| "\u{e9}".repeat(n / 2);
        let bytes = key(&long(MAX_ROOT_LEN), &long(256), &long(1024)).unwrap();
        assert!(bytes.len() <= MAX_KV_KEY);
    }

    #[test]
    fn entries_round_trip_and_foreign_values_are_errors() {
        let KvValue::Bytes(bytes) = pack(b"hi", 7, 99) else {
            panic!("bytes")
        };
        let stored = unpack(KvValue::Bytes(bytes), [0; 10]).unwrap();
        assert_eq!(
            (&stored.value[..], stored.version, stored.expires_ms),
            (&b"hi"[..], 7, 99)
        );
        assert!(stored.live(98) && !stored.live(99));
        for value in [
            KvValue::U64(3),
            KvValue::V8(vec![1]),
            KvValue::Bytes(vec![1, 2]),
        ] {
            let e = unpack(value, [0; 10]).unwrap_err().to_string();
            assert!(e.contains("not written by fleetstate"), "{e}");
        }
    }
}
