//! Lambda's refusals during a live reconcile, turned into conditions, events and requeues; and
//! a Create that found an existing mapping.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::EventType;

use super::Pass;
use super::apply::Target;
use crate::api::ADOPT_ANNOTATION;
use crate::controller::observe::{Lookup, candidates};
use crate::controller::{Error, Track};
use crate::lambda::{
    Connect, ErrorKind, LambdaError, LambdaPort, LaneKey, ObservedMapping, Op, conflicting_uuid,
};
use crate::plan::{self, Ownership, Verdict};

impl<C: Connect> Pass<'_, C> {
    /// A Lambda error during a live reconcile, turned into a condition and a requeue.
    pub(super) async fn lambda_failure(&mut self, e: LambdaError) -> Result<Requeue, Error> {
        if e.refuses_tags() {
            let verdict = Verdict::stalled(
                "TagsRefused",
                format!(
                    "{}: {}: the controller creates every mapping with its ownership tags (they let it find the mapping again after an interruption, so it never creates a duplicate) and creates no untagged mapping; grant its role lambda:TagResource (see docs/iam-policy.json), or, where Lambda cannot tag event source mappings, manage this one another way",
                    e.operation, e.message
                ),
            );
            return self.stall(verdict).await;
        }
        let what = format!("{}: {}", e.operation, e.message);
        match e.kind {
            ErrorKind::Busy => {
                let verdict = Verdict::progressing(
                    "Waiting",
                    format!("Lambda is busy with the mapping: {}", e.message),
                );
                self.progress(verdict, Track::Busy).await
            }
            ErrorKind::Invalid => self.stall(Verdict::stalled("InvalidParameter", what)).await,
            // On Create, not-found means the function (or its alias) does not exist.
            ErrorKind::NotFound if e.operation == Op::Create => {
                let verdict = Verdict::stalled(
                    "FunctionNotFound",
                    format!("{what} (re-checked periodically: the function may be created later)"),
                );
                self.stall(verdict).await
            }
            // Anything else vanished between two calls (deleted out of band): look again soon.
            ErrorKind::NotFound => {
                let verdict = Verdict::progressing("Retrying", format!("{what}; observing again"));
                self.progress(verdict, Track::Error).await
            }
            ErrorKind::AccessDenied => self.stall(Verdict::stalled("AccessDenied", what)).await,
            ErrorKind::Conflict | ErrorKind::Retry => {
                let verdict = Verdict::progressing(
                    "Retrying",
                    format!("{} failed and will be retried: {}", e.operation, e.message),
                );
                self.report.verdict(&verdict);
                self.report.write(self.api).await?;
                Err(Error::Lambda(e))
            }
        }
    }

    /// Create answered "a mapping for this source and function exists": adopt it if it is ours
    /// (a retried Create whose first attempt succeeded, or an earlier incarnation of this
    /// resource), otherwise report the conflict and leave the other mapping alone.
    pub(super) async fn resolve_conflict(
        &mut self,
        target: &Target<C::Port>,
        conflict: LambdaError,
    ) -> Result<Requeue, Error> {
        let lookup = &target.lookup(self.esm);
        let from_message = conflicting_uuid(&conflict.message);
        let lambda = &target.lane.lambda;
        let found = match conflicting(lambda, lookup, from_message.as_deref()).await {
            Ok(found) => found,
            Err(e) => return self.lambda_failure(e).await,
        };
        let annotation = self
            .esm
            .annotations()
            .get(ADOPT_ANNOTATION)
            .map(String::as_str);
        for (mapping, tags) in &found {
            let verdict = plan::ownership(lookup.owner, &mapping.uuid, tags, annotation);
            if verdict != Ownership::Foreign {
                return self.take_over(&target.lane.key, mapping, verdict).await;
            }
        }
        let uuid = found
            .first()
            .map(|(m, _)| m.uuid.clone())
            .or(from_message)
            .unwrap_or_else(|| "(unknown)".into());
        self.report.status.create_requested_at = None;
        let verdict = Verdict::stalled(
            "Conflict",
            format!(
                "mapping {uuid} for the same event source and function already exists and is not managed by this resource; delete it, or annotate this resource with {ADOPT_ANNOTATION}={uuid} to take it over"
            ),
        );
        self.stall(verdict).await
    }

    /// Records an existing mapping that is ours, or that the adopt annotation names.
    async fn take_over(
        &mut self,
        lane: &LaneKey,
        mapping: &ObservedMapping,
        ownership: Ownership,
    ) -> Result<Requeue, Error> {
        self.report.record_mapping(lane, mapping);
        self.report.status.create_requested_at = None;
        self.report.verdict(&Verdict::progressing(
            "Adopting",
            format!("recorded existing mapping {}", mapping.uuid),
        ));
        self.report.write(self.api).await?;
        let (reason, note) = if ownership == Ownership::Ours {
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
        self.publish(EventType::Normal, reason, "Adopt", note).await;
        Ok(self.requeue(Duration::from_secs(1)))
    }
}

/// The mapping (or mappings) that Create found in the way, with their tags.
async fn conflicting<L: LambdaPort>(
    lambda: &L,
    lookup: &Lookup<'_>,
    named: Option<&str>,
) -> Result<Vec<(ObservedMapping, BTreeMap<String, String>)>, LambdaError> {
    let Some(uuid) = named else {
        return candidates(lambda, lookup).await;
    };
    let mapping = lambda.get_mapping(uuid).await?;
    let tags = match &mapping.arn {
        Some(arn) => match lambda.list_tags(arn).await {
            Ok(tags) => tags,
            // Tags we may not read are not ours (see `candidates`): the mapping is foreign
            // unless the adopt annotation names it.
            Err(e) if matches!(e.kind, ErrorKind::AccessDenied) => Default::default(),
            Err(e) => return Err(e),
        },
        None => Default::default(),
    };
    Ok(vec![(mapping, tags)])
}
