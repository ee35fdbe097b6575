//! What a case works with.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Subject;
use crate::{Capabilities, DeleteCondition, ManualClock, Store, Timestamp};

/// What a case works with: the store, its own namespaces, and time control.
#[derive(Debug)]
pub struct Ctx<S> {
    store: Arc<S>,
    instances: Vec<Arc<S>>,
    clock: Option<ManualClock>,
    case: &'static str,
    nonce: String,
    namespaces: Mutex<Vec<String>>,
}

impl<S: Store + 'static> Ctx<S> {
    pub(crate) fn new(subject: Subject<S>, case: &'static str) -> Self {
        let store = Arc::new(subject.store);
        let mut instances = vec![store.clone()];
        instances.extend(subject.others.into_iter().map(Arc::new));
        Ctx {
            store,
            instances,
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

    /// The instance task `i` of a race uses: the subject's independent instances in
    /// turn (the main one alone when it has none).
    pub fn instance(&self, i: usize) -> Arc<S> {
        self.instances[i % self.instances.len()].clone()
    }

    /// How many independent instances the subject provided (1 when only the main one).
    pub fn instance_count(&self) -> usize {
        self.instances.len()
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

    /// `Some(reason)` when the backend raises a TTL as short as
    /// [`short_ttl`](Self::short_ttl) (its [`min_ttl`](crate::Capabilities::min_ttl)):
    /// a case that waits a short TTL out cannot run.
    pub fn short_ttl_unsupported(&self) -> Option<String> {
        let floor = self.caps().min_ttl;
        (floor > self.short_ttl()).then(|| {
            format!(
                "the backend raises TTLs below {} s to {} s (min_ttl): a short TTL cannot be \
                 waited out",
                floor.as_secs(),
                floor.as_secs()
            )
        })
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
    pub(crate) async fn clean_up(&self) {
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
