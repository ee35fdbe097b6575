//! `fleetstate iam` and `fleetstate dynamodb schema | create-table`: what to declare in
//! infrastructure code for a DynamoDB deployment.

use serde_json::{Value, json};
use store_core::raw::Operation;
use store_core::{BoxError, Condition, DeleteCondition};
use store_dynamodb::{DynamoStoreBuilder, TableLayout, iam};

use crate::Output;

/// A feature whose permissions `iam` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Feature {
    /// record-storage.
    Records,
    /// idempotency.
    Idempotency,
    /// ratelimit.
    Ratelimit,
}

/// A backend `iam` knows the permissions of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// Amazon DynamoDB.
    Dynamodb,
}

impl Feature {
    /// The store operations the feature sends (checked against DynamoDB Local's
    /// requests in this crate's tests).
    pub fn operations(self) -> &'static [Operation] {
        const RECORDS: &[Operation] = &[
            Operation::Get,
            Operation::Exists,
            Operation::Set(Condition::Always),
            Operation::Delete(DeleteCondition::Always),
            Operation::List,
            Operation::Clear,
        ];
        const IDEMPOTENCY: &[Operation] = &[
            Operation::Get,
            Operation::Set(Condition::Always),
            Operation::Delete(DeleteCondition::Always),
        ];
        const RATELIMIT: &[Operation] = &[
            Operation::Get,
            Operation::Set(Condition::Always),
            Operation::Delete(DeleteCondition::Always),
            Operation::Incr,
            Operation::Advance,
        ];
        match self {
            Feature::Records => RECORDS,
            Feature::Idempotency => IDEMPOTENCY,
            Feature::Ratelimit => RATELIMIT,
        }
    }

    fn sid(self) -> &'static str {
        match self {
            Feature::Records => "FleetstateRecords",
            Feature::Idempotency => "FleetstateIdempotency",
            Feature::Ratelimit => "FleetstateRateLimit",
        }
    }
}

/// Arguments of `fleetstate iam`.
#[derive(Debug, Clone, clap::Args)]
pub struct IamArgs {
    /// The backend.
    #[arg(long, value_enum)]
    pub backend: Backend,
    /// The features the policy covers.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "records,idempotency,ratelimit"
    )]
    pub features: Vec<Feature>,
    /// The store URL, for its table and layout (`dynamodb://table?layout=composite`).
    #[arg(long)]
    pub url: Option<String>,
    /// The AWS region of the table's ARN.
    #[arg(long, default_value = "*")]
    pub region: String,
    /// The AWS account of the table's ARN.
    #[arg(long, default_value = "*")]
    pub account: String,
}

/// The DynamoDB actions `features` need on a table with `layout`, sorted.
pub fn dynamodb_actions(features: &[Feature], layout: &TableLayout) -> Vec<&'static str> {
    let operations: Vec<Operation> = features
        .iter()
        .flat_map(|f| f.operations().iter().copied())
        .collect();
    iam::actions_for(&operations, layout)
}

/// The least-privilege IAM policy: one statement per feature, on the table only.
pub fn policy(args: &IamArgs) -> Result<Output, BoxError> {
    let Backend::Dynamodb = args.backend;
    let (table, layout) = match &args.url {
        Some(url) => {
            let builder = DynamoStoreBuilder::from_url(url)?;
            (
                builder.table_name().to_owned(),
                builder.table_layout().clone(),
            )
        }
        None => ("*".to_owned(), TableLayout::default()),
    };
    let resource = format!(
        "arn:aws:dynamodb:{}:{}:table/{table}",
        args.region, args.account
    );
    let mut features = args.features.clone();
    features.dedup();
    let statements: Vec<Value> = features
        .iter()
        .map(|feature| {
            let actions: Vec<String> = dynamodb_actions(&[*feature], &layout)
                .into_iter()
                .map(|a| format!("dynamodb:{a}"))
                .collect();
            json!({
                "Sid": feature.sid(),
                "Effect": "Allow",
                "Action": actions,
                "Resource": resource,
            })
        })
        .collect();
    let document = json!({"Version": "2012-10-17", "Statement": statements});
    let text = serde_json::to_string_pretty(&document)?;
    Ok(Output::ok(document, text))
}

/// A `dynamodb` command.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DynamodbCommand {
    /// The table definition the URL's layout expects, as CloudFormation-style JSON.
    Schema {
        /// `dynamodb://<table>?...`
        url: String,
    },
    /// Create the table (on-demand billing, TTL enabled); an existing one is left as is.
    CreateTable {
        /// `dynamodb://<table>?...`
        url: String,
    },
}

/// Runs a `dynamodb` command.
pub async fn dynamodb(command: DynamodbCommand) -> Result<Output, BoxError> {
    match command {
        DynamodbCommand::Schema { url } => {
            let builder = DynamoStoreBuilder::from_url(&url)?;
            builder.table_layout().validate()?;
            let mut schema: Value =
                serde_json::from_str(&builder.table_layout().table_schema().to_json())?;
            schema["TableName"] = json!(builder.table_name());
            let text = serde_json::to_string_pretty(&schema)?;
            Ok(Output::ok(schema, text))
        }
        DynamodbCommand::CreateTable { url } => {
            let store = DynamoStoreBuilder::from_url(&url)?.build().await?;
            let created =
                store_dynamodb::create_table(store.client(), store.table(), store.layout()).await?;
            Ok(Output::ok(
                json!({"table": store.table(), "created": created}),
                if created {
                    format!("created table {} (TTL enabled)", store.table())
                } else {
                    format!("table {} exists: left as it is", store.table())
                },
            ))
        }
    }
}
