//! Atomicity under races: many tasks, one key.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;

use super::{fail, must_get, pass, put, skip};
use crate::conformance::{CaseResult, Ctx, Failure, ensure, ensure_eq};
use crate::{Error, SetOptions, SetOutcome, Store};

/// Tasks in each race.
pub const TASKS: usize = 32;
/// Increments per task in the incr race.
pub const INCRS_PER_TASK: usize = 100;
/// Updates per task in the CAS race.
pub const CAS_UPDATES_PER_TASK: usize = 10;

/// Spawns `TASKS` tasks running `task(store, ns, i)`, task `i` on the subject's
/// instance `i` (in turn), all released at once.
pub(crate) fn race<S, T, F, Fut>(
    cx: &Ctx<S>,
    ns: &Arc<String>,
    task: F,
) -> Vec<tokio::task::JoinHandle<Result<T, Error>>>
where
    S: Store + 'static,
    T: Send + 'static,
    F: Fn(Arc<S>, Arc<String>, usize) -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>> + Send + 'static,
{
    let start = Arc::new(tokio::sync::Barrier::new(TASKS));
    (0..TASKS)
        .map(|i| {
            let run = task(cx.instance(i), ns.clone(), i);
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                run.await
            })
        })
        .collect()
}

async fn join_all<T: Send + 'static>(
    handles: Vec<tokio::task::JoinHandle<Result<T, Error>>>,
) -> Result<Vec<T>, Failure> {
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        match handle.await {
            Ok(result) => out.push(result?),
            Err(join) => return fail(format!("a racing task panicked: {join}")),
        }
    }
    Ok(out)
}

/// 32 tasks race `IfAbsent` on one key: exactly one wins, the others see its value.
pub async fn if_absent_race_has_exactly_one_winner<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if !cx.caps().compare_and_set {
        return skip("backend does not declare compare_and_set");
    }
    let ns = Arc::new(cx.ns());
    let handles = race(&cx, &ns, move |store, ns, i| async move {
        let value = Bytes::from(format!("task-{i}"));
        store.set(&ns, "lock", value, SetOptions::if_absent()).await
    });
    let outcomes = join_all(handles).await?;
    let winners: Vec<usize> = (0..TASKS).filter(|&i| outcomes[i].is_written()).collect();
    ensure_eq!(
        winners.len(),
        1,
        "IfAbsent winners among {TASKS} tasks ({winners:?})"
    );
    let winner = winners[0];
    let entry = must_get(cx.store(), &ns, "lock").await?;
    ensure_eq!(
        entry.value,
        Bytes::from(format!("task-{winner}")),
        "stored value is the winner's"
    );
    if cx.caps().returns_current_on_reject {
        for (i, outcome) in outcomes.iter().enumerate() {
            if let SetOutcome::Rejected { current } = outcome {
                let seen = current.as_ref().map(|c| &c.value);
                ensure!(
                    seen == Some(&entry.value),
                    "loser {i} was told the current value is {seen:?}, not the winner's"
                );
            }
        }
    }
    pass()
}

/// 32 tasks × 100 `incr(1)` on one counter total exactly 3200, and every intermediate
/// value 1..=3200 is returned exactly once.
pub async fn concurrent_incr_is_exact<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if !cx.caps().atomic_incr {
        return skip("backend does not declare atomic_incr");
    }
    let ns = Arc::new(cx.ns());
    let handles = race(&cx, &ns, move |store, ns, _| async move {
        let mut seen = Vec::with_capacity(INCRS_PER_TASK);
        for _ in 0..INCRS_PER_TASK {
            seen.push(store.incr(&ns, "hits", 1, None).await?.value);
        }
        Ok(seen)
    });
    let returned: Vec<i64> = join_all(handles).await?.into_iter().flatten().collect();
    let total = (TASKS * INCRS_PER_TASK) as i64;
    let distinct: BTreeSet<i64> = returned.iter().copied().collect();
    ensure_eq!(
        cx.store().incr(&ns, "hits", 0, None).await?.value,
        total,
        "final count"
    );
    ensure!(
        distinct.len() == returned.len() && distinct == (1..=total).collect(),
        "returned values are not exactly 1..={total}: {} returned, {} distinct",
        returned.len(),
        distinct.len()
    );
    pass()
}

/// 32 tasks race `incr` on one counter with deltas of +3 and -1 alternately: the
/// counter nets exactly the sum (an independent check of atomic `incr`, where a lost
/// update shows even when the values returned look plausible).
pub async fn mixed_delta_incr_race_nets_exactly<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if !cx.caps().atomic_incr {
        return skip("backend does not declare atomic_incr");
    }
    let ns = Arc::new(cx.ns());
    let handles = race(&cx, &ns, move |store, ns, i| async move {
        for n in 0..INCRS_PER_TASK {
            let delta = if (n + i) % 2 == 0 { 3 } else { -1 };
            store.incr(&ns, "net", delta, None).await?;
        }
        Ok(())
    });
    join_all(handles).await?;
    let expected: i64 = (0..TASKS)
        .flat_map(|i| (0..INCRS_PER_TASK).map(move |n| if (n + i) % 2 == 0 { 3 } else { -1 }))
        .sum();
    ensure_eq!(
        cx.store().incr(&ns, "net", 0, None).await?.value,
        expected,
        "net count after the race"
    );
    pass()
}

