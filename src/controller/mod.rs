//! The controller: watch, finalizer, status, events, requeue. The decisions live in
//! [`crate::plan`]; this module observes, acts and reports around them.

pub mod accounts;
mod backoff;
pub mod cache;
pub mod lanes;
pub mod leader;
mod memory;
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

pub(crate) use backoff::{Backoff, Track};
pub use cache::SweepSettings;
pub(crate) use lanes::{Lane, Lanes};
use memory::Memory;
pub use memory::ObjectKey;
pub use reconcile::{reconcile, reconcile_stored};
pub use stored::StoredMapping;

use crate::api::EventSourceMapping;
use crate::lambda::{Connect, ErrorKind, LambdaError, LaneKey};
use crate::telemetry::{Metrics, Overdue};

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
    /// A deleted resource whose mapping cannot be deleted, because its account cannot be used.
    #[error("{0}")]
    DeleteBlocked(String),
    /// A deleted account binding that resources still use keeps its finalizer.
    #[error("LambdaAccount {binding} is still used by {users} EventSourceMapping(s)")]
    BindingInUse { binding: String, users: usize },
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
            Error::DeleteBlocked(_) => "delete_blocked",
            Error::BindingInUse { .. } => "binding_in_use",
        }
    }

    /// The domain error inside a finalizer error (so metrics and events see the real cause).
    pub(crate) fn root(&self) -> &Error {
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
pub struct Context<C: Connect> {
    pub client: Client,
    /// Where Lambda calls go, one lane per (account, region); in list mode each lane has its
    /// sweep.
    pub lanes: Lanes<C>,
    /// The account bindings, and which account each resource uses.
    pub accounts: accounts::Accounts,
    pub(crate) events: report::Events,
    pub settings: Settings,
    /// Everything remembered about each resource between reconciles, in one record.
    pub(crate) memory: Arc<Memory>,
}

impl Overdue for Memory {
    fn overdue(&self, now: tokio::time::Instant) -> usize {
        Memory::overdue(self, now)
    }
}

impl<C: Connect> Context<C> {
    /// A context observing with one Get per resource (get mode); see [`Self::with_sweeps`].
    pub fn new(client: Client, connector: C, settings: Settings) -> Self {
        let events = report::Events::new(
            client.clone(),
            crate::api::FIELD_MANAGER,
            std::env::var("POD_NAME").ok(),
        );
        Self {
            client,
            lanes: Lanes::new(connector),
            accounts: accounts::Accounts::default(),
            events,
            settings,
            memory: Self::memory(Arc::default()),
        }
    }

    /// The per-resource memory, feeding `metrics`.
    fn memory(metrics: Arc<Metrics>) -> Arc<Memory> {
        let backoff = Backoff::new(Duration::from_secs(300), Duration::from_secs(10));
        let memory = Arc::new(Memory::new(backoff, metrics.clone()));
        let weak: std::sync::Weak<Memory> = Arc::downgrade(&memory);
        metrics.count_queue_with(weak);
        memory
    }

    /// The metrics registry (the one `/metrics` serves).
    pub fn metrics(&self) -> &Arc<Metrics> {
        self.memory.metrics()
    }

    /// Forgets everything kept about a resource that is gone. Every path by which a resource
    /// goes calls this: the finalizer's release, and a resource found deleted without it.
    pub(crate) fn forget_object(&self, key: ObjectKey) {
        self.memory.forget(key);
    }

    /// Whether anything at all is kept about the resource (a gone resource must leave nothing).
    pub fn remembers(&self, key: ObjectKey) -> bool {
        self.memory.remembers(key)
    }

    /// Observes each lane through a List sweep instead of a Get per resource (list mode).
    pub fn with_sweeps(mut self, sweeps: SweepSettings) -> Self {
        self.lanes = self.lanes.with_sweeps(sweeps);
        self
    }

    /// Resolves each resource's account with these bindings (see [`accounts::watch_accounts`]).
    pub fn with_accounts(mut self, accounts: accounts::Accounts) -> Self {
        self.accounts = accounts;
        self
    }

    /// The lane of an account and region, built on first use.
    pub fn lane(&self, key: &LaneKey) -> Arc<Lane<C::Port>> {
        self.lanes.lane(key)
    }

    /// How long to wait for a sweep to cover our write (the sweep also triggers us).
    pub(crate) fn settle_wait(&self) -> Duration {
        self.lanes
            .sweeps()
            .map(|s| s.busy_interval * 3)
            .unwrap_or(Duration::from_secs(5))
    }

    /// Shares a metrics registry (the one `/metrics` serves and the metered Lambda port uses).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.memory = Self::memory(metrics);
        self
    }

    /// When a Ready resource is looked at next. In list mode, only on a change: the sweep reads
    /// every mapping each interval and triggers the resource whose mapping changed, so a timer
    /// per resource (10,000 of them in kube's scheduler) would only repeat it. In get mode, and
    /// while the region's sweeps fail, at the resync period.
    pub(crate) fn idle(&self, key: ObjectKey, lane: &Lane<C::Port>) -> Action {
        if lane.sweeping() {
            Action::await_change()
        } else {
            self.requeue(key, self.settings.resync)
        }
    }

    /// A requeue after `delay`, recorded for the queue-depth metric.
    pub fn requeue(&self, key: ObjectKey, delay: Duration) -> Action {
        self.memory.scheduled(key, delay);
        Action::requeue(delay)
    }
}

