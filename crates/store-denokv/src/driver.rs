//! The thread that runs `denokv_remote`'s client.
//!
//! `denokv_remote::Remote` implements `denokv_proto::Database`, whose futures are not
//! `Send` (the trait is `async_trait(?Send)`), while a [`store_core::Store`]'s must be.
//! So each store owns one thread with a single-threaded runtime and a `LocalSet` on
//! which the client lives; operations reach it over a channel and run concurrently
//! there (each its own local task), answers come back on a oneshot. The thread ends
//! when the last clone of the store is dropped.

use std::sync::Arc;
use std::time::Duration;

use denokv_proto::{
    AtomicWrite, CommitResult, Consistency, Database, ReadRange, ReadRangeOutput,
    SnapshotReadOptions,
};
use denokv_remote::{MetadataEndpoint, Remote};
use store_core::{Delivery, Error, Result};
use tokio::sync::{mpsc, oneshot};

use crate::client::{AllowAll, HttpTransport, Sent};
use crate::error::from_client;

enum Job {
    Read(
        Vec<ReadRange>,
        oneshot::Sender<Result<Vec<ReadRangeOutput>>>,
    ),
    Write(AtomicWrite, oneshot::Sender<Result<Option<CommitResult>>>),
}

/// A handle on the client's thread; clones share it.
#[derive(Clone)]
pub(crate) struct Driver {
    jobs: mpsc::UnboundedSender<Job>,
    timeout: Duration,
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    sent: Arc<Sent>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// Starts the thread with a client on `endpoint` (the metadata URL) and `token`.
    pub(crate) fn start(
        endpoint: url::Url,
        token: String,
        timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<Self> {
        let transport =
            HttpTransport::new(timeout, connect_timeout).map_err(Error::Misconfigured)?;
        let sent = transport.sent.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::backend("starting the Deno KV client's runtime", e))?;
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name("fleetstate-denokv".into())
            .spawn(move || {
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, async move {
                    let remote = Remote::new(
                        transport,
                        AllowAll,
                        MetadataEndpoint {
                            url: endpoint,
                            access_token: token,
                        },
                    );
                    while let Some(job) = queue.recv().await {
                        let remote = remote.clone();
                        tokio::task::spawn_local(run(remote, job));
                    }
                });
            })
            .map_err(|e| Error::backend("starting the Deno KV client's thread", e))?;
        Ok(Driver {
            jobs,
            timeout,
            sent,
        })
    }

    /// One `snapshot_read` of `ranges`, strongly consistent.
    pub(crate) async fn read(&self, ranges: Vec<ReadRange>) -> Result<Vec<ReadRangeOutput>> {
        let (tx, rx) = oneshot::channel();
        self.call(Job::Read(ranges, tx), rx).await
    }

    /// One `atomic_write`: `Some` when it committed, `None` when a check failed.
    pub(crate) async fn write(&self, write: AtomicWrite) -> Result<Option<CommitResult>> {
        let (tx, rx) = oneshot::channel();
        self.call(Job::Write(write, tx), rx).await
    }

    async fn call<T>(&self, job: Job, answer: oneshot::Receiver<Result<T>>) -> Result<T> {
        if self.jobs.send(job).is_err() {
            return Err(Error::unavailable(
                Delivery::NotSent,
                "the Deno KV client's thread has stopped",
            ));
        }
        // The transport bounds each request by the same timeout; this bounds the wait
        // for the client's metadata too (a server that never answered the exchange).
        // A little longer, so the transport's own verdict usually arrives first.
        let patience = self.timeout + self.timeout / 4;
        match tokio::time::timeout(patience, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::unavailable(
                Delivery::MaybeApplied,
                "the Deno KV client's thread stopped during the request",
            )),
            Err(_) => Err(Error::unavailable(
                Delivery::MaybeApplied,
                format!("Deno KV did not answer within {} ms", patience.as_millis()),
            )),
        }
    }

    /// Requests sent so far: (`snapshot_read`, `atomic_write`, other).
    #[cfg(feature = "testing")]
    pub(crate) fn sent(&self) -> (u64, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.sent.reads.load(Relaxed),
            self.sent.writes.load(Relaxed),
            self.sent.other.load(Relaxed),
        )
    }
}

async fn run(remote: Remote<AllowAll, HttpTransport>, job: Job) {
    match job {
        Job::Read(ranges, answer) => {
            let options = SnapshotReadOptions {
                consistency: Consistency::Strong,
            };
            let result = remote
                .snapshot_read(ranges, options)
                .await
                .map_err(|e| from_client(&e, false));
            let _ = answer.send(result);
        }
        Job::Write(write, answer) => {
            let result = remote
                .atomic_write(write)
                .await
                .map_err(|e| from_client(&e, true));
            let _ = answer.send(result);
        }
    }
}
