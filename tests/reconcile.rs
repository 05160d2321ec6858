//! Reconciler scenarios: the real reconcile function against the emulator's Lambda model (behind
//! our port trait) and a Kubernetes API double. Each test checks both the resource's status and
//! what Lambda ended up with.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{FUNCTION, Harness, KINESIS, OTHER_REGION, REGION, SQS, sqs};

#[tokio::test]
async fn create_records_uuid_and_becomes_ready() {
    let mut h = Harness::new();
    h.apply(sqs(json!({"batchSize": 5, "tags": {"team": "payments"}})));
    h.settle().await;

    let mappings = h.mappings();
    assert_eq!(mappings.len(), 1);
    let status = h.status();
    assert_eq!(status["uuid"], mappings[0]["UUID"]);
    assert_eq!(status["state"], "Enabled");
    assert_eq!(status["observedGeneration"], 1);
    assert_eq!(mappings[0]["BatchSize"], 5);
    assert_eq!(h.condition("Ready"), ("True".into(), "Enabled".into()));
    assert_eq!(h.condition("Reconciling").0, "Absent");
    assert_eq!(h.condition("Stalled").0, "Absent");
    assert!(status.get("createRequestedAt").is_none());
    assert_eq!(h.calls("CreateEventSourceMapping"), 1);
    // Tags from the spec plus our ownership tags, set at create.
    let tags = h
        .model
        .list_tags(mappings[0]["EventSourceMappingArn"].as_str().unwrap())
        .unwrap();
    assert_eq!(tags["team"], "payments");
    assert_eq!(tags["esm-controller.dev/owner-uid"], "uid-orders-1");
    assert_eq!(tags["esm-controller.dev/owner"], "team/orders");
    // A first create is told by status alone: an Event would be one more API server request
    // per resource saying what status says.
    assert!(h.event_reasons().is_empty(), "{:?}", h.event_reasons());
    // The finalizer is on the object.
    assert_eq!(
        h.object().unwrap().metadata.finalizers,
        Some(vec!["lambda.esm-controller.dev/cleanup".to_string()])
    );
    // Spec untouched: no defaults were written back.
    assert_eq!(
        h.object().unwrap().spec.maximum_batching_window_in_seconds,
        None
    );
}

#[tokio::test]
async fn in_sync_reconcile_writes_nothing() {
    let mut h = Harness::new();
    h.apply(sqs(json!({})));
    h.settle().await;
    let writes = h.write_calls();
    let status_writes = h.kube.state.lock().unwrap().status_writes.len();
    for _ in 0..3 {
        h.reconcile().await.unwrap();
    }
    assert_eq!(h.write_calls(), writes, "no AWS write for a no-op");
    assert_eq!(
        h.calls("ListTags"),
        0,
        "tags are not re-read when the spec's tags did not change"
    );
    assert_eq!(
        h.kube.state.lock().unwrap().status_writes.len(),
        status_writes,
        "no status write when nothing changed"
    );
}

#[tokio::test]
async fn drift_is_fixed_with_only_the_differing_field() {
    let mut h = Harness::new();
    h.apply(sqs(
        json!({"batchSize": 5, "maximumBatchingWindowInSeconds": 2}),
    ));
    h.settle().await;
    let uuid = h.status()["uuid"].as_str().unwrap().to_string();
    h.model.oob_update(&uuid, &json!({"BatchSize": 9})).unwrap();

    h.reconcile().await.unwrap();
    assert_eq!(h.calls("UpdateEventSourceMapping"), 1);
    assert_eq!(h.condition("Ready").0, "False");
    assert_eq!(h.condition("Reconciling").0, "True");
    h.clock.advance(Duration::from_secs(2));
    h.settle().await;
    let m = &h.mappings()[0];
    assert_eq!(m["BatchSize"], 5);
    assert_eq!(m["MaximumBatchingWindowInSeconds"], 2);
    assert_eq!(h.calls("UpdateEventSourceMapping"), 1);
    assert!(h.event_reasons().contains(&"Updated".to_string()));
}

