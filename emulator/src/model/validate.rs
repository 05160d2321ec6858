//! Request validation (semantics doc §2.1 and §3).
//!
//! Validation runs in three passes, each with Lambda's `InvalidParameterValueException`:
//!
//! 1. [`parse_request`]: types, ranges, enums and lengths of every field, independent of the
//!    source type. Produces normalised wire JSON for each field that was sent.
//! 2. [`check_fields_apply`]: every field that was *sent* must be supported by the source type
//!    (e.g. `ParallelizationFactor` only for Kinesis/DynamoDB).
//! 3. [`check_merged`]: cross-field rules on the configuration as it would be *after* the
//!    request (Update merges into the existing mapping first), plus Create-only requirements.
//!
//! Error messages name the wire field (`BatchSize`, `FilterCriteria.Filters.1.Pattern`, …).

use std::collections::BTreeMap;
use std::fmt::Display;

use serde_json::{Map, Value, json};

use super::error::{ApiError, ApiResult};
use super::source::{SourceKind, parse_arn};

/// Lambda's limit on tags per resource.
pub(crate) const MAX_TAGS: usize = 50;

/// Which request shape is being validated. Update has fewer fields: the Create-only ones
/// (`EventSourceArn`, `StartingPosition`, `StartingPositionTimestamp`, `Topics`, `Queues`,
/// `SelfManagedEventSource`, `Tags`) are not part of it and are ignored like any unknown field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Create,
    Update,
}

/// A validated request body.
#[derive(Debug, Default)]
pub(crate) struct ParsedRequest {
    pub function_name: Option<String>,
    pub enabled: Option<bool>,
    pub event_source_arn: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    /// Configuration fields present in the request (wire names), normalised.
    pub fields: Map<String, Value>,
}

pub(crate) const SOURCE_ACCESS_TYPES: &[&str] = &[
    "BASIC_AUTH",
    "VPC_SUBNET",
    "VPC_SECURITY_GROUP",
    "SASL_SCRAM_256_AUTH",
    "SASL_SCRAM_512_AUTH",
    "VIRTUAL_HOST",
    "CLIENT_CERTIFICATE_TLS_AUTH",
    "SERVER_ROOT_CA_CERTIFICATE",
    "IAM_AUTH",
    "IAM_OAUTHBEARER_AUTH",
    "OAUTHBEARER_AUTH",
    "OAUTHBEARER_SCOPE",
    "OAUTHBEARER_AUDIENCE",
    "OAUTHBEARER_LOGICAL_CLUSTER",
    "OAUTHBEARER_IDENTITY_POOL",
];

/// Source-access types that authenticate by IAM and carry no `URI`.
const URI_LESS_ACCESS_TYPES: &[&str] = &["IAM_AUTH", "IAM_OAUTHBEARER_AUTH"];

// ---------------------------------------------------------------------------------------------
// Small typed accessors with Lambda-style messages.

fn constraint(value: impl Display, path: &str, rule: impl Display) -> ApiError {
    ApiError::invalid_parameter(format!(
        "1 validation error detected: Value '{value}' at '{path}' failed to satisfy \
         constraint: {rule}"
    ))
}

fn wrong_type(path: &str, expected: &str) -> ApiError {
    ApiError::invalid_parameter(format!(
        "Invalid type for parameter {path}: expected {expected}."
    ))
}

fn missing(path: &str) -> ApiError {
    ApiError::invalid_parameter(format!(
        "1 validation error detected: Value null at '{path}' failed to satisfy constraint: \
         Member must not be null"
    ))
}

/// A member of a JSON object; an explicit `null` counts as absent.
pub(crate) fn member<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn required<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> ApiResult<&'a Value> {
    member(obj, key).ok_or_else(|| missing(path))
}

fn object<'a>(v: &'a Value, path: &str) -> ApiResult<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| wrong_type(path, "a structure"))
}

