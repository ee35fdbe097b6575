//! Operators' view of the stored records: look one up by payload or record key, and
//! forget it (what `fleetstate idempotency inspect | forget` runs).

use serde::Serialize;
use serde_json::Value;
use store_core::{DeleteCondition, Store, Timestamp, Version};

use crate::record::{Record, Status};
use crate::{Idempotency, IdempotencyError};

/// One stored idempotency record, as [`Idempotency::inspect`] reads it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RecordInfo {
    /// The record key: the lowercase hex SHA-256 of the idempotency key.
    pub key: String,
    /// In progress or completed.
    pub status: Status,
    /// When the record expires (`Config::expires_after` after it was written), if it does.
    pub expires_at: Option<Timestamp>,
    /// While in progress: when the run is presumed dead and may be taken over.
    pub in_progress_until: Option<Timestamp>,
    /// In progress past its window (a crashed run): the next duplicate takes it over.
    pub orphaned: bool,
    /// The payload's validation hash, when validation is configured.
    pub validation: Option<String>,
    /// The handler's stored result (completed records).
    pub data: Option<Value>,
    /// The store version of the record.
    pub version: Version,
}

impl<S: Store> Idempotency<S> {
    /// The record key `payload` is stored under (the hex SHA-256 of its idempotency
    /// key), or `None` when the key selection finds nothing. Sends nothing.
    ///
    /// Errors as a call would: [`IdempotencyError::NoIdempotencyKey`] when a key is
    /// required, `Serialization` or `Configuration` from the selectors.
    pub fn record_key<P: Serialize + 'static>(
        &self,
        payload: &P,
    ) -> Result<Option<String>, IdempotencyError> {
        Ok(self.keys(payload)?.map(|keys| keys.key))
    }

    /// The record a call with `payload` would find, or `None` (no record, or no key):
    /// one `get`. Reading changes nothing, a local cache included.
    pub async fn inspect<P: Serialize + 'static>(
        &self,
        payload: &P,
    ) -> Result<Option<RecordInfo>, IdempotencyError> {
        match self.record_key(payload)? {
            Some(key) => self.inspect_key(&key).await,
            None => Ok(None),
        }
    }

    /// The record stored under the record key `key` (as [`Self::record_key`] returns
    /// and errors name), or `None`: one `get`. A record this crate did not write, or
    /// one nested deeper than `Config::max_nesting`, is a `Serialization` error.
    pub async fn inspect_key(&self, key: &str) -> Result<Option<RecordInfo>, IdempotencyError> {
        let Some(entry) = self.store().get(self.namespace(), key).await? else {
            return Ok(None);
        };
        let record = Record::from_bytes(&entry.value, self.config().max_nesting)?;
        let now = self.config().clock.now();
        Ok(Some(RecordInfo {
            key: key.to_owned(),
            status: record.status,
            expires_at: entry.expires_at,
            orphaned: record.is_orphaned(now),
            in_progress_until: record.in_progress_expiration.map(Timestamp::from_millis),
            validation: record.validation,
            data: record.data,
            version: entry.version,
        }))
    }

    /// Deletes the record a call with `payload` would find, so the next call runs the
    /// handler again; `true` if there was one. One `delete` (none without a key).
    /// This instance's local cache forgets it too; other instances' caches keep
    /// replaying it until their entries expire.
    pub async fn forget<P: Serialize + 'static>(
        &self,
        payload: &P,
    ) -> Result<bool, IdempotencyError> {
        match self.record_key(payload)? {
            Some(key) => self.forget_key(&key).await,
            None => Ok(false),
        }
    }

    /// [`Self::forget`] by record key.
    pub async fn forget_key(&self, key: &str) -> Result<bool, IdempotencyError> {
        self.forget_cached(key);
        Ok(self
            .store()
            .delete(self.namespace(), key, DeleteCondition::Always)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;
    use store_memory::MemoryStore;

    use crate::{Config, Idempotency, IdempotencyError, Status};

    #[tokio::test]
    async fn inspect_shows_a_completed_record_and_forget_lets_the_handler_run_again() {
        let idem = Idempotency::new(
            MemoryStore::new(),
            Config::new("pay")
                .event_key_jmespath("id")
                .unwrap()
                .validate_whole_payload()
                .expires_after(Duration::from_secs(60)),
        )
        .unwrap();
        let payload = json!({"id": "p-1", "cents": 5});
        assert_eq!(idem.inspect(&payload).await.unwrap(), None);
        let run = || async { Ok::<_, IdempotencyError>(json!({"receipt": 1})) };
        idem.idempotent(&payload, run).await.unwrap();

        let info = idem.inspect(&payload).await.unwrap().expect("a record");
        assert_eq!(info.status, Status::Completed);
        assert_eq!(info.data, Some(json!({"receipt": 1})));
        assert!(info.validation.is_some());
        assert!(!info.orphaned);
        let left = info
            .expires_at
            .unwrap()
            .saturating_duration_since(store_core::Timestamp::now());
        assert!(left > Duration::from_secs(50), "{left:?}");
        let key = idem.record_key(&payload).unwrap().unwrap();
        assert_eq!(key.len(), 64);
        assert_eq!(idem.inspect_key(&key).await.unwrap(), Some(info));

        assert!(idem.forget(&payload).await.unwrap());
        assert!(!idem.forget_key(&key).await.unwrap());
        assert_eq!(idem.inspect(&payload).await.unwrap(), None);
    }
}
