//! Table tests of the decision core. Observed mappings are written as Lambda's own JSON, with
//! the defaults and husks real responses carry (semantics §2.3).

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::api::{self, EventSourceMappingSpec};
use crate::lambda::types::ObservedMapping;
use crate::plan::desired::SourceKind;

const NOW: f64 = 1_800_000_000.0;
const SQS: &str = "arn:aws:sqs:us-east-1:123456789012:orders";
const KINESIS: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks";
const MSK: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/c/1";
const FN_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:handler";
const UUID: &str = "6d1b2c3a-0000-4000-8000-000000000001";

fn owner() -> Owner {
    Owner {
        uid: "uid-1".into(),
        namespace: "team".into(),
        name: "orders".into(),
        cluster: "prod".into(),
    }
}

fn spec(v: serde_json::Value) -> EventSourceMappingSpec {
    serde_json::from_value(v).expect("valid spec")
}

fn sqs_spec() -> EventSourceMappingSpec {
    spec(json!({"eventSourceARN": SQS, "functionName": "handler"}))
}

fn kinesis_spec() -> EventSourceMappingSpec {
    spec(
        json!({"eventSourceARN": KINESIS, "functionName": "handler", "startingPosition": "LATEST"}),
    )
}

fn desired(spec: &EventSourceMappingSpec) -> Desired {
    Desired::from_spec(spec, owner(), "us-east-1", NOW).expect("spec converts")
}

/// A mapping as Lambda returns it for an SQS source created with defaults.
fn sqs_observed(extra: serde_json::Value) -> ObservedMapping {
    let mut base = json!({
        "UUID": UUID,
        "EventSourceMappingArn": format!("arn:aws:lambda:us-east-1:123456789012:event-source-mapping:{UUID}"),
        "EventSourceArn": SQS,
        "FunctionArn": FN_ARN,
        "State": "Enabled",
        "StateTransitionReason": "USER_INITIATED",
        "LastModified": 1_700_000_000.123,
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 0,
        "FunctionResponseTypes": [],
    });
    merge(&mut base, extra);
    serde_json::from_value(base).unwrap()
}

/// A Kinesis mapping with every default Lambda fills, including the empty OnFailure husk.
fn kinesis_observed(extra: serde_json::Value) -> ObservedMapping {
    let mut base = json!({
        "UUID": UUID,
        "EventSourceMappingArn": format!("arn:aws:lambda:us-east-1:123456789012:event-source-mapping:{UUID}"),
        "EventSourceArn": KINESIS,
        "FunctionArn": FN_ARN,
        "State": "Enabled",
        "StateTransitionReason": "User action",
        "StartingPosition": "LATEST",
        "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 0,
        "ParallelizationFactor": 1,
        "DestinationConfig": {"OnFailure": {}},
        "MaximumRecordAgeInSeconds": -1,
        "BisectBatchOnFunctionError": false,
        "MaximumRetryAttempts": -1,
        "TumblingWindowInSeconds": 0,
        "FunctionResponseTypes": [],
    });
    merge(&mut base, extra);
    serde_json::from_value(base).unwrap()
}

fn merge(base: &mut serde_json::Value, extra: serde_json::Value) {
    if let serde_json::Value::Object(extra) = extra {
        for (k, v) in extra {
            base[k] = v;
        }
    }
}

fn found(mapping: ObservedMapping) -> Observed {
    Observed::Found {
        mapping,
        tags: None,
    }
}