fn int(v: &Value, path: &str, min: i64, max: i64) -> ApiResult<i64> {
    let n = v.as_i64().ok_or_else(|| wrong_type(path, "an integer"))?;
    if n < min {
        return Err(constraint(
            n,
            path,
            format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(constraint(
            n,
            path,
            format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(n)
}

fn boolean(v: &Value, path: &str) -> ApiResult<bool> {
    v.as_bool().ok_or_else(|| wrong_type(path, "a boolean"))
}

fn string<'a>(v: &'a Value, path: &str, min: usize, max: usize) -> ApiResult<&'a str> {
    let s = v.as_str().ok_or_else(|| wrong_type(path, "a string"))?;
    let len = s.chars().count();
    if len < min {
        return Err(constraint(
            s,
            path,
            format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if len > max {
        return Err(constraint(
            s,
            path,
            format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(s)
}

fn one_of<'a>(v: &'a Value, path: &str, allowed: &[&str]) -> ApiResult<&'a str> {
    let s = v.as_str().ok_or_else(|| wrong_type(path, "a string"))?;
    if allowed.contains(&s) {
        Ok(s)
    } else {
        Err(constraint(
            s,
            path,
            format!(
                "Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            ),
        ))
    }
}

fn array<'a>(v: &'a Value, path: &str, min: usize, max: usize) -> ApiResult<&'a Vec<Value>> {
    let list = v.as_array().ok_or_else(|| wrong_type(path, "a list"))?;
    if list.len() < min {
        return Err(constraint(
            format!("{list:?}"),
            path,
            format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if list.len() > max {
        return Err(constraint(
            Value::Array(list.clone()),
            path,
            format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(list)
}

fn chars_match(s: &str, extra: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

// ---------------------------------------------------------------------------------------------
// Pass 1: syntax of each field.

/// Validates the body of a Create or Update request. Unknown fields are ignored (Lambda's
/// JSON deserializer ignores them too); so are fields that the operation's shape lacks.
pub(crate) fn parse_request(
    body: &Value,
    mode: Mode,
    max_filters: usize,
) -> ApiResult<ParsedRequest> {
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::invalid_parameter("The request body must be a JSON object."))?;
    let create = mode == Mode::Create;
    let mut req = ParsedRequest::default();
    for (key, value) in obj {
        if value.is_null() {
            continue;
        }
        let k = key.as_str();
        let normalised = match k {
            "FunctionName" => {
                req.function_name = Some(string(value, k, 1, 256)?.to_owned());
                continue;
            }
            "Enabled" => {
                req.enabled = Some(boolean(value, k)?);
                continue;
            }
            "EventSourceArn" if create => {
                req.event_source_arn = Some(string(value, k, 12, 10_000)?.to_owned());
                continue;
            }
            "Tags" if create => {
                req.tags = Some(parse_tags(value)?);
                continue;
            }
            "BatchSize" => json!(int(value, k, 1, 10_000)?),
            "FilterCriteria" => parse_filter_criteria(value, max_filters)?,
            "KMSKeyArn" => parse_kms_key_arn(value)?,
            "MetricsConfig" => parse_metrics_config(value)?,
            "LoggingConfig" => parse_logging_config(value)?,
            "ScalingConfig" => parse_scaling_config(value)?,
            "MaximumBatchingWindowInSeconds" => json!(int(value, k, 0, 300)?),
            "ParallelizationFactor" => json!(int(value, k, 1, 10)?),
            "StartingPosition" if create => {
                json!(one_of(
                    value,
                    k,
                    &["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"]
                )?)
            }
            "StartingPositionTimestamp" if create => {
                if !value.is_number() {
                    return Err(wrong_type(k, "a timestamp (epoch seconds)"));
                }
                value.clone()
            }
            "DestinationConfig" => parse_destination_config(value)?,
            // Model range is -1..=604800; R3 (only -1 or 60..) is checked in pass 3.
            "MaximumRecordAgeInSeconds" => json!(int(value, k, -1, 604_800)?),
            "BisectBatchOnFunctionError" => json!(boolean(value, k)?),
            "MaximumRetryAttempts" => json!(int(value, k, -1, 10_000)?),
            "TumblingWindowInSeconds" => json!(int(value, k, 0, 900)?),
            "Topics" if create => parse_topics(value)?,
            "Queues" if create => parse_queues(value)?,
            "SourceAccessConfigurations" => parse_source_access_configurations(value, mode)?,
            "SelfManagedEventSource" if create => parse_self_managed_event_source(value)?,
            "FunctionResponseTypes" => {
                let list = array(value, k, 0, 1)?;
                for (i, t) in list.iter().enumerate() {
                    one_of(t, &format!("{k}.{}", i + 1), &["ReportBatchItemFailures"])?;
                }
                value.clone()
            }
            "AmazonManagedKafkaEventSourceConfig" => parse_kafka_config(value, k, false)?,
            "SelfManagedKafkaEventSourceConfig" => parse_kafka_config(value, k, true)?,
            "DocumentDBEventSourceConfig" => parse_document_db_config(value, mode)?,
            "ProvisionedPollerConfig" => parse_provisioned_poller_config(value)?,
            _ => continue,
        };
        req.fields.insert(key.clone(), normalised);
    }
    Ok(req)
}

/// `Tags`: key 1–128, value 0–256, characters `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, no `aws:` prefix,
/// at most 50. Shared by Create and TagResource.
pub(crate) fn parse_tags(value: &Value) -> ApiResult<BTreeMap<String, String>> {
    let obj = object(value, "Tags")?;
    let mut tags = BTreeMap::new();
    for (k, v) in obj {
        let v = v
            .as_str()
            .ok_or_else(|| wrong_type(&format!("Tags.{k}"), "a string"))?;
        tags.insert(k.clone(), v.to_owned());
    }
    validate_tags(&tags)?;
    Ok(tags)
}

pub(crate) fn validate_tags(tags: &BTreeMap<String, String>) -> ApiResult<()> {
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    if tags.len() > MAX_TAGS {
        return Err(ApiError::invalid_parameter(format!(
            "Tags: a resource can have at most {MAX_TAGS} tags, got {}.",
            tags.len()
        )));
    }
    for (k, v) in tags {
        let klen = k.chars().count();
        if klen == 0 || klen > 128 {
            return Err(constraint(
                k,
                "Tags.key",
                "Member must have length between 1 and 128",
            ));
        }
        if v.chars().count() > 256 {
            return Err(constraint(
                v,
                &format!("Tags.{k}"),
                "Member must have length less than or equal to 256",
            ));
        }
        if !k.chars().all(allowed) || !v.chars().all(allowed) {
            return Err(constraint(
                k,
                &format!("Tags.{k}"),
                "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(ApiError::invalid_parameter(format!(
                "Tags: the key '{k}' uses the reserved prefix 'aws:'."
            )));
        }
    }
    Ok(())
}

/// Normalised to `{"Filters":[{"Pattern":…}]}`, or `{}` when no filters (the "remove" form).
fn parse_filter_criteria(value: &Value, max_filters: usize) -> ApiResult<Value> {
    let obj = object(value, "FilterCriteria")?;
    let Some(filters) = member(obj, "Filters") else {
        return Ok(json!({}));
    };
    let list = filters
        .as_array()
        .ok_or_else(|| wrong_type("FilterCriteria.Filters", "a list"))?;
    if list.len() > max_filters {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid FilterCriteria.Filters: an event source mapping can have at most \
             {max_filters} filters, got {}.",
            list.len()
        )));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, filter) in list.iter().enumerate() {
        let path = format!("FilterCriteria.Filters.{}", i + 1);
        let filter = object(filter, &path)?;
        let pattern_path = format!("{path}.Pattern");
        let pattern = string(
            required(filter, "Pattern", &pattern_path)?,
            &pattern_path,
            0,
            4096,
        )?;
        match serde_json::from_str::<Value>(pattern) {
            Ok(Value::Object(_)) => {}
            _ => {
                return Err(ApiError::invalid_parameter(format!(
                    "Invalid filter pattern definition at {pattern_path}: the pattern must be \
                     a JSON object."
                )));
            }
        }
        out.push(json!({ "Pattern": pattern }));
    }
    Ok(if out.is_empty() {
        json!({})
    } else {
        json!({ "Filters": out })
    })
}

fn parse_kms_key_arn(value: &Value) -> ApiResult<Value> {
    let s = string(value, "KMSKeyArn", 0, 2048)?;
    if !s.is_empty() && !parse_arn(s).is_some_and(|a| a.service == "kms" && !a.resource.is_empty())
    {
        return Err(constraint(
            s,
            "KMSKeyArn",
            "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:kms:.*)|()",
        ));
    }
    Ok(json!(s))
}

/// Normalised to `{"Metrics":[…]}` (an empty list is the "remove" form).
fn parse_metrics_config(value: &Value) -> ApiResult<Value> {
    let obj = object(value, "MetricsConfig")?;
    let mut metrics = Vec::new();
    if let Some(list) = member(obj, "Metrics") {
        for (i, m) in array(list, "MetricsConfig.Metrics", 0, 3)?
            .iter()
            .enumerate()
        {
            let m = one_of(
                m,
                &format!("MetricsConfig.Metrics.{}", i + 1),
                &["EventCount", "ErrorCount", "KafkaMetrics"],
            )?;
            if !metrics.contains(&m) {
                metrics.push(m);
            }
        }
    }
    Ok(json!({ "Metrics": metrics }))
}

fn parse_logging_config(value: &Value) -> ApiResult<Value> {
    let obj = object(value, "LoggingConfig")?;
    Ok(match member(obj, "SystemLogLevel") {
        Some(level) => json!({
            "SystemLogLevel": one_of(level, "LoggingConfig.SystemLogLevel", &["DEBUG", "INFO", "WARN"])?
        }),
        None => json!({}),
    })
}

fn parse_scaling_config(value: &Value) -> ApiResult<Value> {
    let obj = object(value, "ScalingConfig")?;
    Ok(match member(obj, "MaximumConcurrency") {
        Some(n) => json!({
            "MaximumConcurrency": int(n, "ScalingConfig.MaximumConcurrency", 2, 1000)?
        }),
        None => json!({}),
    })
}

/// Normalised to `{"OnFailure":{"Destination":…}}`, or the `{"OnFailure":{}}` husk when no
/// destination (the "remove" form).
fn parse_destination_config(value: &Value) -> ApiResult<Value> {
    let obj = object(value, "DestinationConfig")?;
    if member(obj, "OnSuccess").is_some() {
        return Err(ApiError::invalid_parameter(
            "Unsupported DestinationConfig.OnSuccess parameter: event source mappings only \
             support an OnFailure destination.",
        ));
    }
    let destination = match member(obj, "OnFailure") {
        Some(on_failure) => {
            let on_failure = object(on_failure, "DestinationConfig.OnFailure")?;
            match member(on_failure, "Destination") {
                Some(d) => string(d, "DestinationConfig.OnFailure.Destination", 0, 350)?,
                None => "",
            }
        }
        None => "",
    };
    if destination.is_empty() {
        return Ok(json!({ "OnFailure": {} }));
    }
    let valid = match destination.strip_prefix("kafka://") {
        Some(topic) => !topic.is_empty(),
        None => parse_arn(destination)
            .is_some_and(|a| matches!(a.service, "sqs" | "sns" | "s3") && !a.resource.is_empty()),
    };
    if !valid {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid DestinationConfig.OnFailure.Destination '{destination}': the destination \
             must be an Amazon SQS queue, Amazon SNS topic or Amazon S3 bucket ARN, or a \
             kafka://<topic> for Kafka event sources."
        )));
    }
    Ok(json!({ "OnFailure": { "Destination": destination } }))
}

/// Kafka topic names: exactly one, 1–249 chars, `^[^.]([a-zA-Z0-9\-_.]+)`.
fn parse_topics(value: &Value) -> ApiResult<Value> {
    let list = array(value, "Topics", 1, 1)?;
    let topic = string(&list[0], "Topics.1", 1, 249)?;
    if topic.starts_with('.') || !chars_match(topic, "-_.") {
        return Err(constraint(
            topic,
            "Topics.1",
            "Member must satisfy regular expression pattern: ^[^.]([a-zA-Z0-9\\-_.]+)",
        ));
    }
    Ok(value.clone())
}

/// MQ queue names: exactly one, 1–1000 chars, `[\s\S]*`.
fn parse_queues(value: &Value) -> ApiResult<Value> {
    let list = array(value, "Queues", 1, 1)?;
    string(&list[0], "Queues.1", 1, 1000)?;
    Ok(value.clone())
}

fn parse_source_access_configurations(value: &Value, mode: Mode) -> ApiResult<Value> {
    let list = array(value, "SourceAccessConfigurations", 0, 23)?;
    let mut out = Vec::with_capacity(list.len());
    let mut types = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let path = format!("SourceAccessConfigurations.{}", i + 1);
        let entry = object(entry, &path)?;
        let type_path = format!("{path}.Type");
        let access_type = one_of(
            required(entry, "Type", &type_path)?,
            &type_path,
            SOURCE_ACCESS_TYPES,
        )?;
        if access_type == "VIRTUAL_HOST" && mode == Mode::Update {
            // R16: the RabbitMQ virtual host is fixed at creation.
            return Err(ApiError::invalid_parameter(
                "Unsupported SourceAccessConfigurations Type VIRTUAL_HOST in an update: the \
                 virtual host of an event source mapping cannot be changed.",
            ));
        }
        let uri_path = format!("{path}.URI");
        let uri = member(entry, "URI");
        let normalised = if URI_LESS_ACCESS_TYPES.contains(&access_type) {
            if uri.is_some() {
                return Err(ApiError::invalid_parameter(format!(
                    "Invalid {uri_path}: SourceAccessConfigurations of Type {access_type} take no URI."
                )));
            }
            json!({ "Type": access_type })
        } else {
            let uri = string(required(entry, "URI", &uri_path)?, &uri_path, 1, 200)?;
            json!({ "Type": access_type, "URI": uri })
        };
        types.push(access_type);
        out.push(normalised);
    }
    // R16: the OAuth helper entries only make sense next to the entry they refine.
    for dependent in [
        "OAUTHBEARER_SCOPE",
        "OAUTHBEARER_LOGICAL_CLUSTER",
        "OAUTHBEARER_IDENTITY_POOL",
    ] {
        if types.contains(&dependent) && !types.contains(&"OAUTHBEARER_AUTH") {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid SourceAccessConfigurations: Type {dependent} requires an \
                 OAUTHBEARER_AUTH entry."
            )));
        }
    }
    if types.contains(&"IAM_OAUTHBEARER_AUTH") && !types.contains(&"OAUTHBEARER_AUDIENCE") {
        return Err(ApiError::invalid_parameter(
            "Invalid SourceAccessConfigurations: Type IAM_OAUTHBEARER_AUTH requires an \
             OAUTHBEARER_AUDIENCE entry.",
        ));
    }
    Ok(Value::Array(out))
}

/// `{Endpoints:{KAFKA_BOOTSTRAP_SERVERS:[1–10 "host:port"]}}`; Lambda returns the brokers sorted.
fn parse_self_managed_event_source(value: &Value) -> ApiResult<Value> {
    let obj = object(value, "SelfManagedEventSource")?;
    let endpoints = object(
        required(obj, "Endpoints", "SelfManagedEventSource.Endpoints")?,
        "SelfManagedEventSource.Endpoints",
    )?;
    if endpoints.is_empty() || endpoints.len() > 2 {
        return Err(constraint(
            Value::Object(endpoints.clone()),
            "SelfManagedEventSource.Endpoints",
            "Member must have between 1 and 2 entries",
        ));
    }
    let mut out = Map::new();
    for (key, servers) in endpoints {
        let path = format!("SelfManagedEventSource.Endpoints.{key}");
        one_of(
            &Value::String(key.clone()),
            "SelfManagedEventSource.Endpoints.key",
            &["KAFKA_BOOTSTRAP_SERVERS"],
        )?;
        let list = array(servers, &path, 1, 10)?;
        let mut brokers = Vec::with_capacity(list.len());
        for (i, server) in list.iter().enumerate() {
            let server_path = format!("{path}.{}", i + 1);
            let server = string(server, &server_path, 1, 300)?;
            let well_formed = server
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !well_formed {
                return Err(constraint(
                    server,
                    &server_path,
                    "Member must be a broker address of the form host:port",
                ));
            }
            brokers.push(server.to_owned());
        }
        brokers.sort();
        out.insert(key.clone(), json!(brokers));
    }
    Ok(json!({ "Endpoints": out }))
}

/// Amazon MSK / self-managed Kafka config. `ConsumptionMode` exists only in the SMK shape.
fn parse_kafka_config(value: &Value, field: &str, self_managed: bool) -> ApiResult<Value> {
    let obj = object(value, field)?;
    let mut out = Map::new();
    if let Some(id) = member(obj, "ConsumerGroupId") {
        let path = format!("{field}.ConsumerGroupId");
        let id = string(id, &path, 1, 200)?;
        if !chars_match(id, "-/*:_+=.@") {
            return Err(constraint(
                id,
                &path,
                "Member must satisfy regular expression pattern: [a-zA-Z0-9-\\/*:_+=.@-]*",
            ));
        }
        out.insert("ConsumerGroupId".into(), json!(id));
    }
    if let Some(registry) = member(obj, "SchemaRegistryConfig") {
        out.insert(
            "SchemaRegistryConfig".into(),
            parse_schema_registry_config(registry, &format!("{field}.SchemaRegistryConfig"))?,
        );
    }
    if self_managed && let Some(mode) = member(obj, "ConsumptionMode") {
        out.insert(
            "ConsumptionMode".into(),
            json!(one_of(
                mode,
                &format!("{field}.ConsumptionMode"),
                &["Stream", "Queue"]
            )?),
        );
    }
    Ok(Value::Object(out))
}

fn parse_schema_registry_config(value: &Value, path: &str) -> ApiResult<Value> {
    let obj = object(value, path)?;
    let mut out = Map::new();
    let uri_path = format!("{path}.SchemaRegistryURI");
    let uri = string(
        required(obj, "SchemaRegistryURI", &uri_path)?,
        &uri_path,
        1,
        10_000,
    )?;
    out.insert("SchemaRegistryURI".into(), json!(uri));
    if let Some(format) = member(obj, "EventRecordFormat") {
        out.insert(
            "EventRecordFormat".into(),
            json!(one_of(
                format,
                &format!("{path}.EventRecordFormat"),
                &["JSON", "SOURCE"]
            )?),
        );
    }
    if let Some(configs) = member(obj, "AccessConfigs") {
        let list_path = format!("{path}.AccessConfigs");
        let mut list = Vec::new();
        for (i, c) in array(configs, &list_path, 0, usize::MAX)?
            .iter()
            .enumerate()
        {
            let item_path = format!("{list_path}.{}", i + 1);
            let c = object(c, &item_path)?;
            let mut item = Map::new();
            if let Some(t) = member(c, "Type") {
                item.insert(
                    "Type".into(),
                    json!(one_of(
                        t,
                        &format!("{item_path}.Type"),
                        &[
                            "BASIC_AUTH",
                            "CLIENT_CERTIFICATE_TLS_AUTH",
                            "SERVER_ROOT_CA_CERTIFICATE",
                            "OAUTHBEARER_AUTH"
                        ]
                    )?),
                );
            }
            if let Some(u) = member(c, "URI") {
                item.insert(
                    "URI".into(),
                    json!(string(u, &format!("{item_path}.URI"), 1, 200)?),
                );
            }
            list.push(Value::Object(item));
        }
        out.insert("AccessConfigs".into(), Value::Array(list));
    }
    if let Some(configs) = member(obj, "SchemaValidationConfigs") {
        let list_path = format!("{path}.SchemaValidationConfigs");
        let mut list = Vec::new();
        for (i, c) in array(configs, &list_path, 0, usize::MAX)?
            .iter()
            .enumerate()
        {
            let item_path = format!("{list_path}.{}", i + 1);
            let c = object(c, &item_path)?;
            let mut item = Map::new();
            if let Some(a) = member(c, "Attribute") {
                item.insert(
                    "Attribute".into(),
                    json!(one_of(
                        a,
                        &format!("{item_path}.Attribute"),
                        &["KEY", "VALUE"]
                    )?),
                );
            }
            list.push(Value::Object(item));
        }
        out.insert("SchemaValidationConfigs".into(), Value::Array(list));
    }
    Ok(Value::Object(out))
}

/// DocumentDB config; `FullDocument` defaults to `Default`. Create needs `DatabaseName`; an
/// Update may leave it (and `CollectionName`) out, and must not change them (see
/// `wire::apply_fields`).
fn parse_document_db_config(value: &Value, mode: Mode) -> ApiResult<Value> {
    let field = "DocumentDBEventSourceConfig";
    let obj = object(value, field)?;
    let db_path = format!("{field}.DatabaseName");
    let mut out = Map::new();
    let database = match (member(obj, "DatabaseName"), mode) {
        (Some(v), _) => Some(v),
        (None, Mode::Create) => Some(required(obj, "DatabaseName", &db_path)?),
        (None, Mode::Update) => None,
    };
    if let Some(database) = database {
        out.insert(
            "DatabaseName".into(),
            json!(string(database, &db_path, 1, 63)?),
        );
    }
    if let Some(c) = member(obj, "CollectionName") {
        out.insert(
            "CollectionName".into(),
            json!(string(c, &format!("{field}.CollectionName"), 1, 57)?),
        );
    }
    let full_document = match member(obj, "FullDocument") {
        Some(f) => one_of(
            f,
            &format!("{field}.FullDocument"),
            &["UpdateLookup", "Default"],
        )?,
        None => "Default",
    };
    out.insert("FullDocument".into(), json!(full_document));
    Ok(Value::Object(out))
}

/// Bounds only; per-source defaults and rules (R12) come later.
fn parse_provisioned_poller_config(value: &Value) -> ApiResult<Value> {
    let field = "ProvisionedPollerConfig";
    let obj = object(value, field)?;
    let mut out = Map::new();
    if let Some(n) = member(obj, "MinimumPollers") {
        out.insert(
            "MinimumPollers".into(),
            json!(int(n, &format!("{field}.MinimumPollers"), 1, 200)?),
        );
    }
    if let Some(n) = member(obj, "MaximumPollers") {
        out.insert(
            "MaximumPollers".into(),
            json!(int(n, &format!("{field}.MaximumPollers"), 1, 10_000)?),
        );
    }
    if let Some(name) = member(obj, "PollerGroupName") {
        let path = format!("{field}.PollerGroupName");
        let name = string(name, &path, 0, 128)?;
        if !chars_match(name, "-_") {
            return Err(constraint(
                name,
                &path,
                "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]*",
            ));
        }
        out.insert("PollerGroupName".into(), json!(name));
    }
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------------------------------------
// Pass 2: which fields a source type supports.

/// Whether a request field is supported by a source type (doc §2.1 "Sources" column).
pub(crate) fn field_applies(kind: SourceKind, field: &str) -> bool {
    use SourceKind::*;
    let stream_or_kafka = kind.is_stream() || kind.is_kafka();
    match field {
        "BatchSize" | "MetricsConfig" | "KMSKeyArn" => true,
        "FilterCriteria" => kind != DocumentDb,
        "LoggingConfig" => kind.is_kafka(),
        "ScalingConfig" => kind.is_sqs(),
        // R2: FIFO queues take no batching window at all.
        "MaximumBatchingWindowInSeconds" => kind != SqsFifo,
        "ParallelizationFactor" | "TumblingWindowInSeconds" => kind.is_stream(),
        "StartingPosition" | "StartingPositionTimestamp" => stream_or_kafka || kind == DocumentDb,
        "DestinationConfig"
        | "MaximumRecordAgeInSeconds"
        | "BisectBatchOnFunctionError"
        | "MaximumRetryAttempts" => stream_or_kafka,
        "Topics" => kind.is_kafka(),
        "Queues" => kind == Mq,
        "SourceAccessConfigurations" => matches!(kind, Mq | Msk | SelfManagedKafka | DocumentDb),
        "SelfManagedEventSource" | "SelfManagedKafkaEventSourceConfig" => kind == SelfManagedKafka,
        "FunctionResponseTypes" => stream_or_kafka || kind.is_sqs(),
        "AmazonManagedKafkaEventSourceConfig" => kind == Msk,
        "DocumentDBEventSourceConfig" => kind == DocumentDb,
        "ProvisionedPollerConfig" => kind.is_sqs() || kind.is_kafka(),
        _ => true,
    }
}

/// Source-access types each source supports.
fn access_type_applies(kind: SourceKind, access_type: &str) -> bool {
    match kind {
        SourceKind::Mq => matches!(access_type, "BASIC_AUTH" | "VIRTUAL_HOST"),
        SourceKind::Msk => matches!(
            access_type,
            "SASL_SCRAM_512_AUTH" | "CLIENT_CERTIFICATE_TLS_AUTH"
        ),
        SourceKind::DocumentDb => access_type == "BASIC_AUTH",
        SourceKind::SelfManagedKafka => access_type != "VIRTUAL_HOST",
        _ => false,
    }
}

fn unsupported(field: &str, kind: SourceKind) -> ApiError {
    ApiError::invalid_parameter(format!(
        "Unsupported {field} parameter for given event source mapping type: {} event sources \
         do not support {field}.",
        kind.label()
    ))
}

/// Pass 2: rejects fields (and values) the source type does not support.
pub(crate) fn check_fields_apply(kind: SourceKind, fields: &Map<String, Value>) -> ApiResult<()> {
    for key in fields.keys() {
        if !field_applies(kind, key) {
            return Err(unsupported(key, kind));
        }
    }
    if let Some(metrics) = fields
        .get("MetricsConfig")
        .and_then(|m| m.get("Metrics"))
        .and_then(Value::as_array)
    {
        for m in metrics.iter().filter_map(Value::as_str) {
            if m != "EventCount" && !kind.is_kafka() {
                // R10: ErrorCount / KafkaMetrics exist only for Kafka sources.
                return Err(ApiError::invalid_parameter(format!(
                    "Unsupported MetricsConfig.Metrics value {m} for {} event sources: only \
                     EventCount is supported.",
                    kind.label()
                )));
            }
        }
    }
    if let Some(destination) = fields
        .get("DestinationConfig")
        .and_then(|d| d.pointer("/OnFailure/Destination"))
        .and_then(Value::as_str)
        && destination.starts_with("kafka://")
        && !kind.is_kafka()
    {
        // R13: a Kafka topic destination only makes sense for Kafka sources.
        return Err(ApiError::invalid_parameter(format!(
            "Invalid DestinationConfig.OnFailure.Destination '{destination}': kafka:// \
             destinations are only supported for Kafka event sources."
        )));
    }
    if let Some(list) = fields
        .get("SourceAccessConfigurations")
        .and_then(Value::as_array)
    {
        for t in list
            .iter()
            .filter_map(|e| e.get("Type"))
            .filter_map(Value::as_str)
        {
            if !access_type_applies(kind, t) {
                return Err(ApiError::invalid_parameter(format!(
                    "Unsupported SourceAccessConfigurations Type {t} for {} event sources.",
                    kind.label()
                )));
            }
        }
    }
    if fields
        .get("ProvisionedPollerConfig")
        .is_some_and(|p| p.get("PollerGroupName").is_some())
        && !kind.is_kafka()
    {
        return Err(ApiError::invalid_parameter(
            "Unsupported ProvisionedPollerConfig.PollerGroupName: poller groups are only \
             supported for Kafka event sources.",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Pass 3: cross-field rules on the resulting configuration.

fn get_i64(config: &Map<String, Value>, key: &str) -> Option<i64> {
    config.get(key).and_then(Value::as_i64)
}

/// Kafka `ConsumptionMode=Queue` (R8).
pub(crate) fn is_kafka_queue_mode(config: &Map<String, Value>) -> bool {
    config
        .get("SelfManagedKafkaEventSourceConfig")
        .and_then(|c| c.get("ConsumptionMode"))
        .and_then(Value::as_str)
        == Some("Queue")
}

/// Pass 3. `request` holds the fields that were sent, `merged` the configuration the mapping
/// would have afterwards, `now_epoch_seconds` the model's wall clock.
pub(crate) fn check_merged(
    kind: SourceKind,
    mode: Mode,
    request: &Map<String, Value>,
    merged: &Map<String, Value>,
    now_epoch_seconds: f64,
) -> ApiResult<()> {
    let batch_size = get_i64(merged, "BatchSize");
    let window = get_i64(merged, "MaximumBatchingWindowInSeconds");

    // R1 (SQS standard only, per the doc's safe reading).
    if kind == SourceKind::Sqs && batch_size.is_some_and(|b| b > 10) && window.unwrap_or(0) < 1 {
        return Err(ApiError::invalid_parameter(
            "Maximum batch window in seconds (MaximumBatchingWindowInSeconds) must be greater \
             than 0 if maximum batch size (BatchSize) is greater than 10 for SQS event sources.",
        ));
    }
    // R2.
    if kind == SourceKind::SqsFifo && batch_size.is_some_and(|b| b > 10) {
        return Err(ApiError::invalid_parameter(
            "BatchSize must be less than or equal to 10 for SQS FIFO queues.",
        ));
    }
    // R3.
    if let Some(age) = get_i64(request, "MaximumRecordAgeInSeconds")
        && age != -1
        && age < 60
    {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid MaximumRecordAgeInSeconds {age}: the value must be -1 (infinite) or \
             between 60 and 604800 seconds."
        )));
    }

    let queue_mode = is_kafka_queue_mode(merged);
    // R8.
    if queue_mode {
        for field in [
            "MaximumBatchingWindowInSeconds",
            "StartingPosition",
            "StartingPositionTimestamp",
        ] {
            if request.contains_key(field) {
                return Err(ApiError::invalid_parameter(format!(
                    "Unsupported {field} parameter: Kafka event source mappings in Queue \
                     consumption mode do not support {field}."
                )));
            }
        }
    }

    if mode == Mode::Create {
        check_create_requirements(kind, request, queue_mode, now_epoch_seconds)?;
    }

    // R10.
    if merged.contains_key("LoggingConfig") && !merged.contains_key("ProvisionedPollerConfig") {
        return Err(ApiError::invalid_parameter(
            "LoggingConfig is only supported for Kafka event source mappings in provisioned \
             mode (set ProvisionedPollerConfig).",
        ));
    }
    // R11.
    if kind.is_sqs()
        && merged.contains_key("ScalingConfig")
        && merged.contains_key("ProvisionedPollerConfig")
    {
        return Err(ApiError::invalid_parameter(
            "ScalingConfig.MaximumConcurrency and ProvisionedPollerConfig cannot be used \
             together on an SQS event source mapping.",
        ));
    }
    // R12.
    if let Some(poller) = merged
        .get("ProvisionedPollerConfig")
        .and_then(Value::as_object)
    {
        let min = poller
            .get("MinimumPollers")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let max = poller
            .get("MaximumPollers")
            .and_then(Value::as_i64)
            .unwrap_or(min);
        if max < min {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid ProvisionedPollerConfig: MaximumPollers ({max}) must be greater than \
                 or equal to MinimumPollers ({min})."
            )));
        }
        if kind.is_sqs() && min < 2 {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid ProvisionedPollerConfig.MinimumPollers {min}: SQS event sources need \
                 at least 2 pollers."
            )));
        }
        // SQS: the parameter table's 2000, stricter than the model's 10000 (ambiguous in the
        // docs). Kafka: 2000.
        if max > 2000 {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid ProvisionedPollerConfig.MaximumPollers {max}: the maximum for {} \
                 event sources is 2000.",
                kind.label()
            )));
        }
    }
    Ok(())
}

