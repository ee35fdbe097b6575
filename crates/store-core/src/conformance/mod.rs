//! The conformance suite: what "a correct backend" means, as runnable cases.
//!
//! Each case is a named async function over a [`Ctx`]. A backend runs them all with a
//! few lines in its `tests/`:
//!
//! ```text
//! store_core::conformance_tests!(async { my_backend::MyStore::connect().await.unwrap() });
//! ```
//!
//! which expands to one `#[tokio::test]` per case (the crate needs `tokio` with the
//! `macros` and `rt-multi-thread` features as a dev-dependency). The same cases run
//! outside `cargo test` through [`run_all`], which returns a [`Report`]; the CLI's
//! `verify` uses that against a live deployment.
//!
//! Every case works in namespaces of its own (`conformance/<case>/<random>`) and deletes
//! what it wrote when it ends, so the suite can run against a shared, persistent
//! backend. Cases that a backend's [`Capabilities`] exclude are
//! reported as skipped, with the reason; where possible they check instead that the
//! backend refuses the operation cleanly.
//!
//! Time: with a [`ManualClock`] (see [`Subject::with_manual_clock`]) TTL cases move time
//! instantly; otherwise they use short real TTLs and sleep.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::{Capabilities, DeleteCondition, Error, ManualClock, Store, Timestamp};

pub mod cases;
mod counting;
mod local_server;
mod model;
mod placement;

pub use counting::Counting;
pub use local_server::LocalServer;
pub use placement::CoreSplit;

/// A backend under test and how its time is controlled.
#[derive(Debug)]
pub struct Subject<S> {
    store: S,
    clock: Option<ManualClock>,
}

impl<S> Subject<S> {
    /// A store on real time: TTL cases sleep.
    pub fn new(store: S) -> Self {
        Subject { store, clock: None }
    }

    /// A store whose expiry reads `clock`: TTL cases advance it instead of sleeping.
    pub fn with_manual_clock(store: S, clock: ManualClock) -> Self {
        Subject {
            store,
            clock: Some(clock),
        }
    }
}

impl<S: Store> From<S> for Subject<S> {
    fn from(store: S) -> Self {
        Subject::new(store)
    }
}

/// What a test's subject expression may yield: a store, a [`Subject`], or an `Option`
/// of either, where `None` means the backend's service is not available here (its
/// helper has already said so loudly, and fails instead under `CI=true`).
pub trait IntoSubject<S> {
    /// The subject, or `None` to skip.
    fn into_subject(self) -> Option<Subject<S>>;
}

impl<S: Store> IntoSubject<S> for S {
    fn into_subject(self) -> Option<Subject<S>> {
        Some(Subject::new(self))
    }
}

impl<S> IntoSubject<S> for Subject<S> {
    fn into_subject(self) -> Option<Subject<S>> {
        Some(self)
    }
}

impl<S, T: IntoSubject<S>> IntoSubject<S> for Option<T> {
    fn into_subject(self) -> Option<Subject<S>> {
        self.and_then(IntoSubject::into_subject)
    }
}

/// The URL of a test service: the environment variable `var`, or the line `var=...` of
/// the `target/services/env` file that `cargo xtask services up` writes (looked for from
/// the current directory upwards).
///
/// When neither has it: under `CI=true` this panics (a missing service is a failure
/// there); elsewhere it says so on stderr and returns `None`, so the test can skip
/// loudly.
pub fn service_url(var: &str) -> Option<String> {
    if let Ok(url) = std::env::var(var) {
        return Some(url);
    }
    let from_file = std::env::current_dir().ok().and_then(|dir| {
        dir.ancestors().find_map(|d| {
            let text = std::fs::read_to_string(d.join("target/services/env")).ok()?;
            text.lines()
                .find_map(|l| l.strip_prefix(var)?.strip_prefix('=').map(str::to_owned))
        })
    });
    if from_file.is_some() {
        return from_file;
    }
    let message = format!(
        "{var} is not set and no services are running: start them with `cargo xtask services \
         up`, or run everything with `cargo xtask test`"
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("under CI=true a missing service is a failure: {message}");
    }
    eprintln!("SKIPPED (service unavailable): {message}");
    None
}

/// Why a case did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(format!("unexpected store error: {e} ({e:?})"))
    }
}

/// How a case that did not fail ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every check held.
    Passed,
    /// The case does not apply to this backend's capabilities; the reason says which.
    Skipped(String),
}

/// What a case returns.
pub type CaseResult = Result<Verdict, Failure>;

