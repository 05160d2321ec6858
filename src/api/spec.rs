// Repeated `type_ = "string"` in the printcolumn attributes is not a mistake.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::EventSourceMappingStatus;
use super::patterns;

/// An AWS Lambda event source mapping: Lambda reads records from the event source (an SQS queue,
/// a Kinesis or DynamoDB stream, a Kafka topic, an Amazon MQ queue or a DocumentDB change stream)
/// and invokes the function with them. The controller creates the mapping once, keeps it in line
/// with this spec, and deletes it when this resource is deleted (see deletionPolicy).
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "lambda.esm-controller.dev",
    version = "v1alpha1",
    kind = "EventSourceMapping",
    plural = "eventsourcemappings",
    shortname = "esm",
    category = "aws",
    category = "lambda",
    namespaced,
    status = "EventSourceMappingStatus",
    printcolumn(
        name = "UUID",
        type_ = "string",
        json_path = ".status.uuid",
        description = "Lambda's id of the mapping"
    ),
    printcolumn(
        name = "State",
        type_ = "string",
        json_path = ".status.state",
        description = "Lambda's state of the mapping"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Function", type_ = "string", json_path = ".spec.functionName"),
    printcolumn(
        name = "Suspended",
        type_ = "boolean",
        json_path = ".spec.suspend",
        description = "spec.suspend: the controller makes no Lambda call",
        priority = 1
    ),
    printcolumn(
        name = "Policy",
        type_ = "string",
        json_path = ".spec.managementPolicy",
        description = "spec.managementPolicy: Full, or Observe (never writes)",
        priority = 1
    ),
    printcolumn(
        name = "Source",
        type_ = "string",
        json_path = ".spec.eventSourceARN",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[schemars(transform = super::rules::add_spec_rules)]
#[serde(rename_all = "camelCase")]
pub struct EventSourceMappingSpec {
    /// ARN of the event source: an SQS queue, a Kinesis stream or stream consumer, a DynamoDB
    /// stream, an MSK cluster, an Amazon MQ broker or a DocumentDB cluster. Required for every
    /// source except self-managed Kafka (use selfManagedEventSource there).
    /// Cannot change after creation.
    #[serde(
        rename = "eventSourceARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 12, max = 10000), regex(pattern = patterns::ARN))]
    pub event_source_arn: Option<String>,

    /// The Lambda function to invoke: a name (`my-function`, 1–64 letters, digits, `-` and `_`),
    /// a name with alias or version (`my-function:live`), a partial ARN
    /// (`123456789012:function:my-function`) or a full ARN, optionally qualified; at most 256
    /// characters. Can be changed: the mapping is re-pointed without losing its position in the
    /// source.
    #[schemars(length(min = 1, max = 256))]
    #[x_kube(validation = patterns::function_name_rule())]
    pub function_name: String,

    /// Whether Lambda polls the source. Default true. Set false to pause the mapping without
    /// deleting it. When unset, the controller does not re-enable a mapping that Lambda disabled
    /// on its own (it reports it); set true to have it re-enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,

    /// Maximum number of records per invocation, 1–10000. Lambda's default: 10 for SQS, 100 for
    /// all other sources. SQS FIFO queues allow at most 10; a standard queue above 10 also needs
    /// maximumBatchingWindowInSeconds of at least 1. Can be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub batch_size: Option<i32>,

    /// Maximum time in seconds (0–300) to gather records before invoking. Default 0 for Kinesis,
    /// DynamoDB and SQS; 500 ms for Kafka, Amazon MQ and DocumentDB — note that once set on those
    /// sources, the 500 ms default can never come back without a new mapping. Not supported for
    /// SQS FIFO queues. Can be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 300))]
    pub maximum_batching_window_in_seconds: Option<i32>,

    /// Where to start reading: TRIM_HORIZON (oldest), LATEST (newest) or AT_TIMESTAMP (with
    /// startingPositionTimestamp; Kinesis, DocumentDB and Kafka only). Required for Kinesis,
    /// DynamoDB Streams and Kafka; not allowed for SQS and Amazon MQ.
    /// Cannot change after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_position: Option<StartingPosition>,

    /// With startingPosition AT_TIMESTAMP: the time to start reading from, in RFC 3339
    /// (e.g. `2026-01-02T03:04:05Z`); must not be in the future. Cannot change after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub starting_position_timestamp: Option<String>,

    /// Event filtering: only records matching at least one filter pattern invoke the function.
    /// Patterns are compared as JSON (key order and whitespace do not matter). Lambda allows 5
    /// filters per mapping by default (a quota that can be raised). Not supported for DocumentDB.
    /// Can be changed; removing it removes every filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_criteria: Option<FilterCriteria>,

    /// ARN of a customer managed KMS key that encrypts the filter criteria. The controller's role
    /// needs kms:Decrypt on it to check the filters for drift. Can be changed.
    #[serde(rename = "kmsKeyARN", default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = patterns::KMS_KEY_ARN))]
    pub kms_key_arn: Option<String>,

    /// Where Lambda sends records that failed all retries (Kinesis, DynamoDB Streams, Kafka).
    /// Can be changed; removing it clears the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_config: Option<DestinationConfig>,

    /// Response types the function may return. `ReportBatchItemFailures` lets the function report
    /// which records failed so that only those are retried (Kinesis, DynamoDB Streams, SQS,
    /// Kafka). Can be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1))]
    pub function_response_types: Option<Vec<FunctionResponseType>>,

    /// Discard records older than this many seconds: -1 (never, the default) or 60–604800.
    /// Kinesis, DynamoDB Streams and Kafka. Can be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self == -1 || (self >= 60 && self <= 604800)").message("maximumRecordAgeInSeconds must be -1 (infinite) or between 60 and 604800").reason(kube::core::Reason::FieldValueInvalid))]
    pub maximum_record_age_in_seconds: Option<i32>,

    /// Retry a failing batch at most this many times: -1 (until the record expires, the
    /// default) to 10000. Kinesis, DynamoDB Streams and Kafka. Can be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = -1, max = 10000))]
    pub maximum_retry_attempts: Option<i32>,

    /// On a function error, split the batch in two and retry each half. Default false.
    /// Kinesis, DynamoDB Streams and Kafka. Can be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bisect_batch_on_function_error: Option<bool>,

    /// Number of batches processed concurrently from each shard, 1–10. Default 1. Kinesis and
    /// DynamoDB Streams. Can be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub parallelization_factor: Option<i32>,

    /// Length of a tumbling window in seconds, 0–900 (0: no window, the default). Kinesis and
    /// DynamoDB Streams. Can be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 900))]
    pub tumbling_window_in_seconds: Option<i32>,

    /// Caps how many function instances an SQS mapping invokes concurrently. SQS only; not with
    /// provisionedPollerConfig. Can be changed; removing it removes the cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_config: Option<ScalingConfig>,

    /// The Kafka topic to read, exactly one (MSK and self-managed Kafka): 2–249 characters of
    /// letters, digits, `-`, `_` and `.`, not starting with `.`. Cannot change after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 1),
        inner(length(min = 1, max = 249), regex(pattern = patterns::TOPIC))
    )]
    pub topics: Option<Vec<String>>,

    /// The Amazon MQ broker queue to read, exactly one. Cannot change after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1), inner(length(min = 1, max = 1000)))]
    pub queues: Option<Vec<String>>,

    /// Authentication and network settings for the source: Secrets Manager secrets
    /// (BASIC_AUTH, SASL_SCRAM_*, CLIENT_CERTIFICATE_TLS_AUTH, SERVER_ROOT_CA_CERTIFICATE), the
    /// RabbitMQ VIRTUAL_HOST, or the VPC_SUBNET / VPC_SECURITY_GROUP of a self-managed Kafka
    /// cluster. At most 23 entries. Can be changed (a VIRTUAL_HOST entry only at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 23))]
    pub source_access_configurations: Option<Vec<SourceAccessConfiguration>>,

    /// The brokers of a self-managed Apache Kafka cluster. Use instead of eventSourceARN for
    /// self-managed Kafka only. Cannot change after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_managed_event_source: Option<SelfManagedEventSource>,

    /// Settings for a self-managed Apache Kafka source. consumerGroupID and consumptionMode
    /// cannot change after creation; schemaRegistryConfig can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_managed_kafka_event_source_config: Option<SelfManagedKafkaEventSourceConfig>,

    /// Settings for an Amazon MSK source. consumerGroupID cannot change after creation;
    /// schemaRegistryConfig can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amazon_managed_kafka_event_source_config: Option<AmazonManagedKafkaEventSourceConfig>,

    /// Settings for an Amazon DocumentDB change stream (required for DocumentDB). databaseName
    /// and collectionName cannot change after creation; fullDocument can.
    #[serde(
        rename = "documentDBEventSourceConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub document_db_event_source_config: Option<DocumentDbEventSourceConfig>,

    /// Enhanced CloudWatch metrics for the mapping. Can be changed; removing it turns them off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_config: Option<MetricsConfig>,

    /// Provisioned mode: a minimum and maximum number of event pollers (SQS and Kafka).
    /// Can be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_poller_config: Option<ProvisionedPollerConfig>,

    /// System log level of a Kafka mapping in provisioned mode. Can be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging_config: Option<LoggingConfig>,

    /// Tags on the mapping. Keys 1–128 characters, values up to 256. The controller adds its own
    /// `esm-controller.dev/*` tags to find the mapping again after a crash; keys starting with
    /// `aws:` or `esm-controller.dev/` are reserved. Can be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self.all(k, !k.startsWith('aws:') && !k.startsWith('esm-controller.dev/') && size(k) >= 1 && size(k) <= 128 && size(self[k]) <= 256)").message("tag keys must be 1-128 characters, values at most 256, and keys must not start with 'aws:' or 'esm-controller.dev/'").reason(kube::core::Reason::FieldValueInvalid))]
    pub tags: Option<BTreeMap<String, String>>,

    /// AWS region of the mapping, e.g. `eu-west-1` (any partition's region: `us-gov-west-1`,
    /// `cn-north-1`, `us-iso-east-1`, `eusc-de-east-1`, …). Defaults to the controller's region when
    /// the mapping is created; the region it was created in is kept in status.region, and the
    /// mapping stays there if the controller's default region changes later. Cannot change after
    /// creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = patterns::REGION))]
    pub region: Option<String>,

    /// Name of the LambdaAccount (a cluster-scoped account binding, created by a cluster
    /// admin) whose AWS account the mapping lives in. The binding must select this resource's
    /// namespace. Unset: the namespace's default binding if exactly one selects it, otherwise
    /// the controller's own AWS identity. The account used is recorded in status.account when
    /// the mapping is created, and the mapping stays there. Cannot change after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = patterns::DNS_SUBDOMAIN))]
    pub account_ref: Option<String>,

    /// Pause the controller for this resource: while true it makes no Lambda call for it
    /// (no create, update, drift fix or re-enable) and leaves its status as last seen, with a
    /// Suspended condition. Deleting the resource still honours deletionPolicy.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,

    /// How far the controller manages the mapping. `Full` (default): it creates the mapping,
    /// keeps it in line with this spec and deletes it with the resource. `Observe`: it never
    /// writes to Lambda; it finds the mapping (by the adopt-uuid annotation, or as the one
    /// mapping of this event source and function, and topic), reports its configuration,
    /// state and drift in status, and never deletes it. Switching to Full takes the mapping
    /// over and brings it to this spec; switching back stops all writes.
    #[serde(default)]
    pub management_policy: ManagementPolicy,

    /// Spec fields whose out-of-band changes are reported (status.drift, an Event, a metric)
    /// but not reverted, e.g. `batchSize` or `enabled` for a knob on-call may turn by hand. A
    /// change of such a field in this spec is still applied. Names are spec field names:
    /// functionName, enabled, batchSize, filterCriteria, kmsKeyARN, metricsConfig,
    /// loggingConfig, scalingConfig (or scalingConfig.maximumConcurrency),
    /// maximumBatchingWindowInSeconds, parallelizationFactor, destinationConfig,
    /// maximumRecordAgeInSeconds, bisectBatchOnFunctionError, maximumRetryAttempts,
    /// tumblingWindowInSeconds, sourceAccessConfigurations, functionResponseTypes,
    /// amazonManagedKafkaEventSourceConfig, selfManagedKafkaEventSourceConfig,
    /// documentDBEventSourceConfig, provisionedPollerConfig.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(regex(pattern = IGNORABLE_PATTERN)))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub ignore_drift: Vec<String>,

    /// What happens to the Lambda mapping when this resource is deleted: `Delete` (default)
    /// deletes it and waits until it is gone; `Retain` leaves it in Lambda.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// How far the controller manages a mapping (spec.managementPolicy).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ManagementPolicy {
    /// Create, keep in line with the spec, delete.
    #[default]
    Full,
    /// Find and report; never write to Lambda.
    Observe,
}

