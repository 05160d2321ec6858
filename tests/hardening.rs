//! Reconciler scenarios for the holes an outside review found (issue 12): unreadable filters,
//! Ready that must not flap on a failed read, failed sweeps, foreign and untaggable mappings,
//! and what a resource deleted without its finalizer leaves behind.

mod support;

use std::time::Duration;

use esm_emulator::model::{ApiError, Fault};
use serde_json::json;
use support::{Harness, REGION, SQS, sqs};

const KMS_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/filters";

fn warnings(h: &Harness, reason: &str) -> usize {
    h.kube
        .state
        .lock()
        .unwrap()
        .events
        .iter()
        .filter(|e| e["reason"] == reason && e["type"] == "Warning")
        .count()
}

#[tokio::test]
async fn filters_lambda_cannot_read_are_shown_and_never_called_in_sync() {
    let mut h = Harness::new();
    let spec = sqs(json!({"kmsKeyARN": KMS_KEY,
        "filterCriteria": {"filters": [{"pattern": "{\"body\":{\"kind\":[\"order\"]}}"}]}}));
    let uuid = h.apply_and_settle(spec.clone()).await;
    h.model
        .set_filter_criteria_error(
            &uuid,
            Some((
                "KMSAccessDeniedException",
                "Lambda was unable to decrypt the filter criteria",
            )),
        )
        .unwrap();

    h.reconcile().await.unwrap();
    assert_eq!(h.condition("Ready").0, "False");
    assert_eq!(
        h.condition("Stalled"),
        ("True".into(), "FilterCriteriaError".into())
    );
    let message = h.ready_message();
    for part in [
        "KMSAccessDeniedException",
        "unable to decrypt the filter criteria",
        KMS_KEY,
    ] {
        assert!(message.contains(part), "{message:?} names {part}");
    }
    assert_eq!(warnings(&h, "FilterCriteriaError"), 1);
    assert_eq!(
        h.calls("UpdateEventSourceMapping"),
        0,
        "filters that cannot be read are not rewritten"
    );

    // Seen again (as a sweep or the recheck would): one Warning per transition, not per pass.
    h.reconcile().await.unwrap();
    assert_eq!(warnings(&h, "FilterCriteriaError"), 1);

    // The key works again: Ready at the next look, with no spec change and no hold.
    h.model.set_filter_criteria_error(&uuid, None).unwrap();
    h.reconcile().await.unwrap();
    assert_eq!(h.condition("Ready"), ("True".into(), "Enabled".into()));
    assert_eq!(h.calls("UpdateEventSourceMapping"), 0);
}

#[tokio::test]
async fn a_failed_read_of_an_in_sync_mapping_leaves_it_ready() {
    let mut h = Harness::new();
    h.apply_and_settle(sqs(json!({"batchSize": 5}))).await;
    let since = h.status()["conditions"][0]["lastTransitionTime"].clone();
    h.restart_controller();

    for error in [ApiError::throttled(), ApiError::service("internal error")] {
        h.model.inject_fault(Fault::times(
            Some("GetEventSourceMapping"),
            error.clone(),
            1,
        ));
        let err = h.reconcile().await.unwrap_err();
        assert_eq!(err.category(), "retry", "{error:?}");
        assert_eq!(
            h.condition("Ready"),
            ("True".into(), "Enabled".into()),
            "a {} on a read is not a change in the mapping",
            error.code
        );
        assert_eq!(h.condition("Reconciling").0, "Absent");
        assert_eq!(h.status()["conditions"][0]["lastTransitionTime"], since);
    }
    h.reconcile().await.unwrap();
    assert_eq!(h.condition("Ready"), ("True".into(), "Enabled".into()));
}

#[tokio::test(start_paused = true)]
async fn reads_failing_past_the_bound_are_reported() {
    let mut h = Harness::new();
    h.apply_and_settle(sqs(json!({}))).await;
    h.model.inject_fault(Fault::always(
        Some("GetEventSourceMapping"),
        ApiError::service("internal error"),
    ));
    assert!(h.reconcile().await.is_err());
    assert_eq!(h.condition("Ready").0, "True");
    tokio::time::advance(esm_controller::controller::READ_FAILURE_GRACE - Duration::from_secs(1))
        .await;
    assert!(h.reconcile().await.is_err());
    assert_eq!(h.condition("Ready").0, "True", "still inside the bound");
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(h.reconcile().await.is_err());
    assert_eq!(
        h.condition("Reconciling"),
        ("True".into(), "Retrying".into()),
        "past the bound the failure is reported"
    );
    assert_eq!(h.condition("Ready").0, "False");

    // A good read ends the failure run: the next failure starts a new bound.
    h.model.clear_faults();
    h.settle().await;
    h.model.inject_fault(Fault::times(
        Some("GetEventSourceMapping"),
        ApiError::throttled(),
        1,
    ));
    assert!(h.reconcile().await.is_err());
    assert_eq!(h.condition("Ready").0, "True");
}

