//! Scope isolation, including ids that contain separators, and invocation records.

use std::time::Duration;

use record_storage::{Context, INVOCATION_TTL, Options, RecordError, RecordStorage, Scope};
use store_core::{SharedStore, Store, Timestamp};

use crate::backends;

fn at(store: &SharedStore, context: Context) -> RecordStorage {
    RecordStorage::new(store.clone(), Options::new().context(context))
}

#[tokio::test]
async fn environments_are_isolated_and_the_workspace_is_shared() {
    for (name, store) in backends::all().await {
        let ws = backends::fresh_context().workspace_id().to_owned();
        let prod = at(&store, Context::new(&ws, "prod"));
        let dev = at(&store, Context::new(&ws, "dev"));
        let other_ws = at(&store, Context::new(format!("{ws}-other"), "prod"));
        prod.set_value("k", &"prod").await.unwrap();
        assert_eq!(dev.get_value::<String>("k").await.unwrap(), None, "{name}");
        assert!(!dev.value_exists("k").await.unwrap(), "{name}");
        let shared = Options::new().scope(Scope::Workspace);
        prod.set_value_with("w", &"everyone", &shared)
            .await
            .unwrap();
        assert_eq!(
            dev.get_value_with::<String>("w", &shared)
                .await
                .unwrap()
                .as_deref(),
            Some("everyone"),
            "{name}"
        );
        assert_eq!(
            other_ws
                .get_value_with::<String>("w", &shared)
                .await
                .unwrap(),
            None,
            "{name}"
        );
        // Deleting from another environment does not touch the record.
        assert!(!dev.delete_value("k").await.unwrap(), "{name}");
        assert_eq!(
            prod.get_value::<String>("k").await.unwrap().as_deref(),
            Some("prod")
        );
    }
}

#[tokio::test]
async fn ids_containing_separators_cannot_reach_other_scopes() {
    for (name, store) in backends::all().await {
        let base = backends::fresh_context().workspace_id().to_owned();
        // Pairs that a naive `ws/env` concatenation would map to the same namespace.
        let pairs = [
            (format!("{base}/a"), "b".to_owned()),
            (base.clone(), "a/b".to_owned()),
            (format!("{base}%2Fa"), "b".to_owned()),
            (format!("{base}:a"), "b".to_owned()),
            (format!("{base}#a"), "b".to_owned()),
        ];
        for (i, (ws, env)) in pairs.iter().enumerate() {
            at(&store, Context::new(ws, env))
                .set_value("k", &i)
                .await
                .unwrap();
        }
        for (i, (ws, env)) in pairs.iter().enumerate() {
            let got: Option<usize> = at(&store, Context::new(ws, env))
                .get_value("k")
                .await
                .unwrap();
            assert_eq!(got, Some(i), "{name}: {ws:?} / {env:?}");
            let keys = at(&store, Context::new(ws, env))
                .get_all_keys(Default::default())
                .await
                .unwrap()
                .keys;
            assert_eq!(keys, ["k"], "{name}: one record per scope");
        }
    }
}

#[tokio::test]
async fn invocation_records_are_private_capped_and_deleted_at_the_end() {
    for (name, store) in backends::all().await {
        let storage = at(&store, backends::fresh_context());
        let scratch = Options::new().scope(Scope::Invocation);
        let first = storage.invocation("inv-1");
        let second = storage.invocation("inv/2");
        for i in 0..5 {
            first
                .set_value_with(&format!("k{i}"), &i, &scratch)
                .await
                .unwrap();
        }
        first
            .set_value_with(
                "long",
                &1,
                &scratch.clone().ttl(Duration::from_secs(86_400)),
            )
            .await
            .unwrap();
        let record = first
            .get_record_with::<u32>("long", &scratch)
            .await
            .unwrap()
            .unwrap();
        let ceiling = Timestamp::now().add_ttl(INVOCATION_TTL);
        let expires = record.expires_at.expect("invocation records always expire");
        assert!(
            expires <= ceiling,
            "{name}: {expires:?} beyond the 15-minute ceiling"
        );
        assert_eq!(
            second.get_value_with::<u32>("k0", &scratch).await.unwrap(),
            None,
            "{name}"
        );
        assert_eq!(
            storage
                .get_value_with::<u32>("k0", &scratch)
                .await
                .unwrap_err()
                .to_string(),
            RecordError::NoInvocation.to_string(),
        );
        // Environment records written through the invocation outlive it.
        first.set_value("kept", &true).await.unwrap();
        assert_eq!(first.end().await.unwrap(), 6, "{name}");
        assert_eq!(
            storage.get_value::<bool>("kept").await.unwrap(),
            Some(true),
            "{name}"
        );
        let again = storage.invocation("inv-1");
        assert_eq!(
            again.get_value_with::<u32>("k0", &scratch).await.unwrap(),
            None,
            "{name}"
        );
        drop(again);
        drop(second);
    }
}

#[tokio::test]
async fn dropping_an_invocation_deletes_its_records() {
    let store = store_memory::MemoryStore::new();
    let storage = RecordStorage::new(
        store.clone(),
        Options::new().context(backends::fresh_context()),
    );
    let scratch = Options::new().scope(Scope::Invocation);
    let ns = {
        let invocation = storage.invocation("dropped");
        invocation.set_value_with("k", &1, &scratch).await.unwrap();
        let ctx = invocation.context();
        format!(
            "records/i/{}/{}/dropped",
            ctx.workspace_id(),
            ctx.environment_id()
        )
    };
    for _ in 0..100 {
        if store.get(&ns, "k").await.unwrap().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the record of a dropped invocation was not deleted");
}

#[tokio::test]
async fn clear_scope_removes_its_scope_under_a_prefix_and_nothing_else() {
    for (name, store) in backends::all().await {
        let context = backends::fresh_context();
        let env = at(&store, context.clone());
        let workspace = Options::new().scope(Scope::Workspace);
        for key in ["cart:1", "cart:2", "cart:*", "user"] {
            env.set_value(key, &1).await.unwrap();
            env.set_value_with(key, &2, &workspace).await.unwrap();
        }
        assert_eq!(
            env.clear_scope_with("cart:", &Options::new())
                .await
                .unwrap(),
            3,
            "{name}: the environment's cart records"
        );
        assert!(
            env.value_exists("user").await.unwrap(),
            "{name}: other keys stay"
        );
        for key in ["cart:1", "cart:*", "user"] {
            assert!(
                env.value_exists_with(key, &workspace).await.unwrap(),
                "{name}: the workspace scope is untouched ({key})"
            );
        }
        assert_eq!(env.clear_scope().await.unwrap(), 1, "{name}: the rest");
        assert_eq!(
            env.clear_scope_with("", &workspace).await.unwrap(),
            4,
            "{name}: the workspace scope"
        );
    }
}
