//! Model tests: state machine (§4), duplicates (§5.2), List (§7.2), clearing (§6.6), KMS and
//! List (§6.2), tags, rate limit, faults and the admin hooks.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use esm_emulator::model::{ApiError, Fault, Model, ModelConfig};
use serde_json::{Value, json};

const SEC: Duration = Duration::from_secs(1);

fn state(m: &Model, id: &str) -> String {
    m.get_event_source_mapping(id).unwrap()["State"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn settle(clock: &esm_emulator::ManualClock) {
    clock.advance(SEC);
}

// ---------------------------------------------------------------------------------------------
// State machine.

#[test]
fn create_settles_after_the_transition_delay() {
    let (m, clock) = model();
    let v = create(&m, sqs_body());
    let id = uuid(&v);
    let created_at = v["LastModified"].as_f64().unwrap();
    clock.advance(Duration::from_millis(999));
    assert_eq!(state(&m, &id), "Creating");
    clock.advance(Duration::from_millis(1));
    let got = m.get_event_source_mapping(&id).unwrap();
    assert_eq!(got["State"], "Enabled");
    // LastModified moves with the state change (to the moment of the transition).
    let settled_at = got["LastModified"].as_f64().unwrap();
    assert!(
        (settled_at - created_at - 1.0).abs() < 0.002,
        "{created_at} → {settled_at}"
    );
}

#[test]
fn create_disabled_settles_disabled() {
    let (m, clock) = model();
    let mut body = sqs_body();
    body["Enabled"] = json!(false);
    let id = uuid(&create(&m, body));
    settle(&clock);
    assert_eq!(state(&m, &id), "Disabled");
}

#[test]
fn enable_and_disable_go_through_their_transitional_states() {
    let (m, clock) = model();
    let id = uuid(&create(&m, sqs_body()));
    settle(&clock);
    let v = m
        .update_event_source_mapping(&id, &json!({"Enabled": false}))
        .unwrap();
    assert_eq!(v["State"], "Disabling");
    assert_eq!(v["StateTransitionReason"], "USER_INITIATED");
    settle(&clock);
    assert_eq!(state(&m, &id), "Disabled");
    let v = m
        .update_event_source_mapping(&id, &json!({"Enabled": true}))
        .unwrap();
    assert_eq!(v["State"], "Enabling");
    settle(&clock);
    assert_eq!(state(&m, &id), "Enabled");
}

#[test]
fn config_update_goes_through_updating_back_to_the_previous_stable_state() {
    let (m, clock) = model();
    let mut body = sqs_body();
    body["Enabled"] = json!(false);
    let id = uuid(&create(&m, body));
    settle(&clock);
    let v = m
        .update_event_source_mapping(&id, &json!({"BatchSize": 5}))
        .unwrap();
    assert_eq!(v["State"], "Updating");
    assert_eq!(v["BatchSize"], 5);
    settle(&clock);
    assert_eq!(state(&m, &id), "Disabled");
    // Enabled=false on a disabled mapping is no state change: plain Updating.
    let v = m
        .update_event_source_mapping(&id, &json!({"Enabled": false}))
        .unwrap();
    assert_eq!(v["State"], "Updating");
}

#[test]
fn update_and_delete_in_busy_states_are_resource_in_use() {
    let (m, clock) = model();
    let id = uuid(&create(&m, sqs_body()));
    let check = |e: ApiError, busy_state: &str| {
        assert_eq!(e.status, 400);
        assert_eq!(e.code, "ResourceInUseException");
        assert!(e.message.contains("in use"), "{}", e.message);
        assert!(e.message.contains(busy_state), "{}", e.message);
    };
    // Creating.
    check(update_err(&m, &id, json!({"BatchSize": 3})), "Creating");
    check(m.delete_event_source_mapping(&id).unwrap_err(), "Creating");
    settle(&clock);
    // Updating.
    m.update_event_source_mapping(&id, &json!({"BatchSize": 3}))
        .unwrap();
    check(update_err(&m, &id, json!({"BatchSize": 4})), "Updating");
    check(m.delete_event_source_mapping(&id).unwrap_err(), "Updating");
    settle(&clock);
    // Disabling.
    m.update_event_source_mapping(&id, &json!({"Enabled": false}))
        .unwrap();
    check(update_err(&m, &id, json!({"Enabled": true})), "Disabling");
    settle(&clock);
    // Enabling.
    m.update_event_source_mapping(&id, &json!({"Enabled": true}))
        .unwrap();
    check(m.delete_event_source_mapping(&id).unwrap_err(), "Enabling");
    settle(&clock);
    // Deleting.
    m.delete_event_source_mapping(&id).unwrap();
    check(update_err(&m, &id, json!({"BatchSize": 4})), "Deleting");
    check(m.delete_event_source_mapping(&id).unwrap_err(), "Deleting");
}

#[test]
fn delete_shows_deleting_then_404() {
    let (m, clock) = model();
    let id = uuid(&create(&m, sqs_body()));
    settle(&clock);
    let v = m.delete_event_source_mapping(&id).unwrap();
    assert_eq!(v["State"], "Deleting");
    assert_eq!(v["UUID"], json!(id));
    clock.advance(Duration::from_millis(500));
    assert_eq!(state(&m, &id), "Deleting");
    clock.advance(Duration::from_millis(500));
    let e = m.get_event_source_mapping(&id).unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str()),
        (404, "ResourceNotFoundException")
    );
    let e = m.delete_event_source_mapping(&id).unwrap_err();
    assert_eq!(e.status, 404);
    assert!(m.mappings().is_empty());
}

