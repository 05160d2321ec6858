//! Lanes: everything that exists once per (account, region), built once and kept together.
//!
//! A lane holds its Lambda port (the SDK client with its credentials, the request budget, the
//! metering) and, in list mode, the cache its sweep fills. The registry builds a lane the first
//! time a resource needs it, starts its sweeper under supervision, retires it when no resource
//! uses it any more, and stops every sweeper when the controller shuts down. Nothing is started
//! from inside a reconcile but through here.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::cache::{MappingCache, SweepSettings, Triggers};
use super::lock;
use super::sweep;
use crate::lambda::{Connect, LambdaPort, LaneKey};

/// One lane: where its calls go and what the sweep knows of it.
pub struct Lane<P> {
    pub key: Arc<LaneKey>,
    /// When it was built: a lane is never retired in its first minutes (a reconcile may have
    /// just built it and not yet recorded that it uses it).
    pub(crate) built: Instant,
    pub lambda: P,
    /// The sweep's cache (list mode); `None` observes with one Get per resource.
    pub cache: Option<MappingCache>,
}

impl<P: LambdaPort> Lane<P> {
    /// Whether this lane's sweeps work, so that they stand in for per-resource re-checks.
    pub fn sweeping(&self) -> bool {
        self.cache.as_ref().is_some_and(MappingCache::sweeping)
    }
}

/// The registry of lanes.
pub struct Lanes<C: Connect> {
    connector: C,
    /// `None`: get mode, no sweeps.
    sweeps: Option<SweepSettings>,
    /// Sweep triggers of every lane, for the controllers to subscribe to.
    pub triggers: Arc<Triggers>,
    lanes: Mutex<HashMap<LaneKey, Arc<Lane<C::Port>>>>,
    sweepers: Mutex<HashMap<LaneKey, AbortHandle>>,
}

/// How long a lane nobody uses is kept before it is retired.
pub(crate) const LANE_IDLE_GRACE: Duration = Duration::from_secs(300);

impl<C: Connect> Lanes<C> {
    /// Lanes that observe with one Get per resource (get mode).
    pub fn new(connector: C) -> Self {
        Self {
            connector,
            sweeps: None,
            triggers: Arc::default(),
            lanes: Mutex::default(),
            sweepers: Mutex::default(),
        }
    }

    /// Lanes observed through a List sweep each (list mode).
    pub fn with_sweeps(mut self, sweeps: SweepSettings) -> Self {
        self.sweeps = Some(sweeps);
        self
    }

    pub fn sweeps(&self) -> Option<SweepSettings> {
        self.sweeps
    }

    pub fn connector(&self) -> &C {
        &self.connector
    }

    /// The lane, built (and its sweeper started) on first use.
    pub(crate) fn lane(&self, key: &LaneKey) -> Arc<Lane<C::Port>> {
        let mut lanes = lock(&self.lanes);
        if let Some(lane) = lanes.get(key) {
            return lane.clone();
        }
        let lane = Arc::new(Lane {
            key: Arc::new(key.clone()),
            built: Instant::now(),
            lambda: self.connector.connect(key),
            cache: self
                .sweeps
                .map(|settings| MappingCache::new(settings, self.triggers.clone())),
        });
        lanes.insert(key.clone(), lane.clone());
        drop(lanes);
        // A zero interval means sweeps are driven by hand (tests).
        if self.sweeps.is_some_and(|s| !s.interval.is_zero()) {
            let started = lane.clone();
            let task = tokio::spawn(sweep::supervise(
                format!("mapping sweep of {key}"),
                move || sweep::sweep_loop(started.clone()),
            ));
            lock(&self.sweepers).insert(key.clone(), task.abort_handle());
        }
        lane
    }

    /// Retires every lane that no resource uses (and that is past its grace): its sweeper
    /// stops, and its client, credentials, budget and cache are dropped once the last
    /// reconcile holding it ends. Returns the retired lanes.
    pub(crate) fn retire_unused(&self, in_use: &HashSet<LaneKey>) -> Vec<LaneKey> {
        let now = Instant::now();
        let mut lanes = lock(&self.lanes);
        let idle: Vec<LaneKey> = lanes
            .iter()
            .filter(|(key, lane)| {
                !in_use.contains(*key) && now.duration_since(lane.built) >= LANE_IDLE_GRACE
            })
            .map(|(key, _)| key.clone())
            .collect();
        let mut sweepers = lock(&self.sweepers);
        for key in &idle {
            lanes.remove(key);
            if let Some(sweeper) = sweepers.remove(key) {
                sweeper.abort();
            }
            tracing::info!(lane = %key, "retired a lane that no resource uses");
        }
        idle
    }

    /// Every lane built so far.
    pub(crate) fn all(&self) -> Vec<Arc<Lane<C::Port>>> {
        lock(&self.lanes).values().cloned().collect()
    }

