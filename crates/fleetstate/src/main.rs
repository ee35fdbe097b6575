//! `fleetstate`: verify a deployment against the store contract, operate its state, and
//! see the fleet work in a demo. `fleetstate --help` lists the commands.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use fleetstate::ops::{Encoding, entry_json, entry_text, parse_duration};
use fleetstate::{registry, verify};
use store_core::{Bytes, Cursor, DeleteCondition, SetOptions, SharedStore, Store};

#[derive(Parser)]
#[command(
    name = "fleetstate",
    version,
    about = "Shared state for fleets: verify, inspect, operate"
)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole conformance suite against a live store (its own namespaces,
    /// deleted afterwards); exit code 1 on any failure.
    Verify {
        /// The store URL (memory://, redis://, redis-cluster://, postgres://, sqlite://,
        /// dynamodb://...).
        url: String,
        /// Write a JUnit XML report here, for CI systems.
        #[arg(long)]
        junit: Option<std::path::PathBuf>,
        /// Run only these groups or cases (repeatable).
        #[arg(long)]
        only: Vec<String>,
        /// Skip these groups or cases (repeatable).
        #[arg(long)]
        skip: Vec<String>,
        /// Cases run at once.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Independent connections the concurrency cases race across.
        #[arg(long, default_value_t = 4)]
        instances: usize,
    },
    /// Read one entry.
    Get {
        url: String,
        namespace: String,
        key: String,
        #[arg(long, value_enum, default_value_t = Encoding::Auto)]
        encoding: Encoding,
    },
    /// Write one entry (the value as given, UTF-8).
    Set {
        url: String,
        namespace: String,
        key: String,
        value: String,
        /// Time to live: 90s, 15m, 2h, 500ms.
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<Duration>,
        /// Write only when the key is absent.
        #[arg(long, conflicts_with = "if_version")]
        if_absent: bool,
        /// Write only when the entry is at this version.
        #[arg(long)]
        if_version: Option<u64>,
    },
    /// Delete one entry.
    Delete {
        url: String,
        namespace: String,
        key: String,
    },
    /// Add to a counter (created at 0).
    Incr {
        url: String,
        namespace: String,
        key: String,
        #[arg(default_value_t = 1, allow_negative_numbers = true)]
        delta: i64,
        /// Time to live, set when the counter is created.
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<Duration>,
    },
    /// List the keys of a namespace, following cursors.
    List {
        url: String,
        namespace: String,
        #[arg(long, default_value = "")]
        prefix: String,
        /// Most keys to print.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Delete every key of a namespace under a prefix.
    Clear {
        url: String,
        namespace: String,
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// A rate limiter's state for one caller: `status` (what one more unit would get),
    /// `reset` (a full budget again), `cooldown` (refuse the caller fleet-wide for a
    /// while). The policy must be the one the limiter runs with.
    Ratelimit {
        #[command(subcommand)]
        action: RatelimitAction,
    },
    /// record-storage's records through their scopes, decoded and decrypted.
    Records {
        #[command(subcommand)]
        action: fleetstate::records::RecordsCommand,
    },
    /// One idempotency record: `inspect` it, or `forget` it so the next call runs.
    Idempotency {
        #[command(subcommand)]
        action: fleetstate::idem::IdempotencyCommand,
    },
    /// Operations per second and p50/p99/p99.9 latency at a sweep of concurrencies.
    Bench(fleetstate::bench::BenchArgs),
    /// DynamoDB table definitions: `schema` (JSON for IaC) and `create-table`.
    Dynamodb {
        #[command(subcommand)]
        action: fleetstate::iam::DynamodbCommand,
    },
    /// The least-privilege IAM policy of the features on a backend.
    Iam(fleetstate::iam::IamArgs),
    /// The fleet on the embedded store: a rate limit, a duplicated payment and scoped
    /// records across simulated instances.
    Demo {
        #[arg(long, default_value_t = 8)]
        instances: usize,
    },
}

/// Which limiter and caller, and the policy the limiter runs with.
#[derive(clap::Args)]
struct LimiterArgs {
    /// The store URL.
    url: String,
    /// The limiter's name (as given to `RateLimiter::builder`).
    #[arg(long)]
    name: String,
    /// The resource checked (`api`, a route...).
    #[arg(long)]
    resource: String,
    /// The caller's key.
    #[arg(long)]
    key: String,
    /// The algorithm the limiter runs.
    #[arg(long, value_enum, default_value_t = AlgorithmArg::FixedWindow)]
    algorithm: AlgorithmArg,
    /// Units per window.
    #[arg(long)]
    limit: u64,
    /// The window: 1s, 1m, 1h...
    #[arg(long, value_parser = parse_duration, default_value = "1m")]
    window: Duration,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AlgorithmArg {
    FixedWindow,
    SlidingWindow,
    Gcra,
}

#[derive(Subcommand)]
enum RatelimitAction {
    /// The decision one more unit would get, taking nothing.
    Status(LimiterArgs),
    /// Forget the caller's usage.
    Reset(LimiterArgs),
    /// Refuse the caller for `--pause`, for the whole fleet.
    Cooldown {
        #[command(flatten)]
        limiter: LimiterArgs,
        #[arg(long, value_parser = parse_duration)]
        pause: Duration,
    },
}

impl LimiterArgs {
    async fn limiter(&self) -> store_core::Result<ratelimit::RateLimiter<SharedStore>> {
        let quota = ratelimit::Quota::new(self.limit, self.window)?;
        let policy = match self.algorithm {
            AlgorithmArg::FixedWindow => ratelimit::Policy::fixed_window(quota),
            AlgorithmArg::SlidingWindow => ratelimit::Policy::sliding_window(quota),
            AlgorithmArg::Gcra => ratelimit::Policy::gcra(quota),
        };
        ratelimit::RateLimiter::builder(open(&self.url).await?, &self.name)
            .default_policy(policy)
            .build()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fleetstate: {e}");
            ExitCode::from(2)
        }
    }
}

use fleetstate::open;

/// Prints `output` as JSON or text; its exit code.
#[allow(clippy::print_stdout)]
fn emit(output: fleetstate::Output, json: bool) -> ExitCode {
    if json {
        println!("{}", output.json);
    } else {
        println!("{}", output.text);
    }
    if output.success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[allow(clippy::print_stdout)]
async fn run(cli: Cli) -> Result<ExitCode, store_core::BoxError> {
    let json = cli.json;
    let print = |value: serde_json::Value, text: String| {
        if json {
            println!("{value}");
        } else {
            println!("{text}");
        }
    };
    match cli.command {
        Command::Verify {
            url,
            junit,
            only,
            skip,
            concurrency,
            instances,
        } => {
            let registry = registry::all();
            let first = registry::open(&registry, &url).await?;
            let mut stores = vec![first.clone()];
            for _ in 1..instances.max(1) {
                stores.push(if registry::is_private(&url) {
                    first.clone()
                } else {
                    registry::open(&registry, &url).await?
                });
            }
            let selection = verify::Selection { only, skip };
            let total = store_core::conformance::cases::<SharedStore>()
                .iter()
                .filter(|c| selection.runs(c.group, c.name))
                .count();
            let bar = if json {
                indicatif::ProgressBar::hidden()
            } else {
                indicatif::ProgressBar::new(total as u64)
            };
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                    .expect("a valid template"),
            );
            let report = verify::run(stores, &selection, concurrency, |case| {
                bar.set_message(case.name.clone());
                bar.inc(1);
            })
            .await;
            bar.finish_and_clear();
            if let Some(path) = junit {
                let xml = verify::to_junit(&report, &url)
                    .map_err(|e| store_core::Error::InvalidArgument(e.to_string()))?;
                std::fs::write(&path, xml).map_err(|e| {
                    store_core::Error::InvalidArgument(format!("writing {}: {e}", path.display()))
                })?;
            }
            if json {
                println!("{}", verify::to_json(&report, &url));
            } else {
                println!("{}", verify::summary_table(&report));
                for case in &report.cases {
                    if let (Some(detail), status @ ("failed" | "skipped")) =
                        (verify::detail(case), verify::status(case))
                    {
                        println!("{status:<8} {}: {detail}", case.name);
                    }
                }
            }
            Ok(if report.is_success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Get {
            url,
            namespace,
            key,
            encoding,
        } => {
            let store = open(&url).await?;
            match store.get(&namespace, &key).await? {
                Some(entry) => {
                    print(entry_json(&entry, encoding), entry_text(&entry, encoding));
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    print(serde_json::Value::Null, format!("`{key}` is absent"));
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Set {
            url,
            namespace,
            key,
            value,
            ttl,
            if_absent,
            if_version,
        } => {
            let store = open(&url).await?;
            let opts = match (if_absent, if_version) {
                (true, _) => SetOptions::if_absent(),
                (false, Some(v)) => SetOptions::if_version(store_core::raw::version(v)),
                (false, None) => SetOptions::always(),
            }
            .with_ttl_opt(ttl);
            let outcome = store
                .set(&namespace, &key, Bytes::from(value), opts)
                .await?;
            match outcome.version() {
                Some(v) => {
                    let v = store_core::raw::version_number(v);
                    print(
                        serde_json::json!({"written": true, "version": v.to_string()}),
                        format!("written, version {v}"),
                    );
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    print(
                        serde_json::json!({"written": false}),
                        "rejected: the condition did not hold".to_owned(),
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Delete {
            url,
            namespace,
            key,
        } => {
            let store = open(&url).await?;
            let existed = store
                .delete(&namespace, &key, DeleteCondition::Always)
                .await?;
            print(
                serde_json::json!({"deleted": existed}),
                if existed { "deleted" } else { "was absent" }.to_owned(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Incr {
            url,
            namespace,
            key,
            delta,
            ttl,
        } => {
            let store = open(&url).await?;
            let out = store.incr(&namespace, &key, delta, ttl).await?;
            print(
                serde_json::json!({"value": out.value}),
                out.value.to_string(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::List {
            url,
            namespace,
            prefix,
            limit,
        } => {
            let store = open(&url).await?;
            let page_size = store.capabilities().max_list_limit.min(limit.max(1));
            let mut keys = Vec::new();
            let mut cursor: Option<Cursor> = None;
            loop {
                let page = store
                    .list(&namespace, &prefix, cursor.as_ref(), page_size)
                    .await?;
                keys.extend(page.keys);
                match page.cursor {
                    Some(next) if keys.len() < limit => cursor = Some(next),
                    _ => break,
                }
            }
            keys.truncate(limit);
            print(serde_json::json!({"keys": keys}), keys.join("\n"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Clear {
            url,
            namespace,
            prefix,
        } => {
            let store = open(&url).await?;
            let removed = store.clear(&namespace, &prefix).await?;
            print(
                serde_json::json!({"removed": removed}),
                format!("removed {removed} keys"),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Ratelimit { action } => {
            match action {
                RatelimitAction::Status(args) => {
                    let d = args
                        .limiter()
                        .await?
                        .status(&args.resource, &args.key)
                        .await?;
                    print(
                        serde_json::json!({
                            "allowed": d.allowed,
                            "limit": d.limit,
                            "remaining": d.remaining,
                            "reset_after_ms": d.reset_after.as_millis() as u64,
                            "retry_after_ms": d.retry_after.map(|r| r.as_millis() as u64),
                        }),
                        format!(
                            "{} · {} of {} left · resets in {:.1} s{}",
                            if d.allowed {
                                "would be allowed"
                            } else {
                                "would be refused"
                            },
                            d.remaining,
                            d.limit,
                            d.reset_after.as_secs_f64(),
                            d.retry_after
                                .map(|r| format!(" · retry in {:.1} s", r.as_secs_f64()))
                                .unwrap_or_default()
                        ),
                    );
                }
                RatelimitAction::Reset(args) => {
                    args.limiter()
                        .await?
                        .reset(&args.resource, &args.key)
                        .await?;
                    print(serde_json::json!({"reset": true}), "reset".to_owned());
                }
                RatelimitAction::Cooldown { limiter, pause } => {
                    limiter
                        .limiter()
                        .await?
                        .cooldown(&limiter.resource, &limiter.key, pause)
                        .await?;
                    print(
                        serde_json::json!({"paused_ms": pause.as_millis() as u64}),
                        format!("refused for {:.1} s across the fleet", pause.as_secs_f64()),
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Records { action } => Ok(emit(fleetstate::records::run(action).await?, json)),
        Command::Idempotency { action } => Ok(emit(fleetstate::idem::run(action).await?, json)),
        Command::Dynamodb { action } => Ok(emit(fleetstate::iam::dynamodb(action).await?, json)),
        Command::Iam(args) => Ok(emit(fleetstate::iam::policy(&args)?, json)),
        Command::Bench(args) => {
            let total = (args.ops.len() * args.concurrency.len()) as u64;
            let bar = if json {
                indicatif::ProgressBar::hidden()
            } else {
                indicatif::ProgressBar::new(total)
            };
            let results = fleetstate::bench::run(&args, |m| {
                bar.set_message(format!("{:?} x{}", m.op, m.concurrency));
                bar.inc(1);
            })
            .await?;
            bar.finish_and_clear();
            Ok(emit(fleetstate::bench::report(&results), json))
        }
        Command::Demo { instances } => {
            let report = fleetstate::demo::run_embedded(instances).await?;
            print(
                serde_json::json!({
                    "instances": report.instances,
                    "checks": report.checks,
                    "limit": report.limit,
                    "admitted": report.admitted,
                    "deliveries": report.deliveries,
                    "handler_runs": report.handler_runs,
                    "same_result": report.same_result,
                    "records": report.records,
                }),
                report.to_string(),
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
