//! The contract mapped onto Workers KV: validate, then one KV call (two for `delete`,
//! which reports whether the key was there).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use store_core::raw::{ttl_millis, validate};
use store_core::{
    Advance, Advanced, Capabilities, Condition, Cursor, DeleteCondition, Entry, Error, IncrOutcome,
    ListPage, Result, SetOptions, SetOutcome, Store, Timestamp,
};
use worker::kv::KvStore;
use worker::send::{SendFuture, SendWrapper};

use crate::error::from_kv;
use crate::layout::{self, MAX_KEY_LEN, MAX_NAMESPACE_LEN, MAX_VALUE_SIZE, MIN_TTL_SECS, Meta};

/// Largest page one `list` call returns (KV's own page limit).
pub const MAX_LIST_LIMIT: usize = 1000;

/// What to use instead, in every refusal.
pub(crate) const INSTEAD: &str = "Workers KV is last-write-wins and eventually consistent: it \
     has no atomic increment and no compare-and-set. Back a rate limit, a lock or \
     idempotency with a Durable Object, or with a store that has them (Redis, Deno KV, \
     PostgreSQL, DynamoDB)";

/// The fleetstate store on a Cloudflare Workers KV namespace, for Rust Workers (the
/// `worker` crate's KV binding).
///
/// What it declares (and the conformance suite holds it to): no atomic `incr`, no
/// compare-and-set, no strongly consistent reads (KV caches reads at the edge for up to
/// 60 s; another location may see a write that late), sorted `list`, and a TTL floor
/// ([`Capabilities::min_ttl`]) of 60 s: a shorter TTL is raised to 60 s and a
/// fractional one rounded up to whole seconds, and the reported expiry is the raised
/// one. `incr`, `advance` and every conditional `set` or `delete` are refused with
/// `Unsupported`, saying what to use instead; ratelimit and idempotency refuse such a
/// store when they are built. Plain `get`, `set`, `delete`, `list` and `clear` work
/// (record-storage's records without `deny_update_overwrite`).
///
/// Expiry is judged by the Worker's clock (`Date.now()`) against the expiry kept in each
/// key's metadata, so an entry is absent from the moment it expires even while KV still
/// returns it. Round trips: one KV call per operation; `delete` two (a read, to report
/// whether the key was there); `clear` one list call per 1000 keys and a delete per key.
#[derive(Clone)]
pub struct CloudflareKvStore {
    kv: Arc<SendWrapper<KvStore>>,
    prefix: Arc<str>,
    capabilities: Capabilities,
}

impl std::fmt::Debug for CloudflareKvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudflareKvStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The Worker's clock, ms since the epoch.
pub(crate) fn now_ms() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        worker::Date::now().as_millis()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        Timestamp::now().as_millis()
    }
}

impl CloudflareKvStore {
    pub(crate) fn new(kv: KvStore, prefix: String) -> Self {
        let mut capabilities = Capabilities::default();
        capabilities.sorted_list = true;
        capabilities.max_key_len = MAX_KEY_LEN;
        capabilities.max_namespace_len = MAX_NAMESPACE_LEN;
        capabilities.max_value_size = MAX_VALUE_SIZE;
        capabilities.max_list_limit = MAX_LIST_LIMIT;
        capabilities.ttl_resolution = Duration::from_secs(1);
        capabilities.min_ttl = Duration::from_secs(MIN_TTL_SECS);
        CloudflareKvStore {
            kv: Arc::new(SendWrapper::new(kv)),
            prefix: prefix.into(),
            capabilities,
        }
    }

    /// What every key this store writes starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn kv(&self) -> &KvStore {
        &self.kv.0
    }

    fn refuse(operation: &'static str) -> Error {
        Error::unsupported(operation, INSTEAD)
    }

    /// The live entry at `key`, read from KV.
    async fn read(&self, key: &str) -> Result<Option<Entry>> {
        let (value, meta) = self
            .kv()
            .get(key)
            .bytes_with_metadata::<Meta>()
            .await
            .map_err(|e| from_kv("get", &e))?;
        let Some(value) = value else {
            return Ok(None);
        };
        let meta = meta.ok_or_else(|| layout::foreign("no fleetstate metadata"))?;
        if !meta.live(now_ms()) {
            return Ok(None);
        }
        Ok(Some(Entry {
            value: Bytes::from(value),
            version: store_core::raw::version(meta.version()?),
            expires_at: (meta.e != 0).then(|| Timestamp::from_millis(meta.e)),
        }))
    }
}

impl Store for CloudflareKvStore {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Entry>> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        let key = layout::key(&self.prefix, namespace, key);
        SendFuture::new(self.read(&key)).await
    }

    async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        opts: SetOptions,
    ) -> Result<SetOutcome> {
        // Everything but the condition is checked first, as on any store.
        let unconditional = opts.with_condition(Condition::Always);
        validate::set(&self.capabilities, namespace, key, &value, &unconditional)?;
        if opts.condition != Condition::Always {
            return Err(Self::refuse("conditional set"));
        }
        let key = layout::key(&self.prefix, namespace, key);
        let version = fastrand::u64(1..);
        let (secs, expires) = match opts.ttl {
            Some(ttl) => {
                let secs = layout::kv_ttl_secs(ttl_millis(ttl));
                (Some(secs), now_ms().saturating_add(secs * 1000))
            }
            None => (None, 0),
        };
        let meta = Meta {
            v: version.to_string(),
            e: expires,
        };
        SendFuture::new(async {
            let mut put = self
                .kv()
                .put_bytes(&key, &value)
                .and_then(|p| p.metadata(&meta))
                .map_err(|e| from_kv("set", &e))?;
            if let Some(secs) = secs {
                put = put.expiration_ttl(secs);
            }
            put.execute().await.map_err(|e| from_kv("set", &e))
        })
        .await?;
        Ok(SetOutcome::Written(store_core::raw::version(version)))
    }

    /// A read then a delete: not atomic (KV has no conditional delete); under a racing
    /// writer the answer is as of the read.
    async fn delete(&self, namespace: &str, key: &str, condition: DeleteCondition) -> Result<bool> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        if condition != DeleteCondition::Always {
            return Err(Self::refuse("conditional delete"));
        }
        let key = layout::key(&self.prefix, namespace, key);
        SendFuture::new(async {
            let existed = self.read(&key).await?.is_some();
            self.kv()
                .delete(&key)
                .await
                .map_err(|e| from_kv("delete", &e))?;
            Ok(existed)
        })
        .await
    }

    async fn incr(
        &self,
        namespace: &str,
        key: &str,
        _delta: i64,
        _ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        Err(Self::refuse("incr"))
    }

    async fn advance(&self, namespace: &str, key: &str, _advance: Advance) -> Result<Advanced> {
        validate::entry_key(&self.capabilities, namespace, key)?;
        Err(Self::refuse("advance"))
    }

    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        SendFuture::new(self.list_page(namespace, prefix, cursor, limit)).await
    }

    async fn clear(&self, namespace: &str, prefix: &str) -> Result<u64> {
        SendFuture::new(self.clear_prefix(namespace, prefix)).await
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }
}
