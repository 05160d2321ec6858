// Repeated `type_ = "string"` in the printcolumn attributes is not a mistake.
#![allow(clippy::duplicated_attributes)]

//! The `LambdaAccount` custom resource: an account binding. A cluster admin creates one per AWS
//! account (and role) that namespaces may use; EventSourceMappings name it in `spec.accountRef`
//! or get it as their namespace's default.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::patterns;

/// An AWS account the controller may manage event source mappings in, and which namespaces may
/// use it. The controller assumes `roleArn` with STS from its own identity (IRSA, EKS Pod
/// Identity, environment) and manages the mappings of the resources that use this binding with
/// the role's credentials. Only cluster admins should be able to create or change these: a
/// binding grants the namespaces it selects the right to create mappings in its account.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "lambda.esm-controller.dev",
    version = "v1alpha1",
    kind = "LambdaAccount",
    plural = "lambdaaccounts",
    shortname = "lacct",
    category = "aws",
    category = "lambda",
    status = "LambdaAccountStatus",
    printcolumn(
        name = "Account",
        type_ = "string",
        json_path = ".status.accountId",
        description = "The AWS account ID of the role"
    ),
    printcolumn(
        name = "Default",
        type_ = "boolean",
        json_path = ".spec.default",
        description = "Whether this is the default account of the namespaces it selects"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Whether the controller can assume the role"
    ),
    printcolumn(
        name = "Resources",
        type_ = "integer",
        json_path = ".status.resources",
        description = "EventSourceMappings that use this account"
    ),
    printcolumn(
        name = "Role",
        type_ = "string",
        json_path = ".spec.roleArn",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct LambdaAccountSpec {
    /// The IAM role the controller assumes to manage mappings in this account, e.g.
    /// `arn:aws:iam::123456789012:role/esm-controller`. Its trust policy must allow the
    /// controller's identity to call sts:AssumeRole (and sts:TagSession when sessionTags are
    /// set), and its permissions are those of docs/iam-policy.json. The account ID in the ARN
    /// is the account the mappings live in; it cannot change after creation (a mapping cannot
    /// move between accounts). The role name may change.
    #[schemars(length(min = 20, max = 2048), regex(pattern = patterns::ROLE_ARN))]
    #[x_kube(validation = kube::core::Rule::new("self.split(':')[4] == oldSelf.split(':')[4]").message("the account ID in roleArn cannot change: mappings cannot move between accounts; create another LambdaAccount for the other account").reason(kube::core::Reason::FieldValueForbidden))]
    pub role_arn: String,

    /// The external ID the role's trust policy requires (sts:ExternalId), 2–1224 characters of
    /// letters, digits and `+=,.@:/-`. Not a secret: it guards against the confused deputy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1224), regex(pattern = patterns::EXTERNAL_ID))]
    pub external_id: Option<String>,

    /// Session tags passed to sts:AssumeRole (at most 50; keys 1–128 characters, values up to
    /// 256). The role's trust policy must allow sts:TagSession for them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = kube::core::Rule::new("size(self) <= 50 && self.all(k, size(k) >= 1 && size(k) <= 128 && size(self[k]) <= 256)").message("at most 50 session tags; keys 1-128 characters, values at most 256").reason(kube::core::Reason::FieldValueInvalid))]
    pub session_tags: BTreeMap<String, String>,

    /// The namespaces that may use this account (a label selector on Namespace objects; the
    /// `kubernetes.io/metadata.name` label selects one namespace by name). An empty selector
    /// (`{}`) selects every namespace; an absent one selects none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,

    /// Whether this is the default account of the namespaces it selects: their
    /// EventSourceMappings without spec.accountRef use it. Two default bindings selecting the
    /// same namespace stall that namespace's new resources until one is changed.
    #[serde(default)]
    pub default: bool,

    /// Lambda requests per second the controller may send in this account, per region, all
    /// calls together (Lambda allows 15/s per account and region, shared with every other tool
    /// in the account); 0.1 to 1000. Default: the controller's --aws-rate-limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.1, max = 1000.0))]
    pub requests_per_second: Option<f64>,
}

/// What the controller found out about the binding.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LambdaAccountStatus {
    /// The AWS account ID (from roleArn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// How many EventSourceMappings use this account.
    #[serde(default)]
    pub resources: i32,
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready: whether the controller can assume the role. When it cannot, the message carries
    /// STS's own error (AccessDenied for a trust policy that does not allow the controller or
    /// a wrong external ID, for example).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

impl LambdaAccountSpec {
    /// The account ID in the role ARN (`arn:<partition>:iam::<account>:role/<name>`).
    pub fn account_id(&self) -> Option<&str> {
        arn_account(&self.role_arn)
    }
}

/// The account ID of an ARN (`arn:<partition>:<service>:<region>:<account>:…`), if it has a
/// 12-digit one: a role's, or a mapping's.
pub fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':')
        .nth(4)
        .filter(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()))
}
