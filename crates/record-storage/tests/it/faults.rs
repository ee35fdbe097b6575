//! Under faults, on Redis and DynamoDB Local: insert-only writes (`deny_update_overwrite`) through a fault proxy
//! that delays, cuts mid-request, black-holes and resets connections. A write reported
//! as failed was not applied, unless its error says it may have been
//! (`Delivery::MaybeApplied`); a write reported done is there.

use record_storage::{Options, RecordError, RecordStorage};
use store_core::testing::{FaultProxy, Faults};
use store_core::{Delivery, Error, SharedStore};

use crate::fault_backends::backends;

const WRITES: usize = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_insert_was_not_applied_unless_its_error_says_it_may_have_been() {
    for (backend, mut proxied, direct) in backends(1).await {
        let (proxy, faulty) = proxied.remove(0);
        inserts_under_faults(backend, &proxy, faulty, direct).await;
    }
}

async fn inserts_under_faults(
    backend: &str,
    proxy: &FaultProxy,
    faulty: SharedStore,
    direct: SharedStore,
) {
    let context = crate::backends::fresh_context();
    let insert_only = Options::new()
        .context(context.clone())
        .deny_update_overwrite(true);
    let through = RecordStorage::new(faulty, insert_only.clone());
    let truth = RecordStorage::new(direct, insert_only);
    proxy.set(Faults::mixed(15));
    let (mut written, mut not_sent, mut maybe) = (0, 0, 0);
    for i in 0..WRITES {
        let key = format!("order-{i}");
        let outcome = through.set_value(&key, &i).await;
        let stored = truth.get_value::<usize>(&key).await.unwrap();
        match outcome {
            Ok(_) => {
                written += 1;
                assert_eq!(
                    stored,
                    Some(i),
                    "{backend} {key}: reported written, not there"
                );
            }
            Err(RecordError::Store(Error::Unavailable {
                delivery: Delivery::MaybeApplied,
                ..
            })) => {
                maybe += 1;
                assert!(
                    stored.is_none() || stored == Some(i),
                    "{backend} {key}: {stored:?}"
                );
            }
            Err(RecordError::Store(e)) => {
                not_sent += 1;
                assert!(!e.may_have_applied());
                assert_eq!(
                    stored, None,
                    "{key}: reported not applied ({e}), yet stored"
                );
            }
            Err(other) => panic!("{key}: an unexpected error under faults: {other}"),
        }
    }
    proxy.set(Faults::none());
    let counts = proxy.counts();
    eprintln!(
        "\ninsert-only under faults on {backend}: {written} written, {not_sent} not applied, {maybe} maybe applied; {counts:?}"
    );
    assert!(
        counts.cuts + counts.black_holes + counts.resets > 0,
        "{counts:?}"
    );
    assert!(
        maybe > 0 && written > 0,
        "faults should leave some writes in doubt"
    );
    truth.clear_scope().await.unwrap();
}
