//! One reconcile: observe → plan → act → report.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{self, Event as Finalize};
use kube::{Api, ResourceExt};

use super::observe::{Discovery, Lookup, candidates, observe, observe_for_delete};
use super::report::Report;
use super::{Context, Error, StoredMapping, Track, object_key};
use crate::api::{ADOPT_ANNOTATION, EventSourceMapping, FINALIZER};
use crate::lambda::{ErrorKind, LambdaError, LambdaPort, ObservedMapping, conflicting_uuid};
use crate::plan::{
    self, Action, DeletePlan, Desired, Observed, Owner, Ownership, Region, SpecError, Verdict,
};

/// The controller's entry point: reads the resource (the watch keeps only its name) and
/// reconciles it. The read is a quorum read, so a reconcile never starts from a copy older than
/// the status its previous run wrote.
pub async fn reconcile_stored<L: LambdaPort>(
    stored: Arc<StoredMapping>,
    ctx: Arc<Context<L>>,
) -> Result<Requeue, Error> {
    let namespace = stored
        .metadata
        .namespace
        .as_deref()
        .ok_or(Error::InvalidObject(
            "EventSourceMapping without a namespace",
        ))?;
    let name = stored.metadata.name.as_deref().unwrap_or_default();
    let api: Api<EventSourceMapping> = Api::namespaced(ctx.client.clone(), namespace);
    match api.get_opt(name).await? {
        Some(esm) => reconcile(Arc::new(esm), ctx).await,
        // Deleted since the event. Its finalizer normally ran first; if someone removed the
        // finalizer by hand, the mapping stays in Lambda, and its changes must no longer trigger
        // a resource that is gone.
        // Nothing kept about it may outlive it either (backoff, metrics, the mappings gauge).
        None => {
            if let Some(cache) = &ctx.cache {
                cache.forget_owner(namespace, name);
            }
            ctx.forget_object(&format!("{namespace}/{name}"));
            Ok(Requeue::await_change())
        }
    }
}

