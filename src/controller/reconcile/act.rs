//! Acting on a plan: at most one AWS write per reconcile (create, update, or retag), then the
//! status and the event that report it.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::EventType;

use super::Pass;
use super::apply::Target;
use crate::controller::memory::OwnCreate;
use crate::controller::observe::Observation;
use crate::controller::{Error, Track};
use crate::lambda::{Connect, ErrorKind, LambdaError, LambdaPort, MappingFields};
use crate::plan::{Action, Desired, Field, Observed, Plan, Verdict};

impl<C: Connect> Pass<'_, C> {
    /// Sends the plan's write, if any, and reports.
    pub(super) async fn act(
        &mut self,
        plan: Plan,
        target: &Target<C::Port>,
        observation: &Observation,
    ) -> Result<Requeue, Error> {
        self.report_drift(&plan.drift, &target.desired).await;
        self.report.status.observed_configuration = match &observation.observed {
            Observed::Found { mapping, .. } if target.desired.policy.observe => {
                Field::live_values(mapping)
            }
            _ => Default::default(),
        };
        // The ignored fields' baselines move only with a write that succeeded (or none at all):
        // a failed Update must not make its spec value look applied.
        self.ignored_digests = plan.ignored_digests.clone();
        match plan.action {
            Action::None => {
                self.record_ignored_digests();
                self.settled(plan.verdict, target).await
            }
            Action::Create { ref request } => {
                let recreate = matches!(observation.observed, Observed::Gone { .. });
                self.create(request, &plan.verdict, target, recreate).await
            }
            Action::Update {
                ref uuid,
                ref patch,
                ref fields,
                reenable,
            } => {
                let update = Update {
                    uuid,
                    patch,
                    fields,
                    reenable,
                };
                self.update(update, &plan.verdict, target).await
            }
            Action::Retag {
                ref arn,
                ref add,
                ref remove,
            } => {
                let retag = Retag { arn, add, remove };
                self.retag(retag, &plan.verdict, target).await
            }
        }
    }

    fn record_ignored_digests(&mut self) {
        if let Some(digests) = self.ignored_digests.take() {
            self.report.status.ignored_field_digests = digests;
        }
    }

    /// status.drift, and on each new set of drifted fields one Event and the drift metric.
    async fn report_drift(&mut self, drift: &[Field], desired: &Desired) {
        let now: Vec<String> = drift.iter().map(|f| f.spec_name().to_string()).collect();
        let before = std::mem::replace(&mut self.report.status.drift, now.clone());
        if now == before || now.is_empty() {
            return;
        }
        for name in now.iter().filter(|name| !before.contains(name)) {
            self.ctx.metrics().drift_found(name);
        }
        let policy = &desired.policy;
        let fate = if policy.observe {
            "reported only: managementPolicy is Observe"
        } else if drift.iter().all(|f| policy.ignored.contains(f)) {
            "left as it is: spec.ignoreDrift lists it"
        } else {
            "bringing it back to the spec"
        };
        let note = format!(
            "Lambda differs from the spec in {}, changed outside the controller; {fate}",
            now.join(", ")
        );
        self.publish(EventType::Warning, "DriftDetected", "Observe", note)
            .await;
    }

    /// Nothing to send: in sync, waiting for Lambda, or stalled.
    async fn settled(
        &mut self,
        verdict: Verdict,
        target: &Target<C::Port>,
    ) -> Result<Requeue, Error> {
        self.report.verdict(&verdict);
        let requeue = match &verdict {
            Verdict::Ready { .. } => {
                // Observing applies nothing, so it records nothing as applied.
                if !target.desired.policy.observe {
                    self.report.status.applied_fields = applied_names(&target.desired);
                }
                self.ctx.memory.reset(self.key, Track::Busy);
                self.ctx.idle(self.key, &target.lane)
            }
            Verdict::Progressing { .. } => self.backoff(Track::Busy),
            Verdict::Stalled { .. } => return self.stall(verdict).await,
        };
        self.finish(&verdict, requeue).await
    }

    async fn create(
        &mut self,
        request: &MappingFields,
        verdict: &Verdict,
        target: &Target<C::Port>,
        recreate: bool,
    ) -> Result<Requeue, Error> {
        let region = target.desired.region.as_str();
        // Crash safety: note the attempt first. If we stop between Create and the next status
        // write, the next run finds the mapping by its ownership tag instead of creating again.
        let status = &mut self.report.status;
        if status.create_requested_at.is_none() {
            status.create_requested_at = Some(jiff::Timestamp::now().to_string());
        }
        // With the marker, the account and region the Create goes to: the lookup after a crash
        // must search there even if the default region or binding changes before it runs.
        self.report.record_lane(&target.lane.key);
        // And the verdict (Reconciling): this write is the resource's first status as a rule,
        // and a status without conditions reads as done to kstatus.
        self.report.verdict(verdict);
        self.report.write(self.api).await?;
        self.ctx.memory.create_throttled(self.key, false);
        let mapping = match target.lane.lambda.create_mapping(request).await {
            Ok(mapping) => mapping,
            Err(e) if e.kind == ErrorKind::Conflict => {
                return self.resolve_conflict(target, e).await;
            }
            Err(e) => {
                // A throttle created nothing, and the next attempt comes soon: the marker stays
                // written (no status write now, and none to write it again then), and this
                // process remembers that it needs no lookup. A restart in between looks once.
                if e.is_throttled() {
                    self.ctx.memory.create_throttled(self.key, true);
                    return Err(Error::Lambda(e));
                }
                // Any other definite rejection (invalid, function missing, denied) created
                // nothing either: no lookup is needed next time. Only an unknown outcome (5xx,
                // timeout, lost connection) keeps the marker.
                if e.kind != ErrorKind::Retry {
                    self.report.status.create_requested_at = None;
                }
                return self.lambda_failure(e).await;
            }
        };
        let memory = &self.ctx.memory;
        memory.reset(self.key, Track::Busy);
        self.wrote(target, &mapping);
        let uid = self.esm.metadata.uid.clone().unwrap_or_default();
        let own = OwnCreate {
            uid,
            uuid: mapping.uuid.clone(),
            tags_digest: target.tags_digest.clone(),
        };
        memory.remember_create(self.key, Some(own));
        self.report.record_mapping(&target.lane.key, &mapping);
        let status = &mut self.report.status;
        status.create_requested_at = None;
        status.applied_fields = applied_names(&target.desired);
        status.tags_digest = Some(target.tags_digest.clone());
        self.report.verdict(verdict);
        self.report.write(self.api).await?;
        memory.mapping_created(self.key);
        // A first create is in status (the UUID, Ready when Lambda has enabled it) and costs no
        // Event: that would be one more API server request per resource, saying what status
        // says. A mapping created again after someone deleted it is news.
        if recreate {
            let note = format!("created mapping {} in {region}", mapping.uuid);
            self.publish(EventType::Normal, "Recreated", "Create", note)
                .await;
        }
        let requeue = self.backoff(Track::Busy);
        self.finish(verdict, requeue).await
    }

    async fn update(
        &mut self,
        update: Update<'_>,
        verdict: &Verdict,
        target: &Target<C::Port>,
    ) -> Result<Requeue, Error> {
        let (desired, uuid) = (&target.desired, update.uuid);
        let mapping = match target.lane.lambda.update_mapping(uuid, update.patch).await {
            Ok(mapping) => mapping,
            Err(e) if e.kind == ErrorKind::NotFound => {
                // Deleted between our Get and Update: the next pass recreates it.
                self.report.clear_mapping();
                self.report.verdict(&Verdict::progressing(
                    "Recreating",
                    format!("mapping {uuid} disappeared during an update"),
                ));
                return self
                    .finish(verdict, self.requeue(Duration::from_secs(1)))
                    .await;
            }
            Err(e) => return self.lambda_failure(e).await,
        };
        self.ctx.memory.reset(self.key, Track::Busy);
        self.wrote(target, &mapping);
        self.report.record_mapping(&target.lane.key, &mapping);
        self.report.status.applied_fields = applied_names(desired);
        self.record_ignored_digests();
        self.report.verdict(verdict);
        if update.reenable {
            let note = verdict.message().to_string();
            self.publish(EventType::Normal, "ReEnabled", "Update", note)
                .await;
        } else {
            let names: Vec<&str> = update.fields.iter().map(|f| f.wire_name()).collect();
            let note = format!("updated {} of mapping {uuid}", names.join(", "));
            self.publish(EventType::Normal, "Updated", "Update", note)
                .await;
        }
        let requeue = self.backoff(Track::Busy);
        self.finish(verdict, requeue).await
    }

    async fn retag(
        &mut self,
        retag: Retag<'_>,
        verdict: &Verdict,
        target: &Target<C::Port>,
    ) -> Result<Requeue, Error> {
        let lambda = &target.lane.lambda;
        let Retag { arn, add, remove } = retag;
        let result = async {
            if !remove.is_empty() {
                lambda.untag_resource(arn, remove).await?;
            }
            if !add.is_empty() {
                lambda.tag_resource(arn, add).await?;
            }
            Ok::<_, LambdaError>(())
        }
        .await;
        if let Err(e) = result {
            return self.lambda_failure(e).await;
        }
        self.report.status.tags_digest = Some(target.tags_digest.clone());
        self.record_ignored_digests();
        self.report.verdict(verdict);
        self.finish(verdict, self.requeue(Duration::from_secs(1)))
            .await
    }
}

impl<C: Connect> Pass<'_, C> {
    /// Notes our own write in the lane's cache, so that the next observation comes from a
    /// later sweep.
    fn wrote(&self, target: &Target<C::Port>, mapping: &crate::lambda::ObservedMapping) {
        if let Some(cache) = &target.lane.cache {
            cache.record_write(mapping, crate::controller::cache::owner_of(self.esm));
        }
    }
}

/// An update the plan asks for.
struct Update<'a> {
    uuid: &'a str,
    patch: &'a MappingFields,
    fields: &'a [Field],
    /// Lambda disabled the mapping by itself and the spec says `enabled: true`.
    reenable: bool,
}

/// The tag changes the plan asks for.
struct Retag<'a> {
    arn: &'a str,
    add: &'a BTreeMap<String, String>,
    remove: &'a [String],
}

fn applied_names(desired: &Desired) -> Vec<String> {
    desired
        .set
        .iter()
        .map(|f| f.wire_name().to_string())
        .collect()
}
