//! `advance`: the bounded advance of a numeric value (`max(current, floor) + delta`,
//! refused past `floor + headroom`), atomic under races.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::concurrency::race;
use super::{must_get, pass, put, skip};
use crate::conformance::{CaseResult, Ctx, ensure, ensure_eq};
use crate::{Advance, Advanced, Error, Floor, Store};

fn step(delta: u64, headroom: u64, floor: u64) -> Advance {
    Advance {
        delta,
        headroom,
        floor: Floor::Value(floor),
        ttl: None,
    }
}

fn can_advance<S: Store + 'static>(cx: &Ctx<S>) -> bool {
    cx.caps().atomic_advance || cx.caps().compare_and_set
}

/// A missing value starts at the floor; a value below the floor is raised to it; one
/// above it grows from itself. The value reads back as decimal ASCII.
pub async fn advance_raises_to_the_floor_then_adds<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if !can_advance(&cx) {
        return skip("backend has neither atomic advance nor compare-and-set");
    }
    let (ns, store) = (cx.ns(), cx.store());
    let first = store.advance(&ns, "v", step(5, 100, 1000)).await?;
    ensure_eq!(
        (first.written, first.value, first.floor),
        (true, 1005, 1000),
        "from nothing"
    );
    ensure_eq!(
        must_get(store, &ns, "v").await?.value,
        Bytes::from("1005"),
        "decimal form"
    );
    let above = store.advance(&ns, "v", step(5, 100, 1000)).await?;
    ensure_eq!(
        (above.written, above.value),
        (true, 1010),
        "above the floor"
    );
    let raised = store.advance(&ns, "v", step(5, 100, 5000)).await?;
    ensure_eq!(
        (raised.written, raised.value),
        (true, 5005),
        "raised to a higher floor"
    );
    pass()
}

/// Past `floor + headroom` the advance is refused, reports `max(current, floor)`, and
/// changes nothing (value, version); `delta > headroom` so reads without writing.
pub async fn advance_past_the_headroom_is_refused_and_writes_nothing<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if !can_advance(&cx) {
        return skip("backend has neither atomic advance nor compare-and-set");
    }
    let (ns, store) = (cx.ns(), cx.store());
    store.advance(&ns, "v", step(90, 100, 0)).await?;
    let before = must_get(store, &ns, "v").await?;
    let refused = store.advance(&ns, "v", step(20, 100, 0)).await?;
    ensure_eq!(
        refused,
        Advanced {
            written: false,
            value: 90,
            floor: 0,
            contended: false
        },
        "refused past the headroom"
    );
    let exact = store.advance(&ns, "v", step(10, 100, 0)).await?;
    ensure_eq!(
        (exact.written, exact.value),
        (true, 100),
        "up to the headroom is allowed"
    );
    let read = store.advance(&ns, "v", step(1_000, 0, 0)).await?;
    ensure_eq!(
        (read.written, read.value),
        (false, 100),
        "a read-only advance"
    );
    let after = must_get(store, &ns, "v").await?;
    ensure!(
        after.version != before.version,
        "the allowed write changed the version"
    );
    let again = must_get(store, &ns, "v").await?;
    ensure_eq!(again, after, "refusals changed nothing");
    pass()
}

/// A live value that is not a non-negative counter (the canonical decimal of an `i64`
/// at least 0) is `NotACounter` and stays; a fixed floor whose sum overflows a `u64` is
/// refused before any I/O.
pub async fn advance_on_a_non_number_is_typed_error_and_keeps_value<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if !can_advance(&cx) {
        return skip("backend has neither atomic advance nor compare-and-set");
    }
    let (ns, store) = (cx.ns(), cx.store());
    for bad in [&b"text"[..], b"-5", b"1.5", b"", b"07", b"+5"] {
        put(store, &ns, "v", bad).await?;
        let result = store.advance(&ns, "v", step(1, 10, 0)).await;
        ensure!(
            matches!(result, Err(Error::NotACounter)),
            "{bad:?}: {result:?}"
        );
        ensure_eq!(
            must_get(store, &ns, "v").await?.value,
            Bytes::copy_from_slice(bad),
            "kept"
        );
    }
    let overflow = store.advance(&ns, "w", step(2, 1, u64::MAX - 1)).await;
    ensure!(
        matches!(overflow, Err(Error::InvalidArgument(_))),
        "{overflow:?}"
    );
    ensure!(
        store.get(&ns, "w").await?.is_none(),
        "nothing written on invalid input"
    );
    pass()
}