/// 32 tasks race `IfAbsent` on a key whose entry has expired: exactly one wins (the
/// expired entry counts as absent for all of them, and only one may take its place).
pub async fn if_absent_race_on_an_expired_key_has_exactly_one_winner<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if let Some(why) = cx.short_ttl_unsupported() {
        return skip(why);
    }
    if !cx.caps().compare_and_set {
        return skip("backend does not declare compare_and_set");
    }
    let ns = Arc::new(cx.ns());
    let ttl = SetOptions::always().with_ttl(cx.short_ttl());
    cx.store()
        .set(&ns, "lock", Bytes::from_static(b"old"), ttl)
        .await?;
    cx.outlive_short_ttl().await;
    let handles = race(&cx, &ns, move |store, ns, i| async move {
        let value = Bytes::from(format!("task-{i}"));
        store.set(&ns, "lock", value, SetOptions::if_absent()).await
    });
    let outcomes = join_all(handles).await?;
    let winners = outcomes.iter().filter(|o| o.is_written()).count();
    ensure_eq!(
        winners,
        1,
        "IfAbsent winners over an expired entry among {TASKS} tasks"
    );
    pass()
}

/// 32 tasks each apply 10 increments through a get + `IfVersion` retry loop on a decimal
/// value: none is lost (final value 320).
pub async fn cas_increment_loops_lose_no_update<S: Store + 'static>(cx: Arc<Ctx<S>>) -> CaseResult {
    if !cx.caps().compare_and_set {
        return skip("backend does not declare compare_and_set");
    }
    let ns = Arc::new(cx.ns());
    put(cx.store(), &ns, "n", b"0").await?;
    let handles = race(&cx, &ns, move |store, ns, _| async move {
        let mut conflicts = 0usize;
        for _ in 0..CAS_UPDATES_PER_TASK {
            loop {
                let Some(entry) = store.get(&ns, "n").await? else {
                    return Err(Error::Backend {
                        message: "counter vanished".into(),
                        source: None,
                    });
                };
                let n: u64 = std::str::from_utf8(&entry.value)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| Error::Backend {
                        message: format!("counter holds {:?}", entry.value),
                        source: None,
                    })?;
                let next = Bytes::from((n + 1).to_string());
                let opts = SetOptions::if_version(entry.version);
                match store.set(&ns, "n", next, opts).await? {
                    SetOutcome::Written(_) => break,
                    SetOutcome::Rejected { .. } => conflicts += 1,
                }
            }
        }
        Ok(conflicts)
    });
    let conflicts: usize = join_all(handles).await?.into_iter().sum();
    let expected = (TASKS * CAS_UPDATES_PER_TASK).to_string();
    let entry = must_get(cx.store(), &ns, "n").await?;
    ensure_eq!(
        std::str::from_utf8(&entry.value).unwrap_or("<not utf-8>"),
        expected.as_str(),
        "final value after CAS loops ({conflicts} conflicts retried)"
    );
    pass()
}

/// 32 tasks race `IfVersion` with the same version: exactly one wins.
pub async fn if_version_race_has_exactly_one_winner<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if !cx.caps().compare_and_set {
        return skip("backend does not declare compare_and_set");
    }
    let ns = Arc::new(cx.ns());
    let version = put(cx.store(), &ns, "k", b"base").await?;
    let handles = race(&cx, &ns, move |store, ns, i| async move {
        let value = Bytes::from(format!("task-{i}"));
        store
            .set(&ns, "k", value, SetOptions::if_version(version))
            .await
    });
    let outcomes = join_all(handles).await?;
    let winners: Vec<usize> = (0..TASKS).filter(|&i| outcomes[i].is_written()).collect();
    ensure_eq!(
        winners.len(),
        1,
        "IfVersion winners among {TASKS} tasks ({winners:?})"
    );
    let entry = must_get(cx.store(), &ns, "k").await?;
    ensure_eq!(
        (entry.value, Some(entry.version)),
        (
            Bytes::from(format!("task-{}", winners[0])),
            outcomes[winners[0]].version()
        ),
        "stored entry is the winner's"
    );
    pass()
}

/// This group's cases, in order, for [`conformance_tests!`](crate::conformance_tests)
/// and [`cases`](crate::conformance::cases()).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_group_concurrency {
    ($mode:ident [$($arg:tt)*]) => {
        $crate::__conformance_emit! { $mode [$($arg)*] concurrency:
            if_absent_race_has_exactly_one_winner,
            concurrent_incr_is_exact,
            mixed_delta_incr_race_nets_exactly,
            if_absent_race_on_an_expired_key_has_exactly_one_winner,
            cas_increment_loops_lose_no_update,
            if_version_race_has_exactly_one_winner,
        }
    };
}
