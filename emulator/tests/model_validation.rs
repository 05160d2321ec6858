//! Model tests: per-source defaults (§2.3) and validation (§2.1, rules R1–R18 of §3).

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use esm_emulator::model::ModelConfig;
use serde_json::{Value, json};

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// Response shape and defaults.

#[test]
fn kinesis_create_fills_stream_defaults_and_response_fields() {
    let (m, _) = model();
    let v = create(&m, kinesis_body());
    let id = uuid(&v);
    assert_eq!(id.len(), 36);
    assert_eq!(
        v["EventSourceMappingArn"],
        format!("arn:aws:lambda:us-east-1:{ACCOUNT}:event-source-mapping:{id}")
    );
    assert_eq!(v["FunctionArn"], FN_ARN);
    assert_eq!(v["EventSourceArn"], KINESIS);
    assert_eq!(v["State"], "Creating");
    assert_eq!(v["StateTransitionReason"], "USER_INITIATED");
    assert_eq!(v["LastProcessingResult"], "No records processed");
    assert!(v["LastModified"].as_f64().unwrap() > 1.6e9);
    assert_eq!(v["StartingPosition"], "LATEST");
    assert_eq!(v["BatchSize"], 100);
    assert_eq!(v["MaximumBatchingWindowInSeconds"], 0);
    assert_eq!(v["ParallelizationFactor"], 1);
    assert_eq!(v["DestinationConfig"], json!({"OnFailure": {}}));
    assert_eq!(v["MaximumRecordAgeInSeconds"], -1);
    assert_eq!(v["BisectBatchOnFunctionError"], false);
    assert_eq!(v["MaximumRetryAttempts"], -1);
    assert_eq!(v["TumblingWindowInSeconds"], 0);
    assert_eq!(v["FunctionResponseTypes"], json!([]));
    for absent in [
        "Enabled",
        "Tags",
        "FunctionName",
        "FilterCriteria",
        "ScalingConfig",
        "Topics",
        "Queues",
    ] {
        assert!(v.get(absent).is_none(), "{absent} must not be returned");
    }
}

#[test]
fn dynamodb_create_has_the_same_stream_defaults() {
    let (m, _) = model();
    let v = create(
        &m,
        json!({"FunctionName": "worker", "EventSourceArn": DDB, "StartingPosition": "TRIM_HORIZON"}),
    );
    let k = create(&m, kinesis_body());
    let strip = |v: &Value| {
        let mut o = v.as_object().unwrap().clone();
        for volatile in [
            "UUID",
            "EventSourceMappingArn",
            "EventSourceArn",
            "StartingPosition",
            "LastModified",
        ] {
            o.remove(volatile);
        }
        o
    };
    assert_eq!(strip(&v), strip(&k));
}

#[test]
fn sqs_defaults_have_no_stream_fields() {
    let (m, _) = model();
    let v = create(&m, sqs_body());
    assert_eq!(
        keys(&v),
        [
            "BatchSize",
            "EventSourceArn",
            "EventSourceMappingArn",
            "FunctionArn",
            "FunctionResponseTypes",
            "LastModified",
            "LastProcessingResult",
            "MaximumBatchingWindowInSeconds",
            "State",
            "StateTransitionReason",
            "UUID"
        ]
    );
    assert_eq!(v["BatchSize"], 10);
    assert_eq!(v["MaximumBatchingWindowInSeconds"], 0);
    assert_eq!(v["FunctionResponseTypes"], json!([]));
}

#[test]
fn fifo_defaults_have_no_batching_window() {
    let (m, _) = model();
    let v = create(
        &m,
        json!({"FunctionName": "worker", "EventSourceArn": FIFO}),
    );
    assert_eq!(v["BatchSize"], 10);
    assert!(v.get("MaximumBatchingWindowInSeconds").is_none());
}

#[test]
fn msk_defaults_generate_a_consumer_group_and_omit_the_window() {
    let (m, _) = model();
    let v = create(&m, msk_body());
    assert_eq!(
        v["AmazonManagedKafkaEventSourceConfig"]["ConsumerGroupId"],
        v["UUID"]
    );
    assert!(v.get("MaximumBatchingWindowInSeconds").is_none());
    assert_eq!(v["Topics"], json!(["orders"]));
    assert_eq!(v["BatchSize"], 100);
    assert_eq!(v["StartingPosition"], "TRIM_HORIZON");
    assert_eq!(v["MaximumRetryAttempts"], -1);
    assert!(v.get("ParallelizationFactor").is_none());
    // A given consumer group id is kept.
    let mut body = msk_body();
    body["Topics"] = json!(["other-topic"]);
    body["AmazonManagedKafkaEventSourceConfig"] = json!({"ConsumerGroupId": "my-group"});
    let v = create(&m, body);
    assert_eq!(
        v["AmazonManagedKafkaEventSourceConfig"],
        json!({"ConsumerGroupId": "my-group"})
    );
}

