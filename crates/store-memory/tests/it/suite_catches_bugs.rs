//! The conformance suite must catch a wrong backend. Each `Bug` below wraps a real
//! memory store with one classic mistake; the whole suite runs against it through
//! `run_all`, and the cases named here must be among the failures.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use store_core::conformance::{Subject, run_all};
use store_core::{
    Advance, Advanced, Bytes, Capabilities, Clock, Condition, Cursor, DeleteCondition, Entry,
    Floor, IncrOutcome, ListPage, ManualClock, Result, SetOptions, SetOutcome, Store,
};
use store_memory::MemoryStore;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Bug {
    /// `incr` as get-then-set: loses updates under concurrency.
    ReadThenWriteIncr,
    /// `IfAbsent` rejects when the key was ever written, expired or not.
    IfAbsentIgnoresExpiry,
    /// `incr` re-applies its TTL on every call: the window slides.
    IncrSlidesTtl,
    /// `list` resumes from the second-to-last key of a page: keys come back twice.
    ListCursorOffByOne,
    /// `(namespace, key)` joined with `:` into one string: pairs collide.
    NaiveKeyJoin,
    /// A rejected conditional write does not return the current entry, yet the
    /// capability says it does.
    ForgetsCurrentOnReject,
    /// `list` (and the `clear` built on it) treats the prefix as a pattern: it lists by
    /// the text before the first glob or `LIKE` character, as an unescaped `SCAN MATCH`
    /// or `LIKE` would.
    PrefixIsAPattern,
    /// `clear` ignores its prefix and empties the namespace.
    ClearIgnoresPrefix,
    /// `list` hands the rest of the walk to the caller inside the cursor and trusts it
    /// when it comes back: an edited cursor lists keys that were never written.
    CursorCarriesKeys,
    /// `clear` removes one page of keys and stops.
    ClearOnePage,
    /// `advance` as get-then-set: not atomic, though the capability says it is.
    AdvanceReadThenWrite,
    /// `advance` adds to the current value without raising it to the floor.
    AdvanceIgnoresFloor,
    /// `advance` writes even past the headroom.
    AdvanceIgnoresHeadroom,
    /// `advance` drops its TTL.
    AdvanceDropsTtl,
    /// `advance`'s clock floor is an hour off.
    AdvanceSkewedClock,
    /// `advance` reads `07` as 7.
    AdvanceLenientNumbers,
    /// `incr` as get-then-set under a lock of the instance: exact among tasks sharing
    /// one connection, lost updates between instances.
    InstanceLockedIncr,
    /// `get` serves what this instance last read or wrote, from a local cache that
    /// other instances' writes never invalidate.
    StaleCacheReads,
    /// One write in [`RARE`] is acknowledged (with a fresh version) and never applied.
    LosesAckedWrites,
    /// One write in [`RARE`] lands and is reported as `Unavailable(NotSent)`.
    LandedWriteReportedNotSent,
    /// Declares a 60 s TTL floor (`min_ttl`, as Workers KV) but keeps shorter TTLs as
    /// given, so what it reports contradicts what it declares.
    IgnoresItsTtlFloor,
}

/// How rarely the rare bugs strike: too rarely for the few writes of a counting case
/// to notice, often enough for a hundred histories of hundreds of writes.
const RARE: u16 = 200;

#[derive(Debug, Clone)]
struct Broken {
    inner: MemoryStore,
    bug: Bug,
    /// For `IfAbsentIgnoresExpiry`: every key ever written, never forgotten on expiry.
    written: Arc<Mutex<HashMap<(String, String), ()>>>,
    /// For `InstanceLockedIncr`: this instance's own lock.
    lock: Arc<tokio::sync::Mutex<()>>,
    /// The memory store's clock, for the bugs that compute a clock floor themselves.
    clock: ManualClock,
    /// For `StaleCacheReads`: this instance's own cache.
    cache: Arc<Mutex<HashMap<(String, String), Entry>>>,
    /// What it declares: the memory store's, but for `IgnoresItsTtlFloor`.
    caps: Capabilities,
}

impl Broken {
    fn ns<'a>(&self, ns: &'a str, key: &'a str) -> (String, String) {
        match self.bug {
            Bug::NaiveKeyJoin => ("joined".to_owned(), format!("{ns}:{key}")),
            _ => (ns.to_owned(), key.to_owned()),
        }
    }
}

