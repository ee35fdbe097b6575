//! `fleetstate records ...`: record-storage's records through their scopes, values
//! decoded from JSON or MessagePack and `secure` records decrypted with a keyring that
//! is never printed.

use std::path::PathBuf;
use std::time::Duration;

use record_storage::{Context, Format, Keyring, KeysRequest, Options, RecordStorage, Scope};
use serde_json::{Value, json};
use store_core::{BoxError, SharedStore, Timestamp};

use crate::Output;
use crate::ops::parse_duration;

/// Where the records live and how to read them.
#[derive(Debug, Clone, clap::Args)]
pub struct ScopeArgs {
    /// The store URL.
    pub url: String,
    /// Who can see the records.
    #[arg(long, value_enum, default_value_t = ScopeArg::Environment)]
    pub scope: ScopeArg,
    /// The workspace id (default: `FLEETSTATE_WORKSPACE_ID`, else `default`).
    #[arg(long)]
    pub workspace: Option<String>,
    /// The environment id (default: `FLEETSTATE_ENVIRONMENT_ID`, else `default`).
    #[arg(long)]
    pub environment: Option<String>,
    /// A file holding the keyring (`id:base64[,id:base64...]`, primary first), for
    /// `secure` records.
    #[arg(long, conflicts_with = "keyring_env")]
    pub keyring_file: Option<PathBuf>,
    /// An environment variable holding the keyring.
    #[arg(long)]
    pub keyring_env: Option<String>,
}

/// [`Scope`] for the command line (invocation scope lives only inside an invocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScopeArg {
    /// Visible throughout the workspace.
    Workspace,
    /// Visible only from one environment.
    Environment,
}

/// The serialization of written values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// JSON.
    Json,
    /// MessagePack.
    Msgpack,
}

/// A records command.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum RecordsCommand {
    /// Read one record: its value (decoded, decrypted), version and expiry.
    Get {
        #[command(flatten)]
        scope: ScopeArgs,
        key: String,
    },
    /// Write one record from JSON text.
    Set {
        #[command(flatten)]
        scope: ScopeArgs,
        key: String,
        /// The value as JSON (`'{"plan":"pro"}'`, `42`, `'"text"'`).
        value: String,
        /// Time to live: 90s, 15m, 2h.
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<Duration>,
        /// Encrypt the value (needs a keyring).
        #[arg(long)]
        secure: bool,
        /// Refuse to overwrite an existing record.
        #[arg(long)]
        if_absent: bool,
        /// How the value is stored.
        #[arg(long, value_enum, default_value_t = FormatArg::Json)]
        format: FormatArg,
    },
    /// Delete one record.
    Delete {
        #[command(flatten)]
        scope: ScopeArgs,
        key: String,
    },
    /// The scope's keys, following pages.
    List {
        #[command(flatten)]
        scope: ScopeArgs,
        #[arg(long, default_value = "")]
        prefix: String,
        /// Most keys to print.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Delete every record of the scope under a prefix.
    Clear {
        #[command(flatten)]
        scope: ScopeArgs,
        #[arg(long, default_value = "")]
        prefix: String,
    },
}

impl ScopeArgs {
    fn options(&self) -> Result<Options, BoxError> {
        let from_env = Context::from_env();
        let context = Context::new(
            self.workspace
                .clone()
                .unwrap_or_else(|| from_env.workspace_id().to_owned()),
            self.environment
                .clone()
                .unwrap_or_else(|| from_env.environment_id().to_owned()),
        );
        let scope = match self.scope {
            ScopeArg::Workspace => Scope::Workspace,
            ScopeArg::Environment => Scope::Environment,
        };
        let mut options = Options::new().scope(scope).context(context);
        let keyring = match (&self.keyring_file, &self.keyring_env) {
            (Some(path), _) => Some(Keyring::from_file(path)?),
            (None, Some(var)) => Some(Keyring::from_env(var)?),
            (None, None) => None,
        };
        if let Some(keyring) = keyring {
            options = options.keyring(keyring);
        }
        Ok(options)
    }

    async fn storage(&self) -> Result<RecordStorage<SharedStore>, BoxError> {
        let options = self.options()?;
        Ok(RecordStorage::new(crate::open(&self.url).await?, options))
    }
}

/// Runs a records command.
pub async fn run(command: RecordsCommand) -> Result<Output, BoxError> {
    Ok(match command {
        RecordsCommand::Get { scope, key } => {
            let storage = scope.storage().await?;
            match storage.get_record::<Value>(&key).await? {
                Some(record) => {
                    let version = store_core::raw::version_number(record.version);
                    let left = record
                        .expires_at
                        .map(|at| at.saturating_duration_since(Timestamp::now()));
                    Output::ok(
                        json!({
                            "value": record.value,
                            "version": version.to_string(),
                            "expires_at_ms": record.expires_at.map(Timestamp::as_millis),
                            "expires_in_ms": left.map(|l| l.as_millis() as u64),
                        }),
                        format!(
                            "{}\nversion {version} · {}",
                            serde_json::to_string_pretty(&record.value)?,
                            match left {
                                Some(left) => format!("expires in {:.1} s", left.as_secs_f64()),
                                None => "never expires".to_owned(),
                            }
                        ),
                    )
                }
                None => Output::fail(Value::Null, format!("record `{key}` is absent")),
            }
        }
        RecordsCommand::Set {
            scope,
            key,
            value,
            ttl,
            secure,
            if_absent,
            format,
        } => {
            let value: Value = serde_json::from_str(&value)
                .map_err(|e| format!("the value is not JSON ({e}); quote text as '\"text\"'"))?;
            let storage = scope.storage().await?;
            let mut options = Options::new()
                .secure(secure)
                .deny_update_overwrite(if_absent)
                .format(match format {
                    FormatArg::Json => Format::Json,
                    FormatArg::Msgpack => Format::MessagePack,
                });
            if let Some(ttl) = ttl {
                options = options.ttl(ttl);
            }
            match storage.set_value_with(&key, &value, &options).await {
                Ok(version) => {
                    let version = store_core::raw::version_number(version);
                    Output::ok(
                        json!({"written": true, "version": version.to_string()}),
                        format!("written, version {version}"),
                    )
                }
                Err(record_storage::RecordError::AlreadyExists { .. }) => Output::fail(
                    json!({"written": false}),
                    format!("rejected: record `{key}` exists"),
                ),
                Err(e) => return Err(e.into()),
            }
        }
        RecordsCommand::Delete { scope, key } => {
            let existed = scope.storage().await?.delete_value(&key).await?;
            Output::ok(
                json!({"deleted": existed}),
                if existed { "deleted" } else { "was absent" }.to_owned(),
            )
        }
        RecordsCommand::List {
            scope,
            prefix,
            limit,
        } => {
            let storage = scope.storage().await?;
            let mut keys = Vec::new();
            let mut last = None;
            loop {
                let request = KeysRequest::default()
                    .prefix(prefix.clone())
                    .limit((limit - keys.len()).clamp(1, 1000))
                    .last_evaluated_key(last);
                let page = storage.get_all_keys(request).await?;
                keys.extend(page.keys);
                match page.last_evaluated_key {
                    Some(next) if keys.len() < limit => last = Some(next),
                    _ => break,
                }
            }
            keys.truncate(limit);
            Output::ok(json!({"keys": keys}), keys.join("\n"))
        }
        RecordsCommand::Clear { scope, prefix } => {
            let storage = scope.storage().await?;
            let removed = storage.clear_scope_with(&prefix, &Options::new()).await?;
            Output::ok(
                json!({"removed": removed}),
                format!("removed {removed} records"),
            )
        }
    })
}
