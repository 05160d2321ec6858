//! One reconcile: observe → plan → act → report.
//!
//! A reconcile is a [`Pass`]: the resource, its API handle, the shared context, its key and the
//! status being built, together for the length of one reconcile. Each step is a method:
//! `apply.rs` reads as the story of a live resource, `act.rs` holds the AWS writes,
//! `failure.rs` turns Lambda's refusals into conditions, and `cleanup.rs` lets a deleted
//! resource go.

mod act;
mod apply;
mod cleanup;
mod failure;

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::{Event, EventType};
use kube::runtime::finalizer::{self, Event as Finalize};
use kube::{Api, ResourceExt};

use super::memory::ObjectKey;
use super::report::Report;
use super::{Context, Error, StoredMapping, Track, lock};
use crate::api::{EventSourceMapping, FINALIZER};
use crate::lambda::Connect;
use crate::plan::{self, Verdict};

/// The controller's entry point: gets the resource (the watch keeps only its name) and
/// reconciles it. The copy is always current as of this process's last write or read of the
/// resource, never older than the status its previous run wrote: see [`super::stored`] for the
/// three ways it is got, of which only the last costs a request of its own.
pub async fn reconcile_stored<C: Connect>(
    stored: Arc<StoredMapping>,
    ctx: Arc<Context<C>>,
) -> Result<Requeue, Error> {
    let namespace = stored
        .metadata
        .namespace
        .as_deref()
        .ok_or(Error::InvalidObject(
            "EventSourceMapping without a namespace",
        ))?;
    let name = stored.metadata.name.as_deref().unwrap_or_default();
    let key = ObjectKey::new(namespace, name);
    if let Some(copy) = ctx.memory.copy(key, stored.print) {
        return reconcile(copy, ctx).await;
    }
    let api: Api<EventSourceMapping> = Api::namespaced(ctx.client.clone(), namespace);
    let found = if stored.bare {
        match add_finalizer(&api, name).await {
            Ok(esm) => Some(esm),
            // Someone else's finalizer, or ours, came first: read it as it is.
            Err(kube::Error::Api(e)) if e.code == 422 || e.code == 409 => api.get_opt(name).await?,
            Err(kube::Error::Api(e)) if e.code == 404 => None,
            Err(e) => return Err(e.into()),
        }
    } else {
        api.get_opt(name).await?
    };
    match found {
        Some(esm) => reconcile(Arc::new(esm), ctx).await,
        // Deleted since the event. Its finalizer normally ran first; if someone removed the
        // finalizer by hand, the mapping stays in Lambda, and its changes must no longer trigger
        // a resource that is gone. Nothing kept about it may outlive it either (backoff,
        // metrics, the mappings gauge).
        None => {
            ctx.lanes.forget_owner(namespace, name);
            ctx.forget_object(key);
            Ok(Requeue::await_change())
        }
    }
}