/// How long a Ready resource stays Ready while every read of its mapping fails for a reason
/// that says nothing about the mapping (throttled, 5xx, timeouts). GitOps tools show a
/// not-Ready resource as degraded; a throttle storm after a restart is not a change in the
/// mapping. Past this bound the failure is reported (Ready=False, Retrying).
pub const READ_FAILURE_GRACE: Duration = Duration::from_secs(300);

pub(crate) use crate::sync::lock;

/// Requeue policy for errors that escaped the reconcile.
pub fn error_policy<K: Resource, C: Connect>(
    esm: Arc<K>,
    error: &Error,
    ctx: Arc<Context<C>>,
) -> Action {
    let key = ObjectKey::of(esm.as_ref());
    match error.root() {
        Error::DeletionInProgress { .. } => {
            ctx.requeue(key, ctx.memory.next_delay(key, Track::Busy))
        }
        Error::Lambda(e) if e.kind == ErrorKind::Busy => {
            ctx.requeue(key, ctx.memory.next_delay(key, Track::Busy))
        }
        root => {
            let throttled = matches!(root, Error::Lambda(e) if e.is_throttled());
            let track = if throttled {
                Track::Throttle
            } else {
                Track::Error
            };
            let mut delay = ctx.memory.next_delay(key, track);
            if let Error::Lambda(LambdaError {
                retry_after: Some(after),
                ..
            }) = root
            {
                delay = delay.max(*after);
            }
            macro_rules! failed {
                ($level:ident, $message:literal) => {
                    tracing::$level!(
                        namespace = esm.namespace().unwrap_or_default(),
                        name = esm.name_any(),
                        category = error.category(),
                        error = %root,
                        retry_in_ms = delay.as_millis() as u64,
                        $message
                    )
                };
            }
            // A throttle is Lambda's quota at work, not a fault: in a burst every resource
            // would log one. esm_aws_requests_total{outcome="throttled"} counts them.
            if throttled {
                failed!(info, "throttled by Lambda; retrying");
            } else {
                failed!(warn, "reconcile failed");
            }
            ctx.requeue(key, delay)
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
pub async fn run<C: Connect>(
    ctx: Arc<Context<C>>,
    scope: WatchScope,
    concurrency: u16,
    readiness: Arc<crate::http::Readiness>,
    bindings: Option<Controller<crate::api::LambdaAccount>>,
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
            let controller = watch(&ctx.client, namespace.as_deref(), &config, concurrency);
            (namespace, controller)
        })
        .collect();
    let stores = controllers.iter().map(|(_, c)| c.store()).collect();
    tokio::spawn(ready_when_synced(stores, readiness));
    if let Some(bindings) = bindings {
        tokio::spawn(accounts::run_bindings(
            bindings,
            ctx.clone(),
            shutdown.clone(),
        ));
    }
    let janitor = tokio::spawn(retire_unused_lanes(ctx.clone()));
    // --concurrency is one limit for the process, however many namespaces are watched: each
    // namespace has its own kube controller, whose own limit holds only within it. Ten
    // namespaces at 64 each ran 640 reconciles at once, each with its pass, its buffers and
    // an API server connection (at 10 × 1,000 resources most of the controller's memory).
    let slots = Arc::new(tokio::sync::Semaphore::new(usize::from(concurrency.max(1))));
    let runs = controllers.into_iter().map(|(namespace, controller)| {
        let slots = slots.clone();
        // A binding's spec or a namespace's labels changed: every resource resolves its
        // account again (a stalled tenant may now be granted, or no longer be).
        let controller = controller.reconcile_all_on(ctx.accounts.changes());
        let controller = match ctx.lanes.sweeps() {
            // Mappings the sweep saw change are reconciled at once, by the controller that
            // watches their namespace.
            Some(_) => controller.reconcile_on(sweep::triggers(&ctx.lanes.triggers, namespace)),
            None => controller,
        };
        controller
            .graceful_shutdown_on(shutdown.clone())
            .run(
                move |object, ctx| in_slot(slots.clone(), reconcile::reconcile_stored(object, ctx)),
                error_policy,
                ctx.clone(),
            )
            .for_each(|result| async move {
                match result {
                    Ok((obj, _)) => tracing::trace!(object = %obj, "reconciled"),
                    Err(kube::runtime::controller::Error::ReconcilerFailed(_, _)) => {}
                    Err(e) => tracing::warn!(error = %e, "controller stream error"),
                }
            })
    });
    futures::future::join_all(runs).await;
    // The lanes' sweepers end with the controller.
    janitor.abort();
    ctx.lanes.shutdown();
}

/// Runs a reconcile once one of the process's reconcile slots is free. Waiting costs little:
/// the pass itself is built only when the reconcile runs.
async fn in_slot<F: std::future::Future>(
    slots: Arc<tokio::sync::Semaphore>,
    reconcile: F,
) -> F::Output {
    // The semaphore is never closed.
    let _slot = slots.acquire_owned().await.ok();
    reconcile.await
}

/// Once a minute, retires the lanes no resource uses any more (a binding changed or was
/// deleted, the last resource of a region went).
async fn retire_unused_lanes<C: Connect>(ctx: Arc<Context<C>>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        ctx.lanes.retire_unused(&ctx.memory.lanes_in_use());
    }
}