/// The spec fields `spec.ignoreDrift` may name: every field an Update can change. The planner's
/// field table has the same names (a test in `plan::fields` checks it).
pub const IGNORABLE_FIELDS: [&str; 21] = [
    "functionName",
    "enabled",
    "batchSize",
    "filterCriteria",
    "kmsKeyARN",
    "metricsConfig",
    "loggingConfig",
    "scalingConfig",
    "maximumBatchingWindowInSeconds",
    "parallelizationFactor",
    "destinationConfig",
    "maximumRecordAgeInSeconds",
    "bisectBatchOnFunctionError",
    "maximumRetryAttempts",
    "tumblingWindowInSeconds",
    "sourceAccessConfigurations",
    "functionResponseTypes",
    "amazonManagedKafkaEventSourceConfig",
    "selfManagedKafkaEventSourceConfig",
    "documentDBEventSourceConfig",
    "provisionedPollerConfig",
];

/// `IGNORABLE_FIELDS`, and `scalingConfig.maximumConcurrency` (scalingConfig's one member), as
/// an anchored pattern (the API server names the value it refuses).
const IGNORABLE_PATTERN: &str = "^(functionName|enabled|batchSize|filterCriteria|kmsKeyARN|metricsConfig|loggingConfig|scalingConfig|scalingConfig\\.maximumConcurrency|maximumBatchingWindowInSeconds|parallelizationFactor|destinationConfig|maximumRecordAgeInSeconds|bisectBatchOnFunctionError|maximumRetryAttempts|tumblingWindowInSeconds|sourceAccessConfigurations|functionResponseTypes|amazonManagedKafkaEventSourceConfig|selfManagedKafkaEventSourceConfig|documentDBEventSourceConfig|provisionedPollerConfig)$";

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    #[default]
    Delete,
    Retain,
}

