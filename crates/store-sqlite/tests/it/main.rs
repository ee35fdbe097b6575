//! store-sqlite's integration tests: SQLite is a library, so every test has its own
//! file (or in-memory database) and no service is needed.

mod processes;
mod statements;

use store_core::conformance::Subject;
use store_sqlite::{SqliteStore, SqliteStoreBuilder};

/// A fresh database file under cargo's temporary directory for tests (in `target/`).
pub(crate) fn temp_file() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("fleetstate-sqlite-{}.db", fastrand::u64(..)))
}

/// A conformance subject: 4 stores (a pool each) on one new file.
async fn file_subject() -> Option<Subject<SqliteStore>> {
    let path = temp_file();
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(SqliteStoreBuilder::file(&path).build().await.expect("open"));
    }
    let main = stores.remove(0);
    Some(Subject::new(main).with_instances(stores))
}

/// A conformance subject on a private in-memory database.
async fn memory_subject() -> Option<Subject<SqliteStore>> {
    Some(Subject::new(
        SqliteStoreBuilder::memory().build().await.expect("open"),
    ))
}

/// The whole suite on one file shared by 4 pools.
mod conformance_file {
    store_core::conformance_tests!(crate::file_subject());
}

/// The whole suite on `sqlite::memory:`.
mod conformance_memory {
    store_core::conformance_tests!(crate::memory_subject());
}