#[test]
fn unknown_and_malformed_uuids() {
    let (m, _) = model();
    let unknown = "00000000-0000-4000-8000-000000000000";
    assert_eq!(m.get_event_source_mapping(unknown).unwrap_err().status, 404);
    assert_eq!(
        m.update_event_source_mapping(unknown, &json!({}))
            .unwrap_err()
            .status,
        404
    );
    assert_eq!(
        m.delete_event_source_mapping(unknown).unwrap_err().status,
        404
    );
    assert_invalid(&m.get_event_source_mapping("short").unwrap_err(), "UUID");
}

#[test]
fn delays_are_adjustable_and_zero_settles_on_next_access() {
    let (m, clock) = model();
    m.set_transition_delays(Duration::ZERO, Duration::from_secs(5));
    let v = create(&m, sqs_body());
    assert_eq!(v["State"], "Creating");
    let id = uuid(&v);
    assert_eq!(state(&m, &id), "Enabled");
    m.delete_event_source_mapping(&id).unwrap();
    clock.advance(Duration::from_secs(4));
    assert_eq!(state(&m, &id), "Deleting");
    clock.advance(SEC);
    assert!(m.get_event_source_mapping(&id).is_err());
}

#[test]
fn real_clock_model_settles_in_real_time() {
    let m = Model::new(ModelConfig {
        transition_delay: Duration::from_millis(30),
        rate_limit_per_second: None,
        ..ModelConfig::default()
    });
    m.seed_function("worker");
    let id = uuid(&create(&m, sqs_body()));
    assert_eq!(state(&m, &id), "Creating");
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(state(&m, &id), "Enabled");
}

// ---------------------------------------------------------------------------------------------
// Duplicates.

#[test]
fn duplicate_sqs_mapping_conflicts_with_lambdas_message() {
    let (m, _) = model();
    let first = uuid(&create(&m, sqs_body()));
    let e = create_err(&m, sqs_body());
    assert_eq!(e.status, 409);
    assert_eq!(e.code, "ResourceConflictException");
    assert_eq!(
        e.message,
        format!(
            "An event source mapping with SQS arn (\" {SQS} \") and function (\" {FN_ARN} \") already exists. \
             Please update or delete the existing mapping with UUID {first}"
        )
    );
}

#[test]
fn duplicate_stream_mapping_message() {
    let (m, _) = model();
    let first = uuid(&create(&m, kinesis_body()));
    let e = create_err(&m, kinesis_body());
    assert_eq!(
        e.message,
        format!(
            "The event source arn (\" {KINESIS} \") and function (\" {FN_ARN} \") provided mapping already exists. \
             Please update or delete the existing mapping with UUID {first}"
        )
    );
}