impl Store for Broken {
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Entry>> {
        let (ns, key) = self.ns(ns, key);
        if self.bug == Bug::StaleCacheReads {
            let id = (ns.clone(), key.clone());
            if let Some(entry) = self.cache.lock().unwrap().get(&id) {
                return Ok(Some(entry.clone()));
            }
            let entry = self.inner.get(&ns, &key).await?;
            if let Some(entry) = entry.as_ref().filter(|e| e.expires_at.is_none()) {
                self.cache.lock().unwrap().insert(id, entry.clone());
            }
            return Ok(entry);
        }
        self.inner.get(&ns, &key).await
    }

    async fn set(&self, ns: &str, key: &str, value: Bytes, opts: SetOptions) -> Result<SetOutcome> {
        let (ns, key) = self.ns(ns, key);
        let id = (ns.clone(), key.clone());
        if self.bug == Bug::IfAbsentIgnoresExpiry
            && opts.condition == Condition::IfAbsent
            && self.written.lock().unwrap().contains_key(&id)
        {
            let current = self.inner.get(&ns, &key).await?;
            return Ok(SetOutcome::Rejected { current });
        }
        if self.bug == Bug::LosesAckedWrites && fastrand::u16(..RARE) == 0 {
            return Ok(SetOutcome::Written(store_core::raw::version(
                fastrand::u64(..),
            )));
        }
        let outcome = self.inner.set(&ns, &key, value.clone(), opts).await?;
        if outcome.is_written() {
            self.written.lock().unwrap().insert(id.clone(), ());
        }
        if self.bug == Bug::StaleCacheReads {
            let mut cache = self.cache.lock().unwrap();
            match &outcome {
                SetOutcome::Written(version) if opts.ttl.is_none() => {
                    let entry = Entry {
                        value,
                        version: *version,
                        expires_at: None,
                    };
                    cache.insert(id, entry);
                }
                _ => {
                    cache.remove(&id);
                }
            }
        }
        if self.bug == Bug::LandedWriteReportedNotSent && fastrand::u16(..RARE) == 0 {
            return Err(store_core::Error::unavailable(
                store_core::Delivery::NotSent,
                "reported as never sent, though it landed",
            ));
        }
        match (self.bug, outcome) {
            (Bug::ForgetsCurrentOnReject, SetOutcome::Rejected { .. }) => {
                Ok(SetOutcome::Rejected { current: None })
            }
            (_, outcome) => Ok(outcome),
        }
    }

    async fn delete(&self, ns: &str, key: &str, condition: DeleteCondition) -> Result<bool> {
        let (ns, key) = self.ns(ns, key);
        if self.bug == Bug::LosesAckedWrites && fastrand::u16(..RARE) == 0 {
            return Ok(true);
        }
        let removed = self.inner.delete(&ns, &key, condition).await?;
        self.cache
            .lock()
            .unwrap()
            .remove(&(ns.clone(), key.clone()));
        if removed {
            self.written.lock().unwrap().remove(&(ns, key));
        }
        if self.bug == Bug::LandedWriteReportedNotSent && fastrand::u16(..RARE) == 0 {
            return Err(store_core::Error::unavailable(
                store_core::Delivery::NotSent,
                "reported as never sent, though it landed",
            ));
        }
        Ok(removed)
    }

    async fn incr(
        &self,
        ns: &str,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<IncrOutcome> {
        let (ns, key) = self.ns(ns, key);
        self.cache
            .lock()
            .unwrap()
            .remove(&(ns.clone(), key.clone()));
        let _instance_lock = match self.bug {
            Bug::InstanceLockedIncr => Some(self.lock.lock().await),
            _ => None,
        };
        match self.bug {
            Bug::ReadThenWriteIncr | Bug::InstanceLockedIncr => {
                let current: i64 = match self.inner.get(&ns, &key).await? {
                    Some(e) => std::str::from_utf8(&e.value)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0),
                    None => 0,
                };
                // A millisecond between the read and the write: racing tasks interleave
                // there even on a loaded machine (a bare yield did not always).
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                let value: i64 = current.wrapping_add(delta);
                let opts = SetOptions::always().with_ttl_opt(ttl);
                self.inner
                    .set(&ns, &key, Bytes::from(value.to_string()), opts)
                    .await?;
                let expires_at = self.inner.get(&ns, &key).await?.and_then(|e| e.expires_at);
                Ok(IncrOutcome { value, expires_at })
            }
            Bug::IncrSlidesTtl => {
                let out = self.inner.incr(&ns, &key, delta, ttl).await?;
                let Some(ttl) = ttl else { return Ok(out) };
                let value = Bytes::from(out.value.to_string());
                self.inner
                    .set(&ns, &key, value, SetOptions::always().with_ttl(ttl))
                    .await?;
                let expires_at = self.inner.get(&ns, &key).await?.and_then(|e| e.expires_at);
                Ok(IncrOutcome {
                    value: out.value,
                    expires_at,
                })
            }
            _ => self.inner.incr(&ns, &key, delta, ttl).await,
        }
    }

