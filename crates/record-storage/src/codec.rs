//! Value encoding. JSON is stored as is (its first byte is always ASCII), so other
//! languages read it directly; other formats start with a byte JSON never starts with:
//! `0xC1` MessagePack (a byte MessagePack itself never uses), `0xF1` a secure envelope.

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use store_core::raw::json_nesting;

use crate::{RecordError, Result};

/// The deepest nesting of arrays and maps a value may have by default.
///
/// Decoders recurse once per level: on a 256 KiB thread stack a MessagePack value of
/// about 75 levels already overflows a debug build (about 3.4 KiB of stack per level;
/// 0.3 KiB in release), so a record written by anyone who can write to the store could
/// crash every reader. 32 keeps a wide margin there and suits real records.
pub const DEFAULT_MAX_NESTING: u16 = 32;
/// The highest `max_nesting` accepted: serde_json's own recursion limit.
pub const MAX_NESTING_LIMIT: u16 = 128;

/// The first byte of a MessagePack value (a byte no JSON text starts with).
pub(crate) const MESSAGEPACK: u8 = 0xC1;
/// The first byte of a secure envelope.
pub(crate) const SECURE: u8 = 0xF1;

/// How values are serialized. Reads detect the format, so either reads back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// JSON, stored as is: readable from any language (the default).
    #[default]
    Json,
    /// MessagePack with named fields (`rmp-serde`): more compact, still self-describing.
    MessagePack,
}

/// Serializes `value`, refusing nulls.
#[cfg(test)]
pub(crate) fn encode<T: Serialize + ?Sized>(
    key: &str,
    value: &T,
    format: Format,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    encode_into(&mut out, key, value, format, DEFAULT_MAX_NESTING)?;
    Ok(out)
}

/// Appends the serialized `value` to `out`, refusing nulls and values nested deeper
/// than `max_nesting` (which could not be read back).
pub(crate) fn encode_into<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    key: &str,
    value: &T,
    format: Format,
    max_nesting: u16,
) -> Result<()> {
    let encode_err = |source: Box<dyn std::error::Error + Send + Sync>| RecordError::Encode {
        key: key.to_owned(),
        source,
    };
    let start = out.len();
    let is_null = match format {
        Format::Json => {
            serde_json::to_writer(&mut *out, value).map_err(|e| encode_err(e.into()))?;
            out[start..] == *b"null"
        }
        Format::MessagePack => {
            out.push(MESSAGEPACK);
            value
                .serialize(&mut rmp_serde::Serializer::new(&mut *out).with_struct_map())
                .map_err(|e| encode_err(e.into()))?;
            out[start + 1..] == [0xC0]
        }
    };
    if is_null {
        return Err(RecordError::NullValue {
            key: key.to_owned(),
        });
    }
    check_nesting(key, &out[start..], max_nesting)
}

/// Refuses `bytes` (a plain record) nested deeper than `max`, without recursing more
/// than `max` levels: JSON by a scan, MessagePack by a depth-bounded skip.
fn check_nesting(key: &str, bytes: &[u8], max: u16) -> Result<()> {
    let too_deep = || RecordError::NestedTooDeep {
        key: key.to_owned(),
        max,
    };
    match bytes.split_first() {
        Some((&MESSAGEPACK, body)) => match IgnoredAny::deserialize(&mut msgpack(body, max)) {
            Err(rmp_serde::decode::Error::DepthLimitExceeded) => Err(too_deep()),
            _ => Ok(()),
        },
        Some(_) if json_nesting(bytes) > usize::from(max) => Err(too_deep()),
        _ => Ok(()),
    }
}

/// A MessagePack deserializer that refuses more than `max` nested levels.
fn msgpack(
    body: &[u8],
    max: u16,
) -> rmp_serde::Deserializer<rmp_serde::decode::ReadRefReader<'_, [u8]>> {
    let mut de = rmp_serde::Deserializer::from_read_ref(body);
    // rmp counts down from the limit and fails when it reaches zero.
    de.set_max_depth(usize::from(max) + 1);
    de
}

/// Deserializes a plain (non-secure) record, refusing one nested deeper than
/// `max_nesting` before any recursive decoding.
pub(crate) fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8], max_nesting: u16) -> Result<T> {
    let decode_err = |source: Box<dyn std::error::Error + Send + Sync>| RecordError::Decode {
        key: key.to_owned(),
        source,
    };
    check_nesting(key, bytes, max_nesting)?;
    match bytes.first() {
        None => Err(decode_err("the stored value is empty".into())),
        Some(&MESSAGEPACK) => {
            T::deserialize(&mut msgpack(&bytes[1..], max_nesting)).map_err(|e| decode_err(e.into()))
        }
        Some(&SECURE) => Err(decode_err("nested secure envelope".into())),
        Some(_) => serde_json::from_slice(bytes).map_err(|e| decode_err(e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Session {
        user: String,
        visits: u32,
        tags: Vec<String>,
    }

    fn session() -> Session {
        Session {
            user: "ana".into(),
            visits: 3,
            tags: vec!["a".into()],
        }
    }

    #[test]
    fn both_formats_round_trip_and_are_told_apart() {
        for format in [Format::Json, Format::MessagePack] {
            let bytes = encode("k", &session(), format).unwrap();
            assert_eq!(
                decode::<Session>("k", &bytes, DEFAULT_MAX_NESTING).unwrap(),
                session(),
                "{format:?}"
            );
        }
        assert_eq!(
            encode("k", &session(), Format::Json).unwrap(),
            br#"{"user":"ana","visits":3,"tags":["a"]}"#
        );
    }

    #[test]
    fn messagepack_keeps_field_names() {
        let bytes = encode("k", &session(), Format::MessagePack).unwrap();
        assert!(bytes.windows(6).any(|w| w == b"visits"));
    }

    #[test]
    fn nulls_are_refused_in_every_format() {
        for format in [Format::Json, Format::MessagePack] {
            for result in [
                encode("k", &(), format),
                encode("k", &None::<u8>, format),
                encode("k", &serde_json::Value::Null, format),
            ] {
                assert!(
                    matches!(result, Err(RecordError::NullValue { .. })),
                    "{format:?}"
                );
            }
            assert!(encode("k", &Some(0u8), format).is_ok());
            assert!(encode("k", "", format).is_ok());
        }
    }

    #[test]
    fn wrong_type_is_a_decode_error() {
        let bytes = encode("k", &"text", Format::Json).unwrap();
        let err = decode::<Session>("k", &bytes, DEFAULT_MAX_NESTING).unwrap_err();
        assert!(matches!(err, RecordError::Decode { .. }), "{err}");
        assert!(matches!(
            decode::<u8>("k", b"", DEFAULT_MAX_NESTING),
            Err(RecordError::Decode { .. })
        ));
    }
}
