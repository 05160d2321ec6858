//! The mapping as Lambda sees it, in Lambda's own wire shape.
//!
//! These types serialize to exactly the JSON that Lambda's REST API takes and returns
//! (`PascalCase`, `UUID`, `KMSKeyArn`, …). That keeps one vocabulary from the planner down to the
//! wire: the aws-sdk adapter maps them field by field onto the SDK builders, and the in-memory
//! model used by tests consumes the JSON directly.
//!
//! Every field is optional. In a create request `None` means "let Lambda pick its default"; in an
//! update request `None` means "leave unchanged" and an explicit empty value (`FilterCriteria {}`,
//! `KMSKeyArn: ""`, …) means "clear" (semantics §6.6).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The plain scalar settings: the same name and the same type (`i32`, `bool`, `String`) in
/// [`MappingFields`] and in aws-sdk-lambda's Create and Update builders and outputs. The AWS
/// adapter maps every field listed here without naming it, so adding such a field to the
/// controller means adding it to [`MappingFields`] and to this list, not to the adapter.
/// `$callback!(args; field / sdk_setter, ...)` is called with the list (macros cannot build
/// the setter's name from the field's, so both are written).
macro_rules! with_scalar_fields {
    ($callback:ident!($($args:tt)*)) => {
        $callback!(
            $($args)*;
            batch_size / set_batch_size,
            kms_key_arn / set_kms_key_arn,
            maximum_batching_window_in_seconds / set_maximum_batching_window_in_seconds,
            parallelization_factor / set_parallelization_factor,
            maximum_record_age_in_seconds / set_maximum_record_age_in_seconds,
            bisect_batch_on_function_error / set_bisect_batch_on_function_error,
            maximum_retry_attempts / set_maximum_retry_attempts,
            tumbling_window_in_seconds / set_tumbling_window_in_seconds
        )
    };
}
pub(crate) use with_scalar_fields;

/// The configurable fields of a mapping: the body of Create and Update requests, and the
/// configuration part of every response.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct MappingFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_source_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_criteria: Option<FilterCriteria>,
    #[serde(rename = "KMSKeyArn", skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_config: Option<MetricsConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging_config: Option<LoggingConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaling_config: Option<ScalingConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_batching_window_in_seconds: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelization_factor: Option<i32>,
    /// `TRIM_HORIZON`, `LATEST` or `AT_TIMESTAMP`; kept as text so unknown values survive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_position: Option<String>,
    /// Epoch seconds, as on the wire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_position_timestamp: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_config: Option<DestinationConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_record_age_in_seconds: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bisect_batch_on_function_error: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tumbling_window_in_seconds: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topics: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queues: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_access_configurations: Option<Vec<SourceAccessConfiguration>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_managed_event_source: Option<SelfManagedEventSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_response_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amazon_managed_kafka_event_source_config: Option<KafkaEventSourceConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_managed_kafka_event_source_config: Option<KafkaEventSourceConfig>,
    #[serde(
        rename = "DocumentDBEventSourceConfig",
        skip_serializing_if = "Option::is_none"
    )]
    pub document_db_event_source_config: Option<DocumentDbEventSourceConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioned_poller_config: Option<ProvisionedPollerConfig>,
}

/// A setting Lambda takes only in CreateEventSourceMapping (semantics §2.4): a different value
/// needs a new mapping. [`CREATE_ONLY`] is the one list of them; the CRD's admission rules, the
/// AWS adapter's Update guard and the planner's check of adopted mappings all read it. The
/// API server refuses a change to any of them before the controller sees it.
#[derive(Debug)]
pub struct CreateOnlyField {
    /// Lambda's name; a member of a config object is written `Object.Member`.
    pub wire_name: &'static str,
    /// Where the resource's spec holds it, relative to `spec`.
    pub spec_path: &'static str,
    value: fn(&MappingFields) -> Option<CreateOnlyValue>,
}

/// A create-only setting, normalized so that equal settings compare equal (semantics §6.4, §6.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CreateOnlyValue {
    Text(String),
    /// Topics, queues, or brokers; brokers sorted, as Lambda returns them sorted whatever order
    /// they were sent in.
    List(Vec<String>),
    /// Whole epoch seconds: the spec gives whole seconds and Lambda may add a fraction.
    Time(i64),
}

impl std::fmt::Display for CreateOnlyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Text(text) => write!(f, "{text:?}"),
            Self::List(list) => write!(f, "{list:?}"),
            // The spec states the time in RFC 3339; say it the same way.
            Self::Time(secs) => match jiff::Timestamp::from_second(*secs) {
                Ok(time) => write!(f, "{time}"),
                Err(_) => write!(f, "{secs} (epoch seconds)"),
            },
        }
    }
}

/// A create-only setting that the spec and Lambda both state, with different values.
#[derive(Clone, Debug)]
pub(crate) struct CreateOnlyDifference {
    pub field: &'static CreateOnlyField,
    pub wanted: CreateOnlyValue,
    pub found: CreateOnlyValue,
}

