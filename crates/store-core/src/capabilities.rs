//! What a backend guarantees, so features can refuse instead of silently degrading.

use std::time::Duration;

/// A backend's guarantees and limits.
///
/// A plain struct of booleans and limits whose `Default` promises nothing: a backend
/// starts from `Capabilities::default()` and switches on what it really does. Features
/// check what they need and fail with a clear error otherwise (a rate limiter refuses a
/// store without [`atomic_incr`](Self::atomic_incr)).
///
/// ```
/// use store_core::Capabilities;
/// let caps = Capabilities::default();
/// assert!(!caps.atomic_incr && !caps.compare_and_set && caps.max_value_size == 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Capabilities {
    /// `incr` is atomic: N concurrent `incr(1)` net exactly +N. Without it `incr` fails
    /// with [`crate::Error::Unsupported`].
    pub atomic_incr: bool,
    /// `IfAbsent`, `IfPresent` and `IfVersion` conditions are checked atomically with the
    /// write. Without it conditional writes fail with [`crate::Error::Unsupported`].
    pub compare_and_set: bool,
    /// [`Store::advance`](crate::Store::advance) is one atomic request on the backend.
    /// Without it the provided method runs a compare-and-set loop (needs
    /// `compare_and_set`), which may report contention under load.
    pub atomic_advance: bool,
    /// With `atomic_advance`: the largest value the backend's advance computes exactly
    /// (`i64::MAX`, a counter's range, or less: 2^53 on Redis, whose scripts count in
    /// doubles); a stored or new value past it is
    /// [`crate::Error::CounterOverflow`]. The compare-and-set fallback computes up to
    /// `i64::MAX`.
    pub max_advance_value: u64,
    /// A rejected conditional `set` returns the live entry in the same round trip.
    pub returns_current_on_reject: bool,
    /// `list` returns keys in ascending byte order, across pages.
    pub sorted_list: bool,
    /// A read issued after a write completed sees that write.
    pub strongly_consistent_reads: bool,
    /// Longest namespace in UTF-8 bytes (at most [`crate::raw::validate::MAX_NAMESPACE_LEN`];
    /// less behind a [`crate::layer::PrefixLayer`], which uses part of it).
    pub max_namespace_len: usize,
    /// Longest key in UTF-8 bytes (at most [`crate::raw::validate::MAX_KEY_LEN`]).
    pub max_key_len: usize,
    /// Largest value in bytes.
    pub max_value_size: usize,
    /// Largest page a single `list` call returns.
    pub max_list_limit: usize,
    /// Smallest meaningful TTL step: expiries are exact to this resolution.
    pub ttl_resolution: Duration,
    /// Shortest TTL the backend keeps: a shorter one is raised to it (and the reported
    /// expiry says so). Zero (the default) when every TTL is kept as given; 60 s on
    /// Cloudflare Workers KV. Cases that need a short TTL to pass are skipped when it is
    /// longer than theirs.
    pub min_ttl: Duration,
}