#[test]
fn duplicate_key_includes_qualifier_and_kafka_topic() {
    let (m, _) = model();
    create(&m, sqs_body());
    // Same queue, aliased function: a different mapping.
    create(
        &m,
        json!({"FunctionName": "worker:live", "EventSourceArn": SQS}),
    );
    // Same function by full ARN: the same function ARN → duplicate.
    assert_eq!(
        create_err(&m, json!({"FunctionName": FN_ARN, "EventSourceArn": SQS})).status,
        409
    );
    // Kafka: topics are part of the key.
    let first = uuid(&create(&m, msk_body()));
    let mut other_topic = msk_body();
    other_topic["Topics"] = json!(["invoices"]);
    create(&m, other_topic);
    let e = create_err(&m, msk_body());
    assert!(e.message.contains("topics (\" orders \")"), "{}", e.message);
    assert!(e.message.ends_with(&format!("UUID {first}")));
    // SMK: the broker list is the source.
    create(&m, smk_body());
    assert_eq!(create_err(&m, smk_body()).status, 409);
}

#[test]
fn a_deleting_mapping_still_conflicts_until_gone() {
    let (m, clock) = model();
    let first = uuid(&create(&m, sqs_body()));
    settle(&clock);
    m.delete_event_source_mapping(&first).unwrap();
    let e = create_err(&m, sqs_body());
    assert!(e.message.ends_with(&first));
    settle(&clock);
    create(&m, sqs_body());
}

#[test]
fn repointing_to_a_mapped_function_conflicts() {
    let (m, clock) = model();
    let a = uuid(&create(&m, sqs_body()));
    let b = uuid(&create(
        &m,
        json!({"FunctionName": "other", "EventSourceArn": SQS}),
    ));
    settle(&clock);
    let e = update_err(&m, &b, json!({"FunctionName": "worker"}));
    assert_eq!(e.status, 409);
    assert!(e.message.ends_with(&a));
    // Re-pointing to a free alias works and keeps the qualifier.
    let v = m
        .update_event_source_mapping(&b, &json!({"FunctionName": "worker:live"}))
        .unwrap();
    assert_eq!(v["FunctionArn"], format!("{FN_ARN}:live"));
    // An unknown function is 404.
    settle(&clock);
    assert_eq!(
        update_err(&m, &b, json!({"FunctionName": "ghost"})).status,
        404
    );
}

// ---------------------------------------------------------------------------------------------
// List.