#[test]
fn smk_sorts_brokers_and_has_no_event_source_arn() {
    let (m, _) = model();
    let v = create(&m, smk_body());
    assert!(v.get("EventSourceArn").is_none());
    assert_eq!(
        v["SelfManagedEventSource"]["Endpoints"]["KAFKA_BOOTSTRAP_SERVERS"],
        json!(["b1.example.com:9092", "b2.example.com:9092"])
    );
    assert_eq!(
        v["SelfManagedKafkaEventSourceConfig"]["ConsumerGroupId"],
        v["UUID"]
    );
}

#[test]
fn mq_and_documentdb_defaults() {
    let (m, _) = model();
    let v = create(&m, mq_body());
    assert_eq!(v["BatchSize"], 100);
    assert_eq!(v["Queues"], json!(["jobs"]));
    assert!(v.get("MaximumBatchingWindowInSeconds").is_none());
    assert!(v.get("FunctionResponseTypes").is_none());
    assert_eq!(v["SourceAccessConfigurations"].as_array().unwrap().len(), 2);
    let v = create(&m, docdb_body());
    assert_eq!(v["BatchSize"], 100);
    assert_eq!(
        v["DocumentDBEventSourceConfig"],
        json!({"DatabaseName": "shop", "FullDocument": "Default"})
    );
    assert!(v.get("MaximumBatchingWindowInSeconds").is_none());
}

#[test]
fn configured_fields_are_echoed() {
    let (m, _) = model();
    let mut body = kinesis_body();
    let extra = json!({
        "BatchSize": 500,
        "MaximumBatchingWindowInSeconds": 5,
        "ParallelizationFactor": 4,
        "FilterCriteria": {"Filters": [{"Pattern": "{\"data\":{\"kind\":[\"a\"]}}"}]},
        "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:dlq"}},
        "MaximumRecordAgeInSeconds": 3600,
        "BisectBatchOnFunctionError": true,
        "MaximumRetryAttempts": 3,
        "TumblingWindowInSeconds": 60,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "MetricsConfig": {"Metrics": ["EventCount"]},
        "KMSKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1234",
        "Tags": {"team": "payments"},
        "Enabled": false
    });
    for (k, val) in extra.as_object().unwrap() {
        body[k] = val.clone();
    }
    let v = create(&m, body.clone());
    for (k, val) in extra.as_object().unwrap() {
        if k == "Tags" || k == "Enabled" {
            assert!(v.get(k).is_none());
        } else {
            assert_eq!(&v[k], val, "{k}");
        }
    }
}

#[test]
fn uuids_are_distinct() {
    let (m, _) = model();
    let a = uuid(&create(&m, sqs_body()));
    let b = uuid(&create(
        &m,
        json!({"FunctionName": "worker", "EventSourceArn": SQS2}),
    ));
    assert_ne!(a, b);
}

// ---------------------------------------------------------------------------------------------
// Function and source resolution.

#[test]
fn missing_function_is_404_with_its_arn() {
    let (m, _) = model();
    let e = create_err(&m, json!({"FunctionName": "ghost", "EventSourceArn": SQS}));
    assert_eq!(e.status, 404);
    assert_eq!(e.code, "ResourceNotFoundException");
    assert_eq!(
        e.message,
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:ghost"
    );
    let e = create_err(
        &m,
        json!({"FunctionName": "worker:canary", "EventSourceArn": SQS}),
    );
    assert_eq!(
        e.message,
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:worker:canary"
    );
    let e = create_err(
        &m,
        json!({"FunctionName": "arn:aws:lambda:us-east-1:999999999999:function:worker", "EventSourceArn": SQS}),
    );
    assert_eq!(e.status, 404);
}

