//! The conformance suite: what "a correct backend" means, as runnable cases.
//!
//! Each case is a named async function over a [`Ctx`]. A backend runs them all with a
//! few lines in its `tests/`:
//!
//! ```text
//! store_core::conformance_tests!(async { my_backend::MyStoreBuilder::from_url(URL)?.build().await.unwrap() });
//! ```
//!
//! which expands to one `#[tokio::test]` per case, in one module per group (the crate
//! needs `tokio` with the `macros` and `rt-multi-thread` features as a dev-dependency).
//! The same cases run outside `cargo test` through [`run_all`], which returns a
//! [`Report`] that prints as a table.
//!
//! Each group's cases and their list live together in `cases/<group>.rs`; adding a case
//! is writing it and naming it in its group's list.
//!
//! Across connections: a [`Subject`] may carry more independent instances of the store
//! ([`Subject::with_instances`], each on its own connection). The concurrency cases
//! spread their racing tasks over them, so atomicity is proven between connections and
//! not only between tasks sharing one.
//!
//! Every case works in namespaces of its own (`conformance/<case>/<random>`) and deletes
//! what it wrote when it ends, so the suite can run against a shared, persistent
//! backend. Cases that a backend's [`Capabilities`](crate::Capabilities) exclude are
//! reported as skipped, with the reason; where possible they check instead that the
//! backend refuses the operation cleanly.
//!
//! Time: with a [`ManualClock`] (see [`Subject::with_manual_clock`]) TTL cases move time
//! instantly; otherwise they use short real TTLs and sleep.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;

use crate::{ManualClock, Store};

pub mod cases;
mod ctx;
pub mod linearizability;
mod macros;
mod model;
mod report;

pub use ctx::Ctx;
pub(crate) use macros::{ensure, ensure_eq};
pub use report::{CaseReport, CaseResult, Failure, Report, Verdict};

/// A backend under test and how its time is controlled.
#[derive(Debug)]
pub struct Subject<S> {
    pub(crate) store: S,
    pub(crate) others: Vec<S>,
    pub(crate) clock: Option<ManualClock>,
}

impl<S> Subject<S> {
    /// A store on real time: TTL cases sleep.
    pub fn new(store: S) -> Self {
        Subject {
            store,
            others: Vec::new(),
            clock: None,
        }
    }

    /// A store whose expiry reads `clock`: TTL cases advance it instead of sleeping.
    pub fn with_manual_clock(store: S, clock: ManualClock) -> Self {
        Subject {
            clock: Some(clock),
            ..Subject::new(store)
        }
    }

    /// More independent instances of the same store (the same backend and data, each
    /// with its own connection), over which the concurrency cases spread their tasks.
    pub fn with_instances(mut self, others: impl IntoIterator<Item = S>) -> Self {
        self.others.extend(others);
        self
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

/// One named case.
pub struct Case<S> {
    /// The group (`basic`, `conditions`, `ttl`, `incr`, `concurrency`, `list`, `clear`,
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

/// Every case of the suite, in a stable order (group by group, as listed in each
/// `cases/<group>.rs`).
pub fn cases<S: Store + 'static>() -> Vec<Case<S>> {
    cases::all()
}

/// Runs one case on a fresh subject, then deletes what it wrote.
pub async fn run_case<S: Store + 'static>(case: &Case<S>, subject: Subject<S>) -> CaseResult {
    let cx = Arc::new(Ctx::new(subject, case.name));
    let result = (case.run)(cx.clone()).await;
    cx.clean_up().await;
    result
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
