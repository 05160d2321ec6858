//! A lane's mapping cache: a background sweep lists every mapping of the lane, page by page,
//! and reconciles read it instead of calling Get. Right after our own write, a reconcile waits
//! for the next sweep (run sooner while writes are settling) rather than spending a Get, so that
//! the state checks of many busy mappings cost one List page per 100 of them.
//!
//! A sweep is a snapshot taken over many seconds, so the cache only answers "absent" after a
//! complete sweep that started after our last write to that mapping, and the reconcile confirms
//! an absence with one Get before acting on it (semantics §7.3).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::lock;
use crate::api::EventSourceMapping;
use crate::lambda::ObservedMapping;

/// What the cache knows about one mapping.
#[derive(Clone, Debug, PartialEq)]
pub enum Cached {
    /// As of the last sweep (or a later read), and newer than our last write.
    Fresh(Box<ObservedMapping>),
    /// Not listed by a complete sweep that started after our last write.
    Absent,
    /// We wrote it after the last complete sweep started: wait for the next one.
    Pending,
    /// No complete sweep of this lane yet.
    Unknown,
    /// The lane's first sweep is under way and has not listed it yet. Its resource is now the
    /// mapping's owner: the page that lists it, or the sweep's end for one no page lists,
    /// triggers the resource.
    Awaited,
}

/// The resource a trigger names. Name and namespace are all it needs; `ObjectRef::from_obj`
/// would also copy UID and resourceVersion into each of 10,000 entries.
pub fn owner_of(esm: &EventSourceMapping) -> ObjectRef<EventSourceMapping> {
    let name = ObjectRef::new(&esm.name_any());
    match &esm.metadata.namespace {
        Some(ns) => name.within(ns),
        None => name,
    }
}

/// What the cache keeps of one mapping: the mapping as its last sweep (or a later read) listed
/// it, and the resource that owns it. One entry per mapping, about 0.6 KB with its JSON: at
/// 10,000 mappings every byte here counts.
#[derive(Default)]
struct Entry {
    /// The mapping as compact JSON (`None`: not listed, only owned). The typed form is about
    /// 2 KB with its strings, while a lookup parses the JSON back in microseconds.
    json: Option<Box<str>>,
    owner: Option<Watcher>,
    /// The sweep that last listed it (see [`Pass::id`]).
    listed_in: u32,
}

impl Entry {
    fn mapping(&self) -> Option<ObservedMapping> {
        compact::expand(self.json.as_deref()?)
    }
}

mod compact;

/// The resource that owns a mapping, and what its last reconcile saw of it.
struct Watcher {
    /// `namespace/name`; neither can contain a slash.
    object: Box<str>,
    /// A digest of the mapping's `LastModified` and state as the resource last saw them
    /// (`None`: it has seen nothing yet, and awaits the first sweep's page).
    seen: Option<u64>,
    /// Whether that state was a transitional one (the sweep runs faster while any is).
    busy: bool,
}

impl Watcher {
    fn new(object: &ObjectRef<EventSourceMapping>, mapping: &ObservedMapping) -> Self {
        let mut owner = Self::awaiting(object);
        owner.saw(mapping);
        owner
    }

    /// A resource that has seen nothing of its mapping yet: anything listed is news to it.
    fn awaiting(object: &ObjectRef<EventSourceMapping>) -> Self {
        Self {
            object: format!(
                "{}/{}",
                object.namespace.as_deref().unwrap_or_default(),
                object.name
            )
            .into_boxed_str(),
            seen: None,
            busy: false,
        }
    }

    fn digest(mapping: &ObservedMapping) -> u64 {
        super::stored::digest(&(mapping.last_modified.map(f64::to_bits), &mapping.state))
    }

    fn object(&self) -> ObjectRef<EventSourceMapping> {
        match self.object.split_once('/') {
            Some(("", name)) => ObjectRef::new(name),
            Some((namespace, name)) => ObjectRef::new(name).within(namespace),
            None => ObjectRef::new(&self.object),
        }
    }

    /// Whether the listed mapping tells its resource something new: its configuration
    /// (`LastModified`) or state changed. A mapping that is still busy in the same state does
    /// not: re-reconciling it on every page would cost thousands of idle reconciles per sweep
    /// while a wave of creates settles.
    fn sees_change(&self, listed: &ObservedMapping) -> bool {
        Some(Self::digest(listed)) != self.seen
    }