/// Fails the case with a message unless `cond` holds.
#[macro_export]
#[doc(hidden)]
macro_rules! __ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::conformance::Failure(format!($($fmt)+)));
        }
    };
}

/// Fails the case unless `left == right`, showing both.
#[macro_export]
#[doc(hidden)]
macro_rules! __ensure_eq {
    ($left:expr, $right:expr, $($fmt:tt)+) => {
        match (&$left, &$right) {
            (l, r) => {
                if l != r {
                    return Err($crate::conformance::Failure(format!(
                        "{}\n  left: {:?}\n right: {:?}", format!($($fmt)+), l, r
                    )));
                }
            }
        }
    };
}

pub(crate) use crate::{__ensure as ensure, __ensure_eq as ensure_eq};

/// What a case works with: the store, its own namespaces, and time control.
#[derive(Debug)]
pub struct Ctx<S> {
    store: Arc<S>,
    clock: Option<ManualClock>,
    case: &'static str,
    nonce: String,
    namespaces: Mutex<Vec<String>>,
}

impl<S: Store + 'static> Ctx<S> {
    fn new(subject: Subject<S>, case: &'static str) -> Self {
        Ctx {
            store: Arc::new(subject.store),
            clock: subject.clock,
            case,
            nonce: format!("{:016x}", fastrand::u64(..)),
            namespaces: Mutex::new(Vec::new()),
        }
    }

    /// The store under test.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// A shared handle to the store, for spawning tasks.
    pub fn shared(&self) -> Arc<S> {
        self.store.clone()
    }

    /// The store's capabilities.
    pub fn caps(&self) -> &Capabilities {
        self.store.capabilities()
    }

    /// This case's main namespace, unique to this run.
    pub fn ns(&self) -> String {
        self.namespace("main")
    }

    /// Another namespace of this case, unique to this run; `tag` tells them apart and may
    /// hold any characters.
    pub fn namespace(&self, tag: &str) -> String {
        let ns = format!("conformance/{}/{}/{}", self.case, self.nonce, tag);
        let mut namespaces = self.namespaces.lock().unwrap_or_else(|p| p.into_inner());
        if !namespaces.contains(&ns) {
            namespaces.push(ns.clone());
        }
        ns
    }

    /// The current time as the store sees it (the manual clock, or the system clock).
    pub fn now(&self) -> Timestamp {
        match &self.clock {
            Some(clock) => crate::Clock::now(clock),
            None => Timestamp::now(),
        }
    }

    /// `true` when time is manual and moves only through [`Ctx::pass`].
    pub fn manual_time(&self) -> bool {
        self.clock.is_some()
    }

    /// A TTL short enough to wait out: 2 s of manual time, or 800 ms of real time
    /// (long enough that a slow round trip cannot outlive it by accident).
    pub fn short_ttl(&self) -> Duration {
        if self.manual_time() {
            Duration::from_secs(2)
        } else {
            Duration::from_millis(800).max(self.caps().ttl_resolution * 4)
        }
    }

    /// How far a reported expiry may be from the expected one: zero with a manual clock,
    /// otherwise the TTL resolution plus 250 ms for clock reads around a round trip.
    pub fn expiry_tolerance(&self) -> Duration {
        if self.manual_time() {
            Duration::ZERO
        } else {
            self.caps().ttl_resolution + Duration::from_millis(250)
        }
    }

    /// Lets `d` pass: advances the manual clock, or sleeps.
    pub async fn pass(&self, d: Duration) {
        match &self.clock {
            Some(clock) => clock.advance(d),
            None => tokio::time::sleep(d).await,
        }
    }

    /// Lets a [`short_ttl`](Self::short_ttl) and then some pass, so entries written
    /// with it are expired.
    pub async fn outlive_short_ttl(&self) {
        let margin = if self.manual_time() {
            Duration::from_millis(1)
        } else {
            Duration::from_millis(300) + self.caps().ttl_resolution
        };
        self.pass(self.short_ttl() + margin).await;
    }

    /// Deletes every key this case wrote, best effort.
    async fn clean_up(&self) {
        let namespaces = self
            .namespaces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for ns in namespaces {
            self.clean_namespace(&ns).await;
        }
    }

    pub(crate) async fn clean_namespace(&self, ns: &str) {
        let limit = self.caps().max_list_limit.clamp(1, 100);
        // Pages are collected first: deleting while walking may shift a backend's cursor.
        let mut keys = Vec::new();
        let mut cursor = None;
        for _ in 0..10_000 {
            let Ok(page) = self.store.list(ns, "", cursor.as_ref(), limit).await else {
                break;
            };
            keys.extend(page.keys);
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        for key in keys {
            let _ = self.store.delete(ns, &key, DeleteCondition::Always).await;
        }
    }
}

