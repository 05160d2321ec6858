//! The controller: watch, finalizer, status, events, requeue. The decisions live in
//! [`crate::plan`]; this module observes, acts and reports around them.

mod backoff;
pub mod cache;
pub mod leader;
mod observe;
mod reconcile;
mod report;
pub mod stored;
pub mod sweep;

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::core::PartialObjectMeta;
use kube::runtime::{Controller, WatchStreamExt, controller::Action, watcher};
use kube::{Api, Client, Resource, ResourceExt};

pub use backoff::{Backoff, Track};
pub use reconcile::{reconcile, reconcile_stored};
pub use stored::StoredMapping;

use crate::api::EventSourceMapping;
use crate::lambda::{ErrorKind, LambdaError, LambdaPort};
use crate::telemetry::Metrics;

/// The controller's errors. Lambda errors that a reconcile can explain to the user become
/// conditions instead; what reaches here is retried with per-object backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Lambda(#[from] LambdaError),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    /// Not a failure: the mapping is being deleted (or is busy) and the finalizer must wait.
    #[error("waiting for mapping {uuid} to be deleted: {state}")]
    DeletionInProgress { uuid: String, state: String },
    #[error("invalid object: {0}")]
    InvalidObject(&'static str),
}

impl Error {
    /// A bounded label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube",
            Error::Lambda(e) => e.kind.as_str(),
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.category(),
                _ => "finalizer",
            },
            Error::DeletionInProgress { .. } => "deleting",
            Error::InvalidObject(_) => "invalid_object",
        }
    }

    /// The domain error inside a finalizer error (so metrics and events see the real cause).
    pub fn root(&self) -> &Error {
        match self {
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.root(),
                _ => self,
            },
            other => other,
        }
    }
}

/// Tunables, from flags.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Written into every mapping's ownership tags; distinguishes clusters sharing an account.
    pub cluster_name: String,
    /// Region for resources without `spec.region`.
    pub default_region: Option<String>,
    /// Periodic re-check of in-sync mappings in get mode (list mode's sweep re-checks them).
    pub resync: Duration,
    /// Re-check interval for stalled resources (function missing, invalid, foreign conflict).
    pub stalled_recheck: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            cluster_name: "default".into(),
            default_region: None,
            resync: Duration::from_secs(300),
            stalled_recheck: Duration::from_secs(300),
        }
    }
}

/// Shared by every reconcile.
pub struct Context<L> {
    pub client: Client,
    pub lambda: L,
    pub events: report::Events,
    pub settings: Settings,
    pub backoff: Backoff,
    pub metrics: Arc<Metrics>,
    /// The shared List-sweep cache (list mode); `None` observes with one Get per resource.
    pub cache: Option<Arc<cache::MappingCache>>,
    /// Mappings this process created, by resource, until status shows their UUID: the UID of
    /// the resource that created it, the UUID and the tags digest. Its one remaining use is a
    /// status write that failed after Create: the next pass carries on from here instead of
    /// paying for a crash lookup. The UID is compared, so a resource re-created under the same
    /// name never inherits an old UUID.
    created: std::sync::Mutex<std::collections::HashMap<String, (String, String, String)>>,
    /// Stalled resources and until when they are left alone: a stalled create must not be
    /// retried on every watch event (its own status write is one), only at `stalled_recheck`
    /// or when the user changes something (generation, adopt annotation).
    stalled: std::sync::Mutex<std::collections::HashMap<String, (String, tokio::time::Instant)>>,
    /// Ready resources whose observation keeps failing (throttled, 5xx, timeouts), and since
    /// when: they stay Ready for [`READ_FAILURE_GRACE`] before the failure is reported.
    read_failures: std::sync::Mutex<std::collections::HashMap<String, tokio::time::Instant>>,
}

impl<L: LambdaPort> Context<L> {
    pub fn new(client: Client, lambda: L, settings: Settings) -> Self {
        let events = report::Events::new(
            client.clone(),
            crate::api::FIELD_MANAGER,
            std::env::var("POD_NAME").ok(),
        );
        Self {
            client,
            lambda,
            events,
            settings,
            backoff: Backoff::new(Duration::from_secs(300), Duration::from_secs(10)),
            metrics: Arc::default(),
            cache: None,
            created: Default::default(),
            stalled: Default::default(),
            read_failures: Default::default(),
        }
    }

    /// Leaves a stalled resource alone until `until`, unless `fingerprint` (what the user can
    /// change to fix it) changes first.
    pub fn hold_stalled(&self, key: &str, fingerprint: String, until: tokio::time::Instant) {
        lock(&self.stalled).insert(key.to_string(), (fingerprint, until));
    }