    /// Records what the resource has seen (or, once triggered, will read) of its mapping.
    fn saw(&mut self, mapping: &ObservedMapping) {
        self.seen = Some(Self::digest(mapping));
        self.busy = mapping.state().is_transitional();
    }
}

/// The sweep under way.
struct Pass {
    started: Instant,
    /// Marks the entries its pages list ([`Entry::listed_in`]).
    id: u32,
}

#[derive(Default)]
struct LaneState {
    mappings: HashMap<Box<str>, Entry>,
    /// When the last complete sweep started.
    swept: Option<Instant>,
    pass: Option<Pass>,
    passes: u32,
    /// When the lane's first sweep began.
    first_started: Option<Instant>,
    /// Our own writes not yet covered by a sweep.
    written: HashMap<String, Instant>,
    /// When we last wrote any mapping of this lane.
    last_write: Option<Instant>,
    /// Sweeps that failed in a row since the last complete one. The sweeper retries within
    /// seconds, so one failed page (a throttle, a 5xx) changes nothing for reconciles; only
    /// after [`FAILURES_BEFORE_GETS`] in a row do they stop trusting the sweep.
    failures: u32,
}

/// Failed sweeps in a row after which the lane counts as failing: lookups ask Lambda (one Get
/// per resource) instead of waiting for a sweep that may never come (e.g. no
/// ListEventSourceMappings permission), and Ready resources are re-checked on the resync timer.
/// Below it, a failure is retried within seconds (1 s, 2 s, with jitter), which is far cheaper
/// than a Get for every resource that waited for the sweep.
pub const FAILURES_BEFORE_GETS: u32 = 3;

/// The longest a lane's first sweep is waited for before its resources ask Lambda themselves.
pub const FIRST_SWEEP_WAIT: Duration = Duration::from_secs(120);

impl LaneState {
    fn failing(&self) -> bool {
        self.failures >= FAILURES_BEFORE_GETS
    }

    fn lookup(&self, uuid: &str) -> Cached {
        // While sweeps fail, what the cache holds grows stale and a wait for a sweep to cover
        // our write would never end: the reconcile asks Lambda instead.
        if self.failing() {
            return Cached::Unknown;
        }
        if self.written.contains_key(uuid) {
            return Cached::Pending;
        }
        let entry = self.mappings.get(uuid);
        match (entry.and_then(|e| e.json.as_ref()), self.swept) {
            (Some(_), _) => match entry.and_then(Entry::mapping) {
                Some(m) => Cached::Fresh(Box::new(m)),
                None => Cached::Unknown,
            },
            (None, Some(_)) => Cached::Absent,
            (None, None) => Cached::Unknown,
        }
    }

    /// Whether a reconcile should wait for the lane's first sweep rather than ask Lambda: none
    /// has completed or failed for good, sweeps are not driven by hand (tests), and the first
    /// one has not run for longer than [`FIRST_SWEEP_WAIT`] (a lane too large to be swept in
    /// that time pays the Gets).
    fn awaits_first_sweep(&self, settings: &SweepSettings) -> bool {
        let limit = FIRST_SWEEP_WAIT.min(settings.interval * 2);
        self.swept.is_none()
            && !self.failing()
            && !limit.is_zero()
            && self.first_started.is_none_or(|at| at.elapsed() < limit)
    }

    fn entry(&mut self, uuid: &str) -> &mut Entry {
        if !self.mappings.contains_key(uuid) {
            self.mappings.insert(uuid.into(), Entry::default());
        }
        self.mappings.get_mut(uuid).expect("inserted above")
    }

    /// Stores the mapping, keeping the stored copy when nothing changed: a sweep lists every
    /// mapping each minute, and replacing 10,000 long-lived copies each time fragments the heap.
    fn put(&mut self, mapping: &ObservedMapping) {
        let json = compact::shrink(mapping);
        let entry = self.entry(&mapping.uuid);
        if entry.json.as_deref() != json.as_deref() {
            entry.json = json.map(String::into_boxed_str);
        }
    }

    fn owner(&self, uuid: &str) -> Option<&Watcher> {
        self.mappings.get(uuid)?.owner.as_ref()
    }

    fn owner_mut(&mut self, uuid: &str) -> Option<&mut Watcher> {
        self.mappings.get_mut(uuid)?.owner.as_mut()
    }
}