#[test]
fn function_name_forms_resolve_to_full_arns_with_qualifier_kept() {
    let (m, _) = model();
    let cases = [
        ("worker", SQS, FN_ARN.to_owned()),
        ("worker:live", SQS, format!("{FN_ARN}:live")),
        ("worker:7", SQS, format!("{FN_ARN}:7")),
        ("worker:$LATEST", SQS, format!("{FN_ARN}:$LATEST")),
        (
            "123456789012:function:other",
            SQS,
            "arn:aws:lambda:us-east-1:123456789012:function:other".to_owned(),
        ),
    ];
    for (name, source, arn) in cases {
        let v = create(&m, json!({"FunctionName": name, "EventSourceArn": source}));
        assert_eq!(v["FunctionArn"], arn.as_str(), "{name}");
    }
}

#[test]
fn malformed_function_name_is_400() {
    let (m, _) = model();
    assert_invalid(
        &create_err(
            &m,
            json!({"FunctionName": "bad name", "EventSourceArn": SQS}),
        ),
        "FunctionName",
    );
    assert_invalid(
        &create_err(&m, json!({"EventSourceArn": SQS})),
        "FunctionName",
    );
}

#[test]
fn unseeded_source_is_rejected_only_when_required() {
    let (m, _) = model_with(ModelConfig {
        require_seeded_sources: true,
        rate_limit_per_second: None,
        ..ModelConfig::default()
    });
    assert_invalid(&create_err(&m, sqs_body()), SQS);
    m.seed_event_source(SQS);
    create(&m, sqs_body());
    // SMK has no ARN to check.
    create(&m, smk_body());
}

#[test]
fn unsupported_or_malformed_event_source_arn_is_400() {
    let (m, _) = model();
    for arn in [
        "arn:aws:sns:us-east-1:123456789012:topic",
        "arn:aws:dynamodb:us-east-1:123456789012:table/users",
        "nonsense",
    ] {
        let e = create_err(
            &m,
            json!({"FunctionName": "worker", "EventSourceArn": arn, "StartingPosition": "LATEST"}),
        );
        assert_invalid(&e, "EventSource");
    }
}

// ---------------------------------------------------------------------------------------------
// Ranges and enums (§2.1).

#[test]
fn numeric_ranges_name_the_field() {
    let (m, _) = model();
    let cases = [
        ("BatchSize", json!(0)),
        ("BatchSize", json!(10_001)),
        ("MaximumBatchingWindowInSeconds", json!(-1)),
        ("MaximumBatchingWindowInSeconds", json!(301)),
        ("ParallelizationFactor", json!(0)),
        ("ParallelizationFactor", json!(11)),
        ("MaximumRecordAgeInSeconds", json!(-2)),
        ("MaximumRecordAgeInSeconds", json!(604_801)),
        ("MaximumRetryAttempts", json!(10_001)),
        ("TumblingWindowInSeconds", json!(901)),
    ];
    for (field, value) in cases {
        let mut body = kinesis_body();
        body[field] = value;
        assert_invalid(&create_err(&m, body), field);
    }
    let mut body = sqs_body();
    body["ScalingConfig"] = json!({"MaximumConcurrency": 1});
    assert_invalid(&create_err(&m, body), "ScalingConfig.MaximumConcurrency");
    let mut body = sqs_body();
    body["ScalingConfig"] = json!({"MaximumConcurrency": 1001});
    assert_invalid(&create_err(&m, body), "ScalingConfig.MaximumConcurrency");
}

#[test]
fn enums_are_checked() {
    let (m, _) = model();
    let mut body = kinesis_body();
    body["StartingPosition"] = json!("EARLIEST");
    assert_invalid(&create_err(&m, body), "StartingPosition");
    let mut body = kinesis_body();
    body["FunctionResponseTypes"] = json!(["ReportEverything"]);
    assert_invalid(&create_err(&m, body), "FunctionResponseTypes");
    let mut body = msk_body();
    body["MetricsConfig"] = json!({"Metrics": ["Latency"]});
    assert_invalid(&create_err(&m, body), "MetricsConfig.Metrics");
    let mut body = docdb_body();
    body["DocumentDBEventSourceConfig"] =
        json!({"DatabaseName": "shop", "FullDocument": "Everything"});
    assert_invalid(
        &create_err(&m, body),
        "DocumentDBEventSourceConfig.FullDocument",
    );
}

// ---------------------------------------------------------------------------------------------
// Cross-field rules (§3).

