//! The HTTP face: the model on Lambda's REST-JSON wire protocol (as `aws-sdk-lambda` 1.156 and
//! boto3 speak it), plus an admin API under `/_emulator/`.
//!
//! Errors follow Lambda: the HTTP status, an `x-amzn-errortype: <Code>` header and a JSON body
//! `{"Type":"User"|"Service","message":"…"}`; throttling adds `Retry-After` and
//! `retryAfterSeconds`.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::model::{ApiError, Call, Fault, Model};

/// Runs the emulator on `listener` until `shutdown` completes.
pub async fn serve(
    model: Model,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(model))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The full router (Lambda API + admin API), for embedding or `tower` tests.
pub fn router(model: Model) -> Router {
    const ESM: &str = "/2015-03-31/event-source-mappings";
    let requests = Requests::default();
    Router::new()
        // The SDK sends no trailing slash; other clients may.
        .route(ESM, post(create_mapping).get(list_mappings))
        .route(&format!("{ESM}/"), post(create_mapping).get(list_mappings))
        .route(
            &format!("{ESM}/{{uuid}}"),
            get(get_mapping).put(update_mapping).delete(delete_mapping),
        )
        .route(
            "/2017-03-31/tags/{*arn}",
            post(tag_resource).delete(untag_resource).get(list_tags),
        )
        .route("/_emulator/reset", post(admin_reset))
        .route("/_emulator/functions", post(admin_seed_function))
        .route("/_emulator/event-sources", post(admin_seed_event_source))
        .route(
            "/_emulator/faults",
            post(admin_inject_fault).delete(admin_clear_faults),
        )
        .route(
            "/_emulator/lose-create-responses",
            post(admin_lose_create_responses),
        )
        .route("/_emulator/mappings", get(admin_mappings))
        .route(
            "/_emulator/mappings/{uuid}",
            get(admin_mapping).delete(admin_oob_delete),
        )
        .route(
            "/_emulator/mappings/{uuid}/oob-update",
            post(admin_oob_update),
        )
        .route(
            "/_emulator/mappings/{uuid}/lambda-disable",
            post(admin_lambda_disable),
        )
        .route("/_emulator/calls", get(admin_calls))
        .route("/_emulator/requests", get(admin_requests))
        .route("/_emulator/delays", post(admin_delays))
        .route("/_emulator/rate-limit", post(admin_rate_limit))
        .fallback(unknown_operation)
        .layer(middleware::from_fn(log_request))
        // Outside the logging layer, so that the log finds it in the request's extensions.
        .layer(Extension(requests))
        .with_state(model)
}

/// One line per request on stderr: method, path, status. Never bodies (they may hold secrets
/// such as source-access URIs). Lambda requests are also kept for `GET /_emulator/requests`.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let requests = request.extensions().get::<Requests>().cloned();
    // Numbered on arrival, so that the order is the order Lambda would have seen them in.
    let lambda = !path.starts_with("/_emulator/");
    let seq = requests
        .as_ref()
        .filter(|_| lambda)
        .map(|r| r.next.fetch_add(1, Ordering::SeqCst));
    let caller = access_key_id(&request);
    let response = next.run(request).await;
    let status = response.status().as_u16();
    tracing::info!("{method} {path} {status}");
    if let (Some(requests), Some(seq)) = (requests, seq) {
        requests.push(LoggedRequest {
            seq,
            method: method.to_string(),
            path,
            caller,
            status,
        });
    }
    response
}

/// The access key id of a SigV4-signed request (`Authorization: AWS4-HMAC-SHA256
/// Credential=<key id>/<date>/<region>/<service>/aws4_request, …`): who sent it. The key id
/// names a credential without being a secret; the signature is never kept.
fn access_key_id(request: &Request) -> Option<String> {
    let auth = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    let key = credential.split('/').next()?;
    (!key.is_empty()).then(|| key.to_string())
}

/// How many Lambda requests `GET /_emulator/requests` remembers (the oldest are dropped).
const REQUESTS_KEPT: usize = 100_000;

/// The Lambda requests received, in arrival order (admin requests are not kept).
#[derive(Clone, Default)]
struct Requests {
    next: Arc<AtomicU64>,
    kept: Arc<Mutex<VecDeque<LoggedRequest>>>,
}

