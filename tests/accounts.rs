//! Account bindings in the reconcile (issue 11): each mapping is created and kept in its
//! binding's account, a refused tenant gets no lane and costs no call, and a recorded mapping
//! stays where it is when defaults change. The harness gives each binding's account its own
//! emulated Lambda.

mod support;

use std::collections::BTreeMap;

use esm_controller::api::{LambdaAccount, LambdaAccountSpec};
use esm_controller::controller::accounts::Accounts;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::json;
use support::{BINDING_ACCOUNTS, Harness, NS, sqs};

const TEAM_LABEL: (&str, &str) = ("tenant", "team");

fn binding(name: &str, account: &str, selects_team: bool, default: bool) -> LambdaAccount {
    let label = if selects_team { "team" } else { "someone-else" };
    let mut b = LambdaAccount::new(
        name,
        LambdaAccountSpec {
            role_arn: format!("arn:aws:iam::{account}:role/esm"),
            namespace_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(TEAM_LABEL.0.into(), label.into())])),
                ..Default::default()
            }),
            default,
            ..Default::default()
        },
    );
    b.metadata.name = Some(name.into());
    b
}

fn accounts(bindings: Vec<LambdaAccount>) -> Accounts {
    let labels = BTreeMap::from([(TEAM_LABEL.0.to_string(), TEAM_LABEL.1.to_string())]);
    Accounts::fixed(bindings, vec![(NS.to_string(), labels)], true)
}

#[tokio::test]
async fn a_default_binding_creates_in_its_account_and_a_crash_leaves_no_duplicate() {
    let [a, _] = BINDING_ACCOUNTS;
    let mut h = Harness::new();
    h.restart_with_bindings(accounts(vec![binding("team-a", a, true, true)]));
    h.apply(sqs(json!({})));
    h.crash_right_after_create().await;
    assert_eq!(
        h.account(a).mappings().len(),
        1,
        "the create reached account A"
    );
    // The marker names the account, so the restarted controller looks there.
    assert_eq!(h.status()["account"], "team-a");
    assert_eq!(h.status()["accountId"], a);
    h.restart_with_bindings(accounts(vec![binding("team-a", a, true, true)]));
    h.settle().await;
    assert_eq!(h.condition("Ready").0, "True", "{}", h.status());
    assert_eq!(
        h.account(a).mappings().len(),
        1,
        "no duplicate in account A"
    );
    assert!(
        h.mappings().is_empty(),
        "nothing in the controller's own account"
    );
    assert_eq!(
        h.status()["uuid"],
        h.account(a).mappings()[0]["UUID"],
        "the mapping it recovered"
    );
}

#[tokio::test]
async fn a_binding_that_does_not_select_the_namespace_builds_no_lane_and_costs_no_call() {
    let [a, b] = BINDING_ACCOUNTS;
    let mut h = Harness::new();
    h.restart_with_bindings(accounts(vec![
        binding("team-a", a, true, true),
        binding("not-yours", b, false, false),
    ]));
    h.apply(sqs(json!({"accountRef": "not-yours"})));
    for _ in 0..3 {
        h.reconcile().await.unwrap();
    }
    let (ready, reason) = h.condition("Ready");
    assert_eq!(
        (ready.as_str(), reason.as_str()),
        ("False", "AccountNotGranted")
    );
    assert!(
        h.port.connected.lock().unwrap().is_empty(),
        "a lane was built for a refused resource"
    );
    for model in [h.account(a), h.account(b), &h.model] {
        assert!(model.call_counts().values().all(|n| *n == 0));
    }
    assert!(h.status()["uuid"].is_null());
}

#[tokio::test]
async fn a_recorded_mapping_stays_in_its_account_when_a_default_binding_appears() {
    let [a, _] = BINDING_ACCOUNTS;
    let mut h = Harness::new();
    let uuid = h.apply_and_settle(sqs(json!({}))).await;
    assert!(h.status()["account"].is_null());
    // A cluster admin makes a default binding for the namespace afterwards.
    h.restart_with_bindings(accounts(vec![binding("team-a", a, true, true)]));
    h.apply(sqs(json!({"batchSize": 7})));
    h.settle().await;
    assert_eq!(h.condition("Ready").0, "True", "{}", h.status());
    assert_eq!(h.status()["uuid"], uuid.as_str());
    assert!(h.account(a).call_counts().values().all(|n| *n == 0));
    assert_eq!(h.mappings()[0]["BatchSize"], 7, "updated where it is");
}

#[tokio::test]
async fn two_defaults_for_one_namespace_stall_naming_both_without_a_call() {
    let [a, b] = BINDING_ACCOUNTS;
    let mut h = Harness::new();
    h.restart_with_bindings(accounts(vec![
        binding("first", a, true, true),
        binding("second", b, true, true),
    ]));
    h.apply(sqs(json!({})));
    h.reconcile().await.unwrap(); // the finalizer
    h.reconcile().await.unwrap();
    let status = h.status();
    let ready = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["reason"], "AccountConflict");
    let message = ready["message"].as_str().unwrap();
    assert!(message.contains("first and second"), "{message}");
    assert!(h.port.connected.lock().unwrap().is_empty());
}
