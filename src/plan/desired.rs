//! From the resource's spec to the mapping we want in Lambda (pure).

use std::collections::{BTreeMap, BTreeSet};

use super::fields::Field;
use crate::api::{self, EventSourceMapping, EventSourceMappingSpec};
use crate::lambda::types as wire;

/// The kind of event source, from the ARN's service (semantics §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SourceKind {
    Kinesis,
    DynamoDb,
    SqsStandard,
    SqsFifo,
    Msk,
    SelfManagedKafka,
    Mq,
    DocumentDb,
    Unknown,
}

impl SourceKind {
    pub(crate) fn of(spec: &EventSourceMappingSpec) -> Self {
        if spec.self_managed_event_source.is_some() {
            return Self::SelfManagedKafka;
        }
        let arn = spec.event_source_arn.as_deref().unwrap_or_default();
        match arn.split(':').nth(2).unwrap_or_default() {
            "kinesis" => Self::Kinesis,
            "dynamodb" => Self::DynamoDb,
            "sqs" if arn.ends_with(".fifo") => Self::SqsFifo,
            "sqs" => Self::SqsStandard,
            "kafka" => Self::Msk,
            "mq" => Self::Mq,
            "rds" => Self::DocumentDb,
            _ => Self::Unknown,
        }
    }

    pub(crate) fn is_sqs(self) -> bool {
        matches!(self, Self::SqsStandard | Self::SqsFifo)
    }

    /// Lambda's default batch size when none is given (semantics §2.3).
    pub(crate) fn default_batch_size(self) -> i32 {
        if self.is_sqs() { 10 } else { 100 }
    }

    /// The batching window Lambda uses by default, if it can be expressed in whole seconds:
    /// Kafka, MQ and DocumentDB default to 500 ms, which can never be restored once changed.
    pub(crate) fn default_batching_window(self) -> Option<i32> {
        match self {
            Self::Kinesis | Self::DynamoDb | Self::SqsStandard => Some(0),
            _ => None,
        }
    }
}

/// A spec problem the API server could not catch (CEL cannot parse JSON or compare with now).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("spec.{field}: {message}")]
pub(crate) struct SpecError {
    /// The field's path below `spec`, as Kubernetes writes it: `filterCriteria.filters[0].pattern`.
    pub field: String,
    pub message: String,
}

fn spec_error(field: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError {
        field: field.into(),
        message: message.into(),
    }
}

/// A filter pattern to show in error messages.
const EXAMPLE_PATTERN: &str = r#"{"body": {"type": ["order"]}}"#;

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Object(_) => "an object",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Null => "null",
    }
}

/// Who owns a mapping: written as tags at create, checked before adopting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Owner {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub cluster: String,
}

impl Owner {
    pub(crate) fn of(esm: &EventSourceMapping, cluster: &str) -> Self {
        Self {
            uid: esm.metadata.uid.clone().unwrap_or_default(),
            namespace: esm.metadata.namespace.clone().unwrap_or_default(),
            name: esm.metadata.name.clone().unwrap_or_default(),
            cluster: cluster.to_string(),
        }
    }

    pub(crate) fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (api::tags::OWNER_UID.to_string(), self.uid.clone()),
            (
                api::tags::OWNER.to_string(),
                format!("{}/{}", self.namespace, self.name),
            ),
            (api::tags::CLUSTER.to_string(), self.cluster.clone()),
        ])
    }
}

/// The mapping the spec asks for, validated and in Lambda's vocabulary.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Desired {
    pub region: String,
    pub source: SourceKind,
    /// The full Create request, without tags.
    pub fields: wire::MappingFields,
    /// The updatable fields the spec sets.
    pub set: BTreeSet<Field>,
    /// User tags plus the ownership tags.
    pub tags: BTreeMap<String, String>,
    pub owner: Owner,
    /// How far the controller may act (spec.managementPolicy, spec.ignoreDrift).
    pub policy: Policy,
}

/// What the controller may do about a difference between the spec and Lambda.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Policy {
    /// spec.managementPolicy: Observe: never write to Lambda.
    pub observe: bool,
    /// spec.ignoreDrift: out-of-band changes of these fields are reported, not reverted.
    pub ignored: BTreeSet<Field>,
    /// The spec's digest ([`spec_digest`]) and the one Ready was last reached for
    /// (status.readySpecDigest): a difference found while they are equal is drift (Lambda
    /// changed), not a spec change on its way to Lambda.
    pub spec_digest: Option<String>,
    pub ready_spec_digest: Option<String>,
}

impl Policy {
    /// Whether the mapping was Ready for exactly this spec, so that a difference now is drift.
    pub(crate) fn spec_unchanged(&self) -> bool {
        self.spec_digest.is_some() && self.spec_digest == self.ready_spec_digest
    }
}

/// A digest of the spec with spec.suspend left out (of its JSON: stable across releases that
/// do not change the spec's shape).
pub(crate) fn spec_digest(spec: &EventSourceMappingSpec) -> String {
    let mut spec = spec.clone();
    spec.suspend = false;
    digest(serde_json::to_string(&spec).unwrap_or_default().bytes())
}

/// The digests status records (tags, spec, ignored fields): FNV-1a, stable across releases and
/// platforms, unlike std's hasher, as 16 hex digits.
pub(crate) fn digest(bytes: impl IntoIterator<Item = u8>) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    format!("{hash:016x}")
}

