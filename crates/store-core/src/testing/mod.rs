//! Test and benchmark helpers shared by every crate of the workspace (feature
//! `testing`): the URLs of the services `cargo xtask` starts, a server process a test
//! owns, core placement and the shared parts of the backends' benchmarks, and an
//! operation counter.
//!
//! Each backend adds its own request counter behind its own `testing` feature
//! (`store_redis::testing::CommandCounter`, `store_dynamodb::testing::RequestCounter`).

pub mod bench;
mod counting;
mod fault_proxy;
mod local_server;
mod placement;
pub mod processes;

pub use counting::Counting;
pub use fault_proxy::{FaultCounts, FaultProxy, Faults};
pub use local_server::LocalServer;
pub use placement::CoreSplit;

/// The URL of a test service: the environment variable `var`, or the line `var=...` of
/// the `target/services/env` file that `cargo xtask services up` writes (looked for from
/// the current directory upwards).
///
/// When neither has it: under `CI=true` this panics (a missing service is a failure
/// there); elsewhere it says so on stderr and returns `None`, so the test can skip
/// loudly.
pub fn service_url(var: &str) -> Option<String> {
    if let Ok(url) = std::env::var(var) {
        return Some(url);
    }
    let from_file = std::env::current_dir().ok().and_then(|dir| {
        dir.ancestors().find_map(|d| {
            let text = std::fs::read_to_string(d.join("target/services/env")).ok()?;
            text.lines()
                .find_map(|l| l.strip_prefix(var)?.strip_prefix('=').map(str::to_owned))
        })
    });
    if from_file.is_some() {
        return from_file;
    }
    let message = format!(
        "{var} is not set and no services are running: start them with `cargo xtask services \
         up`, or run everything with `cargo xtask test`"
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("under CI=true a missing service is a failure: {message}");
    }
    eprintln!("SKIPPED (service unavailable): {message}");
    None
}