#[tokio::test]
async fn spec_change_updates_and_removed_settings_are_cleared() {
    let mut h = Harness::new();
    h.apply(sqs(json!({"filterCriteria": {"filters": [{"pattern": "{\"body\": {\"a\": [1]}}"}]}, "scalingConfig": {"maximumConcurrency": 5}})));
    h.settle().await;
    assert!(h.mappings()[0].get("FilterCriteria").is_some());
    assert_eq!(h.mappings()[0]["ScalingConfig"]["MaximumConcurrency"], 5);

    h.apply(sqs(json!({})));
    h.settle().await;
    let m = &h.mappings()[0];
    let filters = m
        .get("FilterCriteria")
        .and_then(|f| f.get("Filters"))
        .and_then(|f| f.as_array())
        .map(|a| a.len())
        .unwrap_or(0);
    assert_eq!(filters, 0, "filters removed: {m}");
    assert!(
        m.get("ScalingConfig")
            .and_then(|s| s.get("MaximumConcurrency"))
            .is_none(),
        "cap removed: {m}"
    );
    assert_eq!(h.status()["observedGeneration"], 2);
}

#[tokio::test]
async fn busy_states_are_waited_out_without_error_or_update() {
    let mut h = Harness::new();
    h.model
        .set_transition_delays(Duration::from_secs(30), Duration::from_secs(30));
    h.apply(sqs(json!({"batchSize": 5})));
    h.reconcile().await.unwrap(); // adds the finalizer
    h.reconcile().await.unwrap(); // creates
    assert_eq!(h.status()["state"], "Creating");
    // The spec changes while Lambda is still creating: no Update is sent (it would be refused).
    h.apply(sqs(json!({"batchSize": 7})));
    for _ in 0..3 {
        let action = h.reconcile().await.unwrap();
        assert!(
            format!("{action:?}").contains("requeue_after: Some"),
            "{action:?}"
        );
        h.clock.advance(Duration::from_secs(5));
    }
    assert_eq!(h.calls("UpdateEventSourceMapping"), 0);
    assert_eq!(
        h.condition("Reconciling"),
        ("True".into(), "Creating".into()),
        "still Creating reads as the create did"
    );
    assert_eq!(h.condition("Stalled").0, "Absent");
    h.clock.advance(Duration::from_secs(30));
    h.model
        .set_transition_delays(Duration::from_secs(1), Duration::from_secs(1));
    h.settle().await;
    assert_eq!(h.mappings()[0]["BatchSize"], 7);
}

#[tokio::test]
async fn resource_in_use_from_lambda_is_a_wait_not_a_failure() {
    let mut h = Harness::new();
    h.apply(sqs(json!({"batchSize": 5})));
    h.settle().await;
    h.apply(sqs(json!({"batchSize": 6})));
    h.model.inject_fault(esm_emulator::model::Fault::times(
        Some("UpdateEventSourceMapping"),
        esm_emulator::model::ApiError::in_use("The resource you requested is currently in use"),
        1,
    ));
    h.reconcile().await.expect("busy is not an error");
    assert_eq!(
        h.condition("Reconciling"),
        ("True".into(), "Waiting".into())
    );
    assert_eq!(h.condition("Stalled").0, "Absent");
    h.settle().await;
    assert_eq!(h.mappings()[0]["BatchSize"], 6);
}