impl Requests {
    fn push(&self, request: LoggedRequest) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() == REQUESTS_KEPT {
            kept.pop_front();
        }
        // Requests finish out of order; keep the list in arrival order.
        let at = kept.partition_point(|r| r.seq < request.seq);
        kept.insert(at, request);
    }
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct LoggedRequest {
    /// Arrival order (numbers are never reused, not even after a reset).
    seq: u64,
    method: String,
    path: String,
    /// The SigV4 access key id, `null` for an unsigned request.
    caller: Option<String>,
    status: u16,
}

// ---------------------------------------------------------------------------------------------
// Response helpers.

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(1);

/// A unique `x-amzn-RequestId` per response (UUID-shaped, like Lambda's).
fn request_id() -> HeaderValue {
    let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    HeaderValue::from_str(&format!("00000000-0000-4000-8000-{n:012x}")).expect("ascii header")
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("x-amzn-RequestId", request_id());
    response
}

fn empty_response(status: StatusCode) -> Response {
    let mut response = status.into_response();
    response
        .headers_mut()
        .insert("x-amzn-RequestId", request_id());
    response
}

/// Lambda's error wire format.
pub(crate) fn error_response(error: &ApiError) -> Response {
    let mut body = json!({ "Type": error.error_type(), "message": error.message });
    if let Some(seconds) = error.retry_after_seconds {
        body["retryAfterSeconds"] = json!(seconds.to_string());
        body["Reason"] = json!("CallerRateLimitExceeded");
    }
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, &body);
    let headers = response.headers_mut();
    if let Ok(code) = HeaderValue::from_str(&error.code) {
        headers.insert("x-amzn-errortype", code);
    }
    if let Some(seconds) = error.retry_after_seconds {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Waits out any injected latency, then answers with `ok` or Lambda's error format.
async fn respond<T>(call: Call<T>, ok: impl FnOnce(T) -> Response) -> Response {
    if let Some(latency) = call.latency {
        tokio::time::sleep(latency).await;
    }
    match call.result {
        Ok(value) => ok(value),
        Err(error) => error_response(&error),
    }
}

/// Parses a JSON request body; an empty body counts as `{}`.
#[allow(clippy::result_large_err)]
fn parse_body(body: &Bytes) -> Result<Value, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| {
        error_response(&ApiError::new(
            400,
            "InvalidRequestContentException",
            format!("Could not parse request body into json: {e}"),
        ))
    })
}

/// Decodes `application/x-www-form-urlencoded`-style query strings, keeping repeated keys.
fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_value<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

// ---------------------------------------------------------------------------------------------
// The Lambda API.

async fn create_mapping(State(model): State<Model>, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(response) => return response,
    };
    respond(model.create_call(&body), |v| {
        json_response(StatusCode::ACCEPTED, &v)
    })
    .await
}

async fn get_mapping(State(model): State<Model>, Path(uuid): Path<String>) -> Response {
    respond(model.get_call(&uuid), |v| json_response(StatusCode::OK, &v)).await
}

async fn update_mapping(
    State(model): State<Model>,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(response) => return response,
    };
    respond(model.update_call(&uuid, &body), |v| {
        json_response(StatusCode::ACCEPTED, &v)
    })
    .await
}

async fn delete_mapping(State(model): State<Model>, Path(uuid): Path<String>) -> Response {
    respond(model.delete_call(&uuid), |v| {
        json_response(StatusCode::ACCEPTED, &v)
    })
    .await
}

async fn list_mappings(State(model): State<Model>, RawQuery(query): RawQuery) -> Response {
    let query = parse_query(query.as_deref());
    let max_items = match query_value(&query, "MaxItems").map(str::parse::<i32>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            return error_response(&ApiError::invalid_parameter(
                "Invalid MaxItems: the value must be an integer.",
            ));
        }
    };
    let call = model.list_call(
        query_value(&query, "EventSourceArn"),
        query_value(&query, "FunctionName"),
        query_value(&query, "Marker"),
        max_items,
    );
    respond(call, |v| json_response(StatusCode::OK, &v)).await
}