impl Desired {
    /// Validates and converts a spec. `region` is the resource's region as
    /// [`super::region_of`] resolved it (it may be a recorded region, not the spec's);
    /// `now_epoch` guards "not in the future" rules.
    pub(crate) fn from_spec(
        spec: &EventSourceMappingSpec,
        owner: Owner,
        region: &str,
        now_epoch: f64,
    ) -> Result<Self, SpecError> {
        if spec.event_source_arn.is_some() == spec.self_managed_event_source.is_some() {
            return Err(spec_error(
                "eventSourceARN",
                "exactly one of eventSourceARN or selfManagedEventSource must be set",
            ));
        }
        check_filter_patterns(spec)?;
        let mut fields = create_only_fields(spec, now_epoch)?;
        for field in Field::ALL {
            field.spec_to_wire(spec, &mut fields);
        }
        let set = Field::ALL
            .into_iter()
            .filter(|f| f.is_set(&fields))
            .collect();
        let mut tags = spec.tags.clone().unwrap_or_default();
        tags.extend(owner.tags());
        let policy = Policy {
            observe: spec.management_policy == api::ManagementPolicy::Observe,
            ignored: spec
                .ignore_drift
                .iter()
                .filter_map(|name| {
                    // scalingConfig's one member stands for scalingConfig.
                    let name = name.strip_suffix(".maximumConcurrency").unwrap_or(name);
                    Field::ALL.into_iter().find(|f| f.spec_name() == name)
                })
                .collect(),
            spec_digest: None,
            ready_spec_digest: None,
        };
        Ok(Self {
            region: region.to_string(),
            source: SourceKind::of(spec),
            fields,
            set,
            tags,
            owner,
            policy,
        })
    }

    /// The Create request: every field the spec sets, plus all tags.
    pub(crate) fn create_request(&self) -> wire::MappingFields {
        let mut request = self.fields.clone();
        request.tags = Some(self.tags.clone());
        request
    }

    /// A short digest of the desired tags; status records it once Lambda's tags matched, so
    /// tags are re-read only when the spec's tags change.
    pub(crate) fn tags_digest(&self) -> String {
        digest(
            self.tags
                .iter()
                .flat_map(|(k, v)| k.bytes().chain([0]).chain(v.bytes()).chain([0])),
        )
    }

    pub(crate) fn enabled(&self) -> Option<bool> {
        self.fields.enabled
    }
}

/// The settings Lambda takes only at creation that are not part of an updatable field (the
/// Kafka consumer group and mode, and DocumentDB's database and collection, travel inside their
/// field's config object; see [`Field`]).
fn create_only_fields(
    spec: &EventSourceMappingSpec,
    now_epoch: f64,
) -> Result<wire::MappingFields, SpecError> {
    let starting_position_timestamp = match &spec.starting_position_timestamp {
        None => None,
        Some(text) => Some(past_epoch_seconds(text, now_epoch)?),
    };
    Ok(wire::MappingFields {
        event_source_arn: spec.event_source_arn.clone(),
        starting_position: spec.starting_position.map(|p| p.as_str().to_string()),
        starting_position_timestamp,
        topics: spec.topics.clone(),
        queues: spec.queues.clone(),
        self_managed_event_source: spec.self_managed_event_source.as_ref().map(|s| {
            wire::SelfManagedEventSource {
                endpoints: Some(
                    s.endpoints
                        .iter()
                        .map(|(k, v)| (k.clone(), v.0.clone()))
                        .collect(),
                ),
            }
        }),
        ..Default::default()
    })
}

/// `startingPositionTimestamp` as epoch seconds; Lambda only starts from a past time.
fn past_epoch_seconds(text: &str, now_epoch: f64) -> Result<f64, SpecError> {
    let ts: jiff::Timestamp = text.parse().map_err(|_| {
        spec_error(
            "startingPositionTimestamp",
            format!("{text:?} is not an RFC 3339 time such as 2026-01-02T03:04:05Z"),
        )
    })?;
    let epoch = ts.as_second() as f64;
    if epoch > now_epoch {
        return Err(spec_error(
            "startingPositionTimestamp",
            format!("{text} is in the future; Lambda only starts from a past time"),
        ));
    }
    Ok(epoch)
}

/// Every filter pattern must be a JSON object; the CRD's schema can only say it is a string.
fn check_filter_patterns(spec: &EventSourceMappingSpec) -> Result<(), SpecError> {
    let filters = spec.filter_criteria.iter().flat_map(|fc| &fc.filters);
    for (i, filter) in filters.enumerate() {
        // Kubernetes field paths count list items from 0, as `kubectl` reports them.
        let field = || format!("filterCriteria.filters[{i}].pattern");
        match serde_json::from_str::<serde_json::Value>(&filter.pattern) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(other) => {
                return Err(spec_error(
                    field(),
                    format!(
                        "must be a JSON object such as {EXAMPLE_PATTERN}, not {}",
                        json_kind(&other)
                    ),
                ));
            }
            Err(e) => {
                return Err(spec_error(
                    field(),
                    format!(
                        "not valid JSON ({e}); a pattern is a JSON object such as {EXAMPLE_PATTERN}"
                    ),
                ));
            }
        }
    }
    Ok(())
}