#[tokio::test]
async fn out_of_band_delete_is_recreated() {
    let mut h = Harness::new();
    h.apply(sqs(json!({})));
    h.settle().await;
    let old = h.status()["uuid"].as_str().unwrap().to_string();
    h.model.oob_delete(&old).unwrap();
    h.settle().await;
    let mappings = h.mappings();
    assert_eq!(mappings.len(), 1);
    assert_ne!(mappings[0]["UUID"], old);
    assert_eq!(h.status()["uuid"], mappings[0]["UUID"]);
    let reasons = h.event_reasons();
    assert!(
        reasons.contains(&"DeletedOutOfBand".to_string())
            && reasons.contains(&"Recreated".to_string()),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn lambda_initiated_disable_is_reported_and_reenabled_only_when_asked() {
    let mut h = Harness::new();
    let uuid = h.apply_and_settle(sqs(json!({}))).await;
    h.model
        .lambda_disable(
            &uuid,
            "PROBLEM: Lambda initiated: the function's role lacks sqs:ReceiveMessage",
        )
        .unwrap();

    h.reconcile().await.unwrap();
    assert_eq!(
        h.condition("Stalled"),
        ("True".into(), "DisabledByLambda".into())
    );
    assert_eq!(h.condition("Ready").0, "False");
    assert_eq!(h.calls("UpdateEventSourceMapping"), 0);
    assert!(h.event_reasons().contains(&"DisabledByLambda".to_string()));

    h.apply(sqs(json!({"enabled": true})));
    h.settle().await;
    assert_eq!(h.calls("UpdateEventSourceMapping"), 1);
    assert_eq!(h.mappings()[0]["State"], "Enabled");
    assert!(h.event_reasons().contains(&"ReEnabled".to_string()));
}

#[tokio::test]
async fn crash_between_create_and_status_write_leaves_exactly_one_mapping() {
    let mut h = Harness::new();
    h.apply(sqs(json!({})));
    h.crash_right_after_create().await;
    assert_eq!(h.mappings().len(), 1);
    assert!(h.status().get("uuid").is_none());
    assert!(
        h.status()["createRequestedAt"].is_string(),
        "the create intent was recorded first"
    );

    h.restart_controller();
    h.settle().await;
    let mappings = h.mappings();
    assert_eq!(mappings.len(), 1, "no duplicate");
    assert_eq!(h.calls("CreateEventSourceMapping"), 1);
    assert_eq!(h.status()["uuid"], mappings[0]["UUID"]);
    assert!(h.event_reasons().contains(&"Recovered".to_string()));
}

#[tokio::test]
async fn lost_create_response_is_recovered_without_a_duplicate() {
    let mut h = Harness::new();
    h.apply(sqs(json!({})));
    h.model.lose_next_create_responses(1);
    h.reconcile().await.unwrap(); // finalizer
    let err = h.reconcile().await.unwrap_err();
    assert_eq!(err.category(), "retry");
    assert_eq!(
        h.condition("Reconciling"),
        ("True".into(), "Retrying".into())
    );
    h.settle().await;
    assert_eq!(h.mappings().len(), 1);
    assert_eq!(h.calls("CreateEventSourceMapping"), 1);
    assert_eq!(h.status()["uuid"], h.mappings()[0]["UUID"]);
}

#[tokio::test]
async fn a_normal_create_costs_one_call() {
    let mut h = Harness::new();
    h.apply(sqs(json!({})));
    h.reconcile().await.unwrap(); // finalizer
    h.reconcile().await.unwrap(); // create
    let counts = h.model.call_counts();
    assert_eq!(
        counts.values().sum::<u64>(),
        1,
        "no lookup before a first create: {counts:?}"
    );
}

#[tokio::test]
async fn foreign_mapping_is_reported_not_taken_over_unless_annotated() {
    let mut h = Harness::new();
    let foreign = h
        .model
        .create_event_source_mapping(
            &json!({"EventSourceArn": SQS, "FunctionName": FUNCTION, "BatchSize": 3}),
        )
        .unwrap();
    let foreign_uuid = foreign["UUID"].as_str().unwrap().to_string();
    h.clock.advance(Duration::from_secs(2));

    h.apply(sqs(json!({"batchSize": 5})));
    h.reconcile().await.unwrap();
    h.reconcile().await.unwrap();
    assert_eq!(h.condition("Stalled"), ("True".into(), "Conflict".into()));
    let status = h.status();
    let message = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains(&foreign_uuid), "{message}");
    assert!(h.event_reasons().contains(&"Conflict".to_string()));
    assert_eq!(h.mappings().len(), 1);
    assert_eq!(
        h.mappings()[0]["BatchSize"],
        3,
        "the foreign mapping is untouched"
    );
    assert!(status.get("uuid").is_none());

    // The user opts in by naming the UUID.
    h.apply_with(
        sqs(json!({"batchSize": 5})),
        json!({"lambda.esm-controller.dev/adopt-uuid": foreign_uuid}),
    );
    h.settle().await;
    assert_eq!(h.status()["uuid"], foreign_uuid.as_str());
    assert_eq!(h.mappings()[0]["BatchSize"], 5);
    let tags = h
        .model
        .list_tags(h.mappings()[0]["EventSourceMappingArn"].as_str().unwrap())
        .unwrap();
    assert!(
        !tags.contains_key("esm-controller.dev/owner-uid"),
        "taking over a mapping whose tags hold the spec's sends no TagResource: {tags:?}"
    );
    assert_eq!(h.calls("TagResource"), 0);
    assert!(h.event_reasons().contains(&"Adopted".to_string()));
    // The tags are brought in line, ownership tags included, once the spec's tags change.
    h.apply_with(
        sqs(json!({"batchSize": 5, "tags": {"team": "payments"}})),
        json!({"lambda.esm-controller.dev/adopt-uuid": foreign_uuid}),
    );
    h.settle().await;
    let tags = h
        .model
        .list_tags(h.mappings()[0]["EventSourceMappingArn"].as_str().unwrap())
        .unwrap();
    assert_eq!(tags["esm-controller.dev/owner-uid"], "uid-orders-1");
    assert_eq!(tags["team"], "payments");
}

#[tokio::test(start_paused = true)]
async fn missing_function_stalls_quietly_and_recovers_when_it_appears() {
    let mut h = Harness::new();
    h.apply(json!({"eventSourceARN": SQS, "functionName": "not-yet"}));
    h.reconcile().await.unwrap();
    h.reconcile().await.unwrap();
    assert_eq!(
        h.condition("Stalled"),
        ("True".into(), "FunctionNotFound".into())
    );
    assert!(h.mappings().is_empty());
    // Its own status write triggers more reconciles: they must not retry the create (the
    // e2e suite saw 9 Creates per second per stalled resource before this rule).
    let writes = h.kube.state.lock().unwrap().status_writes.len();
    for _ in 0..5 {
        h.reconcile().await.unwrap();
    }
    assert_eq!(h.calls("CreateEventSourceMapping"), 1);
    assert_eq!(
        h.kube.state.lock().unwrap().status_writes.len(),
        writes,
        "no status churn while stalled"
    );

    h.model.seed_function("not-yet");
    tokio::time::advance(h.ctx.settings.stalled_recheck + Duration::from_secs(1)).await;
    h.settle().await;
    assert_eq!(h.mappings().len(), 1);
}

#[tokio::test]
async fn a_spec_change_retries_a_stalled_resource_at_once() {
    let mut h = Harness::new();
    h.apply(json!({"eventSourceARN": SQS, "functionName": "not-yet"}));
    h.reconcile().await.unwrap();
    h.reconcile().await.unwrap();
    assert_eq!(h.condition("Stalled").1, "FunctionNotFound");
    h.apply(json!({"eventSourceARN": SQS, "functionName": FUNCTION}));
    h.settle().await;
    assert_eq!(h.mappings().len(), 1);
}

#[tokio::test]
async fn invalid_parameters_from_lambda_stall_with_its_message() {
    let mut h = Harness::new();
    // The API server would refuse this; the controller must still behave if it gets through.
    h.apply(json!({"eventSourceARN": KINESIS, "functionName": FUNCTION}));
    h.reconcile().await.unwrap();
    h.reconcile().await.unwrap();
    let (status, reason) = h.condition("Stalled");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "InvalidParameter")
    );
    assert!(h.mappings().is_empty());
}

