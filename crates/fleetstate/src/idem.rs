//! `fleetstate idempotency inspect | forget`: one idempotency record, found by its
//! record key or by the payload a call would carry.

use idempotency::{Config, Idempotency, RecordInfo, Status};
use serde_json::{Value, json};
use store_core::{BoxError, SharedStore, Timestamp};

use crate::Output;

/// Which record.
#[derive(Debug, Clone, clap::Args)]
pub struct RecordArgs {
    /// The store URL.
    pub url: String,
    /// The function name (`Config::new(name)`); records live under `idempotency#<name>`.
    #[arg(long)]
    pub name: String,
    /// The record key (64 hex digits, as errors and logs name it).
    #[arg(long, conflicts_with = "payload", required_unless_present = "payload")]
    pub key: Option<String>,
    /// The payload a call carries, as JSON; with `key_by`, the key it returns.
    #[arg(long)]
    pub payload: Option<String>,
    /// The JMESPath selecting the key from the payload (`Config::event_key_jmespath`).
    #[arg(long, requires = "payload")]
    pub event_key_jmespath: Option<String>,
}

/// An idempotency command.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum IdempotencyCommand {
    /// Status, expiry, in-progress deadline, validation hash and stored result.
    Inspect(RecordArgs),
    /// Delete the record, so the next call runs the handler again.
    Forget(RecordArgs),
}

impl RecordArgs {
    async fn target(&self) -> Result<(Idempotency<SharedStore>, String), BoxError> {
        let mut config = Config::new(&self.name);
        if let Some(expression) = &self.event_key_jmespath {
            config = config.event_key_jmespath(expression)?;
        }
        let idempotency = Idempotency::new(crate::open(&self.url).await?, config)?;
        let key = match (&self.key, &self.payload) {
            (Some(key), _) => {
                if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!(
                        "`{key}` is not a record key (64 hex digits); give the payload with --payload"
                    )
                    .into());
                }
                key.to_ascii_lowercase()
            }
            (None, Some(payload)) => {
                let payload: Value = serde_json::from_str(payload)
                    .map_err(|e| format!("--payload is not JSON: {e}"))?;
                idempotency
                    .record_key(&payload)?
                    .ok_or("the key selection finds nothing in this payload")?
            }
            (None, None) => return Err("give --key or --payload".into()),
        };
        Ok((idempotency, key))
    }
}

fn millis(at: Option<Timestamp>) -> Option<u64> {
    at.map(Timestamp::as_millis)
}

fn in_secs(at: Timestamp) -> String {
    let now = Timestamp::now();
    if at > now {
        format!(
            "in {:.1} s",
            at.saturating_duration_since(now).as_secs_f64()
        )
    } else {
        format!(
            "{:.1} s ago",
            now.saturating_duration_since(at).as_secs_f64()
        )
    }
}

fn describe(info: &RecordInfo) -> Output {
    let status = match info.status {
        Status::InProgress if info.orphaned => "in progress, orphaned (the next call takes over)",
        Status::InProgress => "in progress",
        Status::Completed => "completed",
    };
    let mut text = format!("record {}\nstatus      {status}", info.key);
    if let Some(at) = info.in_progress_until {
        text.push_str(&format!("\ndeadline    {}", in_secs(at)));
    }
    text.push_str(&format!(
        "\nexpires     {}",
        info.expires_at.map_or("never".to_owned(), in_secs)
    ));
    if let Some(hash) = &info.validation {
        text.push_str(&format!("\nvalidation  {hash}"));
    }
    if let Some(data) = &info.data {
        text.push_str(&format!(
            "\nresult      {}",
            serde_json::to_string_pretty(data).unwrap_or_default()
        ));
    }
    Output::ok(
        json!({
            "key": info.key,
            "status": match info.status {
                Status::InProgress => "INPROGRESS",
                Status::Completed => "COMPLETED",
            },
            "orphaned": info.orphaned,
            "expires_at_ms": millis(info.expires_at),
            "in_progress_until_ms": millis(info.in_progress_until),
            "validation": info.validation,
            "data": info.data,
            "version": store_core::raw::version_number(info.version).to_string(),
        }),
        text,
    )
}

/// Runs an idempotency command.
pub async fn run(command: IdempotencyCommand) -> Result<Output, BoxError> {
    Ok(match command {
        IdempotencyCommand::Inspect(args) => {
            let (idempotency, key) = args.target().await?;
            match idempotency.inspect_key(&key).await? {
                Some(info) => describe(&info),
                None => Output::fail(Value::Null, format!("no record under {key}")),
            }
        }
        IdempotencyCommand::Forget(args) => {
            let (idempotency, key) = args.target().await?;
            let existed = idempotency.forget_key(&key).await?;
            Output::ok(
                json!({"key": key, "deleted": existed}),
                if existed {
                    format!("forgot {key}: the next call runs the handler")
                } else {
                    format!("no record under {key}")
                },
            )
        }
    })
}
