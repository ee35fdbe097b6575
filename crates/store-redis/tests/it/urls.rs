use store_core::{Error, SchemeRegistry, SetOptions, Store};
use store_redis::RedisStore;

#[tokio::test]
async fn urls_open_through_the_registry_with_options() {
    let Some(url) = crate::services::redis_url() else {
        return;
    };
    let registry = SchemeRegistry::new();
    store_redis::register(&registry);
    let store = registry
        .open(&format!("{url}?key_prefix=app%3A&command_timeout_ms=300"))
        .await
        .unwrap();
    let ns = format!("urls/{}", fastrand::u64(..));
    store
        .set(&ns, "k", "v".into(), SetOptions::always())
        .await
        .unwrap();
    let plain = RedisStore::connect(&url).await.unwrap();
    let raw: Option<Vec<u8>> = store_redis::fred::interfaces::KeysInterface::get(
        plain.client(),
        format!("app:{}", plain.physical_key(&ns, "k")),
    )
    .await
    .unwrap();
    assert!(
        raw.is_some_and(|raw| raw.ends_with(b"v")),
        "the prefix from the URL was applied"
    );
    store.delete(&ns, "k", Default::default()).await.unwrap();
}

#[tokio::test]
async fn cluster_urls_in_comma_form_connect_as_a_cluster() {
    let Some(url) = crate::services::cluster_url() else {
        return;
    };
    assert!(url.contains(','), "{url}");
    let registry = SchemeRegistry::new();
    store_redis::register(&registry);
    let store = registry.open(&url).await.unwrap();
    assert!(store.capabilities().atomic_incr);
}

#[tokio::test]
async fn unreachable_server_is_unavailable_within_the_connect_timeout() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = std::time::Instant::now();
    let err = RedisStore::builder(format!("redis://127.0.0.1:{port}"))
        .connect_timeout(std::time::Duration::from_millis(300))
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn bad_urls_are_misconfigured_with_the_password_hidden() {
    for url in [
        "redis://user:hunter2@h1:1,h2:2",
        "redis://h:1?command_timeout_ms=soon",
    ] {
        let err = RedisStore::connect(url).await.unwrap_err();
        assert!(matches!(err, Error::Misconfigured(_)), "{url}: {err:?}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
