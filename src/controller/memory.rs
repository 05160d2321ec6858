//! What the controller remembers about each resource between reconciles, in one record under
//! one key. Everything else about a resource lives in the cluster (its status) or in Lambda.
//!
//! One record instead of a map per concern: one lock round-trip per question, one key scheme,
//! and one call ([`Memory::forget`]) that every path by which a resource goes takes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::backoff::{Backoff, Track};
use super::lock;
use crate::api::EventSourceMapping;
use crate::lambda::LaneKey;
use crate::telemetry::Metrics;

/// A resource's key: a digest of `namespace/name`. Two names colliding in 64 bits is not a
/// practical concern; the string itself is never needed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjectKey(u64);

impl ObjectKey {
    pub fn new(namespace: &str, name: &str) -> Self {
        Self(super::stored::digest(&(namespace, name)))
    }

    pub fn of(object: &impl kube::Resource) -> Self {
        use kube::ResourceExt;
        Self::new(&object.namespace().unwrap_or_default(), &object.name_any())
    }
}

/// The mapping this process created for a resource, until its status shows the UUID.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnCreate {
    /// The UID of the resource that created it: a resource re-created under the same name never
    /// inherits an old UUID.
    pub uid: String,
    pub uuid: String,
    pub tags_digest: String,
}

/// Everything remembered about one resource. An empty record is dropped.
#[derive(Debug, Default)]
struct Remembered {
    /// Attempts in a row on each backoff track ([`Track::index`]).
    attempts: [u32; 3],
    /// A stalled create left alone until the instant, unless the fingerprint (a digest of what
    /// the user can change to fix it) changes first.
    stall: Option<(u64, Instant)>,
    own_create: Option<Box<OwnCreate>>,
    /// Lambda throttled this process's last Create for the resource: it created nothing, so the
    /// create marker still in status needs no lookup before the next attempt.
    create_throttled: bool,
    /// Since when reads of the mapping have failed in a row.
    read_failing_since: Option<Instant>,
    /// The mapping's Lambda state as the mappings-by-state gauge counts it.
    state: Option<&'static str>,
    /// When this process created the mapping, until the resource is first Ready.
    created_at: Option<Instant>,
    /// When the resource is next due for a reconcile (queue-depth gauge).
    due: Option<Instant>,
    /// The lane (account and region) its mapping is managed in, since its last reconcile: which
    /// lanes are in use, and how many resources use each account binding.
    lane: Option<Arc<LaneKey>>,
    /// The resource as this process last wrote or read it, while a reconcile is expected soon
    /// (see [`Memory::keep_copy`]).
    copy: Option<KeptCopy>,
}

/// A resource as the API server returned it to this process, with the digest of its metadata
/// ([`super::stored::fingerprint`]) to compare with what the watch saw since.
#[derive(Debug)]
struct KeptCopy {
    object: Arc<EventSourceMapping>,
    print: u64,
}

impl Remembered {
    fn is_empty(&self) -> bool {
        self.attempts == [0; 3]
            && self.stall.is_none()
            && self.own_create.is_none()
            && !self.create_throttled
            && self.read_failing_since.is_none()
            && self.state.is_none()
            && self.created_at.is_none()
            && self.due.is_none()
            && self.lane.is_none()
            && self.copy.is_none()
    }
}

/// The records of every resource, with the backoff policy and the metrics they feed.
pub struct Memory {
    objects: Mutex<HashMap<ObjectKey, Remembered>>,
    backoff: Backoff,
    metrics: Arc<Metrics>,
}

impl Memory {
    pub fn new(backoff: Backoff, metrics: Arc<Metrics>) -> Self {
        Self {
            objects: Mutex::default(),
            backoff,
            metrics,
        }
    }

    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Reads or changes the record of `key` (created when missing, dropped once empty).
    fn with<T>(&self, key: ObjectKey, change: impl FnOnce(&mut Remembered) -> T) -> T {
        let mut objects = lock(&self.objects);
        let record = objects.entry(key).or_default();
        let out = change(record);
        if record.is_empty() {
            objects.remove(&key);
        }
        out
    }