#[derive(Deserialize)]
struct TagBody {
    #[serde(rename = "Tags", default)]
    tags: BTreeMap<String, String>,
}

async fn tag_resource(
    State(model): State<Model>,
    Path(arn): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(response) => return response,
    };
    let tags = match serde_json::from_value::<TagBody>(body) {
        Ok(t) => t.tags,
        Err(e) => {
            return error_response(&ApiError::invalid_parameter(format!("Invalid Tags: {e}")));
        }
    };
    respond(model.tag_call(&arn, &tags), |()| {
        empty_response(StatusCode::NO_CONTENT)
    })
    .await
}

async fn untag_resource(
    State(model): State<Model>,
    Path(arn): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let keys: Vec<String> = parse_query(query.as_deref())
        .into_iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v)
        .collect();
    respond(model.untag_call(&arn, &keys), |()| {
        empty_response(StatusCode::NO_CONTENT)
    })
    .await
}

async fn list_tags(State(model): State<Model>, Path(arn): Path<String>) -> Response {
    respond(model.list_tags_call(&arn), |tags| {
        json_response(StatusCode::OK, &json!({ "Tags": tags }))
    })
    .await
}

async fn unknown_operation() -> Response {
    error_response(&ApiError::new(
        404,
        "UnknownOperationException",
        "Unknown operation.",
    ))
}

// ---------------------------------------------------------------------------------------------
// The admin API.

/// Parses an admin body into `T`, answering 400 on malformed input.
#[allow(clippy::result_large_err)]
fn admin_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Response> {
    let value = parse_body(body)?;
    serde_json::from_value(value).map_err(|e| {
        error_response(&ApiError::invalid_parameter(format!(
            "Invalid admin request: {e}"
        )))
    })
}

fn admin_result(result: Result<(), ApiError>) -> Response {
    match result {
        Ok(()) => empty_response(StatusCode::NO_CONTENT),
        Err(e) => error_response(&e),
    }
}

