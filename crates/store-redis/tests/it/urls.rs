use store_core::{Error, SchemeRegistry, SetOptions, Store};
use store_redis::RedisStoreBuilder;

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
    let plain = RedisStoreBuilder::from_url(&url)
        .expect("a valid Redis URL")
        .build()
        .await
        .unwrap();
    let key = format!("app:{}", plain.physical_key(&ns, "k"));
    let raw = store_redis::testing::raw_command(&plain, &["GET", &key])
        .await
        .unwrap()
        .into_bytes();
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
    let err = RedisStoreBuilder::from_url(&format!("redis://127.0.0.1:{port}"))
        .expect("a valid Redis URL")
        .connect_timeout(std::time::Duration::from_millis(300))
        .build()
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
    let registry = SchemeRegistry::new();
    store_redis::register(&registry);
    for url in [
        "redis://user:hunter2@h1:1,h2:2",
        "redis://h:1?command_timeout_ms=soon",
        "redis://user:hunter2@h:1?comand_timeout_ms=100",
        "redis://h:1?colour=red",
        "redis://h:1?node=garbage",
        "redis://@@@host",
        "redis://h:1?key_prefix=%FF%FE",
    ] {
        // Refused while reading the URL, before any connection is tried (`h` does not
        // resolve here), by the builder and the registry alike.
        let err = RedisStoreBuilder::from_url(url).map(drop).unwrap_err();
        assert!(matches!(err, Error::Misconfigured(_)), "{url}: {err:?}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = registry.open(url).await.map(drop).unwrap_err();
        assert!(matches!(err, Error::Misconfigured(_)), "{url}: {err:?}");
    }
}