fn page(m: &Model, marker: Option<&str>, max: Option<i32>) -> (Vec<String>, Option<String>) {
    let v = m
        .list_event_source_mappings(None, None, marker, max)
        .unwrap();
    let ids = v["EventSourceMappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["UUID"].as_str().unwrap().to_owned())
        .collect();
    (ids, v["NextMarker"].as_str().map(str::to_owned))
}

#[test]
fn paging_250_mappings_gives_three_pages() {
    let (m, _) = model();
    let mut created = Vec::new();
    for i in 0..250 {
        let arn = format!("arn:aws:sqs:us-east-1:123456789012:q{i}");
        created.push(uuid(&create(
            &m,
            json!({"FunctionName": "worker", "EventSourceArn": arn}),
        )));
    }
    let (p1, m1) = page(&m, None, Some(1000));
    assert_eq!(p1.len(), 100);
    let (p2, m2) = page(&m, m1.as_deref(), Some(1000));
    assert_eq!(p2.len(), 100);
    let (p3, m3) = page(&m, m2.as_deref(), None);
    assert_eq!(p3.len(), 50);
    assert!(m3.is_none());
    let all: Vec<String> = p1.into_iter().chain(p2).chain(p3).collect();
    assert_eq!(all, created, "creation order, no gaps, no repeats");
    // MaxItems below the cap is honoured.
    let (small, marker) = page(&m, None, Some(7));
    assert_eq!(small, created[..7]);
    let (next, _) = page(&m, marker.as_deref(), Some(7));
    assert_eq!(next, created[7..14]);
}

#[test]
fn paging_survives_deletes_between_pages() {
    let (m, clock) = model();
    m.set_transition_delays(Duration::ZERO, Duration::ZERO);
    let ids: Vec<String> = (0..5)
        .map(|i| {
            let arn = format!("arn:aws:sqs:us-east-1:123456789012:q{i}");
            uuid(&create(
                &m,
                json!({"FunctionName": "worker", "EventSourceArn": arn}),
            ))
        })
        .collect();
    let (first, marker) = page(&m, None, Some(2));
    assert_eq!(first, ids[..2]);
    m.delete_event_source_mapping(&ids[1]).unwrap();
    m.delete_event_source_mapping(&ids[2]).unwrap();
    clock.advance(Duration::from_millis(1));
    let (rest, end) = page(&m, marker.as_deref(), Some(10));
    assert_eq!(rest, ids[3..]);
    assert!(end.is_none());
}

#[test]
fn list_filters() {
    let (m, _) = model();
    let a = uuid(&create(&m, sqs_body()));
    let b = uuid(&create(
        &m,
        json!({"FunctionName": "worker:live", "EventSourceArn": SQS}),
    ));
    let c = uuid(&create(
        &m,
        json!({"FunctionName": "other", "EventSourceArn": SQS2}),
    ));
    let ids = |esa: Option<&str>, f: Option<&str>| -> Vec<String> {
        m.list_event_source_mappings(esa, f, None, None).unwrap()["EventSourceMappings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["UUID"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(None, None), [a.as_str(), b.as_str(), c.as_str()]);
    assert_eq!(ids(Some(SQS), None), [a.as_str(), b.as_str()]);
    assert_eq!(ids(Some(SQS2), None), [c.as_str()]);
    assert_eq!(ids(None, Some("worker")), [a.as_str()]);
    assert_eq!(ids(None, Some(FN_ARN)), [a.as_str()]);
    assert_eq!(ids(None, Some(&format!("{FN_ARN}:live"))), [b.as_str()]);
    assert_eq!(ids(Some(SQS2), Some("worker")), Vec::<String>::new());
    let e = m
        .list_event_source_mappings(None, Some("ghost"), None, None)
        .unwrap_err();
    assert_eq!(e.status, 404);
}

#[test]
fn list_rejects_bad_parameters() {
    let (m, _) = model();
    assert_invalid(
        &m.list_event_source_mappings(None, None, None, Some(0))
            .unwrap_err(),
        "MaxItems",
    );
    assert_invalid(
        &m.list_event_source_mappings(None, None, None, Some(10_001))
            .unwrap_err(),
        "MaxItems",
    );
    assert_invalid(
        &m.list_event_source_mappings(None, None, Some("garbage"), None)
            .unwrap_err(),
        "Marker",
    );
    assert_invalid(
        &m.list_event_source_mappings(Some("nope"), None, None, None)
            .unwrap_err(),
        "EventSourceArn",
    );
}

#[test]
fn page_size_is_a_knob() {
    let (m, _) = model_with(ModelConfig {
        page_size: 2,
        rate_limit_per_second: None,
        ..ModelConfig::default()
    });
    for i in 0..3 {
        create(
            &m,
            json!({"FunctionName": "worker", "EventSourceArn": format!("arn:aws:sqs:us-east-1:123456789012:q{i}")}),
        );
    }
    let (ids, marker) = page(&m, None, Some(100));
    assert_eq!(ids.len(), 2);
    assert!(marker.is_some());
}

// ---------------------------------------------------------------------------------------------
// Clearing (§6.6) and KMS (§6.2).

#[test]
fn clearing_semantics_on_update() {
    let (m, clock) = model();
    let mut body = kinesis_body();
    body["FilterCriteria"] = json!({"Filters": [{"Pattern": "{\"a\":[1]}"}]});
    body["DestinationConfig"] =
        json!({"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:dlq"}});
    body["KMSKeyArn"] = json!("arn:aws:kms:us-east-1:123456789012:key/k");
    body["FunctionResponseTypes"] = json!(["ReportBatchItemFailures"]);
    body["MetricsConfig"] = json!({"Metrics": ["EventCount"]});
    let id = uuid(&create(&m, body.clone()));
    settle(&clock);

    // Omitted = unchanged.
    let v = m
        .update_event_source_mapping(&id, &json!({"BatchSize": 50}))
        .unwrap();
    for k in [
        "FilterCriteria",
        "DestinationConfig",
        "KMSKeyArn",
        "FunctionResponseTypes",
        "MetricsConfig",
    ] {
        assert_eq!(v[k], body[k], "{k}");
    }
    settle(&clock);

    let v = m
        .update_event_source_mapping(
            &id,
            &json!({
                "FilterCriteria": {},
                "DestinationConfig": {"OnFailure": {"Destination": ""}},
                "KMSKeyArn": "",
                "FunctionResponseTypes": [],
                "MetricsConfig": {"Metrics": []}
            }),
        )
        .unwrap();
    assert!(v.get("FilterCriteria").is_none());
    assert_eq!(v["DestinationConfig"], json!({"OnFailure": {}}));
    assert!(v.get("KMSKeyArn").is_none());
    assert_eq!(v["FunctionResponseTypes"], json!([]));
    assert!(v.get("MetricsConfig").is_none());
    settle(&clock);
    let got = m.get_event_source_mapping(&id).unwrap();
    assert!(got.get("FilterCriteria").is_none());
}

#[test]
fn empty_filters_list_and_scaling_config_clear() {
    let (m, clock) = model();
    let mut body = sqs_body();
    body["FilterCriteria"] = json!({"Filters": [{"Pattern": "{\"a\":[1]}"}]});
    body["ScalingConfig"] = json!({"MaximumConcurrency": 5});
    let id = uuid(&create(&m, body));
    settle(&clock);
    let v = m
        .update_event_source_mapping(
            &id,
            &json!({"FilterCriteria": {"Filters": []}, "ScalingConfig": {}}),
        )
        .unwrap();
    assert!(v.get("FilterCriteria").is_none());
    assert!(v.get("ScalingConfig").is_none());
}

#[test]
fn provisioned_mode_is_left_with_an_empty_object() {
    let (m, clock) = model();
    let mut body = msk_body();
    body["ProvisionedPollerConfig"] = json!({"MinimumPollers": 2, "MaximumPollers": 4});
    let id = uuid(&create(&m, body));
    settle(&clock);
    let v = m
        .update_event_source_mapping(
            &id,
            &json!({"ProvisionedPollerConfig": {"MaximumPollers": 8}}),
        )
        .unwrap();
    assert_eq!(
        v["ProvisionedPollerConfig"],
        json!({"MinimumPollers": 1, "MaximumPollers": 8})
    );
    settle(&clock);
    let v = m
        .update_event_source_mapping(&id, &json!({"ProvisionedPollerConfig": {}}))
        .unwrap();
    assert!(v.get("ProvisionedPollerConfig").is_none());
}

#[test]
fn kms_encrypted_filters_are_hidden_in_list_but_not_in_get() {
    let (m, _) = model();
    let mut body = sqs_body();
    body["FilterCriteria"] = json!({"Filters": [{"Pattern": "{\"a\":[1]}"}]});
    body["KMSKeyArn"] = json!("arn:aws:kms:us-east-1:123456789012:key/k");
    let id = uuid(&create(&m, body.clone()));
    let mut plain = json!({"FunctionName": "other", "EventSourceArn": SQS});
    plain["FilterCriteria"] = body["FilterCriteria"].clone();
    let plain_id = uuid(&create(&m, plain));
    let listed = m
        .list_event_source_mappings(None, None, None, None)
        .unwrap();
    let items = listed["EventSourceMappings"].as_array().unwrap();
    let encrypted = items.iter().find(|e| e["UUID"] == json!(id)).unwrap();
    assert!(encrypted.get("FilterCriteria").is_none());
    assert_eq!(encrypted["KMSKeyArn"], body["KMSKeyArn"]);
    let unencrypted = items.iter().find(|e| e["UUID"] == json!(plain_id)).unwrap();
    assert_eq!(unencrypted["FilterCriteria"], body["FilterCriteria"]);
    assert_eq!(
        m.get_event_source_mapping(&id).unwrap()["FilterCriteria"],
        body["FilterCriteria"]
    );
}

// ---------------------------------------------------------------------------------------------
// Tags.

#[test]
fn tags_lifecycle() {
    let (m, clock) = model();
    let mut body = sqs_body();
    body["Tags"] = json!({"owner": "esm-controller", "team": "a"});
    let v = create(&m, body);
    let arn = v["EventSourceMappingArn"].as_str().unwrap().to_owned();
    let expect = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        m.list_tags(&arn).unwrap(),
        expect(&[("owner", "esm-controller"), ("team", "a")])
    );
    m.tag_resource(&arn, &expect(&[("team", "b"), ("env", "prod")]))
        .unwrap();
    assert_eq!(
        m.list_tags(&arn).unwrap(),
        expect(&[("env", "prod"), ("owner", "esm-controller"), ("team", "b")])
    );
    m.untag_resource(&arn, &["team".into(), "absent".into()])
        .unwrap();
    assert_eq!(
        m.list_tags(&arn).unwrap(),
        expect(&[("env", "prod"), ("owner", "esm-controller")])
    );
    assert_invalid(
        &m.tag_resource(&arn, &expect(&[("aws:x", "y")]))
            .unwrap_err(),
        "aws:",
    );
    // Unknown and malformed ARNs.
    let unknown = format!(
        "arn:aws:lambda:us-east-1:{ACCOUNT}:event-source-mapping:00000000-0000-4000-8000-000000000000"
    );
    assert_eq!(m.list_tags(&unknown).unwrap_err().status, 404);
    assert_eq!(
        m.tag_resource(&unknown, &expect(&[("a", "b")]))
            .unwrap_err()
            .status,
        404
    );
    assert_eq!(
        m.untag_resource(&unknown, &["a".into()])
            .unwrap_err()
            .status,
        404
    );
    assert_eq!(m.list_tags("not-an-arn").unwrap_err().status, 400);
    // Tags go with the mapping.
    settle(&clock);
    m.delete_event_source_mapping(&uuid(&v)).unwrap();
    settle(&clock);
    assert_eq!(m.list_tags(&arn).unwrap_err().status, 404);
}

// ---------------------------------------------------------------------------------------------
// Rate limit, faults, lost responses.

#[test]
fn rate_limit_throttles_all_operations_together() {
    let (m, clock) = model_with(ModelConfig {
        rate_limit_per_second: Some(3),
        ..ModelConfig::default()
    });
    let id = uuid(&create(&m, sqs_body()));
    m.get_event_source_mapping(&id).unwrap();
    m.list_event_source_mappings(None, None, None, None)
        .unwrap();
    let e = m.get_event_source_mapping(&id).unwrap_err();
    assert_eq!(e, ApiError::throttled());
    assert_eq!(
        (e.status, e.code.as_str(), e.message.as_str()),
        (429, "TooManyRequestsException", "Rate exceeded")
    );
    assert_eq!(e.retry_after_seconds, Some(1));
    // Admin hooks are not limited.
    assert_eq!(m.mappings().len(), 1);
    m.seed_function("x");
    // Tokens come back with (model) time.
    clock.advance(SEC);
    m.get_event_source_mapping(&id).unwrap();
    let counts = m.call_counts();
    assert_eq!(
        counts["GetEventSourceMapping"], 3,
        "throttled calls are counted too"
    );
    m.set_rate_limit(None);
    for _ in 0..50 {
        m.get_event_source_mapping(&id).unwrap();
    }
}

#[test]
fn faults_hit_the_chosen_operation_the_chosen_number_of_times() {
    let (m, _) = model();
    m.inject_fault(Fault::times(
        Some("CreateEventSourceMapping"),
        ApiError::service("boom"),
        2,
    ));
    assert_eq!(create_err(&m, sqs_body()).message, "boom");
    // Other operations are untouched.
    m.list_event_source_mappings(None, None, None, None)
        .unwrap();
    assert_eq!(create_err(&m, sqs_body()).code, "ServiceException");
    assert!(m.mappings().is_empty(), "a faulted call does not execute");
    create(&m, sqs_body());
    assert_eq!(m.call_counts()["CreateEventSourceMapping"], 3);
}

#[test]
fn fault_for_all_operations_until_cleared() {
    let (m, _) = model();
    m.inject_fault(Fault::always(None, ApiError::throttled()));
    assert_eq!(create_err(&m, sqs_body()).status, 429);
    assert_eq!(
        m.list_tags("arn:aws:lambda:us-east-1:1:x")
            .unwrap_err()
            .status,
        429
    );
    assert_eq!(
        m.list_event_source_mappings(None, None, None, None)
            .unwrap_err()
            .status,
        429
    );
    m.clear_faults();
    create(&m, sqs_body());
}

#[test]
fn fault_probability() {
    let (m, _) = model();
    m.inject_fault(Fault {
        probability: 0.0,
        ..Fault::always(None, ApiError::service("never"))
    });
    for _ in 0..100 {
        m.list_event_source_mappings(None, None, None, None)
            .unwrap();
    }
    m.clear_faults();
    m.inject_fault(Fault {
        probability: 0.5,
        ..Fault::always(None, ApiError::service("sometimes"))
    });
    let failures = (0..1000)
        .filter(|_| {
            m.list_event_source_mappings(None, None, None, None)
                .is_err()
        })
        .count();
    assert!((350..650).contains(&failures), "{failures} of 1000");
}

#[test]
fn latency_only_fault_lets_the_call_through_in_process() {
    let (m, _) = model();
    m.inject_fault(Fault {
        latency: Some(Duration::from_secs(30)),
        ..Fault::always(None, ApiError::new(0, "", ""))
    });
    let started = std::time::Instant::now();
    create(&m, sqs_body());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "in-process calls ignore latency"
    );
}