/// Create-only requirements: R4, R5, R17 and the DocumentDB config.
fn check_create_requirements(
    kind: SourceKind,
    request: &Map<String, Value>,
    queue_mode: bool,
    now_epoch_seconds: f64,
) -> ApiResult<()> {
    let position = request.get("StartingPosition").and_then(Value::as_str);
    let needs_position = (kind.is_stream() || kind.is_kafka()) && !queue_mode;
    if needs_position && position.is_none() {
        return Err(ApiError::invalid_parameter(format!(
            "StartingPosition is required for {} event sources.",
            kind.label()
        )));
    }
    if position == Some("AT_TIMESTAMP") && kind == SourceKind::DynamoDbStreams {
        return Err(ApiError::invalid_parameter(
            "Unsupported StartingPosition AT_TIMESTAMP for DynamoDB Streams event sources: use \
             TRIM_HORIZON or LATEST.",
        ));
    }
    let timestamp = request
        .get("StartingPositionTimestamp")
        .and_then(Value::as_f64);
    match (position, timestamp) {
        (Some("AT_TIMESTAMP"), None) => {
            return Err(ApiError::invalid_parameter(
                "StartingPositionTimestamp is required when StartingPosition is AT_TIMESTAMP.",
            ));
        }
        (Some("AT_TIMESTAMP"), Some(ts)) if ts > now_epoch_seconds => {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid StartingPositionTimestamp {ts}: the timestamp cannot be in the future."
            )));
        }
        (p, Some(_)) if p != Some("AT_TIMESTAMP") => {
            return Err(ApiError::invalid_parameter(
                "StartingPositionTimestamp is only allowed when StartingPosition is AT_TIMESTAMP.",
            ));
        }
        _ => {}
    }
    if kind.is_kafka() && !request.contains_key("Topics") {
        return Err(ApiError::invalid_parameter(
            "Topics is required for Kafka event sources: specify exactly one topic.",
        ));
    }
    if kind == SourceKind::Mq && !request.contains_key("Queues") {
        return Err(ApiError::invalid_parameter(
            "Queues is required for Amazon MQ event sources: specify exactly one queue.",
        ));
    }
    if kind == SourceKind::DocumentDb && !request.contains_key("DocumentDBEventSourceConfig") {
        return Err(ApiError::invalid_parameter(
            "DocumentDBEventSourceConfig with a DatabaseName is required for Amazon DocumentDB \
             event sources.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: Value) -> ApiResult<ParsedRequest> {
        parse_request(&body, Mode::Create, 5)
    }

    #[test]
    fn ranges_are_enforced_and_name_the_field() {
        for (field, bad) in [
            ("BatchSize", json!(0)),
            ("BatchSize", json!(10_001)),
            ("MaximumBatchingWindowInSeconds", json!(301)),
            ("ParallelizationFactor", json!(11)),
            ("MaximumRecordAgeInSeconds", json!(604_801)),
            ("MaximumRetryAttempts", json!(-2)),
            ("TumblingWindowInSeconds", json!(901)),
        ] {
            let err = parse(json!({ field: bad })).unwrap_err();
            assert_eq!(err.code, "InvalidParameterValueException");
            assert!(err.message.contains(field), "{field}: {}", err.message);
        }
    }

    #[test]
    fn wrong_types_are_rejected() {
        let err = parse(json!({"BatchSize": "ten"})).unwrap_err();
        assert!(err.message.contains("BatchSize"));
        let err = parse(json!({"Enabled": 1})).unwrap_err();
        assert!(err.message.contains("Enabled"));
    }

    #[test]
    fn unknown_fields_and_nulls_are_ignored() {
        let req = parse(json!({"Frobnicate": 1, "BatchSize": null, "UUID": "x"})).unwrap();
        assert!(req.fields.is_empty());
    }

    #[test]
    fn update_shape_ignores_create_only_fields() {
        let req = parse_request(
            &json!({"StartingPosition": "bogus", "Topics": [], "Tags": 5, "EventSourceArn": 1}),
            Mode::Update,
            5,
        )
        .unwrap();
        assert!(req.fields.is_empty());
        assert!(req.tags.is_none());
        assert!(req.event_source_arn.is_none());
    }

    #[test]
    fn filter_patterns_must_be_json_objects_within_limits() {
        let ok =
            parse(json!({"FilterCriteria": {"Filters": [{"Pattern": "{\"a\":[1]}"}]}})).unwrap();
        assert_eq!(
            ok.fields["FilterCriteria"]["Filters"][0]["Pattern"],
            "{\"a\":[1]}"
        );
        for pattern in ["not json", "[1]", ""] {
            let err =
                parse(json!({"FilterCriteria": {"Filters": [{"Pattern": pattern}]}})).unwrap_err();
            assert!(
                err.message.contains("FilterCriteria.Filters.1.Pattern"),
                "{}",
                err.message
            );
        }
        let long = format!("{{\"a\":\"{}\"}}", "x".repeat(4090));
        let err = parse(json!({"FilterCriteria": {"Filters": [{"Pattern": long}]}})).unwrap_err();
        assert!(err.message.contains("4096"));
        let six: Vec<Value> = (0..6)
            .map(|i| json!({"Pattern": format!("{{\"a\":[{i}]}}")}))
            .collect();
        let err = parse(json!({"FilterCriteria": {"Filters": six.clone()}})).unwrap_err();
        assert!(err.message.contains("at most 5 filters"));
        // The limit is a knob.
        assert!(
            parse_request(
                &json!({"FilterCriteria": {"Filters": six}}),
                Mode::Create,
                10
            )
            .is_ok()
        );
    }

    #[test]
    fn empty_filter_criteria_normalises_to_remove_form() {
        assert_eq!(
            parse(json!({"FilterCriteria": {}})).unwrap().fields["FilterCriteria"],
            json!({})
        );
        assert_eq!(
            parse(json!({"FilterCriteria": {"Filters": []}}))
                .unwrap()
                .fields["FilterCriteria"],
            json!({})
        );
    }

    #[test]
    fn on_success_destination_is_rejected() {
        let err = parse(json!({"DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:123456789012:q"}}}))
            .unwrap_err();
        assert!(err.message.contains("OnSuccess"));
    }

    #[test]
    fn destination_must_be_a_supported_target() {
        assert!(parse(json!({"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:dlq"}}})).is_ok());
        assert!(
            parse(json!({"DestinationConfig": {"OnFailure": {"Destination": "kafka://dlq"}}}))
                .is_ok()
        );
        let err = parse(json!({"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:lambda:us-east-1:123456789012:function:f"}}}))
            .unwrap_err();
        assert!(
            err.message
                .contains("DestinationConfig.OnFailure.Destination")
        );
    }

    #[test]
    fn topics_and_queues_hold_exactly_one() {
        assert!(parse(json!({"Topics": ["orders"]})).is_ok());
        assert!(
            parse(json!({"Topics": []}))
                .unwrap_err()
                .message
                .contains("Topics")
        );
        assert!(
            parse(json!({"Topics": ["a", "b"]}))
                .unwrap_err()
                .message
                .contains("Topics")
        );
        assert!(
            parse(json!({"Topics": [".hidden"]}))
                .unwrap_err()
                .message
                .contains("Topics.1")
        );
        assert!(
            parse(json!({"Queues": ["q1", "q2"]}))
                .unwrap_err()
                .message
                .contains("Queues")
        );
    }

    #[test]
    fn virtual_host_is_create_only() {
        let body = json!({"SourceAccessConfigurations": [{"Type": "VIRTUAL_HOST", "URI": "/vh"}]});
        assert!(parse_request(&body, Mode::Create, 5).is_ok());
        let err = parse_request(&body, Mode::Update, 5).unwrap_err();
        assert!(err.message.contains("VIRTUAL_HOST"));
    }

    #[test]
    fn source_access_dependencies() {
        let err = parse(
            json!({"SourceAccessConfigurations": [{"Type": "OAUTHBEARER_SCOPE", "URI": "s"}]}),
        )
        .unwrap_err();
        assert!(err.message.contains("OAUTHBEARER_AUTH"));
        let err = parse(json!({"SourceAccessConfigurations": [{"Type": "IAM_OAUTHBEARER_AUTH"}]}))
            .unwrap_err();
        assert!(err.message.contains("OAUTHBEARER_AUDIENCE"));
        let err = parse(json!({"SourceAccessConfigurations": [{"Type": "IAM_AUTH", "URI": "x"}]}))
            .unwrap_err();
        assert!(err.message.contains("no URI"));
        let err =
            parse(json!({"SourceAccessConfigurations": [{"Type": "BASIC_AUTH"}]})).unwrap_err();
        assert!(err.message.contains("URI"));
        let err = parse(json!({"SourceAccessConfigurations": [{"Type": "PASSWORD", "URI": "x"}]}))
            .unwrap_err();
        assert!(err.message.contains("SourceAccessConfigurations.1.Type"));
    }

    #[test]
    fn brokers_are_sorted_and_checked() {
        let req = parse(json!({"SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["b:9092", "a:9092"]}}})).unwrap();
        assert_eq!(
            req.fields["SelfManagedEventSource"]["Endpoints"]["KAFKA_BOOTSTRAP_SERVERS"],
            json!(["a:9092", "b:9092"])
        );
        assert!(parse(json!({"SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["nohost"]}}})).is_err());
        assert!(
            parse(json!({"SelfManagedEventSource": {"Endpoints": {"OTHER": ["a:1"]}}})).is_err()
        );
    }

    #[test]
    fn tags_are_validated() {
        assert!(parse(json!({"Tags": {"team": "a b", "k:v/x": "+=@"}})).is_ok());
        assert!(parse(json!({"Tags": {"aws:owner": "x"}})).is_err());
        assert!(parse(json!({"Tags": {"bad#key": "x"}})).is_err());
        assert!(parse(json!({"Tags": {"k": "v".repeat(257)}})).is_err());
        let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(parse(json!({ "Tags": many })).is_err());
    }

    #[test]
    fn applicability_rejects_foreign_fields() {
        let fields = parse(json!({"ParallelizationFactor": 2})).unwrap().fields;
        let err = check_fields_apply(SourceKind::Sqs, &fields).unwrap_err();
        assert!(err.message.contains("ParallelizationFactor"));
        assert!(check_fields_apply(SourceKind::Kinesis, &fields).is_ok());
        let fields = parse(json!({"FilterCriteria": {"Filters": [{"Pattern": "{}"}]}}))
            .unwrap()
            .fields;
        assert!(check_fields_apply(SourceKind::DocumentDb, &fields).is_err());
        let fields = parse(json!({"MetricsConfig": {"Metrics": ["KafkaMetrics"]}}))
            .unwrap()
            .fields;
        assert!(check_fields_apply(SourceKind::Kinesis, &fields).is_err());
        assert!(check_fields_apply(SourceKind::Msk, &fields).is_ok());
        let fields =
            parse(json!({"DestinationConfig": {"OnFailure": {"Destination": "kafka://t"}}}))
                .unwrap()
                .fields;
        assert!(check_fields_apply(SourceKind::Kinesis, &fields).is_err());
        let fields = parse(
            json!({"SourceAccessConfigurations": [{"Type": "VPC_SUBNET", "URI": "subnet:s-1"}]}),
        )
        .unwrap()
        .fields;
        assert!(check_fields_apply(SourceKind::Mq, &fields).is_err());
        assert!(check_fields_apply(SourceKind::SelfManagedKafka, &fields).is_ok());
    }
}
