//! The stored form of a mapping: its JSON with the top-level keys Lambda always sends
//! replaced by their index in [`KEYS`], and the mapping's own ARN left out when
//! it is the one its function ARN and UUID spell. About 40 % smaller than the plain JSON: at
//! 10,000 mappings, 2.5 MiB. Only top-level keys are replaced: nested maps can hold user keys
//! (tags, endpoints), and Lambda's top-level keys are never all digits.

use serde_json::{Map, Value};

use crate::lambda::ObservedMapping;

pub const KEYS: &[&str] = &[
    "UUID",
    "EventSourceMappingArn",
    "FunctionArn",
    "State",
    "StateTransitionReason",
    "LastModified",
    "LastProcessingResult",
    "FilterCriteriaError",
    "EventSourceArn",
    "FunctionName",
    "Enabled",
    "BatchSize",
    "FilterCriteria",
    "KMSKeyArn",
    "MetricsConfig",
    "LoggingConfig",
    "ScalingConfig",
    "MaximumBatchingWindowInSeconds",
    "ParallelizationFactor",
    "StartingPosition",
    "StartingPositionTimestamp",
    "DestinationConfig",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
    "Topics",
    "Queues",
    "SourceAccessConfigurations",
    "SelfManagedEventSource",
    "FunctionResponseTypes",
    "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig",
    "ProvisionedPollerConfig",
];

/// The ARN Lambda gives a mapping: the function's partition, region and account, and the
/// mapping's UUID.
fn mapping_arn(function_arn: &str, uuid: &str) -> Option<String> {
    let mut parts = function_arn.splitn(6, ':');
    let (arn, partition, service, region, account) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (arn == "arn" && service == "lambda")
        .then(|| format!("arn:{partition}:lambda:{region}:{account}:event-source-mapping:{uuid}"))
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

pub fn shrink(mapping: &ObservedMapping) -> Option<String> {
    let Value::Object(mut map) = serde_json::to_value(mapping).ok()? else {
        return None;
    };
    let derived = text(&map, "FunctionArn").and_then(|f| mapping_arn(f, &mapping.uuid));
    if derived.is_some() && derived.as_deref() == text(&map, "EventSourceMappingArn") {
        // null: "the one its function ARN spells" (absent stays absent).
        map.insert("EventSourceMappingArn".into(), Value::Null);
    }
    let short: Map<String, Value> = map
        .into_iter()
        .map(|(key, value)| match KEYS.iter().position(|k| *k == key) {
            Some(index) => (index.to_string(), value),
            None => (key, value),
        })
        .collect();
    serde_json::to_string(&short).ok()
}

pub fn expand(stored: &str) -> Option<ObservedMapping> {
    let Value::Object(short) = serde_json::from_str(stored).ok()? else {
        return None;
    };
    let mut map: Map<String, Value> = short
        .into_iter()
        .map(
            |(key, value)| match key.parse::<usize>().ok().and_then(|i| KEYS.get(i)) {
                Some(long) => (long.to_string(), value),
                None => (key, value),
            },
        )
        .collect();
    if map.get("EventSourceMappingArn") == Some(&Value::Null)
        && let Some(arn) = text(&map, "FunctionArn")
            .zip(text(&map, "UUID"))
            .and_then(|(f, uuid)| mapping_arn(f, uuid))
    {
        map.insert("EventSourceMappingArn".into(), Value::String(arn));
    }
    serde_json::from_value(Value::Object(map)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(uuid: &str, state: &str, modified: f64) -> ObservedMapping {
        serde_json::from_value(
            serde_json::json!({"UUID": uuid, "State": state, "LastModified": modified}),
        )
        .unwrap()
    }

    #[test]
    fn the_stored_form_is_smaller_and_gives_back_the_same_mapping() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:9004e89c-a6bc-4b81-8f2f-c6bf6a60d4d7";
        let full: ObservedMapping = serde_json::from_value(serde_json::json!({
            "UUID": "9004e89c-a6bc-4b81-8f2f-c6bf6a60d4d7",
            "EventSourceMappingArn": arn,
            "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:bench-handler",
            "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:bench-q-00010",
            "State": "Enabled", "StateTransitionReason": "USER_INITIATED",
            "LastModified": 1795264669.005, "LastProcessingResult": "No records processed",
            "BatchSize": 5, "MaximumBatchingWindowInSeconds": 0,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 5},
            "FilterCriteria": {"Filters": [{"Pattern": "{\"a\":[1]}"}]},
            "SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["b:9092"]}},
            "Tags": {"3": "a tag key that looks like a compact key", "team": "x"}
        }))
        .unwrap();
        let mut no_arn = full.clone();
        no_arn.arn = None;
        let mut other_arn = full.clone();
        other_arn.arn = Some("arn:aws:lambda:eu-west-1:999999999999:event-source-mapping:x".into());
        let mut no_function = full.clone();
        no_function.function_arn = None;
        for mapping in [
            full.clone(),
            no_arn,
            other_arn,
            no_function,
            mapping("a", "Creating", 1.0),
        ] {
            let stored = shrink(&mapping).unwrap();
            assert_eq!(expand(&stored).as_ref(), Some(&mapping), "{stored}");
        }
        let plain = serde_json::to_string(&full).unwrap().len();
        let stored = shrink(&full).unwrap().len();
        assert!(
            stored * 10 < plain * 7,
            "{stored} bytes stored for {plain} of JSON"
        );
    }
}