fn status_with_applied(fields: &[&str]) -> EventSourceMappingStatus {
    EventSourceMappingStatus {
        uuid: Some(UUID.into()),
        applied_fields: fields.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn plan_for(spec: &EventSourceMappingSpec, observed: &Observed) -> Plan {
    plan(&desired(spec), &status_with_applied(&[]), observed)
}

/// The update's wire body, to check exactly what would be sent.
fn update_body(plan: &Plan) -> serde_json::Value {
    match &plan.action {
        Action::Update { patch, .. } => serde_json::to_value(patch).unwrap(),
        other => panic!("expected an update, got {other:?}"),
    }
}

#[test]
fn nothing_observed_creates_with_only_spec_fields_and_ownership_tags() {
    let s = spec(
        json!({"eventSourceARN": MSK, "functionName": "handler", "startingPosition": "TRIM_HORIZON", "topics": ["orders"], "tags": {"team": "payments"}}),
    );
    let p = plan_for(&s, &Observed::Nothing);
    let Action::Create { request } = &p.action else {
        panic!("{p:?}")
    };
    let body = serde_json::to_value(request).unwrap();
    assert_eq!(
        body,
        json!({
            "EventSourceArn": MSK,
            "FunctionName": "handler",
            "StartingPosition": "TRIM_HORIZON",
            "Topics": ["orders"],
            "Tags": {
                "team": "payments",
                "esm-controller.dev/owner-uid": "uid-1",
                "esm-controller.dev/owner": "team/orders",
                "esm-controller.dev/cluster": "prod",
            }
        }),
        "no default is sent explicitly: R7 forbids sending a batching window for Kafka"
    );
    assert_eq!(p.verdict.reason(), "Creating");
    assert!(matches!(p.verdict, Verdict::Progressing { .. }));
}

#[test]
fn a_mapping_deleted_out_of_band_is_recreated() {
    let p = plan_for(&sqs_spec(), &Observed::Gone { uuid: UUID.into() });
    assert!(matches!(p.action, Action::Create { .. }));
    assert_eq!(p.verdict.reason(), "Recreating");
    assert!(p.verdict.message().contains(UUID));
}

#[test]
fn defaults_filled_by_lambda_are_not_drift() {
    // Spec sets nothing but source and function; Lambda filled every default (peers bugs 1-3, 22).
    for (s, observed) in [
        (sqs_spec(), sqs_observed(json!({}))),
        (kinesis_spec(), kinesis_observed(json!({}))),
        (
            kinesis_spec(),
            kinesis_observed(json!({"DestinationConfig": {"OnFailure": {"Destination": ""}}})),
        ),
        (
            kinesis_spec(),
            kinesis_observed(json!({"DestinationConfig": null})),
        ),
        (
            sqs_spec(),
            sqs_observed(json!({"Topics": [], "Queues": [], "FunctionResponseTypes": null})),
        ),
    ] {
        let p = plan_for(&s, &found(observed.clone()));
        assert_eq!(p.action, Action::None, "{observed:?}");
        assert!(p.verdict.is_ready(), "{:?}", p.verdict);
    }
}

#[test]
fn spec_values_equal_to_defaults_compare_exactly() {
    let s = spec(
        json!({"eventSourceARN": KINESIS, "functionName": "handler", "startingPosition": "LATEST",
        "batchSize": 100, "maximumRetryAttempts": -1, "maximumRecordAgeInSeconds": -1, "bisectBatchOnFunctionError": false,
        "tumblingWindowInSeconds": 0, "parallelizationFactor": 1, "functionResponseTypes": []}),
    );
    let p = plan_for(&s, &found(kinesis_observed(json!({}))));
    assert_eq!(p.action, Action::None);
    assert!(p.verdict.is_ready());
}

#[test]
fn function_name_forms_match_the_reported_arn() {
    let cases = [
        ("handler", FN_ARN, true),
        ("123456789012:function:handler", FN_ARN, true),
        ("us-east-1:123456789012:function:handler", FN_ARN, true),
        (FN_ARN, FN_ARN, true),
        ("handler:$LATEST", FN_ARN, true),
        ("handler", &format!("{FN_ARN}:$LATEST"), true),
        ("handler:live", &format!("{FN_ARN}:live"), true),
        ("handler", &format!("{FN_ARN}:live"), false),
        ("handler:live", FN_ARN, false),
        ("handler:live", &format!("{FN_ARN}:blue"), false),
        ("other", FN_ARN, false),
        ("999999999999:function:handler", FN_ARN, false),
        (
            "arn:aws:lambda:eu-west-1:123456789012:function:handler",
            FN_ARN,
            false,
        ),
        (
            "arn:aws-cn:lambda:us-east-1:123456789012:function:handler",
            FN_ARN,
            false,
        ),
        ("Handler", FN_ARN, false),
    ];
    for (spec_name, arn, want) in cases {
        assert_eq!(
            diff::function_matches(spec_name, arn),
            want,
            "{spec_name} vs {arn}"
        );
    }
}

#[test]
fn function_change_is_an_update_not_a_replacement() {
    let s = spec(json!({"eventSourceARN": SQS, "functionName": "handler:live"}));
    let p = plan_for(&s, &found(sqs_observed(json!({}))));
    assert_eq!(update_body(&p), json!({"FunctionName": "handler:live"}));
}

#[test]
fn filter_patterns_compare_as_json_sets() {
    let s = spec(
        json!({"eventSourceARN": SQS, "functionName": "handler", "filterCriteria": {"filters": [
            {"pattern": "{\"body\": {\"type\": [\"order\"], \"size\": [{\"numeric\": [\">\", 10]}]}}"},
            {"pattern": "{\"attributes\":{\"x\":[\"y\"]}}"}
        ]}}),
    );
    // Same filters, other order, other key order, other whitespace.
    let same = sqs_observed(json!({"FilterCriteria": {"Filters": [
        {"Pattern": "{\"attributes\": {\"x\": [\"y\"]}}"},
        {"Pattern": "{\"body\":{\"size\":[{\"numeric\":[\">\",10]}],\"type\":[\"order\"]}}"}
    ]}}));
    assert_eq!(plan_for(&s, &found(same)).action, Action::None);

    let different = sqs_observed(json!({"FilterCriteria": {"Filters": [
        {"Pattern": "{\"attributes\": {\"x\": [\"z\"]}}"},
        {"Pattern": "{\"body\":{\"size\":[{\"numeric\":[\">\",10]}],\"type\":[\"order\"]}}"}
    ]}}));
    let body = update_body(&plan_for(&s, &found(different)));
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["FilterCriteria"]
    );
    assert_eq!(
        body["FilterCriteria"]["Filters"].as_array().unwrap().len(),
        2
    );
}

#[test]
fn empty_filter_forms_are_all_no_filters() {
    let s = spec(
        json!({"eventSourceARN": SQS, "functionName": "handler", "filterCriteria": {"filters": []}}),
    );
    for fc in [json!(null), json!({}), json!({"Filters": []})] {
        let p = plan_for(&s, &found(sqs_observed(json!({"FilterCriteria": fc}))));
        assert_eq!(p.action, Action::None, "{fc}");
    }
}

#[test]
fn kms_decrypt_errors_do_not_cause_an_endless_filter_diff() {
    let s = spec(
        json!({"eventSourceARN": SQS, "functionName": "handler", "kmsKeyARN": "arn:aws:kms:us-east-1:123456789012:key/k",
        "filterCriteria": {"filters": [{"pattern": "{\"a\":[1]}"}]}}),
    );
    let observed = sqs_observed(
        json!({"KMSKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k",
        "FilterCriteriaError": {"ErrorCode": "KMSAccessDeniedException", "Message": "no kms:Decrypt"}}),
    );
    assert_eq!(plan_for(&s, &found(observed)).action, Action::None);
}

#[test]
fn unreadable_filters_are_reported_not_called_in_sync() {
    let kms = "arn:aws:kms:us-east-1:123456789012:key/k";
    let error = json!({"ErrorCode": "KMSAccessDeniedException", "Message": "no kms:Decrypt"});
    let with_filters = spec(json!({"eventSourceARN": SQS, "functionName": "handler",
        "batchSize": 10, "kmsKeyARN": kms, "filterCriteria": {"filters": [{"pattern": "{\"a\":[1]}"}]}}));
    // (spec, what Lambda reports) -> (action is an update, verdict reason)
    let cases = [
        (
            &with_filters,
            json!({"KMSKeyArn": kms, "FilterCriteriaError": error}),
            false,
            "FilterCriteriaError",
        ),
        // Other drift is still fixed while the filters cannot be read.
        (
            &with_filters,
            json!({"KMSKeyArn": kms, "FilterCriteriaError": error, "BatchSize": 7}),
            true,
            "Updating",
        ),
        // A user-disabled mapping is Stalled for its own reason first.
        (
            &with_filters,
            json!({"KMSKeyArn": kms, "FilterCriteriaError": error, "State": "Disabled",
                   "StateTransitionReason": "USER_INITIATED"}),
            false,
            "DisabledOutOfBand",
        ),
        // Once Lambda reads them again, the mapping is Ready.
        (
            &with_filters,
            json!({"KMSKeyArn": kms, "FilterCriteria": {"Filters": [{"Pattern": "{\"a\":[1]}"}]}}),
            false,
            "Enabled",
        ),
    ];
    for (s, lambda, updates, reason) in cases {
        let p = plan_for(s, &found(sqs_observed(lambda.clone())));
        assert_eq!(
            matches!(p.action, Action::Update { .. }),
            updates,
            "{lambda}: {p:?}"
        );
        assert_eq!(p.verdict.reason(), reason, "{lambda}");
        if reason == "FilterCriteriaError" {
            assert!(!p.verdict.is_ready());
            let message = p.verdict.message();
            for part in ["KMSAccessDeniedException", "no kms:Decrypt", kms] {
                assert!(message.contains(part), "{message} names {part}");
            }
        }
    }
}

#[test]
fn drift_updates_only_the_fields_that_differ() {
    let s = spec(
        json!({"eventSourceARN": KINESIS, "functionName": "handler", "startingPosition": "LATEST",
        "batchSize": 500, "parallelizationFactor": 2, "maximumRetryAttempts": 3,
        "destinationConfig": {"onFailure": {"destination": "arn:aws:sqs:us-east-1:123456789012:dlq"}}}),
    );
    let observed = kinesis_observed(
        json!({"BatchSize": 250, "ParallelizationFactor": 2, "MaximumRetryAttempts": 3,
        "DestinationConfig": {"OnFailure": {}}}),
    );
    let p = plan_for(&s, &found(observed));
    assert_eq!(
        update_body(&p),
        json!({"BatchSize": 500, "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:dlq"}}})
    );
    let Action::Update {
        fields, reenable, ..
    } = &p.action
    else {
        unreachable!()
    };
    assert_eq!(fields, &[Field::BatchSize, Field::DestinationConfig]);
    assert!(!reenable);
    assert_eq!(p.verdict.reason(), "Updating");
}