    /// How long a stalled resource is still held, if it is and nothing changed.
    pub fn stalled_for(&self, key: &str, fingerprint: &str) -> Option<Duration> {
        let mut stalled = lock(&self.stalled);
        let now = tokio::time::Instant::now();
        match stalled.get(key) {
            Some((held, until)) if held == fingerprint && *until > now => {
                Some(until.saturating_duration_since(now))
            }
            Some(_) => {
                stalled.remove(key);
                None
            }
            None => None,
        }
    }

    /// Forgets everything kept about a resource that is gone (backoff, metrics, own creates,
    /// stall holds, read failures). Every path by which a resource goes calls this: the
    /// finalizer's release, and a resource found deleted without it.
    pub fn forget_object(&self, key: &str) {
        self.backoff.forget(key);
        self.metrics.forget(key);
        lock(&self.created).remove(key);
        self.release_stalled(key);
        lock(&self.read_failures).remove(key);
    }

    /// Whether anything at all is kept about the resource (a gone resource must leave nothing).
    pub fn remembers(&self, key: &str) -> bool {
        self.backoff.knows(key)
            || self.metrics.tracks(key)
            || lock(&self.created).contains_key(key)
            || lock(&self.stalled).contains_key(key)
            || lock(&self.read_failures).contains_key(key)
    }

    pub fn release_stalled(&self, key: &str) {
        lock(&self.stalled).remove(key);
    }

    /// Remembers (`Some((uuid, tags digest))`) or forgets (`None`) the mapping this process
    /// created for the resource `key` with this `uid`, with the digest of the tags it was
    /// created with.
    pub fn remember_created(&self, key: &str, uid: &str, created: Option<(&str, &str)>) {
        let mut map = lock(&self.created);
        match created {
            Some((uuid, digest)) => {
                map.insert(key.to_string(), (uid.into(), uuid.into(), digest.into()))
            }
            None => map.remove(key),
        };
    }

    /// The mapping this process created for the resource `key`, if that resource had `uid`.
    pub fn created(&self, key: &str, uid: &str) -> Option<(String, String)> {
        lock(&self.created)
            .get(key)
            .filter(|(created_by, _, _)| created_by == uid)
            .map(|(_, uuid, digest)| (uuid.clone(), digest.clone()))
    }

    /// Since when reads of the resource's mapping have failed in a row (noting now if this is
    /// the first).
    pub fn read_failing_since(&self, key: &str) -> tokio::time::Instant {
        *lock(&self.read_failures)
            .entry(key.to_string())
            .or_insert_with(tokio::time::Instant::now)
    }

    /// A read of the resource's mapping succeeded.
    pub fn read_succeeded(&self, key: &str) {
        let mut failures = lock(&self.read_failures);
        if !failures.is_empty() {
            failures.remove(key);
        }
    }

    /// Observes through a shared List sweep instead of a Get per resource.
    pub fn with_cache(mut self, cache: Arc<cache::MappingCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Notes our own write, so that the next observation comes from a later sweep.
    pub fn wrote(
        &self,
        region: &str,
        mapping: &crate::lambda::ObservedMapping,
        owner: &EventSourceMapping,
    ) {
        if let Some(cache) = &self.cache {
            cache.store(region, mapping);
            cache.watch(region, mapping, cache::owner_of(owner));
            cache.wrote(region, &mapping.uuid);
        }
    }

    /// How long to wait for a sweep to cover our write (the sweep also triggers us).
    pub fn settle_wait(&self) -> Duration {
        self.cache
            .as_ref()
            .map(|c| c.busy_interval * 3)
            .unwrap_or(Duration::from_secs(5))
    }

    /// Shares a metrics registry (the one `/metrics` serves and the metered Lambda port uses).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// When a Ready resource is looked at next. In list mode, only on a change: the sweep reads
    /// every mapping each interval and triggers the resource whose mapping changed, so a timer
    /// per resource (10,000 of them in kube's scheduler) would only repeat it. In get mode, and
    /// while the region's sweeps fail, at the resync period.
    pub fn idle(&self, key: &str, region: &str) -> Action {
        match &self.cache {
            Some(cache) if cache.sweeping(region) => Action::await_change(),
            _ => self.requeue(key, self.settings.resync),
        }
    }

    /// A requeue after `delay`, recorded for the queue-depth metric.
    pub fn requeue(&self, key: &str, delay: Duration) -> Action {
        self.metrics.scheduled(key, delay);
        Action::requeue(delay)
    }
}

/// How long a Ready resource stays Ready while every read of its mapping fails for a reason
/// that says nothing about the mapping (throttled, 5xx, timeouts). GitOps tools show a
/// not-Ready resource as degraded; a throttle storm after a restart is not a change in the
/// mapping. Past this bound the failure is reported (Ready=False, Retrying).
pub const READ_FAILURE_GRACE: Duration = Duration::from_secs(300);

/// Locks a mutex, going on with the data if a thread panicked while holding it: every map
/// behind these locks is left consistent between statements, so the data is still good.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn object_key(esm: &impl Resource) -> String {
    format!("{}/{}", esm.namespace().unwrap_or_default(), esm.name_any())
}

