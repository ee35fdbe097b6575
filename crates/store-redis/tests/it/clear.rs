//! `clear` on Redis: `SCAN` on every primary and `UNLINK`, limited to its namespace and
//! prefix, with `key_prefix`es and prefixes that look like globs matched literally.

use store_core::{SetOptions, Store};
use store_redis::{RedisStore, RedisStoreBuilder};

async fn open(url: &str, key_prefix: String) -> RedisStore {
    RedisStoreBuilder::from_url(url)
        .expect("a valid Redis URL")
        .key_prefix(key_prefix)
        .build()
        .await
        .expect("connect")
}

async fn clears_only_its_namespace_and_prefix(url: String) {
    let run = fastrand::u64(..);
    // `*` and `[` in the key prefix must match literally, not as a glob.
    let doomed = open(&url, format!("clear-{run}-*[a]:")).await;
    let neighbour = open(&url, format!("clear-{run}-*[a]x")).await;
    for store in [&doomed, &neighbour] {
        for (ns, key) in [("a", "k*1"), ("a", "k*2"), ("a", "kx"), ("a*", "k*3")] {
            store
                .set(ns, key, "v".into(), SetOptions::always())
                .await
                .unwrap();
        }
        store.incr("a", "k*c", 1, None).await.unwrap();
    }
    // 40 more keys so the walk spans several SCAN pages and UNLINK batches.
    for i in 0..40 {
        doomed
            .set("a", &format!("k*many{i}"), "v".into(), SetOptions::always())
            .await
            .unwrap();
    }
    assert_eq!(doomed.clear("a", "k*").await.unwrap(), 43);
    for key in ["k*1", "k*2", "k*c", "k*many0"] {
        assert!(!doomed.exists("a", key).await.unwrap(), "{key} cleared");
    }
    assert!(
        doomed.exists("a", "kx").await.unwrap(),
        "not under the prefix"
    );
    assert!(
        doomed.exists("a*", "k*3").await.unwrap(),
        "another namespace"
    );
    for (ns, key) in [("a", "k*1"), ("a", "k*c"), ("a*", "k*3")] {
        assert!(neighbour.exists(ns, key).await.unwrap(), "{ns}/{key} kept");
    }
    assert_eq!(doomed.clear("a", "k*").await.unwrap(), 0, "nothing left");
    assert_eq!(doomed.clear("a", "").await.unwrap(), 1);
    assert_eq!(doomed.clear("a*", "").await.unwrap(), 1);
    assert_eq!(neighbour.clear("a", "").await.unwrap(), 4);
    assert_eq!(neighbour.clear("a*", "").await.unwrap(), 1);
}

#[tokio::test]
async fn clear_stays_in_its_namespace_and_prefix_on_a_standalone_server() {
    let Some(url) = crate::services::redis_url() else {
        return;
    };
    clears_only_its_namespace_and_prefix(url).await;
}

#[tokio::test]
async fn clear_stays_in_its_namespace_and_prefix_on_every_cluster_primary() {
    let Some(url) = crate::services::cluster_url() else {
        return;
    };
    clears_only_its_namespace_and_prefix(url).await;
}

#[tokio::test]
async fn purge_for_benchmarks_is_refused_without_a_key_prefix() {
    let Some(url) = crate::services::redis_url() else {
        return;
    };
    let store = RedisStoreBuilder::from_url(&url)
        .unwrap()
        .build()
        .await
        .unwrap();
    let err = store_redis::testing::purge_key_prefix(&store)
        .await
        .unwrap_err();
    assert!(
        matches!(err, store_core::Error::Misconfigured(_)),
        "{err:?}"
    );
}
