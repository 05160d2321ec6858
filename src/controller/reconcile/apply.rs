//! The story of a live resource: check the hold, resolve what the spec asks for, observe
//! Lambda, record what was discovered, plan, act, report.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::EventType;

use super::{Pass, Step, proceed, stall_fingerprint};
use crate::api::ADOPT_ANNOTATION;
use crate::controller::cache::FIRST_SWEEP_WAIT;
use crate::controller::lanes::Lane;
use crate::controller::memory::OwnCreate;
use crate::controller::observe::{Discovery, Lookup, Observation, Observer};
use crate::controller::{Error, READ_FAILURE_GRACE, Track};
use crate::lambda::{AccountRole, Connect, ErrorKind, LaneKey};
use crate::plan::{self, Action, Desired, Observed, Owner, Plan, Region, SpecError, Verdict};

/// A match found without a UUID that cannot be taken (several mappings match, or the one match
/// is another resource's): nothing is created or written; the resource says which.
fn unusable_match(discovery: &Discovery) -> Option<Verdict> {
    match discovery {
        Discovery::Ambiguous(uuids) => Some(Verdict::stalled(
            "AmbiguousMatch",
            format!(
                "{} mappings have this event source and function: {}; none is taken. Name one with the {ADOPT_ANNOTATION} annotation, or delete the others",
                uuids.len(),
                uuids.join(", ")
            ),
        )),
        Discovery::OwnedElsewhere { uuid, owner } => Some(Verdict::stalled(
            "OwnedElsewhere",
            format!(
                "mapping {uuid}, the one with this event source and function, is managed by {owner} (its ownership tags); it is not taken over and none is created"
            ),
        )),
        _ => None,
    }
}

/// What the resource asks for, resolved once per pass, and the lane it lives in.
pub(super) struct Target<P> {
    pub desired: Desired,
    pub owner: Owner,
    /// Digest of the desired tags; tags are read from Lambda only when status has another.
    pub tags_digest: String,
    pub lane: Arc<Lane<P>>,
}

impl<P> Target<P> {
    pub fn lookup<'a>(&'a self, pass_esm: &'a crate::api::EventSourceMapping) -> Lookup<'a> {
        Lookup::new(pass_esm, &self.owner)
    }
}