async fn admin_reset(
    State(model): State<Model>,
    Extension(requests): Extension<Requests>,
) -> Response {
    model.reset();
    requests
        .kept
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    empty_response(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct SeedFunction {
    name: String,
}

async fn admin_seed_function(State(model): State<Model>, body: Bytes) -> Response {
    match admin_body::<SeedFunction>(&body) {
        Ok(seed) => {
            model.seed_function(&seed.name);
            empty_response(StatusCode::NO_CONTENT)
        }
        Err(response) => response,
    }
}

#[derive(Deserialize)]
struct SeedEventSource {
    arn: String,
}

async fn admin_seed_event_source(State(model): State<Model>, body: Bytes) -> Response {
    match admin_body::<SeedEventSource>(&body) {
        Ok(seed) => {
            model.seed_event_source(&seed.arn);
            empty_response(StatusCode::NO_CONTENT)
        }
        Err(response) => response,
    }
}

/// `{"operation":"CreateEventSourceMapping","status":500,"code":"ServiceException",
/// "message":"..","remaining":1,"probability":1.0,"latencyMs":0,"retryAfterSeconds":null}`
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FaultBody {
    operation: Option<String>,
    #[serde(default = "default_fault_status")]
    status: u16,
    #[serde(default = "default_fault_code")]
    code: String,
    #[serde(default)]
    message: String,
    remaining: Option<u32>,
    #[serde(default = "default_probability")]
    probability: f64,
    latency_ms: Option<u64>,
    retry_after_seconds: Option<u64>,
}

fn default_fault_status() -> u16 {
    500
}

fn default_fault_code() -> String {
    "ServiceException".into()
}

fn default_probability() -> f64 {
    1.0
}

async fn admin_inject_fault(State(model): State<Model>, body: Bytes) -> Response {
    let fault = match admin_body::<FaultBody>(&body) {
        Ok(f) => f,
        Err(response) => return response,
    };
    let message = if fault.message.is_empty() {
        format!("Injected fault: {}", fault.code)
    } else {
        fault.message
    };
    model.inject_fault(Fault {
        operation: fault.operation,
        error: ApiError {
            status: fault.status,
            code: fault.code,
            message,
            retry_after_seconds: fault.retry_after_seconds,
        },
        remaining: fault.remaining,
        probability: fault.probability,
        latency: fault
            .latency_ms
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis),
    });
    empty_response(StatusCode::NO_CONTENT)
}

async fn admin_clear_faults(State(model): State<Model>) -> Response {
    model.clear_faults();
    empty_response(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct LoseCreates {
    count: u32,
}

async fn admin_lose_create_responses(State(model): State<Model>, body: Bytes) -> Response {
    match admin_body::<LoseCreates>(&body) {
        Ok(l) => {
            model.lose_next_create_responses(l.count);
            empty_response(StatusCode::NO_CONTENT)
        }
        Err(response) => response,
    }
}

async fn admin_mappings(State(model): State<Model>) -> Response {
    json_response(StatusCode::OK, &Value::Array(model.mappings()))
}

/// One mapping as Get would show it, without counting as an API call (for benchmarks).
async fn admin_mapping(State(model): State<Model>, Path(uuid): Path<String>) -> Response {
    match model
        .mappings()
        .into_iter()
        .find(|m| m["UUID"] == uuid.as_str())
    {
        Some(mapping) => json_response(StatusCode::OK, &mapping),
        None => json_response(
            StatusCode::NOT_FOUND,
            &json!({"message": "no such mapping"}),
        ),
    }
}

async fn admin_oob_delete(State(model): State<Model>, Path(uuid): Path<String>) -> Response {
    admin_result(model.oob_delete(&uuid))
}

async fn admin_oob_update(
    State(model): State<Model>,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Response {
    match parse_body(&body) {
        Ok(patch) => admin_result(model.oob_update(&uuid, &patch)),
        Err(response) => response,
    }
}

#[derive(Deserialize)]
struct LambdaDisable {
    #[serde(default = "default_disable_reason")]
    reason: String,
}

fn default_disable_reason() -> String {
    "PROBLEM: Lambda initiated the disabling of this event source mapping.".into()
}

async fn admin_lambda_disable(
    State(model): State<Model>,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Response {
    match admin_body::<LambdaDisable>(&body) {
        Ok(d) => admin_result(model.lambda_disable(&uuid, &d.reason)),
        Err(response) => response,
    }
}

async fn admin_calls(State(model): State<Model>) -> Response {
    json_response(StatusCode::OK, &json!(model.call_counts()))
}

async fn admin_requests(Extension(requests): Extension<Requests>) -> Response {
    let kept = requests.kept.lock().unwrap_or_else(|e| e.into_inner());
    json_response(StatusCode::OK, &json!(*kept))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delays {
    transition_ms: Option<u64>,
    deleting_ms: Option<u64>,
}

async fn admin_delays(State(model): State<Model>, body: Bytes) -> Response {
    let delays = match admin_body::<Delays>(&body) {
        Ok(d) => d,
        Err(response) => return response,
    };
    let current = model.config();
    model.set_transition_delays(
        delays
            .transition_ms
            .map_or(current.transition_delay, Duration::from_millis),
        delays
            .deleting_ms
            .map_or(current.deleting_delay, Duration::from_millis),
    );
    empty_response(StatusCode::NO_CONTENT)
}

/// `{"perSecond": 15}`; 0 or null = unlimited.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RateLimit {
    per_second: Option<u32>,
}

async fn admin_rate_limit(State(model): State<Model>, body: Bytes) -> Response {
    match admin_body::<RateLimit>(&body) {
        Ok(r) => {
            model.set_rate_limit(r.per_second.filter(|n| *n > 0));
            empty_response(StatusCode::NO_CONTENT)
        }
        Err(response) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding_keeps_repeated_keys() {
        let q = parse_query(Some("tagKeys=a&tagKeys=b%20c&x=1+2&Marker=m%3D%3D"));
        assert_eq!(
            q,
            vec![
                ("tagKeys".into(), "a".into()),
                ("tagKeys".into(), "b c".into()),
                ("x".into(), "1 2".into()),
                ("Marker".into(), "m==".into()),
            ]
        );
        assert_eq!(percent_decode("arn%3Aaws%3Alambda"), "arn:aws:lambda");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
