//! The leadership guard in front of Lambda: a replica that cannot show it still leads sends
//! nothing to Lambda, and says why in a classified error.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use esm_controller::controller::leader::Leadership;
use esm_controller::lambda::{
    Connect, ErrorKind, Guarding, LambdaPort, LaneKey, MappingFields, NOT_LEADER,
};
use esm_emulator::model::{Model, ModelConfig};
use support::{ModelPort, REGION};
use tokio::time::Instant;

fn port() -> (ModelPort, Model) {
    let model = Model::new(ModelConfig {
        rate_limit_per_second: None,
        ..ModelConfig::default()
    });
    model.seed_function("worker");
    let port = ModelPort {
        regions: Arc::new(BTreeMap::from([(REGION.to_string(), model.clone())])),
        accounts: Arc::default(),
        connected: Arc::default(),
    };
    (port, model)
}

fn create_request() -> MappingFields {
    serde_json::from_value(serde_json::json!({
        "FunctionName": "worker",
        "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:orders",
    }))
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn calls_reach_lambda_only_while_leadership_is_current() {
    let (port, model) = port();
    let leadership = Arc::new(Leadership::elected(Duration::from_secs(10)));
    let lambda = Guarding::new(port, leadership.clone()).connect(&LaneKey::region(REGION));

    // Not elected yet: refused, and Lambda never saw it.
    let err = lambda.create_mapping(&create_request()).await.unwrap_err();
    assert_eq!(
        (err.kind, err.code.as_str()),
        (ErrorKind::Retry, NOT_LEADER)
    );
    assert_eq!(err.operation, "CreateEventSourceMapping");
    assert!(model.call_counts().is_empty(), "{:?}", model.call_counts());

    // Renewed: calls go through.
    leadership.renewed(Instant::now());
    let created = lambda.create_mapping(&create_request()).await.unwrap();
    let uuid = created.uuid;

    // The renew deadline passed without a renewal (a frozen process wakes up like this):
    // refused at once, reads and writes alike.
    tokio::time::advance(Duration::from_secs(10)).await;
    let err = lambda.delete_mapping(&uuid).await.unwrap_err();
    assert_eq!(err.code, NOT_LEADER);
    let err = lambda.get_mapping(&uuid).await.unwrap_err();
    assert_eq!(err.code, NOT_LEADER);
    let counts = model.call_counts();
    assert_eq!(counts.get("CreateEventSourceMapping"), Some(&1));
    assert_eq!(counts.get("DeleteEventSourceMapping"), None);
    assert_eq!(counts.get("GetEventSourceMapping"), None);
    assert_eq!(model.mappings().len(), 1);
}
