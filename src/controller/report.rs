//! Reporting: status (server-side apply on the status subresource, only when it changed) and
//! Kubernetes Events (through the shared recorder).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};

use crate::api::{EventSourceMapping, EventSourceMappingStatus, FIELD_MANAGER};
use crate::lambda::ObservedMapping;
use crate::plan::{Verdict, report};

/// The status being built during one reconcile, compared with what was there before.
pub struct Report<'a> {
    esm: &'a EventSourceMapping,
    before: EventSourceMappingStatus,
    pub status: EventSourceMappingStatus,
}

impl<'a> Report<'a> {
    pub fn new(esm: &'a EventSourceMapping) -> Self {
        let before = esm.status.clone().unwrap_or_default();
        Self {
            esm,
            status: before.clone(),
            before,
        }
    }

    /// Copies what Lambda says about the mapping into status.
    pub fn record_mapping(&mut self, mapping: &ObservedMapping) {
        let s = &mut self.status;
        s.uuid = Some(mapping.uuid.clone());
        s.event_source_mapping_arn = mapping
            .arn
            .clone()
            .or_else(|| s.event_source_mapping_arn.clone());
        s.function_arn = mapping.function_arn.clone();
        s.state = mapping.state.clone();
        s.state_transition_reason = mapping.state_transition_reason.clone();
        s.last_processing_result = mapping.last_processing_result.clone();
        s.last_modified = mapping.last_modified.and_then(|epoch| {
            jiff::Timestamp::from_millisecond((epoch * 1000.0).round() as i64)
                .ok()
                .map(|t| t.to_string())
        });
    }

    /// Forget the mapping (it is gone).
    pub fn clear_mapping(&mut self) {
        let s = &mut self.status;
        s.uuid = None;
        s.event_source_mapping_arn = None;
        s.function_arn = None;
        s.state = None;
        s.state_transition_reason = None;
        s.last_processing_result = None;
        s.last_modified = None;
        s.tags_digest = None;
    }

    pub fn verdict(&mut self, verdict: &Verdict) {
        let now = Time(jiff::Timestamp::now());
        self.status.observed_generation = self.esm.metadata.generation;
        self.status.conditions = report::conditions(
            verdict,
            self.esm.metadata.generation,
            &self.before.conditions,
            &now,
        );
    }

    /// The Ready/Stalled reason before this reconcile, to publish events on transitions only.
    pub fn previous_reason(&self) -> Option<&str> {
        self.before
            .condition(report::READY)
            .map(|c| c.reason.as_str())
    }

    /// Writes the status if it changed; afterwards the new status is the baseline.
    pub async fn write(&mut self, api: &Api<EventSourceMapping>) -> Result<(), kube::Error> {
        if self.status == self.before {
            return Ok(());
        }
        let body = serde_json::json!({
            "apiVersion": "lambda.esm-controller.dev/v1alpha1",
            "kind": "EventSourceMapping",
            "status": self.status,
        });
        api.patch_status(
            &self.esm.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(body),
        )
        .await?;
        self.before = self.status.clone();
        Ok(())
    }
}

/// Publishes an event about the resource. Event failures are logged, never fatal: an event is
/// a courtesy, the status is the record.
pub async fn publish(
    recorder: &kube::runtime::events::Recorder,
    esm: &EventSourceMapping,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &esm.object_ref(&())).await {
        tracing::warn!(name = esm.name_any(), reason, error = %e, "could not publish event");
    }
}
