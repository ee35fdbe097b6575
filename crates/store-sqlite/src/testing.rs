//! Test helpers (feature `testing`): counts of the statements SQLite runs on the store's
//! connections (SQLite's trace hook, installed on every connection a store opens in a
//! build with this feature).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use deadpool_sqlite::rusqlite::trace::TraceEvent;

/// Live counters: a needle and its count.
static COUNTERS: Mutex<Vec<(String, Arc<AtomicUsize>)>> = Mutex::new(Vec::new());

/// Counts the statements SQLite begins whose text contains a needle (a table name),
/// on every connection of every store in this process, while it lives.
#[derive(Debug)]
pub struct StatementCounter {
    needle: String,
    seen: Arc<AtomicUsize>,
}

impl StatementCounter {
    /// Starts counting statements that mention `needle`.
    pub fn start(needle: impl Into<String>) -> Self {
        let needle = needle.into();
        let seen = Arc::new(AtomicUsize::new(0));
        COUNTERS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((needle.clone(), seen.clone()));
        StatementCounter { needle, seen }
    }

    /// Statements counted so far.
    pub fn count(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }
}

impl Drop for StatementCounter {
    fn drop(&mut self) {
        COUNTERS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(needle, seen)| !(needle == &self.needle && Arc::ptr_eq(seen, &self.seen)));
    }
}

pub(crate) fn count(event: TraceEvent<'_>) {
    let TraceEvent::Stmt(_, sql) = event else {
        return;
    };
    for (needle, seen) in COUNTERS.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        if sql.contains(needle.as_str()) {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    }
}
