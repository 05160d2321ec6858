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