    async fn list(
        &self,
        ns: &str,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<ListPage> {
        match self.bug {
            Bug::NaiveKeyJoin => {
                let mut page = self
                    .inner
                    .list("joined", &format!("{ns}:{prefix}"), cursor, limit)
                    .await?;
                let strip = ns.len() + 1;
                page.keys = page
                    .keys
                    .into_iter()
                    .map(|k| k[strip..].to_owned())
                    .collect();
                Ok(page)
            }
            Bug::PrefixIsAPattern => {
                let literal = prefix
                    .find(['*', '?', '[', '\\', '%', '_', '{'])
                    .map_or(prefix, |at| &prefix[..at]);
                self.inner.list(ns, literal, cursor, limit).await
            }
            Bug::CursorCarriesKeys => {
                let rest: Vec<String> = match cursor.map(Cursor::as_str) {
                    Some(text) => match text.strip_prefix("p:") {
                        Some(keys) => keys.split('\n').map(str::to_owned).collect(),
                        None => return Err(store_core::Error::InvalidCursor(text.into())),
                    },
                    None => {
                        let mut all = Vec::new();
                        let mut at = None;
                        loop {
                            let page = self.inner.list(ns, prefix, at.as_ref(), 1000).await?;
                            all.extend(page.keys);
                            match page.cursor {
                                Some(next) => at = Some(next),
                                None => break all,
                            }
                        }
                    }
                };
                let (page, rest) = rest.split_at(limit.min(rest.len()));
                Ok(ListPage {
                    keys: page.to_vec(),
                    cursor: (!rest.is_empty())
                        .then(|| Cursor::from(format!("p:{}", rest.join("\n")))),
                })
            }
            Bug::ListCursorOffByOne => {
                let mut page = self.inner.list(ns, prefix, cursor, limit).await?;
                if page.cursor.is_some() && page.keys.len() >= 2 {
                    page.cursor = Some(store_core::raw::cursor(format!(
                        "k{}",
                        page.keys[page.keys.len() - 2]
                    )));
                }
                Ok(page)
            }
            _ => self.inner.list(ns, prefix, cursor, limit).await,
        }
    }

    async fn advance(&self, ns: &str, key: &str, advance: Advance) -> Result<Advanced> {
        let (ns, key) = self.ns(ns, key);
        self.cache
            .lock()
            .unwrap()
            .remove(&(ns.clone(), key.clone()));
        let (ns, key) = (ns.as_str(), key.as_str());
        let floor = |advance: &Advance| match advance.floor {
            Floor::Value(value) => value,
            Floor::Clock => self.clock.now_micros(),
        };
        match self.bug {
            Bug::AdvanceReadThenWrite => {
                let base = floor(&advance);
                let current = match self.inner.get(ns, key).await? {
                    Some(entry) => Some(store_core::raw::parse_value(&entry.value)?),
                    None => None,
                };
                // A millisecond between the read and the write: racing tasks interleave
                // there even on a loaded machine (a bare yield did not always).
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                let (start, new) = advance.apply(current, base);
                if let Some(new) = new {
                    let value = Bytes::from(new.to_string());
                    let opts = SetOptions::always().with_ttl_opt(advance.ttl);
                    self.inner.set(ns, key, value, opts).await?;
                }
                Ok(Advanced {
                    written: new.is_some(),
                    value: new.unwrap_or(start),
                    floor: base,
                    contended: false,
                })
            }
            Bug::AdvanceIgnoresFloor => {
                let base = floor(&advance);
                let shifted = Advance {
                    floor: Floor::Value(0),
                    headroom: base.saturating_add(advance.headroom),
                    ..advance
                };
                let mut done = self.inner.advance(ns, key, shifted).await?;
                done.floor = base;
                Ok(done)
            }
            Bug::AdvanceIgnoresHeadroom => {
                let always = Advance {
                    headroom: advance.headroom.max(advance.delta).saturating_mul(1000),
                    ..advance
                };
                self.inner.advance(ns, key, always).await
            }
            Bug::AdvanceDropsTtl => {
                let no_ttl = Advance {
                    ttl: None,
                    ..advance
                };
                self.inner.advance(ns, key, no_ttl).await
            }
            Bug::AdvanceSkewedClock if advance.floor == Floor::Clock => {
                let hour_off = floor(&advance) + 3_600_000_000;
                let skewed = Advance {
                    floor: Floor::Value(hour_off),
                    ..advance
                };
                self.inner.advance(ns, key, skewed).await
            }
            Bug::AdvanceLenientNumbers => {
                if let Some(entry) = self.inner.get(ns, key).await? {
                    let text = String::from_utf8_lossy(&entry.value).into_owned();
                    if let Ok(n) = text.parse::<u64>() {
                        let canonical = Bytes::from(n.to_string());
                        self.inner
                            .set(ns, key, canonical, SetOptions::always())
                            .await?;
                    }
                }
                self.inner.advance(ns, key, advance).await
            }
            _ => self.inner.advance(ns, key, advance).await,
        }
    }

    async fn clear(&self, ns: &str, prefix: &str) -> Result<u64> {
        match self.bug {
            Bug::ClearIgnoresPrefix => self.inner.clear(ns, "").await,
            Bug::ClearOnePage => {
                let page = self.list(ns, prefix, None, 100).await?;
                let mut removed = 0;
                for key in &page.keys {
                    removed += u64::from(self.delete(ns, key, DeleteCondition::Always).await?);
                }
                Ok(removed)
            }
            // The contract's provided `clear`, over this store's `list` and `delete`.
            _ => {
                let mut removed = 0;
                let mut cursor = None;
                loop {
                    let page = self.list(ns, prefix, cursor.as_ref(), 100).await?;
                    for key in &page.keys {
                        removed += u64::from(self.delete(ns, key, DeleteCondition::Always).await?);
                    }
                    match page.cursor {
                        Some(next) => cursor = Some(next),
                        None => return Ok(removed),
                    }
                }
            }
        }
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
}

/// The failures of the whole suite against `bug`, with `instances` instances of the
/// broken store over one memory store (as separate connections to one server).
async fn failures_with(bug: Bug, instances: usize) -> Vec<String> {
    let report = run_all(|| async move {
        let clock = ManualClock::starting_now();
        let inner = MemoryStore::builder().clock(clock.clone()).build();
        let written = Arc::default();
        let store_clock = clock.clone();
        let mut caps = inner.capabilities().clone();
        if bug == Bug::IgnoresItsTtlFloor {
            caps.min_ttl = std::time::Duration::from_secs(60);
        }
        let mut stores = (0..instances).map(|_| Broken {
            inner: inner.clone(),
            bug,
            written: Arc::clone(&written),
            lock: Arc::default(),
            clock: store_clock.clone(),
            cache: Arc::default(),
            caps: caps.clone(),
        });
        let main = stores.next().expect("at least one instance");
        Subject::with_manual_clock(main, clock).with_instances(stores)
    })
    .await;
    let failed: Vec<String> = report
        .cases
        .iter()
        .filter(|c| c.result.is_err())
        .map(|c| c.name.clone())
        .collect();
    eprintln!("{bug:?}: {} cases failed: {failed:#?}", failed.len());
    failed
}

async fn assert_caught(bug: Bug, expected: &[&str]) {
    let failed = failures_with(bug, 1).await;
    for case in expected {
        assert!(
            failed.iter().any(|f| f == case),
            "{bug:?} should fail `{case}`; failures were {failed:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_then_write_incr_is_caught() {
    assert_caught(
        Bug::ReadThenWriteIncr,
        &[
            "concurrency::concurrent_incr_is_exact",
            "concurrency::mixed_delta_incr_race_nets_exactly",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn if_absent_ignoring_expiry_is_caught() {
    assert_caught(
        Bug::IfAbsentIgnoresExpiry,
        &[
            "ttl::if_absent_treats_expired_entry_as_absent",
            "concurrency::if_absent_race_on_an_expired_key_has_exactly_one_winner",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sliding_incr_ttl_is_caught() {
    assert_caught(
        Bug::IncrSlidesTtl,
        &[
            "incr::incr_sets_ttl_only_on_create",
            "properties::model_based_random_operations",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_cursor_off_by_one_is_caught() {
    assert_caught(
        Bug::ListCursorOffByOne,
        &[
            "list::list_pages_cover_every_key_once_for_each_page_size",
            "list::list_walk_during_writes_returns_stable_keys_once",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn colliding_key_mapping_is_caught() {
    assert_caught(
        Bug::NaiveKeyJoin,
        &[
            "basic::namespaces_are_isolated",
            "properties::key_mapping_is_injective",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn missing_current_on_reject_is_caught() {
    assert_caught(
        Bug::ForgetsCurrentOnReject,
        &[
            "conditions::if_absent_rejects_when_present_returning_current",
            "concurrency::if_absent_race_has_exactly_one_winner",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_prefix_treated_as_a_pattern_is_caught() {
    assert_caught(
        Bug::PrefixIsAPattern,
        &[
            "list::list_prefix_is_literal",
            "clear::clear_prefix_is_literal",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clear_that_ignores_its_prefix_is_caught() {
    assert_caught(
        Bug::ClearIgnoresPrefix,
        &[
            "clear::clear_removes_the_keys_under_the_prefix_and_counts_them",
            "clear::clear_prefix_is_literal",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clear_that_stops_after_one_page_is_caught() {
    assert_caught(
        Bug::ClearOnePage,
        &["clear::clear_counts_live_keys_across_pages"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broken_advances_are_caught() {
    for (bug, cases) in [
        (
            Bug::AdvanceReadThenWrite,
            &["advance::advance_races_admit_exactly_the_headroom"][..],
        ),
        (
            Bug::AdvanceIgnoresFloor,
            &[
                "advance::advance_raises_to_the_floor_then_adds",
                "properties::model_based_random_operations",
            ],
        ),
        (
            Bug::AdvanceIgnoresHeadroom,
            &[
                "advance::advance_past_the_headroom_is_refused_and_writes_nothing",
                "advance::advance_races_admit_exactly_the_headroom",
                "properties::model_based_random_operations",
            ],
        ),
        (
            Bug::AdvanceDropsTtl,
            &["advance::advance_sets_its_ttl_on_every_write"],
        ),
        (
            Bug::AdvanceSkewedClock,
            &["advance::advance_with_the_clock_floor_reads_the_current_time"],
        ),
        (
            Bug::AdvanceLenientNumbers,
            &["advance::advance_on_a_non_number_is_typed_error_and_keeps_value"],
        ),
    ] {
        assert_caught(bug, cases).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cursor_trusted_with_keys_is_caught() {
    assert_caught(
        Bug::CursorCarriesKeys,
        &["list::edited_cursors_never_yield_unwritten_keys"],
    )
    .await;
}

/// Atomicity only within one connection passes a suite that races on one instance and
/// fails the one that races across instances: why backends hand the suite several.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn atomicity_within_one_instance_only_is_caught_across_instances() {
    let races = [
        "concurrency::concurrent_incr_is_exact",
        "concurrency::mixed_delta_incr_race_nets_exactly",
    ];
    let one = failures_with(Bug::InstanceLockedIncr, 1).await;
    for case in races {
        assert!(!one.iter().any(|f| f == case), "one instance: {one:#?}");
    }
    let four = failures_with(Bug::InstanceLockedIncr, 4).await;
    for case in races {
        assert!(four.iter().any(|f| f == case), "four instances: {four:#?}");
    }
}

/// Wrong in ways counting misses: each is caught by the linearizability histories
/// (the stale cache only between instances, so with four).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stale_reads_lost_writes_and_landed_not_sent_writes_are_not_linearizable() {
    let case = "linearizability::random_histories_are_linearizable";
    for bug in [
        Bug::StaleCacheReads,
        Bug::LosesAckedWrites,
        Bug::LandedWriteReportedNotSent,
    ] {
        let failed = failures_with(bug, 4).await;
        assert!(
            failed.iter().any(|f| f == case),
            "{bug:?} should fail `{case}`; failures were {failed:#?}"
        );
    }
}

/// A TTL floor is checked where it shows: the expiry a store reports for a TTL below
/// its declared floor must be the raised one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_declared_ttl_floor_that_is_not_applied_is_caught() {
    assert_caught(
        Bug::IgnoresItsTtlFloor,
        &["ttl::a_ttl_below_the_floor_is_raised_to_it"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_correct_store_passes_the_whole_suite_through_run_all() {
    let report = run_all(|| async {
        let clock = ManualClock::starting_now();
        let store = MemoryStore::builder().clock(clock.clone()).build();
        Subject::with_manual_clock(store, clock)
    })
    .await;
    eprintln!("{report}");
    assert!(report.is_success(), "{report}");
    assert!(report.passed() >= 60, "{report}");
    assert_eq!(
        report.skipped(),
        1,
        "only the no-atomic-incr case is skipped: {report}"
    );
}