#[test]
fn zero_is_a_value_not_unset() {
    // Terraform PR 12479: maximum_retry_attempts = 0 could not be expressed.
    let s = spec(
        json!({"eventSourceARN": KINESIS, "functionName": "handler", "startingPosition": "LATEST",
        "maximumRetryAttempts": 0, "tumblingWindowInSeconds": 0}),
    );
    let p = plan_for(&s, &found(kinesis_observed(json!({}))));
    assert_eq!(update_body(&p), json!({"MaximumRetryAttempts": 0}));
}

#[test]
fn removed_settings_are_cleared_with_explicit_values() {
    // The spec used to set these (status.appliedFields) and no longer does.
    let cases: Vec<(
        EventSourceMappingSpec,
        ObservedMapping,
        &str,
        serde_json::Value,
    )> = vec![
        (
            sqs_spec(),
            sqs_observed(json!({"FilterCriteria": {"Filters": [{"Pattern": "{\"a\":[1]}"}]}})),
            "FilterCriteria",
            json!({"FilterCriteria": {"Filters": []}}),
        ),
        (
            sqs_spec(),
            sqs_observed(json!({"ScalingConfig": {"MaximumConcurrency": 5}})),
            "ScalingConfig",
            json!({"ScalingConfig": {}}),
        ),
        (
            sqs_spec(),
            sqs_observed(json!({"KMSKeyArn": "arn:aws:kms:us-east-1:1:key/k"})),
            "KMSKeyArn",
            json!({"KMSKeyArn": ""}),
        ),
        (
            sqs_spec(),
            sqs_observed(json!({"FunctionResponseTypes": ["ReportBatchItemFailures"]})),
            "FunctionResponseTypes",
            json!({"FunctionResponseTypes": []}),
        ),
        (
            sqs_spec(),
            sqs_observed(json!({"MetricsConfig": {"Metrics": ["EventCount"]}})),
            "MetricsConfig",
            json!({"MetricsConfig": {"Metrics": []}}),
        ),
        (
            sqs_spec(),
            sqs_observed(json!({"BatchSize": 50})),
            "BatchSize",
            json!({"BatchSize": 10}),
        ),
        (
            kinesis_spec(),
            kinesis_observed(json!({"BatchSize": 50})),
            "BatchSize",
            json!({"BatchSize": 100}),
        ),
        (
            kinesis_spec(),
            kinesis_observed(
                json!({"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:1:dlq"}}}),
            ),
            "DestinationConfig",
            json!({"DestinationConfig": {"OnFailure": {"Destination": ""}}}),
        ),
        (
            kinesis_spec(),
            kinesis_observed(json!({"MaximumRetryAttempts": 5})),
            "MaximumRetryAttempts",
            json!({"MaximumRetryAttempts": -1}),
        ),
        (
            kinesis_spec(),
            kinesis_observed(json!({"MaximumRecordAgeInSeconds": 600})),
            "MaximumRecordAgeInSeconds",
            json!({"MaximumRecordAgeInSeconds": -1}),
        ),
        (
            kinesis_spec(),
            kinesis_observed(json!({"ParallelizationFactor": 4})),
            "ParallelizationFactor",
            json!({"ParallelizationFactor": 1}),
        ),
        (
            kinesis_spec(),
            kinesis_observed(json!({"BisectBatchOnFunctionError": true})),
            "BisectBatchOnFunctionError",
            json!({"BisectBatchOnFunctionError": false}),
        ),
        (
            kinesis_spec(),
            kinesis_observed(json!({"TumblingWindowInSeconds": 60})),
            "TumblingWindowInSeconds",
            json!({"TumblingWindowInSeconds": 0}),
        ),
        (
            kinesis_spec(),
            kinesis_observed(json!({"MaximumBatchingWindowInSeconds": 5})),
            "MaximumBatchingWindowInSeconds",
            json!({"MaximumBatchingWindowInSeconds": 0}),
        ),
    ];
    for (s, observed, field, want) in cases {
        let p = plan(
            &desired(&s),
            &status_with_applied(&[field]),
            &found(observed),
        );
        assert_eq!(update_body(&p), want, "clearing {field}");
    }
}

#[test]
fn removed_settings_already_at_default_need_no_update() {
    let p = plan(
        &desired(&kinesis_spec()),
        &status_with_applied(&["BatchSize", "DestinationConfig", "FilterCriteria"]),
        &found(kinesis_observed(json!({}))),
    );
    assert_eq!(p.action, Action::None);
}

#[test]
fn the_kafka_500ms_batching_window_is_never_overwritten() {
    // R7: once sent, Lambda can never go back to its 500 ms default; removing the field from the
    // spec must not send 0 or anything else.
    let s = spec(
        json!({"eventSourceARN": MSK, "functionName": "handler", "startingPosition": "LATEST", "topics": ["t"]}),
    );
    let observed: ObservedMapping = serde_json::from_value(json!({"UUID": UUID, "EventSourceArn": MSK, "FunctionArn": FN_ARN,
        "State": "Enabled", "Topics": ["t"], "BatchSize": 100, "MaximumBatchingWindowInSeconds": 5})).unwrap();
    let p = plan(
        &desired(&s),
        &status_with_applied(&["MaximumBatchingWindowInSeconds"]),
        &found(observed),
    );
    assert_eq!(p.action, Action::None);
}

#[test]
fn fields_the_spec_never_set_are_left_alone() {
    // Console changed the batch size; the spec never set it: not ours to correct (semantics §6).
    let p = plan_for(
        &sqs_spec(),
        &found(sqs_observed(
            json!({"BatchSize": 7, "ScalingConfig": {"MaximumConcurrency": 3}}),
        )),
    );
    assert_eq!(p.action, Action::None);
}