#[test]
fn r1_sqs_batch_over_10_needs_a_window() {
    let (m, _) = model();
    let mut body = sqs_body();
    body["BatchSize"] = json!(20);
    assert_invalid(
        &create_err(&m, body.clone()),
        "MaximumBatchingWindowInSeconds",
    );
    body["MaximumBatchingWindowInSeconds"] = json!(1);
    let v = create(&m, body);
    assert_eq!(v["BatchSize"], 20);
    // Streams are not bound by R1 (the doc's safe reading).
    let mut k = kinesis_body();
    k["BatchSize"] = json!(1000);
    create(&m, k);
}

#[test]
fn r1_applies_to_the_merged_configuration_on_update() {
    let (m, clock) = model();
    let id = uuid(&create(&m, sqs_body()));
    clock.advance(std::time::Duration::from_secs(2));
    assert_invalid(
        &update_err(&m, &id, json!({"BatchSize": 50})),
        "MaximumBatchingWindowInSeconds",
    );
    m.update_event_source_mapping(
        &id,
        &json!({"BatchSize": 50, "MaximumBatchingWindowInSeconds": 2}),
    )
    .unwrap();
    clock.advance(std::time::Duration::from_secs(2));
    assert_invalid(
        &update_err(&m, &id, json!({"MaximumBatchingWindowInSeconds": 0})),
        "BatchSize",
    );
}

#[test]
fn r2_fifo_batch_at_most_10_and_no_window() {
    let (m, _) = model();
    let e = create_err(
        &m,
        json!({"FunctionName": "worker", "EventSourceArn": FIFO, "BatchSize": 11}),
    );
    assert_invalid(&e, "FIFO");
    let e = create_err(
        &m,
        json!({"FunctionName": "worker", "EventSourceArn": FIFO, "MaximumBatchingWindowInSeconds": 0}),
    );
    assert_invalid(&e, "MaximumBatchingWindowInSeconds");
    create(
        &m,
        json!({"FunctionName": "worker", "EventSourceArn": FIFO, "BatchSize": 10}),
    );
}

#[test]
fn r3_record_age_is_minus_one_or_at_least_60() {
    let (m, _) = model();
    for bad in [0, 30, 59] {
        let mut body = kinesis_body();
        body["MaximumRecordAgeInSeconds"] = json!(bad);
        assert_invalid(&create_err(&m, body), "MaximumRecordAgeInSeconds");
    }
    let mut body = kinesis_body();
    body["MaximumRecordAgeInSeconds"] = json!(60);
    create(&m, body);
    let mut body =
        json!({"FunctionName": "other", "EventSourceArn": KINESIS, "StartingPosition": "LATEST"});
    body["MaximumRecordAgeInSeconds"] = json!(-1);
    create(&m, body);
}

#[test]
fn r4_starting_position_required_for_streams_and_kafka_forbidden_for_queues() {
    let (m, _) = model();
    for mut body in [kinesis_body(), msk_body(), smk_body()] {
        body.as_object_mut().unwrap().remove("StartingPosition");
        assert_invalid(&create_err(&m, body), "StartingPosition");
    }
    let e = create_err(&m, json!({"FunctionName": "worker", "EventSourceArn": DDB}));
    assert_invalid(&e, "StartingPosition");
    let mut body = sqs_body();
    body["StartingPosition"] = json!("LATEST");
    assert_invalid(&create_err(&m, body), "StartingPosition");
    let mut body = mq_body();
    body["StartingPosition"] = json!("LATEST");
    assert_invalid(&create_err(&m, body), "StartingPosition");
    // DocumentDB: optional.
    let mut body = docdb_body();
    body.as_object_mut().unwrap().remove("StartingPosition");
    create(&m, body);
}

#[test]
fn r4_at_timestamp_is_not_for_dynamodb() {
    let (m, _) = model();
    let ts = now_epoch() - 3600.0;
    let e = create_err(
        &m,
        json!({"FunctionName": "worker", "EventSourceArn": DDB, "StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": ts}),
    );
    assert_invalid(&e, "AT_TIMESTAMP");
}

#[test]
fn r5_timestamp_rules() {
    let (m, _) = model();
    let base = json!({"FunctionName": "worker", "EventSourceArn": KINESIS, "StartingPosition": "AT_TIMESTAMP"});
    assert_invalid(&create_err(&m, base.clone()), "StartingPositionTimestamp");
    let mut future = base.clone();
    future["StartingPositionTimestamp"] = json!(now_epoch() + 86_400.0);
    assert_invalid(&create_err(&m, future), "future");
    let mut wrong_position = kinesis_body();
    wrong_position["StartingPositionTimestamp"] = json!(now_epoch() - 60.0);
    assert_invalid(&create_err(&m, wrong_position), "StartingPositionTimestamp");
    let mut ok = base;
    ok["StartingPositionTimestamp"] = json!(1_700_000_000);
    let v = create(&m, ok);
    assert_eq!(v["StartingPositionTimestamp"], json!(1_700_000_000));
}

