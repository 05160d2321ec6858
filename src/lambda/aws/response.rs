//! Every SDK output that carries a mapping, parsed back into [`ObservedMapping`].

use aws_sdk_lambda::types as sdk;

use crate::lambda::types::with_scalar_fields;
use crate::lambda::{
    DestinationConfig, DocumentDbEventSourceConfig, Filter, FilterCriteria, FilterCriteriaError,
    KafkaEventSourceConfig, LoggingConfig, MappingFields, MetricsConfig, ObservedMapping,
    ProvisionedPollerConfig, ScalingConfig, SchemaRegistryConfig, SchemaValidationConfig,
    SelfManagedEventSource, SourceAccessConfiguration,
};

/// The five SDK shapes that carry a mapping (Create/Get/Update/Delete outputs and the List
/// item) have identical public fields; one conversion serves them all.
///
/// Lists keep the wire's distinction: absent stays `None`, `[]` stays `Some(vec![])` (Lambda
/// sends `FunctionResponseTypes: []` when unset), exactly as the JSON-consuming model sees it.
pub(super) trait SdkMapping {
    fn into_observed(self) -> ObservedMapping;
}

macro_rules! sdk_mapping {
    ($($shape:ty),+ $(,)?) => {$(
        impl SdkMapping for $shape {
            fn into_observed(self) -> ObservedMapping {
                let mut scalars = MappingFields::default();
                with_scalar_fields!(copy_scalars!(scalars, self));
                ObservedMapping {
                    uuid: self.uuid.unwrap_or_default(),
                    arn: self.event_source_mapping_arn,
                    function_arn: self.function_arn,
                    state: self.state,
                    state_transition_reason: self.state_transition_reason,
                    last_modified: self.last_modified.map(|t| t.as_secs_f64()),
                    last_processing_result: self.last_processing_result,
                    filter_criteria_error: self
                        .filter_criteria_error
                        .map(filter_criteria_error_from_sdk),
                    fields: MappingFields {
                        event_source_arn: self.event_source_arn,
                        // Not echoed by Lambda: see FunctionArn, State and ListTags instead.
                        function_name: None,
                        enabled: None,
                        tags: None,
                        filter_criteria: self.filter_criteria.map(filter_criteria_from_sdk),
                        metrics_config: self.metrics_config.map(metrics_config_from_sdk),
                        logging_config: self.logging_config.map(logging_config_from_sdk),
                        scaling_config: self.scaling_config.map(scaling_config_from_sdk),
                        starting_position: self.starting_position.map(|p| p.as_str().to_string()),
                        starting_position_timestamp: self
                            .starting_position_timestamp
                            .map(|t| t.as_secs_f64()),
                        destination_config: self
                            .destination_config
                            .map(destination_config_from_sdk),
                        topics: self.topics,
                        queues: self.queues,
                        source_access_configurations: self
                            .source_access_configurations
                            .map(source_access_configurations_from_sdk),
                        self_managed_event_source: self
                            .self_managed_event_source
                            .map(self_managed_event_source_from_sdk),
                        function_response_types: self
                            .function_response_types
                            .map(|l| l.iter().map(|t| t.as_str().to_string()).collect()),
                        amazon_managed_kafka_event_source_config: self
                            .amazon_managed_kafka_event_source_config
                            .map(msk_config_from_sdk),
                        self_managed_kafka_event_source_config: self
                            .self_managed_kafka_event_source_config
                            .map(smk_config_from_sdk),
                        document_db_event_source_config: self
                            .document_db_event_source_config
                            .map(document_db_config_from_sdk),
                        provisioned_poller_config: self
                            .provisioned_poller_config
                            .map(provisioned_poller_config_from_sdk),
                        ..scalars
                    },
                }
            }
        }
    )+};
}

/// Copies every scalar field of [`with_scalar_fields`] from an SDK output.
macro_rules! copy_scalars {
    ($into:ident, $output:expr; $($field:ident / $setter:ident),+) => {
        $($into.$field = $output.$field;)+
    };
}

sdk_mapping!(
    aws_sdk_lambda::operation::create_event_source_mapping::CreateEventSourceMappingOutput,
    aws_sdk_lambda::operation::get_event_source_mapping::GetEventSourceMappingOutput,
    aws_sdk_lambda::operation::update_event_source_mapping::UpdateEventSourceMappingOutput,
    aws_sdk_lambda::operation::delete_event_source_mapping::DeleteEventSourceMappingOutput,
    sdk::EventSourceMappingConfiguration,
);

fn filter_criteria_error_from_sdk(e: sdk::FilterCriteriaError) -> FilterCriteriaError {
    FilterCriteriaError {
        error_code: e.error_code,
        message: e.message,
    }
}