/// Requeue policy for errors that escaped the reconcile.
pub fn error_policy<K: Resource, L: LambdaPort>(
    esm: Arc<K>,
    error: &Error,
    ctx: Arc<Context<L>>,
) -> Action {
    let key = object_key(esm.as_ref());
    match error.root() {
        Error::DeletionInProgress { .. } => ctx.requeue(&key, ctx.backoff.next(&key, Track::Busy)),
        Error::Lambda(e) if e.kind == ErrorKind::Busy => {
            ctx.requeue(&key, ctx.backoff.next(&key, Track::Busy))
        }
        root => {
            let throttled = matches!(root, Error::Lambda(e) if e.is_throttled());
            let track = if throttled {
                Track::Throttle
            } else {
                Track::Error
            };
            let mut delay = ctx.backoff.next(&key, track);
            if let Error::Lambda(LambdaError {
                retry_after: Some(after),
                ..
            }) = root
            {
                delay = delay.max(*after);
            }
            tracing::warn!(
                namespace = esm.namespace().unwrap_or_default(),
                name = esm.name_any(),
                category = error.category(),
                error = %root,
                retry_in_ms = delay.as_millis() as u64,
                "reconcile failed"
            );
            ctx.requeue(&key, delay)
        }
    }
}

/// Which resources to watch.
#[derive(Clone, Debug, Default)]
pub struct WatchScope {
    /// Namespaces to watch; empty watches all.
    pub namespaces: Vec<String>,
    pub label_selector: Option<String>,
}

/// Runs the controller until `shutdown` resolves. `readiness` is set once every watch cache
/// has synced.
pub async fn run<L: LambdaPort>(
    ctx: Arc<Context<L>>,
    scope: WatchScope,
    concurrency: u16,
    readiness: Arc<crate::http::Readiness>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let mut config = watcher::Config::default().any_semantic();
    if let Some(selector) = &scope.label_selector {
        config = config.labels(selector);
    }
    let shutdown = futures::future::FutureExt::shared(Box::pin(shutdown));
    let namespaces: Vec<Option<String>> = if scope.namespaces.is_empty() {
        vec![None]
    } else {
        scope.namespaces.iter().cloned().map(Some).collect()
    };
    let controllers: Vec<_> = namespaces
        .into_iter()
        .map(|namespace| {
            let api: Api<PartialObjectMeta<EventSourceMapping>> = match &namespace {
                Some(ns) => Api::namespaced(ctx.client.clone(), ns),
                None => Api::all(ctx.client.clone()),
            };
            // Metadata only: a reconcile reads the resource itself from the API server. Each
            // event updates the store (names, for lookups and sweep triggers); only those that
            // change what a reconcile acts on start one (not our own status writes).
            let (reader, mut writer) = kube::runtime::reflector::store::<StoredMapping>();
            let mut changes = stored::Changes::default();
            let objects = watcher(api, config.clone())
                .default_backoff()
                .map_ok(move |event| {
                    writer.apply_watcher_event(&StoredMapping::event(&event));
                    futures::stream::iter(changes.admit(&event).into_iter().map(Ok))
                })
                .try_flatten();
            let controller = Controller::for_stream(objects, reader)
                .with_config(kube::runtime::controller::Config::default().concurrency(concurrency));
            (namespace, controller)
        })
        .collect();
    let stores: Vec<_> = controllers.iter().map(|(_, c)| c.store()).collect();
    tokio::spawn(async move {
        for store in stores {
            // kube's DelayedInit wakes only the latest waiter and the controller's applier waits
            // on the same store, so ask again every second (a new wait returns at once when the
            // store is ready).
            loop {
                match tokio::time::timeout(Duration::from_secs(1), store.wait_until_ready()).await {
                    Ok(Ok(())) => break,
                    Ok(Err(_)) => return,
                    Err(_) => continue,
                }
            }
        }
        tracing::info!("watch caches synced");
        // The initial list held every resource twice (pages and store) for a moment.
        crate::telemetry::memory::release_free();
        readiness.set_ready();
    });
    let runs = controllers.into_iter().map(|(namespace, controller)| {
        let controller = match &ctx.cache {
            // Mappings the sweep saw change are reconciled at once, by the controller that
            // watches their namespace.
            Some(cache) => controller.reconcile_on(sweep::triggers(cache, namespace)),
            None => controller,
        };
        controller
            .graceful_shutdown_on(shutdown.clone())
            .run(reconcile::reconcile_stored, error_policy, ctx.clone())
            .for_each(|result| async move {
                match result {
                    Ok((obj, _)) => tracing::trace!(object = %obj, "reconciled"),
                    Err(kube::runtime::controller::Error::ReconcilerFailed(_, _)) => {}
                    Err(e) => tracing::warn!(error = %e, "controller stream error"),
                }
            })
    });
    futures::future::join_all(runs).await;
}
