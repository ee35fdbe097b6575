//! fleetstate's automation. `cargo xtask ci` does exactly what CI does.
//!
//! ```text
//! cargo xtask ci       fmt check, clippy -D warnings, tests, docs, cargo-deny
//! cargo xtask test     every test: nextest over the workspace, then the doc tests
//! cargo xtask lint     fmt check and clippy only
//! cargo xtask doc      rustdoc with warnings as errors
//! cargo xtask deny     cargo-deny (offline against ../shared/advisory-db when present)
//! cargo xtask bench    every crate's benchmarks (starts the services they need)
//! cargo xtask services up|down   real test servers (Redis standalone, cluster and TLS,
//!                                DynamoDB Local) on free loopback ports, for a
//!                                development session
//! ```
//!
//! Missing tools (cargo-nextest, cargo-deny) are installed with `cargo install --locked`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod services;

type Result<T = ()> = std::result::Result<T, String>;

const USAGE: &str = "usage: cargo xtask <ci|test|lint|doc|deny|bench|services up|services down>";
/// cargo-deny reads a database from `<db-path>/advisory-db-<hash of its URL>`.
const ADVISORY_DB_DIR: &str = "advisory-db-3157b0e258782691";
const CARGO_DENY_VERSION: &str = "0.20.2";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("test") => test(),
        Some("lint") => lint(),
        Some("doc") => doc(),
        Some("deny") => deny(),
        Some("bench") => with_services(|env| {
            run(Command::new("cargo")
                .args(["bench", "--workspace"])
                .envs(env.iter().cloned()))
        }),
        Some("services") => match args.get(1).map(String::as_str) {
            // Servers recorded by an earlier `up` are stopped, not orphaned.
            Some("up") => {
                services::down(&root()).and_then(|()| services::up(&root(), true).map(drop))
            }
            Some("down") => services::down(&root()),
            _ => Err(USAGE.to_owned()),
        },
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

fn ci() -> Result {
    lint()?;
    test()?;
    doc()?;
    deny()
}

fn lint() -> Result {
    step("rustfmt");
    cargo(&["fmt", "--all", "--check"])?;
    step("clippy");
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ])?;
    // The Worker-side code of store-cloudflare-kv compiles for wasm only.
    step("clippy (wasm32: store-cloudflare-kv and its test Worker's code)");
    cargo(&[
        "clippy",
        "-p",
        "store-cloudflare-kv",
        "--all-features",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ])
}

fn test() -> Result {
    ensure_tool("cargo-nextest", &["cargo-nextest", "--locked"])?;
    with_services(|env| {
        step("tests (nextest)");
        run(Command::new("cargo")
            .args(["nextest", "run", "--workspace", "--all-features"])
            .envs(env.iter().cloned()))?;
        step("doc tests");
        run(Command::new("cargo")
            .args(["test", "--doc", "--workspace", "--all-features"])
            .envs(env.iter().cloned()))
    })
}

/// Starts the test services, runs `f` with their URLs, and stops them whatever `f` did.
fn with_services(f: impl FnOnce(&[(String, String)]) -> Result) -> Result {
    step("services");
    let started = services::up(&root(), false)?;
    let result = f(&started.env);
    services::stop(&started);
    result
}

fn doc() -> Result {
    step("rustdoc");
    run(Command::new("cargo")
        .args(["doc", "--workspace", "--no-deps", "--all-features"])
        .env("RUSTDOCFLAGS", "-D warnings"))
}

fn deny() -> Result {
    let spec = format!("cargo-deny@{CARGO_DENY_VERSION}");
    ensure_tool("cargo-deny", &[spec.as_str(), "--locked"])?;
    step("cargo-deny");
    let snapshot = root().join("../shared/advisory-db");
    if !snapshot.is_dir() {
        return cargo(&["deny", "check"]);
    }
    // These machines cannot fetch the RustSec database: check against the snapshot,
    // which cargo-deny only reads from a git repository.
    let dbs = root().join("target/advisory-dbs");
    prepare_snapshot(&snapshot, &dbs.join(ADVISORY_DB_DIR))?;
    // `--offline` also keeps cargo offline, and the graph spans every platform's
    // dependencies: fetch them (crates.io is reachable) before checking.
    cargo(&["fetch"])?;
    run(Command::new("cargo")
        .args(["deny", "--offline", "check"])
        .env("FLEETSTATE_ADVISORY_DBS", &dbs))
}

fn prepare_snapshot(snapshot: &Path, db: &Path) -> Result {
    if db.join(".git").is_dir() {
        return Ok(());
    }
    println!("xtask: copying the advisory snapshot into {}", db.display());
    std::fs::create_dir_all(db).map_err(|e| format!("creating {}: {e}", db.display()))?;
    run(Command::new("cp").arg("-r").arg(snapshot.join(".")).arg(db))?;
    let git = |args: &[&str]| {
        run(Command::new("git")
            .args(["-c", "user.name=xtask", "-c", "user.email=xtask@localhost"])
            .args(args)
            .current_dir(db))
    };
    git(&["init", "--quiet"])?;
    git(&["add", "--all"])?;
    git(&[
        "commit",
        "--quiet",
        "--no-gpg-sign",
        "-m",
        "RustSec advisory snapshot",
    ])
}

/// Installs `binary` with `cargo install <args>` unless it is already on the PATH.
fn ensure_tool(binary: &str, install_args: &[&str]) -> Result {
    let found = Command::new(binary)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Ok(());
    }
    step(&format!("installing {binary}"));
    let mut args = vec!["install"];
    args.extend_from_slice(install_args);
    cargo(&args)
}

fn step(name: &str) {
    println!("\n==> {name}");
}

fn cargo(args: &[&str]) -> Result {
    run(Command::new("cargo").args(args))
}

fn run(cmd: &mut Command) -> Result {
    cmd.current_dir_if_unset(root());
    let status = cmd
        .status()
        .map_err(|e| format!("could not start {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed with {status}"))
    }
}

trait CurrentDirIfUnset {
    fn current_dir_if_unset(&mut self, dir: PathBuf) -> &mut Self;
}

impl CurrentDirIfUnset for Command {
    fn current_dir_if_unset(&mut self, dir: PathBuf) -> &mut Self {
        if self.get_current_dir().is_none() {
            self.current_dir(dir);
        }
        self
    }
}