#[test]
fn r8_kafka_queue_mode() {
    let (m, _) = model();
    let mut body = smk_body();
    body["SelfManagedKafkaEventSourceConfig"] = json!({"ConsumptionMode": "Queue"});
    assert_invalid(&create_err(&m, body.clone()), "StartingPosition");
    body.as_object_mut().unwrap().remove("StartingPosition");
    let mut with_window = body.clone();
    with_window["MaximumBatchingWindowInSeconds"] = json!(1);
    assert_invalid(
        &create_err(&m, with_window),
        "MaximumBatchingWindowInSeconds",
    );
    let v = create(&m, body);
    assert_eq!(v["MaximumRetryAttempts"], 0);
    assert_eq!(
        v["SelfManagedKafkaEventSourceConfig"]["ConsumptionMode"],
        "Queue"
    );
    assert!(v.get("StartingPosition").is_none());
}

#[test]
fn r10_logging_and_kafka_metrics_only_for_kafka_in_provisioned_mode() {
    let (m, _) = model();
    let mut body = sqs_body();
    body["LoggingConfig"] = json!({"SystemLogLevel": "INFO"});
    assert_invalid(&create_err(&m, body), "LoggingConfig");
    let mut body = msk_body();
    body["LoggingConfig"] = json!({"SystemLogLevel": "INFO"});
    assert_invalid(&create_err(&m, body.clone()), "ProvisionedPollerConfig");
    body["ProvisionedPollerConfig"] = json!({"MinimumPollers": 1, "MaximumPollers": 3});
    body["MetricsConfig"] = json!({"Metrics": ["EventCount", "KafkaMetrics", "ErrorCount"]});
    let v = create(&m, body);
    assert_eq!(v["LoggingConfig"], json!({"SystemLogLevel": "INFO"}));
    let mut body = kinesis_body();
    body["MetricsConfig"] = json!({"Metrics": ["ErrorCount"]});
    assert_invalid(&create_err(&m, body), "ErrorCount");
}

#[test]
fn r11_sqs_scaling_and_provisioned_mode_are_exclusive() {
    let (m, _) = model();
    let mut body = sqs_body();
    body["ScalingConfig"] = json!({"MaximumConcurrency": 5});
    body["ProvisionedPollerConfig"] = json!({"MinimumPollers": 2});
    assert_invalid(&create_err(&m, body), "ScalingConfig");
}

#[test]
fn r12_poller_bounds() {
    let (m, _) = model();
    let mut body = sqs_body();
    body["ProvisionedPollerConfig"] = json!({"MinimumPollers": 5, "MaximumPollers": 4});
    assert_invalid(&create_err(&m, body), "MaximumPollers");
    let mut body = sqs_body();
    body["ProvisionedPollerConfig"] = json!({"MinimumPollers": 1});
    assert_invalid(&create_err(&m, body), "MinimumPollers");
    let mut body = sqs_body();
    body["ProvisionedPollerConfig"] = json!({"PollerGroupName": "g"});
    assert_invalid(&create_err(&m, body), "PollerGroupName");
    let mut body = msk_body();
    body["ProvisionedPollerConfig"] = json!({"MaximumPollers": 2001});
    assert_invalid(&create_err(&m, body), "MaximumPollers");
    // Defaults for an empty object.
    let mut body = sqs_body();
    body["ProvisionedPollerConfig"] = json!({});
    let v = create(&m, body);
    assert_eq!(
        v["ProvisionedPollerConfig"],
        json!({"MinimumPollers": 2, "MaximumPollers": 200})
    );
    let mut body = msk_body();
    body["ProvisionedPollerConfig"] = json!({});
    let v = create(&m, body);
    assert_eq!(
        v["ProvisionedPollerConfig"],
        json!({"MinimumPollers": 1, "MaximumPollers": 200})
    );
}

