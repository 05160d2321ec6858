//! Reporting: status (server-side apply on the status subresource, only when it changed) and
//! Kubernetes Events.

use std::sync::Mutex;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, MicroTime, ObjectMeta, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};

use crate::api::{EventSourceMapping, EventSourceMappingStatus, FIELD_MANAGER};
use crate::lambda::{LaneKey, ObservedMapping};
use crate::plan::{Verdict, verdict};

/// The status being built during one reconcile, compared with what was there before.
pub struct Report<'a> {
    esm: &'a EventSourceMapping,
    /// The status as last written (or as found); the baseline for "did it change".
    before: EventSourceMappingStatus,
    /// The Ready reason when this reconcile started (writes during it do not move it).
    reason_at_start: Option<String>,
    pub status: EventSourceMappingStatus,
    /// The resource as the API server returned it to the last status write.
    latest: &'a Mutex<Option<EventSourceMapping>>,
}

impl<'a> Report<'a> {
    pub fn new(esm: &'a EventSourceMapping, latest: &'a Mutex<Option<EventSourceMapping>>) -> Self {
        let before = esm.status.clone().unwrap_or_default();
        Self {
            esm,
            reason_at_start: before.condition(verdict::READY).map(|c| c.reason.clone()),
            status: before.clone(),
            before,
            latest,
        }
    }

    /// Copies what Lambda says about the mapping into status, with the lane (account and
    /// region) it was found in: from then on the resource is managed there (see
    /// [`crate::plan::region`] and [`crate::plan::account`]).
    pub(crate) fn record_mapping(&mut self, lane: &LaneKey, mapping: &ObservedMapping) {
        self.record_lane(lane);
        let s = &mut self.status;
        s.uuid = Some(mapping.uuid.clone());
        if s.account_id.is_none() {
            // The own identity's account, as the mapping's ARN names it.
            s.account_id = mapping
                .arn
                .as_deref()
                .and_then(crate::api::arn_account)
                .map(str::to_string);
        }
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

    /// Records where the mapping is, or is being created: its region and account.
    pub(crate) fn record_lane(&mut self, lane: &LaneKey) {
        let s = &mut self.status;
        s.region = Some(lane.region.clone());
        s.account = lane.account.as_ref().map(|role| role.binding.clone());
        if let Some(role) = &lane.account {
            s.account_id = Some(role.account_id().to_string());
        }
    }

    /// Forget the mapping (it is gone).
    pub(crate) fn clear_mapping(&mut self) {
        let s = &mut self.status;
        s.uuid = None;
        s.region = None;
        s.account = None;
        s.account_id = None;
        s.event_source_mapping_arn = None;
        s.function_arn = None;
        s.state = None;
        s.state_transition_reason = None;
        s.last_processing_result = None;
        s.last_modified = None;
        s.tags_digest = None;
    }

    pub(crate) fn verdict(&mut self, verdict: &Verdict) {
        self.status.ready_spec_digest = verdict
            .is_ready()
            .then(|| crate::plan::desired::spec_digest(&self.esm.spec));
        let now = Time(jiff::Timestamp::now());
        self.status.observed_generation = self.esm.metadata.generation;
        self.status.conditions = verdict::conditions(
            verdict,
            self.esm.metadata.generation,
            &self.before.conditions,
            &now,
        );
    }

    /// The status of a suspended resource: as last seen, for the current generation, with a
    /// Suspended condition. Ready=True stays only if it was reached for this generation;
    /// otherwise the resource is Stalled (reason Suspended), so that kstatus and Argo CD do not
    /// wait for progress that cannot come. Reconciling goes: nothing is being reconciled.
    pub(crate) fn suspended(&mut self) {
        let now = Time(jiff::Timestamp::now());
        let generation = self.esm.metadata.generation;
        let before = &self.before;
        let ready_now = before.ready_spec_digest.as_deref()
            == Some(&crate::plan::desired::spec_digest(&self.esm.spec))
            && before
                .condition(verdict::READY)
                .is_some_and(|c| c.status == "True");
        let message = "spec.suspend is true: the controller makes no Lambda call for this resource; status shows the mapping as last seen".to_string();
        let mut conditions: Vec<Condition> = if ready_now {
            before
                .conditions
                .iter()
                .filter(|c| c.type_ == verdict::READY)
                .cloned()
                .collect()
        } else {
            verdict::conditions(
                &Verdict::stalled("Suspended", message.clone()),
                generation,
                &before.conditions,
                &now,
            )
        };
        let transition = before
            .condition("Suspended")
            .map(|c| c.last_transition_time.clone())
            .unwrap_or(now);
        conditions.push(Condition {
            type_: "Suspended".into(),
            status: "True".into(),
            reason: "Suspended".into(),
            message,
            observed_generation: generation,
            last_transition_time: transition,
        });
        self.status.conditions = conditions;
        self.status.observed_generation = generation;
    }

    /// The Ready reason before this reconcile, to publish events and log on transitions only.
    pub fn previous_reason(&self) -> Option<&str> {
        self.reason_at_start.as_deref()
    }

    /// Writes the status if it changed; afterwards the new status is the baseline.
    pub async fn write(&mut self, api: &Api<EventSourceMapping>) -> Result<(), kube::Error> {
        // status.region names where the recorded mapping or create is. Once neither is recorded
        // (a create Lambda refused, a mapping that is gone), a region left behind would claim a
        // mapping where there is none; clearing it here covers every path that drops them.
        if self.status.uuid.is_none() && self.status.create_requested_at.is_none() {
            self.status.region = None;
            self.status.account = None;
            self.status.account_id = None;
        }
        if self.status == self.before {
            return Ok(());
        }
        let body = serde_json::json!({
            "apiVersion": EventSourceMapping::api_version(&()),
            "kind": EventSourceMapping::kind(&()),
            "status": self.status,
        });
        let written = api
            .patch_status(
                &self.esm.name_any(),
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(body),
            )
            .await?;
        *crate::sync::lock(self.latest) = Some(written);
        self.before = self.status.clone();
        Ok(())
    }
}

/// Kubernetes Events (events.k8s.io/v1) about resources.
///
/// kube's `Recorder` keeps a copy of every event it published for six minutes, to fold repeats
/// into series. This controller publishes on transitions only, so there are no repeats to fold,
/// and after a wave of 10,000 creates that copy would be tens of MiB (and a scan of all of it on
/// every publish). So events are simply created.
pub struct Events {
    client: kube::Client,
    controller: String,
    instance: String,
}

/// Lambda's messages can be long; the API server refuses notes over 1 KiB.
const NOTE_LIMIT: usize = 1024;

impl Events {
    pub fn new(client: kube::Client, controller: &str, instance: Option<String>) -> Self {
        Self {
            client,
            controller: controller.into(),
            instance: instance.unwrap_or_else(|| controller.into()),
        }
    }

