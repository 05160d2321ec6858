//! The shared mapping cache: a background sweep lists every mapping of a region, page by page,
//! and reconciles read it instead of calling Get. Right after our own write, a reconcile waits
//! for the next sweep (run sooner while writes are settling) rather than spending a Get, so that
//! the state checks of many busy mappings cost one List page per 100 of them.
//!
//! A sweep is a snapshot taken over many seconds, so the cache only answers "absent" after a
//! complete sweep that started after our last write to that mapping, and the reconcile confirms
//! an absence with one Get before acting on it (semantics §7.3).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use kube::runtime::reflector::ObjectRef;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::api::EventSourceMapping;
use crate::lambda::ObservedMapping;

/// What the cache knows about one mapping.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// As of the last sweep (or a later read), and newer than our last write.
    Fresh(Box<ObservedMapping>),
    /// Not listed by a complete sweep that started after our last write.
    Absent,
    /// We wrote it after the last complete sweep started: wait for the next one.
    Pending,
    /// No complete sweep of this region yet.
    Unknown,
}

#[derive(Default)]
struct Region {
    mappings: HashMap<String, ObservedMapping>,
    /// When the last complete sweep started.
    swept: Option<Instant>,
    /// Our own writes not yet covered by a complete sweep.
    written: HashMap<String, Instant>,
    /// When we last wrote any mapping of this region.
    last_write: Option<Instant>,
    /// Which resource owns each mapping, and what it last saw (LastModified, transitional).
    owners: HashMap<String, (ObjectRef<EventSourceMapping>, Option<f64>, bool)>,
    sweeper: bool,
}

pub struct MappingCache {
    regions: Mutex<HashMap<String, Region>>,
    /// Interval between sweeps when nothing is settling.
    pub interval: Duration,
    /// Interval while our writes or busy mappings await a sweep.
    pub busy_interval: Duration,
    /// Wakes sweepers when a write makes a faster sweep worthwhile, and waiters when a sweep
    /// completes.
    pub wake_sweepers: Notify,
    pub swept: Notify,
    /// One channel per subscribed controller; holds only triggers not yet taken.
    triggers: Mutex<Vec<mpsc::UnboundedSender<ObjectRef<EventSourceMapping>>>>,
}

impl MappingCache {
    pub fn new(interval: Duration, busy_interval: Duration) -> Self {
        Self {
            regions: Mutex::default(),
            interval,
            busy_interval,
            wake_sweepers: Notify::new(),
            swept: Notify::new(),
            triggers: Mutex::default(),
        }
    }

    fn regions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Region>> {
        self.regions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resources to reconcile because the sweep saw their mapping change.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<ObjectRef<EventSourceMapping>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.triggers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        rx
    }

    /// Marks the region's sweeper as started; true if the caller must start it.
    pub fn claim_sweeper(&self, region: &str) -> bool {
        let mut regions = self.regions();
        let r = regions.entry(region.to_string()).or_default();
        !std::mem::replace(&mut r.sweeper, true)
    }

    pub fn lookup(&self, region: &str, uuid: &str) -> Lookup {
        let regions = self.regions();
        let Some(r) = regions.get(region) else {
            return Lookup::Unknown;
        };
        if r.written.contains_key(uuid) {
            return Lookup::Pending;
        }
        match (r.mappings.get(uuid), r.swept) {
            (Some(m), _) => Lookup::Fresh(Box::new(m.clone())),
            (None, Some(_)) => Lookup::Absent,
            (None, None) => Lookup::Unknown,
        }
    }

    /// We just wrote this mapping (Create, Update, Delete); its next observation comes from a
    /// sweep that starts after now.
    pub fn wrote(&self, region: &str, uuid: &str) {
        let mut regions = self.regions();
        let r = regions.entry(region.to_string()).or_default();
        let now = Instant::now();
        r.written.insert(uuid.to_string(), now);
        r.last_write = Some(now);
        drop(regions);
        self.wake_sweepers.notify_waiters();
    }

