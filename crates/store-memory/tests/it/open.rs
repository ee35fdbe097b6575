use store_core::{Bytes, Error, SchemeRegistry, SetOptions, Store};

#[tokio::test]
async fn memory_url_opens_a_working_store_with_its_options() {
    let registry = SchemeRegistry::new();
    store_memory::register(&registry);
    assert_eq!(registry.schemes(), vec!["memory"]);
    let store = registry.open("memory://?max_entries=1").await.unwrap();
    store
        .set("ns", "a", Bytes::from_static(b"1"), SetOptions::always())
        .await
        .unwrap();
    let err = store
        .set("ns", "b", Bytes::from_static(b"1"), SetOptions::always())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CapacityExceeded(_)), "{err:?}");
}

#[tokio::test]
async fn bad_memory_urls_say_what_is_wrong() {
    let registry = SchemeRegistry::new();
    store_memory::register(&registry);
    for (url, needle) in [
        ("memory://?max_entries=lots", "must be a whole number"),
        (
            "memory://?eviction=random",
            "must be one of `reject`, `lru`, got `random`",
        ),
        (
            "memory://?colour=blue",
            "unknown memory:// option `colour` (valid options: shards, max_value_size, \
             max_entries, max_bytes, eviction)",
        ),
        ("memory://?max_entries=1&max_entries=2", "is given 2 times"),
        ("memory://?eviction=%FF%FE", "not percent-encoded UTF-8"),
        ("memory://somewhere", "names nothing before its options"),
        (
            "redis://localhost",
            "no backend is registered for `redis://` (registered: memory)",
        ),
        (
            "not a url",
            "is not a valid store URL: expected `scheme://...`",
        ),
        ("memory:", "is not a valid store URL"),
        ("memory:x", "is not a valid store URL"),
        (" memory://", "is not a valid store URL"),
    ] {
        let err = registry.open(url).await.unwrap_err();
        assert!(matches!(err, Error::Misconfigured(_)), "{url}: {err:?}");
        assert!(err.to_string().contains(needle), "{url}: {err}");
    }
}

#[tokio::test]
async fn the_builder_reads_the_same_urls_as_the_registry() {
    for url in ["memory:", "memory:x", " memory://", "memory://?colour=blue"] {
        let err = store_memory::MemoryStoreBuilder::from_url(url).unwrap_err();
        assert!(matches!(err, Error::Misconfigured(_)), "{url}: {err:?}");
    }
    let store = store_memory::MemoryStoreBuilder::from_url("memory://?max_value_size=4")
        .unwrap()
        .build();
    let err = store
        .set(
            "ns",
            "k",
            Bytes::from_static(b"12345"),
            SetOptions::always(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ValueTooLarge { size: 5, max: 4 }),
        "{err:?}"
    );
}
