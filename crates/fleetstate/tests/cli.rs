//! The `fleetstate` binary run as a user runs it.

mod support;

use support::{fleetstate, ok, sqlite_url, stdout};

fn junit_file() -> std::path::PathBuf {
    support::tmp_path("fleetstate-junit", "xml")
}

#[test]
fn verify_passes_on_the_embedded_store_and_writes_junit() {
    let junit = junit_file();
    let out = fleetstate()
        .args(["verify", "memory://", "--concurrency", "8", "--junit"])
        .arg(&junit)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("total"), "{}", stdout(&out));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"0\""), "{xml}");
    assert!(xml.contains("concurrent_incr_is_exact"), "{xml}");
}

#[test]
fn verify_fails_with_exit_1_on_a_store_that_resends_increments() {
    let junit = junit_file();
    let out = fleetstate()
        .args([
            "verify",
            "broken-memory://",
            "--concurrency",
            "8",
            "--only",
            "incr",
        ])
        .args(["--only", "concurrency", "--junit"])
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("failed"), "{}", stdout(&out));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<failure"), "{xml}");
    assert!(xml.contains("concurrent_incr_is_exact"), "{xml}");
}

#[test]
fn verify_json_reports_every_selected_case() {
    let out = fleetstate()
        .args(["--json", "verify", "memory://", "--only", "basic", "--skip"])
        .arg("basic::max_size_value_round_trips")
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = report["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    assert!(
        cases
            .iter()
            .all(|c| c["name"].as_str().unwrap().starts_with("basic::"))
    );
    assert!(
        !cases
            .iter()
            .any(|c| c["name"] == "basic::max_size_value_round_trips")
    );
    assert_eq!(report["failed"], 0);
}

/// Set, get, incr, list, delete and clear through the command on `url`.
fn operate(url: &str) {
    let ns = format!("cli-{}", fastrand::u64(..));
    ok(&["set", url, &ns, "greeting", "hello", "--ttl", "5m"]);
    let got = ok(&["--json", "get", url, &ns, "greeting"]);
    let entry: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(entry["value"], "hello");
    assert!(
        entry["expires_in_ms"].as_u64().unwrap() > 200_000,
        "{entry}"
    );
    // An insert-only write of a present key is rejected with exit 1.
    let out = fleetstate()
        .args(["set", url, &ns, "greeting", "again", "--if-absent"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(ok(&["incr", url, &ns, "hits", "5"]).trim(), "5");
    assert_eq!(ok(&["incr", url, &ns, "hits", "-2"]).trim(), "3");
    let listed = ok(&["--json", "list", url, &ns]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let mut keys: Vec<String> = serde_json::from_value(listed["keys"].clone()).unwrap();
    keys.sort();
    assert_eq!(
        keys,
        ["greeting", "hits"],
        "every key once (Redis lists unsorted)"
    );
    assert_eq!(ok(&["delete", url, &ns, "greeting"]).trim(), "deleted");
    assert!(ok(&["clear", url, &ns]).contains("removed 1 keys"));
    let out = fleetstate()
        .args(["get", url, &ns, "hits"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "absent after clear");
}

#[test]
fn operations_round_trip_on_a_sqlite_file() {
    operate(&sqlite_url("fleetstate-cli"));
}

#[test]
fn operations_round_trip_on_redis() {
    let Some(url) = store_core::testing::service_url("FLEETSTATE_REDIS_URL") else {
        return;
    };
    operate(&url);
}

#[test]
fn verify_passes_on_the_test_redis_and_postgres() {
    for var in ["FLEETSTATE_REDIS_URL", "FLEETSTATE_POSTGRES_URL"] {
        let Some(url) = store_core::testing::service_url(var) else {
            continue;
        };
        let url = if var.contains("POSTGRES") {
            format!("{url}?table=fleetstate_verify")
        } else {
            url
        };
        if var.contains("POSTGRES") {
            // The command never creates tables: make it as an operator would.
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async {
                store_postgres::PostgresStoreBuilder::from_url(&url)
                    .unwrap()
                    .create_schema(true)
                    .build()
                    .await
                    .unwrap();
            });
        }
        let out = fleetstate()
            .args(["verify", &url, "--concurrency", "8"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{var}: {}", stdout(&out));
    }
}

#[test]
fn demo_shows_the_fleet_admitting_exactly_the_limit_and_running_the_handler_once() {
    let out = fleetstate().args(["--json", "demo"]).output().unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["admitted"], report["limit"]);
    assert_eq!(report["handler_runs"], 1);
    assert_eq!(report["same_result"], report["deliveries"]);
    let text = fleetstate().arg("demo").output().unwrap();
    assert!(
        stdout(&text).contains("the handler ran 1 time(s)"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn an_unknown_scheme_names_the_registered_ones() {
    let out = fleetstate()
        .args(["get", "mongodb://h/db", "ns", "k"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("redis") && err.contains("postgres"), "{err}");
}

#[test]
fn ratelimit_status_reset_and_cooldown_act_on_the_fleets_state() {
    let url = sqlite_url("fleetstate-rl");
    // A service's limiter takes 3 of 5 units.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = store_sqlite::SqliteStoreBuilder::from_url(&url)
            .unwrap()
            .build()
            .await
            .unwrap();
        let limiter = ratelimit::RateLimiter::builder(store, "checkout")
            .default_policy(ratelimit::Policy::fixed_window(
                ratelimit::Quota::per_minute(5),
            ))
            .build()
            .unwrap();
        for _ in 0..3 {
            assert!(limiter.check("api", "customer").await.unwrap().allowed);
        }
    });
    let limiter = [
        "--name",
        "checkout",
        "--resource",
        "api",
        "--key",
        "customer",
        "--limit",
        "5",
    ];
    let status = || {
        let out = fleetstate()
            .args(["--json", "ratelimit", "status", &url])
            .args(limiter)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let now = status();
    assert_eq!(now["allowed"], true);
    assert_eq!(
        now["remaining"], 2,
        "5 - 3 taken (status takes nothing): {now}"
    );
    let out = fleetstate()
        .args(["ratelimit", "cooldown", &url])
        .args(limiter)
        .args(["--pause", "30s"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(status()["allowed"], false, "refused during the cooldown");
    let out = fleetstate()
        .args(["ratelimit", "reset", &url])
        .args(limiter)
        .output()
        .unwrap();
    assert!(out.status.success());
    let after = status();
    assert_eq!(after["allowed"], true);
    assert_eq!(after["remaining"], 5, "a full budget again: {after}");
}
