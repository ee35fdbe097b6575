//! `fleetstate verify`: the whole conformance suite against a live deployment.
//!
//! Every case works in namespaces of its own (`conformance/<case>/<nonce>/...`) and
//! deletes what it wrote, so a production deployment is left as found. A backend author
//! can run the same from Rust:
//!
//! ```no_run
//! # async fn demo() -> store_core::Result<()> {
//! use store_core::StoreExt;
//! let stores = vec![store_memory::MemoryStore::new().into_shared()];
//! let report = fleetstate::verify::run(stores, &fleetstate::verify::Selection::default(), 1, |_| {}).await;
//! assert!(report.is_success(), "{report}");
//! # Ok(()) }
//! ```

use std::time::{Duration, Instant};

use futures::StreamExt;
use store_core::SharedStore;
use store_core::conformance::{CaseReport, Failure, Report, Subject, Verdict, cases, run_case};

/// Which cases run: `only` (if any) and not `skip`, each matching a group (`incr`) or a
/// case name (`incr_overflow_is_error_and_keeps_counter`), or `group::name`.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Run only these (all when empty).
    pub only: Vec<String>,
    /// Never run these.
    pub skip: Vec<String>,
}

impl Selection {
    fn matches(list: &[String], group: &str, name: &str) -> bool {
        list.iter()
            .any(|p| p == group || p == name || *p == format!("{group}::{name}"))
    }

    /// Whether the case `group::name` runs.
    pub fn runs(&self, group: &str, name: &str) -> bool {
        (self.only.is_empty() || Self::matches(&self.only, group, name))
            && !Self::matches(&self.skip, group, name)
    }
}

/// Runs the selected cases, `concurrency` at a time, on `stores` (the first is the
/// store under test, the others independent instances on connections of their own that
/// the concurrency cases race across). `progress` is called after each case.
pub async fn run(
    stores: Vec<SharedStore>,
    selection: &Selection,
    concurrency: usize,
    progress: impl Fn(&CaseReport),
) -> Report {
    let selected: Vec<_> = cases::<SharedStore>()
        .into_iter()
        .filter(|c| selection.runs(c.group, c.name))
        .collect();
    let subject = || {
        let mut stores = stores.iter().cloned();
        let main = stores.next().expect("at least one store");
        Subject::new(main).with_instances(stores)
    };
    // Each case on a task of its own: the property cases block their thread in place,
    // which must not stall the other cases in flight.
    let mut done: Vec<(usize, CaseReport)> =
        futures::stream::iter(selected.into_iter().enumerate())
            .map(|(i, case)| {
                let subject = subject();
                let name = format!("{}::{}", case.group, case.name);
                let task = tokio::spawn(async move {
                    let started = Instant::now();
                    let result = run_case(&case, subject).await;
                    (result, started.elapsed())
                });
                async move {
                    let (result, elapsed) = match task.await {
                        Ok(done) => done,
                        Err(panicked) => (
                            Err(Failure(format!("the case panicked: {panicked}"))),
                            Duration::ZERO,
                        ),
                    };
                    (
                        i,
                        CaseReport {
                            name,
                            result,
                            elapsed,
                        },
                    )
                }
            })
            .buffer_unordered(concurrency.max(1))
            .inspect(|(_, report)| progress(report))
            .collect()
            .await;
    done.sort_by_key(|(i, _)| *i);
    Report {
        cases: done.into_iter().map(|(_, r)| r).collect(),
    }
}

/// The status word of a case.
pub fn status(case: &CaseReport) -> &'static str {
    match &case.result {
        Ok(Verdict::Passed) => "passed",
        Ok(Verdict::Skipped(_)) => "skipped",
        Err(_) => "failed",
    }
}

/// The reason of a skip or the message of a failure.
pub fn detail(case: &CaseReport) -> Option<String> {
    match &case.result {
        Ok(Verdict::Passed) => None,
        Ok(Verdict::Skipped(why)) => Some(why.clone()),
        Err(failure) => Some(failure.to_string()),
    }
}

/// The report as JSON: totals and every case with its status, detail and time.
pub fn to_json(report: &Report, url: &str) -> serde_json::Value {
    serde_json::json!({
        "url": url,
        "passed": report.passed(),
        "failed": report.failed(),
        "skipped": report.skipped(),
        "cases": report.cases.iter().map(|c| serde_json::json!({
            "name": c.name,
            "status": status(c),
            "detail": detail(c),
            "millis": c.elapsed.as_millis() as u64,
        })).collect::<Vec<_>>(),
    })
}

/// The report as JUnit XML (one test suite, one test case per case) for CI systems.
pub fn to_junit(report: &Report, url: &str) -> Result<String, quick_junit::SerializeError> {
    use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
    let mut junit = quick_junit::Report::new("fleetstate verify");
    let mut suite = TestSuite::new(format!("conformance {url}"));
    for case in &report.cases {
        let status = match &case.result {
            Ok(Verdict::Passed) => TestCaseStatus::success(),
            Ok(Verdict::Skipped(why)) => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(why.clone());
                status
            }
            Err(failure) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(failure.to_string());
                status
            }
        };
        let mut test = TestCase::new(case.name.clone(), status);
        test.set_time(case.elapsed);
        suite.add_test_case(test);
    }
    junit.add_test_suite(suite);
    junit.to_string()
}

/// A table of passed / failed / skipped per group.
pub fn summary_table(report: &Report) -> comfy_table::Table {
    let mut groups: Vec<(String, [usize; 3], Duration)> = Vec::new();
    for case in &report.cases {
        let group = case.name.split("::").next().unwrap_or("").to_owned();
        let slot = match groups.iter().position(|(g, ..)| *g == group) {
            Some(i) => i,
            None => {
                groups.push((group, [0; 3], Duration::ZERO));
                groups.len() - 1
            }
        };
        let column = match status(case) {
            "passed" => 0,
            "failed" => 1,
            _ => 2,
        };
        groups[slot].1[column] += 1;
        groups[slot].2 += case.elapsed;
    }
    let mut table = comfy_table::Table::new();
    table.set_header(["group", "passed", "failed", "skipped", "time"]);
    for (group, [passed, failed, skipped], time) in groups {
        table.add_row([
            group,
            passed.to_string(),
            failed.to_string(),
            skipped.to_string(),
            format!("{:.1} s", time.as_secs_f64()),
        ]);
    }
    table.add_row([
        "total".to_owned(),
        report.passed().to_string(),
        report.failed().to_string(),
        report.skipped().to_string(),
        String::new(),
    ]);
    table
}