    /// Reads or changes the record of `key` only if there is one (dropping it once empty;
    /// `T::default()` without one): for the calls that only read or clear, which every
    /// reconcile makes and which must not insert and remove a record each time.
    fn existing<T: Default>(&self, key: ObjectKey, change: impl FnOnce(&mut Remembered) -> T) -> T {
        let mut objects = lock(&self.objects);
        let Some(record) = objects.get_mut(&key) else {
            return T::default();
        };
        let out = change(record);
        if record.is_empty() {
            objects.remove(&key);
        }
        out
    }

    /// The resource's mapping is managed in this lane.
    pub(crate) fn uses_lane(&self, key: ObjectKey, lane: &Arc<LaneKey>) {
        self.with(key, |r| {
            if r.lane.as_ref().is_none_or(|had| !Arc::ptr_eq(had, lane)) {
                r.lane = Some(lane.clone());
            }
        });
    }

    /// Every lane some resource uses.
    pub(crate) fn lanes_in_use(&self) -> std::collections::HashSet<LaneKey> {
        let objects = lock(&self.objects);
        let unique: std::collections::HashSet<&LaneKey> =
            objects.values().filter_map(|r| r.lane.as_deref()).collect();
        unique.into_iter().cloned().collect()
    }

    /// How many resources use the account binding `name`.
    pub(crate) fn binding_users(&self, name: &str) -> usize {
        lock(&self.objects)
            .values()
            .filter_map(|r| r.lane.as_deref()?.account.as_ref())
            .filter(|role| role.binding == name)
            .count()
    }

    /// Forgets the resource: it is gone. Its mapping no longer counts in the gauge.
    pub fn forget(&self, key: ObjectKey) {
        let record = lock(&self.objects).remove(&key);
        if let Some(state) = record.and_then(|r| r.state) {
            self.metrics.mapping_state_changed(Some(state), None);
        }
    }

    /// Whether anything is remembered about the resource.
    pub fn remembers(&self, key: ObjectKey) -> bool {
        lock(&self.objects).contains_key(&key)
    }

    /// Resources whose reconcile is due but has not started.
    pub(crate) fn overdue(&self, now: Instant) -> usize {
        lock(&self.objects)
            .values()
            .filter(|r| r.due.is_some_and(|due| due <= now))
            .count()
    }

    // --- backoff -------------------------------------------------------------------------------

    /// The next delay for the resource on this track, counting the attempt.
    pub(crate) fn next_delay(&self, key: ObjectKey, track: Track) -> Duration {
        let attempt = self.with(key, |r| {
            let n = &mut r.attempts[track.index()];
            *n = n.saturating_add(1);
            *n
        });
        self.backoff.delay(track, attempt, key.0)
    }

    /// Forgets the resource's attempts on a track (after progress).
    pub(crate) fn reset(&self, key: ObjectKey, track: Track) {
        self.existing(key, |r| r.attempts[track.index()] = 0);
    }

    // --- stall holds ---------------------------------------------------------------------------

    /// Leaves a stalled resource alone until `until`, unless `fingerprint` changes first.
    pub(crate) fn hold_stalled(&self, key: ObjectKey, fingerprint: u64, until: Instant) {
        self.with(key, |r| r.stall = Some((fingerprint, until)));
    }

    /// How long a stalled resource is still held, if it is and nothing changed.
    pub(crate) fn stalled_for(&self, key: ObjectKey, fingerprint: u64) -> Option<Duration> {
        let now = Instant::now();
        self.existing(key, |r| match r.stall {
            Some((held, until)) if held == fingerprint && until > now => {
                Some(until.saturating_duration_since(now))
            }
            _ => {
                r.stall = None;
                None
            }
        })
    }

    pub fn release_stalled(&self, key: ObjectKey) {
        self.existing(key, |r| r.stall = None);
    }

    // --- our own creates -----------------------------------------------------------------------

    /// Remembers (`Some`) or forgets (`None`) the mapping this process created for the resource.
    pub(crate) fn remember_create(&self, key: ObjectKey, create: Option<OwnCreate>) {
        match create {
            Some(create) => self.with(key, |r| r.own_create = Some(Box::new(create))),
            None => self.existing(key, |r| r.own_create = None),
        }
    }

    /// Lambda throttled the resource's Create (`true`), or a new attempt is under way.
    pub(crate) fn create_throttled(&self, key: ObjectKey, throttled: bool) {
        if throttled {
            self.with(key, |r| r.create_throttled = true);
        } else {
            self.existing(key, |r| r.create_throttled = false);
        }
    }