#[tokio::test]
async fn bad_spec_never_reaches_aws_and_never_blocks_deletion() {
    let mut h = Harness::new();
    h.apply(sqs(
        json!({"filterCriteria": {"filters": [{"pattern": "{not json"}]}}),
    ));
    h.reconcile().await.unwrap();
    h.reconcile().await.unwrap();
    assert_eq!(
        h.condition("Stalled"),
        ("True".into(), "InvalidSpec".into())
    );
    assert!(
        h.model.call_counts().values().all(|n| *n == 0),
        "{:?}",
        h.model.call_counts()
    );
    h.mark_deleted();
    h.finish_deletion().await;
    assert!(h.object().is_none());
}

#[tokio::test]
async fn delete_with_delete_policy_waits_until_lambda_has_deleted_it() {
    let mut h = Harness::new();
    h.apply(sqs(json!({})));
    h.settle().await;
    h.delete_through_lambda().await;
    assert!(h.mappings().is_empty());
    assert!(h.event_reasons().contains(&"Deleted".to_string()));
}

#[tokio::test]
async fn delete_with_retain_policy_leaves_the_mapping() {
    let mut h = Harness::new();
    h.apply(sqs(json!({"deletionPolicy": "Retain"})));
    h.settle().await;
    h.mark_deleted();
    h.finish_deletion().await;
    assert_eq!(h.mappings().len(), 1);
    assert_eq!(h.calls("DeleteEventSourceMapping"), 0);
    assert!(h.event_reasons().contains(&"Retained".to_string()));
}

