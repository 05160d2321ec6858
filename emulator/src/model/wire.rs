//! The stored configuration and its wire form (semantics doc §2.2, §2.3, §6.6).
//!
//! A mapping's configuration is kept as a JSON object of exactly the configurable fields that
//! Get echoes, under their wire names. Create starts from the per-source defaults and applies
//! the request; Update applies the request to the stored object. Both go through
//! [`apply_fields`], which implements Lambda's "omitted = unchanged, empty = remove" rules.

use serde_json::{Map, Value, json};

use super::error::{ApiError, ApiResult};
use super::source::SourceKind;
use super::validate::{Mode, member};
use super::world::Mapping;

/// The `DestinationConfig` that stream and Kafka mappings show when no destination is set.
pub(crate) fn destination_husk() -> Value {
    json!({ "OnFailure": {} })
}

/// What a new mapping shows for the fields the request left out (§2.3).
///
/// MSK/SMK/MQ/DocumentDB get no `MaximumBatchingWindowInSeconds` key: their 500 ms default is
/// not expressible as an integer (§9 open question 1; we answer "absent").
pub(crate) fn defaults(kind: SourceKind, uuid: &str, kafka_queue_mode: bool) -> Map<String, Value> {
    let mut c = Map::new();
    let mut set = |k: &str, v: Value| {
        c.insert(k.to_owned(), v);
    };
    match kind {
        SourceKind::Kinesis | SourceKind::DynamoDbStreams => {
            set("BatchSize", json!(100));
            set("MaximumBatchingWindowInSeconds", json!(0));
            set("ParallelizationFactor", json!(1));
            set("DestinationConfig", destination_husk());
            set("MaximumRecordAgeInSeconds", json!(-1));
            set("BisectBatchOnFunctionError", json!(false));
            set("MaximumRetryAttempts", json!(-1));
            set("TumblingWindowInSeconds", json!(0));
            set("FunctionResponseTypes", json!([]));
        }
        SourceKind::Sqs => {
            set("BatchSize", json!(10));
            set("MaximumBatchingWindowInSeconds", json!(0));
            set("FunctionResponseTypes", json!([]));
        }
        SourceKind::SqsFifo => {
            set("BatchSize", json!(10));
            set("FunctionResponseTypes", json!([]));
        }
        SourceKind::Msk | SourceKind::SelfManagedKafka => {
            set("BatchSize", json!(100));
            set("DestinationConfig", destination_husk());
            set("MaximumRecordAgeInSeconds", json!(-1));
            set("BisectBatchOnFunctionError", json!(false));
            // R8: Queue consumption mode defaults to no retries.
            set(
                "MaximumRetryAttempts",
                json!(if kafka_queue_mode { 0 } else { -1 }),
            );
            set("FunctionResponseTypes", json!([]));
            // The consumer group defaults to a unique value; like Lambda's Kafka ACL docs we
            // use the mapping's UUID.
            let key = kafka_config_key(kind);
            set(key, json!({ "ConsumerGroupId": uuid }));
        }
        SourceKind::Mq | SourceKind::DocumentDb => {
            set("BatchSize", json!(100));
        }
    }
    c
}

fn kafka_config_key(kind: SourceKind) -> &'static str {
    if kind == SourceKind::Msk {
        "AmazonManagedKafkaEventSourceConfig"
    } else {
        "SelfManagedKafkaEventSourceConfig"
    }
}