#[test]
fn busy_states_wait_without_writing() {
    for state in [
        "Creating",
        "Updating",
        "Enabling",
        "Disabling",
        "Deleting",
        "SomethingNew",
        "",
    ] {
        let s = spec(json!({"eventSourceARN": SQS, "functionName": "handler", "batchSize": 5}));
        let p = plan_for(&s, &found(sqs_observed(json!({"State": state}))));
        assert_eq!(p.action, Action::None, "{state}");
        assert!(
            matches!(p.verdict, Verdict::Progressing { .. }),
            "{state}: {:?}",
            p.verdict
        );
        // Still Creating reads exactly as the create did, so that status does not change.
        let want = if state == "Creating" {
            "Creating"
        } else {
            "Waiting"
        };
        assert_eq!(p.verdict.reason(), want, "{state}");
    }
    let create = plan_for(&sqs_spec(), &Observed::Nothing);
    let still = plan_for(
        &sqs_spec(),
        &found(sqs_observed(json!({"State": "Creating"}))),
    );
    assert_eq!(create.verdict, still.verdict);
}

#[test]
fn lambda_initiated_disable_is_reported_not_reverted_when_enabled_is_unset() {
    let observed = sqs_observed(
        json!({"State": "Disabled", "StateTransitionReason": "PROBLEM: Lambda initiated: function role lacks sqs:ReceiveMessage"}),
    );
    let p = plan_for(&sqs_spec(), &found(observed));
    assert_eq!(p.action, Action::None);
    assert_eq!(p.verdict.reason(), "DisabledByLambda");
    assert!(matches!(p.verdict, Verdict::Stalled { .. }));
    assert!(p.verdict.message().contains("sqs:ReceiveMessage"));
}

#[test]
fn lambda_initiated_disable_is_reverted_when_the_spec_says_enabled() {
    let s = spec(json!({"eventSourceARN": SQS, "functionName": "handler", "enabled": true}));
    let observed =
        sqs_observed(json!({"State": "Disabled", "StateTransitionReason": "Lambda initiated"}));
    let p = plan_for(&s, &found(observed));
    assert_eq!(update_body(&p), json!({"Enabled": true}));
    let Action::Update { reenable, .. } = p.action else {
        unreachable!()
    };
    assert!(reenable);
}

#[test]
fn user_disable_outside_the_controller_is_reported() {
    let observed =
        sqs_observed(json!({"State": "Disabled", "StateTransitionReason": "USER_INITIATED"}));
    let p = plan_for(&sqs_spec(), &found(observed));
    assert_eq!(p.action, Action::None);
    assert_eq!(p.verdict.reason(), "DisabledOutOfBand");
}

#[test]
fn enabled_follows_the_state_both_ways() {
    let off = spec(json!({"eventSourceARN": SQS, "functionName": "handler", "enabled": false}));
    assert_eq!(
        update_body(&plan_for(&off, &found(sqs_observed(json!({}))))),
        json!({"Enabled": false})
    );
    let p = plan_for(
        &off,
        &found(sqs_observed(
            json!({"State": "Disabled", "StateTransitionReason": "USER_INITIATED"}),
        )),
    );
    assert_eq!(p.action, Action::None);
    assert!(
        p.verdict.is_ready(),
        "Disabled is Ready when enabled: false"
    );
    // Removing `enabled: false` from the spec re-enables.
    let p = plan(
        &desired(&sqs_spec()),
        &status_with_applied(&["Enabled"]),
        &found(sqs_observed(
            json!({"State": "Disabled", "StateTransitionReason": "USER_INITIATED"}),
        )),
    );
    assert_eq!(update_body(&p), json!({"Enabled": true}));
}

#[test]
fn set_like_lists_ignore_order_and_update_omits_virtual_host() {
    let mq = "arn:aws:mq:us-east-1:123456789012:broker:b:b-1";
    let s = spec(
        json!({"eventSourceARN": mq, "functionName": "handler", "queues": ["q"], "sourceAccessConfigurations": [
        {"type": "BASIC_AUTH", "uri": "arn:aws:secretsmanager:us-east-1:1:secret:a"},
        {"type": "VIRTUAL_HOST", "uri": "/prod"}]}),
    );
    let observed = |sac: serde_json::Value| -> ObservedMapping {
        serde_json::from_value(
            json!({"UUID": UUID, "EventSourceArn": mq, "FunctionArn": FN_ARN, "State": "Enabled",
            "Queues": ["q"], "BatchSize": 100, "SourceAccessConfigurations": sac}),
        )
        .unwrap()
    };
    let same = observed(
        json!([{"Type": "VIRTUAL_HOST", "URI": "/prod"}, {"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:1:secret:a"}]),
    );
    assert_eq!(plan_for(&s, &found(same)).action, Action::None);
    let other = observed(
        json!([{"Type": "VIRTUAL_HOST", "URI": "/prod"}, {"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:1:secret:old"}]),
    );
    assert_eq!(
        update_body(&plan_for(&s, &found(other))),
        json!({"SourceAccessConfigurations": [{"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:1:secret:a"}]})
    );
}

#[test]
fn provisioned_pollers_compare_only_the_bounds_given() {
    let s = spec(
        json!({"eventSourceARN": MSK, "functionName": "handler", "startingPosition": "LATEST", "topics": ["t"],
        "provisionedPollerConfig": {"minimumPollers": 2}}),
    );
    let observed = |min: i32| -> ObservedMapping {
        serde_json::from_value(json!({"UUID": UUID, "EventSourceArn": MSK, "FunctionArn": FN_ARN, "State": "Enabled",
            "Topics": ["t"], "ProvisionedPollerConfig": {"MinimumPollers": min, "MaximumPollers": 200}})).unwrap()
    };
    assert_eq!(plan_for(&s, &found(observed(2))).action, Action::None);
    assert_eq!(
        update_body(&plan_for(&s, &found(observed(1)))),
        json!({"ProvisionedPollerConfig": {"MinimumPollers": 2}})
    );
}

