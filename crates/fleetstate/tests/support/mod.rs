//! The binary as a user runs it, and throwaway stores the tests share with it.

#![allow(dead_code)]

use assert_cmd::Command;

pub(crate) fn fleetstate() -> Command {
    Command::cargo_bin("fleetstate").expect("the binary")
}

pub(crate) fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh path under the test target directory.
pub(crate) fn tmp_path(stem: &str, ext: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{stem}-{}.{ext}", fastrand::u64(..)))
}

/// A fresh SQLite file every process can open.
pub(crate) fn sqlite_url(stem: &str) -> String {
    format!("sqlite://{}", tmp_path(stem, "db").display())
}

/// Runs `args`, asserting success; its standard output.
pub(crate) fn ok(args: &[&str]) -> String {
    let out = fleetstate().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// Runs `args` with `--json`, asserting success; the parsed output.
pub(crate) fn ok_json(args: &[&str]) -> serde_json::Value {
    let out = ok(&[&["--json"], args].concat());
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}