    /// A fresher observation (from Get).
    pub fn store(&self, region: &str, mapping: &ObservedMapping) {
        let mut regions = self.regions();
        let r = regions.entry(region.to_string()).or_default();
        r.written.remove(&mapping.uuid);
        r.mappings.insert(mapping.uuid.clone(), mapping.clone());
    }

    /// The mapping is gone (confirmed by Get).
    pub fn remove(&self, region: &str, uuid: &str) {
        let mut regions = self.regions();
        if let Some(r) = regions.get_mut(region) {
            r.mappings.remove(uuid);
            r.written.remove(uuid);
            r.owners.remove(uuid);
        }
    }

    /// Records which resource owns a mapping and what it has seen, for change triggers.
    pub fn watch(
        &self,
        region: &str,
        mapping: &ObservedMapping,
        owner: ObjectRef<EventSourceMapping>,
    ) {
        let mut regions = self.regions();
        let r = regions.entry(region.to_string()).or_default();
        let busy = mapping.state().is_transitional();
        r.owners
            .insert(mapping.uuid.clone(), (owner, mapping.last_modified, busy));
    }

    pub fn unwatch(&self, region: &str, uuid: &str) {
        if let Some(r) = self.regions().get_mut(region) {
            r.owners.remove(uuid);
        }
    }

    /// Whether writes or busy mappings are waiting for a sweep (sweep at the busy interval).
    pub fn settling(&self, region: &str) -> bool {
        self.regions()
            .get(region)
            .is_some_and(|r| !r.written.is_empty() || r.owners.values().any(|(_, _, busy)| *busy))
    }

    /// Takes in a complete sweep that started at `started`; triggers the resources whose mapping
    /// changed, vanished, settled, or was written by us before the sweep started.
    pub fn apply_sweep(
        &self,
        region: &str,
        started: Instant,
        mappings: Vec<ObservedMapping>,
    ) -> usize {
        let mut triggered: HashSet<ObjectRef<EventSourceMapping>> = HashSet::new();
        {
            let mut regions = self.regions();
            let r = regions.entry(region.to_string()).or_default();
            let listed: HashMap<String, ObservedMapping> =
                mappings.into_iter().map(|m| (m.uuid.clone(), m)).collect();
            // Writes the sweep could not have seen keep waiting; covered ones are released.
            let covered: Vec<String> = r
                .written
                .iter()
                .filter(|(_, at)| **at <= started)
                .map(|(uuid, _)| uuid.clone())
                .collect();
            for uuid in &covered {
                r.written.remove(uuid);
                if let Some((owner, _, _)) = r.owners.get(uuid) {
                    triggered.insert(owner.clone());
                }
            }
            for (uuid, (owner, seen_modified, busy)) in &r.owners {
                if r.written.contains_key(uuid) {
                    continue;
                }
                let changed = match listed.get(uuid) {
                    None => true,
                    Some(m) => m.last_modified != *seen_modified || *busy,
                };
                if changed {
                    triggered.insert(owner.clone());
                }
            }
            // Keep entries that a sweep could not have seen yet (written after it started).
            let mut next = listed;
            for uuid in r.written.keys() {
                if let Some(m) = r.mappings.get(uuid) {
                    next.entry(uuid.clone()).or_insert_with(|| m.clone());
                }
            }
            r.mappings = next;
            r.swept = Some(started);
        }
        let n = triggered.len();
        let mut senders = self.triggers.lock().unwrap_or_else(|e| e.into_inner());
        senders.retain(|tx| !tx.is_closed());
        for owner in triggered {
            for tx in senders.iter() {
                let _ = tx.send(owner.clone());
            }
        }
        drop(senders);
        self.swept.notify_waiters();
        n
    }

    /// How long ago we last wrote a mapping of this region (`None`: never).
    pub fn since_last_write(&self, region: &str) -> Option<Duration> {
        self.regions()
            .get(region)
            .and_then(|r| r.last_write)
            .map(|at| at.elapsed())
    }