#[test]
fn r12_poller_group_capacity() {
    let (m, _) = model();
    for (i, topic) in ["t1", "t2"].iter().enumerate() {
        let mut body = msk_body();
        body["Topics"] = json!([topic]);
        body["ProvisionedPollerConfig"] =
            json!({"MaximumPollers": 900, "PollerGroupName": "shared"});
        create(&m, body);
        assert_eq!(m.mappings().len(), i + 1);
    }
    let mut body = msk_body();
    body["Topics"] = json!(["t3"]);
    body["ProvisionedPollerConfig"] = json!({"MaximumPollers": 300, "PollerGroupName": "shared"});
    assert_invalid(&create_err(&m, body.clone()), "2000");
    body["ProvisionedPollerConfig"] = json!({"MaximumPollers": 200, "PollerGroupName": "shared"});
    create(&m, body);
}

#[test]
fn r13_destinations() {
    let (m, _) = model();
    let mut body = kinesis_body();
    body["DestinationConfig"] =
        json!({"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:123456789012:ok"}});
    assert_invalid(&create_err(&m, body), "OnSuccess");
    let mut body = kinesis_body();
    body["DestinationConfig"] = json!({"OnFailure": {"Destination": "kafka://dlq"}});
    assert_invalid(&create_err(&m, body), "kafka://");
    let mut body = msk_body();
    body["DestinationConfig"] = json!({"OnFailure": {"Destination": "kafka://dlq"}});
    create(&m, body);
    let mut body = sqs_body();
    body["DestinationConfig"] =
        json!({"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:dlq"}});
    assert_invalid(&create_err(&m, body), "DestinationConfig");
}

#[test]
fn r14_filters() {
    let (m, _) = model();
    let filters = |n: usize| -> Value {
        json!({"Filters": (0..n).map(|i| json!({"Pattern": format!("{{\"body\":{{\"n\":[{i}]}}}}")})).collect::<Vec<_>>()})
    };
    let mut body = sqs_body();
    body["FilterCriteria"] = filters(6);
    assert_invalid(&create_err(&m, body.clone()), "FilterCriteria");
    body["FilterCriteria"] = filters(5);
    create(&m, body);
    let mut body = docdb_body();
    body["FilterCriteria"] = filters(1);
    assert_invalid(&create_err(&m, body), "FilterCriteria");
    let mut body = kinesis_body();
    body["FilterCriteria"] = json!({"Filters": [{"Pattern": "{not json"}]});
    assert_invalid(&create_err(&m, body), "FilterCriteria.Filters.1.Pattern");
    let mut body = kinesis_body();
    body["FilterCriteria"] =
        json!({"Filters": [{"Pattern": format!("{{\"a\":\"{}\"}}", "x".repeat(4091))}]});
    assert_invalid(&create_err(&m, body), "FilterCriteria.Filters.1.Pattern");
    // The limit is a configuration knob (quota increase to 10).
    let (m10, _) = model_with(ModelConfig {
        max_filters_per_mapping: 10,
        rate_limit_per_second: None,
        ..ModelConfig::default()
    });
    let mut body = sqs_body();
    body["FilterCriteria"] = filters(10);
    create(&m10, body);
}

#[test]
fn r16_virtual_host_cannot_be_sent_on_update_and_survives_it() {
    let (m, clock) = model();
    let id = uuid(&create(&m, mq_body()));
    clock.advance(std::time::Duration::from_secs(2));
    let e = update_err(
        &m,
        &id,
        json!({"SourceAccessConfigurations": [{"Type": "VIRTUAL_HOST", "URI": "/other"}]}),
    );
    assert_invalid(&e, "VIRTUAL_HOST");
    let new_secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mq2";
    let v = m
        .update_event_source_mapping(
            &id,
            &json!({"SourceAccessConfigurations": [{"Type": "BASIC_AUTH", "URI": new_secret}]}),
        )
        .unwrap();
    assert_eq!(
        v["SourceAccessConfigurations"],
        json!([{"Type": "BASIC_AUTH", "URI": new_secret}, {"Type": "VIRTUAL_HOST", "URI": "/prod"}])
    );
}

#[test]
fn r16_source_access_types_per_source() {
    let (m, _) = model();
    let mut body = msk_body();
    body["SourceAccessConfigurations"] = json!([{"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"}]);
    assert_invalid(&create_err(&m, body), "BASIC_AUTH");
    let mut body = smk_body();
    body["SourceAccessConfigurations"] = json!([
        {"Type": "VPC_SUBNET", "URI": "subnet:subnet-1"},
        {"Type": "VPC_SECURITY_GROUP", "URI": "security_group:sg-1"},
        {"Type": "IAM_OAUTHBEARER_AUTH"},
        {"Type": "OAUTHBEARER_AUDIENCE", "URI": "aud"}
    ]);
    create(&m, body);
    let mut body = sqs_body();
    body["SourceAccessConfigurations"] = json!([]);
    assert_invalid(&create_err(&m, body), "SourceAccessConfigurations");
}

