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
    /// Fields whose value in Lambda differs from the spec although the spec did not change
    /// (an out-of-band change), for status.drift, its Event and its metric. Under full
    /// management the action fixes them, except those in spec.ignoreDrift.
    pub drift: Vec<Field>,
    /// The baselines of the spec.ignoreDrift fields (spec name → digest of the spec value), to
    /// record once the action succeeded; `None` keeps the recorded ones.
    pub ignored_digests: Option<BTreeMap<String, String>>,
}

impl Plan {
    fn new(action: Action, verdict: Verdict) -> Self {
        Self {
            action,
            verdict,
            drift: Vec::new(),
            ignored_digests: None,
        }
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
        Observed::Nothing | Observed::Gone { .. } if desired.policy.observe => {
            return Plan::new(Action::None, nothing_to_observe(observed));
        }
        Observed::Nothing => return create(desired, CREATING.verdict()),
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
        return Plan::new(Action::None, waiting(&state));
    }
    let update = update(desired, status, mapping);
    let drift = update.as_ref().map(|u| u.drift.clone()).unwrap_or_default();
    let ignored_digests = Some(ignored_digests(desired, status, &drift));
    let mut next = if desired.policy.observe {
        Plan::new(Action::None, observing(mapping, &drift))
    } else if let Some(update) = update.filter(|u| u.action != Action::None) {
        update
    } else if let Some(retag) = retag(desired, mapping, tags.as_ref()) {
        retag
    } else if !drift.is_empty() {
        Plan::new(Action::None, held_back(mapping, &drift))
    } else {
        Plan::new(
            Action::None,
            standing(mapping, want_enabled(desired, status)),
        )
    };
    next.drift = drift;
    if !desired.policy.observe {
        next.ignored_digests = ignored_digests;
    }
    next
}

/// Lambda is still working on the mapping. While it is Creating, the verdict is the one the
/// create reported, word for word: a pass that finds it still Creating then changes nothing in
/// status and costs the API server no write (a third of all creates at 10,000 resources).
fn waiting(state: &MappingState) -> Verdict {
    match state {
        MappingState::Creating => CREATING.verdict(),
        other => Verdict::progressing(
            "Waiting",
            format!(
                "waiting for Lambda to finish: the mapping is {}",
                other.as_str()
            ),
        ),
    }
}

/// The verdict of a create, and of the passes that find the mapping still Creating.
struct Progress(&'static str, &'static str);

impl Progress {
    fn verdict(&self) -> Verdict {
        Verdict::progressing(self.0, self.1)
    }
}

const CREATING: Progress = Progress("Creating", "creating the event source mapping");

/// Observe mode found no mapping: it creates none.
fn nothing_to_observe(observed: &Observed) -> Verdict {
    let message = match observed {
        Observed::Gone { uuid } => format!(
            "mapping {uuid} was deleted outside the controller; managementPolicy is Observe, so it is not created again"
        ),
        _ => "no mapping to observe: none has this event source and function (and topic), and the adopt-uuid annotation names none; managementPolicy is Observe, so none is created".to_string(),
    };
    Verdict::stalled("NothingToObserve", message)
}

/// How an observed mapping stands: Ready once it is found and settled, whatever it holds; the
/// differences are reported, never fixed.
fn observing(mapping: &ObservedMapping, drift: &[Field]) -> Verdict {
    let state = mapping.state();
    let differs = if drift.is_empty() {
        "it matches the spec".to_string()
    } else {
        let names: Vec<&str> = drift.iter().map(|f| f.spec_name()).collect();
        format!("it differs from the spec in {}", names.join(", "))
    };
    Verdict::ready(
        "Observed",
        format!(
            "observing mapping {} ({}); managementPolicy is Observe, so nothing is written to Lambda; {differs}",
            mapping.uuid,
            state.as_str()
        ),
    )
}

/// The baseline of every spec.ignoreDrift field once this pass is done: the spec's value, unless
/// the field drifted out of band and is being left as Lambda has it (then the recorded baseline
/// stays, so that it is still recognised as drift and not as a spec change).
fn ignored_digests(
    desired: &Desired,
    status: &EventSourceMappingStatus,
    drift: &[Field],
) -> BTreeMap<String, String> {
    desired
        .policy
        .ignored
        .iter()
        .map(|field| {
            let name = field.spec_name().to_string();
            let digest = match status.ignored_field_digests.get(&name) {
                Some(recorded) if drift.contains(field) => recorded.clone(),
                _ => field_digest(*field, desired),
            };
            (name, digest)
        })
        .collect()
}