/// One named case.
pub struct Case<S> {
    /// The group (`basic`, `conditions`, `ttl`, `incr`, `concurrency`, `list`,
    /// `validation`, `properties`).
    pub group: &'static str,
    /// The case's name, saying what it proves.
    pub name: &'static str,
    run: fn(Arc<Ctx<S>>) -> BoxFuture<'static, CaseResult>,
}

impl<S> fmt::Debug for Case<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Case({}::{})", self.group, self.name)
    }
}

impl<S> Case<S> {
    #[doc(hidden)]
    pub fn new(
        group: &'static str,
        name: &'static str,
        run: fn(Arc<Ctx<S>>) -> BoxFuture<'static, CaseResult>,
    ) -> Self {
        Case { group, name, run }
    }
}

/// Every case of the suite, in a stable order.
pub fn cases<S: Store + 'static>() -> Vec<Case<S>> {
    crate::conformance_tests!(@cases emit_list [])
}

/// Runs one case on a fresh subject, then deletes what it wrote.
pub async fn run_case<S: Store + 'static>(case: &Case<S>, subject: Subject<S>) -> CaseResult {
    let cx = Arc::new(Ctx::new(subject, case.name));
    let result = (case.run)(cx.clone()).await;
    cx.clean_up().await;
    result
}

/// The result of one case in a [`Report`].
#[derive(Debug, Clone)]
pub struct CaseReport {
    /// `group::name`.
    pub name: String,
    /// Passed, skipped (with reason) or failed (with message).
    pub result: CaseResult,
    /// How long it ran.
    pub elapsed: Duration,
}

/// The outcome of a whole run, printable as a table.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One entry per case, in suite order.
    pub cases: Vec<CaseReport>,
}

impl Report {
    /// Cases that passed.
    pub fn passed(&self) -> usize {
        self.count(|r| matches!(r, Ok(Verdict::Passed)))
    }
    /// Cases skipped for the backend's capabilities.
    pub fn skipped(&self) -> usize {
        self.count(|r| matches!(r, Ok(Verdict::Skipped(_))))
    }
    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.count(|r| r.is_err())
    }
    /// `true` when no case failed.
    pub fn is_success(&self) -> bool {
        self.failed() == 0
    }
    fn count(&self, f: impl Fn(&CaseResult) -> bool) -> usize {
        self.cases.iter().filter(|c| f(&c.result)).count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for case in &self.cases {
            let ms = case.elapsed.as_millis();
            match &case.result {
                Ok(Verdict::Passed) => writeln!(f, "PASS  {:<70} {ms:>6} ms", case.name)?,
                Ok(Verdict::Skipped(why)) => writeln!(f, "SKIP  {:<70} {why}", case.name)?,
                Err(failure) => writeln!(f, "FAIL  {:<70} {failure}", case.name)?,
            }
        }
        writeln!(
            f,
            "conformance: {} passed, {} failed, {} skipped",
            self.passed(),
            self.failed(),
            self.skipped()
        )
    }
}

/// Runs every case, each on a subject from `subject` (called once per case), and
/// reports. Needs a multi-thread tokio runtime (the property cases block in place).
pub async fn run_all<S, F, Fut>(subject: F) -> Report
where
    S: Store + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = Subject<S>>,
{
    let mut report = Report::default();
    for case in cases::<S>() {
        let started = Instant::now();
        let result = run_case(&case, subject().await).await;
        report.cases.push(CaseReport {
            name: format!("{}::{}", case.group, case.name),
            result,
            elapsed: started.elapsed(),
        });
    }
    report
}

/// Runs the case called `name` for the macro's generated test: panics on failure,
/// prints skips loudly.
#[doc(hidden)]
pub async fn run_named<S, T>(name: &str, subject: impl Future<Output = T>)
where
    S: Store + 'static,
    T: IntoSubject<S>,
{
    let all = cases::<S>();
    let Some(case) = all.iter().find(|c| c.name == name) else {
        panic!("no conformance case named `{name}`");
    };
    let Some(subject) = subject.await.into_subject() else {
        eprintln!(
            "conformance case `{}::{name}` SKIPPED: the backend's service is not available",
            case.group
        );
        return;
    };
    match run_case(case, subject).await {
        Ok(Verdict::Passed) => {}
        Ok(Verdict::Skipped(why)) => {
            eprintln!(
                "conformance case `{}::{name}` SKIPPED for this backend: {why}",
                case.group
            );
        }
        Err(failure) => panic!(
            "conformance case `{}::{name}` FAILED: {failure}",
            case.group
        ),
    }
}