#[tokio::test]
async fn delete_while_creating_waits_then_deletes() {
    let mut h = Harness::new();
    h.model
        .set_transition_delays(Duration::from_secs(10), Duration::from_secs(1));
    h.apply(sqs(json!({})));
    h.reconcile().await.unwrap();
    h.reconcile().await.unwrap();
    assert_eq!(h.status()["state"], "Creating");
    h.mark_deleted();
    assert!(h.reconcile().await.is_err());
    assert_eq!(
        h.calls("DeleteEventSourceMapping"),
        0,
        "no delete while Creating"
    );
    h.clock.advance(Duration::from_secs(10));
    h.finish_deletion().await;
    assert!(h.mappings().is_empty());
}

#[tokio::test]
async fn crash_before_status_then_delete_leaves_no_orphan() {
    let mut h = Harness::new();
    h.apply(sqs(json!({})));
    h.crash_right_after_create().await;
    assert_eq!(h.mappings().len(), 1);
    h.restart_controller();
    h.mark_deleted();
    h.clock.advance(Duration::from_secs(2));
    h.finish_deletion().await;
    assert!(
        h.mappings().is_empty(),
        "the mapping created before the crash was found and deleted"
    );
}

#[tokio::test]
async fn throttling_is_retried_with_backoff() {
    let mut h = Harness::new();
    h.apply(sqs(json!({})));
    h.reconcile().await.unwrap();
    h.model.inject_fault(esm_emulator::model::Fault::times(
        Some("CreateEventSourceMapping"),
        esm_emulator::model::ApiError::throttled(),
        1,
    ));
    let err = h.reconcile().await.unwrap_err();
    assert_eq!(err.category(), "retry");
    let obj = std::sync::Arc::new(h.object().unwrap());
    let action = esm_controller::controller::error_policy(obj, &err, h.ctx.clone());
    assert!(
        format!("{action:?}").contains("requeue_after: Some"),
        "{action:?}"
    );
    h.settle().await;
    assert_eq!(h.mappings().len(), 1);
}

#[tokio::test]
async fn tags_follow_the_spec() {
    let mut h = Harness::new();
    h.apply(sqs(json!({"tags": {"team": "a", "old": "x"}})));
    h.settle().await;
    h.apply(sqs(json!({"tags": {"team": "b"}})));
    h.settle().await;
    let arn = h.status()["eventSourceMappingARN"]
        .as_str()
        .unwrap()
        .to_string();
    let tags = h.model.list_tags(&arn).unwrap();
    assert_eq!(tags.get("team").map(String::as_str), Some("b"));
    assert!(!tags.contains_key("old"));
    assert!(tags.contains_key("esm-controller.dev/owner-uid"));
}