    /// The resource is gone: no mapping in any lane triggers it any more.
    pub(crate) fn forget_owner(&self, namespace: &str, name: &str) {
        for lane in self.all() {
            if let Some(cache) = &lane.cache {
                cache.forget_owner(namespace, name);
            }
        }
    }

    /// Stops every sweeper (the controller is shutting down).
    pub fn shutdown(&self) {
        for (_, sweeper) in lock(&self.sweepers).drain() {
            sweeper.abort();
        }
    }
}

impl<C: Connect> Drop for Lanes<C> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::{LambdaError, ListFilter, MappingFields, MappingPage, ObservedMapping};
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    /// A lane whose List answers an empty page, counting its connections and Lists.
    #[derive(Default)]
    struct Counting {
        connects: AtomicU32,
        lists: Arc<AtomicU32>,
    }

    struct CountingLane(Arc<AtomicU32>);

    impl Connect for Counting {
        type Port = CountingLane;
        fn connect(&self, _: &LaneKey) -> CountingLane {
            self.connects.fetch_add(1, Ordering::SeqCst);
            CountingLane(self.lists.clone())
        }
    }

    fn unused<T>() -> Result<T, LambdaError> {
        unreachable!("the sweep only lists")
    }

    impl LambdaPort for CountingLane {
        async fn create_mapping(&self, _: &MappingFields) -> Result<ObservedMapping, LambdaError> {
            unused()
        }
        async fn get_mapping(&self, _: &str) -> Result<ObservedMapping, LambdaError> {
            unused()
        }
        async fn update_mapping(
            &self,
            _: &str,
            _: &MappingFields,
        ) -> Result<ObservedMapping, LambdaError> {
            unused()
        }
        async fn delete_mapping(&self, _: &str) -> Result<ObservedMapping, LambdaError> {
            unused()
        }
        async fn list_mappings(
            &self,
            _: &ListFilter,
            _: Option<&str>,
        ) -> Result<MappingPage, LambdaError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(MappingPage::default())
        }
        async fn tag_resource(
            &self,
            _: &str,
            _: &BTreeMap<String, String>,
        ) -> Result<(), LambdaError> {
            unused()
        }
        async fn untag_resource(&self, _: &str, _: &[String]) -> Result<(), LambdaError> {
            unused()
        }
        async fn list_tags(&self, _: &str) -> Result<BTreeMap<String, String>, LambdaError> {
            unused()
        }
    }

    /// Lanes swept once a minute, and the count of their List calls.
    fn sweeping_every_minute() -> (Lanes<Counting>, Arc<AtomicU32>) {
        let connector = Counting::default();
        let lists = connector.lists.clone();
        let lanes = Lanes::new(connector).with_sweeps(SweepSettings {
            interval: Duration::from_secs(60),
            busy_interval: Duration::from_secs(2),
            pages_per_second: None,
        });
        (lanes, lists)
    }

    #[tokio::test(start_paused = true)]
    async fn a_lane_is_built_once_and_its_sweeper_stops_with_the_registry() {
        let (lanes, lists) = sweeping_every_minute();
        let a = LaneKey::region("eu-west-1");
        let first = lanes.lane(&a);
        for _ in 0..10 {
            assert!(Arc::ptr_eq(&first, &lanes.lane(&a)), "the same lane");
        }
        lanes.lane(&LaneKey::region("us-east-1"));
        assert_eq!(lanes.connector().connects.load(Ordering::SeqCst), 2);
        assert_eq!(lanes.all().len(), 2);

        tokio::time::sleep(Duration::from_secs(125)).await;
        let swept = lists.load(Ordering::SeqCst);
        assert_eq!(
            swept, 6,
            "each lane swept at 0, 60 and 120 s, by one sweeper each"
        );
        lanes.shutdown();
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(
            lists.load(Ordering::SeqCst),
            swept,
            "no sweep after shutdown"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_lane_no_resource_uses_is_retired_after_its_grace_and_its_sweeper_stops() {
        let (lanes, lists) = sweeping_every_minute();
        let used = LaneKey::region("eu-west-1");
        let unused = LaneKey::region("us-east-1");
        lanes.lane(&used);
        lanes.lane(&unused);
        let in_use: HashSet<LaneKey> = [used.clone()].into();
        assert!(
            lanes.retire_unused(&in_use).is_empty(),
            "a lane just built is kept"
        );
        // Half way between two sweeps, so that the count below has no edge case.
        tokio::time::sleep(LANE_IDLE_GRACE + Duration::from_secs(30)).await;
        assert_eq!(lanes.retire_unused(&in_use), vec![unused.clone()]);
        assert_eq!(lanes.all().len(), 1);
        let swept = lists.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(
            lists.load(Ordering::SeqCst) - swept,
            10,
            "only the used lane still sweeps, once a minute"
        );
        // Needed again: built again, with a sweeper of its own.
        lanes.lane(&unused);
        assert_eq!(lanes.connector().connects.load(Ordering::SeqCst), 3);
    }
}
