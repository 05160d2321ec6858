//! `esm-controller diff`: what applying manifests would do in AWS Lambda, like `kubectl diff`.
//!
//! This module is the pure part: each manifest's resource, the resource stored in the cluster
//! and the live mapping in, one [`ResourceDiff`] out. It decides with the controller's own
//! planner ([`crate::plan`]: the same field rules, normalizations and defaults), so it shows
//! exactly the drift the controller would fix and nothing else. [`cli`] does the reading
//! (files, the cluster, Lambda), and only reading.

mod admission;
pub mod cli;
mod manifest;
mod render;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::api::{self, EventSourceMapping, EventSourceMappingSpec, EventSourceMappingStatus};
use crate::lambda::types::{CREATE_ONLY, MappingFields, ObservedMapping};
use crate::plan::{self, Action, Desired, Field, Observed, Owner};

pub(crate) use manifest::{Document, parse};
pub(crate) use render::{exit_code, json, text};

/// What applying one resource would do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Verdict {
    /// No mapping exists for it: the controller creates one.
    Create,
    /// The recorded mapping is gone from Lambda: the controller creates a new one.
    Recreate,
    /// The controller updates the mapping (or its tags).
    Update,
    NoChange,
    /// The API server refuses the manifest: it changes a create-only field.
    Refused,
    /// The spec is one the controller cannot apply (it would stall the resource).
    Invalid,
    /// The live mapping differs in a setting Lambda fixes at creation: the controller stalls.
    Stalled,
    /// `diff` could not find out (Lambda refused the read, or the mapping's region is unknown).
    Error,
}

/// One field that would change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Change {
    /// The field in spec names: `batchSize`, `tags.team`.
    pub field: String,
    /// What is there now (in Lambda; for a refused change, in the cluster); `null` when unset.
    pub live: Value,
    /// What the manifest makes of it; `null` when unset.
    pub desired: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What applying one resource of the manifests would do.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct ResourceDiff {
    /// Where in the manifests: `file.yaml#2`.
    pub source: String,
    pub namespace: String,
    pub name: String,
    pub action: Verdict,
    /// The mapping's UUID, when one is recorded.
    pub uuid: Option<String>,
    /// Where the mapping is, or would be created; `null`: the controller's default region,
    /// which `diff` does not know (no `spec.region`, `--region` or `AWS_REGION`).
    pub region: Option<String>,
    pub changes: Vec<Change>,
    pub message: Option<String>,
}

impl ResourceDiff {
    fn new(source: &str, namespace: &str, name: &str, action: Verdict) -> Self {
        Self {
            source: source.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            action,
            uuid: None,
            region: None,
            changes: Vec::new(),
            message: None,
        }
    }

    fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// An object of the manifests that `diff` left alone.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Skipped {
    pub source: String,
    pub api_version: String,
    pub kind: String,
    pub name: String,
}

/// The whole answer: `-o json` prints it as it is.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct Report {
    pub resources: Vec<ResourceDiff>,
    pub skipped: Vec<Skipped>,
}

/// The namespace a manifest's resource is applied in: its own, else `-n`, else the kubeconfig
/// context's. Like kubectl, a manifest namespace that contradicts `-n` is an error.
pub(crate) fn namespace_of(
    esm: &EventSourceMapping,
    flag: Option<&str>,
    context_default: &str,
) -> Result<String, String> {
    match (esm.metadata.namespace.as_deref(), flag) {
        (Some(own), Some(flag)) if own != flag => Err(format!(
            "the manifest's namespace {own} does not match -n {flag}"
        )),
        (Some(own), _) => Ok(own.to_string()),
        (None, Some(flag)) => Ok(flag.to_string()),
        (None, None) => Ok(context_default.to_string()),
    }
}

/// What to read from Lambda for a resource whose mapping is recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Read {
    pub uuid: String,
    pub region: String,
    /// The LambdaAccount the mapping is recorded in (status.account); `None`: the own identity.
    pub account: Option<String>,
    /// Whether to read the tags too: the controller reads them only when the spec's tags
    /// change, and fixes tag drift only then.
    pub tags: bool,
}

/// A resource that passed admission and validation, waiting for its live mapping.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    base: ResourceDiff,
    spec: EventSourceMappingSpec,
    desired: Desired,
    status: EventSourceMappingStatus,
    /// What to read from Lambda; `None`: no mapping is recorded, so there is nothing to read.
    pub read: Option<Read>,
}