#[allow(non_camel_case_types)]
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum StartingPosition {
    TRIM_HORIZON,
    LATEST,
    AT_TIMESTAMP,
}

impl StartingPosition {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::TRIM_HORIZON => "TRIM_HORIZON",
            Self::LATEST => "LATEST",
            Self::AT_TIMESTAMP => "AT_TIMESTAMP",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum FunctionResponseType {
    ReportBatchItemFailures,
}

/// Filters; a record is processed when it matches at least one.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilterCriteria {
    /// The filters. An empty list means no filtering.
    #[serde(default)]
    pub filters: Vec<Filter>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// A Lambda event filter pattern: a JSON object, at most 4096 characters, e.g.
    /// `{"body": {"type": ["order"]}}`.
    #[schemars(length(max = 4096))]
    pub pattern: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[x_kube(validation = kube::core::Rule::new("!has(self.onSuccess)").message("destinationConfig.onSuccess is not accepted by Lambda's CreateEventSourceMapping or UpdateEventSourceMapping (Lambda only reports it); remove it").field_path(".onSuccess").reason(kube::core::Reason::FieldValueForbidden))]
#[serde(rename_all = "camelCase")]
pub struct DestinationConfig {
    /// Destination for records that failed processing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<OnFailure>,
    /// Accepted in manifests for ACK compatibility but rejected: Lambda does not let callers
    /// set an on-success destination on a mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<OnFailure>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OnFailure {
    /// ARN of an SQS queue, SNS topic or S3 bucket, or `kafka://<topic>` for Kafka sources.
    #[schemars(length(min = 1, max = 350), regex(pattern = patterns::DESTINATION))]
    pub destination: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingConfig {
    /// Maximum concurrent function instances this SQS mapping invokes; at least 2. The upper
    /// limit is your account's concurrency quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2))]
    pub maximum_concurrency: Option<i32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[x_kube(validation = kube::core::Rule::new("self.type in ['IAM_AUTH', 'IAM_OAUTHBEARER_AUTH'] || has(self.uri)").message("uri is required for this source access type").field_path(".uri").reason(kube::core::Reason::FieldValueRequired))]
pub struct SourceAccessConfiguration {
    /// BASIC_AUTH, VPC_SUBNET, VPC_SECURITY_GROUP, SASL_SCRAM_256_AUTH, SASL_SCRAM_512_AUTH,
    /// VIRTUAL_HOST, CLIENT_CERTIFICATE_TLS_AUTH, SERVER_ROOT_CA_CERTIFICATE, IAM_AUTH,
    /// IAM_OAUTHBEARER_AUTH, OAUTHBEARER_AUTH, OAUTHBEARER_SCOPE, OAUTHBEARER_AUDIENCE,
    /// OAUTHBEARER_LOGICAL_CLUSTER or OAUTHBEARER_IDENTITY_POOL.
    #[serde(rename = "type")]
    pub kind: SourceAccessType,
    /// The secret ARN, subnet (`subnet:subnet-…`), security group (`security_group:sg-…`) or
    /// virtual host name, 1–200 characters of letters, digits and `-/*:_+=.@`. Not used by
    /// IAM_AUTH / IAM_OAUTHBEARER_AUTH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200), regex(pattern = patterns::URI))]
    pub uri: Option<String>,
}

#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum SourceAccessType {
    #[default]
    BASIC_AUTH,
    VPC_SUBNET,
    VPC_SECURITY_GROUP,
    SASL_SCRAM_256_AUTH,
    SASL_SCRAM_512_AUTH,
    VIRTUAL_HOST,
    CLIENT_CERTIFICATE_TLS_AUTH,
    SERVER_ROOT_CA_CERTIFICATE,
    IAM_AUTH,
    IAM_OAUTHBEARER_AUTH,
    OAUTHBEARER_AUTH,
    OAUTHBEARER_SCOPE,
    OAUTHBEARER_AUDIENCE,
    OAUTHBEARER_LOGICAL_CLUSTER,
    OAUTHBEARER_IDENTITY_POOL,
}

impl SourceAccessType {
    pub(crate) fn as_str(self) -> String {
        // The serde name is the wire name.
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[x_kube(validation = kube::core::Rule::new("self.endpoints.all(k, k == 'KAFKA_BOOTSTRAP_SERVERS')").message("the only supported endpoint key is KAFKA_BOOTSTRAP_SERVERS").field_path(".endpoints").reason(kube::core::Reason::FieldValueInvalid))]
#[serde(rename_all = "camelCase")]
pub struct SelfManagedEventSource {
    /// `KAFKA_BOOTSTRAP_SERVERS`: 1–10 brokers as `host:port`, e.g. `["b-1.example.com:9092"]`.
    // `length` does not bound an object's properties: the model's Endpoints holds 1–2 entries.
    #[schemars(extend("minProperties" = 1, "maxProperties" = 2))]
    pub endpoints: BTreeMap<String, BootstrapServers>,
}

/// 1–10 `host:port` entries.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(transparent)]
pub struct BootstrapServers(
    #[schemars(
        length(min = 1, max = 10),
        inner(length(min = 1, max = 300), regex(pattern = patterns::ENDPOINT))
    )]
    pub Vec<String>,
);

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AmazonManagedKafkaEventSourceConfig {
    /// Kafka consumer group to join, 1–200 characters. If the group already exists, Lambda
    /// resumes from its committed offsets and ignores startingPosition. Default: a unique id.
    /// Cannot change after creation.
    #[serde(
        rename = "consumerGroupID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 1, max = 200), regex(pattern = patterns::URI))]
    pub consumer_group_id: Option<String>,
    /// Schema registry that decodes records before invocation. Can be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_registry_config: Option<SchemaRegistryConfig>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelfManagedKafkaEventSourceConfig {
    /// Kafka consumer group to join, 1–200 characters. If the group already exists, Lambda
    /// resumes from its committed offsets and ignores startingPosition. Default: a unique id.
    /// Cannot change after creation.
    #[serde(
        rename = "consumerGroupID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(min = 1, max = 200), regex(pattern = patterns::URI))]
    pub consumer_group_id: Option<String>,
    /// Schema registry that decodes records before invocation. Can be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_registry_config: Option<SchemaRegistryConfig>,
    /// `Stream` (default, partition-ordered) or `Queue` (Kafka share groups; no
    /// startingPosition or batching window). Cannot change after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumption_mode: Option<KafkaConsumptionMode>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum KafkaConsumptionMode {
    Stream,
    Queue,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaRegistryConfig {
    /// Glue schema registry ARN or Confluent schema registry URL.
    #[serde(rename = "schemaRegistryURI")]
    #[schemars(length(min = 1, max = 10000), regex(pattern = patterns::URI))]
    pub schema_registry_uri: String,
    /// How decoded records reach the function: `JSON` or `SOURCE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_record_format: Option<EventRecordFormat>,
    /// Credentials for the registry (BASIC_AUTH, CLIENT_CERTIFICATE_TLS_AUTH,
    /// SERVER_ROOT_CA_CERTIFICATE, OAUTHBEARER_AUTH) as Secrets Manager ARNs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_configs: Option<Vec<SchemaRegistryAccessConfig>>,
    /// Which parts of the record to validate: KEY and/or VALUE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2))]
    pub schema_validation_configs: Option<Vec<SchemaValidationConfig>>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum EventRecordFormat {
    JSON,
    SOURCE,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaRegistryAccessConfig {
    /// BASIC_AUTH, CLIENT_CERTIFICATE_TLS_AUTH, SERVER_ROOT_CA_CERTIFICATE or OAUTHBEARER_AUTH.
    #[serde(rename = "type")]
    #[schemars(regex(
        pattern = r"^(BASIC_AUTH|CLIENT_CERTIFICATE_TLS_AUTH|SERVER_ROOT_CA_CERTIFICATE|OAUTHBEARER_AUTH)$"
    ))]
    pub kind: String,
    /// Secrets Manager secret ARN.
    #[schemars(regex(pattern = patterns::ARN))]
    pub uri: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaValidationConfig {
    /// `KEY` or `VALUE`.
    #[schemars(regex(pattern = r"^(KEY|VALUE)$"))]
    pub attribute: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentDbEventSourceConfig {
    /// Database to watch, 1–63 characters, without spaces, `/`, `.`, `$` or `"`.
    /// Cannot change after creation.
    #[schemars(length(min = 1, max = 63), regex(pattern = patterns::DATABASE_NAME))]
    pub database_name: String,
    /// Collection to watch, 1–57 characters: a letter, digit or `_` first, no `$`, and not a
    /// `system.` collection. Omit to watch every collection. Cannot change after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 57), regex(pattern = patterns::COLLECTION_NAME))]
    #[x_kube(validation = kube::core::Rule::new("!self.startsWith('system.')").message("collectionName must not name a system collection (starting with 'system.')").reason(kube::core::Reason::FieldValueInvalid))]
    pub collection_name: Option<String>,
    /// `UpdateLookup` sends the whole document on updates; `Default` only the change. Can be
    /// changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_document: Option<FullDocument>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum FullDocument {
    UpdateLookup,
    Default,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricsConfig {
    /// `EventCount` (all sources); `ErrorCount` and `KafkaMetrics` (Kafka only).
    #[serde(default)]
    #[schemars(length(max = 3))]
    pub metrics: Vec<MappingMetric>,
}

#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum MappingMetric {
    EventCount,
    ErrorCount,
    KafkaMetrics,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[x_kube(validation = kube::core::Rule::new("!has(self.minimumPollers) || !has(self.maximumPollers) || self.maximumPollers >= self.minimumPollers").message("provisionedPollerConfig.maximumPollers must be at least minimumPollers").field_path(".maximumPollers").reason(kube::core::Reason::FieldValueInvalid))]
#[serde(rename_all = "camelCase")]
pub struct ProvisionedPollerConfig {
    /// Minimum number of pollers, 1–200 (SQS: at least 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 200))]
    pub minimum_pollers: Option<i32>,
    /// Maximum number of pollers, 1–10000, at least minimumPollers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub maximum_pollers: Option<i32>,
    /// Kafka only: share pollers among mappings in this group (0–128 of `[a-zA-Z0-9-_]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128), regex(pattern = patterns::POLLER_GROUP_NAME))]
    pub poller_group_name: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoggingConfig {
    /// `DEBUG`, `INFO` or `WARN`.
    pub system_log_level: SystemLogLevel,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum SystemLogLevel {
    DEBUG,
    #[default]
    INFO,
    WARN,
}