/// Adds our finalizer to a resource that has none, and returns it as it is afterwards. The patch
/// checks that there is still no finalizer (the API server refuses it otherwise, 422), so it
/// changes nothing the watch has not shown; and it is refused on a resource being deleted (no
/// finalizer may be added then). The finalizer is there before any mapping can exist: nothing
/// is created for a resource without it.
async fn add_finalizer(
    api: &Api<EventSourceMapping>,
    name: &str,
) -> Result<EventSourceMapping, kube::Error> {
    let patch: json_patch::Patch = serde_json::from_value(serde_json::json!([
        {"op": "test", "path": "/metadata/finalizers", "value": null},
        {"op": "test", "path": "/metadata/deletionTimestamp", "value": null},
        {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
    ]))
    .expect("a valid JSON patch");
    api.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
}

pub async fn reconcile<C: Connect>(
    esm: Arc<EventSourceMapping>,
    ctx: Arc<Context<C>>,
) -> Result<Requeue, Error> {
    let namespace = esm.namespace().ok_or(Error::InvalidObject(
        "EventSourceMapping without a namespace",
    ))?;
    let api: Api<EventSourceMapping> = Api::namespaced(ctx.client.clone(), &namespace);
    let key = ObjectKey::of(esm.as_ref());
    let timer = ctx.memory.metrics().reconcile_started();
    ctx.memory.reconcile_started(key);
    // The region every call goes to, resolved once: a recorded mapping's own, even if the
    // default region changed since (see plan::region). Its lane (client, budget, sweep) is
    // built the first time a resource needs it.
    let region = plan::region_of(
        &esm.spec,
        esm.status.as_ref(),
        ctx.settings.default_region.as_deref(),
    );
    // The account, resolved before anything is sent anywhere: a resource its namespace's
    // bindings do not grant the account it asks for gets no lane, so no STS or Lambda call.
    let account = ctx.accounts.resolve(&esm);
    let outcome = Mutex::new(None);
    // The resource as the API server last returned it during this reconcile (a status write).
    let latest = Mutex::new(None);
    // The steps are boxed: their state machines nested inside kube's finalizer and the
    // controller's own go past the compiler's layout depth otherwise (one allocation a pass).
    let result = finalizer::finalizer(&api, FINALIZER, esm.clone(), |event| async {
        match event {
            Finalize::Apply(esm) => {
                let pass = Pass::new(&esm, &api, &ctx, key, &outcome, &latest);
                Box::pin(pass.apply(&region, &account)).await
            }
            Finalize::Cleanup(esm) => {
                let pass = Pass::new(&esm, &api, &ctx, key, &outcome, &latest);
                Box::pin(pass.cleanup(&region, &account)).await
            }
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    let outcome = *lock(&outcome);
    match &result {
        Ok(_) => {
            ctx.memory.reset(key, Track::Error);
            ctx.memory.reset(key, Track::Throttle);
            timer.finish(outcome.unwrap_or("ok"));
        }
        Err(e) => timer.finish(e.category()),
    }
    // A resource still in progress is reconciled again soon (a requeue, the sweep that sees
    // Lambda's next state, or the watch event of our own finalizer): keep it as it is now for
    // that reconcile. After an error, or once Ready or Stalled, the next reconcile reads it.
    let in_progress = result.is_ok()
        && esm.metadata.deletion_timestamp.is_none()
        && esm.finalizers().iter().any(|f| f == FINALIZER)
        && matches!(outcome, None | Some("progressing"));
    // A pass that wrote nothing keeps the copy it started from, if it had one; a copy is not
    // made of an object merely read: after a restart every resource is read once while it waits
    // for its lane's first sweep, and 10,000 copies would double the controller's memory.
    match lock(&latest).take() {
        Some(written) if in_progress => ctx.memory.keep_copy(key, written),
        None if in_progress => {}
        _ => ctx.memory.drop_copy(key),
    }
    result
}

/// Where a step leaves the reconcile: go on with its result, or stop here with a requeue.
type Step<T> = Result<ControlFlow<Requeue, T>, Error>;

/// The value of a [`Step`], or the end of the reconcile.
macro_rules! proceed {
    ($step:expr) => {
        match $step? {
            std::ops::ControlFlow::Continue(value) => value,
            std::ops::ControlFlow::Break(requeue) => return Ok(requeue),
        }
    };
}
use proceed;

/// One reconcile of one resource.
struct Pass<'a, C: Connect> {
    esm: &'a EventSourceMapping,
    api: &'a Api<EventSourceMapping>,
    ctx: &'a Context<C>,
    key: ObjectKey,
    report: Report<'a>,
    /// How the reconcile turned out (ready, progressing, stalled), for the reconciles metric.
    outcome: &'a Mutex<Option<&'static str>>,
    /// The spec.ignoreDrift baselines the plan asks to record once its write succeeded.
    ignored_digests: Option<std::collections::BTreeMap<String, String>>,
}

impl<'a, C: Connect> Pass<'a, C> {
    fn new(
        esm: &'a EventSourceMapping,
        api: &'a Api<EventSourceMapping>,
        ctx: &'a Context<C>,
        key: ObjectKey,
        outcome: &'a Mutex<Option<&'static str>>,
        latest: &'a Mutex<Option<EventSourceMapping>>,
    ) -> Self {
        Self {
            esm,
            api,
            ctx,
            key,
            report: Report::new(esm, latest),
            outcome,
            ignored_digests: None,
        }
    }

    /// A requeue after `delay`, recorded for the queue-depth metric.
    fn requeue(&self, delay: Duration) -> Requeue {
        self.ctx.requeue(self.key, delay)
    }

    /// A requeue after the track's next delay.
    fn backoff(&self, track: Track) -> Requeue {
        self.requeue(self.ctx.memory.next_delay(self.key, track))
    }

    async fn publish(&self, type_: EventType, reason: &str, action: &str, note: String) {
        self.ctx
            .events
            .publish(
                self.esm,
                Event {
                    type_,
                    reason: reason.into(),
                    note: Some(note),
                    action: action.into(),
                    secondary: None,
                },
            )
            .await;
    }

    /// Writes the status if it changed and logs the outcome: the last step of every reconcile
    /// that got as far as a verdict.
    async fn finish(&mut self, verdict: &Verdict, requeue: Requeue) -> Result<Requeue, Error> {
        self.report.write(self.api).await?;
        self.log_outcome(verdict);
        Ok(requeue)
    }

    /// Writes a Stalled status, publishes an event on the transition, re-checks slowly.
    async fn stall(&mut self, verdict: Verdict) -> Result<Requeue, Error> {
        let transition = self.report.previous_reason() != Some(verdict.reason());
        self.report.verdict(&verdict);
        // Status first: if the write fails, the retry must not publish the event a second time.
        self.report.write(self.api).await?;
        if transition {
            let note = verdict.message().to_string();
            self.publish(EventType::Warning, verdict.reason(), "Reconcile", note)
                .await;
        }
        self.log_outcome(&verdict);
        let recheck = self.ctx.settings.stalled_recheck;
        // Hold a resource whose create Lambda refused: retrying it costs a Create per pass. Once a
        // mapping is recorded, a reconcile comes only from a change (the spec, or the mapping as a
        // sweep saw it: Lambda re-enabled it, the KMS key works again) and observing it costs no
        // call in list mode, so such a change is acted on at once, not at the recheck.
        if self.report.status.uuid.is_none() {
            let until = tokio::time::Instant::now() + recheck;
            self.ctx
                .memory
                .hold_stalled(self.key, stall_fingerprint(self.esm), until);
        }
        Ok(self.requeue(recheck))
    }

    /// Reports work in progress and comes back after the track's next delay.
    async fn progress(&mut self, verdict: Verdict, track: Track) -> Result<Requeue, Error> {
        self.report.verdict(&verdict);
        self.report.write(self.api).await?;
        self.log_outcome(&verdict);
        Ok(self.backoff(track))
    }

    /// One log line per reconcile outcome, and the metrics that follow from it.
    fn log_outcome(&self, verdict: &Verdict) {
        let (esm, report, memory) = (self.esm, &self.report, &self.ctx.memory);
        memory.mapping_state(self.key, report.status.state.as_deref());
        *lock(self.outcome) = Some(match verdict {
            Verdict::Ready { .. } => "ready",
            Verdict::Progressing { .. } => "progressing",
            Verdict::Stalled { .. } => "stalled",
        });
        if verdict.is_ready() {
            memory.ready(self.key);
        }
        if !matches!(verdict, Verdict::Stalled { .. }) {
            memory.release_stalled(self.key);
        }
        // One info line when the outcome changes; at 10,000 resources an unchanged one would be
        // dozens of lines a second saying nothing new.
        let changed = report.previous_reason() != Some(verdict.reason());
        macro_rules! outcome_line {
            ($level:ident) => {
                tracing::$level!(
                    namespace = esm.namespace().unwrap_or_default(),
                    name = esm.name_any(),
                    uuid = report.status.uuid.as_deref().unwrap_or(""),
                    state = report.status.state.as_deref().unwrap_or(""),
                    outcome = verdict.reason(),
                    detail = verdict.message(),
                    "reconciled"
                )
            };
        }
        if changed {
            outcome_line!(info);
        } else {
            outcome_line!(debug);
        }
    }
}

/// What the user can change to un-stall a resource: the spec (generation) and the adopt
/// annotation.
fn stall_fingerprint(esm: &EventSourceMapping) -> u64 {
    let adopt = esm
        .annotations()
        .get(crate::api::ADOPT_ANNOTATION)
        .map(String::as_str);
    super::stored::digest(&(esm.metadata.generation, adopt))
}