impl CreateOnlyField {
    /// The field's value in a request or response; `None` when it is not there.
    pub(crate) fn value(&self, fields: &MappingFields) -> Option<CreateOnlyValue> {
        (self.value)(fields)
    }
}

fn text(value: Option<&String>) -> Option<CreateOnlyValue> {
    value.cloned().map(CreateOnlyValue::Text)
}

fn consumer_group(config: Option<&KafkaEventSourceConfig>) -> Option<CreateOnlyValue> {
    text(config.and_then(|c| c.consumer_group_id.as_ref()))
}

/// Every create-only setting (semantics §2.4). Tags are not here: they can change after
/// creation, through TagResource rather than Update.
pub(crate) static CREATE_ONLY: [CreateOnlyField; 12] = [
    CreateOnlyField {
        wire_name: "EventSourceArn",
        spec_path: "eventSourceARN",
        value: |f| text(f.event_source_arn.as_ref()),
    },
    CreateOnlyField {
        wire_name: "StartingPosition",
        spec_path: "startingPosition",
        value: |f| text(f.starting_position.as_ref()),
    },
    CreateOnlyField {
        wire_name: "StartingPositionTimestamp",
        spec_path: "startingPositionTimestamp",
        value: |f| {
            f.starting_position_timestamp
                .map(|secs| CreateOnlyValue::Time(secs.floor() as i64))
        },
    },
    CreateOnlyField {
        wire_name: "Topics",
        spec_path: "topics",
        value: |f| f.topics.clone().map(CreateOnlyValue::List),
    },
    CreateOnlyField {
        wire_name: "Queues",
        spec_path: "queues",
        value: |f| f.queues.clone().map(CreateOnlyValue::List),
    },
    CreateOnlyField {
        wire_name: "SelfManagedEventSource",
        spec_path: "selfManagedEventSource",
        value: |f| {
            let source = f.self_managed_event_source.as_ref()?;
            let mut brokers: Vec<String> = source
                .endpoints
                .iter()
                .flatten()
                .flat_map(|(_, list)| list.iter().cloned())
                .collect();
            brokers.sort();
            Some(CreateOnlyValue::List(brokers))
        },
    },
    CreateOnlyField {
        wire_name: "AmazonManagedKafkaEventSourceConfig.ConsumerGroupId",
        spec_path: "amazonManagedKafkaEventSourceConfig.consumerGroupID",
        value: |f| consumer_group(f.amazon_managed_kafka_event_source_config.as_ref()),
    },
    CreateOnlyField {
        wire_name: "SelfManagedKafkaEventSourceConfig.ConsumerGroupId",
        spec_path: "selfManagedKafkaEventSourceConfig.consumerGroupID",
        value: |f| consumer_group(f.self_managed_kafka_event_source_config.as_ref()),
    },
    CreateOnlyField {
        wire_name: "SelfManagedKafkaEventSourceConfig.ConsumptionMode",
        spec_path: "selfManagedKafkaEventSourceConfig.consumptionMode",
        value: |f| {
            text(
                f.self_managed_kafka_event_source_config
                    .as_ref()
                    .and_then(|c| c.consumption_mode.as_ref()),
            )
        },
    },
    // Lambda's Update refuses them ("Invalid parameters: collectionName, databaseName",
    // aws-cli issue 7756); FullDocument stays updatable.
    CreateOnlyField {
        wire_name: "DocumentDBEventSourceConfig.DatabaseName",
        spec_path: "documentDBEventSourceConfig.databaseName",
        value: |f| {
            text(
                f.document_db_event_source_config
                    .as_ref()
                    .and_then(|c| c.database_name.as_ref()),
            )
        },
    },
    CreateOnlyField {
        wire_name: "DocumentDBEventSourceConfig.CollectionName",
        spec_path: "documentDBEventSourceConfig.collectionName",
        value: |f| {
            text(
                f.document_db_event_source_config
                    .as_ref()
                    .and_then(|c| c.collection_name.as_ref()),
            )
        },
    },
    // A list entry, not a field: the other entries of the list stay updatable.
    CreateOnlyField {
        wire_name: "SourceAccessConfigurations[Type=VIRTUAL_HOST].URI",
        spec_path: "sourceAccessConfigurations[type=VIRTUAL_HOST].uri",
        value: |f| {
            let entry = f
                .source_access_configurations
                .iter()
                .flatten()
                .find(|c| c.kind.as_deref() == Some(VIRTUAL_HOST))?;
            Some(CreateOnlyValue::Text(entry.uri.clone().unwrap_or_default()))
        },
    },
];

/// The RabbitMQ source-access type that names the broker's virtual host; create-only (R16).
pub(crate) const VIRTUAL_HOST: &str = "VIRTUAL_HOST";

impl MappingFields {
    /// The create-only settings this request or response carries.
    pub fn create_only_set(&self) -> impl Iterator<Item = &'static CreateOnlyField> + '_ {
        CREATE_ONLY
            .iter()
            .filter(|field| field.value(self).is_some())
    }

