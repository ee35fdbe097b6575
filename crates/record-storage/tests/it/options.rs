//! Every option, at instance level and overridden per call.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use record_storage::{Format, Keyring, Options, RecordError, RecordStorage, RetryOn429, Scope};
use store_core::layer::RetryLayer;
use store_core::{
    Capabilities, Cursor, DeleteCondition, Entry, Error, IncrOutcome, ListPage, ManualClock,
    SetOptions, SetOutcome, Store, StoreExt, Timestamp,
};
use store_memory::MemoryStore;

use crate::backends::{self, fresh_context};

fn manual() -> (MemoryStore, ManualClock) {
    let clock = ManualClock::new(Timestamp::from_millis(1_000_000));
    (MemoryStore::builder().clock(clock.clone()).build(), clock)
}

#[tokio::test]
async fn instance_ttl_applies_and_per_call_no_ttl_overrides_it() {
    let (store, clock) = manual();
    let storage = RecordStorage::new(
        store,
        Options::new()
            .context(fresh_context())
            .ttl(Duration::from_millis(1500)),
    );
    storage.set_value("short", &1).await.unwrap();
    storage
        .set_value_with("forever", &2, &Options::new().no_ttl())
        .await
        .unwrap();
    storage
        .set_value_with("longer", &3, &Options::new().ttl(Duration::from_secs(10)))
        .await
        .unwrap();
    let short = storage.get_record::<u32>("short").await.unwrap().unwrap();
    assert_eq!(
        short.expires_at,
        Some(Timestamp::from_millis(1_001_500)),
        "millisecond precision"
    );
    clock.advance(Duration::from_millis(1499));
    assert_eq!(storage.get_value::<u32>("short").await.unwrap(), Some(1));
    clock.advance(Duration::from_millis(1));
    assert_eq!(
        storage.get_value::<u32>("short").await.unwrap(),
        None,
        "expired is never returned"
    );
    assert!(!storage.value_exists("short").await.unwrap());
    assert_eq!(storage.get_value::<u32>("longer").await.unwrap(), Some(3));
    clock.advance(Duration::from_secs(3600));
    assert_eq!(storage.get_value::<u32>("forever").await.unwrap(), Some(2));
    assert_eq!(storage.get_value::<u32>("longer").await.unwrap(), None);
}

#[tokio::test]
async fn ttl_expires_records_on_every_backend() {
    for (name, store) in backends::all().await {
        let storage = backends::storage(&store);
        let ttl = Options::new().ttl(Duration::from_millis(1500));
        storage.set_value_with("k", &"v", &ttl).await.unwrap();
        assert!(storage.value_exists("k").await.unwrap(), "{name}");
        tokio::time::sleep(Duration::from_millis(2000)).await;
        assert_eq!(
            storage.get_value::<String>("k").await.unwrap(),
            None,
            "{name}"
        );
        assert!(!storage.value_exists("k").await.unwrap(), "{name}");
    }
}

#[tokio::test]
async fn deny_update_overwrite_at_instance_level_and_overridden_per_call() {
    let storage = RecordStorage::new(
        MemoryStore::new(),
        Options::new()
            .context(fresh_context())
            .deny_update_overwrite(true),
    );
    storage.set_value("k", &1).await.unwrap();
    let err = storage.set_value("k", &2).await.unwrap_err();
    assert!(
        matches!(err, RecordError::AlreadyExists { ref key } if key == "k"),
        "{err}"
    );
    assert_eq!(
        storage.get_value::<u32>("k").await.unwrap(),
        Some(1),
        "nothing overwritten"
    );
    storage
        .set_value_with("k", &3, &Options::new().deny_update_overwrite(false))
        .await
        .unwrap();
    assert_eq!(storage.get_value::<u32>("k").await.unwrap(), Some(3));
}

#[tokio::test]
async fn overwrite_is_the_default() {
    let storage = backends::storage(&MemoryStore::new().into_shared());
    storage.set_value("k", &1).await.unwrap();
    storage.set_value("k", &2).await.unwrap();
    assert_eq!(storage.get_value::<u32>("k").await.unwrap(), Some(2));
}

