//! `purge_key_prefix` deletes everything under its own prefix and nothing else.

use store_core::{Error, SetOptions, Store};
use store_redis::RedisStore;

async fn purges_only_its_prefix(url: String) {
    let run = fastrand::u64(..);
    let open = |prefix: String| {
        let url = url.clone();
        async move {
            RedisStore::builder(url)
                .key_prefix(prefix)
                .connect()
                .await
                .expect("connect")
        }
    };
    // `*` and `[` in the prefix must match literally, not as a glob.
    let doomed = open(format!("purge-{run}-*[a]:")).await;
    let kept = open(format!("purge-{run}-x:")).await;
    let neighbour = open(format!("purge-{run}-*[a]x")).await;
    for store in [&doomed, &kept, &neighbour] {
        for (ns, key) in [("a", "k1"), ("a", "k2"), ("b/c", "k3")] {
            store
                .set(ns, key, "v".into(), SetOptions::always())
                .await
                .unwrap();
        }
        store.incr("counters", "c", 1, None).await.unwrap();
    }
    assert_eq!(doomed.purge_key_prefix().await.unwrap(), 4);
    for (ns, key) in [("a", "k1"), ("a", "k2"), ("b/c", "k3"), ("counters", "c")] {
        assert!(
            doomed.get(ns, key).await.unwrap().is_none(),
            "{ns}/{key} purged"
        );
        assert!(
            kept.get(ns, key).await.unwrap().is_some(),
            "{ns}/{key} kept"
        );
        assert!(
            neighbour.get(ns, key).await.unwrap().is_some(),
            "{ns}/{key} kept"
        );
    }
    assert_eq!(doomed.purge_key_prefix().await.unwrap(), 0, "nothing left");
    assert_eq!(kept.purge_key_prefix().await.unwrap(), 4);
    assert_eq!(neighbour.purge_key_prefix().await.unwrap(), 4);
}

#[tokio::test]
async fn purge_deletes_its_prefix_only_on_a_standalone_server() {
    let Some(url) = crate::services::redis_url() else {
        return;
    };
    purges_only_its_prefix(url).await;
}

#[tokio::test]
async fn purge_deletes_its_prefix_only_on_every_cluster_primary() {
    let Some(url) = crate::services::cluster_url() else {
        return;
    };
    purges_only_its_prefix(url).await;
}

#[tokio::test]
async fn purge_without_a_prefix_is_refused() {
    let Some(url) = crate::services::redis_url() else {
        return;
    };
    let store = RedisStore::connect(&url).await.unwrap();
    assert!(matches!(
        store.purge_key_prefix().await,
        Err(Error::Misconfigured(_))
    ));
}