#[test]
fn lost_create_response_still_creates_the_mapping() {
    let (m, _) = model();
    m.lose_next_create_responses(1);
    let e = create_err(&m, sqs_body());
    assert_eq!((e.status, e.code.as_str()), (500, "ServiceException"));
    let existing = m.mappings();
    assert_eq!(existing.len(), 1);
    // The retry meets the mapping it did create: adopt by the UUID in the conflict message.
    let e = create_err(&m, sqs_body());
    assert_eq!(e.status, 409);
    assert!(e.message.ends_with(existing[0]["UUID"].as_str().unwrap()));
    // Only the next n responses are lost.
    create(
        &m,
        json!({"FunctionName": "worker", "EventSourceArn": SQS2}),
    );
}

// ---------------------------------------------------------------------------------------------
// Out-of-band hooks, counts, reset.

#[test]
fn oob_update_applies_at_once_without_a_transition() {
    let (m, clock) = model();
    let v = create(&m, sqs_body());
    let id = uuid(&v);
    settle(&clock);
    let before = m.get_event_source_mapping(&id).unwrap()["LastModified"]
        .as_f64()
        .unwrap();
    clock.advance(Duration::from_secs(10));
    let counts_before = m.call_counts();
    m.oob_update(
        &id,
        &json!({"BatchSize": 7, "FilterCriteria": {"Filters": [{"Pattern": "{\"x\":[1]}"}]}}),
    )
    .unwrap();
    assert_eq!(m.call_counts(), counts_before, "hooks are not API calls");
    let got = m.get_event_source_mapping(&id).unwrap();
    assert_eq!(got["State"], "Enabled");
    assert_eq!(got["BatchSize"], 7);
    assert!(got["FilterCriteria"].is_object());
    assert!(got["LastModified"].as_f64().unwrap() >= before + 10.0);
    m.oob_update(&id, &json!({"Enabled": false})).unwrap();
    assert_eq!(state(&m, &id), "Disabled");
    m.oob_update(
        &id,
        &json!({"LastProcessingResult": "PROBLEM: Function call failed"}),
    )
    .unwrap();
    assert_eq!(
        m.get_event_source_mapping(&id).unwrap()["LastProcessingResult"],
        "PROBLEM: Function call failed"
    );
    // Still validated like an Update.
    assert_invalid(
        &m.oob_update(&id, &json!({"BatchSize": 0})).unwrap_err(),
        "BatchSize",
    );
}

