//! The decision core: desired + observed → what to do next, and what to report. Pure: no I/O,
//! no clock, no randomness, so every rule is table-tested.
//!
//! One reconcile takes at most one AWS write. After it, the controller re-observes on the next
//! pass: Lambda's answer to a write is "Creating"/"Updating", not the final state, so there is
//! nothing more to decide until it settles.

pub mod account;
pub mod desired;
pub mod diff;
pub mod fields;
pub mod region;
pub mod verdict;

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{DeletionPolicy, EventSourceMappingStatus};
use crate::lambda::types::{MappingFields, MappingState, ObservedMapping};
pub(crate) use desired::{Desired, Owner, SpecError};
pub(crate) use fields::Field;
pub(crate) use region::{Region, region_of};
pub(crate) use verdict::Verdict;

/// What the controller found in Lambda for a resource.
// One short-lived value per reconcile: boxing the mapping would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Observed {
    /// No mapping exists for this resource (none recorded, none found).
    Nothing,
    /// The recorded mapping is gone (deleted outside the controller).
    Gone { uuid: String },
    /// The mapping, with its tags when they were read (they are read only when the desired tags
    /// changed since they last matched).
    Found {
        mapping: ObservedMapping,
        tags: Option<BTreeMap<String, String>>,
    },
}

/// The next AWS write, if any.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Action {
    Create {
        request: MappingFields,
    },
    Update {
        uuid: String,
        patch: MappingFields,
        fields: Vec<Field>,
        /// Lambda disabled the mapping by itself and the spec says `enabled: true`.
        reenable: bool,
    },
    Retag {
        arn: String,
        add: BTreeMap<String, String>,
        remove: Vec<String>,
    },
    /// Nothing to send: in sync, waiting for Lambda, or stalled.
    None,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plan {
    pub action: Action,
    pub verdict: Verdict,
}

impl Plan {
    fn new(action: Action, verdict: Verdict) -> Self {
        Self { action, verdict }
    }
}

/// Plans the next step for a live (not deleting) resource: create what is missing; then, for
/// an existing mapping, stop at a create-only mismatch, wait out a transitional state, fix
/// drift (one Update for every differing field and the enabled state), fix the tags, and
/// otherwise say how it stands.
pub(crate) fn plan(
    desired: &Desired,
    status: &EventSourceMappingStatus,
    observed: &Observed,
) -> Plan {
    let (mapping, tags) = match observed {
        Observed::Nothing => {
            return create(
                desired,
                Verdict::progressing("Creating", "creating the event source mapping"),
            );
        }
        Observed::Gone { uuid } => {
            let note =
                format!("mapping {uuid} was deleted outside the controller; creating it again");
            return create(desired, Verdict::progressing("Recreating", note));
        }
        Observed::Found { mapping, tags } => (mapping, tags),
    };
    if let Some(message) = create_only_mismatch(desired, mapping) {
        let verdict = Verdict::stalled("CreateOnlyFieldMismatch", message);
        return Plan::new(Action::None, verdict);
    }
    let state = mapping.state();
    if state.is_transitional() {
        let message = format!(
            "waiting for Lambda to finish: the mapping is {}",
            state.as_str()
        );
        return Plan::new(Action::None, Verdict::progressing("Waiting", message));
    }
    if let Some(update) = update(desired, status, mapping) {
        return update;
    }
    if let Some(retag) = retag(desired, mapping, tags.as_ref()) {
        return retag;
    }
    Plan::new(
        Action::None,
        standing(mapping, want_enabled(desired, status)),
    )
}

/// The Update that brings an existing mapping to the spec, whatever state Lambda shows it in
/// now; `None` when it matches. [`plan`] sends it once the mapping is settled; `diff` shows it.
pub(crate) fn update(
    desired: &Desired,
    status: &EventSourceMappingStatus,
    mapping: &ObservedMapping,
) -> Option<Plan> {
    let want_enabled = want_enabled(desired, status);
    drift(desired, &applied(status), mapping, want_enabled)
}

/// The fields the controller last applied, as status records them.
fn applied(status: &EventSourceMappingStatus) -> BTreeSet<Field> {
    status
        .applied_fields
        .iter()
        .filter_map(|name| Field::from_wire_name(name))
        .collect()
}

/// Lambda does not echo `Enabled`; the state says it (semantics §4.3). Removing
/// `enabled: false` from the spec means back to the default, enabled.
fn want_enabled(desired: &Desired, status: &EventSourceMappingStatus) -> Option<bool> {
    desired
        .enabled()
        .or_else(|| applied(status).contains(&Field::Enabled).then_some(true))
}

