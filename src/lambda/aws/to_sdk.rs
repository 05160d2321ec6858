//! Our wire types onto the SDK's request shapes, one nested type at a time. Enum-like strings
//! go through the SDK's `From<&str>`, so values newer than this SDK reach Lambda unchanged.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_lambda::types as sdk;

use super::sdk_error::client_validation;
use crate::lambda::{
    DestinationConfig, DocumentDbEventSourceConfig, FilterCriteria, KafkaEventSourceConfig,
    LambdaError, LoggingConfig, MetricsConfig, Op, ProvisionedPollerConfig, ScalingConfig,
    SchemaRegistryConfig, SelfManagedEventSource, SourceAccessConfiguration,
};

pub(super) fn to_hash_map(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// `FilterCriteria {}` and `FilterCriteria { Filters: [] }` both become `{}` on the wire, the
/// form that clears the filters in an Update (semantics §6.6).
pub(super) fn filter_criteria_to_sdk(c: &FilterCriteria) -> sdk::FilterCriteria {
    let filters = c.filters.as_deref().filter(|f| !f.is_empty()).map(|f| {
        f.iter()
            .map(|filter| {
                sdk::Filter::builder()
                    .set_pattern(filter.pattern.clone())
                    .build()
            })
            .collect()
    });
    sdk::FilterCriteria::builder().set_filters(filters).build()
}

pub(super) fn metrics_config_to_sdk(c: &MetricsConfig) -> sdk::EventSourceMappingMetricsConfig {
    sdk::EventSourceMappingMetricsConfig::builder()
        .set_metrics(c.metrics.as_ref().map(|m| {
            m.iter()
                .map(|s| sdk::EventSourceMappingMetric::from(s.as_str()))
                .collect()
        }))
        .build()
}

pub(super) fn logging_config_to_sdk(c: &LoggingConfig) -> sdk::EventSourceMappingLoggingConfig {
    sdk::EventSourceMappingLoggingConfig::builder()
        .set_system_log_level(
            c.system_log_level
                .as_deref()
                .map(sdk::EventSourceMappingSystemLogLevel::from),
        )
        .build()
}

pub(super) fn scaling_config_to_sdk(c: &ScalingConfig) -> sdk::ScalingConfig {
    sdk::ScalingConfig::builder()
        .set_maximum_concurrency(c.maximum_concurrency)
        .build()
}

pub(super) fn destination_config_to_sdk(c: &DestinationConfig) -> sdk::DestinationConfig {
    sdk::DestinationConfig::builder()
        .set_on_failure(c.on_failure.as_ref().map(|d| {
            sdk::OnFailure::builder()
                .set_destination(d.destination.clone())
                .build()
        }))
        .set_on_success(c.on_success.as_ref().map(|d| {
            sdk::OnSuccess::builder()
                .set_destination(d.destination.clone())
                .build()
        }))
        .build()
}

pub(super) fn source_access_configurations_to_sdk(
    list: &[SourceAccessConfiguration],
) -> Vec<sdk::SourceAccessConfiguration> {
    list.iter()
        .map(|c| {
            sdk::SourceAccessConfiguration::builder()
                .set_type(c.kind.as_deref().map(sdk::SourceAccessType::from))
                .set_uri(c.uri.clone())
                .build()
        })
        .collect()
}

pub(super) fn self_managed_event_source_to_sdk(
    s: &SelfManagedEventSource,
) -> sdk::SelfManagedEventSource {
    sdk::SelfManagedEventSource::builder()
        .set_endpoints(s.endpoints.as_ref().map(|endpoints| {
            endpoints
                .iter()
                .map(|(k, v)| (sdk::EndPointType::from(k.as_str()), v.clone()))
                .collect()
        }))
        .build()
}

pub(super) fn function_response_types_to_sdk(list: &[String]) -> Vec<sdk::FunctionResponseType> {
    list.iter()
        .map(|s| sdk::FunctionResponseType::from(s.as_str()))
        .collect()
}

/// The MSK config has no `ConsumptionMode`; refuse rather than silently drop one.
pub(super) fn msk_config_to_sdk(
    operation: Op,
    c: &KafkaEventSourceConfig,
) -> Result<sdk::AmazonManagedKafkaEventSourceConfig, LambdaError> {
    if c.consumption_mode.is_some() {
        return Err(client_validation(
            operation,
            "AmazonManagedKafkaEventSourceConfig has no ConsumptionMode (only \
             SelfManagedKafkaEventSourceConfig does)"
                .to_string(),
        ));
    }
    Ok(sdk::AmazonManagedKafkaEventSourceConfig::builder()
        .set_consumer_group_id(c.consumer_group_id.clone())
        .set_schema_registry_config(
            c.schema_registry_config
                .as_ref()
                .map(schema_registry_to_sdk),
        )
        .build())
}

pub(super) fn smk_config_to_sdk(
    c: &KafkaEventSourceConfig,
) -> sdk::SelfManagedKafkaEventSourceConfig {
    sdk::SelfManagedKafkaEventSourceConfig::builder()
        .set_consumer_group_id(c.consumer_group_id.clone())
        .set_schema_registry_config(
            c.schema_registry_config
                .as_ref()
                .map(schema_registry_to_sdk),
        )
        .set_consumption_mode(
            c.consumption_mode
                .as_deref()
                .map(sdk::KafkaEventSourceMappingConsumptionMode::from),
        )
        .build()
}

fn schema_registry_to_sdk(c: &SchemaRegistryConfig) -> sdk::KafkaSchemaRegistryConfig {
    sdk::KafkaSchemaRegistryConfig::builder()
        .set_schema_registry_uri(c.schema_registry_uri.clone())
        .set_event_record_format(
            c.event_record_format
                .as_deref()
                .map(sdk::SchemaRegistryEventRecordFormat::from),
        )
        .set_access_configs(c.access_configs.as_ref().map(|list| {
            list.iter()
                .map(|a| {
                    sdk::KafkaSchemaRegistryAccessConfig::builder()
                        .set_type(
                            a.kind
                                .as_deref()
                                .map(sdk::KafkaSchemaRegistryAuthType::from),
                        )
                        .set_uri(a.uri.clone())
                        .build()
                })
                .collect()
        }))
        .set_schema_validation_configs(c.schema_validation_configs.as_ref().map(|list| {
            list.iter()
                .map(|v| {
                    sdk::KafkaSchemaValidationConfig::builder()
                        .set_attribute(
                            v.attribute
                                .as_deref()
                                .map(sdk::KafkaSchemaValidationAttribute::from),
                        )
                        .build()
                })
                .collect()
        }))
        .build()
}

pub(super) fn document_db_config_to_sdk(
    c: &DocumentDbEventSourceConfig,
) -> sdk::DocumentDbEventSourceConfig {
    sdk::DocumentDbEventSourceConfig::builder()
        .set_database_name(c.database_name.clone())
        .set_collection_name(c.collection_name.clone())
        .set_full_document(c.full_document.as_deref().map(sdk::FullDocument::from))
        .build()
}

pub(super) fn provisioned_poller_config_to_sdk(
    c: &ProvisionedPollerConfig,
) -> sdk::ProvisionedPollerConfig {
    sdk::ProvisionedPollerConfig::builder()
        .set_minimum_pollers(c.minimum_pollers)
        .set_maximum_pollers(c.maximum_pollers)
        .set_poller_group_name(c.poller_group_name.clone())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::Filter;

    #[test]
    fn clear_values_become_empty_objects() {
        assert_eq!(
            filter_criteria_to_sdk(&FilterCriteria {
                filters: Some(vec![])
            }),
            sdk::FilterCriteria::builder().build()
        );
        assert_eq!(
            filter_criteria_to_sdk(&FilterCriteria { filters: None }),
            sdk::FilterCriteria::builder().build()
        );
        let one = filter_criteria_to_sdk(&FilterCriteria {
            filters: Some(vec![Filter {
                pattern: Some("{}".to_string()),
            }]),
        });
        assert_eq!(one.filters().len(), 1);
        assert_eq!(
            scaling_config_to_sdk(&ScalingConfig::default()),
            sdk::ScalingConfig::builder().build()
        );
        // Metrics: [] is kept, it is the documented way to clear them.
        assert_eq!(
            metrics_config_to_sdk(&MetricsConfig {
                metrics: Some(vec![])
            })
            .metrics,
            Some(vec![])
        );
        let destination = destination_config_to_sdk(&DestinationConfig {
            on_failure: Some(crate::lambda::Destination {
                destination: Some(String::new()),
            }),
            on_success: None,
        });
        assert_eq!(
            destination.on_failure.and_then(|d| d.destination),
            Some(String::new())
        );
        assert!(destination.on_success.is_none());
        assert_eq!(function_response_types_to_sdk(&[]), vec![]);
    }
}
