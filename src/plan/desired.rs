//! From the resource's spec to the mapping we want in Lambda (pure).

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{self, EventSourceMapping, EventSourceMappingSpec};
use crate::lambda::types as wire;

/// The kind of event source, from the ARN's service (semantics §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
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
    pub fn of(spec: &EventSourceMappingSpec) -> Self {
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

    pub fn is_sqs(self) -> bool {
        matches!(self, Self::SqsStandard | Self::SqsFifo)
    }

    /// Lambda's default batch size when none is given (semantics §2.3).
    pub fn default_batch_size(self) -> i32 {
        if self.is_sqs() { 10 } else { 100 }
    }

    /// The batching window Lambda uses by default, if it can be expressed in whole seconds:
    /// Kafka, MQ and DocumentDB default to 500 ms, which can never be restored once changed.
    pub fn default_batching_window(self) -> Option<i32> {
        match self {
            Self::Kinesis | Self::DynamoDb | Self::SqsStandard => Some(0),
            _ => None,
        }
    }
}

/// A spec problem the API server could not catch (CEL cannot parse JSON or compare with now).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("spec.{field}: {message}")]
pub struct SpecError {
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

/// An updatable field of a mapping, by its Lambda wire name. Create-only settings are not here
/// but in [`wire::CREATE_ONLY`]: the API server refuses changes to them, and the planner stalls
/// when an adopted mapping has other values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    FunctionName,
    Enabled,
    BatchSize,
    FilterCriteria,
    KmsKeyArn,
    MetricsConfig,
    LoggingConfig,
    ScalingConfig,
    MaximumBatchingWindowInSeconds,
    ParallelizationFactor,
    DestinationConfig,
    MaximumRecordAgeInSeconds,
    BisectBatchOnFunctionError,
    MaximumRetryAttempts,
    TumblingWindowInSeconds,
    SourceAccessConfigurations,
    FunctionResponseTypes,
    AmazonManagedKafkaEventSourceConfig,
    SelfManagedKafkaEventSourceConfig,
    DocumentDbEventSourceConfig,
    ProvisionedPollerConfig,
}

impl Field {
    pub const ALL: [Field; 21] = [
        Field::FunctionName,
        Field::Enabled,
        Field::BatchSize,
        Field::FilterCriteria,
        Field::KmsKeyArn,
        Field::MetricsConfig,
        Field::LoggingConfig,
        Field::ScalingConfig,
        Field::MaximumBatchingWindowInSeconds,
        Field::ParallelizationFactor,
        Field::DestinationConfig,
        Field::MaximumRecordAgeInSeconds,
        Field::BisectBatchOnFunctionError,
        Field::MaximumRetryAttempts,
        Field::TumblingWindowInSeconds,
        Field::SourceAccessConfigurations,
        Field::FunctionResponseTypes,
        Field::AmazonManagedKafkaEventSourceConfig,
        Field::SelfManagedKafkaEventSourceConfig,
        Field::DocumentDbEventSourceConfig,
        Field::ProvisionedPollerConfig,
    ];

    pub fn wire_name(self) -> &'static str {
        match self {
            Field::FunctionName => "FunctionName",
            Field::Enabled => "Enabled",
            Field::BatchSize => "BatchSize",
            Field::FilterCriteria => "FilterCriteria",
            Field::KmsKeyArn => "KMSKeyArn",
            Field::MetricsConfig => "MetricsConfig",
            Field::LoggingConfig => "LoggingConfig",
            Field::ScalingConfig => "ScalingConfig",
            Field::MaximumBatchingWindowInSeconds => "MaximumBatchingWindowInSeconds",
            Field::ParallelizationFactor => "ParallelizationFactor",
            Field::DestinationConfig => "DestinationConfig",
            Field::MaximumRecordAgeInSeconds => "MaximumRecordAgeInSeconds",
            Field::BisectBatchOnFunctionError => "BisectBatchOnFunctionError",
            Field::MaximumRetryAttempts => "MaximumRetryAttempts",
            Field::TumblingWindowInSeconds => "TumblingWindowInSeconds",
            Field::SourceAccessConfigurations => "SourceAccessConfigurations",
            Field::FunctionResponseTypes => "FunctionResponseTypes",
            Field::AmazonManagedKafkaEventSourceConfig => "AmazonManagedKafkaEventSourceConfig",
            Field::SelfManagedKafkaEventSourceConfig => "SelfManagedKafkaEventSourceConfig",
            Field::DocumentDbEventSourceConfig => "DocumentDBEventSourceConfig",
            Field::ProvisionedPollerConfig => "ProvisionedPollerConfig",
        }
    }

    pub fn from_wire_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.wire_name() == name)
    }
}

/// Who owns a mapping: written as tags at create, checked before adopting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub cluster: String,
}

