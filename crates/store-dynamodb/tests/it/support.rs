//! DynamoDB Local, and tables created once per layout.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, Region};
use store_core::conformance::Subject;
use store_dynamodb::{DynamoStore, DynamoStoreBuilder, TableLayout, aws_sdk_dynamodb};

/// Independent instances (one SDK client, hence one connection pool, each) the
/// conformance suite races across.
const INSTANCES: usize = 4;

pub(crate) fn endpoint() -> Option<String> {
    store_core::testing::service_url("FLEETSTATE_DYNAMODB_ENDPOINT")
}

/// A client of DynamoDB Local with dummy credentials and no SDK retries.
pub(crate) fn client_config(endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
}

/// The store on `table` (created if missing) with `layout`.
pub(crate) async fn store(table: &str, layout: TableLayout) -> Option<DynamoStore> {
    let endpoint = endpoint()?;
    let client = Client::from_conf(client_config(&endpoint).build());
    store_dynamodb::create_table(&client, table, &layout)
        .await
        .expect("create table");
    Some(
        DynamoStoreBuilder::from_client(client, table)
            .layout(layout)
            .build()
            .await
            .expect("build store"),
    )
}

/// A conformance subject of [`INSTANCES`] stores on `table`, each with its own client.
pub(crate) async fn subject(table: &str, layout: TableLayout) -> Option<Subject<DynamoStore>> {
    let main = store(table, layout.clone()).await?;
    let mut others = Vec::with_capacity(INSTANCES - 1);
    for _ in 1..INSTANCES {
        others.push(store(table, layout.clone()).await?);
    }
    Some(Subject::new(main).with_instances(others))
}
