//! What [`Idempotency`](crate::Idempotency) records through the [`metrics`] facade (no
//! exporter chosen here):
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `fleetstate_idempotency_events_total` | counter | `namespace` (the record namespace, from the function's name), `event`: `claimed` (a first call took the key), `replayed` (a duplicate got the stored result), `cache_hit` (served from the local cache, no store call), `in_progress` (a duplicate refused with `AlreadyInProgress`), `taken_over` (a run past its in-progress window replaced) |

/// Idempotency events: see the module table.
pub const EVENTS: &str = "fleetstate_idempotency_events_total";

/// One event of an idempotent call.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event {
    Claimed,
    Replayed,
    CacheHit,
    InProgress,
    TakenOver,
}

pub(crate) fn record(namespace: &str, event: Event) {
    let event = match event {
        Event::Claimed => "claimed",
        Event::Replayed => "replayed",
        Event::CacheHit => "cache_hit",
        Event::InProgress => "in_progress",
        Event::TakenOver => "taken_over",
    };
    metrics::counter!(EVENTS, "namespace" => namespace.to_owned(), "event" => event).increment(1);
}
