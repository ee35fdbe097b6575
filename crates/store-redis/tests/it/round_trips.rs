//! One Redis command per operation, counted with MONITOR: commands a client sent, not
//! those a script ran (MONITOR marks those as coming from `lua`).

use std::time::Duration;

use futures::StreamExt;
use store_core::{Bytes, DeleteCondition, SetOptions, Store};
use store_redis::RedisStoreBuilder;
use store_redis::fred::monitor::MonitorCommand;
use store_redis::fred::types::config::Config;

fn mentions(command: &MonitorCommand, needle: &str) -> bool {
    command
        .args
        .iter()
        .any(|arg| arg.as_str().is_some_and(|s| s.contains(needle)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_one_command_sent_on_redis_rs() {
    one_command_each("redis-rs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_one_command_sent_on_fred() {
    one_command_each("fred").await;
}

async fn one_command_each(client: &str) {
    let Some(url) = crate::services::redis_url() else {
        return;
    };
    let store = RedisStoreBuilder::from_url(&crate::services::with_client(&url, client))
        .expect("a valid Redis URL")
        .build()
        .await
        .expect("connect");
    assert_eq!(store.client_library(), client);
    let ns = format!("round-trips/{}", fastrand::u64(..));
    let ttl = Some(Duration::from_secs(60));
    let key = store.physical_key(&ns, "k");
    // Scripts are loaded before monitoring so a first NOSCRIPT does not count.
    store
        .set(
            &ns,
            "warm",
            Bytes::new(),
            SetOptions::if_version(store_core::raw::version(1)),
        )
        .await
        .unwrap();
    store.incr(&ns, "warm-c", 1, None).await.unwrap();
    let take = store_core::Advance {
        delta: 1,
        headroom: 1_000_000,
        floor: store_core::Floor::Clock,
        ttl,
    };
    store.advance(&ns, "warm-a", take).await.unwrap();
    store
        .delete(
            &ns,
            "warm",
            DeleteCondition::IfVersion(store_core::raw::version(1)),
        )
        .await
        .unwrap();

    let mut monitor = Box::pin(
        store_redis::fred::monitor::run(Config::from_url(&url).unwrap())
            .await
            .unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;

    let written = store
        .set(&ns, "k", Bytes::from_static(b"v"), SetOptions::always())
        .await
        .unwrap();
    let version = written.version().unwrap();
    store.get(&ns, "k").await.unwrap();
    let rejected = store
        .set(&ns, "k", Bytes::from_static(b"w"), SetOptions::if_absent())
        .await
        .unwrap();
    assert!(matches!(
        rejected,
        store_core::SetOutcome::Rejected { current: Some(_) }
    ));
    store
        .set(
            &ns,
            "k",
            Bytes::from_static(b"x"),
            SetOptions::if_version(version),
        )
        .await
        .unwrap();
    let present = store
        .set(&ns, "k", Bytes::from_static(b"y"), SetOptions::if_present())
        .await
        .unwrap();
    assert!(present.version().is_some());
    store.incr(&ns, "k-counter", 1, ttl).await.unwrap();
    store.advance(&ns, "k-advance", take).await.unwrap();
    store
        .delete(&ns, "k", DeleteCondition::Always)
        .await
        .unwrap();
    store
        .delete(&ns, "k-counter", DeleteCondition::IfVersion(version))
        .await
        .unwrap();
    // A marker: once MONITOR shows it, everything before it has been seen.
    let marker = format!("marker-{}", fastrand::u64(..));
    store.get(&ns, &marker).await.unwrap();

    let mut sent = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let command = tokio::time::timeout_at(deadline, monitor.next())
            .await
            .expect("MONITOR showed the marker in time")
            .expect("monitor stream open");
        if command.client == "lua" || !mentions(&command, &key) && !mentions(&command, &marker) {
            continue;
        }
        if mentions(&command, &marker) {
            break;
        }
        sent.push(command.command.to_uppercase());
    }
    assert_eq!(
        sent,
        vec![
            "SET", "GET", "SET", "EVALSHA", "SET", "EVALSHA", "EVALSHA", "DEL", "EVALSHA"
        ],
        "{client}: set, get, rejected insert (the reply is the current entry: no \
         follow-up read), CAS set, set if present, incr, advance, delete, conditional \
         delete: one command each"
    );
}