#[test]
fn oob_delete_and_lambda_disable() {
    let (m, clock) = model();
    let a = uuid(&create(&m, sqs_body()));
    let b = uuid(&create(
        &m,
        json!({"FunctionName": "worker", "EventSourceArn": SQS2}),
    ));
    settle(&clock);
    m.lambda_disable(
        &a,
        "PROBLEM: Lambda initiated the disabling because the queue does not exist",
    )
    .unwrap();
    let got = m.get_event_source_mapping(&a).unwrap();
    assert_eq!(got["State"], "Disabled");
    assert_eq!(
        got["StateTransitionReason"],
        "PROBLEM: Lambda initiated the disabling because the queue does not exist"
    );
    // A user re-enable is user-initiated again.
    let v = m
        .update_event_source_mapping(&a, &json!({"Enabled": true}))
        .unwrap();
    assert_eq!(v["State"], "Enabling");
    assert_eq!(v["StateTransitionReason"], "USER_INITIATED");
    m.oob_delete(&b).unwrap();
    assert_eq!(m.get_event_source_mapping(&b).unwrap_err().status, 404);
    assert_eq!(m.oob_delete(&b).unwrap_err().status, 404);
    // The slot is free at once (no Deleting phase).
    create(
        &m,
        json!({"FunctionName": "worker", "EventSourceArn": SQS2}),
    );
}