/// How often sweeps run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SweepSettings {
    /// The longest time between two sweeps when nothing is settling; zero: sweeps are driven
    /// by hand (tests), no sweeper runs. Without a pace, sweeps run exactly this often.
    pub interval: Duration,
    /// Interval while our writes or busy mappings await a sweep, and the shortest time between
    /// two sweeps.
    pub busy_interval: Duration,
    /// List pages per second a lane's sweep may spend when nothing is settling: a lane of P
    /// pages is swept every P / pace seconds (at least every `busy_interval`, at most every
    /// `interval`), its pages spread evenly. `None`: a fixed `interval`.
    pub pages_per_second: Option<f64>,
}

impl SweepSettings {
    /// How long a full cycle of a lane with `pages` pages takes when nothing is settling.
    pub fn cadence(&self, pages: usize) -> Duration {
        match self.pages_per_second {
            None => self.interval,
            Some(pace) => Duration::from_secs_f64(pages.max(1) as f64 / pace)
                .max(self.busy_interval)
                .min(self.interval),
        }
    }
}

/// The resources to reconcile because a sweep saw their mapping change, from every lane: one
/// channel per subscribed controller, holding only triggers not yet taken.
#[derive(Default)]
pub struct Triggers {
    senders: Mutex<Vec<mpsc::UnboundedSender<ObjectRef<EventSourceMapping>>>>,
}

impl Triggers {
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<ObjectRef<EventSourceMapping>> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.senders).push(tx);
        rx
    }

    fn send(&self, triggered: Vec<ObjectRef<EventSourceMapping>>) {
        if triggered.is_empty() {
            return;
        }
        let mut senders = lock(&self.senders);
        senders.retain(|tx| !tx.is_closed());
        for owner in triggered {
            for tx in senders.iter() {
                let _ = tx.send(owner.clone());
            }
        }
    }
}

/// One lane's mappings as the List sweep last saw them, our writes since, and the owners to
/// tell of a change.
pub struct MappingCache {
    state: Mutex<LaneState>,
    pub settings: SweepSettings,
    /// Wakes the sweeper when a write makes a faster sweep worthwhile.
    pub wake_sweeper: Notify,
    triggers: Arc<Triggers>,
}