/// Everything that can be decided before Lambda is asked: a create-only change refused at
/// admission, a spec the controller would refuse, and where the mapping is. `Err` is the final
/// answer; `Ok` says what to read (see [`Prepared::read`]) for [`conclude`].
///
/// `manifest` has its namespace resolved; `stored` is the resource in the cluster, if any;
/// `default_region` is `--region` or the AWS SDK's region.
pub(crate) fn prepare(
    source: &str,
    manifest: &EventSourceMapping,
    stored: Option<&EventSourceMapping>,
    default_region: Option<&str>,
    now_epoch: f64,
) -> Result<Prepared, Box<ResourceDiff>> {
    let namespace = manifest.metadata.namespace.as_deref().unwrap_or_default();
    let name = manifest.metadata.name.as_deref().unwrap_or_default();
    let diff = |action| ResourceDiff::new(source, namespace, name, action);
    let status = stored.and_then(|s| s.status.clone()).unwrap_or_default();
    if let Some(stored) = stored {
        let refused = admission::refusals(&manifest.spec, &stored.spec);
        if !refused.is_empty() {
            let fields: Vec<&str> = refused.iter().map(|r| r.field.as_str()).collect();
            let mut answer = diff(Verdict::Refused).with_message(format!(
                "the API server refuses this change: {} cannot change after the mapping is created",
                fields.join(", ")
            ));
            answer.uuid = status.uuid.clone();
            answer.changes = refused
                .into_iter()
                .map(|r| Change {
                    field: r.field,
                    live: r.stored,
                    desired: r.manifest,
                    note: Some(r.message),
                })
                .collect();
            return Err(Box::new(answer));
        }
    }
    let region = plan::region_of(&manifest.spec, stored.and(Some(&status)), default_region)
        .ok()
        .map(|r| r.name().to_string());
    // Ownership tags are the controller's bookkeeping (see `conclude`): any owner will do.
    let owner = Owner::of(stored.unwrap_or(manifest), "");
    let desired = Desired::from_spec(
        &manifest.spec,
        owner,
        region.as_deref().unwrap_or_default(),
        now_epoch,
    )
    .map_err(|e| {
        let mut answer = diff(Verdict::Invalid).with_message(e.to_string());
        answer.uuid = status.uuid.clone();
        Box::new(answer)
    })?;
    let mut base = diff(Verdict::NoChange);
    base.region = region.clone();
    base.uuid = status.uuid.clone();
    let read = match (&status.uuid, &region) {
        (None, _) => None,
        (Some(uuid), Some(region)) => Some(Read {
            uuid: uuid.clone(),
            region: region.clone(),
            account: status.account.clone(),
            tags: stored.map(|s| &s.spec.tags) != Some(&manifest.spec.tags)
                || status.tags_digest.is_none(),
        }),
        (Some(uuid), None) => {
            base.action = Verdict::Error;
            return Err(Box::new(base.with_message(format!(
                "mapping {uuid} is recorded without its region (no status.region): pass --region with the controller's default region"
            ))));
        }
    };
    Ok(Prepared {
        base,
        spec: manifest.spec.clone(),
        desired,
        status,
        read,
    })
}

/// The answer, from what Lambda holds: [`Observed::Nothing`] when nothing was read (no
/// mapping recorded).
pub(crate) fn conclude(prepared: Prepared, observed: &Observed) -> ResourceDiff {
    let Prepared {
        mut base,
        spec,
        desired,
        status,
        ..
    } = prepared;
    // The policies that make the controller send nothing at all.
    if spec.suspend || spec.management_policy == crate::api::ManagementPolicy::Observe {
        base.action = Verdict::NoChange;
        base.message = Some(if spec.suspend {
            "spec.suspend is true: the controller makes no Lambda call for this resource".into()
        } else {
            "managementPolicy is Observe: the controller never writes to Lambda for this resource"
                .into()
        });
        if let Observed::Found { mapping, .. } = observed {
            base.uuid = Some(mapping.uuid.clone());
        }
        return base;
    }
    let (mapping, tags) = match observed {
        Observed::Nothing => {
            base.action = Verdict::Create;
            base.changes = create_changes(&desired, &spec);
            if let Some(at) = &status.create_requested_at {
                base.message = Some(format!(
                    "the controller asked Lambda to create it at {at} and has not recorded the result yet"
                ));
            }
            return base;
        }
        Observed::Gone { uuid } => {
            base.action = Verdict::Recreate;
            base.changes = create_changes(&desired, &spec);
            base.message = Some(format!("recreate: mapping {uuid} is gone"));
            return base;
        }
        Observed::Found { mapping, tags } => (mapping, tags),
    };
    base.uuid = Some(mapping.uuid.clone());
    if let Some(message) = plan::create_only_mismatch(&desired, mapping) {
        base.action = Verdict::Stalled;
        base.message = Some(message);
        return base;
    }
    let mut notes = Vec::new();
    if let Some(plan::Plan {
        action:
            Action::Update {
                patch,
                fields,
                reenable,
                ..
            },
        ..
    }) = plan::update(&desired, &status, mapping)
    {
        base.changes = fields
            .iter()
            .map(|field| update_change(*field, &desired, &patch, mapping))
            .collect();
        if reenable {
            notes.push(format!(
                "Lambda disabled the mapping ({}); the spec says enabled: true, so the controller enables it again",
                mapping
                    .state_transition_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            ));
        }
    }
    base.changes
        .extend(tag_changes(&desired, mapping, tags.as_ref()));
    let state = mapping.state();
    if state.is_transitional() {
        notes.push(format!(
            "Lambda shows the mapping {}; the controller waits for it to settle first",
            state.as_str()
        ));
    }
    base.action = if base.changes.is_empty() {
        Verdict::NoChange
    } else {
        Verdict::Update
    };
    if !notes.is_empty() {
        base.message = Some(notes.join("; "));
    }
    base
}