#[test]
fn kafka_config_updates_send_only_the_schema_registry() {
    let s = spec(
        json!({"eventSourceARN": MSK, "functionName": "handler", "startingPosition": "LATEST", "topics": ["t"],
        "amazonManagedKafkaEventSourceConfig": {"consumerGroupID": "g1", "schemaRegistryConfig": {"schemaRegistryURI": "arn:aws:glue:us-east-1:1:registry/r", "eventRecordFormat": "JSON"}}}),
    );
    let observed: ObservedMapping = serde_json::from_value(
        json!({"UUID": UUID, "EventSourceArn": MSK, "FunctionArn": FN_ARN, "State": "Enabled",
        "Topics": ["t"], "AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "g1"}}),
    )
    .unwrap();
    assert_eq!(
        update_body(&plan_for(&s, &found(observed))),
        json!({"AmazonManagedKafkaEventSourceConfig": {"SchemaRegistryConfig": {"SchemaRegistryURI": "arn:aws:glue:us-east-1:1:registry/r", "EventRecordFormat": "JSON"}}})
    );
}

/// DocumentDB: Lambda's Update refuses DatabaseName and CollectionName (aws-cli issue 7756), so
/// a fullDocument change sends FullDocument alone, and an adopted mapping watching another
/// database or collection stalls naming the field instead of being "updated".
#[test]
fn documentdb_updates_send_only_full_document() {
    const DOCDB: &str = "arn:aws:rds:us-east-1:123456789012:cluster:docs";
    let s = spec(
        json!({"eventSourceARN": DOCDB, "functionName": "handler", "startingPosition": "LATEST",
        "documentDBEventSourceConfig": {"databaseName": "db", "collectionName": "orders", "fullDocument": "UpdateLookup"}}),
    );
    let observed = |config: serde_json::Value| -> ObservedMapping {
        serde_json::from_value(
            json!({"UUID": UUID, "EventSourceArn": DOCDB, "FunctionArn": FN_ARN,
            "State": "Enabled", "StartingPosition": "LATEST", "BatchSize": 100,
            "DocumentDBEventSourceConfig": config}),
        )
        .unwrap()
    };
    let same = observed(
        json!({"DatabaseName": "db", "CollectionName": "orders", "FullDocument": "UpdateLookup"}),
    );
    assert_eq!(plan_for(&s, &found(same)).action, Action::None);
    let body = update_body(&plan_for(
        &s,
        &found(observed(
            json!({"DatabaseName": "db", "CollectionName": "orders", "FullDocument": "Default"}),
        )),
    ));
    assert_eq!(
        body,
        json!({"DocumentDBEventSourceConfig": {"FullDocument": "UpdateLookup"}})
    );
    for (config, field) in [
        (
            json!({"DatabaseName": "other", "CollectionName": "orders", "FullDocument": "UpdateLookup"}),
            "documentDBEventSourceConfig.databaseName",
        ),
        (
            json!({"DatabaseName": "db", "CollectionName": "other", "FullDocument": "Default"}),
            "documentDBEventSourceConfig.collectionName",
        ),
    ] {
        let p = plan_for(&s, &found(observed(config)));
        assert_eq!(p.action, Action::None);
        assert_eq!(p.verdict.reason(), "CreateOnlyFieldMismatch");
        assert!(
            p.verdict.message().contains(field),
            "{}",
            p.verdict.message()
        );
    }
}

#[test]
fn updates_never_carry_create_only_fields() {
    let s = spec(
        json!({"eventSourceARN": KINESIS, "functionName": "other", "startingPosition": "AT_TIMESTAMP",
        "startingPositionTimestamp": "2026-01-01T00:00:00Z", "batchSize": 7, "tags": {"a": "b"}}),
    );
    let body = update_body(&plan_for(
        &s,
        &found(kinesis_observed(
            json!({"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1767225600.0}),
        )),
    ));
    let patch: MappingFields = serde_json::from_value(body.clone()).unwrap();
    let carried: Vec<&str> = patch.create_only_set().map(|f| f.wire_name).collect();
    assert!(carried.is_empty(), "{carried:?} in {body}");
    assert!(body.get("Tags").is_none(), "{body}");
    assert_eq!(body, json!({"FunctionName": "other", "BatchSize": 7}));
}

#[test]
fn adopted_mapping_with_another_source_stalls() {
    let other = sqs_observed(json!({"EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:other"}));
    let p = plan_for(&sqs_spec(), &found(other));
    assert_eq!(p.action, Action::None);
    assert_eq!(p.verdict.reason(), "CreateOnlyFieldMismatch");
    assert!(p.verdict.message().contains("eventSourceARN"));
}

/// An adopted mapping (found by lookup, not created by this resource) next to a spec: does the
/// planner stall on a create-only setting, and which does it name?
#[test]
fn adopted_mapping_with_other_create_only_settings_stalls_naming_them() {
    const SMK_BROKERS: &str = "b2:9092";
    let mq = "arn:aws:mq:us-east-1:123456789012:broker:b:b-1";
    let at = |time: &str| {
        json!({"eventSourceARN": KINESIS, "functionName": "handler", "startingPosition": "AT_TIMESTAMP",
        "startingPositionTimestamp": time})
    };
    let kafka = |extra: serde_json::Value| {
        let mut base = json!({"selfManagedEventSource": {"endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["b1:9092", SMK_BROKERS]}},
            "functionName": "handler", "topics": ["t"]});
        merge(&mut base, extra);
        base
    };
    let kafka_observed = |extra: serde_json::Value| {
        let mut base = json!({"UUID": UUID, "FunctionArn": FN_ARN, "State": "Enabled", "Topics": ["t"],
            "SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [SMK_BROKERS, "b1:9092"]}}});
        merge(&mut base, extra);
        serde_json::from_value::<ObservedMapping>(base).unwrap()
    };
    let mq_observed = |virtual_host: &str| -> ObservedMapping {
        serde_json::from_value(json!({"UUID": UUID, "EventSourceArn": mq, "FunctionArn": FN_ARN, "State": "Enabled",
            "Queues": ["q"], "SourceAccessConfigurations": [{"Type": "VIRTUAL_HOST", "URI": virtual_host}]}))
        .unwrap()
    };
    let mq_spec = json!({"eventSourceARN": mq, "functionName": "handler", "queues": ["q"],
        "sourceAccessConfigurations": [{"type": "VIRTUAL_HOST", "uri": "/prod"}]});

    // (case, spec, what Lambda reports, the setting the stall must name with both values)
    let cases: Vec<(&str, serde_json::Value, ObservedMapping, Option<[&str; 3]>)> = vec![
        (
            "other starting position",
            json!({"eventSourceARN": KINESIS, "functionName": "handler", "startingPosition": "TRIM_HORIZON"}),
            kinesis_observed(json!({"StartingPosition": "LATEST"})),
            Some(["spec.startingPosition", "\"TRIM_HORIZON\"", "\"LATEST\""]),
        ),
        (
            "same starting position",
            json!({"eventSourceARN": KINESIS, "functionName": "handler", "startingPosition": "LATEST"}),
            kinesis_observed(json!({"StartingPosition": "LATEST"})),
            None,
        ),
        (
            "starting position not echoed",
            json!({"eventSourceARN": KINESIS, "functionName": "handler", "startingPosition": "TRIM_HORIZON"}),
            kinesis_observed(json!({"StartingPosition": null})),
            None,
        ),
        (
            "other starting time",
            at("2026-01-01T00:00:00Z"),
            kinesis_observed(
                json!({"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1_767_225_660.0}),
            ),
            Some([
                "spec.startingPositionTimestamp",
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:01:00Z",
            ]),
        ),
        (
            // Compared to the second: Lambda may report a fraction the spec cannot state.
            "same starting time with a fraction",
            at("2026-01-01T00:00:00Z"),
            kinesis_observed(
                json!({"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1_767_225_600.25}),
            ),
            None,
        ),
        (
            "starting time not echoed",
            at("2026-01-01T00:00:00Z"),
            kinesis_observed(json!({"StartingPosition": "AT_TIMESTAMP"})),
            None,
        ),
        (
            "other consumption mode",
            kafka(json!({"selfManagedKafkaEventSourceConfig": {"consumptionMode": "Queue"}})),
            kafka_observed(json!({"SelfManagedKafkaEventSourceConfig": {"ConsumptionMode": "Stream"}})),
            Some([
                "spec.selfManagedKafkaEventSourceConfig.consumptionMode",
                "\"Queue\"",
                "\"Stream\"",
            ]),
        ),
        (
            "consumption mode left to Lambda's default",
            kafka(json!({"startingPosition": "LATEST"})),
            kafka_observed(
                json!({"StartingPosition": "LATEST", "SelfManagedKafkaEventSourceConfig": {"ConsumptionMode": "Stream"}}),
            ),
            None,
        ),
        (
            "other consumer group",
            kafka(
                json!({"startingPosition": "LATEST", "selfManagedKafkaEventSourceConfig": {"consumerGroupID": "orders"}}),
            ),
            kafka_observed(
                json!({"StartingPosition": "LATEST", "SelfManagedKafkaEventSourceConfig": {"ConsumerGroupId": "billing"}}),
            ),
            Some([
                "spec.selfManagedKafkaEventSourceConfig.consumerGroupID",
                "\"orders\"",
                "\"billing\"",
            ]),
        ),
        (
            "consumer group generated by Lambda",
            json!({"eventSourceARN": MSK, "functionName": "handler", "startingPosition": "LATEST", "topics": ["t"]}),
            serde_json::from_value(json!({"UUID": UUID, "EventSourceArn": MSK, "FunctionArn": FN_ARN, "State": "Enabled",
                "Topics": ["t"], "StartingPosition": "LATEST",
                "AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "6d1b2c3a-generated"}}))
            .unwrap(),
            None,
        ),
        (
            "brokers in another order",
            kafka(json!({"startingPosition": "LATEST"})),
            kafka_observed(json!({"StartingPosition": "LATEST"})),
            None,
        ),
        (
            "other virtual host",
            mq_spec.clone(),
            mq_observed("/staging"),
            Some([
                "spec.sourceAccessConfigurations[type=VIRTUAL_HOST].uri",
                "\"/prod\"",
                "\"/staging\"",
            ]),
        ),
        ("same virtual host", mq_spec, mq_observed("/prod"), None),
    ];
    for (case, spec_json, observed, expect) in cases {
        let p = plan_for(&spec(spec_json), &found(observed));
        match expect {
            Some([field, wanted, found]) => {
                assert_eq!(p.action, Action::None, "{case}");
                assert_eq!(p.verdict.reason(), "CreateOnlyFieldMismatch", "{case}");
                let message = p.verdict.message();
                assert!(
                    message.contains(&format!("{field} is {wanted} but the mapping has {found}")),
                    "{case}: {message}"
                );
            }
            None => assert_ne!(
                p.verdict.reason(),
                "CreateOnlyFieldMismatch",
                "{case}: {}",
                p.verdict.message()
            ),
        }
    }
}

#[test]
fn every_create_only_difference_is_named_at_once() {
    let s = spec(
        json!({"eventSourceARN": KINESIS, "functionName": "handler", "startingPosition": "TRIM_HORIZON"}),
    );
    let other_stream = "arn:aws:kinesis:us-east-1:123456789012:stream/other";
    let p = plan_for(
        &s,
        &found(kinesis_observed(
            json!({"EventSourceArn": other_stream, "StartingPosition": "LATEST"}),
        )),
    );
    let message = p.verdict.message();
    assert!(message.contains("spec.eventSourceARN"), "{message}");
    assert!(message.contains(other_stream), "{message}");
    assert!(message.contains("spec.startingPosition"), "{message}");
    assert!(message.contains(UUID), "{message}");
}

#[test]
fn tags_converge_without_touching_aws_tags() {
    let s = spec(
        json!({"eventSourceARN": SQS, "functionName": "handler", "tags": {"team": "payments", "env": "prod"}}),
    );
    let mut tags: BTreeMap<String, String> = owner().tags();
    tags.insert("team".into(), "old".into());
    tags.insert("stale".into(), "x".into());
    tags.insert("aws:cloudformation:stack-name".into(), "s".into());
    let p = plan_for(
        &s,
        &Observed::Found {
            mapping: sqs_observed(json!({})),
            tags: Some(tags),
        },
    );
    let Action::Retag { add, remove, arn } = &p.action else {
        panic!("{p:?}")
    };
    assert!(arn.ends_with(UUID));
    assert_eq!(
        add,
        &BTreeMap::from([
            ("env".to_string(), "prod".to_string()),
            ("team".to_string(), "payments".to_string())
        ])
    );
    assert_eq!(remove, &["stale".to_string()]);

    let mut matching = owner().tags();
    matching.extend([
        ("team".to_string(), "payments".to_string()),
        ("env".to_string(), "prod".to_string()),
        ("aws:x".to_string(), "y".to_string()),
    ]);
    let p = plan_for(
        &s,
        &Observed::Found {
            mapping: sqs_observed(json!({})),
            tags: Some(matching),
        },
    );
    assert_eq!(p.action, Action::None);
    assert!(p.verdict.is_ready());
}

#[test]
fn a_removed_ownership_tag_is_restored() {
    let p = plan_for(
        &sqs_spec(),
        &Observed::Found {
            mapping: sqs_observed(json!({})),
            tags: Some(BTreeMap::new()),
        },
    );
    let Action::Retag { add, .. } = &p.action else {
        panic!("{p:?}")
    };
    assert_eq!(
        add.get(api::tags::OWNER_UID).map(String::as_str),
        Some("uid-1")
    );
}

#[test]
fn ownership_is_decided_by_tags_and_the_adopt_annotation() {
    let o = owner();
    let ours = o.tags();
    assert_eq!(ownership(&o, UUID, &ours, None), Ownership::Ours);
    // An earlier incarnation of the same resource (deleted with Retain, applied again).
    let mut earlier = o.tags();
    earlier.insert(api::tags::OWNER_UID.into(), "old-uid".into());
    assert_eq!(ownership(&o, UUID, &earlier, None), Ownership::Adoptable);
    // Same name in another cluster: not ours.
    let mut elsewhere = earlier.clone();
    elsewhere.insert(api::tags::CLUSTER.into(), "staging".into());
    assert_eq!(ownership(&o, UUID, &elsewhere, None), Ownership::Foreign);
    // Untagged (made by hand or by another tool): foreign unless the user names it.
    assert_eq!(
        ownership(&o, UUID, &BTreeMap::new(), None),
        Ownership::Foreign
    );
    assert_eq!(
        ownership(&o, UUID, &BTreeMap::new(), Some(UUID)),
        Ownership::Adoptable
    );
    assert_eq!(
        ownership(&o, UUID, &BTreeMap::new(), Some("another-uuid")),
        Ownership::Foreign
    );
}

#[test]
fn deletion_plans() {
    let enabled = found(sqs_observed(json!({})));
    assert_eq!(
        plan_delete(DeletionPolicy::Delete, &enabled),
        DeletePlan::Delete { uuid: UUID.into() }
    );
    assert!(matches!(
        plan_delete(DeletionPolicy::Retain, &enabled),
        DeletePlan::Release { .. }
    ));
    for state in ["Creating", "Updating", "Deleting", "Enabling"] {
        assert_eq!(
            plan_delete(
                DeletionPolicy::Delete,
                &found(sqs_observed(json!({"State": state})))
            ),
            DeletePlan::Wait {
                uuid: UUID.into(),
                state: state.into()
            }
        );
    }
    assert!(matches!(
        plan_delete(
            DeletionPolicy::Delete,
            &Observed::Gone { uuid: UUID.into() }
        ),
        DeletePlan::Release { .. }
    ));
    assert!(matches!(
        plan_delete(DeletionPolicy::Delete, &Observed::Nothing),
        DeletePlan::Release { .. }
    ));
}

#[test]
fn spec_errors_name_the_field() {
    let bad_pattern = spec(
        json!({"eventSourceARN": SQS, "functionName": "f", "filterCriteria": {"filters": [{"pattern": "{not json"}]}}),
    );
    let err = Desired::from_spec(&bad_pattern, owner(), "us-east-1", NOW).unwrap_err();
    assert_eq!(err.field, "filterCriteria.filters[0].pattern");

    let future = spec(
        json!({"eventSourceARN": KINESIS, "functionName": "f", "startingPosition": "AT_TIMESTAMP", "startingPositionTimestamp": "2099-01-01T00:00:00Z"}),
    );
    let err = Desired::from_spec(&future, owner(), "us-east-1", NOW).unwrap_err();
    assert_eq!(err.field, "startingPositionTimestamp");
    assert!(err.message.contains("future"));

    let garbled = spec(
        json!({"eventSourceARN": KINESIS, "functionName": "f", "startingPosition": "AT_TIMESTAMP", "startingPositionTimestamp": "yesterday"}),
    );
    assert_eq!(
        Desired::from_spec(&garbled, owner(), "us-east-1", NOW)
            .unwrap_err()
            .field,
        "startingPositionTimestamp"
    );

    assert_eq!(
        Desired::from_spec(
            &spec(json!({"functionName": "f"})),
            owner(),
            "us-east-1",
            NOW
        )
        .unwrap_err()
        .field,
        "eventSourceARN"
    );
}

#[test]
fn filter_pattern_errors_give_the_field_path_and_the_reason() {
    let with_patterns = |patterns: &[&str]| {
        let filters: Vec<_> = patterns.iter().map(|p| json!({"pattern": p})).collect();
        spec(
            json!({"eventSourceARN": SQS, "functionName": "f", "filterCriteria": {"filters": filters}}),
        )
    };
    let error = |patterns: &[&str]| {
        Desired::from_spec(&with_patterns(patterns), owner(), "us-east-1", NOW)
            .unwrap_err()
            .to_string()
    };
    // The second filter is broken: its 0-based index is 1, and serde's reason says where.
    let broken = error(&[r#"{"body": {"type": ["order"]}}"#, r#"{"body": }"#]);
    assert!(
        broken.starts_with("spec.filterCriteria.filters[1].pattern: not valid JSON (expected value at line 1 column 10)"),
        "{broken}"
    );
    let array = error(&[r#"["order"]"#]);
    assert!(
        array.starts_with("spec.filterCriteria.filters[0].pattern: must be a JSON object")
            && array.ends_with("not an array"),
        "{array}"
    );
    assert!(
        Desired::from_spec(
            &with_patterns(&[r#"{"body": {"type": ["order"]}}"#]),
            owner(),
            "us-east-1",
            NOW
        )
        .is_ok()
    );
}

#[test]
fn timestamps_go_to_the_wire_as_epoch_seconds() {
    let s = spec(
        json!({"eventSourceARN": KINESIS, "functionName": "f", "startingPosition": "AT_TIMESTAMP", "startingPositionTimestamp": "2026-01-01T00:00:00Z"}),
    );
    assert_eq!(
        desired(&s).fields.starting_position_timestamp,
        Some(1_767_225_600.0)
    );
}

#[test]
fn source_kinds_from_arns() {
    let cases = [
        (json!({"eventSourceARN": SQS}), SourceKind::SqsStandard),
        (
            json!({"eventSourceARN": "arn:aws:sqs:us-east-1:1:q.fifo"}),
            SourceKind::SqsFifo,
        ),
        (json!({"eventSourceARN": KINESIS}), SourceKind::Kinesis),
        (
            json!({"eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/t/stream/2024"}),
            SourceKind::DynamoDb,
        ),
        (json!({"eventSourceARN": MSK}), SourceKind::Msk),
        (
            json!({"eventSourceARN": "arn:aws:mq:us-east-1:1:broker:b:id"}),
            SourceKind::Mq,
        ),
        (
            json!({"eventSourceARN": "arn:aws:rds:us-east-1:1:cluster:docs"}),
            SourceKind::DocumentDb,
        ),
        (
            json!({"selfManagedEventSource": {"endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["b:9092"]}}}),
            SourceKind::SelfManagedKafka,
        ),
    ];
    for (mut v, want) in cases {
        v["functionName"] = json!("f");
        assert_eq!(SourceKind::of(&spec(v.clone())), want, "{v}");
    }
}

#[test]
fn tags_digest_changes_with_any_tag() {
    let a = desired(&spec(
        json!({"eventSourceARN": SQS, "functionName": "f", "tags": {"a": "1"}}),
    ));
    let b = desired(&spec(
        json!({"eventSourceARN": SQS, "functionName": "f", "tags": {"a": "2"}}),
    ));
    let c = desired(&spec(
        json!({"eventSourceARN": SQS, "functionName": "f", "tags": {"a1": ""}}),
    ));
    assert_ne!(a.tags_digest(), b.tags_digest());
    assert_ne!(a.tags_digest(), c.tags_digest());
    assert_eq!(
        a.tags_digest(),
        desired(&spec(
            json!({"eventSourceARN": SQS, "functionName": "f", "tags": {"a": "1"}})
        ))
        .tags_digest()
    );
}

// ---------------------------------------------------------------- management policies (#13)

/// A desired state for a spec of "generation" `generation`, whose Ready was last reached for
/// "generation" `ready` (equal: Ready for this very spec).
fn desired_at(spec: &EventSourceMappingSpec, generation: i64, ready: i64) -> Desired {
    let mut d = desired(spec);
    d.policy.spec_digest = Some(format!("spec-{generation}"));
    d.policy.ready_spec_digest = Some(format!("spec-{ready}"));
    d
}

fn recorded(digests: &[(&str, String)]) -> EventSourceMappingStatus {
    EventSourceMappingStatus {
        ignored_field_digests: digests
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        ..status_with_applied(&["BatchSize"])
    }
}

#[test]
fn observe_never_writes_and_reports_every_difference_as_drift() {
    let s = spec(
        json!({"eventSourceARN": SQS, "functionName": "handler", "batchSize": 5, "managementPolicy": "Observe"}),
    );
    for nothing in [Observed::Nothing, Observed::Gone { uuid: UUID.into() }] {
        let p = plan(&desired_at(&s, 2, 1), &status_with_applied(&[]), &nothing);
        assert_eq!(p.action, Action::None, "observe creates nothing");
        assert_eq!(p.verdict.reason(), "NothingToObserve");
    }
    let live = found(sqs_observed(json!({"BatchSize": 7, "State": "Disabled"})));
    // Even a spec change is not sent: the difference is drift either way.
    for (generation, observed) in [(2, 2), (3, 2)] {
        let p = plan(
            &desired_at(&s, generation, observed),
            &status_with_applied(&[]),
            &live,
        );
        assert_eq!(p.action, Action::None);
        assert!(p.verdict.is_ready(), "{:?}", p.verdict);
        assert_eq!(p.verdict.reason(), "Observed");
        assert_eq!(p.drift, vec![Field::BatchSize]);
        assert!(
            p.verdict.message().contains("batchSize"),
            "{}",
            p.verdict.message()
        );
        assert_eq!(p.ignored_digests, None);
    }
}

#[test]
fn full_management_fixes_drift_and_tells_drift_from_a_spec_change() {
    let s = spec(json!({"eventSourceARN": SQS, "functionName": "handler", "batchSize": 5}));
    let live = found(sqs_observed(json!({"BatchSize": 7})));
    let status = status_with_applied(&["BatchSize"]);
    // Spec unchanged since the last report: Lambda changed, that is drift, and it is fixed.
    let p = plan(&desired_at(&s, 4, 4), &status, &live);
    assert_eq!(update_body(&p), json!({"BatchSize": 5}));
    assert_eq!(p.drift, vec![Field::BatchSize]);
    // A new generation: the difference is the user's change, not drift.
    let p = plan(&desired_at(&s, 5, 4), &status, &live);
    assert_eq!(update_body(&p), json!({"BatchSize": 5}));
    assert!(p.drift.is_empty());
}

#[test]
fn an_ignored_field_changed_out_of_band_is_reported_and_left() {
    let s = spec(
        json!({"eventSourceARN": SQS, "functionName": "handler", "batchSize": 5, "maximumBatchingWindowInSeconds": 2, "ignoreDrift": ["batchSize"]}),
    );
    let d = desired_at(&s, 3, 3);
    let baseline = field_digest(Field::BatchSize, &d);
    let status = recorded(&[("batchSize", baseline.clone())]);
    let live = found(sqs_observed(
        json!({"BatchSize": 7, "MaximumBatchingWindowInSeconds": 2}),
    ));
    let p = plan(&d, &status, &live);
    assert_eq!(p.action, Action::None, "{p:?}");
    assert_eq!(p.verdict.reason(), "DriftIgnored");
    assert!(p.verdict.is_ready());
    assert_eq!(p.drift, vec![Field::BatchSize]);
    assert_eq!(
        p.ignored_digests,
        Some(BTreeMap::from([("batchSize".to_string(), baseline)]))
    );
    // Another field drifting too is still fixed, alone.
    let live = found(sqs_observed(
        json!({"BatchSize": 7, "MaximumBatchingWindowInSeconds": 9}),
    ));
    let p = plan(&d, &status, &live);
    assert_eq!(
        update_body(&p),
        json!({"MaximumBatchingWindowInSeconds": 2})
    );
    assert_eq!(
        p.drift,
        vec![Field::BatchSize, Field::MaximumBatchingWindowInSeconds]
    );
}

#[test]
fn a_spec_change_of_an_ignored_field_is_applied_and_becomes_the_baseline() {
    let old = spec(
        json!({"eventSourceARN": SQS, "functionName": "handler", "batchSize": 5, "ignoreDrift": ["batchSize"]}),
    );
    let new = spec(
        json!({"eventSourceARN": SQS, "functionName": "handler", "batchSize": 10, "ignoreDrift": ["batchSize"]}),
    );
    let status = recorded(&[("batchSize", field_digest(Field::BatchSize, &desired(&old)))]);
    let d = desired_at(&new, 4, 3);
    let p = plan(&d, &status, &found(sqs_observed(json!({"BatchSize": 7}))));
    assert_eq!(update_body(&p), json!({"BatchSize": 10}));
    assert!(p.drift.is_empty(), "a spec change is not drift");
    assert_eq!(
        p.ignored_digests.unwrap()["batchSize"],
        field_digest(Field::BatchSize, &d)
    );
}

#[test]
fn an_ignored_field_without_a_baseline_is_taken_as_lambda_has_it() {
    let s = spec(
        json!({"eventSourceARN": SQS, "functionName": "handler", "batchSize": 5, "ignoreDrift": ["scalingConfig.maximumConcurrency", "batchSize"]}),
    );
    let d = desired_at(&s, 1, 1);
    assert_eq!(
        d.policy.ignored,
        BTreeSet::from([Field::BatchSize, Field::ScalingConfig])
    );
    let p = plan(
        &d,
        &status_with_applied(&["BatchSize"]),
        &found(sqs_observed(json!({"BatchSize": 7}))),
    );
    assert_eq!(p.action, Action::None);
    assert_eq!(p.drift, vec![Field::BatchSize]);
}

#[test]
fn on_call_disabling_a_mapping_whose_enabled_is_ignored_is_left_disabled() {
    let s = spec(
        json!({"eventSourceARN": SQS, "functionName": "handler", "enabled": true, "ignoreDrift": ["enabled"]}),
    );
    let d = desired_at(&s, 2, 2);
    let status = recorded(&[("enabled", field_digest(Field::Enabled, &d))]);
    let live = found(sqs_observed(
        json!({"State": "Disabled", "StateTransitionReason": "USER_INITIATED"}),
    ));
    let p = plan(&d, &status, &live);
    assert_eq!(p.action, Action::None, "{p:?}");
    assert_eq!(p.drift, vec![Field::Enabled]);
    assert_eq!(p.verdict.reason(), "DriftIgnored");
    // Without the ignore, the same disable is drift that is fixed.
    let s = spec(json!({"eventSourceARN": SQS, "functionName": "handler", "enabled": true}));
    let p = plan(&desired_at(&s, 2, 2), &status, &live);
    assert_eq!(update_body(&p), json!({"Enabled": true}));
    assert_eq!(p.drift, vec![Field::Enabled]);
}