    /// Whether the resource's last Create was throttled (and so created nothing).
    pub(crate) fn was_create_throttled(&self, key: ObjectKey) -> bool {
        self.existing(key, |r| r.create_throttled)
    }

    /// The mapping this process created for the resource, if that resource had `uid`.
    pub(crate) fn own_create(&self, key: ObjectKey, uid: &str) -> Option<OwnCreate> {
        self.existing(key, |r| {
            r.own_create.as_deref().filter(|c| c.uid == uid).cloned()
        })
    }

    // --- the last copy of the resource -------------------------------------------------------

    /// Keeps the resource as the API server last returned it (to a status write, or a read),
    /// so that the next reconcile, due soon, need not read it again. Kept only while the
    /// resource is in progress: a Ready resource is looked at again rarely, and 10,000 copies
    /// would be most of the controller's memory (see [`super::stored`]). Managed fields are
    /// left out: no reconcile reads them, and they are often the biggest part of the object.
    pub(crate) fn keep_copy(&self, key: ObjectKey, mut object: EventSourceMapping) {
        object.metadata.managed_fields = None;
        let print = super::stored::fingerprint(&object.metadata);
        let object = Arc::new(object);
        self.with(key, |r| r.copy = Some(KeptCopy { object, print }));
    }

    /// The kept copy, if the metadata the watch saw last (`print`) is still the copy's: nothing
    /// a reconcile acts on changed since the API server returned it.
    /// A copy the watch has seen change since is dropped: it will never be used.
    pub(crate) fn copy(&self, key: ObjectKey, print: u64) -> Option<Arc<EventSourceMapping>> {
        self.existing(key, |r| {
            if r.copy.as_ref().is_some_and(|c| c.print != print) {
                r.copy = None;
            }
            r.copy.as_ref().map(|c| c.object.clone())
        })
    }

    pub(crate) fn drop_copy(&self, key: ObjectKey) {
        self.existing(key, |r| r.copy = None);
    }

    // --- failing reads -------------------------------------------------------------------------

    /// Since when reads of the resource's mapping have failed in a row (noting now if this is
    /// the first).
    pub(crate) fn read_failing_since(&self, key: ObjectKey) -> Instant {
        self.with(key, |r| {
            *r.read_failing_since.get_or_insert_with(Instant::now)
        })
    }

    /// A read of the resource's mapping succeeded.
    pub(crate) fn read_succeeded(&self, key: ObjectKey) {
        self.existing(key, |r| r.read_failing_since = None);
    }

    // --- what the metrics follow ---------------------------------------------------------------

    /// A reconcile of the resource starts: it is no longer waiting in the queue.
    pub(crate) fn reconcile_started(&self, key: ObjectKey) {
        self.existing(key, |r| r.due = None);
    }

    /// Records when the resource is due next (its requeue).
    pub(crate) fn scheduled(&self, key: ObjectKey, after: Duration) {
        self.with(key, |r| r.due = Some(Instant::now() + after));
    }

    /// Records the Lambda state of the resource's mapping (`None`: no mapping).
    pub(crate) fn mapping_state(&self, key: ObjectKey, state: Option<&str>) {
        let state = state.map(crate::telemetry::state_label);
        let previous = self.with(key, |r| std::mem::replace(&mut r.state, state));
        if previous != state {
            self.metrics.mapping_state_changed(previous, state);
        }
    }

    pub(crate) fn mapping_created(&self, key: ObjectKey) {
        self.with(key, |r| r.created_at = Some(Instant::now()));
    }

