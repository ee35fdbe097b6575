//! The stored record: one JSON document per idempotency key.
//!
//! `{"status":"INPROGRESS","in_progress_expiration":1700000000000,"validation":"<hex>"}`
//! while the handler runs, then
//! `{"status":"COMPLETED","validation":"<hex>","data":<result>}`. The record's expiry
//! (`expires_after`) is the store entry's TTL.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use store_core::raw::json_nesting;
use store_core::{Bytes, Timestamp};

use crate::IdempotencyError;

/// Where an execution stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// The handler is running (or crashed: see the in-progress expiry).
    #[serde(rename = "INPROGRESS")]
    InProgress,
    /// The handler succeeded; the record holds its result.
    Completed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) status: Status,
    /// Milliseconds since the epoch after which an INPROGRESS record is orphaned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) in_progress_expiration: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) validation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) data: Option<Value>,
}

impl Record {
    pub(crate) fn in_progress(until: Timestamp, validation: Option<String>) -> Self {
        Record {
            status: Status::InProgress,
            in_progress_expiration: Some(until.as_millis()),
            validation,
            data: None,
        }
    }

    pub(crate) fn completed(validation: Option<String>, data: Value) -> Self {
        Record {
            status: Status::Completed,
            in_progress_expiration: None,
            validation,
            data: Some(data),
        }
    }

    pub(crate) fn to_bytes(&self) -> Result<Bytes, IdempotencyError> {
        serde_json::to_vec(self)
            .map(Bytes::from)
            .map_err(IdempotencyError::serialization)
    }

    /// Whether the stored form `bytes` nests its data deeper than `max` (the record
    /// object is one level, its data starts at the second).
    pub(crate) fn nests_deeper_than(bytes: &[u8], max: u16) -> bool {
        json_nesting(bytes) > usize::from(max) + 1
    }

    /// The record stored as `bytes`, refused before decoding when its data nests deeper
    /// than `max_nesting`.
    pub(crate) fn from_bytes(bytes: &[u8], max_nesting: u16) -> Result<Self, IdempotencyError> {
        if Self::nests_deeper_than(bytes, max_nesting) {
            return Err(IdempotencyError::serialization(format!(
                "stored idempotency record nests more than {max_nesting} levels deep \
                 (Config::max_nesting): refused unread"
            )));
        }
        serde_json::from_slice(bytes).map_err(|e| {
            IdempotencyError::serialization(format!(
                "stored idempotency record is not readable: {e}"
            ))
        })
    }

    /// An INPROGRESS record whose window has passed: its run is presumed dead.
    pub(crate) fn is_orphaned(&self, now: Timestamp) -> bool {
        self.status == Status::InProgress
            && self
                .in_progress_expiration
                .is_some_and(|until| until <= now.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_round_trip_in_the_documented_shape() {
        let r = Record::in_progress(Timestamp::from_millis(5), Some("ab".into()));
        assert_eq!(
            &r.to_bytes().unwrap()[..],
            br#"{"status":"INPROGRESS","in_progress_expiration":5,"validation":"ab"}"#
        );
        let c = Record::completed(None, serde_json::json!({"ok": true}));
        assert_eq!(
            &c.to_bytes().unwrap()[..],
            br#"{"status":"COMPLETED","data":{"ok":true}}"#
        );
        assert_eq!(Record::from_bytes(&c.to_bytes().unwrap(), 32).unwrap(), c);
        assert!(Record::from_bytes(b"garbage", 32).is_err());
    }

    #[test]
    fn orphaned_only_when_in_progress_and_past_its_window() {
        let r = Record::in_progress(Timestamp::from_millis(100), None);
        assert!(!r.is_orphaned(Timestamp::from_millis(99)));
        assert!(r.is_orphaned(Timestamp::from_millis(100)));
        assert!(!Record::completed(None, Value::Null).is_orphaned(Timestamp::from_millis(1000)));
    }

    #[test]
    fn data_nested_up_to_the_limit_reads_and_deeper_is_refused_unread() {
        let nested = |depth: usize| (0..depth).fold(json!(1), |inner, _| json!([inner]));
        let at = Record::completed(None, nested(32)).to_bytes().unwrap();
        assert!(Record::from_bytes(&at, 32).is_ok());
        let past = Record::completed(None, nested(33)).to_bytes().unwrap();
        assert!(Record::nests_deeper_than(&past, 32));
        let err = Record::from_bytes(&past, 32).unwrap_err();
        assert!(err.to_string().contains("more than 32 levels"), "{err}");
        let hostile = [&b"{\"data\":"[..], &[b'['; 100_000]].concat();
        assert!(Record::from_bytes(&hostile, 32).is_err());
    }
}