#[tokio::test]
async fn secure_at_instance_level_and_overridden_per_call() {
    let store = MemoryStore::new();
    let context = fresh_context();
    let storage = RecordStorage::new(
        store.clone(),
        Options::new()
            .context(context.clone())
            .keyring(Keyring::random(1))
            .secure(true),
    );
    storage.set_value("sealed", &"secret").await.unwrap();
    storage
        .set_value_with("plain", &"public", &Options::new().secure(false))
        .await
        .unwrap();
    let raw = |key: &'static str| {
        let store = store.clone();
        let ns = format!("records/e/{}/env", context.workspace_id());
        async move { store.get(&ns, key).await.unwrap().unwrap().value }
    };
    assert_eq!(&raw("plain").await[..], b"\"public\"");
    assert_eq!(raw("sealed").await[0], 0xF1);
    // A secure read of a plaintext record is refused (no silent downgrade)...
    let err = storage.get_value::<String>("plain").await.unwrap_err();
    assert!(matches!(err, RecordError::NotEncrypted { .. }), "{err}");
    // ...unless the call says it is not secure.
    let plain = storage
        .get_value_with::<String>("plain", &Options::new().secure(false))
        .await
        .unwrap();
    assert_eq!(plain.as_deref(), Some("public"));
    assert_eq!(
        storage
            .get_value::<String>("sealed")
            .await
            .unwrap()
            .as_deref(),
        Some("secret")
    );
}

#[tokio::test]
async fn scope_at_instance_level_and_overridden_per_call() {
    let store = MemoryStore::new().into_shared();
    let context = fresh_context();
    let ws = RecordStorage::new(
        store.clone(),
        Options::new()
            .context(context.clone())
            .scope(Scope::Workspace),
    );
    ws.set_value("k", &"workspace").await.unwrap();
    ws.set_value_with(
        "k",
        &"environment",
        &Options::new().scope(Scope::Environment),
    )
    .await
    .unwrap();
    let env = RecordStorage::new(store, Options::new().context(context));
    assert_eq!(
        env.get_value::<String>("k").await.unwrap().as_deref(),
        Some("environment")
    );
    assert_eq!(
        env.get_value_with::<String>("k", &Options::new().scope(Scope::Workspace))
            .await
            .unwrap()
            .as_deref(),
        Some("workspace")
    );
}

#[tokio::test]
async fn format_at_instance_level_and_overridden_per_call_both_read_back() {
    let store = MemoryStore::new();
    let context = fresh_context();
    let storage = RecordStorage::new(
        store.clone(),
        Options::new()
            .context(context.clone())
            .format(Format::MessagePack),
    );
    storage.set_value("mp", &vec!["a", "b"]).await.unwrap();
    storage
        .set_value_with("json", &vec!["c"], &Options::new().format(Format::Json))
        .await
        .unwrap();
    let ns = format!("records/e/{}/env", context.workspace_id());
    assert_eq!(store.get(&ns, "mp").await.unwrap().unwrap().value[0], 0xC1);
    assert_eq!(
        &store.get(&ns, "json").await.unwrap().unwrap().value[..],
        b"[\"c\"]"
    );
    assert_eq!(
        storage
            .get_value::<Vec<String>>("mp")
            .await
            .unwrap()
            .unwrap(),
        ["a", "b"]
    );
    assert_eq!(
        storage
            .get_value::<Vec<String>>("json")
            .await
            .unwrap()
            .unwrap(),
        ["c"]
    );
}

/// A store that throttles its first `remaining` calls.
#[derive(Debug)]
struct Throttling {
    inner: MemoryStore,
    remaining: AtomicU32,
    calls: AtomicU32,
}

impl Throttling {
    fn new(throttled_calls: u32) -> Self {
        Throttling {
            inner: MemoryStore::new(),
            remaining: AtomicU32::new(throttled_calls),
            calls: AtomicU32::new(0),
        }
    }

