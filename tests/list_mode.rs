//! Reconciles in list mode: observation comes from a shared List sweep, so an in-sync resource
//! costs no AWS call and the state checks after a create come from List pages, not Gets.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{Harness, REGION, sqs};

#[tokio::test]
async fn create_costs_one_call_and_settling_is_observed_through_list_pages() {
    let mut h = Harness::list_mode();
    h.apply(sqs(json!({"batchSize": 5})));
    h.sweep().await; // the region's first sweep, before anything exists
    h.reconcile().await.unwrap(); // finalizer
    h.reconcile().await.unwrap(); // create
    assert_eq!(h.calls("CreateEventSourceMapping"), 1);
    // Our write is not observed yet: no Get, just wait for the sweep.
    h.reconcile().await.unwrap();
    h.reconcile().await.unwrap();
    assert_eq!(h.calls("GetEventSourceMapping"), 0);
    assert_eq!(h.condition("Reconciling").0, "True");

    h.clock.advance(Duration::from_secs(2));
    assert_eq!(
        h.sweep().await,
        1,
        "the sweep covering our write triggers the resource"
    );
    h.reconcile().await.unwrap();
    assert_eq!(h.condition("Ready"), ("True".into(), "Enabled".into()));
    assert_eq!(
        h.calls("GetEventSourceMapping"),
        0,
        "no Get at all on the create path"
    );
    assert_eq!(h.calls("ListTags"), 0);
}

#[tokio::test]
async fn in_sync_reconciles_make_no_aws_call() {
    let mut h = Harness::list_mode();
    h.apply(sqs(json!({})));
    h.settle().await;
    let before = h.model.call_counts();
    for _ in 0..5 {
        h.reconcile().await.unwrap();
    }
    assert_eq!(
        h.model.call_counts(),
        before,
        "a no-op reconcile reads the cache only"
    );
}

#[tokio::test]
async fn drift_seen_by_the_sweep_triggers_the_owner_and_is_fixed() {
    let mut h = Harness::list_mode();
    let uuid = h.apply_and_settle(sqs(json!({"batchSize": 5}))).await;
    let mut triggers = h.ctx.lanes.triggers.subscribe();
    assert_eq!(h.sweep().await, 0, "nothing changed, nothing triggered");

    h.clock.advance(Duration::from_secs(1));
    h.model.oob_update(&uuid, &json!({"BatchSize": 9})).unwrap();
    assert_eq!(h.sweep().await, 1);
    assert_eq!(triggers.try_recv().unwrap().name, "orders");
    h.reconcile().await.unwrap();
    assert_eq!(h.calls("UpdateEventSourceMapping"), 1);
    h.clock.advance(Duration::from_secs(2));
    h.settle().await;
    assert_eq!(h.mappings()[0]["BatchSize"], 5);
    assert_eq!(h.calls("GetEventSourceMapping"), 0);
}

#[tokio::test]
async fn a_mapping_missing_from_the_sweep_is_confirmed_with_one_get_then_recreated() {
    let mut h = Harness::list_mode();
    h.apply(sqs(json!({})));
    h.settle().await;
    let old = h.status()["uuid"].as_str().unwrap().to_string();
    h.model.oob_delete(&old).unwrap();
    assert_eq!(h.sweep().await, 1);
    h.reconcile().await.unwrap();
    assert_eq!(
        h.calls("GetEventSourceMapping"),
        1,
        "absence is confirmed before acting on it"
    );
    h.settle().await;
    assert_eq!(h.mappings().len(), 1);
    assert_ne!(h.status()["uuid"], old.as_str());
}

#[tokio::test]
async fn kms_encrypted_filters_are_read_with_get() {
    let mut h = Harness::list_mode();
    h.apply(sqs(
        json!({"kmsKeyARN": "arn:aws:kms:us-east-1:123456789012:key/k",
        "filterCriteria": {"filters": [{"pattern": "{\"body\": {\"a\": [1]}}"}]}}),
    ));
    h.settle().await;
    let gets = h.calls("GetEventSourceMapping");
    h.reconcile().await.unwrap();
    assert_eq!(
        h.calls("GetEventSourceMapping"),
        gets + 1,
        "List hides the filters of KMS-encrypted mappings"
    );
    assert_eq!(
        h.calls("UpdateEventSourceMapping"),
        0,
        "and with Get they compare equal"
    );
}