#[tokio::test]
async fn a_spec_change_is_not_hidden_behind_a_failed_read() {
    let mut h = Harness::new();
    h.apply_and_settle(sqs(json!({"batchSize": 5}))).await;
    h.apply(sqs(json!({"batchSize": 6})));
    h.model.inject_fault(Fault::times(
        Some("GetEventSourceMapping"),
        ApiError::throttled(),
        1,
    ));
    assert!(h.reconcile().await.is_err());
    assert_eq!(
        h.condition("Ready").0,
        "False",
        "Ready was for the old spec: the new one is not applied yet"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_first_sweep_is_retried_at_once_and_costs_no_get() {
    let mut h = Harness::list_mode();
    h.apply_and_settle(sqs(json!({}))).await;
    // A restart whose sweeper runs on its own, and whose first List fails.
    h.restart_sweeping_every(Duration::from_secs(60), Duration::from_secs(2));
    h.model.inject_fault(Fault::times(
        Some("ListEventSourceMappings"),
        ApiError::service("internal error"),
        1,
    ));
    let (gets, lists) = (
        h.calls("GetEventSourceMapping"),
        h.calls("ListEventSourceMappings"),
    );
    let started = tokio::time::Instant::now();
    let mut triggers = h.ctx.lanes.triggers.subscribe();

    // The reconcile does not wait for the sweep: it returns at once, and the page that lists
    // its mapping triggers it again.
    h.reconcile().await.unwrap();
    let triggered = tokio::time::timeout(Duration::from_secs(30), triggers.recv())
        .await
        .expect("the retried sweep triggers the resource")
        .unwrap();
    assert_eq!(triggered.name, "orders");
    h.reconcile().await.unwrap();
    assert_eq!(
        h.calls("ListEventSourceMappings") - lists,
        2,
        "the failed sweep and its retry"
    );
    assert_eq!(
        h.calls("GetEventSourceMapping"),
        gets,
        "the reconcile waited for the retry instead of asking Lambda"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "retried within seconds, not after the interval: {:?}",
        started.elapsed()
    );
    assert_eq!(h.condition("Ready"), ("True".into(), "Enabled".into()));
}

/// The sweeper's wake-up on a write. (The lost wake-up the review found needs another thread to
/// write in the instant between two statements; it cannot be replayed here. The order that
/// rules it out is fixed in `sweep_loop` and explained there. This checks that whenever a write
/// lands in the sweeper's idle wait, a sweep follows within the busy interval.)
#[tokio::test(start_paused = true)]
async fn a_write_while_the_sweeper_idles_is_swept_within_the_busy_interval() {
    let h = Harness::list_mode_sweeping_every(Duration::from_secs(60), Duration::from_secs(2));
    let lane = h.ctx.lane(&esm_controller::lambda::LaneKey::region(REGION));
    let cache = lane.cache.as_ref().unwrap();
    // Let the first sweep run, then write at many instants across the sweeper's idle wait:
    // whenever the write lands, a sweep follows within the busy interval (and a little).
    tokio::time::sleep(Duration::from_secs(1)).await;
    for step in 0..20u64 {
        let lists = h.calls_in(REGION, "ListEventSourceMappings");
        tokio::time::sleep(Duration::from_millis(137 * step)).await;
        cache.wrote(&format!("written-{step}"));
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(
            h.calls_in(REGION, "ListEventSourceMappings") > lists,
            "write {step} was followed by a sweep"
        );
        // Settle the write so the sweeper goes back to its long interval.
        tokio::time::sleep(Duration::from_secs(61)).await;
    }
}

#[tokio::test]
async fn a_create_refused_for_its_tags_stalls_naming_the_permission() {
    let cases = [
        (
            ApiError::new(
                403,
                "AccessDeniedException",
                "User: arn:aws:sts::123456789012:assumed-role/esm/c is not authorized to perform: lambda:TagResource on resource: arn:aws:lambda:us-east-1:123456789012:event-source-mapping:*",
            ),
            "lambda:TagResource",
        ),
        (
            ApiError::invalid_parameter(
                "Tags are not supported for event source mappings in this region",
            ),
            "cannot tag event source mappings",
        ),
    ];
    for (error, named) in cases {
        let mut h = Harness::new();
        h.apply(sqs(json!({})));
        h.reconcile().await.unwrap(); // finalizer
        h.model.inject_fault(Fault::times(
            Some("CreateEventSourceMapping"),
            error.clone(),
            1,
        ));
        h.reconcile().await.unwrap();
        assert_eq!(
            h.condition("Stalled"),
            ("True".into(), "TagsRefused".into()),
            "{}",
            error.message
        );
        let message = h.ready_message();
        assert!(message.contains(named), "{message:?} names {named}");
        assert!(h.mappings().is_empty(), "no untagged mapping was created");
        assert!(h.status().get("createRequestedAt").is_none());
    }
}

#[tokio::test]
async fn crash_recovery_skips_a_foreign_mapping_whose_tags_cannot_be_read() {
    let mut h = Harness::new();
    // Someone else's mapping for the same source and function, created outside the controller,
    // whose tags the controller may not read.
    let foreign = h
        .model
        .create_event_source_mapping(&json!({"FunctionName": "handler", "EventSourceArn": SQS}))
        .unwrap();
    let foreign = foreign["UUID"].as_str().unwrap().to_string();
    h.model.inject_fault(Fault::always(
        Some("ListTags"),
        ApiError::new(
            403,
            "AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/esm/c is not authorized to perform: lambda:ListTags",
        ),
    ));
    // Our resource was interrupted after noting its create intent.
    h.apply(sqs(json!({})));
    h.reconcile().await.unwrap(); // finalizer
    {
        let mut st = h.kube.state.lock().unwrap();
        st.objects.get_mut("orders").unwrap()["status"] =
            json!({"createRequestedAt": "2026-12-01T00:00:00Z", "region": REGION});
    }
    h.restart_controller();
    h.reconcile().await.unwrap();
    assert_eq!(
        h.condition("Stalled"),
        ("True".into(), "Conflict".into()),
        "the lookup went on past the unreadable mapping: {}",
        h.ready_message()
    );
    assert!(h.ready_message().contains(&foreign));
    assert_eq!(h.mappings().len(), 1, "nothing was created");
}

#[tokio::test]
async fn a_resource_deleted_without_its_finalizer_leaves_nothing_behind() {
    for list_mode in [false, true] {
        let mut h = if list_mode {
            Harness::list_mode()
        } else {
            Harness::new()
        };
        h.apply_and_settle(sqs(json!({}))).await;
        let key = esm_controller::controller::ObjectKey::new(support::NS, "orders");
        // Leave some backoff behind too.
        h.model.inject_fault(Fault::times(
            Some("GetEventSourceMapping"),
            ApiError::throttled(),
            1,
        ));
        if let Err(e) = h.reconcile().await {
            let obj = std::sync::Arc::new(h.object().unwrap());
            esm_controller::controller::error_policy(obj, &e, h.ctx.clone());
        }
        assert!(h.ctx.remembers(key));
        assert!(
            h.ctx
                .metrics()
                .encode()
                .contains("esm_mappings{state=\"Enabled\"} 1"),
            "{}",
            h.ctx.metrics().encode()
        );

        // Someone removes the finalizer by hand and the resource is gone.
        h.kube.state.lock().unwrap().objects.remove("orders");
        let stored = esm_controller::controller::StoredMapping::of(&kube::api::ObjectMeta {
            name: Some("orders".into()),
            namespace: Some(support::NS.into()),
            ..Default::default()
        });
        esm_controller::controller::reconcile_stored(std::sync::Arc::new(stored), h.ctx.clone())
            .await
            .unwrap();
        assert!(
            !h.ctx.remembers(key),
            "list mode {list_mode}: per-object state was forgotten"
        );
        assert!(
            h.ctx
                .metrics()
                .encode()
                .contains("esm_mappings{state=\"Enabled\"} 0"),
            "list mode {list_mode}: {}",
            h.ctx.metrics().encode()
        );
    }
}
