//! The values that cross the contract: entries, versions, expiries, conditions, outcomes.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// A point in time with millisecond precision: milliseconds since the Unix epoch.
///
/// Expiries are absolute so that every instance of a fleet, and the backend itself,
/// agree on when an entry dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Timestamp(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// The current wall-clock time (see [`crate::Clock`] for an injectable source).
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// Converts a `SystemTime`, truncating to the millisecond (times before the epoch
    /// become the epoch).
    pub fn from_system_time(time: SystemTime) -> Self {
        let millis = time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        Timestamp(u64::try_from(millis).unwrap_or(u64::MAX))
    }

    /// This timestamp as a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0)
    }

    /// The time `ttl` after this one, with the TTL rounded up to a whole millisecond so
    /// that an entry never dies earlier than asked.
    pub fn add_ttl(self, ttl: Duration) -> Self {
        Timestamp(self.0.saturating_add(crate::raw::ttl_millis(ttl)))
    }

    /// How long from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// An entry's version: opaque, changes on every successful write of that key (including
/// `incr`), and never repeats for a key, even after the key is deleted and re-created.
///
/// Compare versions only for equality; their order means nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version(pub(crate) u64);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A live entry as read from a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The stored bytes (a counter reads as its decimal ASCII form).
    pub value: Bytes,
    /// The version of this write.
    pub version: Version,
    /// When the entry dies; `None` lives until deleted.
    pub expires_at: Option<Timestamp>,
}

/// When a `set` may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Condition {
    /// Write unconditionally.
    #[default]
    Always,
    /// Write only if no live entry exists (an expired entry counts as absent).
    IfAbsent,
    /// Write only if a live entry exists.
    IfPresent,
    /// Write only if the live entry has exactly this version (compare-and-set).
    IfVersion(Version),
}

/// Options of a `set`: its condition and TTL.
///
/// ```
/// use std::time::Duration;
/// use store_core::{Condition, SetOptions};
/// let opts = SetOptions::if_absent().with_ttl(Duration::from_secs(60));
/// assert_eq!(opts.condition, Condition::IfAbsent);
/// assert_eq!(opts.ttl, Some(Duration::from_secs(60)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SetOptions {
    /// When the write may happen.
    pub condition: Condition,
    /// `None` keeps the entry until deleted (also clearing an earlier TTL); `Some(d)`
    /// expires it `d` after the write, rounded up to the millisecond.
    pub ttl: Option<Duration>,
}

impl SetOptions {
    /// Unconditional write, no TTL.
    pub fn always() -> Self {
        Self::default()
    }

    /// Insert-only write.
    pub fn if_absent() -> Self {
        Self::default().with_condition(Condition::IfAbsent)
    }

    /// Update-only write.
    pub fn if_present() -> Self {
        Self::default().with_condition(Condition::IfPresent)
    }

    /// Compare-and-set against `version`.
    pub fn if_version(version: Version) -> Self {
        Self::default().with_condition(Condition::IfVersion(version))
    }

    /// Sets the condition.
    pub fn with_condition(mut self, condition: Condition) -> Self {
        self.condition = condition;
        self
    }

    /// Sets the TTL.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Sets or clears the TTL.
    pub fn with_ttl_opt(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }
}

/// What a `set` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetOutcome {
    /// The value was written with this new version.
    Written(Version),
    /// The condition failed and nothing was written.
    Rejected {
        /// The live entry that made the condition fail, when the backend returns it in the
        /// same round trip ([`crate::Capabilities::returns_current_on_reject`]); `None`
        /// when there is no live entry or the backend cannot say.
        current: Option<Entry>,
    },
}

impl SetOutcome {
    /// The new version, if written.
    pub fn version(&self) -> Option<Version> {
        match self {
            SetOutcome::Written(v) => Some(*v),
            SetOutcome::Rejected { .. } => None,
        }
    }

    /// `true` if the value was written.
    pub fn is_written(&self) -> bool {
        matches!(self, SetOutcome::Written(_))
    }
}

