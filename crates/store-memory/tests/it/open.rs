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
        ("memory://?eviction=random", "must be `reject` or `lru`"),
        ("memory://?colour=blue", "unknown memory:// option `colour`"),
        (
            "redis://localhost",
            "no backend is registered for `redis://` (registered: memory)",
        ),
        (
            "not a url",
            "is not a valid store URL: expected `scheme://...`",
        ),
    ] {
        let err = registry.open(url).await.unwrap_err();
        assert!(matches!(err, Error::Misconfigured(_)), "{url}: {err:?}");
        assert!(err.to_string().contains(needle), "{url}: {err}");
    }
}