#[test]
fn call_counts_cover_every_operation_including_errors() {
    let (m, _) = model();
    let v = create(&m, sqs_body());
    let id = uuid(&v);
    let arn = v["EventSourceMappingArn"].as_str().unwrap().to_owned();
    let _ = create_err(&m, sqs_body());
    let _ = m.get_event_source_mapping(&id);
    let _ = m.update_event_source_mapping(&id, &json!({}));
    let _ = m.delete_event_source_mapping(&id);
    let _ = m.list_event_source_mappings(None, None, None, None);
    let _ = m.tag_resource(&arn, &BTreeMap::new());
    let _ = m.untag_resource(&arn, &[]);
    let _ = m.list_tags(&arn);
    let counts = m.call_counts();
    let expected: BTreeMap<String, u64> = [
        ("CreateEventSourceMapping", 2),
        ("GetEventSourceMapping", 1),
        ("UpdateEventSourceMapping", 1),
        ("DeleteEventSourceMapping", 1),
        ("ListEventSourceMappings", 1),
        ("TagResource", 1),
        ("UntagResource", 1),
        ("ListTags", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(counts, expected);
}

#[test]
fn reset_forgets_state_but_keeps_seeds() {
    let (m, _) = model();
    create(&m, sqs_body());
    m.inject_fault(Fault::times(
        Some("GetEventSourceMapping"),
        ApiError::service("x"),
        5,
    ));
    m.lose_next_create_responses(3);
    m.reset();
    assert!(m.mappings().is_empty());
    assert!(m.call_counts().is_empty());
    // Seeds survive: the function still resolves, and no fault or lost response remains.
    let v = create(&m, sqs_body());
    assert!(m.get_event_source_mapping(&uuid(&v)).is_ok());
}

#[test]
fn clones_share_state_across_threads() {
    let (m, _) = model();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let m = m.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let arn = format!("arn:aws:sqs:us-east-1:123456789012:t{t}-{i}");
                    m.create_event_source_mapping(
                        &json!({"FunctionName": "worker", "EventSourceArn": arn}),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(m.mappings().len(), 100);
    let mut ids: Vec<Value> = m
        .mappings()
        .into_iter()
        .map(|v| v["UUID"].clone())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 100);
}