#[tokio::test]
async fn retained_mapping_is_adopted_again_by_the_same_resource() {
    // GitOps: delete with Retain, then the same manifest is applied again (a new UID). The
    // mapping from the earlier incarnation is recognised by its namespace/name and cluster tags
    // and adopted, with no annotation and no conflict (ACK community issue 2762).
    let mut h = Harness::new();
    h.apply(sqs(json!({"deletionPolicy": "Retain", "batchSize": 5})));
    h.settle().await;
    let first = h.status()["uuid"].as_str().unwrap().to_string();
    h.mark_deleted();
    h.finish_deletion().await;

    h.uid = "uid-orders-2".into();
    h.apply(sqs(json!({"batchSize": 6})));
    h.settle().await;
    assert_eq!(h.status()["uuid"], first.as_str());
    assert_eq!(h.mappings().len(), 1);
    assert_eq!(h.mappings()[0]["BatchSize"], 6);
    assert!(
        h.event_reasons().contains(&"Adopted".to_string()),
        "{:?}",
        h.event_reasons()
    );
    let tags = h
        .model
        .list_tags(h.status()["eventSourceMappingARN"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        tags["esm-controller.dev/owner-uid"], "uid-orders-2",
        "ownership moves to the new resource"
    );
}

#[tokio::test]
async fn adopt_annotation_naming_a_missing_mapping_stalls_with_that_reason() {
    let mut h = Harness::new();
    h.apply_with(
        sqs(json!({})),
        json!({"lambda.esm-controller.dev/adopt-uuid": "00000000-0000-4000-8000-000000000000"}),
    );
    h.reconcile().await.unwrap();
    h.reconcile().await.unwrap();
    assert_eq!(
        h.condition("Stalled"),
        ("True".into(), "AdoptionTargetNotFound".into())
    );
    assert_eq!(
        h.calls("CreateEventSourceMapping"),
        0,
        "no new mapping while the user asked to adopt one"
    );
}

#[tokio::test]
async fn a_stale_copy_from_before_the_uuid_was_recorded_costs_no_lookup() {
    // The watch cache may hand over the object as it was after the intent-marker write but
    // before the UUID write. That is not a crash: no List/ListTags lookup, no "Recovered".
    let mut h = Harness::new();
    h.apply(sqs(json!({})));
    h.reconcile().await.unwrap(); // finalizer
    h.reconcile().await.unwrap(); // create
    let marker_status = h.kube.state.lock().unwrap().status_writes[0].clone();
    assert!(marker_status["createRequestedAt"].is_string() && marker_status.get("uuid").is_none());
    let mut stale = h.object().unwrap();
    stale.status = Some(serde_json::from_value(marker_status).unwrap());

    h.reconcile_with(stale).await.unwrap();
    assert_eq!(h.calls("ListEventSourceMappings"), 0);
    assert_eq!(h.calls("ListTags"), 0);
    assert_eq!(h.mappings().len(), 1);
    assert!(!h.event_reasons().contains(&"Recovered".to_string()));
    assert!(
        h.status().get("createRequestedAt").is_none(),
        "the marker is not written back"
    );
    assert!(
        h.status()["tagsDigest"].is_string(),
        "the status written from the stale copy keeps the tags digest: {}",
        h.status()
    );
    h.reconcile().await.unwrap();
    assert_eq!(
        h.calls("ListTags"),
        0,
        "so the next reconcile reads no tags"
    );
}

#[tokio::test]
async fn a_throttled_create_needs_no_crash_lookup() {
    // A 429 means Lambda created nothing, unlike a 500 or a lost response: the retry is a plain
    // create, without the List/ListTags lookup that follows an unknown outcome. The marker stays
    // written: clearing it and writing it again would cost the API server two requests a
    // throttle, and this process remembers that the throttled Create made nothing.
    let mut h = Harness::new();
    h.apply(sqs(json!({})));
    h.reconcile().await.unwrap();
    h.model.inject_fault(esm_emulator::model::Fault::times(
        Some("CreateEventSourceMapping"),
        esm_emulator::model::ApiError::throttled(),
        1,
    ));
    assert!(h.reconcile().await.is_err());
    assert!(h.status()["createRequestedAt"].is_string());
    h.reconcile().await.unwrap();
    assert_eq!(h.calls("ListEventSourceMappings"), 0);
    assert_eq!(h.calls("ListTags"), 0);
    assert_eq!(h.mappings().len(), 1);
}

#[tokio::test]
async fn a_refused_delete_is_shown_on_the_resource_and_retried() {
    let mut h = Harness::new();
    h.apply(sqs(json!({})));
    h.settle().await;
    h.model.inject_fault(esm_emulator::model::Fault::times(
        Some("DeleteEventSourceMapping"),
        esm_emulator::model::ApiError::new(
            403,
            "AccessDeniedException",
            "not authorized to perform: lambda:DeleteEventSourceMapping",
        ),
        1,
    ));
    h.mark_deleted();
    assert!(h.reconcile().await.is_err());
    assert_eq!(
        h.condition("Stalled"),
        ("True".into(), "DeleteFailed".into())
    );
    assert!(
        h.object().is_some(),
        "the finalizer holds until the mapping is deleted"
    );
    h.finish_deletion().await;
    assert!(h.mappings().is_empty());
}

// ---------- The region a mapping lives in ----------

#[tokio::test]
async fn a_changed_default_region_keeps_managing_the_mapping_where_it_is() {
    let mut h = Harness::new();
    let uuid = h.apply_and_settle(sqs(json!({"batchSize": 5}))).await;
    assert_eq!(h.status()["region"], REGION, "the region is recorded");

    // The operator changes --region while the resource (without spec.region) exists.
    h.restart_with_default_region(OTHER_REGION);
    h.model.oob_update(&uuid, &json!({"BatchSize": 9})).unwrap();
    h.settle().await;

    assert_eq!(
        h.all_calls_in(OTHER_REGION),
        0,
        "nothing is looked up or created in the new default region"
    );
    assert!(h.mappings_in(OTHER_REGION).is_empty(), "no duplicate");
    let mappings = h.mappings();
    assert_eq!(mappings.len(), 1);
    assert_eq!(
        mappings[0]["BatchSize"], 5,
        "drift is still fixed where the mapping is"
    );
    assert_eq!(h.calls("UpdateEventSourceMapping"), 1);
    assert_eq!(h.status()["uuid"], uuid.as_str());
    assert_eq!(h.status()["region"], REGION);
    assert!(
        !h.event_reasons().contains(&"DeletedOutOfBand".to_string()),
        "{:?}",
        h.event_reasons()
    );
}

#[tokio::test]
async fn a_changed_default_region_keeps_managing_the_mapping_in_list_mode() {
    let mut h = Harness::list_mode();
    let uuid = h.apply_and_settle(sqs(json!({"batchSize": 5}))).await;

    h.restart_with_default_region(OTHER_REGION);
    h.model.oob_update(&uuid, &json!({"BatchSize": 9})).unwrap();
    h.settle().await;

    assert_eq!(h.calls_in(OTHER_REGION, "CreateEventSourceMapping"), 0);
    assert_eq!(h.calls_in(OTHER_REGION, "GetEventSourceMapping"), 0);
    assert!(h.mappings_in(OTHER_REGION).is_empty(), "no duplicate");
    assert_eq!(h.mappings().len(), 1);
    assert_eq!(h.mappings()[0]["BatchSize"], 5);
    assert_eq!(h.status()["uuid"], uuid.as_str());
}

#[tokio::test]
async fn deleting_after_a_default_region_change_deletes_the_mapping_where_it_is() {
    let mut h = Harness::new();
    h.apply(sqs(json!({})));
    h.settle().await;
    h.restart_with_default_region(OTHER_REGION);
    h.delete_through_lambda().await;
    assert!(h.mappings().is_empty(), "no orphan in the mapping's region");
    assert_eq!(h.all_calls_in(OTHER_REGION), 0);
    assert!(h.event_reasons().contains(&"Deleted".to_string()));
}

#[tokio::test]
async fn a_create_interrupted_before_a_default_region_change_is_found_where_it_was_sent() {
    let mut h = Harness::new();
    h.apply(sqs(json!({})));
    // The controller stops right after Create, before the UUID is recorded...
    h.crash_right_after_create().await;
    assert!(h.status()["createRequestedAt"].is_string());
    assert_eq!(
        h.status()["region"],
        REGION,
        "the create marker names the region the Create went to"
    );
    // ...and comes back with another default region.
    h.restart_with_default_region(OTHER_REGION);
    h.settle().await;

    assert_eq!(h.calls_in(OTHER_REGION, "CreateEventSourceMapping"), 0);
    assert!(h.mappings_in(OTHER_REGION).is_empty(), "no duplicate");
    assert_eq!(h.mappings().len(), 1);
    assert_eq!(h.status()["uuid"], h.mappings()[0]["UUID"]);
    assert!(h.event_reasons().contains(&"Recovered".to_string()));
}

#[tokio::test]
async fn a_status_from_before_status_region_uses_the_region_in_the_arn() {
    let mut h = Harness::new();
    let uuid = h.apply_and_settle(sqs(json!({"batchSize": 5}))).await;
    // As a controller without status.region wrote it: the ARN is the only record of the region.
    {
        let mut st = h.kube.state.lock().unwrap();
        let status = &mut st.objects.get_mut("orders").unwrap()["status"];
        status.as_object_mut().unwrap().remove("region");
        assert!(
            status["eventSourceMappingARN"]
                .as_str()
                .unwrap()
                .contains(":us-east-1:")
        );
    }
    h.restart_with_default_region(OTHER_REGION);
    h.model.oob_update(&uuid, &json!({"BatchSize": 9})).unwrap();
    h.settle().await;

    assert_eq!(h.all_calls_in(OTHER_REGION), 0);
    assert_eq!(h.mappings()[0]["BatchSize"], 5);
    assert_eq!(
        h.status()["region"],
        REGION,
        "the next status write records the region"
    );

    h.mark_deleted();
    h.finish_deletion().await;
    assert!(h.mappings().is_empty());
    assert_eq!(h.all_calls_in(OTHER_REGION), 0);
}

#[tokio::test]
async fn a_mapping_deleted_out_of_band_after_a_default_region_change_is_recreated_in_the_new_default()
 {
    // Once nothing is recorded, the resource follows the default region like a new one.
    let mut h = Harness::new();
    h.apply(sqs(json!({})));
    h.settle().await;
    let old = h.status()["uuid"].as_str().unwrap().to_string();
    h.restart_with_default_region(OTHER_REGION);
    h.model.oob_delete(&old).unwrap();
    h.clock.advance(Duration::from_secs(2));

    h.reconcile().await.unwrap();
    assert_eq!(
        h.calls_in(OTHER_REGION, "CreateEventSourceMapping"),
        0,
        "the pass that finds it gone creates nothing"
    );
    assert!(h.status().get("uuid").is_none() && h.status().get("region").is_none());
    let message = h.ready_message();
    assert!(
        message.contains(&format!("{old} in {REGION}")) && message.contains(OTHER_REGION),
        "{message}"
    );

    h.settle().await;
    let created = h.mappings_in(OTHER_REGION);
    assert_eq!(created.len(), 1);
    assert!(h.mappings().is_empty());
    assert_eq!(h.status()["uuid"], created[0]["UUID"]);
    assert_eq!(h.status()["region"], OTHER_REGION);
    assert!(h.event_reasons().contains(&"DeletedOutOfBand".to_string()));
}

#[tokio::test]
async fn an_explicit_spec_region_other_than_the_recorded_one_stalls() {
    // The admission rule keeps spec.region from changing; this is what the controller does
    // when the rule was bypassed (the API double has no admission).
    let mut h = Harness::new();
    let uuid = h.apply_and_settle(sqs(json!({"region": REGION}))).await;
    h.apply(sqs(json!({"region": OTHER_REGION})));

    h.reconcile().await.unwrap();
    assert_eq!(
        h.condition("Stalled"),
        ("True".into(), "RegionChanged".into())
    );
    let message = h.ready_message();
    for part in [
        format!("spec.region is {OTHER_REGION}"),
        format!("mapping {uuid} is in {REGION}"),
        format!("Set spec.region back to {REGION}"),
    ] {
        assert!(message.contains(&part), "{part:?} in {message}");
    }
    assert_eq!(h.all_calls_in(OTHER_REGION), 0);
    assert_eq!(h.mappings().len(), 1, "the mapping is left as it is");
    assert_eq!(h.status()["uuid"], uuid.as_str());
    let warnings = |h: &Harness| {
        h.event_reasons()
            .iter()
            .filter(|r| *r == "RegionChanged")
            .count()
    };
    assert_eq!(warnings(&h), 1);
    h.reconcile().await.unwrap();
    assert_eq!(warnings(&h), 1, "one event per transition");

    // Putting spec.region back resumes management.
    h.apply(sqs(json!({"region": REGION})));
    h.settle().await;
    assert_eq!(h.condition("Stalled").0, "Absent");
    assert_eq!(h.status()["uuid"], uuid.as_str());
    assert_eq!(h.all_calls_in(OTHER_REGION), 0);
}

#[tokio::test]
async fn deleting_a_resource_stalled_on_a_region_change_deletes_the_recorded_mapping() {
    let mut h = Harness::new();
    h.apply(sqs(json!({"region": REGION})));
    h.settle().await;
    h.apply(sqs(json!({"region": OTHER_REGION})));
    h.reconcile().await.unwrap();
    assert_eq!(h.condition("Stalled").1, "RegionChanged");

    h.mark_deleted();
    h.finish_deletion().await;
    assert!(h.mappings().is_empty(), "deleted where it was");
    assert_eq!(h.all_calls_in(OTHER_REGION), 0);
}