    /// The create-only settings that `self` (what the spec asks for) and `observed` (what Lambda
    /// reports) both state, with different values. A setting either side lacks is not compared:
    /// the spec leaves some to Lambda (a generated consumer group, the default consumption
    /// mode), and Lambda does not echo every setting for every source.
    pub(crate) fn create_only_differences(
        &self,
        observed: &MappingFields,
    ) -> Vec<CreateOnlyDifference> {
        CREATE_ONLY
            .iter()
            .filter_map(|field| {
                let wanted = field.value(self)?;
                let found = field.value(observed)?;
                (wanted != found).then_some(CreateOnlyDifference {
                    field,
                    wanted,
                    found,
                })
            })
            .collect()
    }
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct FilterCriteria {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<Filter>>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct MetricsConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Vec<String>>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_log_level: Option<String>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ScalingConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_concurrency: Option<i32>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<Destination>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_success: Option<Destination>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Destination {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceAccessConfiguration {
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(rename = "URI", skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct SelfManagedEventSource {
    /// Only key Lambda defines: `KAFKA_BOOTSTRAP_SERVERS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<BTreeMap<String, Vec<String>>>,
}

/// Shared shape of `AmazonManagedKafkaEventSourceConfig` and `SelfManagedKafkaEventSourceConfig`
/// (the latter alone has `ConsumptionMode`).
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct KafkaEventSourceConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_registry_config: Option<SchemaRegistryConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumption_mode: Option<String>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct SchemaRegistryConfig {
    #[serde(rename = "SchemaRegistryURI", skip_serializing_if = "Option::is_none")]
    pub schema_registry_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_record_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_configs: Option<Vec<SourceAccessConfiguration>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_validation_configs: Option<Vec<SchemaValidationConfig>>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "PascalCase")]
pub struct SchemaValidationConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct DocumentDbEventSourceConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_document: Option<String>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedPollerConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_pollers: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_pollers: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poller_group_name: Option<String>,
}

/// A mapping as Get, List, Create, Update and Delete return it.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub struct ObservedMapping {
    #[serde(rename = "UUID")]
    pub uuid: String,
    #[serde(
        rename = "EventSourceMappingArn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub arn: Option<String>,
    #[serde(
        rename = "FunctionArn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub function_arn: Option<String>,
    /// Free text in the API model; see [`MappingState`] for how we read it.
    #[serde(rename = "State", default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(
        rename = "StateTransitionReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub state_transition_reason: Option<String>,
    /// Epoch seconds with a millisecond fraction.
    #[serde(
        rename = "LastModified",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_modified: Option<f64>,
    #[serde(
        rename = "LastProcessingResult",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_processing_result: Option<String>,
    #[serde(
        rename = "FilterCriteriaError",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub filter_criteria_error: Option<FilterCriteriaError>,
    #[serde(flatten)]
    pub fields: MappingFields,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct FilterCriteriaError {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One page of ListEventSourceMappings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MappingPage {
    pub mappings: Vec<ObservedMapping>,
    pub next_marker: Option<String>,
}

/// Filters for ListEventSourceMappings. Both empty lists every mapping in the region.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListFilter {
    pub event_source_arn: Option<String>,
    pub function_name: Option<String>,
}

/// How we read Lambda's free-text `State` (semantics §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum MappingState {
    Creating,
    Enabling,
    Enabled,
    Disabling,
    Disabled,
    Updating,
    Deleting,
    /// A value this controller does not know; treated as transitional (keep polling).
    Other(String),
}

impl MappingState {
    pub(crate) fn parse(state: Option<&str>) -> Self {
        match state.unwrap_or("") {
            "Creating" => Self::Creating,
            "Enabling" => Self::Enabling,
            "Enabled" => Self::Enabled,
            "Disabling" => Self::Disabling,
            "Disabled" => Self::Disabled,
            "Updating" => Self::Updating,
            "Deleting" => Self::Deleting,
            other => Self::Other(other.to_string()),
        }
    }

    /// Lambda refuses updates and deletes in these states (ResourceInUse), so we wait them out.
    pub(crate) fn is_transitional(&self) -> bool {
        !matches!(self, Self::Enabled | Self::Disabled)
    }

    /// The state's name if it is one this controller knows (a bounded metrics label).
    pub(crate) fn known_name(&self) -> Option<&'static str> {
        Some(match self {
            Self::Creating => "Creating",
            Self::Enabling => "Enabling",
            Self::Enabled => "Enabled",
            Self::Disabling => "Disabling",
            Self::Disabled => "Disabled",
            Self::Updating => "Updating",
            Self::Deleting => "Deleting",
            Self::Other(_) => return None,
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Other(s) => s,
            known => known.known_name().unwrap_or_default(),
        }
    }
}

impl ObservedMapping {
    pub(crate) fn state(&self) -> MappingState {
        MappingState::parse(self.state.as_deref())
    }
}