fn filter_criteria_from_sdk(c: sdk::FilterCriteria) -> FilterCriteria {
    FilterCriteria {
        filters: c.filters.map(|list| {
            list.into_iter()
                .map(|f| Filter { pattern: f.pattern })
                .collect()
        }),
    }
}

fn metrics_config_from_sdk(c: sdk::EventSourceMappingMetricsConfig) -> MetricsConfig {
    MetricsConfig {
        metrics: c
            .metrics
            .map(|list| list.iter().map(|m| m.as_str().to_string()).collect()),
    }
}

fn logging_config_from_sdk(c: sdk::EventSourceMappingLoggingConfig) -> LoggingConfig {
    LoggingConfig {
        system_log_level: c.system_log_level.map(|l| l.as_str().to_string()),
    }
}

fn scaling_config_from_sdk(c: sdk::ScalingConfig) -> ScalingConfig {
    ScalingConfig {
        maximum_concurrency: c.maximum_concurrency,
    }
}

fn destination_config_from_sdk(c: sdk::DestinationConfig) -> DestinationConfig {
    DestinationConfig {
        on_failure: c.on_failure.map(|d| crate::lambda::Destination {
            destination: d.destination,
        }),
        on_success: c.on_success.map(|d| crate::lambda::Destination {
            destination: d.destination,
        }),
    }
}

fn source_access_configurations_from_sdk(
    list: Vec<sdk::SourceAccessConfiguration>,
) -> Vec<SourceAccessConfiguration> {
    list.into_iter()
        .map(|c| SourceAccessConfiguration {
            kind: c.r#type.map(|t| t.as_str().to_string()),
            uri: c.uri,
        })
        .collect()
}

fn self_managed_event_source_from_sdk(s: sdk::SelfManagedEventSource) -> SelfManagedEventSource {
    SelfManagedEventSource {
        endpoints: s.endpoints.map(|endpoints| {
            endpoints
                .into_iter()
                .map(|(k, v)| (k.as_str().to_string(), v))
                .collect()
        }),
    }
}

fn msk_config_from_sdk(c: sdk::AmazonManagedKafkaEventSourceConfig) -> KafkaEventSourceConfig {
    KafkaEventSourceConfig {
        consumer_group_id: c.consumer_group_id,
        schema_registry_config: c.schema_registry_config.map(schema_registry_from_sdk),
        consumption_mode: None,
    }
}

fn smk_config_from_sdk(c: sdk::SelfManagedKafkaEventSourceConfig) -> KafkaEventSourceConfig {
    KafkaEventSourceConfig {
        consumer_group_id: c.consumer_group_id,
        schema_registry_config: c.schema_registry_config.map(schema_registry_from_sdk),
        consumption_mode: c.consumption_mode.map(|m| m.as_str().to_string()),
    }
}

fn schema_registry_from_sdk(c: sdk::KafkaSchemaRegistryConfig) -> SchemaRegistryConfig {
    SchemaRegistryConfig {
        schema_registry_uri: c.schema_registry_uri,
        event_record_format: c.event_record_format.map(|f| f.as_str().to_string()),
        access_configs: c.access_configs.map(|list| {
            list.into_iter()
                .map(|a| SourceAccessConfiguration {
                    kind: a.r#type.map(|t| t.as_str().to_string()),
                    uri: a.uri,
                })
                .collect()
        }),
        schema_validation_configs: c.schema_validation_configs.map(|list| {
            list.into_iter()
                .map(|v| SchemaValidationConfig {
                    attribute: v.attribute.map(|a| a.as_str().to_string()),
                })
                .collect()
        }),
    }
}

fn document_db_config_from_sdk(c: sdk::DocumentDbEventSourceConfig) -> DocumentDbEventSourceConfig {
    DocumentDbEventSourceConfig {
        database_name: c.database_name,
        collection_name: c.collection_name,
        full_document: c.full_document.map(|d| d.as_str().to_string()),
    }
}