/// Applies validated request fields to a configuration, with the clearing rules of §6.6:
/// a field that is omitted is unchanged; `FilterCriteria {}`, `ScalingConfig {}`,
/// `MetricsConfig {"Metrics":[]}`, `LoggingConfig {}`, `KMSKeyArn ""` and an empty
/// `SourceAccessConfigurations` list remove the field; an empty OnFailure destination restores
/// the `{"OnFailure":{}}` husk. Nested objects are replaced whole, never merged member by
/// member, except the Kafka configs whose `ConsumerGroupId`/`ConsumptionMode` are fixed.
pub(crate) fn apply_fields(
    kind: SourceKind,
    mode: Mode,
    config: &mut Map<String, Value>,
    fields: &Map<String, Value>,
) -> ApiResult<()> {
    for (key, value) in fields {
        match key.as_str() {
            "FilterCriteria" | "ScalingConfig" | "LoggingConfig" => {
                set_or_remove(config, key, value, is_empty_object(value));
            }
            "MetricsConfig" => {
                let empty = value
                    .get("Metrics")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty);
                set_or_remove(config, key, value, empty);
            }
            "KMSKeyArn" => set_or_remove(config, key, value, value.as_str() == Some("")),
            "SourceAccessConfigurations" => {
                let mut list = value.as_array().cloned().unwrap_or_default();
                if mode == Mode::Update {
                    // The RabbitMQ virtual host is fixed at creation (R16): an update sends
                    // the list without it, and the stored entry stays.
                    let kept = config
                        .get(key)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter(|e| e.get("Type").and_then(Value::as_str) == Some("VIRTUAL_HOST"))
                        .cloned()
                        .collect::<Vec<_>>();
                    list.extend(kept);
                }
                let empty = list.is_empty();
                set_or_remove(config, key, &Value::Array(list), empty);
            }
            "ProvisionedPollerConfig" => {
                if mode == Mode::Update && is_empty_object(value) {
                    // Leaving provisioned mode is undocumented; third-party tools send `{}`.
                    config.remove(key);
                } else {
                    config.insert(key.clone(), fill_poller_defaults(kind, value));
                }
            }
            "AmazonManagedKafkaEventSourceConfig" | "SelfManagedKafkaEventSourceConfig" => {
                let merged = merge_kafka_config(key, config.get(key), value, mode)?;
                config.insert(key.clone(), merged);
            }
            "DocumentDBEventSourceConfig" if mode == Mode::Update => {
                let merged = merge_document_db_config(config.get(key), value)?;
                config.insert(key.clone(), merged);
            }
            _ => {
                config.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(())
}

fn set_or_remove(config: &mut Map<String, Value>, key: &str, value: &Value, remove: bool) {
    if remove {
        config.remove(key);
    } else {
        config.insert(key.to_owned(), value.clone());
    }
}

fn is_empty_object(v: &Value) -> bool {
    v.as_object().is_some_and(Map::is_empty)
}

/// A `ProvisionedPollerConfig` given without bounds gets Lambda's defaults:
/// Kafka min 1 / max 200, SQS min 2 / max 200.
fn fill_poller_defaults(kind: SourceKind, value: &Value) -> Value {
    let mut obj = value.as_object().cloned().unwrap_or_default();
    let default_min = if kind.is_sqs() { 2 } else { 1 };
    obj.entry("MinimumPollers").or_insert(json!(default_min));
    obj.entry("MaximumPollers").or_insert(json!(200));
    Value::Object(obj)
}

/// `DocumentDBEventSourceConfig` on Update: only `FullDocument` changes. Lambda's Update refuses
/// `DatabaseName` and `CollectionName` ("Invalid parameters: collectionName, databaseName",
/// aws-cli issue 7756); values equal to the stored ones are let through, a different value
/// (including a collection on a mapping that watches the whole database) is a 400.
fn merge_document_db_config(stored: Option<&Value>, request: &Value) -> ApiResult<Value> {
    let field = "DocumentDBEventSourceConfig";
    let empty = Map::new();
    let stored = stored.and_then(Value::as_object).unwrap_or(&empty);
    let request = request.as_object().unwrap_or(&empty);
    let mut out = stored.clone();
    for fixed in ["DatabaseName", "CollectionName"] {
        let current = member(stored, fixed).and_then(Value::as_str);
        if let Some(wanted) = member(request, fixed).and_then(Value::as_str)
            && Some(wanted) != current
        {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid parameters: {field}.{fixed} cannot be changed after the event source \
                 mapping is created (current: {}, requested: {wanted}).",
                current.unwrap_or("none")
            )));
        }
    }
    if let Some(full_document) = member(request, "FullDocument") {
        out.insert("FullDocument".into(), full_document.clone());
    }
    Ok(Value::Object(out))
}

/// Kafka config objects: on Create the request wins (the default `ConsumerGroupId` stays if it
/// names none); on Update only `SchemaRegistryConfig` may change, and a `ConsumerGroupId` or
/// `ConsumptionMode` that differs from the stored one is rejected.
fn merge_kafka_config(
    field: &str,
    stored: Option<&Value>,
    request: &Value,
    mode: Mode,
) -> ApiResult<Value> {
    let empty = Map::new();
    let stored = stored.and_then(Value::as_object).unwrap_or(&empty);
    let request = request.as_object().unwrap_or(&empty);
    let mut out = stored.clone();
    match mode {
        Mode::Create => {
            for (k, v) in request {
                out.insert(k.clone(), v.clone());
            }
        }
        Mode::Update => {
            for fixed in ["ConsumerGroupId", "ConsumptionMode"] {
                let current = member(stored, fixed)
                    .and_then(Value::as_str)
                    .or(match fixed {
                        "ConsumptionMode" => Some("Stream"),
                        _ => None,
                    });
                if let Some(wanted) = member(request, fixed).and_then(Value::as_str)
                    && Some(wanted) != current
                {
                    return Err(ApiError::invalid_parameter(format!(
                        "{field}.{fixed} cannot be changed after the event source mapping is \
                         created (current: {}, requested: {wanted}).",
                        current.unwrap_or("none")
                    )));
                }
            }
            match member(request, "SchemaRegistryConfig") {
                Some(registry) => {
                    out.insert("SchemaRegistryConfig".into(), registry.clone());
                }
                None => {
                    out.remove("SchemaRegistryConfig");
                }
            }
        }
    }
    Ok(Value::Object(out))
}