#[test]
fn r17_exactly_one_topic_or_queue() {
    let (m, _) = model();
    let mut body = msk_body();
    body["Topics"] = json!(["a", "b"]);
    assert_invalid(&create_err(&m, body), "Topics");
    let mut body = msk_body();
    body.as_object_mut().unwrap().remove("Topics");
    assert_invalid(&create_err(&m, body), "Topics");
    let mut body = mq_body();
    body.as_object_mut().unwrap().remove("Queues");
    assert_invalid(&create_err(&m, body), "Queues");
    let mut body = mq_body();
    body["Queues"] = json!(["a", "b"]);
    assert_invalid(&create_err(&m, body), "Queues");
    let mut body = sqs_body();
    body["Topics"] = json!(["t"]);
    assert_invalid(&create_err(&m, body), "Topics");
}

#[test]
fn r18_event_source_arn_xor_self_managed_source() {
    let (m, _) = model();
    let mut body = smk_body();
    body["EventSourceArn"] = json!(MSK);
    assert_invalid(&create_err(&m, body), "SelfManagedEventSource");
    assert_invalid(
        &create_err(&m, json!({"FunctionName": "worker"})),
        "EventSourceArn",
    );
    let mut body = smk_body();
    body["AmazonManagedKafkaEventSourceConfig"] = json!({"ConsumerGroupId": "g"});
    assert_invalid(&create_err(&m, body), "AmazonManagedKafkaEventSourceConfig");
    let mut body = msk_body();
    body["SelfManagedKafkaEventSourceConfig"] = json!({"ConsumerGroupId": "g"});
    assert_invalid(&create_err(&m, body), "SelfManagedKafkaEventSourceConfig");
}

#[test]
fn fields_not_applicable_to_the_source_are_rejected() {
    let (m, _) = model();
    let cases = [
        (sqs_body(), "ParallelizationFactor", json!(2)),
        (sqs_body(), "TumblingWindowInSeconds", json!(10)),
        (sqs_body(), "MaximumRetryAttempts", json!(1)),
        (sqs_body(), "BisectBatchOnFunctionError", json!(true)),
        (sqs_body(), "MaximumRecordAgeInSeconds", json!(60)),
        (
            kinesis_body(),
            "ScalingConfig",
            json!({"MaximumConcurrency": 5}),
        ),
        (kinesis_body(), "Queues", json!(["q"])),
        (
            kinesis_body(),
            "SourceAccessConfigurations",
            json!([{"Type": "BASIC_AUTH", "URI": "x"}]),
        ),
        (
            kinesis_body(),
            "DocumentDBEventSourceConfig",
            json!({"DatabaseName": "d"}),
        ),
        (msk_body(), "ParallelizationFactor", json!(2)),
        (
            mq_body(),
            "FunctionResponseTypes",
            json!(["ReportBatchItemFailures"]),
        ),
        (mq_body(), "ProvisionedPollerConfig", json!({})),
        (docdb_body(), "DestinationConfig", json!({"OnFailure": {}})),
    ];
    for (mut body, field, value) in cases {
        body[field] = value;
        assert_invalid(&create_err(&m, body), field);
    }
}

#[test]
fn documentdb_needs_a_database_name() {
    let (m, _) = model();
    let mut body = docdb_body();
    body.as_object_mut()
        .unwrap()
        .remove("DocumentDBEventSourceConfig");
    assert_invalid(&create_err(&m, body), "DocumentDBEventSourceConfig");
    let mut body = docdb_body();
    body["DocumentDBEventSourceConfig"] = json!({"CollectionName": "c"});
    assert_invalid(
        &create_err(&m, body),
        "DocumentDBEventSourceConfig.DatabaseName",
    );
    let mut body = docdb_body();
    body["DocumentDBEventSourceConfig"] = json!({"DatabaseName": "d".repeat(64)});
    assert_invalid(
        &create_err(&m, body),
        "DocumentDBEventSourceConfig.DatabaseName",
    );
}

#[test]
fn unknown_request_fields_are_ignored() {
    let (m, _) = model();
    let mut body = sqs_body();
    body["SomethingNew"] = json!({"x": 1});
    body["State"] = json!("Disabled");
    let v = create(&m, body);
    assert!(v.get("SomethingNew").is_none());
    assert_eq!(v["State"], "Creating");
}