/// The controller of one namespace (or all): it watches metadata only, and a reconcile reads
/// the resource itself from the API server. Each event updates the store (names, for lookups and
/// sweep triggers); only those that change what a reconcile acts on start one (not our own
/// status writes).
fn watch(
    client: &Client,
    namespace: Option<&str>,
    config: &watcher::Config,
    concurrency: u16,
) -> Controller<StoredMapping> {
    let api: Api<PartialObjectMeta<EventSourceMapping>> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let (reader, mut writer) = kube::runtime::reflector::store::<StoredMapping>();
    let mut changes = stored::Changes::default();
    let objects = watcher(api, config.clone())
        .default_backoff()
        .map_ok(move |event| {
            writer.apply_watcher_event(&StoredMapping::event(&event));
            futures::stream::iter(changes.admit(&event).into_iter().map(Ok))
        })
        .try_flatten();
    Controller::for_stream(objects, reader)
        .with_config(kube::runtime::controller::Config::default().concurrency(concurrency))
}

/// Sets `readiness` once every watch cache has synced.
async fn ready_when_synced(
    stores: Vec<kube::runtime::reflector::Store<StoredMapping>>,
    readiness: Arc<crate::http::Readiness>,
) {
    for store in stores {
        // kube's DelayedInit wakes only the latest waiter and the controller's applier waits on
        // the same store, so ask again every second (a new wait returns at once when the store
        // is ready).
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
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn reconciles_of_every_namespace_share_the_process_slots() {
        let slots = Arc::new(tokio::sync::Semaphore::new(3));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        // Ten namespaces' controllers, each free to run two reconciles at once by itself.
        let reconciles = (0..20).map(|_| {
            let (running, most) = (running.clone(), most.clone());
            tokio::spawn(in_slot(slots.clone(), async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(1)).await;
                running.fetch_sub(1, Ordering::SeqCst);
            }))
        });
        futures::future::join_all(reconciles).await;
        assert_eq!(
            most.load(Ordering::SeqCst),
            3,
            "never more than the slots at once"
        );
        assert_eq!(slots.available_permits(), 3, "every slot is given back");
    }
}
