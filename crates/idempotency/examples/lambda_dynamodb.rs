//! A Lambda function made idempotent on DynamoDB: duplicate deliveries of the same
//! order charge once and get the first receipt back.
//!
//! Build: `cargo build -p idempotency --example lambda_dynamodb --features lambda`.
//! Deploy with `cargo lambda`; the table comes from `IDEMPOTENCY_TABLE` (created with
//! `store_dynamodb::create_table` or from `TableLayout::table_schema().to_json()`), the
//! function name from `AWS_LAMBDA_FUNCTION_NAME`. Its logic runs locally through the
//! same `make_idempotent` service in `tests/it/lambda.rs`.

use idempotency::lambda::make_idempotent;
use idempotency::{Config, Idempotency};
use lambda_runtime::{Error, LambdaEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Order {
    order_id: String,
    amount_cents: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Receipt {
    order_id: String,
    charged_cents: u64,
}

async fn charge(event: LambdaEvent<Order>) -> Result<Receipt, Error> {
    // The side effect that must happen once per order goes here.
    Ok(Receipt {
        order_id: event.payload.order_id,
        charged_cents: event.payload.amount_cents,
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let table = std::env::var("IDEMPOTENCY_TABLE").unwrap_or_else(|_| "idempotency".to_owned());
    let store = store_dynamodb::DynamoStoreBuilder::from_url(&format!("dynamodb://{table}"))?
        .build()
        .await?;
    let config = Config::default()
        .key_by(|order: &Order| order.order_id.clone())
        .validate_by(|order: &Order| order.amount_cents)
        .local_cache(256);
    let idempotency = Idempotency::new(store, config)?;
    lambda_runtime::run(make_idempotent(idempotency, charge)).await
}