fn create(desired: &Desired, verdict: Verdict) -> Plan {
    let request = desired.create_request();
    Plan::new(Action::Create { request }, verdict)
}

/// One Update for every field that differs from the spec, every field the spec no longer sets
/// (cleared with Lambda's explicit clear value), and the enabled state; `None` when in sync.
fn drift(
    desired: &Desired,
    applied: &BTreeSet<Field>,
    mapping: &ObservedMapping,
    want_enabled: Option<bool>,
) -> Option<Plan> {
    let mut patch = MappingFields::default();
    let mut fields = Vec::new();
    for field in desired.set.iter().copied().filter(|f| *f != Field::Enabled) {
        if field.differs(&desired.fields, mapping) {
            field.put(&desired.fields, &mut patch);
            fields.push(field);
        }
    }
    for field in applied
        .difference(&desired.set)
        .copied()
        .filter(|f| *f != Field::Enabled)
    {
        if field.clear(desired.source, mapping, &mut patch) {
            fields.push(field);
        }
    }
    let mut reenable = false;
    match (want_enabled, mapping.state()) {
        (Some(true), MappingState::Disabled) => {
            patch.enabled = Some(true);
            fields.push(Field::Enabled);
            reenable = is_lambda_initiated(mapping);
        }
        (Some(false), MappingState::Enabled) => {
            patch.enabled = Some(false);
            fields.push(Field::Enabled);
        }
        _ => {}
    }
    if fields.is_empty() {
        return None;
    }
    let message = if reenable {
        format!(
            "Lambda disabled the mapping ({}); re-enabling it because the spec says enabled: true",
            mapping
                .state_transition_reason
                .as_deref()
                .unwrap_or("no reason given")
        )
    } else {
        let names: Vec<&str> = fields.iter().map(|f| f.wire_name()).collect();
        format!("updating {}", names.join(", "))
    };
    let uuid = mapping.uuid.clone();
    let action = Action::Update {
        uuid,
        patch,
        fields,
        reenable,
    };
    Some(Plan::new(action, Verdict::progressing("Updating", message)))
}

/// The tag changes, when the tags were read and differ from the spec.
pub(crate) fn retag(
    desired: &Desired,
    mapping: &ObservedMapping,
    tags: Option<&BTreeMap<String, String>>,
) -> Option<Plan> {
    let (tags, arn) = (tags?, mapping.arn.as_ref()?);
    let (add, remove) = tag_changes(&desired.tags, tags);
    if add.is_empty() && remove.is_empty() {
        return None;
    }
    let action = Action::Retag {
        arn: arn.clone(),
        add,
        remove,
    };
    let verdict = Verdict::progressing(
        "Tagging",
        "bringing the mapping's tags in line with the spec",
    );
    Some(Plan::new(action, verdict))
}

/// How an existing, settled mapping with nothing to send stands.
fn standing(mapping: &ObservedMapping, want_enabled: Option<bool>) -> Verdict {
    let state = mapping.state();
    let verdict = match (&state, want_enabled) {
        (MappingState::Enabled, Some(true) | None) | (MappingState::Disabled, Some(false)) => {
            Verdict::ready(
                state.as_str(),
                format!("the mapping is {} and matches the spec", state.as_str()),
            )
        }
        (MappingState::Disabled, None) => {
            let reason = mapping
                .state_transition_reason
                .as_deref()
                .unwrap_or("no reason given");
            if is_lambda_initiated(mapping) {
                Verdict::stalled(
                    "DisabledByLambda",
                    format!(
                        "Lambda disabled the mapping ({reason}); fix the cause, then set spec.enabled: true to have it re-enabled"
                    ),
                )
            } else {
                Verdict::stalled(
                    "DisabledOutOfBand",
                    format!(
                        "the mapping was disabled outside the controller ({reason}); set spec.enabled: true to re-enable it"
                    ),
                )
            }
        }
        // Unreachable: a transitional state or a pending enable/disable returned above.
        _ => Verdict::progressing("Waiting", format!("the mapping is {}", state.as_str())),
    };
    // Not Ready while Lambda cannot read the filters; a stall of its own comes first.
    match verdict {
        Verdict::Ready { .. } => unreadable_filters(mapping).unwrap_or(verdict),
        other => other,
    }
}