/// The sweeper running on its own: while our writes flow without a pause, it still sweeps after
/// each rest (25 s), instead of only once the burst is over; once they pause, it sweeps at once.
#[tokio::test(start_paused = true)]
async fn a_burst_of_writes_holds_the_sweep_only_for_a_rest() {
    let h = Harness::list_mode_sweeping_every(Duration::from_secs(60), Duration::from_secs(2));
    let start = tokio::time::Instant::now();
    let lane = h.ctx.lane(&esm_controller::lambda::LaneKey::region(REGION));
    let cache = lane.cache.as_ref().unwrap();
    cache.wrote("a-mapping-being-written");

    // 70 s of writes, one every 100 ms (a burst of creates at 10/s); note when each sweep ran.
    let mut sweeps_at = Vec::new();
    let mut lists = 0;
    while start.elapsed() < Duration::from_secs(70) {
        cache.wrote("a-mapping-being-written");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = h.calls_in(REGION, "ListEventSourceMappings");
        if now > lists {
            sweeps_at.push(start.elapsed().as_secs_f64());
            lists = now;
        }
    }
    // The writes stop: the next sweep follows the pause (0.5 s), not the rest.
    while h.calls_in(REGION, "ListEventSourceMappings") == lists {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sweeps_at.push(start.elapsed().as_secs_f64());

    let expected = [25.0, 50.0, 70.5];
    assert_eq!(sweeps_at.len(), expected.len(), "sweeps at {sweeps_at:?} s");
    for (at, want) in sweeps_at.iter().zip(expected) {
        assert!(
            (at - want).abs() <= 0.4,
            "sweeps at {sweeps_at:?} s, expected {expected:?}"
        );
    }
}

/// The API server requests of one create, from the watch event of the new resource until it is
/// Ready (issue 15): the finalizer, the create marker before Create, the UUID after it, and
/// Ready. No read: the finalizer's patch returns the resource, and a status write returns it as
/// it is afterwards, for the reconciles that follow. No Event: status tells a first create.
#[tokio::test]
async fn a_create_costs_the_api_server_four_requests_in_order() {
    let mut h = Harness::list_mode();
    h.apply(sqs(json!({})));
    h.sweep().await; // the region's first sweep, before anything exists

    // The watch shows the new resource, without any finalizer.
    assert!(h.watched().bare);
    h.reconcile_watched().await.unwrap();
    assert_eq!(
        h.take_requests(),
        ["PATCH orders", "APPLY orders/status", "APPLY orders/status"],
        "finalizer, create marker, UUID; no read"
    );
    assert_eq!(h.calls("CreateEventSourceMapping"), 1);
    let writes = h.kube.state.lock().unwrap().status_writes.clone();
    // The marker went out before Create (it has no UUID) and says Reconciling (kstatus).
    assert!(writes[0]["createRequestedAt"].is_string(), "{}", writes[0]);
    assert!(writes[0].get("uuid").is_none(), "{}", writes[0]);
    let reconciling = writes[0]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Reconciling" && c["status"] == "True");
    assert!(reconciling, "{}", writes[0]);
    assert!(writes[1]["uuid"].is_string() && writes[1].get("createRequestedAt").is_none());
    assert!(h.event_reasons().is_empty(), "{:?}", h.event_reasons());

    // The watch event of our own finalizer, and the requeue after the create: nothing to do,
    // nothing read.
    assert!(!h.watched().bare);
    h.reconcile_watched().await.unwrap();
    h.reconcile_watched().await.unwrap();
    assert_eq!(h.take_requests(), Vec::<String>::new());

    // The sweep sees Lambda enable it and triggers the resource: one write, Ready.
    h.clock.advance(Duration::from_secs(2));
    assert_eq!(h.sweep().await, 1);
    h.reconcile_watched().await.unwrap();
    assert_eq!(h.take_requests(), ["APPLY orders/status"]);
    assert_eq!(h.condition("Ready"), ("True".into(), "Enabled".into()));
    assert_eq!(h.calls("CreateEventSourceMapping"), 1);

    // Once Ready nothing is kept of the resource: the next reconcile reads it.
    h.reconcile_watched().await.unwrap();
    assert_eq!(h.take_requests(), ["GET orders"]);
}

/// The copy kept between reconciles is used only while the watch has shown no change to what a
/// reconcile acts on: a new spec is read, never acted on from the copy.
#[tokio::test]
async fn a_kept_copy_is_not_used_once_the_watch_shows_a_change() {
    let mut h = Harness::list_mode();
    h.apply(sqs(json!({"batchSize": 5})));
    h.sweep().await;
    h.reconcile_watched().await.unwrap();
    h.take_requests();
    // The user changes the spec while Lambda is still creating the mapping.
    h.apply(sqs(json!({"batchSize": 7})));
    h.reconcile_watched().await.unwrap();
    assert_eq!(
        h.take_requests().first().map(String::as_str),
        Some("GET orders")
    );
    h.clock.advance(Duration::from_secs(2));
    h.settle().await;
    assert_eq!(h.mappings()[0]["BatchSize"], 7);
    assert_eq!(h.calls("CreateEventSourceMapping"), 1);
}

/// The watch showed no finalizer, but one was added since: the finalizer's patch is refused
/// (it checks there is none), and the resource is read instead; nothing is created twice.
#[tokio::test]
async fn a_finalizer_added_since_the_watch_event_falls_back_to_a_read() {
    let mut h = Harness::list_mode();
    h.apply(sqs(json!({})));
    h.sweep().await;
    let stale = h.watched();
    assert!(stale.bare);
    h.kube
        .state
        .lock()
        .unwrap()
        .objects
        .get_mut("orders")
        .unwrap()["metadata"]["finalizers"] = json!(["someone.else/hold"]);
    esm_controller::controller::reconcile_stored(stale, h.ctx.clone())
        .await
        .unwrap();
    assert_eq!(
        h.take_requests(),
        ["PATCH orders", "GET orders", "PATCH orders"]
    );
    assert_eq!(
        h.object().unwrap().metadata.finalizers,
        Some(vec![
            "someone.else/hold".to_string(),
            "lambda.esm-controller.dev/cleanup".to_string()
        ])
    );
    assert_eq!(
        h.calls("CreateEventSourceMapping"),
        0,
        "not before the next pass"
    );
}
