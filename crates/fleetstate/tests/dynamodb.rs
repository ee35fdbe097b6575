//! `dynamodb create-table | schema` and `iam` against DynamoDB Local: the policy the
//! command prints allows every action the features send, and nothing they do not.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;
use store_dynamodb::DynamoStoreBuilder;
use store_dynamodb::testing::RequestLog;
use support::{ok, ok_json};

fn table_url(endpoint: &str, layout: &str) -> String {
    format!(
        "dynamodb://fleetstate-iam-{}?endpoint={endpoint}&region=us-east-1&layout={layout}",
        fastrand::u64(..)
    )
}

/// The actions of `fleetstate iam` for one feature, without the `dynamodb:` prefix.
fn policy_actions(url: &str, feature: &str) -> BTreeSet<String> {
    let policy = ok_json(&[
        "iam",
        "--backend",
        "dynamodb",
        "--features",
        feature,
        "--url",
        url,
    ]);
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{policy}");
    assert!(
        statements[0]["Resource"]
            .as_str()
            .unwrap()
            .ends_with(&format!("table/{}", url.split(['/', '?']).nth(2).unwrap())),
        "{policy}"
    );
    statements[0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            a.as_str()
                .unwrap()
                .strip_prefix("dynamodb:")
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Runs every operation each feature has on a store logging its requests; the
/// distinct actions sent per feature.
async fn sent_actions(url: &str) -> Vec<(&'static str, BTreeSet<String>)> {
    let mut out = Vec::new();
    let open = |log: RequestLog| async move {
        DynamoStoreBuilder::from_url(url)
            .unwrap()
            .interceptor(log)
            .build()
            .await
            .unwrap()
    };

    let log = RequestLog::default();
    let storage = record_storage::RecordStorage::new(
        open(log.clone()).await,
        record_storage::Options::new().context(record_storage::Context::new("w", "e")),
    );
    for i in 0..30 {
        storage.set_value(&format!("k{i}"), &i).await.unwrap();
    }
    let version = storage
        .get_record::<i32>("k1")
        .await
        .unwrap()
        .unwrap()
        .version;
    storage
        .set_value_if_version("k1", &9, version)
        .await
        .unwrap();
    storage
        .set_value_with(
            "k2",
            &1,
            &record_storage::Options::new().deny_update_overwrite(true),
        )
        .await
        .unwrap_err();
    storage
        .update_value("k3", |v: Option<i32>| v.unwrap_or(0) + 1)
        .await
        .unwrap();
    assert!(storage.value_exists("k4").await.unwrap());
    storage.delete_value("k5").await.unwrap();
    let page = storage
        .get_all_keys(record_storage::KeysRequest::default().limit(3))
        .await
        .unwrap();
    storage
        .get_all_keys(
            record_storage::KeysRequest::default()
                .limit(3)
                .last_evaluated_key(page.last_evaluated_key),
        )
        .await
        .unwrap();
    storage.clear_scope().await.unwrap();
    out.push(("records", log.distinct().into_iter().collect()));

    let log = RequestLog::default();
    let idem = idempotency::Idempotency::new(
        open(log.clone()).await,
        idempotency::Config::new("iam").in_progress_window(Duration::from_millis(1)),
    )
    .unwrap();
    let ok_handler = || async { Ok::<_, idempotency::IdempotencyError>(1) };
    idem.idempotent(&json!({"a": 1}), ok_handler).await.unwrap();
    idem.idempotent(&json!({"a": 1}), ok_handler).await.unwrap();
    let failing =
        || async { Err::<i32, _>(idempotency::IdempotencyError::Configuration("boom".into())) };
    idem.idempotent(&json!({"a": 2}), failing)
        .await
        .unwrap_err();
    // Duplicates find the record in the rejected claim; reads are for inspection and
    // dedupe waits.
    assert!(idem.inspect(&json!({"a": 1})).await.unwrap().is_some());
    out.push(("idempotency", log.distinct().into_iter().collect()));

    let log = RequestLog::default();
    let store = open(log.clone()).await;
    let quota = ratelimit::Quota::per_minute(3);
    for (name, policy) in [
        ("fixed", ratelimit::Policy::fixed_window(quota)),
        ("sliding", ratelimit::Policy::sliding_window(quota)),
        ("gcra", ratelimit::Policy::gcra(quota)),
    ] {
        let limiter = ratelimit::RateLimiter::builder(store.clone(), name)
            .default_policy(policy)
            .build()
            .unwrap();
        for _ in 0..5 {
            limiter.check("api", "caller").await.unwrap();
        }
        limiter.status("api", "caller").await.unwrap();
        limiter.reset("api", "caller").await.unwrap();
        limiter
            .cooldown("api", "caller", Duration::from_secs(5))
            .await
            .unwrap();
        limiter.check("api", "caller").await.unwrap();
    }
    out.push(("ratelimit", log.distinct().into_iter().collect()));
    out
}

#[test]
fn iam_allows_exactly_the_actions_the_features_send() {
    let Some(endpoint) = store_core::testing::service_url("FLEETSTATE_DYNAMODB_ENDPOINT") else {
        return;
    };
    for layout in ["simple", "composite"] {
        let url = table_url(&endpoint, layout);
        let created = ok_json(&["dynamodb", "create-table", &url]);
        assert_eq!(created["created"], true, "{created}");
        assert!(ok(&["dynamodb", "create-table", &url]).contains("exists"));
        let schema = ok_json(&["dynamodb", "schema", &url]);
        let keys = schema["KeySchema"].as_array().unwrap().len();
        assert_eq!(keys, if layout == "composite" { 2 } else { 1 }, "{schema}");

        let runtime = tokio::runtime::Runtime::new().unwrap();
        for (feature, sent) in runtime.block_on(sent_actions(&url)) {
            let allowed = policy_actions(&url, feature);
            let missing: Vec<_> = sent.difference(&allowed).collect();
            assert!(
                missing.is_empty(),
                "{layout} {feature}: sends {missing:?} the policy lacks"
            );
            // Least privilege: every allowed action was sent, but for the one path a
            // short workload cannot reach (a cursor carrying keys to recheck).
            let unreachable = ["BatchGetItem"];
            let unused: Vec<_> = allowed
                .difference(&sent)
                .filter(|a| !unreachable.contains(&a.as_str()))
                .collect();
            assert!(
                unused.is_empty(),
                "{layout} {feature}: allows {unused:?} never sent"
            );
        }
    }
}