/// Lambda's report that it cannot read the mapping's filter criteria (it could not decrypt
/// them with the mapping's KMS key, semantics §6.2). The filters are then neither compared nor
/// known to be in sync, and Lambda cannot apply them: the mapping is not Ready until the key
/// works again, whatever else matches.
fn unreadable_filters(mapping: &ObservedMapping) -> Option<Verdict> {
    let error = mapping.filter_criteria_error.as_ref()?;
    let code = error.error_code.as_deref().unwrap_or("unknown error");
    let detail = error.message.as_deref().unwrap_or("no message");
    let key = mapping
        .fields
        .kms_key_arn
        .as_deref()
        .filter(|k| !k.is_empty())
        .unwrap_or("the mapping's KMS key");
    Some(Verdict::stalled(
        "FilterCriteriaError",
        format!(
            "Lambda cannot read the mapping's filter criteria ({code}: {detail}), so they are not verified and may not apply; allow Lambda to use {key} (kms:Decrypt in the key policy or the function's role), or remove kmsKeyARN"
        ),
    ))
}

/// A `Disabled` state whose reason does not name a user action: Lambda switched it off.
/// The reason is free text (semantics §4.4); user actions show up as `USER_INITIATED` or
/// `User action`, so anything without "user" is taken as Lambda's doing.
pub(crate) fn is_lambda_initiated(mapping: &ObservedMapping) -> bool {
    mapping.state() == MappingState::Disabled
        && !mapping
            .state_transition_reason
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase()
            .contains("user")
}

/// Tags to add or change, and keys to remove. `aws:` tags belong to AWS and are never touched.
pub(crate) fn tag_changes(
    desired: &BTreeMap<String, String>,
    observed: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let add = desired
        .iter()
        .filter(|(k, v)| observed.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = observed
        .keys()
        .filter(|k| !k.starts_with("aws:") && !desired.contains_key(*k))
        .cloned()
        .collect();
    (add, remove)
}

/// For a mapping we did not create ourselves (adopted), create-only settings may differ from
/// the spec; Lambda cannot change them, so we stop and say which. Only settings both sides
/// state are compared (see [`MappingFields::create_only_differences`]).
pub(crate) fn create_only_mismatch(desired: &Desired, mapping: &ObservedMapping) -> Option<String> {
    let differences = desired.fields.create_only_differences(&mapping.fields);
    if differences.is_empty() {
        return None;
    }
    let each: Vec<String> = differences
        .iter()
        .map(|d| {
            format!(
                "spec.{} is {} but the mapping has {}",
                d.field.spec_path, d.wanted, d.found
            )
        })
        .collect();
    Some(format!(
        "mapping {} differs from the spec in settings Lambda fixes at creation: {}. Point the resource at a matching mapping, or delete this mapping so that a new one is created",
        mapping.uuid,
        each.join("; ")
    ))
}

/// Whether a mapping found by lookup is ours, may be adopted, or belongs to someone else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ownership {
    /// Tagged with this resource's UID.
    Ours,
    /// Created by an earlier resource of the same namespace/name in this cluster (e.g. deleted
    /// with `Retain` and applied again), or named by the adopt annotation.
    Adoptable,
    /// Someone else's: reported, never taken over.
    Foreign,
}

pub(crate) fn ownership(
    owner: &Owner,
    uuid: &str,
    tags: &BTreeMap<String, String>,
    adopt_annotation: Option<&str>,
) -> Ownership {
    use crate::api::tags as t;
    if !owner.uid.is_empty() && tags.get(t::OWNER_UID) == Some(&owner.uid) {
        return Ownership::Ours;
    }
    if adopt_annotation == Some(uuid) {
        return Ownership::Adoptable;
    }
    let same_name = tags.get(t::OWNER) == Some(&format!("{}/{}", owner.namespace, owner.name));
    if same_name && tags.get(t::CLUSTER) == Some(&owner.cluster) {
        return Ownership::Adoptable;
    }
    Ownership::Foreign
}

/// What to do for a resource that is being deleted.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum DeletePlan {
    /// Nothing (more) to do in Lambda: remove the finalizer.
    Release {
        reason: String,
    },
    Delete {
        uuid: String,
    },
    /// Lambda is still busy with the mapping (Creating, Updating, Deleting…).
    Wait {
        uuid: String,
        state: String,
    },
}

pub(crate) fn plan_delete(policy: DeletionPolicy, observed: &Observed) -> DeletePlan {
    if policy == DeletionPolicy::Retain {
        return DeletePlan::Release {
            reason: "deletionPolicy is Retain: the mapping stays in Lambda".into(),
        };
    }
    match observed {
        Observed::Nothing => DeletePlan::Release {
            reason: "no mapping was ever created".into(),
        },
        Observed::Gone { uuid } => DeletePlan::Release {
            reason: format!("mapping {uuid} is deleted"),
        },
        Observed::Found { mapping, .. } => {
            let state = mapping.state();
            if state.is_transitional() {
                DeletePlan::Wait {
                    uuid: mapping.uuid.clone(),
                    state: state.as_str().to_string(),
                }
            } else {
                DeletePlan::Delete {
                    uuid: mapping.uuid.clone(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