impl<C: Connect> Pass<'_, C> {
    /// Brings Lambda in line with a live resource.
    pub(super) async fn apply(
        mut self,
        region: &Result<Region, SpecError>,
        account: &Result<Option<AccountRole>, Verdict>,
    ) -> Result<Requeue, Error> {
        if self.esm.spec.suspend {
            return self.suspend().await;
        }
        if let Some(remaining) = self.held() {
            // Stalled and nothing changed: wait for the recheck, not a retry on every event.
            return Ok(self.requeue(remaining));
        }
        let target = match self.target(region, account) {
            Ok(target) => target,
            Err(verdict) => return self.stall(verdict).await,
        };
        let observation = proceed!(self.observe(&target).await);
        if let Some(verdict) = unusable_match(&observation.discovery) {
            return self.stall(verdict).await;
        }
        self.record_discovery(&target, &observation).await?;
        proceed!(self.on_gone(&target, &observation).await);
        let plan = self.plan(&target, &observation);
        self.act(plan, &target, &observation).await
    }

    /// spec.suspend: no Lambda call; the status as last seen says so (see `Report::suspended`).
    async fn suspend(&mut self) -> Result<Requeue, Error> {
        let transition = self.report.previous_reason() != Some("Suspended")
            && self
                .esm
                .status
                .as_ref()
                .and_then(|s| s.condition("Suspended"))
                .is_none();
        self.report.suspended();
        self.report.write(self.api).await?;
        if transition {
            let note =
                "suspended: no Lambda call is made for this resource until spec.suspend is false"
                    .to_string();
            self.publish(EventType::Normal, "Suspended", "Suspend", note)
                .await;
        }
        *crate::controller::lock(self.outcome) = Some("suspended");
        // Nothing to come back for: un-suspending is a spec change, which the watch delivers.
        Ok(Requeue::await_change())
    }

    /// How long a stalled resource is still left alone, if nothing the user can change did.
    fn held(&self) -> Option<Duration> {
        self.ctx
            .memory
            .stalled_for(self.key, stall_fingerprint(self.esm))
    }

    /// What the spec asks for, or why it cannot be used: a region the resource may not move
    /// to, an account its namespace is not granted, or a spec the API server let through but we cannot use (CEL cannot parse JSON or
    /// read the clock). Nothing is sent to AWS for any of these.
    fn target(
        &self,
        region: &Result<Region, SpecError>,
        account: &Result<Option<AccountRole>, Verdict>,
    ) -> Result<Target<C::Port>, Verdict> {
        let esm = self.esm;
        let region = region
            .as_ref()
            .map_err(|e| Verdict::stalled("InvalidSpec", e.to_string()))?;
        if let Some(verdict) = plan::region::region_moved(&esm.spec, esm.status.as_ref(), region) {
            // Creating in the spec's region would leave a second mapping processing the same
            // events; nothing is sent to either region until the user decides.
            return Err(verdict);
        }
        let owner = Owner::of(esm, &self.ctx.settings.cluster_name);
        let mut desired = Desired::from_spec(&esm.spec, owner.clone(), region.name(), now_epoch())
            .map_err(|e| Verdict::stalled("InvalidSpec", e.to_string()))?;
        desired.policy.spec_digest = Some(plan::desired::spec_digest(&esm.spec));
        desired.policy.ready_spec_digest = esm
            .status
            .as_ref()
            .and_then(|s| s.ready_spec_digest.clone());
        let tags_digest = desired.tags_digest();
        let lane = self.ctx.lane(&LaneKey {
            account: account.clone()?,
            region: region.name().to_string(),
        });
        self.ctx.memory.uses_lane(self.key, &lane.key);
        Ok(Target {
            desired,
            owner,
            tags_digest,
            lane,
        })
    }

    /// What exists in Lambda for the resource.
    async fn observe(&mut self, target: &Target<C::Port>) -> Step<Observation> {
        self.carry_on_from_own_create();
        let mut status = self.report.status.clone();
        if status.uuid.is_none() && self.ctx.memory.was_create_throttled(self.key) {
            // The marker is from a Create Lambda throttled: nothing to look for.
            status.create_requested_at = None;
        }
        let observer = Observer::new(&target.lane.lambda, target.lane.cache.as_ref());
        let lookup = target.lookup(self.esm);
        let observed = observer
            .observe(self.esm, &status, &lookup, Some(&target.tags_digest))
            .await;
        if observed.is_ok() {
            self.ctx.memory.read_succeeded(self.key);
        }
        match observed {
            Ok(Some(observation)) => Ok(ControlFlow::Continue(observation)),
            // The sweep that lists the mapping triggers us; the requeue is only a fallback.
            Ok(None) => {
                let fallback = match target.lane.cache.as_ref() {
                    Some(cache) if cache.awaiting_first_sweep() => FIRST_SWEEP_WAIT,
                    _ => self.ctx.settle_wait(),
                };
                Ok(ControlFlow::Break(self.requeue(fallback)))
            }
            Err(e) if e.kind == ErrorKind::NotFound && status.uuid.is_none() => {
                // Only the adopt annotation's Get can answer not-found here.
                let uuid = self
                    .esm
                    .annotations()
                    .get(ADOPT_ANNOTATION)
                    .cloned()
                    .unwrap_or_default();
                let verdict = Verdict::stalled(
                    "AdoptionTargetNotFound",
                    format!(
                        "the {ADOPT_ANNOTATION} annotation names mapping {uuid}, which does not exist in {}; fix or remove the annotation",
                        target.desired.region
                    ),
                );
                self.stall(verdict).await.map(ControlFlow::Break)
            }
            // A failed read says nothing about the mapping: a resource that was Ready for this
            // spec stays Ready (no status write) while reads fail for up to READ_FAILURE_GRACE,
            // and the error policy retries with backoff.
            Err(e) if e.kind == ErrorKind::Retry && self.ready_for_spec() && self.read_grace() => {
                Err(Error::Lambda(e))
            }
            Err(e) => self.lambda_failure(e).await.map(ControlFlow::Break),
        }
    }

    /// A stale copy of the object from before our last status write: carry on from what that
    /// write recorded, in the status this reconcile writes too. Writing the stale copy's status
    /// back would drop the tags digest, and the next reconcile would read the tags again.
    fn carry_on_from_own_create(&mut self) {
        let memory = &self.ctx.memory;
        let status = &mut self.report.status;
        match &status.uuid {
            None => {
                let uid = self.esm.metadata.uid.as_deref().unwrap_or_default();
                if let Some(OwnCreate {
                    uuid, tags_digest, ..
                }) = memory.own_create(self.key, uid)
                {
                    status.uuid = Some(uuid);
                    status.tags_digest = Some(tags_digest);
                }
            }
            Some(_) => memory.remember_create(self.key, None),
        }
    }

    /// Whether the resource's status says Ready for its current spec.
    fn ready_for_spec(&self) -> bool {
        let status = &self.report.status;
        status.observed_generation == self.esm.metadata.generation
            && status
                .condition(plan::verdict::READY)
                .is_some_and(|c| c.status == "True")
    }

    /// Whether reads of the mapping have failed for less than [`READ_FAILURE_GRACE`].
    fn read_grace(&self) -> bool {
        self.ctx.memory.read_failing_since(self.key).elapsed() < READ_FAILURE_GRACE
    }

    /// A mapping found by the adopt annotation or after an interruption: record its identity
    /// before anything else, and say how it was found.
    async fn record_discovery(
        &mut self,
        target: &Target<C::Port>,
        observation: &Observation,
    ) -> Result<(), Error> {
        let Observed::Found { mapping, .. } = &observation.observed else {
            return Ok(());
        };
        if observation.discovery == Discovery::Recorded {
            return Ok(());
        }
        self.report.record_mapping(&target.lane.key, mapping);
        self.report.status.create_requested_at = None;
        self.report.write(self.api).await?;
        let (reason, note) = match observation.discovery {
            Discovery::Recovered => (
                "Recovered",
                format!(
                    "found mapping {} that this resource created before an interruption; no duplicate was created",
                    mapping.uuid
                ),
            ),
            Discovery::Matched if target.desired.policy.observe => (
                "Observing",
                format!(
                    "observing mapping {}, the one mapping of this event source and function; nothing is written to it",
                    mapping.uuid
                ),
            ),
            Discovery::Matched => (
                "Adopted",
                format!(
                    "adopted mapping {}, the one existing mapping of this event source and function",
                    mapping.uuid
                ),
            ),
            _ => (
                "Adopted",
                format!("adopted existing mapping {}", mapping.uuid),
            ),
        };
        self.publish(EventType::Normal, reason, "Adopt", note).await;
        Ok(())
    }

    /// The recorded mapping was deleted outside the controller: forget it and say so. It is
    /// created again by this pass, or, when a new mapping would go to another region (the
    /// default changed), by the next one.
    async fn on_gone(&mut self, target: &Target<C::Port>, observation: &Observation) -> Step<()> {
        let Observed::Gone { uuid } = &observation.observed else {
            return Ok(ControlFlow::Continue(()));
        };
        self.report.clear_mapping();
        // Nothing is recorded any more, so the new mapping goes where a new one goes: the spec's
        // region, or the default region as it is now. When that is not the region the old
        // mapping was in, the next pass creates it from the cleared status, so that its create
        // marker, sweep and crash lookup all name the new region.
        let default_region = self.ctx.settings.default_region.as_deref();
        let new_region = plan::region::region_for_new(&self.esm.spec, default_region);
        let old_region = &target.desired.region;
        let moved = new_region.as_deref() != Ok(old_region.as_str());
        let note = match &new_region {
            Ok(_) if !moved => {
                format!("mapping {uuid} was deleted outside the controller; creating it again")
            }
            Ok(new) => format!(
                "mapping {uuid} in {old_region} was deleted outside the controller; creating it again in {new}, the controller's default region now (spec.region is not set)"
            ),
            Err(e) => format!(
                "mapping {uuid} in {old_region} was deleted outside the controller; it cannot be created again: {e}"
            ),
        };
        let verdict = Verdict::progressing("Recreating", note.clone());
        if moved {
            // Status first: if the write fails, the retry must not publish the event twice.
            self.report.verdict(&verdict);
            self.report.write(self.api).await?;
        }
        self.publish(EventType::Warning, "DeletedOutOfBand", "Recreate", note)
            .await;
        if moved {
            self.log_outcome(&verdict);
            return Ok(ControlFlow::Break(self.requeue(Duration::from_secs(1))));
        }
        Ok(ControlFlow::Continue(()))
    }

    /// The next step, and what the observation says for status.
    fn plan(&mut self, target: &Target<C::Port>, observation: &Observation) -> Plan {
        let observed = self.taken_over_as_tagged(target, observation);
        let plan = plan::plan(&target.desired, &self.report.status, &observed);
        if let Observed::Found { mapping, tags } = &observed {
            if self.report.status.state != mapping.state {
                // Lambda moved on: wait a short time again for the next step.
                self.ctx.memory.reset(self.key, Track::Busy);
            }
            self.report.record_mapping(&target.lane.key, mapping);
            self.report.status.create_requested_at = None;
            if plan.action == Action::None && tags.is_some() && !target.desired.policy.observe {
                // Tags were read and needed no change (Observe compares none).
                self.report.status.tags_digest = Some(target.tags_digest.clone());
            }
        }
        plan
    }
}

