//! How an entry is laid out in Redis: one string per entry, a fixed header then the
//! value.
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
    tag.put_u64(version.as_raw());
    tag.freeze()
}

/// The stored form of `value` at `version`, expiring at `expires_at`.
pub(crate) fn encode(version: Version, expires_at: Option<Timestamp>, value: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(HEADER_LEN + value.len());
    out.put_u8(MARK);
    out.put_u64(version.as_raw());
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
        version: Version::from_raw(version),
        expires_at: (expiry != 0).then(|| Timestamp::from_millis(expiry)),
        value: raw.slice(HEADER_LEN..),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_with_and_without_expiry() {
        let version = Version::from_raw(0x0102_0304_0506_0708);
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
        let mut raw = encode(Version::from_raw(7), None, b"x").to_vec();
        raw[0] = b'{';
        assert!(decode(Bytes::from(raw)).is_err());
    }
}
