//! `cargo bench -p store-dynamodb` (after `cargo xtask services up`, or via
//! `cargo xtask bench`): each store operation next to the raw SDK request it wraps, on
//! the same DynamoDB Local and the same client, in the same run, at 1 and 16 concurrent
//! tasks. Rounds alternate store and raw runs; medians are compared.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use store_core::testing::bench::{self, Task};
use store_core::{Bytes, SetOptions, Store};
use store_dynamodb::{DynamoStore, DynamoStoreBuilder, TableLayout, aws_sdk_dynamodb};

const TABLE: &str = "fleetstate-bench";
const KEYS: usize = 500;
const ROUND: Duration = Duration::from_millis(1500);
const ROUNDS: usize = 3;
const NS: &str = "bench";

#[derive(Clone, Copy)]
enum Op {
    Get,
    Set,
    Incr,
    /// Diagnostic: the raw side sends the store's own `UpdateItem` expression.
    IncrSameExpression,
    SetIfAbsent,
    /// Diagnostic: the raw side sends the store's own condition (expired counts as absent).
    SetIfAbsentSameExpression,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Set => "set",
            Op::Incr | Op::IncrSameExpression => "incr",
            Op::SetIfAbsent | Op::SetIfAbsentSameExpression => "set IfAbsent",
        }
    }
    fn raw(self) -> &'static str {
        match self {
            Op::Get => "GetItem",
            Op::Set => "PutItem",
            Op::Incr => "UpdateItem ADD, UPDATED_NEW",
            Op::SetIfAbsent => "PutItem + condition",
            Op::IncrSameExpression => "UpdateItem, the store's expression (diagnostic)",
            Op::SetIfAbsentSameExpression => "PutItem, the store's condition (diagnostic)",
        }
    }
}

/// The service from the environment or `cargo xtask services up` (a missing one is a
/// failure under `CI=true`, a message otherwise).
fn endpoint() -> Option<String> {
    store_core::testing::service_url("FLEETSTATE_DYNAMODB_ENDPOINT")
}

fn raw_key(i: usize) -> HashMap<String, AttributeValue> {
    HashMap::from([(
        "pk".to_owned(),
        AttributeValue::S(format!("raw:k{}", i % KEYS)),
    )])
}

async fn store_op(store: &DynamoStore, op: Op, i: usize, value: &Bytes) {
    let key = format!("k{}", i % KEYS);
    match op {
        Op::Get => drop(store.get(NS, &key).await.expect("get")),
        Op::Set => drop(
            store
                .set(NS, &key, value.clone(), SetOptions::always())
                .await
                .expect("set"),
        ),
        Op::Incr | Op::IncrSameExpression => drop(
            store
                .incr(NS, &format!("c{}", i % KEYS), 1, None)
                .await
                .expect("incr"),
        ),
        Op::SetIfAbsent | Op::SetIfAbsentSameExpression => drop(
            store
                .set(NS, &format!("x{i}"), value.clone(), SetOptions::if_absent())
                .await
                .expect("set IfAbsent"),
        ),
    }
}