impl Owner {
    pub fn of(esm: &EventSourceMapping, cluster: &str) -> Self {
        Self {
            uid: esm.metadata.uid.clone().unwrap_or_default(),
            namespace: esm.metadata.namespace.clone().unwrap_or_default(),
            name: esm.metadata.name.clone().unwrap_or_default(),
            cluster: cluster.to_string(),
        }
    }

    pub fn tags(&self) -> BTreeMap<String, String> {
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
pub struct Desired {
    pub region: String,
    pub source: SourceKind,
    /// The full Create request, without tags.
    pub fields: wire::MappingFields,
    /// The updatable fields the spec sets.
    pub set: BTreeSet<Field>,
    /// User tags plus the ownership tags.
    pub tags: BTreeMap<String, String>,
    pub owner: Owner,
}

impl Desired {
    /// Validates and converts a spec. `region` is the resource's region as
    /// [`super::region_of`] resolved it (it may be a recorded region, not the spec's);
    /// `now_epoch` guards "not in the future" rules.
    pub fn from_spec(
        spec: &EventSourceMappingSpec,
        owner: Owner,
        region: &str,
        now_epoch: f64,
    ) -> Result<Self, SpecError> {
        let region = region.to_string();
        if spec.event_source_arn.is_some() == spec.self_managed_event_source.is_some() {
            return Err(spec_error(
                "eventSourceARN",
                "exactly one of eventSourceARN or selfManagedEventSource must be set",
            ));
        }
        let source = SourceKind::of(spec);

        let filter_criteria = match &spec.filter_criteria {
            None => None,
            Some(fc) => {
                let mut filters = Vec::with_capacity(fc.filters.len());
                for (i, filter) in fc.filters.iter().enumerate() {
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
                    filters.push(wire::Filter {
                        pattern: Some(filter.pattern.clone()),
                    });
                }
                Some(wire::FilterCriteria {
                    filters: Some(filters),
                })
            }
        };

        let starting_position_timestamp = match &spec.starting_position_timestamp {
            None => None,
            Some(text) => {
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
                Some(epoch)
            }
        };

        let kafka_config =
            |group: &Option<String>,
             registry: &Option<api::SchemaRegistryConfig>,
             mode: Option<&str>| wire::KafkaEventSourceConfig {
                consumer_group_id: group.clone(),
                schema_registry_config: registry.as_ref().map(schema_registry),
                consumption_mode: mode.map(str::to_string),
            };

        let fields = wire::MappingFields {
            event_source_arn: spec.event_source_arn.clone(),
            function_name: Some(spec.function_name.clone()),
            enabled: spec.enabled,
            batch_size: spec.batch_size,
            filter_criteria,
            kms_key_arn: spec.kms_key_arn.clone(),
            metrics_config: spec.metrics_config.as_ref().map(|m| wire::MetricsConfig {
                metrics: Some(m.metrics.iter().map(|x| format!("{x:?}")).collect()),
            }),
            logging_config: spec.logging_config.as_ref().map(|l| wire::LoggingConfig {
                system_log_level: Some(format!("{:?}", l.system_log_level)),
            }),
            scaling_config: spec.scaling_config.as_ref().map(|s| wire::ScalingConfig {
                maximum_concurrency: s.maximum_concurrency,
            }),
            maximum_batching_window_in_seconds: spec.maximum_batching_window_in_seconds,
            parallelization_factor: spec.parallelization_factor,
            starting_position: spec.starting_position.map(|p| p.as_str().to_string()),
            starting_position_timestamp,
            destination_config: spec
                .destination_config
                .as_ref()
                .map(|d| wire::DestinationConfig {
                    on_failure: d.on_failure.as_ref().map(|f| wire::Destination {
                        destination: Some(f.destination.clone()),
                    }),
                    on_success: None,
                }),
            maximum_record_age_in_seconds: spec.maximum_record_age_in_seconds,
            bisect_batch_on_function_error: spec.bisect_batch_on_function_error,
            maximum_retry_attempts: spec.maximum_retry_attempts,
            tags: None,
            tumbling_window_in_seconds: spec.tumbling_window_in_seconds,
            topics: spec.topics.clone(),
            queues: spec.queues.clone(),
            source_access_configurations: spec.source_access_configurations.as_ref().map(|list| {
                list.iter()
                    .map(|c| wire::SourceAccessConfiguration {
                        kind: Some(c.kind.as_str()),
                        uri: c.uri.clone(),
                    })
                    .collect()
            }),
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
            function_response_types: spec
                .function_response_types
                .as_ref()
                .map(|t| t.iter().map(|x| format!("{x:?}")).collect()),
            amazon_managed_kafka_event_source_config: spec
                .amazon_managed_kafka_event_source_config
                .as_ref()
                .map(|c| kafka_config(&c.consumer_group_id, &c.schema_registry_config, None)),
            self_managed_kafka_event_source_config: spec
                .self_managed_kafka_event_source_config
                .as_ref()
                .map(|c| {
                    let mode = c.consumption_mode.map(|m| match m {
                        api::KafkaConsumptionMode::Stream => "Stream",
                        api::KafkaConsumptionMode::Queue => "Queue",
                    });
                    kafka_config(&c.consumer_group_id, &c.schema_registry_config, mode)
                }),
            document_db_event_source_config: spec.document_db_event_source_config.as_ref().map(
                |d| wire::DocumentDbEventSourceConfig {
                    database_name: Some(d.database_name.clone()),
                    collection_name: d.collection_name.clone(),
                    full_document: d.full_document.map(|f| format!("{f:?}")),
                },
            ),
            provisioned_poller_config: spec.provisioned_poller_config.as_ref().map(|p| {
                wire::ProvisionedPollerConfig {
                    minimum_pollers: p.minimum_pollers,
                    maximum_pollers: p.maximum_pollers,
                    poller_group_name: p.poller_group_name.clone(),
                }
            }),
        };

        let set = Field::ALL
            .into_iter()
            .filter(|f| is_set(&fields, *f))
            .collect();
        let mut tags = spec.tags.clone().unwrap_or_default();
        tags.extend(owner.tags());
        Ok(Self {
            region,
            source,
            fields,
            set,
            tags,
            owner,
        })
    }

    /// The Create request: every field the spec sets, plus all tags.
    pub fn create_request(&self) -> wire::MappingFields {
        let mut request = self.fields.clone();
        request.tags = Some(self.tags.clone());
        request
    }

    /// A short digest of the desired tags; status records it once Lambda's tags matched, so
    /// tags are re-read only when the spec's tags change.
    pub fn tags_digest(&self) -> String {
        // FNV-1a: stable across releases and platforms, unlike std's hasher.
        let mut hash: u64 = 0xcbf29ce484222325;
        for (k, v) in &self.tags {
            for byte in k.bytes().chain([0]).chain(v.bytes()).chain([0]) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x100000001b3);
            }
        }
        format!("{hash:016x}")
    }

