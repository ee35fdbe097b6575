//! [`Store::advance`](crate::Store::advance) for stores without an atomic one: a
//! compare-and-set loop that gives up, reporting contention, instead of erroring.

use std::time::Duration;

use bytes::Bytes;

use crate::{
    Advance, Advanced, Clock, Entry, Error, Floor, Result, SetOptions, SetOutcome, Store,
    SystemClock,
};

/// Compare-and-set rounds before the fallback reports contention.
const ROUNDS: u32 = 8;

/// The numeric value an advance reads: a non-negative counter, i.e. the canonical
/// decimal form of an `i64` in `0..=i64::MAX` (no sign, no leading zero), else
/// `NotACounter`.
pub fn parse_value(bytes: &[u8]) -> Result<u64> {
    std::str::from_utf8(bytes)
        .ok()
        .filter(|s| *s == "0" || (s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0')))
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|n| u64::try_from(n).ok())
        .ok_or(Error::NotACounter)
}

/// The largest value an advance may write: a counter's (`i64::MAX`).
pub const MAX_ADVANCE_VALUE: u64 = i64::MAX as u64;

/// The provided [`Store::advance`](crate::Store::advance): read, compute, write with
/// `IfVersion` (or `IfAbsent`), again on a lost race after a short jittered pause, at
/// most a few times; then [`Advanced::contended`]. [`Floor::Clock`] is this process's
/// clock.
pub async fn advance_by_compare_and_set<S: Store + ?Sized>(
    store: &S,
    namespace: &str,
    key: &str,
    advance: Advance,
) -> Result<Advanced> {
    crate::raw::validate::advance(store.capabilities(), namespace, key, &advance)?;
    if !store.capabilities().compare_and_set {
        return Err(Error::unsupported(
            "advance",
            "the provided advance needs compare-and-set",
        ));
    }
    let mut current: Option<Entry> = store.get(namespace, key).await?;
    let mut last = (0, 0);
    for round in 0..ROUNDS {
        let floor = match advance.floor {
            Floor::Value(value) => value,
            Floor::Clock => SystemClock.now_micros(),
        };
        let value = current
            .as_ref()
            .map(|e| parse_value(&e.value))
            .transpose()?;
        let (start, new) = advance.apply(value, floor);
        last = (start, floor);
        if new.is_some_and(|new| new > MAX_ADVANCE_VALUE) {
            return Err(Error::CounterOverflow);
        }
        let Some(new) = new else {
            return Ok(Advanced {
                written: false,
                value: start,
                floor,
                contended: false,
            });
        };
        let condition = match &current {
            Some(entry) => SetOptions::if_version(entry.version),
            None => SetOptions::if_absent(),
        };
        let value = Bytes::from(new.to_string());
        match store
            .set(namespace, key, value, condition.with_ttl_opt(advance.ttl))
            .await?
        {
            SetOutcome::Written(_) => {
                return Ok(Advanced {
                    written: true,
                    value: new,
                    floor,
                    contended: false,
                });
            }
            SetOutcome::Rejected { current: seen } => {
                let pause = Duration::from_micros(fastrand::u64(0..(200 << round)));
                tokio::time::sleep(pause).await;
                current = if store.capabilities().returns_current_on_reject && round == 0 {
                    seen
                } else {
                    store.get(namespace, key).await?
                };
            }
        }
    }
    Ok(Advanced {
        written: false,
        value: last.0,
        floor: last.1,
        contended: true,
    })
}
