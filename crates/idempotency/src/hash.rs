//! SHA-256 of a canonical JSON form: object keys sorted at every level (RFC 8785 style),
//! no whitespace, so equal payloads hash equally whatever their field order.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The lowercase hex SHA-256 of `value`'s canonical JSON.
pub(crate) fn hash(value: &Value) -> String {
    let mut hasher = Sha256::new();
    write_canonical(value, &mut hasher);
    hex::encode(hasher.finalize())
}

/// The canonical JSON text of `value`.
#[cfg(test)]
pub(crate) fn canonical(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    String::from_utf8(out).expect("JSON is UTF-8")
}

trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

fn write_canonical(value: &Value, out: &mut impl Sink) {
    match value {
        Value::Object(map) => {
            // Sorted here, not by relying on serde_json's map order, which the
            // `preserve_order` feature (enabled by any crate in the build) changes.
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.put(b"{");
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.put(b",");
                }
                out.put(
                    serde_json::to_string(key)
                        .expect("strings serialize")
                        .as_bytes(),
                );
                out.put(b":");
                write_canonical(value, out);
            }
            out.put(b"}");
        }
        Value::Array(items) => {
            out.put(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.put(b",");
                }
                write_canonical(item, out);
            }
            out.put(b"]");
        }
        scalar => out.put(
            serde_json::to_string(scalar)
                .expect("scalars serialize")
                .as_bytes(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_order_does_not_change_the_hash() {
        let a = json!({"b": 1, "a": {"y": [1, {"q": 1, "p": 2}], "x": null}});
        let b: Value =
            serde_json::from_str(r#"{"a":{"x":null,"y":[1,{"p":2,"q":1}]},"b":1}"#).unwrap();
        assert_eq!(hash(&a), hash(&b));
        assert_eq!(
            canonical(&a),
            r#"{"a":{"x":null,"y":[1,{"p":2,"q":1}]},"b":1}"#
        );
    }

    #[test]
    fn different_values_hash_differently() {
        assert_ne!(hash(&json!({"a": 1})), hash(&json!({"a": "1"})));
        assert_ne!(hash(&json!([1, 2])), hash(&json!([2, 1])));
        assert_eq!(hash(&json!("x")).len(), 64);
    }
}
