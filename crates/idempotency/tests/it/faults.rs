//! Under faults, on Redis and DynamoDB Local: 64 concurrent calls of one payload, on 4
//! store instances each behind
//! a fault proxy that delays, cuts mid-request, black-holes and resets connections. The
//! handler runs at most once while its record lives, and every caller gets the result,
//! `AlreadyInProgress`, or an error that says whether the handler may have run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use idempotency::{Config, Idempotency, IdempotencyError};
use serde_json::{Value, json};
use store_core::SharedStore;
use store_core::testing::{FaultProxy, Faults};

use crate::fault_backends::backends;

const CALLS: usize = 64;
const PAYLOADS: usize = 12;

#[derive(Debug, Default)]
struct Outcomes {
    results: usize,
    in_progress: usize,
    not_run: usize,
    ran_unrecorded: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payload_runs_at_most_once_under_faults() {
    for (backend, proxied, _direct) in backends(4).await {
        let (proxies, stores): (Vec<FaultProxy>, Vec<SharedStore>) = proxied.into_iter().unzip();
        for proxy in &proxies {
            proxy.set(Faults::mixed(20));
        }
        runs_at_most_once(backend, &proxies, &stores).await;
    }
}

async fn runs_at_most_once(backend: &str, proxies: &[FaultProxy], stores: &[SharedStore]) {
    let mut totals = Outcomes::default();
    for round in 0..PAYLOADS {
        let payload = json!({"order": format!("o-{}", fastrand::u64(..)), "round": round});
        let stores = stores.to_vec();
        let runs = Arc::new(AtomicUsize::new(0));
        let calls: Vec<_> = (0..CALLS)
            .map(|i| {
                let config = Config::new("faults")
                    .expires_after(Duration::from_secs(600))
                    // Longer than the test: no run is ever presumed dead here.
                    .in_progress_window(Duration::from_secs(300));
                let idempotency =
                    Idempotency::new(stores[i % stores.len()].clone(), config).unwrap();
                let (payload, runs) = (payload.clone(), runs.clone());
                tokio::spawn(async move {
                    idempotency
                        .idempotent(&payload, || async {
                            runs.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok::<Value, IdempotencyError>(json!("charged"))
                        })
                        .await
                })
            })
            .collect();
        let mut outcomes = Outcomes::default();
        for call in calls {
            match call.await.unwrap() {
                Ok(result) => {
                    assert_eq!(result, json!("charged"));
                    outcomes.results += 1;
                }
                Err(IdempotencyError::AlreadyInProgress { .. }) => outcomes.in_progress += 1,
                Err(e) if e.handler_may_have_run() => {
                    assert!(matches!(e, IdempotencyError::Unrecorded(_)), "{e}");
                    outcomes.ran_unrecorded += 1;
                }
                Err(e @ IdempotencyError::Persistence(_)) => {
                    assert!(!e.handler_may_have_run());
                    outcomes.not_run += 1;
                }
                Err(other) => panic!("an unexpected error under faults: {other}"),
            }
        }
        let ran = runs.load(Ordering::SeqCst);
        assert!(
            ran <= 1,
            "round {round}: the handler ran {ran} times: {outcomes:?}"
        );
        // Whoever ran it learned so: a result, or an error saying it ran.
        if ran == 1 {
            assert!(
                outcomes.results + outcomes.ran_unrecorded >= 1,
                "{backend} round {round}: the handler ran and no caller was told: {outcomes:?}"
            );
        }
        totals.results += outcomes.results;
        totals.in_progress += outcomes.in_progress;
        totals.not_run += outcomes.not_run;
        totals.ran_unrecorded += outcomes.ran_unrecorded;
    }
    let faults: Vec<_> = proxies.iter().map(FaultProxy::counts).collect();
    eprintln!("\nidempotency under faults on {backend}: {totals:?}; proxies {faults:?}");
    assert!(
        faults
            .iter()
            .map(|c| c.cuts + c.black_holes + c.resets)
            .sum::<u64>()
            > 0
    );
    assert!(totals.results > 0, "{totals:?}");
}
