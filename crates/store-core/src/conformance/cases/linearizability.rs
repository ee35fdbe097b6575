//! Linearizability: random concurrent histories on a few hot keys, each client on its
//! own instance, checked against the sequential model of the contract
//! ([`conformance::linearizability`](crate::conformance::linearizability)).

use std::sync::Arc;

use super::{fail, pass, skip};
use crate::Store;
use crate::conformance::linearizability::{HistoryShape, record};
use crate::conformance::{CaseResult, Ctx, Failure};

/// Histories recorded and checked per run.
pub const HISTORIES: usize = 100;

/// [`HISTORIES`] random histories of 4 to 8 clients x 20 to 50 operations (get, set
/// with every condition, delete with and without a version, incr) on 2 registers and a
/// counter: every one is linearizable. Catches what counting misses: stale reads, lost
/// acknowledged writes, writes reported as failed that landed, versions going back.
pub async fn random_histories_are_linearizable<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if !cx.caps().strongly_consistent_reads {
        return skip("backend does not declare strongly consistent reads");
    }
    let ns = cx.ns();
    let stores: Vec<Arc<S>> = (0..cx.instance_count()).map(|i| cx.instance(i)).collect();
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    for n in 0..HISTORIES {
        let shape = HistoryShape::random(&mut rng);
        let history = record(&stores, &ns, &format!("h{n}/"), shape, rng.u64(..))
            .await
            .map_err(Failure)?;
        if let Err(story) = history.check() {
            return fail(format!(
                "history {n} of {HISTORIES} (seed {seed}, {} clients on {} instances, {} \
                 operations, {} open-ended): {story}",
                shape.clients,
                stores.len(),
                history.len(),
                history.open_ended()
            ));
        }
    }
    pass()
}

/// This group's cases, in order, for [`conformance_tests!`](crate::conformance_tests)
/// and [`cases`](crate::conformance::cases()).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_group_linearizability {
    ($mode:ident [$($arg:tt)*]) => {
        $crate::__conformance_emit! { $mode [$($arg)*] linearizability:
            random_histories_are_linearizable,
        }
    };
}