fn provisioned_poller_config_from_sdk(c: sdk::ProvisionedPollerConfig) -> ProvisionedPollerConfig {
    ProvisionedPollerConfig {
        minimum_pollers: c.minimum_pollers,
        maximum_pollers: c.maximum_pollers,
        poller_group_name: c.poller_group_name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::aws::to_sdk::{
        function_response_types_to_sdk, source_access_configurations_to_sdk,
    };
    use aws_sdk_lambda::operation::get_event_source_mapping::GetEventSourceMappingOutput;
    use aws_smithy_types::DateTime;

    #[test]
    fn converts_every_field_of_an_output() {
        let output = GetEventSourceMappingOutput::builder()
            .uuid("a1b2c3d4-0000-4000-8000-000000000001")
            .event_source_mapping_arn("arn:aws:lambda:us-east-1:1:event-source-mapping:x")
            .function_arn("arn:aws:lambda:us-east-1:1:function:f")
            .state("Enabled")
            .state_transition_reason("USER_INITIATED")
            .last_modified(DateTime::from_secs_f64(1_569_284_520.333))
            .last_processing_result("No records processed")
            .filter_criteria_error(
                sdk::FilterCriteriaError::builder()
                    .error_code("KMSAccessDeniedException")
                    .message("denied")
                    .build(),
            )
            .event_source_arn("arn:aws:kinesis:us-east-1:1:stream/s")
            .batch_size(100)
            .filter_criteria(
                sdk::FilterCriteria::builder()
                    .filters(sdk::Filter::builder().pattern(r#"{"a":[1]}"#).build())
                    .build(),
            )
            .kms_key_arn("arn:aws:kms:us-east-1:1:key/k")
            .metrics_config(
                sdk::EventSourceMappingMetricsConfig::builder()
                    .metrics(sdk::EventSourceMappingMetric::EventCount)
                    .build(),
            )
            .logging_config(
                sdk::EventSourceMappingLoggingConfig::builder()
                    .system_log_level(sdk::EventSourceMappingSystemLogLevel::Warn)
                    .build(),
            )
            .scaling_config(sdk::ScalingConfig::builder().maximum_concurrency(5).build())
            .maximum_batching_window_in_seconds(3)
            .parallelization_factor(2)
            .starting_position(sdk::EventSourcePosition::AtTimestamp)
            .starting_position_timestamp(DateTime::from_secs(1_700_000_000))
            .destination_config(
                sdk::DestinationConfig::builder()
                    .on_failure(
                        sdk::OnFailure::builder()
                            .destination("arn:aws:sqs:us-east-1:1:dlq")
                            .build(),
                    )
                    .build(),
            )
            .maximum_record_age_in_seconds(60)
            .bisect_batch_on_function_error(true)
            .maximum_retry_attempts(3)
            .tumbling_window_in_seconds(30)
            .topics("t")
            .queues("q")
            .source_access_configurations(
                sdk::SourceAccessConfiguration::builder()
                    .r#type(sdk::SourceAccessType::from("SOMETHING_NEW"))
                    .uri("arn:aws:secretsmanager:us-east-1:1:secret:s")
                    .build(),
            )
            .self_managed_event_source(
                sdk::SelfManagedEventSource::builder()
                    .endpoints(
                        sdk::EndPointType::KafkaBootstrapServers,
                        vec!["b1:9092".to_string(), "b2:9092".to_string()],
                    )
                    .build(),
            )
            .function_response_types(sdk::FunctionResponseType::ReportBatchItemFailures)
            .amazon_managed_kafka_event_source_config(
                sdk::AmazonManagedKafkaEventSourceConfig::builder()
                    .consumer_group_id("g")
                    .schema_registry_config(
                        sdk::KafkaSchemaRegistryConfig::builder()
                            .schema_registry_uri("https://registry")
                            .event_record_format(sdk::SchemaRegistryEventRecordFormat::Json)
                            .access_configs(
                                sdk::KafkaSchemaRegistryAccessConfig::builder()
                                    .r#type(sdk::KafkaSchemaRegistryAuthType::BasicAuth)
                                    .uri("arn:secret")
                                    .build(),
                            )
                            .schema_validation_configs(
                                sdk::KafkaSchemaValidationConfig::builder()
                                    .attribute(sdk::KafkaSchemaValidationAttribute::Value)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .self_managed_kafka_event_source_config(
                sdk::SelfManagedKafkaEventSourceConfig::builder()
                    .consumer_group_id("g2")
                    .consumption_mode(sdk::KafkaEventSourceMappingConsumptionMode::from("Queue"))
                    .build(),
            )
            .document_db_event_source_config(
                sdk::DocumentDbEventSourceConfig::builder()
                    .database_name("db")
                    .collection_name("c")
                    .full_document(sdk::FullDocument::UpdateLookup)
                    .build(),
            )
            .provisioned_poller_config(
                sdk::ProvisionedPollerConfig::builder()
                    .minimum_pollers(1)
                    .maximum_pollers(10)
                    .poller_group_name("pg")
                    .build(),
            )
            .build();

        let got = output.into_observed();

        let expected_json = serde_json::json!({
            "UUID": "a1b2c3d4-0000-4000-8000-000000000001",
            "EventSourceMappingArn": "arn:aws:lambda:us-east-1:1:event-source-mapping:x",
            "FunctionArn": "arn:aws:lambda:us-east-1:1:function:f",
            "State": "Enabled",
            "StateTransitionReason": "USER_INITIATED",
            "LastModified": 1_569_284_520.333,
            "LastProcessingResult": "No records processed",
            "FilterCriteriaError": {"ErrorCode": "KMSAccessDeniedException", "Message": "denied"},
            "EventSourceArn": "arn:aws:kinesis:us-east-1:1:stream/s",
            "BatchSize": 100,
            "FilterCriteria": {"Filters": [{"Pattern": "{\"a\":[1]}"}]},
            "KMSKeyArn": "arn:aws:kms:us-east-1:1:key/k",
            "MetricsConfig": {"Metrics": ["EventCount"]},
            "LoggingConfig": {"SystemLogLevel": "WARN"},
            "ScalingConfig": {"MaximumConcurrency": 5},
            "MaximumBatchingWindowInSeconds": 3,
            "ParallelizationFactor": 2,
            "StartingPosition": "AT_TIMESTAMP",
            "StartingPositionTimestamp": 1_700_000_000.0,
            "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:1:dlq"}},
            "MaximumRecordAgeInSeconds": 60,
            "BisectBatchOnFunctionError": true,
            "MaximumRetryAttempts": 3,
            "TumblingWindowInSeconds": 30,
            "Topics": ["t"],
            "Queues": ["q"],
            "SourceAccessConfigurations": [
                {"Type": "SOMETHING_NEW", "URI": "arn:aws:secretsmanager:us-east-1:1:secret:s"}
            ],
            "SelfManagedEventSource": {
                "Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["b1:9092", "b2:9092"]}
            },
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "AmazonManagedKafkaEventSourceConfig": {
                "ConsumerGroupId": "g",
                "SchemaRegistryConfig": {
                    "SchemaRegistryURI": "https://registry",
                    "EventRecordFormat": "JSON",
                    "AccessConfigs": [{"Type": "BASIC_AUTH", "URI": "arn:secret"}],
                    "SchemaValidationConfigs": [{"Attribute": "VALUE"}]
                }
            },
            "SelfManagedKafkaEventSourceConfig": {
                "ConsumerGroupId": "g2", "ConsumptionMode": "Queue"
            },
            "DocumentDBEventSourceConfig": {
                "DatabaseName": "db", "CollectionName": "c", "FullDocument": "UpdateLookup"
            },
            "ProvisionedPollerConfig": {
                "MinimumPollers": 1, "MaximumPollers": 10, "PollerGroupName": "pg"
            }
        });
        let expected: ObservedMapping = serde_json::from_value(expected_json).unwrap();
        assert_eq!(got, expected);
        // Spot checks that do not depend on the serde mapping of types.rs.
        assert_eq!(got.last_modified, Some(1_569_284_520.333));
        assert_eq!(
            got.fields.starting_position.as_deref(),
            Some("AT_TIMESTAMP")
        );
        assert_eq!(
            got.fields.source_access_configurations.as_ref().unwrap()[0]
                .kind
                .as_deref(),
            Some("SOMETHING_NEW")
        );
        assert_eq!(got.fields.function_name, None);
        assert_eq!(got.fields.enabled, None);
    }

    #[test]
    fn absent_stays_absent_and_empty_stays_empty() {
        let bare = sdk::EventSourceMappingConfiguration::builder()
            .uuid("u")
            .build()
            .into_observed();
        assert_eq!(
            bare,
            ObservedMapping {
                uuid: "u".to_string(),
                ..ObservedMapping::default()
            }
        );

        let empty = sdk::EventSourceMappingConfiguration::builder()
            .uuid("u")
            .set_function_response_types(Some(vec![]))
            .set_topics(Some(vec![]))
            .filter_criteria(sdk::FilterCriteria::builder().build())
            .build()
            .into_observed();
        assert_eq!(empty.fields.function_response_types, Some(vec![]));
        assert_eq!(empty.fields.topics, Some(vec![]));
        assert_eq!(
            empty.fields.filter_criteria,
            Some(FilterCriteria { filters: None })
        );
        assert_eq!(empty.fields.queues, None);
    }

    #[test]
    fn unknown_enum_values_survive_both_ways() {
        let sdk_types = source_access_configurations_to_sdk(&[SourceAccessConfiguration {
            kind: Some("FUTURE_AUTH".to_string()),
            uri: None,
        }]);
        assert_eq!(sdk_types[0].r#type().unwrap().as_str(), "FUTURE_AUTH");
        let back = source_access_configurations_from_sdk(sdk_types);
        assert_eq!(back[0].kind.as_deref(), Some("FUTURE_AUTH"));
        assert_eq!(
            function_response_types_to_sdk(&["ReportBatchItemFailures".to_string()]),
            vec![sdk::FunctionResponseType::ReportBatchItemFailures]
        );
    }
}
