//! `records`, `idempotency` and `bench` as an operator runs them, on state a service
//! wrote through the libraries.

mod support;

use serde_json::json;
use support::{fleetstate, ok, ok_json, sqlite_url, stderr, stdout, tmp_path};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[test]
fn records_are_scoped_decoded_and_decrypted_with_the_keyring_never_printed() {
    let url = sqlite_url("fleetstate-records");
    let keyring = tmp_path("keyring", "txt");
    std::fs::write(&keyring, format!("7:{KEY}\n")).unwrap();
    let keyring = keyring.to_str().unwrap();
    let env_a = ["--workspace", "w", "--environment", "a"];
    let env_b = ["--workspace", "w", "--environment", "b"];
    let set = |args: &[&str]| ok(&[&["records", "set", &url], args].concat());

    set(&[
        "plan",
        r#"{"tier":"pro","seats":5}"#,
        env_a[0],
        env_a[1],
        env_a[2],
        env_a[3],
    ]);
    set(&[
        "card",
        r#""4111""#,
        "--secure",
        "--keyring-file",
        keyring,
        "--format",
        "msgpack",
    ]);
    // A service wrote `card` through the library; the operator reads it with the keyring.
    let card = ok_json(&["records", "get", &url, "card", "--keyring-file", keyring]);
    assert_eq!(card["value"], "4111");
    // Without the keyring the read is refused, saying why, and nothing leaks.
    let out = fleetstate()
        .args(["records", "get", &url, "card"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("keyring"), "{}", stderr(&out));
    for text in [stdout(&out), stderr(&out)] {
        assert!(!text.contains(KEY) && !text.contains("4111"), "{text}");
    }

    let plan = ok_json(&[&["records", "get", &url, "plan"][..], &env_a].concat());
    assert_eq!(plan["value"], json!({"tier": "pro", "seats": 5}));
    // Another environment of the workspace does not see it; workspace scope is apart.
    let out = fleetstate()
        .args(["records", "get", &url, "plan"])
        .args(env_b)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let out = fleetstate()
        .args(["records", "get", &url, "plan", "--scope", "workspace"])
        .args(env_a)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    let insert = |value: &str| {
        fleetstate()
            .args(["records", "set", &url, "plan", value, "--if-absent"])
            .args(env_a)
            .output()
            .unwrap()
    };
    assert_eq!(
        insert("1").status.code(),
        Some(1),
        "insert-only over a record"
    );
    let listed = ok_json(&[&["records", "list", &url][..], &env_a].concat());
    assert_eq!(listed["keys"], json!(["plan"]));
    assert!(ok(&[&["records", "clear", &url][..], &env_a].concat()).contains("removed 1"));
    assert_eq!(
        ok_json(&[&["records", "list", &url][..], &env_a].concat())["keys"],
        json!([])
    );
    let out = fleetstate()
        .args(["records", "set", &url, "x", "not json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not JSON"), "{}", stderr(&out));
}

#[test]
fn idempotency_inspect_shows_a_completed_record_and_forget_lets_it_run_again() {
    let url = sqlite_url("fleetstate-idem");
    let payload = json!({"order": "o-17", "cents": 1250});
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let call = |runs: &'static std::sync::atomic::AtomicUsize| {
        let (url, payload) = (url.clone(), payload.clone());
        runtime.block_on(async move {
            let store = fleetstate::open(&url).await.unwrap();
            let config = idempotency::Config::new("charge")
                .event_key_jmespath("order")
                .unwrap()
                .validate_whole_payload();
            let idem = idempotency::Idempotency::new(store, config).unwrap();
            idem.idempotent(&payload, || async {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok::<_, idempotency::IdempotencyError>(json!({"receipt": "r-1"}))
            })
            .await
            .unwrap()
        })
    };
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    call(&RUNS);
    let by_payload = [
        "--name",
        "charge",
        "--payload",
        r#"{"cents":1250,"order":"o-17"}"#,
        "--event-key-jmespath",
        "order",
    ];
    let info = ok_json(&[&["idempotency", "inspect", &url][..], &by_payload].concat());
    assert_eq!(info["status"], "COMPLETED");
    assert_eq!(info["data"], json!({"receipt": "r-1"}));
    assert_eq!(info["orphaned"], false);
    assert!(info["validation"].as_str().unwrap().len() == 64, "{info}");
    let key = info["key"].as_str().unwrap().to_owned();
    let text = ok(&[
        "idempotency",
        "inspect",
        &url,
        "--name",
        "charge",
        "--key",
        &key,
    ]);
    assert!(text.contains("completed") && text.contains("r-1"), "{text}");

    ok(&[
        "idempotency",
        "forget",
        &url,
        "--name",
        "charge",
        "--key",
        &key,
    ]);
    let out = fleetstate()
        .args([
            "idempotency",
            "inspect",
            &url,
            "--name",
            "charge",
            "--key",
            &key,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "forgotten: {}", stdout(&out));
    call(&RUNS);
    assert_eq!(
        RUNS.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "the handler ran again after forget"
    );
    let out = fleetstate()
        .args([
            "idempotency",
            "inspect",
            &url,
            "--name",
            "charge",
            "--key",
            "xyz",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("64 hex digits"), "{}", stderr(&out));
}

#[test]
fn bench_reports_every_pair_and_refuses_a_namespace_with_data() {
    let report = ok_json(&[
        "bench",
        "memory://",
        "--duration",
        "150ms",
        "--ops",
        "get,set,incr-hot",
        "--concurrency",
        "1,4",
    ]);
    let rows = report["results"].as_array().unwrap();
    assert_eq!(rows.len(), 6, "{report}");
    for row in rows {
        assert!(row["ops_per_sec"].as_f64().unwrap() > 0.0, "{row}");
        assert_eq!(row["errors"], 0, "{row}");
        let (p50, p99, p999) = (
            row["p50_ms"].as_f64().unwrap(),
            row["p99_ms"].as_f64().unwrap(),
            row["p999_ms"].as_f64().unwrap(),
        );
        assert!(p50 <= p99 && p99 <= p999, "{row}");
    }
    let text = ok(&[
        "bench",
        "memory://",
        "--duration",
        "100ms",
        "--ops",
        "get",
        "--concurrency",
        "2",
    ]);
    assert!(
        text.contains("p99.9") && text.contains("get at 2 tasks"),
        "{text}"
    );

    let url = sqlite_url("fleetstate-bench");
    ok(&["set", &url, "fleetstate-bench", "precious", "data"]);
    let out = fleetstate()
        .args(["bench", &url, "--duration", "100ms", "--concurrency", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    ok(&[
        "bench",
        &url,
        "--duration",
        "100ms",
        "--concurrency",
        "1",
        "--ops",
        "set",
        "--force",
    ]);
    let left = ok_json(&["list", &url, "fleetstate-bench"]);
    assert_eq!(
        left["keys"],
        json!(["precious"]),
        "only its own keys deleted"
    );
}