    /// Whether a complete sweep of the region has happened.
    pub fn has_swept(&self, region: &str) -> bool {
        self.regions()
            .get(region)
            .is_some_and(|r| r.swept.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(uuid: &str, state: &str, modified: f64) -> ObservedMapping {
        serde_json::from_value(
            serde_json::json!({"UUID": uuid, "State": state, "LastModified": modified}),
        )
        .unwrap()
    }

    fn owner(name: &str) -> ObjectRef<EventSourceMapping> {
        ObjectRef::new(name).within("ns")
    }

    #[tokio::test(start_paused = true)]
    async fn answers_follow_sweeps_and_our_writes() {
        let cache = MappingCache::new(Duration::from_secs(60), Duration::from_secs(3));
        let mut triggers = cache.subscribe();
        assert_eq!(cache.lookup("r", "a"), Lookup::Unknown);

        let t0 = Instant::now();
        cache.apply_sweep("r", t0, vec![mapping("a", "Enabled", 1.0)]);
        assert_eq!(
            cache.lookup("r", "a"),
            Lookup::Fresh(Box::new(mapping("a", "Enabled", 1.0)))
        );
        assert_eq!(cache.lookup("r", "b"), Lookup::Absent);

        // Our write after the sweep: pending until a sweep that started later.
        tokio::time::advance(Duration::from_secs(1)).await;
        cache.watch("r", &mapping("a", "Enabled", 1.0), owner("x"));
        cache.wrote("r", "a");
        assert!(cache.settling("r"));
        assert_eq!(cache.lookup("r", "a"), Lookup::Pending);
        cache.apply_sweep("r", t0, vec![mapping("a", "Enabled", 1.0)]);
        assert_eq!(
            cache.lookup("r", "a"),
            Lookup::Pending,
            "a sweep started before the write proves nothing"
        );
        assert!(triggers.try_recv().is_err());

        tokio::time::advance(Duration::from_secs(1)).await;
        cache.apply_sweep("r", Instant::now(), vec![mapping("a", "Updating", 2.0)]);
        assert_eq!(
            cache.lookup("r", "a"),
            Lookup::Fresh(Box::new(mapping("a", "Updating", 2.0)))
        );
        assert_eq!(triggers.try_recv().unwrap(), owner("x"));
        assert!(!cache.settling("r") || cache.regions().get("r").unwrap().owners["a"].2);
    }

    #[tokio::test(start_paused = true)]
    async fn sweeps_trigger_only_changed_vanished_or_busy_mappings() {
        let cache = MappingCache::new(Duration::from_secs(60), Duration::from_secs(3));
        let mut triggers = cache.subscribe();
        cache.apply_sweep(
            "r",
            Instant::now(),
            vec![
                mapping("a", "Enabled", 1.0),
                mapping("b", "Enabled", 1.0),
                mapping("c", "Creating", 1.0),
            ],
        );
        cache.watch("r", &mapping("a", "Enabled", 1.0), owner("a"));
        cache.watch("r", &mapping("b", "Enabled", 1.0), owner("b"));
        cache.watch("r", &mapping("c", "Creating", 1.0), owner("c"));
        assert!(cache.settling("r"), "a busy mapping keeps the fast sweep");

        let n = cache.apply_sweep(
            "r",
            Instant::now(),
            vec![mapping("a", "Enabled", 1.0), mapping("c", "Enabled", 1.0)],
        );
        let mut got: Vec<String> = (0..n).map(|_| triggers.try_recv().unwrap().name).collect();
        got.sort();
        assert_eq!(got, ["b", "c"], "b vanished, c was busy; a is unchanged");

        // The triggered reconciles record what they saw; b is gone (its reconcile unwatches it).
        cache.watch("r", &mapping("a", "Enabled", 1.0), owner("a"));
        cache.watch("r", &mapping("c", "Enabled", 1.0), owner("c"));
        cache.unwatch("r", "b");
        assert!(!cache.settling("r"));
        let n = cache.apply_sweep(
            "r",
            Instant::now(),
            vec![mapping("a", "Enabled", 5.0), mapping("c", "Enabled", 1.0)],
        );
        assert_eq!(n, 1);
        assert_eq!(
            triggers.try_recv().unwrap(),
            owner("a"),
            "drift bumps LastModified"
        );
    }
}
