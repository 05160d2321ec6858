//! Table tests of the pure decision: manifest + stored resource + live mapping → report.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;

const NOW: f64 = 1_800_000_000.0;
const SQS: &str = "arn:aws:sqs:eu-west-1:123456789012:orders";
const FN_ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:handler";
const UUID: &str = "1f2e3d4c-0000-4000-8000-000000000001";
const MAPPING_ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:event-source-mapping:1f2e3d4c-0000-4000-8000-000000000001";

fn esm(spec: Value) -> EventSourceMapping {
    serde_json::from_value(json!({
        "apiVersion": "lambda.esm-controller.dev/v1alpha1",
        "kind": "EventSourceMapping",
        "metadata": {"name": "orders", "namespace": "team-a"},
        "spec": spec,
    }))
    .unwrap()
}

/// The resource as the cluster holds it after the controller created its mapping.
fn stored(spec: Value, status: Value) -> EventSourceMapping {
    let mut base = json!({
        "uuid": UUID,
        "eventSourceMappingARN": MAPPING_ARN,
        "region": "eu-west-1",
        "tagsDigest": "0123456789abcdef",
        "appliedFields": ["FunctionName"],
    });
    merge(&mut base, status);
    let mut esm = esm(spec);
    esm.metadata.uid = Some("uid-1".into());
    esm.status = Some(serde_json::from_value(base).unwrap());
    esm
}

fn merge(base: &mut Value, extra: Value) {
    if let (Value::Object(b), Value::Object(e)) = (base, extra) {
        for (k, v) in e {
            if v.is_null() {
                b.remove(&k);
            } else {
                b.insert(k, v);
            }
        }
    }
}

fn sqs(extra: Value) -> Value {
    let mut spec = json!({"eventSourceARN": SQS, "functionName": "handler"});
    merge(&mut spec, extra);
    spec
}

/// An SQS mapping as Lambda reports it, with the defaults it fills in.
fn live(extra: Value) -> ObservedMapping {
    let mut base = json!({
        "UUID": UUID,
        "EventSourceMappingArn": MAPPING_ARN,
        "EventSourceArn": SQS,
        "FunctionArn": FN_ARN,
        "State": "Enabled",
        "StateTransitionReason": "USER_INITIATED",
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 0,
        "FunctionResponseTypes": [],
        "ScalingConfig": {},
        "DestinationConfig": {"OnFailure": {}},
    });
    merge(&mut base, extra);
    serde_json::from_value(base).unwrap()
}

fn found(mapping: ObservedMapping) -> Observed {
    Observed::Found {
        mapping,
        tags: None,
    }
}

/// The whole pure path: prepare, then conclude with what Lambda holds (ignored when nothing
/// is recorded, as the I/O part then reads nothing).
fn assess(
    manifest: &EventSourceMapping,
    stored: Option<&EventSourceMapping>,
    observed: Observed,
) -> ResourceDiff {
    match prepare("m.yaml", manifest, stored, Some("us-east-1"), NOW) {
        Err(answer) => *answer,
        Ok(prepared) => {
            let observed = if prepared.read.is_some() {
                observed
            } else {
                Observed::Nothing
            };
            conclude(prepared, &observed)
        }
    }
}

fn change(field: &str, live: Value, desired: Value) -> Change {
    Change {
        field: field.into(),
        live,
        desired,
        note: None,
    }
}

fn report(resources: Vec<ResourceDiff>) -> Report {
    Report {
        resources,
        skipped: vec![],
    }
}

