//! Drift without false positives: normalization of both sides and the per-field comparison
//! (semantics §6). Only fields the spec sets are compared; fields it stopped setting are cleared
//! with Lambda's explicit clear values (§6.6).

use std::collections::BTreeSet;

use super::desired::{Field, SourceKind};
use crate::lambda::types::{self as wire, MappingFields, ObservedMapping};

/// Whether the function the spec names is the one Lambda reports (`FunctionArn`).
///
/// The spec may hold a name, `name:qualifier`, a partial ARN (`account:function:name[:q]`) or a
/// full ARN; Lambda reports a full ARN that keeps the qualifier. A mapping can only invoke a
/// function of its own account and region, so a bare name matches on name and qualifier; any
/// account, region or partition the spec does state must match too. `fn` and `fn:$LATEST` are
/// the same target (semantics §6.1).
pub fn function_matches(spec: &str, function_arn: &str) -> bool {
    let Some(observed) = FunctionRef::parse(function_arn) else {
        return spec == function_arn;
    };
    let Some(wanted) = FunctionRef::parse(spec) else {
        return false;
    };
    let same = |a: Option<&str>, b: Option<&str>| a.is_none() || b.is_none() || a == b;
    wanted.name == observed.name
        && normalize_qualifier(wanted.qualifier) == normalize_qualifier(observed.qualifier)
        && same(wanted.account, observed.account)
        && same(wanted.region, observed.region)
        && same(wanted.partition, observed.partition)
}

fn normalize_qualifier(q: Option<&str>) -> Option<&str> {
    q.filter(|q| *q != "$LATEST")
}

#[derive(Debug, PartialEq)]
struct FunctionRef<'a> {
    partition: Option<&'a str>,
    region: Option<&'a str>,
    account: Option<&'a str>,
    name: &'a str,
    qualifier: Option<&'a str>,
}

impl<'a> FunctionRef<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        let parts: Vec<&str> = text.split(':').collect();
        let r = match parts.as_slice() {
            [
                "arn",
                partition,
                "lambda",
                region,
                account,
                "function",
                name,
                rest @ ..,
            ] => Self {
                partition: Some(partition),
                region: Some(region),
                account: Some(account),
                name,
                qualifier: rest.first().copied(),
            },
            [account, "function", name, rest @ ..] => Self {
                partition: None,
                region: None,
                account: Some(account),
                name,
                qualifier: rest.first().copied(),
            },
            [region, account, "function", name, rest @ ..] => Self {
                partition: None,
                region: Some(region),
                account: Some(account),
                name,
                qualifier: rest.first().copied(),
            },
            [name] => Self {
                partition: None,
                region: None,
                account: None,
                name,
                qualifier: None,
            },
            [name, qualifier] => Self {
                partition: None,
                region: None,
                account: None,
                name,
                qualifier: Some(qualifier),
            },
            _ => return None,
        };
        (!r.name.is_empty()).then_some(r)
    }
}

/// A filter pattern as canonical JSON (sorted keys, no whitespace). Unparseable text is kept
/// as is, so it still compares equal to itself.
pub fn canonical_pattern(pattern: &str) -> String {
    serde_json::from_str::<serde_json::Value>(pattern)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| pattern.to_string())
}