/// When a `delete` may remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeleteCondition {
    /// Remove whatever is there.
    #[default]
    Always,
    /// Remove only if the live entry has exactly this version.
    IfVersion(Version),
}

/// The lower bound of an [`Advance`]: a number, or the store's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Floor {
    /// This number.
    Value(u64),
    /// The store's clock in microseconds since the Unix epoch, read by the store when it
    /// applies the advance: the server's clock where the backend has one its operations
    /// can read (Redis `TIME`), so the clocks of the fleet's instances play no part;
    /// else the clock of the process sending it (see each backend's docs).
    Clock,
}

/// A bounded advance of a numeric value, applied atomically by
/// [`Store::advance`](crate::Store::advance):
///
/// ```text
/// base  = the floor (a number, or the store's clock in µs)
/// start = max(current, base)        (a missing or expired value counts as base)
/// new   = start + delta
/// written only if new <= base + headroom
/// ```
///
/// It carries any "take `delta` from a budget that refills with time" limiter (GCRA:
/// the value is the theoretical arrival time) in one request, with no compare-and-set
/// loop to lose under contention. A refused advance writes nothing, so `delta >
/// headroom` reads the state without changing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advance {
    /// Added to `max(current, floor)`.
    pub delta: u64,
    /// How far past the floor the new value may go.
    pub headroom: u64,
    /// The lower bound the value is raised to first.
    pub floor: Floor,
    /// Set on every write (not on a refusal): the entry expires `ttl` after it.
    pub ttl: Option<Duration>,
}

impl Advance {
    /// The definition above on numbers: for a live `current` value (`None` when missing
    /// or expired) and the floor's value, `(start, Some(new))` when the advance writes
    /// `new`, `(start, None)` when it is refused.
    ///
    /// ```
    /// use store_core::{Advance, Floor};
    /// let take = Advance { delta: 10, headroom: 30, floor: Floor::Value(100), ttl: None };
    /// assert_eq!(take.apply(None, 100), (100, Some(110)));
    /// assert_eq!(take.apply(Some(125), 100), (125, None)); // 135 > 100 + 30
    /// assert_eq!(take.apply(Some(50), 100), (100, Some(110))); // raised to the floor
    /// ```
    pub fn apply(&self, current: Option<u64>, floor: u64) -> (u64, Option<u64>) {
        let start = current.map_or(floor, |value| value.max(floor));
        let new = start.saturating_add(self.delta);
        let allowed = new <= floor.saturating_add(self.headroom);
        (start, allowed.then_some(new))
    }
}

/// What an [`Advance`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advanced {
    /// Whether the new value was written.
    pub written: bool,
    /// The new value when written; `max(current, floor)` when refused.
    pub value: u64,
    /// The floor used (the clock reading, for [`Floor::Clock`]).
    pub floor: u64,
    /// `true` only from the compare-and-set fallback of a store without atomic advance,
    /// when every attempt lost its race: nothing was written, and the caller should
    /// treat it as a refusal and try again shortly.
    pub contended: bool,
}

/// The result of an `incr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncrOutcome {
    /// The counter's value after the increment.
    pub value: i64,
    /// When the counter dies: set by the call that created it, never moved by later calls.
    pub expires_at: Option<Timestamp>,
}

/// An opaque position in a `list` walk. Pass it back unchanged to get the next page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(pub(crate) String);

impl Cursor {
    /// The encoded form, safe to hand to a client and accept back.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A cursor handed back by a client that received it as text ([`Cursor::as_str`]).
impl From<String> for Cursor {
    fn from(s: String) -> Self {
        Cursor(s)
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One page of a `list` walk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListPage {
    /// Live keys of the namespace that start with the prefix (at most `limit`).
    pub keys: Vec<String>,
    /// Where to continue; `None` when the walk is complete.
    pub cursor: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_system_time() {
        let t = Timestamp::from_millis(1_700_000_000_123);
        assert_eq!(Timestamp::from_system_time(t.to_system_time()), t);
    }
}
