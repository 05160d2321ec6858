//! The Create and Update requests built from [`MappingFields`], and the guard that keeps
//! fields Update cannot take from ever reaching it.

use aws_sdk_lambda::Client;
use aws_sdk_lambda::operation::create_event_source_mapping::builders::CreateEventSourceMappingFluentBuilder;
use aws_sdk_lambda::operation::update_event_source_mapping::builders::UpdateEventSourceMappingFluentBuilder;
use aws_sdk_lambda::types as sdk;
use aws_smithy_types::DateTime;

use super::sdk_error::client_validation;
use super::to_sdk::{
    destination_config_to_sdk, document_db_config_to_sdk, filter_criteria_to_sdk,
    function_response_types_to_sdk, logging_config_to_sdk, metrics_config_to_sdk,
    msk_config_to_sdk, provisioned_poller_config_to_sdk, scaling_config_to_sdk,
    self_managed_event_source_to_sdk, smk_config_to_sdk, source_access_configurations_to_sdk,
    to_hash_map,
};
use crate::lambda::Op::{Create as CREATE, Update as UPDATE};
use crate::lambda::types::with_scalar_fields;
use crate::lambda::{LambdaError, MappingFields, Op};

/// Applies every field that both Create and Update take. The two SDK builders are different
/// types with the same setters, so this is a macro: a field added here reaches both requests.
/// Sets every scalar field of [`with_scalar_fields`] on a builder: `set_x(f.x.clone())`.
macro_rules! set_scalars {
    ($builder:expr, $f:expr; $($field:ident / $setter:ident),+) => {
        $builder$(.$setter($f.$field.clone()))+
    };
}

macro_rules! set_updatable_fields {
    ($builder:expr, $f:expr, $operation:expr) => {
        $builder
            .set_function_name($f.function_name.clone())
            .set_enabled($f.enabled)
            .set_filter_criteria($f.filter_criteria.as_ref().map(filter_criteria_to_sdk))
            .set_metrics_config($f.metrics_config.as_ref().map(metrics_config_to_sdk))
            .set_logging_config($f.logging_config.as_ref().map(logging_config_to_sdk))
            .set_scaling_config($f.scaling_config.as_ref().map(scaling_config_to_sdk))
            .set_destination_config(
                $f.destination_config
                    .as_ref()
                    .map(destination_config_to_sdk),
            )
            .set_source_access_configurations(
                $f.source_access_configurations
                    .as_deref()
                    .map(source_access_configurations_to_sdk),
            )
            .set_function_response_types(
                $f.function_response_types
                    .as_deref()
                    .map(function_response_types_to_sdk),
            )
            .set_amazon_managed_kafka_event_source_config(
                $f.amazon_managed_kafka_event_source_config
                    .as_ref()
                    .map(|c| msk_config_to_sdk($operation, c))
                    .transpose()?,
            )
            .set_self_managed_kafka_event_source_config(
                $f.self_managed_kafka_event_source_config
                    .as_ref()
                    .map(smk_config_to_sdk),
            )
            .set_document_db_event_source_config(
                $f.document_db_event_source_config
                    .as_ref()
                    .map(document_db_config_to_sdk),
            )
            .set_provisioned_poller_config(
                $f.provisioned_poller_config
                    .as_ref()
                    .map(provisioned_poller_config_to_sdk),
            )
    };
}

pub(super) fn create_request(
    client: &Client,
    f: &MappingFields,
) -> Result<CreateEventSourceMappingFluentBuilder, LambdaError> {
    let timestamp = f
        .starting_position_timestamp
        .map(|secs| to_datetime(CREATE, "StartingPositionTimestamp", secs))
        .transpose()?;
    let builder = client
        .create_event_source_mapping()
        .set_event_source_arn(f.event_source_arn.clone())
        .set_starting_position(
            f.starting_position
                .as_deref()
                .map(sdk::EventSourcePosition::from),
        )
        .set_starting_position_timestamp(timestamp)
        .set_tags(f.tags.as_ref().map(to_hash_map))
        .set_topics(f.topics.clone())
        .set_queues(f.queues.clone())
        .set_self_managed_event_source(
            f.self_managed_event_source
                .as_ref()
                .map(self_managed_event_source_to_sdk),
        );
    let builder = with_scalar_fields!(set_scalars!(builder, f));
    Ok(set_updatable_fields!(builder, f, CREATE))
}

/// Fields that UpdateEventSourceMapping does not take: the create-only ones and tags. Finding
/// one in a patch is a controller bug (the planner must stall instead), and the SDK's Update
/// builder would silently drop most of them, so the patch never reaches AWS.
fn fields_update_cannot_take(f: &MappingFields) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = f.create_only_set().map(|c| c.wire_name).collect();
    // Tags can change after creation, but only through TagResource and UntagResource.
    if f.tags.is_some() {
        names.push("Tags");
    }
    names
}

pub(super) fn update_request(
    client: &Client,
    uuid: &str,
    f: &MappingFields,
) -> Result<UpdateEventSourceMappingFluentBuilder, LambdaError> {
    let refused = fields_update_cannot_take(f);
    if !refused.is_empty() {
        return Err(client_validation(
            UPDATE,
            format!(
                "{} cannot be changed by UpdateEventSourceMapping (create-only; tags go through \
                 TagResource); refusing to send the patch",
                refused.join(", ")
            ),
        ));
    }
    let builder = client.update_event_source_mapping().uuid(uuid);
    let builder = with_scalar_fields!(set_scalars!(builder, f));
    Ok(set_updatable_fields!(builder, f, UPDATE))
}