impl<C: Connect> Pass<'_, C> {
    /// A mapping just taken over (adopt-uuid, adopt-existing, or Observe switched to Full by
    /// its first write) whose tags already hold every tag of the spec is taken as it is
    /// tagged: its other tags (the previous manager's) stay, and the controller's ownership
    /// tags are not added. Those tags exist to find a mapping whose Create outcome is unknown;
    /// a mapping taken over was never created by us. So taking over a mapping that matches
    /// the spec makes no Lambda write at all; the tags are brought in line (ownership tags
    /// included) the next time the spec's tags change.
    fn taken_over_as_tagged(
        &mut self,
        target: &Target<C::Port>,
        observation: &Observation,
    ) -> Observed {
        let taken_over = !target.desired.policy.observe
            && matches!(
                observation.discovery,
                Discovery::Adopted | Discovery::Matched
            );
        if let (
            true,
            Observed::Found {
                mapping,
                tags: Some(live),
            },
        ) = (taken_over, &observation.observed)
        {
            let wanted = self.esm.spec.tags.clone().unwrap_or_default();
            if wanted.iter().all(|(k, v)| live.get(k) == Some(v)) {
                self.report.status.tags_digest = Some(target.tags_digest.clone());
                return Observed::Found {
                    mapping: mapping.clone(),
                    tags: None,
                };
            }
        }
        observation.observed.clone()
    }
}

fn now_epoch() -> f64 {
    jiff::Timestamp::now().as_millisecond() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_match_that_cannot_be_taken_stalls_naming_every_candidate() {
        let several = Discovery::Ambiguous(vec!["uuid-1".into(), "uuid-2".into()]);
        let verdict = unusable_match(&several).expect("several matches stall");
        assert_eq!(verdict.reason(), "AmbiguousMatch");
        assert!(
            verdict.message().contains("uuid-1, uuid-2"),
            "{}",
            verdict.message()
        );
        assert!(verdict.message().contains(ADOPT_ANNOTATION));
        let owned = Discovery::OwnedElsewhere {
            uuid: "uuid-3".into(),
            owner: "team-b/orders".into(),
        };
        let verdict = unusable_match(&owned).expect("another owner's mapping stalls");
        assert_eq!(verdict.reason(), "OwnedElsewhere");
        assert!(
            verdict.message().contains("uuid-3") && verdict.message().contains("team-b/orders")
        );
        for usable in [Discovery::Matched, Discovery::Adopted, Discovery::Recorded] {
            assert!(unusable_match(&usable).is_none());
        }
    }
}
