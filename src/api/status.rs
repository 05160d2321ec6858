use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the controller observed in Lambda and how far it got. Everything Lambda reports goes
/// here, never into spec.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSourceMappingStatus {
    /// Lambda's id of the mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// ARN of the mapping (for tags and IAM policies).
    #[serde(
        rename = "eventSourceMappingARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub event_source_mapping_arn: Option<String>,
    /// AWS region the mapping is in (or, while createRequestedAt is set, the region it is being
    /// created in). Once a mapping is recorded, the controller manages and deletes it in this
    /// region, even if the controller's default region changes later. Not set while no mapping
    /// is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The LambdaAccount (account binding) the mapping is in, or the one it is being created
    /// in; unset when it is in the controller's own AWS identity. Recorded with the region and,
    /// like it, kept for good: the mapping stays in this account even if the namespace's
    /// default binding changes later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The AWS account ID of the mapping (the binding's account, or the one in the mapping's
    /// ARN). A binding whose role moved to another account no longer manages this mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Full ARN of the function the mapping invokes, as Lambda reports it.
    #[serde(
        rename = "functionARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub function_arn: Option<String>,
    /// Lambda's state: Creating, Enabling, Enabled, Disabling, Disabled, Updating or Deleting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Who or what caused the last state change (user or Lambda).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_transition_reason: Option<String>,
    /// Outcome of Lambda's last poll of the source, e.g. `OK` or `PROBLEM: …`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_processing_result: Option<String>,
    /// When Lambda last changed the mapping's configuration or state (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Spec fields the controller last applied to Lambda (wire names). When one disappears from
    /// the spec, the controller clears it in Lambda instead of leaving the old value behind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_fields: Vec<String>,
    /// Digest of the tags last confirmed on the mapping; tags are read from Lambda again only
    /// when the spec's tags change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags_digest: Option<String>,
    /// Set just before the controller asks Lambda to create the mapping, cleared once the UUID
    /// is recorded. If the controller stops in between, the next run looks for the mapping it
    /// may have created (by its ownership tag) instead of creating a second one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_requested_at: Option<String>,
    /// Spec fields whose value in Lambda differs from the spec (names only, never values): an
    /// out-of-band change. Under full management it is fixed right after; under Observe, and
    /// for fields in spec.ignoreDrift, it stays listed until it goes away.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<String>,
    /// Under managementPolicy Observe: the mapping's live configuration, by spec field name,
    /// each value as JSON in Lambda's form (for example `batchSize: "7"`). Not kept under full
    /// management, where the spec is the configuration.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub observed_configuration: std::collections::BTreeMap<String, String>,
    /// A digest of the spec (spec.suspend aside) that the Ready condition was last reached
    /// for: a resource suspended right after it was Ready stays Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_spec_digest: Option<String>,
    /// For each field in spec.ignoreDrift, a digest of the spec value last applied (or found in
    /// place): a spec change of an ignored field is applied, an out-of-band one is not.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub ignored_field_digests: std::collections::BTreeMap<String, String>,
    /// Ready, Reconciling and Stalled, following the kstatus conventions: Ready=True only when
    /// the mapping exists, matches the spec and is Enabled (or Disabled with enabled: false).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

impl EventSourceMappingStatus {
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}