/// Every write sets the TTL; once it passes the value counts as missing (the floor).
pub async fn advance_sets_its_ttl_on_every_write<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if let Some(why) = cx.short_ttl_unsupported() {
        return skip(why);
    }
    if !can_advance(&cx) {
        return skip("backend has neither atomic advance nor compare-and-set");
    }
    let (ns, store) = (cx.ns(), cx.store());
    let with_ttl = |delta| Advance {
        ttl: Some(cx.short_ttl()),
        ..step(delta, 1000, 10)
    };
    store.advance(&ns, "v", with_ttl(5)).await?;
    let written_at = cx.now();
    let entry = must_get(store, &ns, "v").await?;
    let expected = written_at.add_ttl(cx.short_ttl());
    let Some(expires_at) = entry.expires_at else {
        return crate::conformance::cases::fail("an advance with a TTL left no expiry");
    };
    let gap = Duration::from_millis(expires_at.as_millis().abs_diff(expected.as_millis()));
    ensure!(
        gap <= cx.expiry_tolerance(),
        "expiry {expires_at:?}, expected about {expected:?}"
    );
    cx.outlive_short_ttl().await;
    let after = store.advance(&ns, "v", with_ttl(5)).await?;
    ensure_eq!(
        (after.written, after.value),
        (true, 15),
        "an expired value counts as missing"
    );
    pass()
}

/// With the clock as floor, the floor is the store's current time in microseconds (the
/// server's where it has a clock: within 2 s of this process's on these machines).
pub async fn advance_with_the_clock_floor_reads_the_current_time<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if !can_advance(&cx) {
        return skip("backend has neither atomic advance nor compare-and-set");
    }
    let ns = cx.ns();
    let clock = Advance {
        delta: 1,
        headroom: 1_000_000,
        floor: Floor::Clock,
        ttl: None,
    };
    let done = cx.store().advance(&ns, "v", clock).await?;
    let now = cx.now().as_millis() * 1000;
    let gap = done.floor.abs_diff(now);
    let tolerance = if cx.manual_time() { 999 } else { 2_000_000 };
    ensure!(
        gap <= tolerance,
        "clock floor {} µs, this process reads {now} µs",
        done.floor
    );
    ensure_eq!(
        (done.written, done.value),
        (true, done.floor + 1),
        "from the clock"
    );
    pass()
}

/// 32 tasks (across the subject's instances) race 20 advances each of 1 under a headroom
/// of 100: exactly 100 are written, never more, and an atomic store reports no
/// contention.
pub async fn advance_races_admit_exactly_the_headroom<S: Store + 'static>(
    cx: Arc<Ctx<S>>,
) -> CaseResult {
    if !can_advance(&cx) {
        return skip("backend has neither atomic advance nor compare-and-set");
    }
    let ns = Arc::new(cx.ns());
    let handles = race(&cx, &ns, move |store, ns, _| async move {
        let mut outcomes = Vec::new();
        for _ in 0..20 {
            outcomes.push(store.advance(&ns, "budget", step(1, 100, 0)).await?);
        }
        Ok::<_, Error>(outcomes)
    });
    let mut written = 0;
    let mut contended = 0;
    for handle in handles {
        let outcomes = handle
            .await
            .map_err(|e| crate::conformance::Failure(format!("a racing task panicked: {e}")))??;
        written += outcomes.iter().filter(|o| o.written).count();
        contended += outcomes.iter().filter(|o| o.contended).count();
    }
    let value = cx
        .store()
        .advance(&ns, "budget", step(1_000, 0, 0))
        .await?
        .value;
    ensure_eq!(value, written as u64, "the value counts every write once");
    if cx.caps().atomic_advance {
        ensure_eq!(
            (written, contended),
            (100, 0),
            "written and contended among 640 advances"
        );
    } else {
        ensure!(written <= 100, "{written} written past a headroom of 100");
    }
    pass()
}

/// This group's cases, in order, for [`conformance_tests!`](crate::conformance_tests)
/// and [`cases`](crate::conformance::cases()).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_group_advance {
    ($mode:ident [$($arg:tt)*]) => {
        $crate::__conformance_emit! { $mode [$($arg)*] advance:
            advance_raises_to_the_floor_then_adds,
            advance_past_the_headroom_is_refused_and_writes_nothing,
            advance_on_a_non_number_is_typed_error_and_keeps_value,
            advance_sets_its_ttl_on_every_write,
            advance_with_the_clock_floor_reads_the_current_time,
            advance_races_admit_exactly_the_headroom,
        }
    };
}