    /// The resource is Ready: observe the time since its mapping was created, once.
    pub(crate) fn ready(&self, key: ObjectKey) {
        if let Some(created) = self.existing(key, |r| r.created_at.take()) {
            self.metrics.time_to_ready(created.elapsed());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Memory {
        Memory::new(
            Backoff::new(Duration::from_secs(300), Duration::from_secs(10)),
            Arc::default(),
        )
    }

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    fn key(name: &str) -> ObjectKey {
        ObjectKey::new("ns", name)
    }

    #[test]
    fn one_call_forgets_everything_about_a_resource() {
        let m = memory();
        let a = key("a");
        m.next_delay(a, Track::Error);
        m.hold_stalled(a, 7, Instant::now() + Duration::from_secs(60));
        m.remember_create(
            a,
            Some(OwnCreate {
                uid: "u".into(),
                uuid: "x".into(),
                tags_digest: "d".into(),
            }),
        );
        m.read_failing_since(a);
        m.mapping_state(a, Some("Enabled"));
        m.mapping_created(a);
        m.scheduled(a, Duration::ZERO);
        m.mapping_state(key("b"), Some("Enabled"));
        assert!(m.remembers(a));
        assert_eq!(
            value(&m.metrics().encode(), r#"esm_mappings{state="Enabled"}"#),
            Some(2.0)
        );

        m.forget(a);
        assert!(!m.remembers(a));
        assert!(m.remembers(key("b")), "only that resource");
        assert_eq!(
            value(&m.metrics().encode(), r#"esm_mappings{state="Enabled"}"#),
            Some(1.0)
        );
        assert_eq!(m.overdue(Instant::now()), 0);
    }

    #[test]
    fn an_emptied_record_is_dropped() {
        let m = memory();
        let a = key("a");
        m.next_delay(a, Track::Busy);
        m.read_failing_since(a);
        m.reset(a, Track::Busy);
        assert!(m.remembers(a));
        m.read_succeeded(a);
        assert!(!m.remembers(a), "nothing left to remember");
    }

    #[test]
    fn an_own_create_is_handed_only_to_the_resource_that_made_it() {
        let m = memory();
        let create = OwnCreate {
            uid: "uid-1".into(),
            uuid: "uuid-1".into(),
            tags_digest: "d".into(),
        };
        m.remember_create(key("a"), Some(create.clone()));
        assert_eq!(m.own_create(key("a"), "uid-1"), Some(create));
        assert_eq!(
            m.own_create(key("a"), "uid-2"),
            None,
            "a re-created resource of the same name"
        );
        m.remember_create(key("a"), None);
        assert_eq!(m.own_create(key("a"), "uid-1"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_is_held_until_its_time_or_a_change() {
        let m = memory();
        let a = key("a");
        m.hold_stalled(a, 1, Instant::now() + Duration::from_secs(300));
        assert_eq!(m.stalled_for(a, 1), Some(Duration::from_secs(300)));
        tokio::time::advance(Duration::from_secs(100)).await;
        assert_eq!(m.stalled_for(a, 1), Some(Duration::from_secs(200)));
        assert_eq!(m.stalled_for(a, 2), None, "the user changed something");
        assert_eq!(m.stalled_for(a, 1), None, "and the hold is gone");
    }

    #[test]
    fn time_to_ready_is_observed_once_per_create() {
        let m = memory();
        m.ready(key("x"));
        assert_eq!(
            value(&m.metrics().encode(), "esm_time_to_ready_seconds_count"),
            Some(0.0)
        );
        m.mapping_created(key("x"));
        m.ready(key("x"));
        m.ready(key("x"));
        assert_eq!(
            value(&m.metrics().encode(), "esm_time_to_ready_seconds_count"),
            Some(1.0)
        );
    }

    #[test]
    fn queue_depth_counts_overdue_resources_until_they_start() {
        let m = memory();
        m.scheduled(key("a"), Duration::ZERO);
        m.scheduled(key("b"), Duration::ZERO);
        m.scheduled(key("c"), Duration::from_secs(3600));
        assert_eq!(m.overdue(Instant::now()), 2);
        m.reconcile_started(key("a"));
        assert_eq!(m.overdue(Instant::now()), 1);
    }

    #[test]
    fn the_gauge_follows_state_changes() {
        let m = memory();
        m.mapping_state(key("a"), Some("Creating"));
        m.mapping_state(key("b"), Some("Creating"));
        m.mapping_state(key("a"), Some("Enabled"));
        let text = m.metrics().encode();
        assert_eq!(value(&text, r#"esm_mappings{state="Creating"}"#), Some(1.0));
        assert_eq!(value(&text, r#"esm_mappings{state="Enabled"}"#), Some(1.0));
        m.mapping_state(key("a"), None);
        assert_eq!(
            value(&m.metrics().encode(), r#"esm_mappings{state="Enabled"}"#),
            Some(0.0)
        );
    }
}