fn to_datetime(operation: Op, field: &str, secs: f64) -> Result<DateTime, LambdaError> {
    if secs.is_finite() {
        Ok(DateTime::from_secs_f64(secs))
    } else {
        Err(client_validation(
            operation,
            format!("{field} must be a finite number of epoch seconds, got {secs}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::aws::CLIENT_VALIDATION;
    use crate::lambda::{ErrorKind, KafkaEventSourceConfig};
    use aws_config::{BehaviorVersion, Region};

    #[test]
    fn update_refuses_create_only_fields() {
        let client = Client::from_conf(
            aws_sdk_lambda::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .build(),
        );
        let patch = MappingFields {
            batch_size: Some(5),
            starting_position: Some("LATEST".to_string()),
            topics: Some(vec!["t".to_string()]),
            ..MappingFields::default()
        };
        let err = update_request(&client, "u", &patch).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid);
        assert_eq!(err.code, CLIENT_VALIDATION);
        assert_eq!(err.operation, UPDATE);
        assert!(err.message.contains("StartingPosition"), "{}", err.message);
        assert!(err.message.contains("Topics"), "{}", err.message);
        assert!(!err.message.contains("BatchSize"), "{}", err.message);

        // One patch per entry of the create-only table, in Lambda's own JSON; a new entry
        // without a case here fails the coverage check below.
        let cases = [
            (
                "EventSourceArn",
                serde_json::json!({"EventSourceArn": "arn:aws:sqs:us-east-1:1:q"}),
            ),
            (
                "StartingPosition",
                serde_json::json!({"StartingPosition": "LATEST"}),
            ),
            (
                "StartingPositionTimestamp",
                serde_json::json!({"StartingPositionTimestamp": 1.0}),
            ),
            ("Topics", serde_json::json!({"Topics": []})),
            ("Queues", serde_json::json!({"Queues": []})),
            (
                "SelfManagedEventSource",
                serde_json::json!({"SelfManagedEventSource": {}}),
            ),
            (
                "AmazonManagedKafkaEventSourceConfig.ConsumerGroupId",
                serde_json::json!({"AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "g"}}),
            ),
            (
                "SelfManagedKafkaEventSourceConfig.ConsumerGroupId",
                serde_json::json!({"SelfManagedKafkaEventSourceConfig": {"ConsumerGroupId": "g"}}),
            ),
            (
                "SelfManagedKafkaEventSourceConfig.ConsumptionMode",
                serde_json::json!({"SelfManagedKafkaEventSourceConfig": {"ConsumptionMode": "Queue"}}),
            ),
            (
                "DocumentDBEventSourceConfig.DatabaseName",
                serde_json::json!({"DocumentDBEventSourceConfig": {"DatabaseName": "db", "FullDocument": "Default"}}),
            ),
            (
                "DocumentDBEventSourceConfig.CollectionName",
                serde_json::json!({"DocumentDBEventSourceConfig": {"CollectionName": "c"}}),
            ),
            (
                "SourceAccessConfigurations[Type=VIRTUAL_HOST].URI",
                serde_json::json!({"SourceAccessConfigurations": [
                    {"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:1:secret:s"},
                    {"Type": "VIRTUAL_HOST", "URI": "/orders"}]}),
            ),
            ("Tags", serde_json::json!({"Tags": {}})),
        ];
        for (name, patch) in &cases {
            let patch: MappingFields = serde_json::from_value(patch.clone()).unwrap();
            assert_eq!(fields_update_cannot_take(&patch), vec![*name]);
            let err = update_request(&client, "u", &patch).unwrap_err();
            assert!(err.message.contains(name), "{}", err.message);
        }
        let covered: Vec<&str> = cases.iter().map(|(name, _)| *name).collect();
        for field in &crate::lambda::CREATE_ONLY {
            assert!(
                covered.contains(&field.wire_name),
                "no case for {}",
                field.wire_name
            );
        }

        // What Update does take, including the parts of the Kafka configs and source access
        // list that stay updatable.
        let allowed: MappingFields = serde_json::from_value(serde_json::json!({
            "FunctionName": "f", "BatchSize": 1, "FilterCriteria": {},
            "SelfManagedKafkaEventSourceConfig": {"SchemaRegistryConfig": {"SchemaRegistryURI": "https://registry"}},
            "SourceAccessConfigurations": [{"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:1:secret:s"}],
            "DocumentDBEventSourceConfig": {"FullDocument": "UpdateLookup"},
        }))
        .unwrap();
        assert!(fields_update_cannot_take(&allowed).is_empty());
        assert!(update_request(&client, "u", &allowed).is_ok());
    }

    #[test]
    fn rejects_non_finite_timestamps_and_msk_consumption_mode() {
        let err = to_datetime(CREATE, "StartingPositionTimestamp", f64::NAN).unwrap_err();
        assert_eq!(
            (err.kind, err.code.as_str()),
            (ErrorKind::Invalid, CLIENT_VALIDATION)
        );
        assert_eq!(
            to_datetime(CREATE, "x", 1_700_000_000.5).unwrap(),
            DateTime::from_secs_f64(1_700_000_000.5)
        );
        let err = msk_config_to_sdk(
            CREATE,
            &KafkaEventSourceConfig {
                consumption_mode: Some("Queue".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid);
        assert!(err.message.contains("ConsumptionMode"));
    }
}