#[test]
fn a_resource_not_in_the_cluster_is_created_with_the_fields_sent() {
    let manifest = esm(sqs(json!({"batchSize": 5, "tags": {"team": "a"},
        "filterCriteria": {"filters": [{"pattern": "{\"body\": {\"a\": [1]}}"}]}})));
    let d = assess(&manifest, None, Observed::Nothing);
    assert_eq!(d.action, Verdict::Create);
    assert_eq!(
        (d.uuid.as_deref(), d.region.as_deref()),
        (None, Some("us-east-1"))
    );
    let fields: Vec<(&str, &Value)> = d
        .changes
        .iter()
        .map(|c| (c.field.as_str(), &c.desired))
        .collect();
    assert_eq!(
        fields,
        [
            ("batchSize", &json!(5)),
            ("eventSourceARN", &json!(SQS)),
            (
                "filterCriteria",
                &json!({"filters": [{"pattern": "{\"body\": {\"a\": [1]}}"}]})
            ),
            ("functionName", &json!("handler")),
            ("tags.team", &json!("a")),
        ]
    );
    assert!(d.changes.iter().all(|c| c.live.is_null()));
    let out = text(&report(vec![d.clone()]));
    assert!(
        out.starts_with("eventsourcemapping team-a/orders: create (us-east-1)\n  batchSize: 5\n"),
        "{out}"
    );
    assert!(
        !out.contains("esm-controller.dev/"),
        "ownership tags are not shown: {out}"
    );
    assert_eq!(exit_code(&report(vec![d])), 1);
}

#[test]
fn a_resource_without_a_recorded_uuid_is_created_in_its_spec_region() {
    let manifest = esm(sqs(json!({"region": "eu-west-1"})));
    let stored = stored(
        sqs(json!({"region": "eu-west-1"})),
        json!({"uuid": null, "region": null}),
    );
    let d = assess(&manifest, Some(&stored), Observed::Nothing);
    assert_eq!(
        (d.action, d.region.as_deref()),
        (Verdict::Create, Some("eu-west-1"))
    );
}