/// A digest of the spec's value of one field, stable across releases.
fn field_digest(field: Field, desired: &Desired) -> String {
    let mut one = MappingFields::default();
    if field == Field::Enabled {
        one.enabled = desired.enabled();
    } else {
        field.put(&desired.fields, &mut one);
    }
    desired::digest(serde_json::to_string(&one).unwrap_or_default().bytes())
}

/// The Update that brings an existing mapping to the spec, whatever state Lambda shows it in
/// now; `None` when it matches. [`plan`] sends it once the mapping is settled; `diff` shows it.
///
/// Under spec.managementPolicy Observe nothing is sent, and every difference is drift. A
/// field in spec.ignoreDrift is sent only when its spec value changed since it was last
/// applied (its recorded baseline); otherwise its difference is drift, reported and left. The
/// plan's action is `None` when every difference is held back.
pub(crate) fn update(
    desired: &Desired,
    status: &EventSourceMappingStatus,
    mapping: &ObservedMapping,
) -> Option<Plan> {
    let want_enabled = want_enabled(desired, status);
    let policy = &desired.policy;
    let spec_changed = |field: Field| {
        if policy.ignored.contains(&field) {
            // No baseline yet (the field was just listed, or the mapping adopted): what Lambda
            // holds is taken as it is.
            status
                .ignored_field_digests
                .get(field.spec_name())
                .is_some_and(|recorded| *recorded != field_digest(field, desired))
        } else {
            !policy.spec_unchanged()
        }
    };
    let held =
        |field: Field| policy.observe || (policy.ignored.contains(&field) && !spec_changed(field));
    let (plan, kept) = drift(desired, &applied(status), mapping, want_enabled, &held);
    let mut drifted = kept;
    if let Some(Plan {
        action: Action::Update { fields, .. },
        ..
    }) = &plan
    {
        drifted.extend(fields.iter().copied().filter(|f| !spec_changed(*f)));
    }
    drifted.sort();
    let mut plan = match plan {
        Some(plan) => plan,
        None if drifted.is_empty() => return None,
        None => Plan::new(Action::None, held_back(mapping, &drifted)),
    };
    plan.drift = drifted;
    Some(plan)
}

/// Every difference is held back (spec.ignoreDrift): the mapping is as Lambda has it, on
/// purpose.
fn held_back(mapping: &ObservedMapping, drift: &[Field]) -> Verdict {
    let names: Vec<&str> = drift.iter().map(|f| f.spec_name()).collect();
    Verdict::ready(
        "DriftIgnored",
        format!(
            "the mapping is {}; it differs from the spec in {}, which spec.ignoreDrift leaves as changed outside the controller",
            mapping.state().as_str(),
            names.join(", ")
        ),
    )
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
///
/// Fields `held` says to leave alone are not sent but returned as kept; the plan is `None`
/// when nothing is to be sent.
fn drift(
    desired: &Desired,
    applied: &BTreeSet<Field>,
    mapping: &ObservedMapping,
    want_enabled: Option<bool>,
    held: &dyn Fn(Field) -> bool,
) -> (Option<Plan>, Vec<Field>) {
    let mut patch = MappingFields::default();
    let mut fields = Vec::new();
    let mut kept = Vec::new();
    for field in desired.set.iter().copied().filter(|f| *f != Field::Enabled) {
        if !field.differs(&desired.fields, mapping) {
            continue;
        }
        if held(field) {
            kept.push(field);
        } else {
            field.put(&desired.fields, &mut patch);
            fields.push(field);
        }
    }
    for field in applied
        .difference(&desired.set)
        .copied()
        .filter(|f| *f != Field::Enabled)
    {
        if !field.clear(desired.source, mapping, &mut MappingFields::default()) {
            continue;
        }
        if held(field) {
            kept.push(field);
        } else {
            field.clear(desired.source, mapping, &mut patch);
            fields.push(field);
        }
    }
    let toggle = match (want_enabled, mapping.state()) {
        (Some(true), MappingState::Disabled) => Some(true),
        (Some(false), MappingState::Enabled) => Some(false),
        _ => None,
    };
    let mut reenable = false;
    if let Some(enable) = toggle {
        if held(Field::Enabled) {
            kept.push(Field::Enabled);
        } else {
            patch.enabled = Some(enable);
            fields.push(Field::Enabled);
            reenable = enable && is_lambda_initiated(mapping);
        }
    }
    if fields.is_empty() {
        return (None, kept);
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
    let plan = Plan::new(action, Verdict::progressing("Updating", message));
    (Some(plan), kept)
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