impl MappingCache {
    pub fn new(settings: SweepSettings, triggers: Arc<Triggers>) -> Self {
        Self {
            state: Mutex::default(),
            settings,
            wake_sweeper: Notify::new(),
            triggers,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LaneState> {
        lock(&self.state)
    }

    #[cfg(test)]
    pub(crate) fn lookup(&self, uuid: &str) -> Cached {
        self.state().lookup(uuid)
    }

    /// Looks up a recorded mapping for its resource. While the lane's first sweep is under way
    /// (for at most [`FIRST_SWEEP_WAIT`]) and has not listed the mapping yet, the resource
    /// becomes its owner and the answer is [`Cached::Awaited`]: the reconcile returns at once
    /// and the page that lists the mapping triggers it again. After a restart, 10,000
    /// resources then wait without holding the controller's concurrent reconciles, and each
    /// is re-verified as its page comes in, at no Get.
    pub(crate) fn lookup_for(&self, uuid: &str, owner: &ObjectRef<EventSourceMapping>) -> Cached {
        let mut r = self.state();
        let answer = r.lookup(uuid);
        if answer != Cached::Unknown || !r.awaits_first_sweep(&self.settings) {
            return answer;
        }
        let entry = r.entry(uuid);
        if entry.owner.is_none() {
            entry.owner = Some(Watcher::awaiting(owner));
        }
        Cached::Awaited
    }

    /// We just wrote this mapping (Create, Update, Delete); its next observation comes from a
    /// sweep page fetched after now.
    pub fn wrote(&self, uuid: &str) {
        let mut r = self.state();
        let now = Instant::now();
        r.written.insert(uuid.to_string(), now);
        r.last_write = Some(now);
        drop(r);
        self.wake_sweeper.notify_waiters();
    }

    /// Our own write (Create, Update) answered with `mapping`: stored as the newest copy,
    /// watched for `owner`, and awaiting a sweep that covers it — in one step, so that a page
    /// taken in meanwhile cannot come between.
    pub fn record_write(&self, mapping: &ObservedMapping, owner: ObjectRef<EventSourceMapping>) {
        let mut state = self.state();
        let r = &mut *state;
        r.put(mapping);
        r.entry(&mapping.uuid).owner = Some(Watcher::new(&owner, mapping));
        let now = Instant::now();
        r.written.insert(mapping.uuid.clone(), now);
        r.last_write = Some(now);
        drop(state);
        self.wake_sweeper.notify_waiters();
    }

    /// A fresher observation (from Get).
    pub(crate) fn store(&self, mapping: &ObservedMapping) {
        let mut r = self.state();
        r.written.remove(&mapping.uuid);
        r.put(mapping);
    }

    /// The mapping is gone (confirmed by Get).
    pub(crate) fn remove(&self, uuid: &str) {
        let mut r = self.state();
        r.mappings.remove(uuid);
        r.written.remove(uuid);
    }

    /// Records which resource owns a mapping and what it has seen, for change triggers.
    pub(crate) fn watch(&self, mapping: &ObservedMapping, owner: ObjectRef<EventSourceMapping>) {
        let mut r = self.state();
        r.entry(&mapping.uuid).owner = Some(Watcher::new(&owner, mapping));
    }

    pub(crate) fn unwatch(&self, uuid: &str) {
        let mut r = self.state();
        if let Some(entry) = r.mappings.get_mut(uuid) {
            entry.owner = None;
            if entry.json.is_none() {
                r.mappings.remove(uuid);
            }
        }
    }

    /// The resource is gone: no mapping triggers it any more. A scan of every entry, for the rare
    /// case of a resource deleted without its finalizer (the normal path unwatches by UUID).
    pub(crate) fn forget_owner(&self, namespace: &str, name: &str) {
        let object = format!("{namespace}/{name}");
        self.state().mappings.retain(|_, entry| {
            if entry.owner.as_ref().is_some_and(|o| *o.object == *object) {
                entry.owner = None;
            }
            entry.owner.is_some() || entry.json.is_some()
        });
    }

    /// Whether writes or busy mappings are waiting for a sweep (sweep at the busy interval).
    pub(crate) fn settling(&self) -> bool {
        let r = self.state();
        !r.written.is_empty()
            || r.mappings
                .values()
                .any(|e| e.owner.as_ref().is_some_and(|o| o.busy))
    }

    /// Starts a sweep of the lane; its pages follow through [`Self::apply_page`].
    pub(crate) fn begin_sweep(&self, started: Instant) {
        let mut r = self.state();
        r.passes = r.passes.wrapping_add(1);
        r.first_started.get_or_insert(started);
        r.pass = Some(Pass {
            started,
            id: r.passes,
        });
    }

    /// Takes in one page of the sweep under way, fetched at `fetched`. Resources whose mapping
    /// changed (configuration or state) are triggered at once, so a drift is acted on as soon as its
    /// page is read, not after the last page; so are our writes this page confirms.
    pub(crate) fn apply_page(&self, fetched: Instant, mappings: Vec<ObservedMapping>) -> usize {
        let mut triggered = Vec::new();
        {
            let mut state = self.state();
            let r = &mut *state;
            let pass = r.pass.as_ref().map(|p| p.id);
            for mapping in mappings {
                if let Some(id) = pass {
                    r.entry(&mapping.uuid).listed_in = id;
                }
                let tell_owner = match r.written.get(&mapping.uuid) {
                    // The page may predate our write: keep waiting.
                    Some(at) if *at > fetched => continue,
                    Some(_) => {
                        r.written.remove(&mapping.uuid);
                        true
                    }
                    None => r
                        .owner(&mapping.uuid)
                        .is_some_and(|o| o.sees_change(&mapping)),
                };
                if tell_owner && let Some(owner) = r.owner_mut(&mapping.uuid) {
                    // The triggered reconcile reads the newest copy from the cache, so the
                    // owner has in effect seen this one: the next pages and sweeps must not
                    // trigger it again while it waits in the queue (a wave of creates
                    // settling would otherwise be reconciled twice).
                    owner.saw(&mapping);
                    triggered.push(owner.object());
                }
                r.put(&mapping);
            }
        }
        let n = triggered.len();
        self.triggers.send(triggered);
        n
    }

    /// Completes the sweep under way: mappings it never listed are gone (their resources are
    /// triggered, and confirm with a Get), and our writes from before it started are settled.
    /// Returns how many resources it triggered.
    pub(crate) fn finish_sweep(&self) -> usize {
        let mut triggered = Vec::new();
        {
            let mut state = self.state();
            let r = &mut *state;
            let Some(pass) = r.pass.take() else {
                return 0;
            };
            // Writes the sweep could not have seen keep waiting (and keep their entry); the
            // others were not listed by any page fetched after them: absent.
            let covered: Vec<String> = r
                .written
                .iter()
                .filter(|(_, at)| **at <= pass.started)
                .map(|(uuid, _)| uuid.clone())
                .collect();
            for uuid in covered {
                r.written.remove(&uuid);
                triggered.extend(r.owner(&uuid).map(Watcher::object));
            }
            // Mappings this sweep did not list are gone, unless we wrote them since; an owned
            // one keeps its owner (it is absent now) and its resource is told.
            let written = &r.written;
            r.mappings.retain(|uuid, entry| {
                if entry.listed_in == pass.id || written.contains_key(uuid.as_ref()) {
                    return true;
                }
                entry.json = None;
                match &entry.owner {
                    Some(owner) => {
                        triggered.push(owner.object());
                        true
                    }
                    None => false,
                }
            });
            r.swept = Some(pass.started);
            r.failures = 0;
        }
        triggered.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        triggered.dedup();
        let n = triggered.len();
        self.triggers.send(triggered);
        n
    }

    /// A complete sweep in one go (one page holding every mapping); for tests.
    pub fn apply_sweep(&self, started: Instant, mappings: Vec<ObservedMapping>) -> usize {
        self.begin_sweep(started);
        self.apply_page(started, mappings) + self.finish_sweep()
    }

    /// How long ago we last wrote a mapping of this lane (`None`: never).
    pub(crate) fn since_last_write(&self) -> Option<Duration> {
        self.state().last_write.map(|at| at.elapsed())
    }

    /// A sweep of the lane failed. Once [`FAILURES_BEFORE_GETS`] have failed in a row, the
    /// lane counts as failing and reconciles waiting for its first sweep are woken to ask
    /// Lambda themselves; before that they keep waiting for the retry. Returns how many have
    /// failed in a row.
    pub(crate) fn sweep_failed(&self) -> u32 {
        let (failures, awaiting) = {
            let mut r = self.state();
            r.pass = None;
            r.failures = r.failures.saturating_add(1);
            // Resources still awaiting the first sweep ask Lambda themselves now.
            let awaiting: Vec<_> = if r.failing() && r.swept.is_none() {
                r.mappings
                    .values()
                    .filter_map(|e| e.owner.as_ref())
                    .filter(|o| o.seen.is_none())
                    .map(Watcher::object)
                    .collect()
            } else {
                Vec::new()
            };
            (r.failures, awaiting)
        };
        self.triggers.send(awaiting);
        failures
    }

    /// Whether the lane's sweeps work: one has completed and the last one did not fail. Only
    /// then do they stand in for per-resource re-checks.
    pub(crate) fn sweeping(&self) -> bool {
        let r = self.state();
        r.swept.is_some() && !r.failing()
    }

    /// Whether reconciles wait for the lane's first sweep (see [`Self::lookup_for`]).
    pub(crate) fn awaiting_first_sweep(&self) -> bool {
        self.state().awaits_first_sweep(&self.settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SWEEPS: SweepSettings = SweepSettings {
        interval: Duration::from_secs(60),
        busy_interval: Duration::from_secs(3),
        pages_per_second: None,
    };

    fn mapping(uuid: &str, state: &str, modified: f64) -> ObservedMapping {
        serde_json::from_value(
            serde_json::json!({"UUID": uuid, "State": state, "LastModified": modified}),
        )
        .unwrap()
    }

    fn owner(name: &str) -> ObjectRef<EventSourceMapping> {
        ObjectRef::new(name).within("ns")
    }

    /// The names of the next `n` triggered resources, sorted.
    fn names(
        triggers: &mut mpsc::UnboundedReceiver<ObjectRef<EventSourceMapping>>,
        n: usize,
    ) -> Vec<String> {
        let mut names: Vec<String> = (0..n).map(|_| triggers.try_recv().unwrap().name).collect();
        names.sort();
        names
    }

    /// A cache that has swept these mappings, each watched by a resource named like its UUID.
    fn swept_and_watched(
        mappings: Vec<ObservedMapping>,
    ) -> (
        MappingCache,
        mpsc::UnboundedReceiver<ObjectRef<EventSourceMapping>>,
    ) {
        let cache = MappingCache::new(SWEEPS, Arc::default());
        let triggers = cache.triggers.subscribe();
        cache.apply_sweep(Instant::now(), mappings.clone());
        for m in &mappings {
            cache.watch(m, owner(&m.uuid));
        }
        (cache, triggers)
    }

    #[tokio::test(start_paused = true)]
    async fn answers_follow_sweeps_and_our_writes() {
        let cache = MappingCache::new(SWEEPS, Arc::default());
        let mut triggers = cache.triggers.subscribe();
        assert_eq!(cache.lookup("a"), Cached::Unknown);

        let t0 = Instant::now();
        cache.apply_sweep(t0, vec![mapping("a", "Enabled", 1.0)]);
        assert_eq!(
            cache.lookup("a"),
            Cached::Fresh(Box::new(mapping("a", "Enabled", 1.0)))
        );
        assert_eq!(cache.lookup("b"), Cached::Absent);

        // Our write after the sweep: pending until a sweep that started later.
        tokio::time::advance(Duration::from_secs(1)).await;
        cache.watch(&mapping("a", "Enabled", 1.0), owner("x"));
        cache.wrote("a");
        assert!(cache.settling());
        assert_eq!(cache.lookup("a"), Cached::Pending);
        cache.apply_sweep(t0, vec![mapping("a", "Enabled", 1.0)]);
        assert_eq!(
            cache.lookup("a"),
            Cached::Pending,
            "a sweep started before the write proves nothing"
        );
        assert!(triggers.try_recv().is_err());

        tokio::time::advance(Duration::from_secs(1)).await;
        cache.apply_sweep(Instant::now(), vec![mapping("a", "Updating", 2.0)]);
        assert_eq!(
            cache.lookup("a"),
            Cached::Fresh(Box::new(mapping("a", "Updating", 2.0)))
        );
        assert_eq!(triggers.try_recv().unwrap(), owner("x"));
        assert!(
            !cache.settling()
                || cache.state().mappings["a"]
                    .owner
                    .as_ref()
                    .is_some_and(|o| o.busy)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn sweeps_trigger_only_changed_or_vanished_mappings() {
        let (cache, mut triggers) = swept_and_watched(vec![
            mapping("a", "Enabled", 1.0),
            mapping("b", "Enabled", 1.0),
            mapping("c", "Creating", 1.0),
        ]);
        assert!(cache.settling(), "a busy mapping keeps the fast sweep");

        // Still creating, as its resource last saw it: nothing new to reconcile.
        let n = cache.apply_sweep(
            Instant::now(),
            vec![
                mapping("a", "Enabled", 1.0),
                mapping("b", "Enabled", 1.0),
                mapping("c", "Creating", 1.0),
            ],
        );
        assert_eq!(n, 0);
        assert!(cache.settling());

        let n = cache.apply_sweep(
            Instant::now(),
            vec![mapping("a", "Enabled", 1.0), mapping("c", "Enabled", 1.0)],
        );
        assert_eq!(
            names(&mut triggers, n),
            ["b", "c"],
            "b vanished, c settled; a is unchanged"
        );

        assert_eq!(cache.lookup("b"), Cached::Absent);

        // Until its reconcile confirms the absence, every sweep without b tells its resource
        // again; a mapping nobody owns is simply forgotten. c was told of Enabled already: its
        // queued reconcile will read it, so it is not triggered a second time.
        cache.apply_page(Instant::now(), vec![mapping("z", "Enabled", 1.0)]);
        let n = cache.apply_sweep(
            Instant::now(),
            vec![mapping("a", "Enabled", 1.0), mapping("c", "Enabled", 1.0)],
        );
        assert_eq!(names(&mut triggers, n), ["b"]);
        assert!(!cache.state().mappings.contains_key("z"));

        // The triggered reconciles record what they saw; b is gone (its reconcile unwatches it).
        cache.watch(&mapping("a", "Enabled", 1.0), owner("a"));
        cache.watch(&mapping("c", "Enabled", 1.0), owner("c"));
        cache.unwatch("b");
        assert!(
            !cache.state().mappings.contains_key("b"),
            "nothing left of b"
        );
        assert!(!cache.settling());
        let n = cache.apply_sweep(
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

    #[tokio::test(start_paused = true)]
    async fn pages_act_before_the_sweep_completes() {
        let (cache, mut triggers) = swept_and_watched(vec![
            mapping("a", "Enabled", 1.0),
            mapping("b", "Enabled", 1.0),
        ]);

        // b is written before the sweep starts, c (ours, new) during it, after its first page.
        tokio::time::advance(Duration::from_secs(1)).await;
        cache.wrote("b");
        tokio::time::advance(Duration::from_secs(1)).await;
        cache.begin_sweep(Instant::now());
        let first_page = Instant::now();
        tokio::time::advance(Duration::from_millis(100)).await;
        cache.watch(&mapping("c", "Creating", 2.0), owner("c"));
        cache.wrote("c");

        // The first page (fetched before c's write) shows a's drift and b's settled write, and
        // an old copy of c that must not count.
        let n = cache.apply_page(
            first_page,
            vec![
                mapping("a", "Enabled", 9.0),
                mapping("b", "Updating", 2.0),
                mapping("c", "Creating", 2.0),
            ],
        );
        assert_eq!(n, 2);
        assert_eq!(
            names(&mut triggers, 2),
            ["a", "b"],
            "acted on before the last page"
        );
        assert_eq!(
            cache.lookup("b"),
            Cached::Fresh(Box::new(mapping("b", "Updating", 2.0)))
        );
        assert_eq!(
            cache.lookup("c"),
            Cached::Pending,
            "that page predates our write"
        );

        // A later page lists c again, fetched after the write: c is settled there and then.
        tokio::time::advance(Duration::from_millis(100)).await;
        cache.apply_page(Instant::now(), vec![mapping("c", "Enabled", 3.0)]);
        assert_eq!(triggers.try_recv().unwrap(), owner("c"));
        assert_eq!(
            cache.lookup("c"),
            Cached::Fresh(Box::new(mapping("c", "Enabled", 3.0)))
        );
        assert!(cache.state().pass.is_some(), "the sweep is still under way");

        // Completing the sweep finds nothing else to do: every owner's mapping was listed.
        assert_eq!(cache.finish_sweep(), 0);
        assert!(triggers.try_recv().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn one_failed_sweep_keeps_reconciles_waiting_for_the_retry() {
        let cache = MappingCache::new(SWEEPS, Arc::default());
        let mut triggers = cache.triggers.subscribe();
        assert_eq!(cache.lookup_for("a", &owner("a")), Cached::Awaited);
        assert_eq!(cache.sweep_failed(), 1);
        assert!(
            cache.awaiting_first_sweep(),
            "the retry comes within seconds: still worth waiting for"
        );
        assert!(
            triggers.try_recv().is_err(),
            "waiters are not sent to Lambda after one failure"
        );
        cache.apply_sweep(Instant::now(), vec![mapping("a", "Enabled", 1.0)]);
        assert!(cache.sweeping());

        // After a good sweep, one failed page neither drops the copies nor the idle state.
        cache.sweep_failed();
        assert!(cache.sweeping(), "Ready resources keep waiting for changes");
        assert_eq!(
            cache.lookup("a"),
            Cached::Fresh(Box::new(mapping("a", "Enabled", 1.0))),
            "no Get for a failed page"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failed_sweeps_in_a_row_stop_the_wait_for_the_first_one() {
        let cache = MappingCache::new(SWEEPS, Arc::default());
        let mut triggers = cache.triggers.subscribe();
        assert!(cache.awaiting_first_sweep());
        assert_eq!(cache.lookup_for("a", &owner("a")), Cached::Awaited);
        for _ in 1..FAILURES_BEFORE_GETS {
            cache.sweep_failed();
        }
        assert!(cache.awaiting_first_sweep());
        assert!(triggers.try_recv().is_err());
        assert_eq!(cache.sweep_failed(), FAILURES_BEFORE_GETS);
        assert_eq!(
            triggers.try_recv().unwrap(),
            owner("a"),
            "the waiting resource is woken to ask Lambda"
        );
        assert!(!cache.awaiting_first_sweep());
        assert_eq!(cache.lookup_for("a", &owner("a")), Cached::Unknown);
        assert!(!cache.sweeping(), "Ready resources keep their resync");
        assert_eq!(
            cache.lookup("a"),
            Cached::Unknown,
            "so the reconcile asks Lambda"
        );
        cache.apply_sweep(Instant::now(), vec![mapping("b", "Enabled", 1.0)]);
        assert!(cache.sweeping());
        assert_eq!(cache.lookup("a"), Cached::Absent);

        // Later failures in a row: our write is not waited for, and the stale copy is not
        // trusted.
        cache.wrote("a");
        for _ in 0..FAILURES_BEFORE_GETS {
            cache.sweep_failed();
        }
        assert!(!cache.sweeping());
        assert_eq!(cache.lookup("a"), Cached::Unknown);
        assert_eq!(cache.lookup("b"), Cached::Unknown);
    }

    #[tokio::test(start_paused = true)]
    async fn a_resource_gone_without_its_finalizer_is_no_longer_triggered() {
        let (cache, mut triggers) = swept_and_watched(vec![
            mapping("a", "Enabled", 1.0),
            mapping("b", "Enabled", 1.0),
        ]);
        cache.watch(&mapping("gone", "Creating", 1.0), owner("gone"));
        cache.forget_owner("ns", "gone");
        cache.forget_owner("ns", "a");
        // a changes and b vanishes: only b's resource still exists to be told.
        let n = cache.apply_sweep(Instant::now(), vec![mapping("a", "Enabled", 2.0)]);
        assert_eq!(n, 1);
        assert_eq!(triggers.try_recv().unwrap(), owner("b"));
        assert!(
            !cache.settling(),
            "a forgotten busy owner does not keep the fast sweep"
        );
        assert!(!cache.state().mappings.contains_key("gone"));
    }

    /// A cache whose lane's first sweep has begun and listed nothing yet, and its triggers.
    fn first_sweep_under_way() -> (
        MappingCache,
        mpsc::UnboundedReceiver<ObjectRef<EventSourceMapping>>,
    ) {
        let cache = MappingCache::new(SWEEPS, Arc::default());
        let triggers = cache.triggers.subscribe();
        cache.begin_sweep(Instant::now());
        (cache, triggers)
    }

    #[tokio::test(start_paused = true)]
    async fn a_resource_awaiting_the_first_sweep_is_triggered_by_the_page_that_lists_it() {
        let (cache, mut triggers) = first_sweep_under_way();
        assert_eq!(cache.lookup_for("b", &owner("b")), Cached::Awaited);
        assert_eq!(
            cache.lookup_for("b", &owner("b")),
            Cached::Awaited,
            "asking again changes nothing"
        );
        // Page 1 lists another mapping: nobody awaits it.
        assert_eq!(
            cache.apply_page(Instant::now(), vec![mapping("a", "Enabled", 1.0)]),
            0
        );
        assert!(triggers.try_recv().is_err());
        // Page 2 lists b: its resource is triggered at once, long before the sweep ends.
        assert_eq!(
            cache.apply_page(Instant::now(), vec![mapping("b", "Enabled", 1.0)]),
            1
        );
        assert_eq!(triggers.try_recv().unwrap(), owner("b"));
        assert_eq!(
            cache.lookup_for("b", &owner("b")),
            Cached::Fresh(Box::new(mapping("b", "Enabled", 1.0)))
        );
        assert!(cache.awaiting_first_sweep(), "the sweep is still under way");
        // Unchanged in the next sweep: no trigger.
        assert_eq!(cache.finish_sweep(), 0);
        cache.begin_sweep(Instant::now());
        assert_eq!(
            cache.apply_page(Instant::now(), vec![mapping("b", "Enabled", 1.0)]),
            0
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_resource_awaiting_a_mapping_no_page_lists_is_triggered_when_the_sweep_ends() {
        let (cache, mut triggers) = first_sweep_under_way();
        assert_eq!(cache.lookup_for("gone", &owner("gone")), Cached::Awaited);
        cache.apply_page(Instant::now(), vec![mapping("a", "Enabled", 1.0)]);
        assert!(triggers.try_recv().is_err());
        assert_eq!(cache.finish_sweep(), 1);
        assert_eq!(triggers.try_recv().unwrap(), owner("gone"));
        assert_eq!(
            cache.lookup_for("gone", &owner("gone")),
            Cached::Absent,
            "it confirms with a Get"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_sweep_running_too_long_is_no_longer_waited_for() {
        let cache = MappingCache::new(SWEEPS, Arc::default());
        cache.begin_sweep(Instant::now());
        assert_eq!(cache.lookup_for("a", &owner("a")), Cached::Awaited);
        tokio::time::advance(FIRST_SWEEP_WAIT).await;
        assert!(!cache.awaiting_first_sweep());
        assert_eq!(cache.lookup_for("a", &owner("a")), Cached::Unknown);
    }

    #[tokio::test(start_paused = true)]
    async fn sweeps_driven_by_hand_are_never_waited_for() {
        let cache = MappingCache::new(
            SweepSettings {
                interval: Duration::ZERO,
                ..SWEEPS
            },
            Arc::default(),
        );
        assert!(!cache.awaiting_first_sweep());
        assert_eq!(cache.lookup_for("a", &owner("a")), Cached::Unknown);
    }
}
