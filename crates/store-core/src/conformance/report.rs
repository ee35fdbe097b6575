//! What a case returns and what a run reports.

use std::fmt;
use std::time::Duration;

use crate::Error;

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