#[test]
fn lambda_defaults_and_a_function_arn_are_no_drift() {
    let manifest = esm(sqs(json!({})));
    let stored = stored(sqs(json!({})), json!({}));
    let prepared = prepare("m.yaml", &manifest, Some(&stored), None, NOW).unwrap();
    // The recorded region, not the default, and no tag read: the tags did not change.
    assert_eq!(
        prepared.read,
        Some(Read {
            uuid: UUID.into(),
            region: "eu-west-1".into(),
            account: None,
            tags: false
        })
    );
    // A mapping recorded in a binding's account is read there.
    let mut in_account = stored.clone();
    in_account.status.as_mut().unwrap().account = Some("team-a".into());
    let prepared_in_account = prepare("m.yaml", &manifest, Some(&in_account), None, NOW).unwrap();
    assert_eq!(
        prepared_in_account.read.and_then(|r| r.account).as_deref(),
        Some("team-a")
    );
    let d = conclude(prepared, &found(live(json!({}))));
    assert_eq!(d.action, Verdict::NoChange, "{d:#?}");
    assert!(d.changes.is_empty());
    let r = report(vec![d]);
    assert_eq!(exit_code(&r), 0);
    assert_eq!(
        text(&r),
        format!(
            "eventsourcemapping team-a/orders: no change (mapping {UUID}, eu-west-1)\n1 EventSourceMapping: 1 unchanged\n"
        )
    );

    // The full ARN in the spec, or `:$LATEST`, is the same function.
    for function in [FN_ARN, "handler:$LATEST", "123456789012:function:handler"] {
        let manifest = esm(sqs(json!({"functionName": function})));
        let d = assess(&manifest, Some(&stored), found(live(json!({}))));
        assert_eq!(d.action, Verdict::NoChange, "{function}: {d:#?}");
    }
    // Filters compare as JSON, in any order and spacing.
    let filters =
        |a: &str, b: &str| json!({"filterCriteria": {"filters": [{"pattern": a}, {"pattern": b}]}});
    let manifest = esm(sqs(filters(r#"{"a": [1]}"#, r#"{"b": [2]}"#)));
    let lambda = json!({"FilterCriteria": {"Filters": [{"Pattern": "{\"b\":[2]}"}, {"Pattern": "{\"a\":[1]}"}]}});
    let d = assess(&manifest, Some(&stored), found(live(lambda)));
    assert_eq!(d.action, Verdict::NoChange, "{d:#?}");
}

#[test]
fn changed_fields_are_listed_live_to_desired_in_spec_names() {
    let manifest = esm(sqs(json!({"functionName": "other", "batchSize": 50,
        "maximumBatchingWindowInSeconds": 5, "scalingConfig": {"maximumConcurrency": 4}})));
    let stored = stored(sqs(json!({})), json!({}));
    let d = assess(&manifest, Some(&stored), found(live(json!({}))));
    assert_eq!(d.action, Verdict::Update);
    assert_eq!(d.uuid.as_deref(), Some(UUID));
    assert_eq!(
        d.changes,
        [
            change("functionName", json!(FN_ARN), json!("other")),
            change("batchSize", json!(10), json!(50)),
            change("scalingConfig", json!({}), json!({"maximumConcurrency": 4})),
            change("maximumBatchingWindowInSeconds", json!(0), json!(5)),
        ]
    );
    let out = text(&report(vec![d]));
    assert!(
        out.starts_with(&format!(
            "eventsourcemapping team-a/orders: update mapping {UUID} (eu-west-1)\n"
        )),
        "{out}"
    );
    assert!(out.contains("\n  batchSize: 10 → 50\n"), "{out}");
    assert!(
        out.contains(&format!("\n  functionName: \"{FN_ARN}\" → \"other\"\n")),
        "{out}"
    );
    assert!(
        out.ends_with("1 EventSourceMapping: 1 to update\n"),
        "{out}"
    );
}

#[test]
fn a_field_dropped_from_the_manifest_is_cleared_as_the_controller_does() {
    let manifest = esm(sqs(json!({})));
    let stored = stored(
        sqs(json!({"batchSize": 50, "maximumBatchingWindowInSeconds": 1})),
        json!({"appliedFields": ["FunctionName", "BatchSize", "MaximumBatchingWindowInSeconds"]}),
    );
    let d = assess(
        &manifest,
        Some(&stored),
        found(live(
            json!({"BatchSize": 50, "MaximumBatchingWindowInSeconds": 1}),
        )),
    );
    assert_eq!(d.action, Verdict::Update);
    let batch = &d.changes[0];
    assert_eq!(
        (batch.field.as_str(), &batch.live, &batch.desired),
        ("batchSize", &json!(50), &json!(10))
    );
    assert!(
        batch
            .note
            .as_deref()
            .unwrap()
            .contains("removed from the manifest")
    );
    let out = text(&report(vec![d]));
    assert!(
        out.contains("  batchSize: 50 → 10\n    # removed from the manifest"),
        "{out}"
    );
}

#[test]
fn enabled_is_compared_with_the_state() {
    let stored = stored(sqs(json!({})), json!({}));
    let d = assess(
        &esm(sqs(json!({"enabled": false}))),
        Some(&stored),
        found(live(json!({}))),
    );
    assert_eq!(d.changes, [change("enabled", json!(true), json!(false))]);

    let lambda_disabled =
        live(json!({"State": "Disabled", "StateTransitionReason": "PROBLEM: role"}));
    let d = assess(
        &esm(sqs(json!({"enabled": true}))),
        Some(&stored),
        found(lambda_disabled.clone()),
    );
    assert_eq!(d.changes, [change("enabled", json!(false), json!(true))]);
    assert!(
        d.message
            .as_deref()
            .unwrap()
            .contains("Lambda disabled the mapping (PROBLEM: role)")
    );
    // Without `enabled`, the controller leaves a Lambda-disabled mapping alone.
    let d = assess(&esm(sqs(json!({}))), Some(&stored), found(lambda_disabled));
    assert_eq!(d.action, Verdict::NoChange);
}

#[test]
fn a_busy_mapping_still_shows_its_changes() {
    let stored = stored(sqs(json!({})), json!({}));
    let d = assess(
        &esm(sqs(json!({"batchSize": 7}))),
        Some(&stored),
        found(live(json!({"State": "Updating"}))),
    );
    assert_eq!(d.action, Verdict::Update);
    assert_eq!(d.changes, [change("batchSize", json!(10), json!(7))]);
    assert!(
        d.message
            .as_deref()
            .unwrap()
            .contains("Lambda shows the mapping Updating")
    );
}

#[test]
fn a_create_only_change_is_refused_at_admission_with_the_rule_message() {
    let stored = stored(sqs(json!({})), json!({}));
    let manifest = esm(sqs(
        json!({"eventSourceARN": format!("{SQS}-v2"), "batchSize": 5}),
    ));
    let d = assess(&manifest, Some(&stored), found(live(json!({}))));
    assert_eq!(d.action, Verdict::Refused);
    assert_eq!(d.uuid.as_deref(), Some(UUID));
    assert_eq!(d.changes.len(), 1);
    let c = &d.changes[0];
    assert_eq!(
        (c.field.as_str(), &c.live, &c.desired),
        ("eventSourceARN", &json!(SQS), &json!(format!("{SQS}-v2")))
    );
    let rule = c.note.clone().unwrap();
    assert!(
        rule.starts_with("eventSourceARN cannot change after the mapping is created"),
        "{rule}"
    );
    let r = report(vec![d]);
    assert_eq!(exit_code(&r), 2);
    let out = text(&r);
    assert!(
        out.starts_with(
            "eventsourcemapping team-a/orders: refused at admission\n  eventSourceARN: "
        ),
        "{out}"
    );
    assert!(out.contains(&format!("\n    {rule}\n")), "{out}");

    // A region added to a resource whose mapping exists, too.
    let d = assess(
        &esm(sqs(json!({"region": "eu-west-1"}))),
        Some(&stored),
        Observed::Nothing,
    );
    assert_eq!(
        (d.action, d.changes[0].field.as_str()),
        (Verdict::Refused, "region")
    );
}

#[test]
fn a_spec_the_controller_refuses_is_invalid_naming_the_field() {
    let manifest = esm(sqs(
        json!({"filterCriteria": {"filters": [{"pattern": "{not json"}]}}),
    ));
    let d = assess(&manifest, None, Observed::Nothing);
    assert_eq!(d.action, Verdict::Invalid);
    let message = d.message.clone().unwrap();
    assert!(
        message.starts_with("spec.filterCriteria.filters[0].pattern: not valid JSON"),
        "{message}"
    );
    let r = report(vec![d]);
    assert_eq!(exit_code(&r), 2);
    assert!(text(&r).starts_with(&format!(
        "eventsourcemapping team-a/orders: invalid: {message}\n"
    )));
}

#[test]
fn a_recorded_mapping_that_is_gone_is_recreated() {
    let stored = stored(sqs(json!({})), json!({}));
    let d = assess(
        &esm(sqs(json!({}))),
        Some(&stored),
        Observed::Gone { uuid: UUID.into() },
    );
    assert_eq!(d.action, Verdict::Recreate);
    assert_eq!(d.message, Some(format!("recreate: mapping {UUID} is gone")));
    assert!(d.changes.iter().any(|c| c.field == "functionName"));
    let out = text(&report(vec![d]));
    assert!(
        out.starts_with(&format!(
            "eventsourcemapping team-a/orders: recreate: mapping {UUID} is gone (eu-west-1)\n"
        )),
        "{out}"
    );
}

#[test]
fn an_adopted_mapping_with_other_create_only_settings_stalls() {
    let stored = stored(sqs(json!({})), json!({}));
    let other = live(json!({"EventSourceArn": format!("{SQS}-other")}));
    let d = assess(&esm(sqs(json!({}))), Some(&stored), found(other));
    assert_eq!(d.action, Verdict::Stalled);
    assert!(d.message.unwrap().contains("spec.eventSourceARN is"));
}

#[test]
fn tags_are_read_when_they_change_and_ownership_tags_are_never_drift() {
    let stored = stored(sqs(json!({"tags": {"team": "a", "old": "x"}})), json!({}));
    let manifest = esm(sqs(json!({"tags": {"team": "b", "new": "y"}})));
    let prepared = prepare("m.yaml", &manifest, Some(&stored), None, NOW).unwrap();
    assert!(prepared.read.as_ref().unwrap().tags);
    let live_tags = BTreeMap::from([
        ("team".to_string(), "a".to_string()),
        ("old".to_string(), "x".to_string()),
        ("aws:cloudformation:stack-name".to_string(), "s".to_string()),
        (api::tags::OWNER_UID.to_string(), "uid-1".to_string()),
        (api::tags::OWNER.to_string(), "team-a/orders".to_string()),
        (api::tags::CLUSTER.to_string(), "prod".to_string()),
    ]);
    let observed = Observed::Found {
        mapping: live(json!({})),
        tags: Some(live_tags),
    };
    let d = conclude(prepared, &observed);
    assert_eq!(d.action, Verdict::Update);
    assert_eq!(
        d.changes,
        [
            change("tags.new", Value::Null, json!("y")),
            change("tags.old", json!("x"), Value::Null),
            change("tags.team", json!("a"), json!("b")),
        ]
    );
}

#[test]
fn a_recorded_mapping_without_a_known_region_is_an_error() {
    let stored = stored(
        sqs(json!({})),
        json!({"region": null, "eventSourceMappingARN": null}),
    );
    let answer = prepare("m.yaml", &esm(sqs(json!({}))), Some(&stored), None, NOW).unwrap_err();
    assert_eq!(answer.action, Verdict::Error);
    assert!(answer.message.unwrap().contains("--region"));
}

#[test]
fn the_json_report_is_one_document_with_every_resource() {
    let stored = stored(sqs(json!({})), json!({}));
    let update = assess(
        &esm(sqs(json!({"batchSize": 50}))),
        Some(&stored),
        found(live(json!({}))),
    );
    let create = assess(&esm(sqs(json!({}))), None, Observed::Nothing);
    let mut r = report(vec![update, create]);
    r.skipped.push(Skipped {
        source: "m.yaml#3".into(),
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "settings".into(),
    });
    assert_eq!(exit_code(&r), 1);
    let doc: Value = serde_json::from_str(&json(&r)).unwrap();
    assert_eq!(
        doc["resources"][0],
        json!({"source": "m.yaml", "namespace": "team-a", "name": "orders", "action": "update",
            "uuid": UUID, "region": "eu-west-1", "message": null,
            "changes": [{"field": "batchSize", "live": 10, "desired": 50}]})
    );
    assert_eq!(doc["resources"][1]["action"], "create");
    assert_eq!(doc["resources"][1]["uuid"], Value::Null);
    assert_eq!(doc["skipped"][0]["kind"], "ConfigMap");
    assert_eq!(exit_code(&report(vec![])), 0);
    assert_eq!(
        text(&report(vec![])),
        "no EventSourceMapping in the manifests\n"
    );
}

#[test]
fn the_namespace_is_the_manifests_else_the_flag_else_the_contexts() {
    let mut e = esm(sqs(json!({})));
    assert_eq!(namespace_of(&e, None, "default").unwrap(), "team-a");
    assert_eq!(
        namespace_of(&e, Some("team-a"), "default").unwrap(),
        "team-a"
    );
    assert!(
        namespace_of(&e, Some("team-b"), "default")
            .unwrap_err()
            .contains("-n team-b")
    );
    e.metadata.namespace = None;
    assert_eq!(
        namespace_of(&e, Some("team-b"), "default").unwrap(),
        "team-b"
    );
    assert_eq!(namespace_of(&e, None, "ctx").unwrap(), "ctx");
}

#[test]
fn lambda_values_are_shown_with_spec_keys() {
    assert_eq!(
        render::spec_keys(json!({"OnFailure": {"Destination": "arn:q"},
            "SchemaRegistryConfig": {"SchemaRegistryURI": "u", "AccessConfigs": [{"Type": "BASIC_AUTH", "URI": "arn:s"}]},
            "ConsumerGroupId": "g", "Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["b:9092"]}})),
        json!({"onFailure": {"destination": "arn:q"},
            "schemaRegistryConfig": {"schemaRegistryURI": "u", "accessConfigs": [{"type": "BASIC_AUTH", "uri": "arn:s"}]},
            "consumerGroupID": "g", "endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["b:9092"]}})
    );
}

#[test]
fn suspended_and_observed_resources_would_change_nothing() {
    for extra in [
        json!({"suspend": true}),
        json!({"managementPolicy": "Observe"}),
    ] {
        let mut spec = sqs(json!({"batchSize": 50}));
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        let manifest = esm(spec);
        let stored = stored(sqs(json!({})), json!({}));
        let prepared = prepare("m.yaml", &manifest, Some(&stored), None, NOW).unwrap();
        let d = conclude(prepared, &found(live(json!({}))));
        assert_eq!(d.action, Verdict::NoChange, "{d:#?}");
        assert!(d.changes.is_empty());
        assert!(d.message.is_some());
    }
}
