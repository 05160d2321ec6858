//! Shared fixtures for the integration tests.
#![allow(dead_code)]

use esm_emulator::model::{ApiError, ManualClock, Model, ModelConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const ACCOUNT: &str = "123456789012";
pub const SQS: &str = "arn:aws:sqs:us-east-1:123456789012:orders";
pub const SQS2: &str = "arn:aws:sqs:us-east-1:123456789012:payments";
pub const FIFO: &str = "arn:aws:sqs:us-east-1:123456789012:orders.fifo";
pub const KINESIS: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks";
pub const DDB: &str =
    "arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2024-01-01T00:00:00.000";
pub const MSK: &str =
    "arn:aws:kafka:us-east-1:123456789012:cluster/prod/0b1c2d3e-1111-2222-3333-444455556666-1";
pub const MQ: &str =
    "arn:aws:mq:us-east-1:123456789012:broker:rabbit:b-0b1c2d3e-1111-2222-3333-444455556666";
pub const DOCDB: &str = "arn:aws:rds:us-east-1:123456789012:cluster:docdb-prod";
pub const FN_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:worker";

/// A model on a manual clock, without a rate limit, with functions `worker`, `worker:live`
/// and `other` seeded.
pub fn model() -> (Model, ManualClock) {
    model_with(ModelConfig {
        rate_limit_per_second: None,
        rng_seed: Some(42),
        ..ModelConfig::default()
    })
}

pub fn model_with(config: ModelConfig) -> (Model, ManualClock) {
    let (model, clock) = Model::with_manual_clock(config);
    model.seed_function("worker");
    model.seed_function("worker:live");
    model.seed_function("other");
    (model, clock)
}

/// Creates a mapping and returns the response; panics on error.
pub fn create(model: &Model, body: Value) -> Value {
    model
        .create_event_source_mapping(&body)
        .unwrap_or_else(|e| panic!("create failed: {e}"))
}

/// Creates a mapping and returns the error; panics on success.
pub fn create_err(model: &Model, body: Value) -> ApiError {
    match model.create_event_source_mapping(&body) {
        Ok(v) => panic!("create unexpectedly succeeded: {v}"),
        Err(e) => e,
    }
}

pub fn update_err(model: &Model, uuid: &str, body: Value) -> ApiError {
    match model.update_event_source_mapping(uuid, &body) {
        Ok(v) => panic!("update unexpectedly succeeded: {v}"),
        Err(e) => e,
    }
}

pub fn uuid(v: &Value) -> String {
    v["UUID"].as_str().expect("UUID").to_owned()
}

pub fn sqs_body() -> Value {
    json!({"FunctionName": "worker", "EventSourceArn": SQS})
}

pub fn kinesis_body() -> Value {
    json!({"FunctionName": "worker", "EventSourceArn": KINESIS, "StartingPosition": "LATEST"})
}

pub fn msk_body() -> Value {
    json!({"FunctionName": "worker", "EventSourceArn": MSK, "Topics": ["orders"], "StartingPosition": "TRIM_HORIZON"})
}

pub fn smk_body() -> Value {
    json!({
        "FunctionName": "worker",
        "SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["b2.example.com:9092", "b1.example.com:9092"]}},
        "Topics": ["orders"],
        "StartingPosition": "LATEST"
    })
}

pub fn mq_body() -> Value {
    json!({
        "FunctionName": "worker",
        "EventSourceArn": MQ,
        "Queues": ["jobs"],
        "SourceAccessConfigurations": [
            {"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:123456789012:secret:mq"},
            {"Type": "VIRTUAL_HOST", "URI": "/prod"}
        ]
    })
}

pub fn docdb_body() -> Value {
    json!({
        "FunctionName": "worker",
        "EventSourceArn": DOCDB,
        "StartingPosition": "LATEST",
        "DocumentDBEventSourceConfig": {"DatabaseName": "shop"}
    })
}

pub fn assert_invalid(err: &ApiError, needle: &str) {
    assert_eq!(err.status, 400, "{err}");
    assert_eq!(err.code, "InvalidParameterValueException", "{err}");
    assert!(
        err.message.contains(needle),
        "message {:?} should mention {needle:?}",
        err.message
    );
}

/// A minimal HTTP/1.1 client for checks the SDK hides (headers, admin API, odd paths).
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// A JSON request (admin API, unsigned Lambda calls).
pub async fn raw(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> RawResponse {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    raw_with(
        addr,
        method,
        path,
        &[("Content-Type", "application/json")],
        &body,
    )
    .await
}

/// A request with the given headers and body.
pub async fn raw_with(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}