/// Filters as a sorted multiset of canonical patterns; absent, `{}` and `[]` are all empty.
fn filter_set(fc: Option<&wire::FilterCriteria>) -> Vec<String> {
    let mut set: Vec<String> = fc
        .and_then(|f| f.filters.as_ref())
        .map(|filters| {
            filters
                .iter()
                .map(|f| canonical_pattern(f.pattern.as_deref().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    set.sort();
    set
}

fn on_failure(dc: Option<&wire::DestinationConfig>) -> Option<&str> {
    dc.and_then(|d| d.on_failure.as_ref())
        .and_then(|f| f.destination.as_deref())
        .filter(|d| !d.is_empty())
}

fn string_set(list: Option<&Vec<String>>) -> BTreeSet<&str> {
    list.map(|l| l.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

fn access_set(
    list: Option<&Vec<wire::SourceAccessConfiguration>>,
) -> BTreeSet<&wire::SourceAccessConfiguration> {
    list.map(|l| l.iter().collect()).unwrap_or_default()
}

fn registry_matches(
    want: Option<&wire::SchemaRegistryConfig>,
    have: Option<&wire::SchemaRegistryConfig>,
) -> bool {
    match (want, have) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(w), Some(h)) => {
            let validations = |c: &wire::SchemaRegistryConfig| -> BTreeSet<Option<String>> {
                c.schema_validation_configs
                    .iter()
                    .flatten()
                    .map(|v| v.attribute.clone())
                    .collect()
            };
            w.schema_registry_uri == h.schema_registry_uri
                && (w.event_record_format.is_none()
                    || w.event_record_format == h.event_record_format)
                && access_set(w.access_configs.as_ref()) == access_set(h.access_configs.as_ref())
                && validations(w) == validations(h)
        }
    }
}

fn kafka_registry(c: Option<&wire::KafkaEventSourceConfig>) -> Option<&wire::SchemaRegistryConfig> {
    c.and_then(|c| c.schema_registry_config.as_ref())
}

/// Whether an updatable field the spec sets differs from what Lambda reports.
/// `Enabled` is not decided here: it is derived from the state (see the planner).
pub fn differs(field: Field, want: &MappingFields, have: &ObservedMapping) -> bool {
    let got = &have.fields;
    match field {
        Field::Enabled => false,
        Field::FunctionName => match (&want.function_name, &have.function_arn) {
            (Some(w), Some(h)) => !function_matches(w, h),
            (Some(_), None) => false, // nothing to compare against; do not guess
            (None, _) => false,
        },
        Field::BatchSize => want.batch_size != got.batch_size,
        Field::FilterCriteria => {
            // When Lambda could not decrypt the filters it reports an error instead of them;
            // comparing would loop forever. The error is surfaced in status instead.
            have.filter_criteria_error.is_none()
                && filter_set(want.filter_criteria.as_ref())
                    != filter_set(got.filter_criteria.as_ref())
        }
        Field::KmsKeyArn => {
            want.kms_key_arn.as_deref().filter(|k| !k.is_empty())
                != got.kms_key_arn.as_deref().filter(|k| !k.is_empty())
        }
        Field::MetricsConfig => {
            let set = |m: Option<&wire::MetricsConfig>| {
                string_set(m.and_then(|m| m.metrics.as_ref()))
                    .into_iter()
                    .map(str::to_string)
                    .collect::<BTreeSet<_>>()
            };
            set(want.metrics_config.as_ref()) != set(got.metrics_config.as_ref())
        }
        Field::LoggingConfig => {
            let level =
                |l: Option<&wire::LoggingConfig>| l.and_then(|l| l.system_log_level.clone());
            level(want.logging_config.as_ref()) != level(got.logging_config.as_ref())
        }
        Field::ScalingConfig => {
            let cap = |s: Option<&wire::ScalingConfig>| s.and_then(|s| s.maximum_concurrency);
            cap(want.scaling_config.as_ref()) != cap(got.scaling_config.as_ref())
        }
        Field::MaximumBatchingWindowInSeconds => {
            want.maximum_batching_window_in_seconds != got.maximum_batching_window_in_seconds
        }
        Field::ParallelizationFactor => want.parallelization_factor != got.parallelization_factor,
        Field::DestinationConfig => {
            on_failure(want.destination_config.as_ref())
                != on_failure(got.destination_config.as_ref())
        }
        Field::MaximumRecordAgeInSeconds => {
            want.maximum_record_age_in_seconds != got.maximum_record_age_in_seconds
        }
        Field::BisectBatchOnFunctionError => {
            want.bisect_batch_on_function_error.unwrap_or(false)
                != got.bisect_batch_on_function_error.unwrap_or(false)
        }
        Field::MaximumRetryAttempts => want.maximum_retry_attempts != got.maximum_retry_attempts,
        Field::TumblingWindowInSeconds => {
            want.tumbling_window_in_seconds.unwrap_or(0)
                != got.tumbling_window_in_seconds.unwrap_or(0)
        }
        Field::SourceAccessConfigurations => {
            access_set(want.source_access_configurations.as_ref())
                != access_set(got.source_access_configurations.as_ref())
        }
        Field::FunctionResponseTypes => {
            string_set(want.function_response_types.as_ref())
                != string_set(got.function_response_types.as_ref())
        }
        Field::AmazonManagedKafkaEventSourceConfig => !registry_matches(
            kafka_registry(want.amazon_managed_kafka_event_source_config.as_ref()),
            kafka_registry(got.amazon_managed_kafka_event_source_config.as_ref()),
        ),
        Field::SelfManagedKafkaEventSourceConfig => !registry_matches(
            kafka_registry(want.self_managed_kafka_event_source_config.as_ref()),
            kafka_registry(got.self_managed_kafka_event_source_config.as_ref()),
        ),
        Field::DocumentDbEventSourceConfig => {
            // Only FullDocument can change; the database and collection are create-only
            // (compared by the create-only check, never sent on Update).
            let full_document = |c: Option<&wire::DocumentDbEventSourceConfig>| {
                c.and_then(|c| c.full_document.clone())
            };
            let wanted = full_document(want.document_db_event_source_config.as_ref());
            wanted.is_some()
                && wanted != full_document(got.document_db_event_source_config.as_ref())
        }
        Field::ProvisionedPollerConfig => {
            let (Some(w), g) = (
                want.provisioned_poller_config.as_ref(),
                got.provisioned_poller_config.as_ref(),
            ) else {
                return false;
            };
            let Some(g) = g else { return true };
            // Lambda fills the bound the spec left out; compare only the given ones (§6.3).
            (w.minimum_pollers.is_some() && w.minimum_pollers != g.minimum_pollers)
                || (w.maximum_pollers.is_some() && w.maximum_pollers != g.maximum_pollers)
                || (w.poller_group_name.is_some() && w.poller_group_name != g.poller_group_name)
        }
    }
}

/// Copies one field of the desired mapping into an Update request, in the form Update accepts.
pub fn put(field: Field, want: &MappingFields, patch: &mut MappingFields) {
    match field {
        Field::FunctionName => patch.function_name = want.function_name.clone(),
        Field::Enabled => patch.enabled = want.enabled,
        Field::BatchSize => patch.batch_size = want.batch_size,
        Field::FilterCriteria => patch.filter_criteria = want.filter_criteria.clone(),
        Field::KmsKeyArn => patch.kms_key_arn = want.kms_key_arn.clone(),
        Field::MetricsConfig => patch.metrics_config = want.metrics_config.clone(),
        Field::LoggingConfig => patch.logging_config = want.logging_config.clone(),
        Field::ScalingConfig => patch.scaling_config = want.scaling_config.clone(),
        Field::MaximumBatchingWindowInSeconds => {
            patch.maximum_batching_window_in_seconds = want.maximum_batching_window_in_seconds
        }
        Field::ParallelizationFactor => patch.parallelization_factor = want.parallelization_factor,
        Field::DestinationConfig => patch.destination_config = want.destination_config.clone(),
        Field::MaximumRecordAgeInSeconds => {
            patch.maximum_record_age_in_seconds = want.maximum_record_age_in_seconds
        }
        Field::BisectBatchOnFunctionError => {
            patch.bisect_batch_on_function_error = want.bisect_batch_on_function_error
        }
        Field::MaximumRetryAttempts => patch.maximum_retry_attempts = want.maximum_retry_attempts,
        Field::TumblingWindowInSeconds => {
            patch.tumbling_window_in_seconds = want.tumbling_window_in_seconds
        }
        Field::SourceAccessConfigurations => {
            // A RabbitMQ VIRTUAL_HOST entry is create-only and must not be sent on Update (R16).
            patch.source_access_configurations =
                want.source_access_configurations.as_ref().map(|l| {
                    l.iter()
                        .filter(|c| c.kind.as_deref() != Some(wire::VIRTUAL_HOST))
                        .cloned()
                        .collect()
                })
        }
        Field::FunctionResponseTypes => {
            patch.function_response_types = want.function_response_types.clone()
        }
        // Only the schema registry can change; the consumer group and mode are create-only.
        Field::AmazonManagedKafkaEventSourceConfig => {
            patch.amazon_managed_kafka_event_source_config = want
                .amazon_managed_kafka_event_source_config
                .as_ref()
                .map(|c| wire::KafkaEventSourceConfig {
                    schema_registry_config: c.schema_registry_config.clone(),
                    ..Default::default()
                })
        }
        Field::SelfManagedKafkaEventSourceConfig => {
            patch.self_managed_kafka_event_source_config = want
                .self_managed_kafka_event_source_config
                .as_ref()
                .map(|c| wire::KafkaEventSourceConfig {
                    schema_registry_config: c.schema_registry_config.clone(),
                    ..Default::default()
                })
        }
        // Update refuses DatabaseName and CollectionName (create-only): FullDocument alone.
        Field::DocumentDbEventSourceConfig => {
            patch.document_db_event_source_config = want
                .document_db_event_source_config
                .as_ref()
                .map(|c| wire::DocumentDbEventSourceConfig {
                    full_document: c.full_document.clone(),
                    ..Default::default()
                })
        }
        Field::ProvisionedPollerConfig => {
            patch.provisioned_poller_config = want.provisioned_poller_config.clone()
        }
    }
}

/// Puts the explicit "clear" value of a field the spec no longer sets into an Update request
/// (semantics §6.6), if it still holds a non-default value. Returns whether it did.
///
/// Fields whose removal Lambda does not document (provisioned mode, logging, the Kafka schema
/// registry, DocumentDB settings), and the 500 ms batching-window default of Kafka, MQ and
/// DocumentDB that no value can restore, are left as they are.
pub fn clear(
    field: Field,
    source: SourceKind,
    have: &ObservedMapping,
    patch: &mut MappingFields,
) -> bool {
    let got = &have.fields;
    let differs_from = |value: Option<i32>, default: i32| value.is_some_and(|v| v != default);
    match field {
        Field::FunctionName => false,
        Field::Enabled => {
            // Removing `enabled: false` means "back to the default": enabled.
            patch.enabled = Some(true);
            true
        }
        Field::BatchSize if differs_from(got.batch_size, source.default_batch_size()) => {
            patch.batch_size = Some(source.default_batch_size());
            true
        }
        Field::FilterCriteria if !filter_set(got.filter_criteria.as_ref()).is_empty() => {
            patch.filter_criteria = Some(wire::FilterCriteria {
                filters: Some(vec![]),
            });
            true
        }
        Field::KmsKeyArn if got.kms_key_arn.as_deref().is_some_and(|k| !k.is_empty()) => {
            patch.kms_key_arn = Some(String::new());
            true
        }
        Field::MetricsConfig
            if got
                .metrics_config
                .as_ref()
                .is_some_and(|m| m.metrics.as_ref().is_some_and(|l| !l.is_empty())) =>
        {
            patch.metrics_config = Some(wire::MetricsConfig {
                metrics: Some(vec![]),
            });
            true
        }
        Field::ScalingConfig
            if got
                .scaling_config
                .as_ref()
                .is_some_and(|s| s.maximum_concurrency.is_some()) =>
        {
            patch.scaling_config = Some(wire::ScalingConfig::default());
            true
        }
        Field::MaximumBatchingWindowInSeconds => match source.default_batching_window() {
            Some(default) if differs_from(got.maximum_batching_window_in_seconds, default) => {
                patch.maximum_batching_window_in_seconds = Some(default);
                true
            }
            _ => false,
        },
        Field::ParallelizationFactor if differs_from(got.parallelization_factor, 1) => {
            patch.parallelization_factor = Some(1);
            true
        }
        Field::DestinationConfig if on_failure(got.destination_config.as_ref()).is_some() => {
            patch.destination_config = Some(wire::DestinationConfig {
                on_failure: Some(wire::Destination {
                    destination: Some(String::new()),
                }),
                on_success: None,
            });
            true
        }
        Field::MaximumRecordAgeInSeconds if differs_from(got.maximum_record_age_in_seconds, -1) => {
            patch.maximum_record_age_in_seconds = Some(-1);
            true
        }
        Field::BisectBatchOnFunctionError if got.bisect_batch_on_function_error == Some(true) => {
            patch.bisect_batch_on_function_error = Some(false);
            true
        }
        Field::MaximumRetryAttempts => {
            let queue_mode = got
                .self_managed_kafka_event_source_config
                .as_ref()
                .and_then(|c| c.consumption_mode.as_deref())
                == Some("Queue");
            let default = if queue_mode { 0 } else { -1 };
            if differs_from(got.maximum_retry_attempts, default) {
                patch.maximum_retry_attempts = Some(default);
                true
            } else {
                false
            }
        }
        Field::TumblingWindowInSeconds if differs_from(got.tumbling_window_in_seconds, 0) => {
            patch.tumbling_window_in_seconds = Some(0);
            true
        }
        Field::SourceAccessConfigurations
            if got
                .source_access_configurations
                .as_ref()
                .is_some_and(|l| !l.is_empty()) =>
        {
            patch.source_access_configurations = Some(vec![]);
            true
        }
        Field::FunctionResponseTypes
            if got
                .function_response_types
                .as_ref()
                .is_some_and(|l| !l.is_empty()) =>
        {
            patch.function_response_types = Some(vec![]);
            true
        }
        _ => false,
    }
}
