//! Management policies (issue 13) through the reconcile: suspend, Observe, ignoreDrift, the
//! drift report, and adopt-existing. Each scenario counts the Lambda calls it must not make.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{FUNCTION, Harness, SQS, sqs};

const ADOPT_EXISTING: &str = "lambda.esm-controller.dev/adopt-existing";

fn writes(h: &Harness) -> u64 {
    h.write_calls()
}

fn all_calls(h: &Harness) -> u64 {
    h.model.call_counts().values().sum()
}

/// A mapping someone else made for the harness's source and function, with no tags of ours.
fn existing_mapping(h: &Harness, batch_size: i64) -> String {
    let m = h
        .model
        .create_event_source_mapping(&json!({
            "EventSourceArn": SQS, "FunctionName": FUNCTION, "BatchSize": batch_size,
        }))
        .unwrap();
    h.clock.advance(Duration::from_secs(2));
    m["UUID"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_suspended_resource_makes_no_call_and_says_so_and_resumes_on_unsuspend() {
    let mut h = Harness::new();
    let uuid = h.apply_and_settle(sqs(json!({"batchSize": 5}))).await;
    h.model.oob_update(&uuid, &json!({"BatchSize": 9})).unwrap();
    // Suspended with nothing else changed: Ready stays as last seen, with a Suspended condition.
    h.apply(sqs(json!({"batchSize": 5, "suspend": true})));
    let before = all_calls(&h);
    for _ in 0..3 {
        h.reconcile().await.unwrap();
    }
    assert_eq!(all_calls(&h), before, "a suspended resource called Lambda");
    assert_eq!(h.condition("Suspended").0, "True");
    assert_eq!(h.condition("Ready").0, "True", "{}", h.status());
    assert_eq!(h.condition("Reconciling").0, "Absent");
    assert_eq!(h.status()["observedGeneration"], 2);
    assert_eq!(
        h.event_reasons()
            .iter()
            .filter(|r| r.as_str() == "Suspended")
            .count(),
        1,
        "one Event when suspended, not one per pass"
    );
    // A spec change while suspended is not applied: the resource is not Ready for it, and
    // says why (Stalled, not progressing for ever).
    h.apply(sqs(json!({"batchSize": 7, "suspend": true})));
    h.reconcile().await.unwrap();
    assert_eq!(all_calls(&h), before);
    assert_eq!(h.condition("Stalled"), ("True".into(), "Suspended".into()));
    assert_eq!(h.mappings()[0]["BatchSize"], 9);
    // Un-suspended: the spec is applied, the drift fixed.
    h.apply(sqs(json!({"batchSize": 7})));
    h.settle().await;
    assert_eq!(h.mappings()[0]["BatchSize"], 7);
    assert_eq!(h.condition("Ready").0, "True");
    assert_eq!(h.condition("Suspended").0, "Absent");
}

#[tokio::test]
async fn deleting_a_suspended_resource_still_honours_its_deletion_policy() {
    let mut h = Harness::new();
    h.apply_and_settle(sqs(json!({}))).await;
    h.apply(sqs(json!({"suspend": true})));
    h.reconcile().await.unwrap();
    h.mark_deleted();
    h.finish_deletion().await;
    assert_eq!(h.calls("DeleteEventSourceMapping"), 1);
    assert!(h.object().is_none());
}

#[tokio::test]
async fn observe_reports_an_existing_mapping_and_its_drift_and_never_writes() {
    let mut h = Harness::new();
    let uuid = existing_mapping(&h, 7);
    let seeded = writes(&h);
    h.apply(sqs(json!({"batchSize": 5, "managementPolicy": "Observe"})));
    h.settle().await;
    assert_eq!(h.status()["uuid"], uuid.as_str(), "found without a UUID");
    assert_eq!(h.condition("Ready"), ("True".into(), "Observed".into()));
    assert_eq!(h.status()["drift"], json!(["batchSize"]));
    assert_eq!(h.status()["observedConfiguration"]["batchSize"], "7");
    assert_eq!(h.status()["observedConfiguration"]["enabled"], "true");
    assert_eq!(writes(&h), seeded, "Observe wrote to Lambda");
    assert_eq!(h.mappings()[0]["BatchSize"], 7);
    assert!(h.event_reasons().contains(&"Observing".to_string()));
    assert_eq!(
        h.event_reasons()
            .iter()
            .filter(|r| r.as_str() == "DriftDetected")
            .count(),
        1
    );
    // Switching to full management takes it over and brings it to the spec.
    h.apply(sqs(json!({"batchSize": 5})));
    h.settle().await;
    assert_eq!(h.mappings()[0]["BatchSize"], 5);
    assert_eq!(h.status()["uuid"], uuid.as_str());
    assert_eq!(
        h.calls("CreateEventSourceMapping"),
        1,
        "only the one made by hand"
    );
    assert!(h.status()["drift"].is_null(), "{}", h.status());
    // And back to Observe: no more writes, and deleting the resource leaves the mapping.
    h.apply(sqs(json!({"batchSize": 5, "managementPolicy": "Observe"})));
    h.settle().await;
    let before = writes(&h);
    h.model.oob_update(&uuid, &json!({"BatchSize": 3})).unwrap();
    h.reconcile().await.unwrap();
    assert_eq!(writes(&h), before);
    h.mark_deleted();
    h.finish_deletion().await;
    assert_eq!(h.calls("DeleteEventSourceMapping"), 0);
    assert_eq!(
        h.mappings().len(),
        1,
        "an observed mapping is never deleted"
    );
}

#[tokio::test]
async fn observe_with_nothing_to_observe_creates_nothing() {
    let mut h = Harness::new();
    h.apply(sqs(json!({"managementPolicy": "Observe"})));
    h.reconcile().await.unwrap();
    h.reconcile().await.unwrap();
    assert_eq!(
        h.condition("Stalled"),
        ("True".into(), "NothingToObserve".into())
    );
    assert_eq!(h.calls("CreateEventSourceMapping"), 0);
}

#[tokio::test]
async fn an_ignored_field_changed_by_hand_is_reported_once_and_kept_but_a_spec_change_applies() {
    let mut h = Harness::new();
    let spec = |batch: i64| sqs(json!({"batchSize": batch, "ignoreDrift": ["batchSize"]}));
    let uuid = h.apply_and_settle(spec(5)).await;
    // One more pass records the baseline of the ignored field.
    h.reconcile().await.unwrap();
    h.model.oob_update(&uuid, &json!({"BatchSize": 9})).unwrap();
    for _ in 0..3 {
        h.reconcile().await.unwrap();
    }
    assert_eq!(
        h.calls("UpdateEventSourceMapping"),
        0,
        "ignored drift was reverted"
    );
    assert_eq!(h.mappings()[0]["BatchSize"], 9);
    assert_eq!(h.status()["drift"], json!(["batchSize"]));
    assert_eq!(h.condition("Ready"), ("True".into(), "DriftIgnored".into()));
    let drift_events = |h: &Harness| {
        h.event_reasons()
            .iter()
            .filter(|r| r.as_str() == "DriftDetected")
            .count()
    };
    assert_eq!(drift_events(&h), 1, "one Event per distinct drift");
    // The user changes the ignored field in the spec: that is applied.
    h.apply(spec(8));
    h.settle().await;
    assert_eq!(h.mappings()[0]["BatchSize"], 8);
    assert_eq!(h.calls("UpdateEventSourceMapping"), 1);
    assert!(h.status()["drift"].is_null());
    // And a later hand change is held again.
    h.model.oob_update(&uuid, &json!({"BatchSize": 3})).unwrap();
    h.reconcile().await.unwrap();
    assert_eq!(h.calls("UpdateEventSourceMapping"), 1);
    assert_eq!(drift_events(&h), 2);
    let metrics = h.ctx.metrics().encode();
    assert!(
        metrics.contains(r#"esm_drift_total{field="batchSize"} 2"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn drift_under_full_management_is_reported_and_fixed() {
    let mut h = Harness::new();
    let uuid = h.apply_and_settle(sqs(json!({"batchSize": 5}))).await;
    h.model.oob_update(&uuid, &json!({"BatchSize": 9})).unwrap();
    h.reconcile().await.unwrap();
    assert_eq!(h.status()["drift"], json!(["batchSize"]));
    assert!(h.event_reasons().contains(&"DriftDetected".to_string()));
    h.clock.advance(Duration::from_secs(2));
    h.settle().await;
    assert_eq!(h.mappings()[0]["BatchSize"], 5);
    assert!(h.status()["drift"].is_null(), "{}", h.status());
}

#[tokio::test]
async fn adopt_existing_takes_the_one_match_without_a_create_or_creates_when_none() {
    let mut h = Harness::new();
    let uuid = existing_mapping(&h, 10);
    h.apply_with(
        sqs(json!({"batchSize": 10})),
        json!({ADOPT_EXISTING: "true"}),
    );
    h.settle().await;
    assert_eq!(h.status()["uuid"], uuid.as_str());
    assert_eq!(
        h.calls("CreateEventSourceMapping"),
        1,
        "only the one made by hand"
    );
    assert!(h.event_reasons().contains(&"Adopted".to_string()));
    assert_eq!(h.condition("Ready").0, "True");

    // No match: one is created.
    let mut h = Harness::new();
    h.apply_with(sqs(json!({})), json!({ADOPT_EXISTING: "true"}));
    h.settle().await;
    assert_eq!(h.calls("CreateEventSourceMapping"), 1);
    assert_eq!(h.mappings().len(), 1);
}

#[tokio::test]
async fn adopt_existing_refuses_a_mapping_another_resource_owns() {
    let mut h = Harness::new();
    let uuid = existing_mapping(&h, 10);
    let arn = h.mappings()[0]["EventSourceMappingArn"]
        .as_str()
        .unwrap()
        .to_string();
    h.model
        .tag_resource(
            &arn,
            &[
                (
                    "esm-controller.dev/owner-uid".to_string(),
                    "someone-else".to_string(),
                ),
                (
                    "esm-controller.dev/owner".to_string(),
                    "other/orders".to_string(),
                ),
            ]
            .into(),
        )
        .unwrap();
    let seeded = writes(&h);
    h.apply_with(sqs(json!({})), json!({ADOPT_EXISTING: "true"}));
    h.reconcile().await.unwrap();
    h.reconcile().await.unwrap();
    assert_eq!(
        h.condition("Stalled"),
        ("True".into(), "OwnedElsewhere".into())
    );
    assert!(h.ready_message().contains(&uuid), "{}", h.ready_message());
    assert!(h.ready_message().contains("other/orders"));
    assert_eq!(writes(&h), seeded);
}

#[tokio::test]
async fn a_spec_change_made_while_lambda_is_busy_is_not_reported_as_drift() {
    let mut h = Harness::new();
    h.apply(sqs(json!({"batchSize": 5})));
    h.reconcile().await.unwrap(); // finalizer (and create, when the patch doubles as the read)
    h.reconcile().await.unwrap();
    assert_eq!(h.calls("CreateEventSourceMapping"), 1);
    // Still Creating: the change waits, and the status of that wait is for the new generation.
    h.apply(sqs(json!({"batchSize": 7})));
    h.reconcile().await.unwrap();
    h.clock.advance(Duration::from_secs(2));
    h.settle().await;
    assert_eq!(h.mappings()[0]["BatchSize"], 7);
    assert!(
        !h.event_reasons().contains(&"DriftDetected".to_string()),
        "{:?}",
        h.event_reasons()
    );
    assert!(h.status()["drift"].is_null());
}