/// Which response a mapping is rendered for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum View {
    /// Create, Get, Update, Delete and the admin snapshot.
    Full,
    /// A ListEventSourceMappings item: filters of a KMS-encrypted mapping are hidden (§6.2).
    ListItem,
}

/// The `EventSourceMappingConfiguration` shape: every configurable field (never `Enabled`,
/// `Tags`, `FunctionName`) plus the response-only fields.
pub(crate) fn render(m: &Mapping, esm_arn: String, view: View) -> Value {
    let mut out = m.config.clone();
    out.insert("UUID".into(), json!(m.uuid));
    out.insert("EventSourceMappingArn".into(), json!(esm_arn));
    out.insert("FunctionArn".into(), json!(m.function_arn));
    out.insert("State".into(), json!(m.state.as_str()));
    out.insert("StateTransitionReason".into(), json!(m.state_reason));
    out.insert(
        "LastModified".into(),
        json!(m.last_modified_ms as f64 / 1000.0),
    );
    out.insert(
        "LastProcessingResult".into(),
        json!(m.last_processing_result),
    );
    if view == View::ListItem && out.contains_key("KMSKeyArn") {
        out.remove("FilterCriteria");
    }
    if let Some((code, message)) = &m.filter_criteria_error {
        // Lambda could not decrypt the filters: it reports the error instead of them.
        out.remove("FilterCriteria");
        out.insert(
            "FilterCriteriaError".into(),
            json!({"ErrorCode": code, "Message": message}),
        );
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clearing_forms_remove_fields() {
        let mut config = Map::new();
        config.insert(
            "FilterCriteria".into(),
            json!({"Filters": [{"Pattern": "{}"}]}),
        );
        config.insert("ScalingConfig".into(), json!({"MaximumConcurrency": 5}));
        config.insert(
            "KMSKeyArn".into(),
            json!("arn:aws:kms:us-east-1:123456789012:key/k"),
        );
        config.insert("MetricsConfig".into(), json!({"Metrics": ["EventCount"]}));
        let clear: Map<String, Value> = serde_json::from_value(json!({
            "FilterCriteria": {}, "ScalingConfig": {}, "KMSKeyArn": "", "MetricsConfig": {"Metrics": []}
        }))
        .unwrap();
        apply_fields(SourceKind::Sqs, Mode::Update, &mut config, &clear).unwrap();
        assert!(config.is_empty(), "{config:?}");
    }

    #[test]
    fn virtual_host_survives_an_update() {
        let mut config = Map::new();
        config.insert(
            "SourceAccessConfigurations".into(),
            json!([{"Type": "BASIC_AUTH", "URI": "old"}, {"Type": "VIRTUAL_HOST", "URI": "/vh"}]),
        );
        let update: Map<String, Value> = serde_json::from_value(
            json!({"SourceAccessConfigurations": [{"Type": "BASIC_AUTH", "URI": "new"}]}),
        )
        .unwrap();
        apply_fields(SourceKind::Mq, Mode::Update, &mut config, &update).unwrap();
        assert_eq!(
            config["SourceAccessConfigurations"],
            json!([{"Type": "BASIC_AUTH", "URI": "new"}, {"Type": "VIRTUAL_HOST", "URI": "/vh"}])
        );
    }

    #[test]
    fn consumer_group_is_fixed_on_update() {
        let mut config = defaults(SourceKind::Msk, "id-1", false);
        let same: Map<String, Value> = serde_json::from_value(json!({
            "AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "id-1", "SchemaRegistryConfig": {"SchemaRegistryURI": "u"}}
        }))
        .unwrap();
        apply_fields(SourceKind::Msk, Mode::Update, &mut config, &same).unwrap();
        assert_eq!(
            config["AmazonManagedKafkaEventSourceConfig"],
            json!({"ConsumerGroupId": "id-1", "SchemaRegistryConfig": {"SchemaRegistryURI": "u"}})
        );
        let other: Map<String, Value> = serde_json::from_value(
            json!({"AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "id-2"}}),
        )
        .unwrap();
        let err = apply_fields(SourceKind::Msk, Mode::Update, &mut config, &other).unwrap_err();
        assert!(err.message.contains("ConsumerGroupId"));
    }

    #[test]
    fn poller_defaults_depend_on_source() {
        assert_eq!(
            fill_poller_defaults(SourceKind::Sqs, &json!({})),
            json!({"MinimumPollers": 2, "MaximumPollers": 200})
        );
        assert_eq!(
            fill_poller_defaults(SourceKind::Msk, &json!({"MaximumPollers": 5})),
            json!({"MinimumPollers": 1, "MaximumPollers": 5})
        );
    }
}