    pub fn enabled(&self) -> Option<bool> {
        self.fields.enabled
    }
}

fn schema_registry(c: &api::SchemaRegistryConfig) -> wire::SchemaRegistryConfig {
    wire::SchemaRegistryConfig {
        schema_registry_uri: Some(c.schema_registry_uri.clone()),
        event_record_format: c.event_record_format.map(|f| format!("{f:?}")),
        access_configs: c.access_configs.as_ref().map(|list| {
            list.iter()
                .map(|a| wire::SourceAccessConfiguration {
                    kind: Some(a.kind.clone()),
                    uri: Some(a.uri.clone()),
                })
                .collect()
        }),
        schema_validation_configs: c.schema_validation_configs.as_ref().map(|list| {
            list.iter()
                .map(|v| wire::SchemaValidationConfig {
                    attribute: Some(v.attribute.clone()),
                })
                .collect()
        }),
    }
}

/// Whether the request sets an updatable field. For the Kafka configs only the schema registry
/// counts: the consumer group and consumption mode are create-only.
pub(crate) fn is_set(fields: &wire::MappingFields, field: Field) -> bool {
    match field {
        Field::FunctionName => fields.function_name.is_some(),
        Field::Enabled => fields.enabled.is_some(),
        Field::BatchSize => fields.batch_size.is_some(),
        Field::FilterCriteria => fields.filter_criteria.is_some(),
        Field::KmsKeyArn => fields.kms_key_arn.is_some(),
        Field::MetricsConfig => fields.metrics_config.is_some(),
        Field::LoggingConfig => fields.logging_config.is_some(),
        Field::ScalingConfig => fields.scaling_config.is_some(),
        Field::MaximumBatchingWindowInSeconds => {
            fields.maximum_batching_window_in_seconds.is_some()
        }
        Field::ParallelizationFactor => fields.parallelization_factor.is_some(),
        Field::DestinationConfig => fields.destination_config.is_some(),
        Field::MaximumRecordAgeInSeconds => fields.maximum_record_age_in_seconds.is_some(),
        Field::BisectBatchOnFunctionError => fields.bisect_batch_on_function_error.is_some(),
        Field::MaximumRetryAttempts => fields.maximum_retry_attempts.is_some(),
        Field::TumblingWindowInSeconds => fields.tumbling_window_in_seconds.is_some(),
        Field::SourceAccessConfigurations => fields.source_access_configurations.is_some(),
        Field::FunctionResponseTypes => fields.function_response_types.is_some(),
        Field::AmazonManagedKafkaEventSourceConfig => fields
            .amazon_managed_kafka_event_source_config
            .as_ref()
            .is_some_and(|c| c.schema_registry_config.is_some()),
        Field::SelfManagedKafkaEventSourceConfig => fields
            .self_managed_kafka_event_source_config
            .as_ref()
            .is_some_and(|c| c.schema_registry_config.is_some()),
        Field::DocumentDbEventSourceConfig => fields.document_db_event_source_config.is_some(),
        Field::ProvisionedPollerConfig => fields.provisioned_poller_config.is_some(),
    }
}