async fn raw_op(client: &Client, op: Op, i: usize, value: &Bytes) {
    match op {
        Op::Get => drop(
            client
                .get_item()
                .table_name(TABLE)
                .set_key(Some(raw_key(i)))
                .consistent_read(true)
                .send()
                .await
                .expect("GetItem"),
        ),
        Op::IncrSameExpression => drop(
            client
                .update_item()
                .table_name(TABLE)
                .set_key(Some(raw_key(i)))
                .update_expression("SET #v = if_not_exists(#v, :zero) + :d, #ver = :ver")
                .condition_expression(
                    "(attribute_not_exists(#exp) OR #exp > :now) AND (attribute_not_exists(#v) \
                     OR (attribute_type(#v, :ntype) AND #v <= :lim))",
                )
                .expression_attribute_names("#v", "n")
                .expression_attribute_names("#ver", "ver")
                .expression_attribute_names("#exp", "expires_at_ms")
                .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                .expression_attribute_values(":d", AttributeValue::N("1".into()))
                .expression_attribute_values(
                    ":ver",
                    AttributeValue::N(fastrand::u64(1..).to_string()),
                )
                .expression_attribute_values(":now", AttributeValue::N("1".into()))
                .expression_attribute_values(":ntype", AttributeValue::S("N".into()))
                .expression_attribute_values(":lim", AttributeValue::N((i64::MAX - 1).to_string()))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
                .return_values_on_condition_check_failure(
                    aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await
                .expect("UpdateItem"),
        ),
        Op::SetIfAbsentSameExpression => {
            let mut item =
                HashMap::from([("pk".to_owned(), AttributeValue::S(format!("raw:y{i}")))]);
            item.insert("v".into(), AttributeValue::B(Blob::new(value.to_vec())));
            item.insert(
                "ver".into(),
                AttributeValue::N(fastrand::u64(1..).to_string()),
            );
            let _ = client
                .put_item()
                .table_name(TABLE)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
                .expression_attribute_names("#pk", "pk")
                .expression_attribute_names("#exp", "expires_at_ms")
                .expression_attribute_values(":now", AttributeValue::N("1".into()))
                .return_values_on_condition_check_failure(
                    aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
        }
        Op::Set | Op::SetIfAbsent => {
            let mut item = raw_key(if matches!(op, Op::Set) {
                i
            } else {
                i + 1_000_000
            });
            item.insert("v".into(), AttributeValue::B(Blob::new(value.to_vec())));
            item.insert(
                "ver".into(),
                AttributeValue::N(fastrand::u64(1..).to_string()),
            );
            let mut request = client.put_item().table_name(TABLE).set_item(Some(item));
            if matches!(op, Op::SetIfAbsent) {
                request = request.condition_expression("attribute_not_exists(pk)");
            }
            // A conditional put may be rejected; the raw side pays for it the same way.
            let _ = request.send().await;
        }
        Op::Incr => drop(
            client
                .update_item()
                .table_name(TABLE)
                .set_key(Some(raw_key(i)))
                .update_expression("ADD c :one")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                // A counter returns its new value.
                .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
                .send()
                .await
                .expect("UpdateItem"),
        ),
    }
}

async fn throughput(store: &DynamoStore, raw: bool, op: Op, tasks: usize) -> f64 {
    // Each round starts its tasks at a random place among the keys.
    let base = fastrand::usize(..1_000_000) * 100;
    let step = move |store: DynamoStore, i, task: Task| async move {
        if raw {
            raw_op(store.client(), op, base + i, &task.value).await;
        } else {
            store_op(&store, op, base + i, &task.value).await;
        }
        (store, task)
    };
    bench::throughput(store.clone(), tasks, ROUND, step).await
}

#[allow(clippy::print_stdout)]
fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let Some(endpoint) = endpoint() else {
        eprintln!("no DynamoDB Local: run `cargo xtask services up` first, or `cargo xtask bench`");
        std::process::exit(1);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("local", "local", None, None, "bench"))
            .build();
        let client = Client::from_conf(config);
        store_dynamodb::create_table(&client, TABLE, &TableLayout::default()).await.expect("table");
        let store = DynamoStoreBuilder::from_client(client, TABLE).build().await.expect("store");
        for op in [Op::Get, Op::Set, Op::Incr, Op::SetIfAbsent] {
            throughput(&store, false, op, 4).await;
            throughput(&store, true, op, 4).await;
        }
        println!(
            "store-dynamodb vs raw SDK requests on DynamoDB Local at {endpoint} (ops/s, median of {ROUNDS} rounds of {} ms)",
            ROUND.as_millis()
        );
        println!("op            tasks        store          raw    ratio  raw request");
        let ops = [
            Op::Get,
            Op::Set,
            Op::Incr,
            Op::IncrSameExpression,
            Op::SetIfAbsent,
            Op::SetIfAbsentSameExpression,
        ];
        let raw = |op: Op| op.raw().to_owned();
        let measure = |op, tasks, raw| throughput(&store, raw, op, tasks);
        bench::compare(&ops, &[1, 16], ROUNDS, Op::name, raw, measure).await;
    });
}