pub async fn reconcile<L: LambdaPort>(
    esm: Arc<EventSourceMapping>,
    ctx: Arc<Context<L>>,
) -> Result<Requeue, Error> {
    let namespace = esm.namespace().ok_or(Error::InvalidObject(
        "EventSourceMapping without a namespace",
    ))?;
    let api: Api<EventSourceMapping> = Api::namespaced(ctx.client.clone(), &namespace);
    let key = object_key(esm.as_ref());
    let timer = ctx.metrics.reconcile_started(&key);
    // The region every call goes to, resolved once: a recorded mapping's own, even if the
    // default region changed since (see plan::region). The sweep that observes the resource is
    // that region's.
    let region = plan::region_of(
        &esm.spec,
        esm.status.as_ref(),
        ctx.settings.default_region.as_deref(),
    );
    if let Ok(region) = &region {
        super::sweep::ensure_sweeper(&ctx, region.name());
    }
    let result = finalizer::finalizer(&api, FINALIZER, esm, |event| async {
        match event {
            Finalize::Apply(esm) => apply(&esm, &api, &ctx, &region).await,
            Finalize::Cleanup(esm) => cleanup(&esm, &api, &ctx, &region).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    match &result {
        Ok(_) => {
            ctx.backoff.reset(&key, Track::Error);
            ctx.backoff.reset(&key, Track::Throttle);
            timer.finish(ctx.metrics.take_outcome(&key));
        }
        Err(e) => timer.finish(e.category()),
    }
    result
}

/// What the user can change to un-stall a resource: the spec (generation) and the adopt
/// annotation.
fn stall_fingerprint(esm: &EventSourceMapping) -> String {
    format!(
        "{}/{}",
        esm.metadata.generation.unwrap_or_default(),
        esm.annotations()
            .get(ADOPT_ANNOTATION)
            .map(String::as_str)
            .unwrap_or("")
    )
}

/// Whether the resource's status says Ready for its current spec.
fn is_ready_for(esm: &EventSourceMapping, report: &Report<'_>) -> bool {
    report.status.observed_generation == esm.metadata.generation
        && report
            .status
            .condition(plan::report::READY)
            .is_some_and(|c| c.status == "True")
}

fn now_epoch() -> f64 {
    jiff::Timestamp::now().as_millisecond() as f64 / 1000.0
}

/// Brings Lambda in line with a live resource.
async fn apply<L: LambdaPort>(
    esm: &EventSourceMapping,
    api: &Api<EventSourceMapping>,
    ctx: &Context<L>,
    region: &Result<Region, SpecError>,
) -> Result<Requeue, Error> {
    let key = object_key(esm);
    let settings = &ctx.settings;
    if let Some(remaining) = ctx.stalled_for(&key, &stall_fingerprint(esm)) {
        // Stalled and nothing changed: wait for the recheck instead of retrying on every event.
        return Ok(ctx.requeue(&key, remaining));
    }
    let mut report = Report::new(esm);
    let owner = Owner::of(esm, &settings.cluster_name);

    let region = match region {
        Ok(region) => region,
        Err(e) => {
            let verdict = Verdict::stalled("InvalidSpec", e.to_string());
            return stall(esm, api, ctx, &mut report, verdict).await;
        }
    };
    if let Some(verdict) = plan::region::region_moved(&esm.spec, esm.status.as_ref(), region) {
        // Creating in the spec's region would leave a second mapping processing the same
        // events; nothing is sent to either region until the user decides.
        return stall(esm, api, ctx, &mut report, verdict).await;
    }
    // A spec the API server let through but we cannot use (CEL cannot parse JSON or read the
    // clock): say which field and why, and send nothing to AWS.
    let desired = match Desired::from_spec(&esm.spec, owner.clone(), region.name(), now_epoch()) {
        Ok(desired) => desired,
        Err(e) => {
            let verdict = Verdict::stalled("InvalidSpec", e.to_string());
            return stall(esm, api, ctx, &mut report, verdict).await;
        }
    };

    // Observe.
    let lookup = Lookup::new(esm, &desired.region, &owner);
    let digest = desired.tags_digest();
    let uid = esm.metadata.uid.clone().unwrap_or_default();
    match &report.status.uuid {
        // A stale copy of the object from before our last status write. Carry on from what
        // that write recorded, in the status this reconcile writes too: writing the stale
        // copy's status back would drop the tags digest, and the next reconcile would read
        // the tags again.
        None => {
            if let Some((uuid, digest)) = ctx.created(&key, &uid) {
                report.status.uuid = Some(uuid);
                report.status.tags_digest = Some(digest);
            }
        }
        Some(_) => ctx.remember_created(&key, &uid, None),
    }
    let status = report.status.clone();
    let observed = observe(
        &ctx.lambda,
        ctx.cache.as_deref(),
        esm,
        &status,
        &lookup,
        Some(&digest),
    )
    .await;
    if observed.is_ok() {
        ctx.read_succeeded(&key);
    }
    let observation = match observed {
        Ok(Some(o)) => o,
        // Our own write is not in a sweep yet; the sweep that covers it triggers us.
        Ok(None) => return Ok(ctx.requeue(&key, ctx.settle_wait())),
        Err(e) if e.kind == ErrorKind::NotFound && status.uuid.is_none() => {
            // Only the adopt annotation's Get can answer not-found here.
            let uuid = esm
                .annotations()
                .get(ADOPT_ANNOTATION)
                .cloned()
                .unwrap_or_default();
            let verdict = Verdict::stalled(
                "AdoptionTargetNotFound",
                format!(
                    "the {ADOPT_ANNOTATION} annotation names mapping {uuid}, which does not exist in {}; fix or remove the annotation",
                    desired.region
                ),
            );
            return stall(esm, api, ctx, &mut report, verdict).await;
        }
        // A failed read says nothing about the mapping: a resource that was Ready for this
        // spec stays Ready (no status write) while reads fail for up to READ_FAILURE_GRACE,
        // and the error policy retries with backoff.
        Err(e)
            if e.kind == ErrorKind::Retry
                && is_ready_for(esm, &report)
                && ctx.read_failing_since(&key).elapsed() < super::READ_FAILURE_GRACE =>
        {
            return Err(Error::Lambda(e));
        }
        Err(e) => return lambda_failure(esm, api, ctx, &mut report, e).await,
    };
    if let Observed::Found { mapping, .. } = &observation.observed
        && observation.discovery != Discovery::Recorded
    {
        // Record the identity before anything else.
        report.record_mapping(&desired.region, mapping);
        report.status.create_requested_at = None;
        report.write(api).await?;
        let (reason, note) = match observation.discovery {
            Discovery::Recovered => (
                "Recovered",
                format!(
                    "found mapping {} that this resource created before an interruption; no duplicate was created",
                    mapping.uuid
                ),
            ),
            _ => (
                "Adopted",
                format!("adopted existing mapping {}", mapping.uuid),
            ),
        };
        ctx.events
            .publish(esm, EventType::Normal, reason, "Adopt", note)
            .await;
    }
    if let Observed::Gone { uuid } = &observation.observed {
        report.clear_mapping();
        // Nothing is recorded any more, so the new mapping goes where a new one goes: the spec's
        // region, or the default region as it is now. When that is not the region the old
        // mapping was in (the default changed), the next pass creates it from the cleared
        // status, so that its create marker, sweep and crash lookup all name the new region.
        let new_region =
            plan::region::region_for_new(&esm.spec, settings.default_region.as_deref());
        let moved = new_region.as_deref() != Ok(desired.region.as_str());
        let note = match &new_region {
            Ok(_) if !moved => {
                format!("mapping {uuid} was deleted outside the controller; creating it again")
            }
            Ok(new) => format!(
                "mapping {uuid} in {} was deleted outside the controller; creating it again in {new}, the controller's default region now (spec.region is not set)",
                desired.region
            ),
            Err(e) => format!(
                "mapping {uuid} in {} was deleted outside the controller; it cannot be created again: {e}",
                desired.region
            ),
        };
        let verdict = Verdict::progressing("Recreating", note.clone());
        if moved {
            // Status first: if the write fails, the retry must not publish the event twice.
            report.verdict(&verdict);
            report.write(api).await?;
        }
        ctx.events
            .publish(
                esm,
                EventType::Warning,
                "DeletedOutOfBand",
                "Recreate",
                note,
            )
            .await;
        if moved {
            log_outcome(ctx, esm, &report, &verdict);
            return Ok(ctx.requeue(&key, Duration::from_secs(1)));
        }
    }

    // Plan.
    let plan = plan::plan(&desired, &report.status, &observation.observed);
    if let Observed::Found { mapping, tags } = &observation.observed {
        if report.status.state != mapping.state {
            // Lambda moved on: wait a short time again for the next step.
            ctx.backoff.reset(&key, Track::Busy);
        }
        report.record_mapping(&desired.region, mapping);
        report.status.create_requested_at = None;
        if plan.action == Action::None && tags.is_some() {
            // Tags were read and needed no change.
            report.status.tags_digest = Some(digest.clone());
        }
    }

    // Act.
    let region = desired.region.as_str();
    let requeue = match plan.action.clone() {
        Action::None => {
            report.verdict(&plan.verdict);
            match &plan.verdict {
                Verdict::Ready { .. } => {
                    report.status.applied_fields = applied_names(&desired);
                    ctx.backoff.reset(&key, Track::Busy);
                    ctx.idle(&key, &desired.region)
                }
                Verdict::Progressing { .. } => {
                    ctx.requeue(&key, ctx.backoff.next(&key, Track::Busy))
                }
                Verdict::Stalled { .. } => {
                    return stall(esm, api, ctx, &mut report, plan.verdict.clone()).await;
                }
            }
        }
        Action::Create { request } => {
            // Crash safety: note the attempt first. If we stop between Create and the next status
            // write, the next run finds the mapping by its ownership tag instead of creating again.
            if report.status.create_requested_at.is_none() {
                report.status.create_requested_at = Some(jiff::Timestamp::now().to_string());
            }
            // With the marker, the region the Create goes to: the lookup after a crash must
            // search there even if the default region changes before it runs.
            report.status.region = Some(region.to_string());
            report.write(api).await?;
            match ctx.lambda.create_mapping(region, &request).await {
                Ok(mapping) => {
                    ctx.backoff.reset(&key, Track::Busy);
                    ctx.wrote(region, &mapping, esm);
                    ctx.remember_created(&key, &uid, Some((&mapping.uuid, &digest)));
                    report.record_mapping(region, &mapping);
                    report.status.create_requested_at = None;
                    report.verdict(&plan.verdict);
                    report.status.applied_fields = applied_names(&desired);
                    report.status.tags_digest = Some(digest.clone());
                    report.write(api).await?;
                    ctx.metrics.mapping_created(&key);
                    let reason = if matches!(observation.observed, Observed::Gone { .. }) {
                        "Recreated"
                    } else {
                        "Created"
                    };
                    ctx.events
                        .publish(
                            esm,
                            EventType::Normal,
                            reason,
                            "Create",
                            format!("created mapping {} in {region}", mapping.uuid),
                        )
                        .await;
                    ctx.requeue(&key, ctx.backoff.next(&key, Track::Busy))
                }
                Err(e) if e.kind == ErrorKind::Conflict => {
                    return resolve_conflict(esm, api, ctx, &mut report, &lookup, e).await;
                }
                Err(e) => {
                    // A definite rejection (throttled, invalid, function missing, denied) created
                    // nothing: no lookup is needed next time. Only an unknown outcome (5xx,
                    // timeout, lost connection) keeps the marker.
                    if e.kind != ErrorKind::Retry || e.is_throttled() {
                        report.status.create_requested_at = None;
                    }
                    return lambda_failure(esm, api, ctx, &mut report, e).await;
                }
            }
        }
        Action::Update {
            uuid,
            patch,
            fields,
            reenable,
        } => match ctx.lambda.update_mapping(region, &uuid, &patch).await {
            Ok(mapping) => {
                ctx.backoff.reset(&key, Track::Busy);
                ctx.wrote(region, &mapping, esm);
                report.record_mapping(region, &mapping);
                report.status.applied_fields = applied_names(&desired);
                report.verdict(&plan.verdict);
                let names: Vec<&str> = fields.iter().map(|f| f.wire_name()).collect();
                if reenable {
                    ctx.events
                        .publish(
                            esm,
                            EventType::Normal,
                            "ReEnabled",
                            "Update",
                            plan.verdict.message().to_string(),
                        )
                        .await;
                } else {
                    ctx.events
                        .publish(
                            esm,
                            EventType::Normal,
                            "Updated",
                            "Update",
                            format!("updated {} of mapping {uuid}", names.join(", ")),
                        )
                        .await;
                }
                ctx.requeue(&key, ctx.backoff.next(&key, Track::Busy))
            }
            Err(e) if e.kind == ErrorKind::NotFound => {
                // Deleted between our Get and Update: the next pass recreates it.
                report.clear_mapping();
                report.verdict(&Verdict::progressing(
                    "Recreating",
                    format!("mapping {uuid} disappeared during an update"),
                ));
                ctx.requeue(&object_key(esm), Duration::from_secs(1))
            }
            Err(e) => return lambda_failure(esm, api, ctx, &mut report, e).await,
        },
        Action::Retag { arn, add, remove } => {
            let result = async {
                if !remove.is_empty() {
                    ctx.lambda.untag_resource(region, &arn, &remove).await?;
                }
                if !add.is_empty() {
                    ctx.lambda.tag_resource(region, &arn, &add).await?;
                }
                Ok::<_, LambdaError>(())
            }
            .await;
            if let Err(e) = result {
                return lambda_failure(esm, api, ctx, &mut report, e).await;
            }
            report.status.tags_digest = Some(digest.clone());
            report.verdict(&plan.verdict);
            ctx.requeue(&object_key(esm), Duration::from_secs(1))
        }
    };
    report.write(api).await?;
    log_outcome(ctx, esm, &report, &plan.verdict);
    Ok(requeue)
}

fn applied_names(desired: &Desired) -> Vec<String> {
    desired
        .set
        .iter()
        .map(|f| f.wire_name().to_string())
        .collect()
}

/// One log line per reconcile outcome, and the metrics that follow from it.
fn log_outcome<L: LambdaPort>(
    ctx: &Context<L>,
    esm: &EventSourceMapping,
    report: &Report<'_>,
    verdict: &Verdict,
) {
    let key = object_key(esm);
    let metrics = &ctx.metrics;
    metrics.mapping_state(&key, report.status.state.as_deref());
    metrics.set_outcome(
        &key,
        match verdict {
            Verdict::Ready { .. } => "ready",
            Verdict::Progressing { .. } => "progressing",
            Verdict::Stalled { .. } => "stalled",
        },
    );
    if verdict.is_ready() {
        metrics.ready(&key);
    }
    if !matches!(verdict, Verdict::Stalled { .. }) {
        ctx.release_stalled(&key);
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
                message = verdict.message(),
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

/// Writes a Stalled status, publishes an event on the transition, re-checks slowly.
async fn stall<L: LambdaPort>(
    esm: &EventSourceMapping,
    api: &Api<EventSourceMapping>,
    ctx: &Context<L>,
    report: &mut Report<'_>,
    verdict: Verdict,
) -> Result<Requeue, Error> {
    let transition = report.previous_reason() != Some(verdict.reason());
    report.verdict(&verdict);
    // Status first: if the write fails, the retry must not publish the event a second time.
    report.write(api).await?;
    if transition {
        ctx.events
            .publish(
                esm,
                EventType::Warning,
                verdict.reason(),
                "Reconcile",
                verdict.message().to_string(),
            )
            .await;
    }
    log_outcome(ctx, esm, report, &verdict);
    let key = object_key(esm);
    // Hold a resource whose create Lambda refused: retrying it costs a Create per pass. Once a
    // mapping is recorded, a reconcile comes only from a change (the spec, or the mapping as a
    // sweep saw it: Lambda re-enabled it, the KMS key works again) and observing it costs no
    // call in list mode, so such a change is acted on at once, not at the recheck.
    if report.status.uuid.is_none() {
        ctx.hold_stalled(
            &key,
            stall_fingerprint(esm),
            tokio::time::Instant::now() + ctx.settings.stalled_recheck,
        );
    }
    Ok(ctx.requeue(&key, ctx.settings.stalled_recheck))
}

/// Reports work in progress and comes back after the track's next delay.
async fn progress<L: LambdaPort>(
    esm: &EventSourceMapping,
    api: &Api<EventSourceMapping>,
    ctx: &Context<L>,
    report: &mut Report<'_>,
    verdict: Verdict,
    track: Track,
) -> Result<Requeue, Error> {
    report.verdict(&verdict);
    report.write(api).await?;
    log_outcome(ctx, esm, report, &verdict);
    let key = object_key(esm);
    Ok(ctx.requeue(&key, ctx.backoff.next(&key, track)))
}

/// A Lambda error during a live reconcile, turned into a condition and a requeue.
async fn lambda_failure<L: LambdaPort>(
    esm: &EventSourceMapping,
    api: &Api<EventSourceMapping>,
    ctx: &Context<L>,
    report: &mut Report<'_>,
    e: LambdaError,
) -> Result<Requeue, Error> {
    if e.refuses_tags() {
        let verdict = Verdict::stalled(
            "TagsRefused",
            format!(
                "{}: {}: the controller creates every mapping with its ownership tags (they let it find the mapping again after an interruption, so it never creates a duplicate) and creates no untagged mapping; grant its role lambda:TagResource (see docs/iam-policy.json), or, where Lambda cannot tag event source mappings, manage this one another way",
                e.operation, e.message
            ),
        );
        return stall(esm, api, ctx, report, verdict).await;
    }
    match e.kind {
        ErrorKind::Busy => {
            let verdict = Verdict::progressing(
                "Waiting",
                format!("Lambda is busy with the mapping: {}", e.message),
            );
            progress(esm, api, ctx, report, verdict, Track::Busy).await
        }
        ErrorKind::Invalid => {
            stall(
                esm,
                api,
                ctx,
                report,
                Verdict::stalled(
                    "InvalidParameter",
                    format!("{}: {}", e.operation, e.message),
                ),
            )
            .await
        }
        // On Create, not-found means the function (or its alias) does not exist.
        ErrorKind::NotFound if e.operation == "CreateEventSourceMapping" => {
            stall(
                esm,
                api,
                ctx,
                report,
                Verdict::stalled(
                    "FunctionNotFound",
                    format!(
                        "{}: {} (re-checked periodically: the function may be created later)",
                        e.operation, e.message
                    ),
                ),
            )
            .await
        }
        // Anything else vanished between two calls (deleted out of band): look again soon.
        ErrorKind::NotFound => {
            let verdict = Verdict::progressing(
                "Retrying",
                format!("{}: {}; observing again", e.operation, e.message),
            );
            progress(esm, api, ctx, report, verdict, Track::Error).await
        }
        ErrorKind::AccessDenied => {
            stall(
                esm,
                api,
                ctx,
                report,
                Verdict::stalled("AccessDenied", format!("{}: {}", e.operation, e.message)),
            )
            .await
        }
        ErrorKind::Conflict | ErrorKind::Retry => {
            let verdict = Verdict::progressing(
                "Retrying",
                format!("{} failed and will be retried: {}", e.operation, e.message),
            );
            report.verdict(&verdict);
            report.write(api).await?;
            Err(Error::Lambda(e))
        }
    }
}

/// Create answered "a mapping for this source and function exists": adopt it if it is ours (a
/// retried Create whose first attempt succeeded, or an earlier incarnation of this resource),
/// otherwise report the conflict and leave the other mapping alone.
async fn resolve_conflict<L: LambdaPort>(
    esm: &EventSourceMapping,
    api: &Api<EventSourceMapping>,
    ctx: &Context<L>,
    report: &mut Report<'_>,
    lookup: &Lookup<'_>,
    conflict: LambdaError,
) -> Result<Requeue, Error> {
    let region = lookup.region;
    let annotation = esm.annotations().get(ADOPT_ANNOTATION).map(String::as_str);
    let mut found: Vec<(ObservedMapping, std::collections::BTreeMap<String, String>)> = Vec::new();
    let from_message = conflicting_uuid(&conflict.message);
    let lookup_result = async {
        if let Some(uuid) = &from_message {
            let mapping = ctx.lambda.get_mapping(region, uuid).await?;
            let tags = match &mapping.arn {
                Some(arn) => match ctx.lambda.list_tags(region, arn).await {
                    Ok(tags) => tags,
                    // Tags we may not read are not ours (see `candidates`): the mapping is
                    // foreign unless the adopt annotation names it.
                    Err(e) if matches!(e.kind, ErrorKind::AccessDenied) => Default::default(),
                    Err(e) => return Err(e),
                },
                None => Default::default(),
            };
            found.push((mapping, tags));
        } else {
            found = candidates(&ctx.lambda, lookup).await?;
        }
        Ok::<_, LambdaError>(())
    }
    .await;
    if let Err(e) = lookup_result {
        return lambda_failure(esm, api, ctx, report, e).await;
    }
    for (mapping, tags) in &found {
        let verdict = plan::ownership(lookup.owner, &mapping.uuid, tags, annotation);
        if verdict != Ownership::Foreign {
            report.record_mapping(region, mapping);
            report.status.create_requested_at = None;
            report.verdict(&Verdict::progressing(
                "Adopting",
                format!("recorded existing mapping {}", mapping.uuid),
            ));
            report.write(api).await?;
            let (reason, note) = if verdict == Ownership::Ours {
                (
                    "Recovered",
                    format!(
                        "Create reported a duplicate; mapping {} is this resource's own (created by an earlier attempt) and was recorded, no duplicate exists",
                        mapping.uuid
                    ),
                )
            } else {
                (
                    "Adopted",
                    format!("adopted existing mapping {}", mapping.uuid),
                )
            };
            ctx.events
                .publish(esm, EventType::Normal, reason, "Adopt", note)
                .await;
            return Ok(ctx.requeue(&object_key(esm), Duration::from_secs(1)));
        }
    }
    let uuid = found
        .first()
        .map(|(m, _)| m.uuid.clone())
        .or(from_message)
        .unwrap_or_else(|| "(unknown)".into());
    report.status.create_requested_at = None;
    let verdict = Verdict::stalled(
        "Conflict",
        format!(
            "mapping {uuid} for the same event source and function already exists and is not managed by this resource; delete it, or annotate this resource with {ADOPT_ANNOTATION}={uuid} to take it over"
        ),
    );
    stall(esm, api, ctx, report, verdict).await
}

/// Deletes the mapping (or not, with Retain) before the finalizer is released. A bad spec never
/// blocks this: nothing here validates the spec.
async fn cleanup<L: LambdaPort>(
    esm: &EventSourceMapping,
    api: &Api<EventSourceMapping>,
    ctx: &Context<L>,
    region: &Result<Region, SpecError>,
) -> Result<Requeue, Error> {
    let owner = Owner::of(esm, &ctx.settings.cluster_name);
    let mut report = Report::new(esm);
    // The recorded region when a mapping is recorded: deleting in the default region of the
    // moment would find nothing there, release the finalizer and orphan the mapping.
    let Ok(region) = region else {
        // Nothing recorded and no region to have created it in: nothing was ever created.
        return Ok(Requeue::await_change());
    };
    let region = region.name().to_string();
    let observed = if esm.spec.deletion_policy == crate::api::DeletionPolicy::Retain {
        Observed::Nothing
    } else {
        let lookup = Lookup::new(esm, &region, &owner);
        let status = report.status.clone();
        // Tags are not needed to delete; the adopt annotation only matters for live resources.
        match observe_for_delete(&ctx.lambda, ctx.cache.as_deref(), &status, &lookup).await {
            Ok(o) => o,
            Err(e) if e.kind == ErrorKind::Busy => {
                return Err(Error::DeletionInProgress {
                    uuid: status.uuid.unwrap_or_else(|| "(not recorded yet)".into()),
                    state: "Lambda answered that it is busy; asking again shortly".into(),
                });
            }
            Err(e) => return Err(deletion_blocked(api, &mut report, e).await),
        }
    };
    match plan::plan_delete(esm.spec.deletion_policy, &observed) {
        DeletePlan::Release { reason } => {
            let (event_reason, note) =
                if esm.spec.deletion_policy == crate::api::DeletionPolicy::Retain {
                    (
                        "Retained",
                        format!(
                            "{reason}: {}",
                            esm.status
                                .as_ref()
                                .and_then(|s| s.uuid.clone())
                                .unwrap_or_else(|| "no mapping".into())
                        ),
                    )
                } else {
                    ("Deleted", reason)
                };
            ctx.events
                .publish(esm, EventType::Normal, event_reason, "Delete", note)
                .await;
            ctx.forget_object(&object_key(esm));
            // A retained mapping lives on in Lambda: its changes must not trigger a resource
            // that is gone.
            if let (Some(cache), Some(uuid)) = (
                &ctx.cache,
                esm.status.as_ref().and_then(|s| s.uuid.as_ref()),
            ) {
                cache.unwatch(&region, uuid);
            }
            Ok(Requeue::await_change())
        }
        DeletePlan::Wait { uuid, state } => {
            if let Observed::Found { mapping, .. } = &observed {
                report.record_mapping(&region, mapping);
                report.verdict(&Verdict::progressing(
                    "Deleting",
                    format!("waiting for Lambda: mapping {uuid} is {state}"),
                ));
                report.write(api).await?;
            }
            Err(Error::DeletionInProgress {
                uuid,
                state: format!("Lambda reports it {state}"),
            })
        }
        DeletePlan::Delete { uuid } => match ctx.lambda.delete_mapping(&region, &uuid).await {
            Ok(mapping) => {
                ctx.backoff.reset(&object_key(esm), Track::Busy);
                if let Some(cache) = &ctx.cache {
                    cache.unwatch(&region, &uuid);
                }
                report.record_mapping(&region, &mapping);
                report.verdict(&Verdict::progressing(
                    "Deleting",
                    format!("deleting mapping {uuid}"),
                ));
                report.write(api).await?;
                Err(Error::DeletionInProgress {
                    uuid,
                    state: "Lambda is deleting it".into(),
                })
            }
            // Already gone is success; the next pass sees Gone and releases.
            Err(e) if e.kind == ErrorKind::NotFound => Err(Error::DeletionInProgress {
                uuid,
                state: "it is already gone; the finalizer is released next".into(),
            }),
            Err(e) if e.kind == ErrorKind::Busy => Err(Error::DeletionInProgress {
                uuid,
                state: "Lambda answered that it is busy; asking again shortly".into(),
            }),
            Err(e) => Err(deletion_blocked(api, &mut report, e).await),
        },
    }
}

/// Lambda refused to let the mapping go: say why on the resource (it stays, with its finalizer,
/// until the cause is fixed), and hand the error to the retry policy.
async fn deletion_blocked(
    api: &Api<EventSourceMapping>,
    report: &mut Report<'_>,
    e: LambdaError,
) -> Error {
    let message = format!(
        "cannot delete the mapping: {}: {}; the resource is kept until this succeeds (fix the cause, or set deletionPolicy: Retain to leave the mapping in Lambda)",
        e.operation, e.message
    );
    let verdict = match e.kind {
        ErrorKind::Retry => Verdict::progressing("DeleteRetrying", message),
        _ => Verdict::stalled("DeleteFailed", message),
    };
    report.verdict(&verdict);
    if let Err(write) = report.write(api).await {
        return write.into();
    }
    e.into()
}