/// Generates one `#[tokio::test]` per conformance case.
///
/// The argument is an expression evaluated afresh in every test, yielding a future of a
/// store or a [`Subject`]:
///
/// ```text
/// mod memory {
///     store_core::conformance_tests!(async { store_memory::MemoryStore::new() });
/// }
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($subject:expr $(,)?) => {
        $crate::conformance_tests! { @cases emit_tests [$subject] }
    };
    (@cases $mode:ident [$($arg:tt)*]) => {
        $crate::conformance_tests! { @$mode [$($arg)*]
            basic::get_missing_returns_none,
            basic::exists_tracks_writes_and_deletes,
            basic::set_then_get_returns_value_and_version,
            basic::set_overwrites_and_changes_version,
            basic::values_are_binary_safe,
            basic::empty_value_round_trips,
            basic::max_size_value_round_trips,
            basic::oversized_value_is_rejected_and_nothing_written,
            basic::namespaces_are_isolated,
            basic::delete_removes_live_entry,
            basic::delete_missing_succeeds_and_reports_false,
            basic::delete_if_version_removes_matching_entry,
            basic::delete_if_version_keeps_entry_on_mismatch,
            basic::versions_never_repeat_after_delete_and_recreate,
            conditions::if_absent_writes_when_missing,
            conditions::if_absent_rejects_when_present_returning_current,
            conditions::if_present_rejects_when_missing,
            conditions::if_present_overwrites_when_present,
            conditions::if_version_writes_on_match,
            conditions::if_version_rejects_stale_version_returning_current,
            conditions::if_version_rejects_when_missing,
            conditions::rejected_write_changes_nothing,
            ttl::entry_expires_after_ttl,
            ttl::exists_is_false_after_expiry,
            ttl::expiry_is_reported_and_matches_ttl,
            ttl::set_without_ttl_clears_previous_ttl,
            ttl::overwrite_with_ttl_sets_new_expiry,
            ttl::if_absent_treats_expired_entry_as_absent,
            ttl::if_present_treats_expired_entry_as_absent,
            ttl::if_version_rejects_expired_entry,
            ttl::delete_of_expired_entry_reports_false,
            ttl::list_skips_expired_entries,
            ttl::incr_restarts_expired_counter,
            incr::incr_missing_counter_starts_from_zero,
            incr::incr_adds_negative_and_zero_deltas,
            incr::incr_sets_ttl_only_on_create,
            incr::incr_without_ttl_on_create_never_expires,
            incr::counter_reads_as_decimal_ascii,
            incr::incr_accepts_canonical_decimal_written_by_set,
            incr::incr_on_non_counter_is_typed_error_and_keeps_value,
            incr::incr_overflow_is_error_and_keeps_counter,
            incr::incr_changes_version,
            incr::incr_is_refused_without_atomic_incr,
            concurrency::if_absent_race_has_exactly_one_winner,
            concurrency::concurrent_incr_is_exact,
            concurrency::cas_increment_loops_lose_no_update,
            concurrency::if_version_race_has_exactly_one_winner,
            list::list_of_empty_namespace_is_empty,
            list::list_returns_only_the_namespace_keys,
            list::list_filters_by_prefix,
            list::list_pages_cover_every_key_once_for_each_page_size,
            list::list_walk_during_writes_returns_stable_keys_once,
            list::list_is_sorted_when_declared,
            list::list_rejects_invalid_limit,
            list::list_rejects_garbage_cursor,
            validation::empty_key_is_rejected,
            validation::oversized_key_is_rejected,
            validation::empty_namespace_is_rejected,
            validation::oversized_namespace_is_rejected,
            validation::control_characters_are_rejected,
            validation::limits_are_inclusive,
            validation::invalid_ttl_is_rejected,
            properties::capabilities_are_consistent,
            properties::key_mapping_is_injective,
            properties::model_based_random_operations,
        }
    };
    (@emit_list [] $($group:ident :: $name:ident),* $(,)?) => {
        vec![$(
            $crate::conformance::Case::new(
                stringify!($group),
                stringify!($name),
                |cx| ::std::boxed::Box::pin($crate::conformance::cases::$group::$name(cx)),
            )
        ),*]
    };
    (@emit_tests [$subject:expr] $($group:ident :: $name:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $crate::conformance::run_named(stringify!($name), $subject).await;
            }
        )*
    };
}