    fn gate(&self) -> store_core::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let throttled = self
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if throttled {
            Err(Error::throttled(Some(Duration::from_millis(1))))
        } else {
            Ok(())
        }
    }
}

impl Store for Throttling {
    async fn get(&self, namespace: &str, key: &str) -> store_core::Result<Option<Entry>> {
        self.gate()?;
        self.inner.get(namespace, key).await
    }
    async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        opts: SetOptions,
    ) -> store_core::Result<SetOutcome> {
        self.gate()?;
        self.inner.set(namespace, key, value, opts).await
    }
    async fn delete(
        &self,
        namespace: &str,
        key: &str,
        condition: DeleteCondition,
    ) -> store_core::Result<bool> {
        self.gate()?;
        self.inner.delete(namespace, key, condition).await
    }
    async fn incr(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> store_core::Result<IncrOutcome> {
        self.gate()?;
        self.inner.incr(namespace, key, delta, ttl).await
    }
    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> store_core::Result<ListPage> {
        self.gate()?;
        self.inner.list(namespace, prefix, cursor, limit).await
    }
    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }
}

fn fast_retry() -> RetryLayer {
    RetryLayer::default()
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(5))
}

#[tokio::test]
async fn retry_on_429_is_enabled_by_default() {
    let storage = RecordStorage::new(Throttling::new(3), Options::new().context(fresh_context()))
        .with_retry(fast_retry());
    storage.set_value("k", &1).await.unwrap();
    assert_eq!(
        storage.store().calls.load(Ordering::SeqCst),
        4,
        "three throttled, one landed"
    );
    assert_eq!(storage.get_value::<u32>("k").await.unwrap(), Some(1));
}

#[tokio::test]
async fn disabled_retry_surfaces_the_first_429_with_its_kind() {
    let storage = RecordStorage::new(
        Throttling::new(1),
        Options::new()
            .context(fresh_context())
            .retry_on_429(RetryOn429::DISABLED),
    );
    let err = storage.set_value("k", &1).await.unwrap_err();
    assert!(err.is_throttled(), "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_millis(1)));
    assert!(matches!(err, RecordError::Store(Error::Throttled { .. })));
    assert_eq!(storage.store().calls.load(Ordering::SeqCst), 1, "no retry");
    // Per call, retries can be switched back on.
    let storage = RecordStorage::new(
        Throttling::new(2),
        Options::new()
            .context(fresh_context())
            .retry_on_429(RetryOn429::DISABLED),
    )
    .with_retry(fast_retry());
    let on = Options::new().retry_on_429(RetryOn429 {
        enabled: true,
        verbose: false,
    });
    storage.set_value_with("k", &1, &on).await.unwrap();
    assert_eq!(storage.store().calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn retries_give_up_after_the_schedule_with_the_throttled_error() {
    let storage = RecordStorage::new(
        Throttling::new(100),
        Options::new().context(fresh_context()),
    )
    .with_retry(fast_retry().max_attempts(3));
    let err = storage.get_value::<u32>("k").await.unwrap_err();
    assert!(err.is_throttled(), "{err}");
    assert_eq!(storage.store().calls.load(Ordering::SeqCst), 3);
}

/// Captures what `tracing` writes while `f` runs on this thread.
async fn logged<F: std::future::Future<Output = ()>>(f: F) -> String {
    #[derive(Clone, Default)]
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    f.await;
    String::from_utf8(sink.0.lock().unwrap().clone()).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn verbose_retries_log_a_warning_each_and_quiet_ones_none() {
    for (verbose, expected) in [(true, 2), (false, 0)] {
        let storage = RecordStorage::new(
            Throttling::new(2),
            Options::new()
                .context(fresh_context())
                .retry_on_429(RetryOn429 {
                    enabled: true,
                    verbose,
                }),
        )
        .with_retry(fast_retry());
        let log = logged(async {
            storage.set_value("k", &1).await.unwrap();
        })
        .await;
        let warnings = log.matches("store operation failed, retrying").count();
        assert_eq!(warnings, expected, "verbose = {verbose}: {log}");
    }
}
