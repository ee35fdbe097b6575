//! The errors a user meets, with the messages they read.

use store_core::{Error, SchemeRegistry, SetOptions, Store};
use store_dynamodb::{DynamoStoreBuilder, TableLayout, aws_sdk_dynamodb};

#[tokio::test]
async fn a_missing_table_is_misconfigured_and_names_the_table_and_the_fix() {
    let Some(endpoint) = crate::support::endpoint() else {
        return;
    };
    let store =
        DynamoStoreBuilder::from_url(&format!("dynamodb://no-such-table?endpoint={endpoint}"))
            .unwrap()
            .build()
            .await
            .unwrap();
    let err = store.get("ns", "k").await.unwrap_err();
    assert!(matches!(err, Error::Misconfigured(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("table `no-such-table` was not found"),
        "{message}"
    );
    assert!(message.contains("create_table"), "{message}");
}

#[tokio::test]
async fn bad_layouts_are_refused_at_construction() {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    for (layout, needle) in [
        (TableLayout::composite("pk", "pk"), "both named `pk`"),
        (
            TableLayout::default().version_attribute(""),
            "version attribute name",
        ),
        (
            TableLayout::default().with_static_partition("x"),
            "needs a sort key",
        ),
    ] {
        let err = DynamoStoreBuilder::from_sdk_config(&sdk, "table")
            .layout(layout)
            .build()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Misconfigured(_)), "{err:?}");
        assert!(err.to_string().contains(needle), "{err}");
    }
    let err = DynamoStoreBuilder::from_sdk_config(&sdk, "a b")
        .build()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not a valid DynamoDB table name"),
        "{err}"
    );
}

#[tokio::test]
async fn a_table_with_another_key_schema_is_misconfigured() {
    let Some(store) =
        crate::support::store("fleetstate-composite", TableLayout::composite("pk", "sk")).await
    else {
        return;
    };
    let wrong = DynamoStoreBuilder::from_client(store.client().clone(), "fleetstate-composite")
        .build()
        .await
        .unwrap();
    let err = wrong
        .set("ns", "k", "v".into(), SetOptions::always())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Misconfigured(_)), "{err:?}");
    assert!(err.to_string().contains("different key schema"), "{err}");
}

#[tokio::test]
async fn urls_open_through_the_registry() {
    let Some(endpoint) = crate::support::endpoint() else {
        return;
    };
    crate::support::store("fleetstate-composite", TableLayout::composite("pk", "sk")).await;
    let registry = SchemeRegistry::new();
    store_dynamodb::register(&registry);
    let url = format!(
        "dynamodb://fleetstate-composite?endpoint={endpoint}&layout=composite&region=us-east-1"
    );
    let store = registry.open(&url).await.unwrap();
    assert!(store.capabilities().sorted_list);
    let ns = format!("urls/{}", fastrand::u64(..));
    store
        .set(&ns, "k", "v".into(), SetOptions::always())
        .await
        .unwrap();
    assert_eq!(store.get(&ns, "k").await.unwrap().unwrap().value, "v");
}

#[tokio::test]
async fn a_dead_endpoint_is_unavailable_quickly() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = DynamoStoreBuilder::from_url(&format!(
        "dynamodb://table?endpoint=http://127.0.0.1:{port}&timeout_ms=500"
    ))
    .unwrap()
    .build()
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let err = store.get("ns", "k").await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// A store built from the user's client uses that client as it is: settings that only a
/// client the builder creates could take are refused, not silently dropped.
#[tokio::test]
async fn client_settings_with_a_given_client_are_refused() {
    let client = aws_sdk_dynamodb::Client::from_conf(
        crate::support::client_config("http://127.0.0.1:9").build(),
    );
    let builder = || DynamoStoreBuilder::from_client(client.clone(), "fleetstate-composite");
    for (name, builder) in [
        ("endpoint", builder().endpoint("http://127.0.0.1:1")),
        ("region", builder().region("eu-west-1")),
        (
            "timeout",
            builder().timeout(std::time::Duration::from_secs(9)),
        ),
    ] {
        let err = builder.build().await.map(drop).unwrap_err();
        assert!(matches!(err, Error::Misconfigured(_)), "{name}: {err:?}");
        assert!(
            err.to_string()
                .contains(&format!("`{name}` applies to clients the builder creates")),
            "{err}"
        );
    }
    assert!(
        builder().build().await.is_ok(),
        "no client settings: accepted"
    );
}