/// The fields of the Create request, in spec names, without the controller's ownership tags.
fn create_changes(desired: &Desired, spec: &EventSourceMappingSpec) -> Vec<Change> {
    let mut request = desired.create_request();
    request.tags = None;
    let Value::Object(body) = serde_json::to_value(&request).unwrap_or_default() else {
        return Vec::new();
    };
    let mut changes: Vec<Change> = body
        .into_iter()
        .map(|(key, value)| {
            let value = if key == "StartingPositionTimestamp" {
                // Sent as epoch seconds; shown as the spec writes it.
                spec.starting_position_timestamp
                    .clone()
                    .map(Value::from)
                    .unwrap_or(value)
            } else {
                render::spec_keys(value)
            };
            Change {
                field: spec_key(&key),
                live: Value::Null,
                desired: value,
                note: None,
            }
        })
        .collect();
    for (key, value) in spec.tags.iter().flatten() {
        changes.push(Change {
            field: format!("tags.{key}"),
            live: Value::Null,
            desired: Value::from(value.as_str()),
            note: None,
        });
    }
    changes
}

/// A top-level wire name of the Create request in spec names.
fn spec_key(wire: &str) -> String {
    if let Some(field) = Field::from_wire_name(wire) {
        return field.spec_name().to_string();
    }
    CREATE_ONLY
        .iter()
        .find(|c| c.wire_name == wire)
        .map(|c| c.spec_path.to_string())
        .unwrap_or_else(|| render::lower_first(wire))
}

/// One field of the Update: Lambda's value against the spec's (or, for a field the spec no
/// longer sets, the value the controller clears it to).
fn update_change(
    field: Field,
    desired: &Desired,
    patch: &MappingFields,
    mapping: &ObservedMapping,
) -> Change {
    let live = match field {
        Field::FunctionName => mapping.function_arn.clone().map(Value::from),
        Field::Enabled => match mapping.state() {
            crate::lambda::types::MappingState::Enabled => Some(Value::from(true)),
            crate::lambda::types::MappingState::Disabled => Some(Value::from(false)),
            _ => None,
        },
        _ => Some(wire_value(&mapping.fields, field.wire_name())),
    };
    let set = desired.set.contains(&field);
    // The spec's value as the request carries it (an Update patch drops create-only parts).
    let wanted = if set { &desired.fields } else { patch };
    let note = (!set).then(|| {
        if field == Field::Enabled {
            "removed from the manifest: enabled, the default".to_string()
        } else {
            "removed from the manifest: back to Lambda's default".to_string()
        }
    });
    Change {
        field: field.spec_name().to_string(),
        live: render::spec_keys(live.unwrap_or(Value::Null)),
        desired: render::spec_keys(wire_value(wanted, field.wire_name())),
        note,
    }
}

fn wire_value(fields: &MappingFields, wire_name: &str) -> Value {
    serde_json::to_value(fields)
        .ok()
        .and_then(|mut v| v.get_mut(wire_name).map(Value::take))
        .unwrap_or(Value::Null)
}

/// The tag changes the controller would make, when the tags were read. Its ownership tags are
/// left out: they are its bookkeeping, never drift (`diff` does not know the controller's
/// cluster name, which one of them carries).
fn tag_changes(
    desired: &Desired,
    mapping: &ObservedMapping,
    tags: Option<&BTreeMap<String, String>>,
) -> Vec<Change> {
    let Some(live) = tags else {
        return Vec::new();
    };
    let ownership = [api::tags::OWNER_UID, api::tags::OWNER, api::tags::CLUSTER];
    let mut wanted = desired.clone();
    for key in ownership {
        match live.get(key) {
            Some(value) => wanted.tags.insert(key.to_string(), value.clone()),
            None => wanted.tags.remove(key),
        };
    }
    let Some(plan::Plan {
        action: Action::Retag { add, remove, .. },
        ..
    }) = plan::retag(&wanted, mapping, Some(live))
    else {
        return Vec::new();
    };
    let text = |v: Option<&String>| v.map_or(Value::Null, |v| Value::from(v.as_str()));
    let mut keys: Vec<&String> = add.keys().chain(remove.iter()).collect();
    keys.sort();
    keys.into_iter()
        .map(|key| Change {
            field: format!("tags.{key}"),
            live: text(live.get(key)),
            desired: text(add.get(key)),
            note: None,
        })
        .collect()
}