#[test]
fn update_ignores_create_only_fields() {
    let (m, clock) = model();
    let v = create(&m, kinesis_body());
    let id = uuid(&v);
    clock.advance(std::time::Duration::from_secs(2));
    let after = m
        .update_event_source_mapping(
            &id,
            &json!({"StartingPosition": "TRIM_HORIZON", "EventSourceArn": DDB, "Topics": ["x"], "Tags": {"a": "b"}, "BatchSize": 7}),
        )
        .unwrap();
    assert_eq!(after["StartingPosition"], "LATEST");
    assert_eq!(after["EventSourceArn"], KINESIS);
    assert!(after.get("Topics").is_none());
    assert_eq!(after["BatchSize"], 7);
    assert!(
        m.list_tags(after["EventSourceMappingArn"].as_str().unwrap())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn kafka_consumer_group_and_consumption_mode_are_fixed_on_update() {
    let (m, clock) = model();
    let v = create(&m, msk_body());
    let id = uuid(&v);
    clock.advance(std::time::Duration::from_secs(2));
    let e = update_err(
        &m,
        &id,
        json!({"AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "new"}}),
    );
    assert_invalid(&e, "ConsumerGroupId");
    let registry = json!({"SchemaRegistryURI": "arn:aws:glue:us-east-1:123456789012:registry/r", "EventRecordFormat": "JSON",
        "SchemaValidationConfigs": [{"Attribute": "VALUE"}]});
    let after = m
        .update_event_source_mapping(
            &id,
            &json!({"AmazonManagedKafkaEventSourceConfig": {"SchemaRegistryConfig": registry}}),
        )
        .unwrap();
    assert_eq!(
        after["AmazonManagedKafkaEventSourceConfig"]["ConsumerGroupId"],
        json!(id)
    );
    assert_eq!(
        after["AmazonManagedKafkaEventSourceConfig"]["SchemaRegistryConfig"],
        registry
    );

    let s = create(&m, smk_body());
    let sid = uuid(&s);
    clock.advance(std::time::Duration::from_secs(2));
    let e = update_err(
        &m,
        &sid,
        json!({"SelfManagedKafkaEventSourceConfig": {"ConsumptionMode": "Queue"}}),
    );
    assert_invalid(&e, "ConsumptionMode");
}

/// Lambda's Update refuses a DocumentDB database or collection other than the mapping's
/// (aws-cli issue 7756); FullDocument changes, and the database and collection stay.
#[test]
fn documentdb_database_and_collection_are_fixed_on_update() {
    let (m, clock) = model();
    let mut body = docdb_body();
    body["DocumentDBEventSourceConfig"]["CollectionName"] = json!("orders");
    let id = uuid(&create(&m, body));
    clock.advance(std::time::Duration::from_secs(2));
    for (config, field) in [
        (json!({"DatabaseName": "other"}), "DatabaseName"),
        (
            json!({"DatabaseName": "shop", "CollectionName": "returns"}),
            "CollectionName",
        ),
        (json!({"CollectionName": "returns"}), "CollectionName"),
    ] {
        let e = update_err(&m, &id, json!({"DocumentDBEventSourceConfig": config}));
        assert_invalid(&e, &format!("DocumentDBEventSourceConfig.{field}"));
    }
    let after = m
        .update_event_source_mapping(
            &id,
            &json!({"DocumentDBEventSourceConfig": {"FullDocument": "UpdateLookup"}}),
        )
        .unwrap();
    assert_eq!(
        after["DocumentDBEventSourceConfig"],
        json!({"DatabaseName": "shop", "CollectionName": "orders", "FullDocument": "UpdateLookup"})
    );

    // A mapping that watches the whole database cannot be narrowed to one collection either.
    let whole = uuid(&create(
        &m,
        json!({"FunctionName": "worker", "EventSourceArn": "arn:aws:rds:us-east-1:123456789012:cluster:docdb-two",
        "StartingPosition": "LATEST", "DocumentDBEventSourceConfig": {"DatabaseName": "shop"}}),
    ));
    clock.advance(std::time::Duration::from_secs(2));
    let e = update_err(
        &m,
        &whole,
        json!({"DocumentDBEventSourceConfig": {"DatabaseName": "shop", "CollectionName": "orders"}}),
    );
    assert_invalid(&e, "DocumentDBEventSourceConfig.CollectionName");
}
