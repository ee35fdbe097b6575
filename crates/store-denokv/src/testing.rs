//! Test helpers (feature `testing`): the KV Connect requests a store sends.

use crate::DenoKvStore;

/// Requests a store (and its clones) sent so far, by KV Connect method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Requests {
    /// `snapshot_read` requests.
    pub reads: u64,
    /// `atomic_write` requests.
    pub writes: u64,
    /// Anything else (the metadata exchange).
    pub other: u64,
}

impl Requests {
    /// Data requests (reads and writes): round trips of operations.
    pub fn data(&self) -> u64 {
        self.reads + self.writes
    }
}

impl std::ops::Sub for Requests {
    type Output = Requests;

    fn sub(self, earlier: Requests) -> Requests {
        Requests {
            reads: self.reads - earlier.reads,
            writes: self.writes - earlier.writes,
            other: self.other - earlier.other,
        }
    }
}

impl DenoKvStore {
    /// Requests sent so far (a running count: subtract an earlier reading).
    pub fn requests(&self) -> Requests {
        let (reads, writes, other) = self.driver().sent();
        Requests {
            reads,
            writes,
            other,
        }
    }
}