    /// Publishes an event about the resource. Failures are logged, never fatal: an event is a
    /// courtesy, the status is the record.
    pub(crate) async fn publish(&self, esm: &EventSourceMapping, happened: Event) {
        let Event {
            type_,
            reason,
            note,
            action,
            ..
        } = happened;
        let namespace = esm.namespace().unwrap_or_else(|| "default".into());
        let now = jiff::Timestamp::now();
        let event = k8s_openapi::api::events::v1::Event {
            metadata: ObjectMeta {
                name: Some(event_name(&esm.name_any(), now)),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(now)),
            type_: Some(match type_ {
                EventType::Normal => "Normal".into(),
                EventType::Warning => "Warning".into(),
            }),
            reason: Some(reason.clone()),
            action: Some(action),
            note: note.map(|note| truncate(note, NOTE_LIMIT)),
            regarding: Some(esm.object_ref(&())),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Default::default()
        };
        let api: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(self.client.clone(), &namespace);
        if let Err(e) = api.create(&PostParams::default(), &event).await {
            tracing::warn!(name = esm.name_any(), reason, error = %e, "could not publish event");
        }
    }
}

/// `<object>.<nanoseconds in hex>`, as kubectl and client-go name events. (A generateName
/// ending in "." is refused: the API server validates the prefix as a DNS subdomain.) Object
/// names are DNS subdomains of at most 253 characters, so the prefix is cut to leave room.
fn event_name(object: &str, at: jiff::Timestamp) -> String {
    let suffix = format!(".{:x}", at.as_nanosecond());
    let mut prefix = &object[..object.len().min(253 - suffix.len())];
    prefix = prefix.trim_end_matches(['.', '-']);
    format!("{prefix}{suffix}")
}

fn truncate(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut end = limit - 3;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_names_are_valid_and_distinct() {
        let t = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let name = super::event_name("orders", t);
        assert!(name.starts_with("orders.") && name.len() > "orders.".len());
        let later = t + jiff::SignedDuration::from_nanos(1);
        assert_ne!(super::event_name("orders", later), name);
        let long = format!("{}-x", "a".repeat(251));
        let name = super::event_name(&long, t);
        assert!(name.len() <= 253, "{}", name.len());
        let edge = format!("{}.b", "a".repeat(236));
        let name = super::event_name(&edge, t);
        assert!(name.len() <= 253 && !name.contains(".."), "{name}");
    }

    #[test]
    fn long_notes_are_cut_at_a_character_boundary() {
        assert_eq!(super::truncate("short".into(), 1024), "short");
        let long = "é".repeat(600);
        let cut = super::truncate(long, 1024);
        assert!(cut.len() <= 1024 && cut.ends_with("..."));
        assert!(cut.trim_end_matches("...").chars().all(|c| c == 'é'));
    }
}
