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
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::accounts::Accounts;
use crate::model::{ApiError, Call, Fault, Model};
use crate::sts::{self, AuthError, Role, Signer, Sts};

/// Settings of the HTTP face beyond the model's.
#[derive(Clone, Debug)]
pub struct Options {
    /// The shortest `DurationSeconds` STS accepts. Real STS: 900
    /// ([`sts::MIN_DURATION_SECONDS`]); lower it so that a test can make a client refresh its
    /// assumed-role credentials within seconds.
    pub sts_min_duration_seconds: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sts_min_duration_seconds: sts::MIN_DURATION_SECONDS,
        }
    }
}

/// Runs the emulator on `listener` until `shutdown` completes. `model` serves the default
/// account (its `account`); other accounts get their own models on first use.
pub async fn serve(
    model: Model,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(model, Options::default(), listener, shutdown).await
}

/// [`serve`] with [`Options`].
pub async fn serve_with(
    model: Model,
    options: Options,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router_with(model, options))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The full router (Lambda API + STS + admin API), for embedding or `tower` tests.
pub fn router(model: Model) -> Router {
    router_with(model, Options::default())
}

/// What every handler shares: the accounts, STS and the request log.
#[derive(Clone)]
struct App {
    accounts: Arc<Accounts>,
    sts: Arc<Sts>,
    requests: Requests,
}

/// [`router`] with [`Options`].
pub fn router_with(model: Model, options: Options) -> Router {
    const ESM: &str = "/2015-03-31/event-source-mappings";
    let config = model.config();
    let app = App {
        sts: Arc::new(Sts::new(
            model.clock(),
            &config.account,
            &config.partition,
            options.sts_min_duration_seconds,
        )),
        accounts: Arc::new(Accounts::new(model)),
        requests: Requests::default(),
    };
    Router::new()
        // STS's Query protocol: the SDKs POST a form to the endpoint's root.
        .route("/", post(sts_action).get(sts_action))
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
        .route("/_emulator/roles", post(admin_put_role).get(admin_roles))
        .route("/_emulator/access-keys", post(admin_put_access_key))
        .route("/_emulator/sessions", get(admin_sessions))
        .route("/_emulator/sessions/expire", post(admin_expire_sessions))
        .route("/_emulator/sts", post(admin_sts))
        .fallback(unknown_operation)
        .layer(middleware::from_fn_with_state(app.clone(), front_door))
        .with_state(app)
}

/// What an STS answer tells the request log.
#[derive(Clone)]
struct StsNote {
    action: String,
    account: Option<String>,
}

/// Every request passes here. A Lambda request is served from its caller's account: the
/// account's model goes into the request's extensions for the handler, and credentials STS
/// refuses (an expired session, an unknown temporary key) are answered here, before the call
/// is counted, as Lambda's front door would. Logs one line per request on stderr (method,
/// path, status, account; never bodies, which may hold secrets such as source-access URIs or
/// issued credentials) and keeps the Lambda requests for `GET /_emulator/requests`.
async fn front_door(State(app): State<App>, mut request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    if path.starts_with("/_emulator/") {
        let response = next.run(request).await;
        tracing::info!("{method} {path} {}", response.status().as_u16());
        return response;
    }
    if path == "/" {
        let response = next.run(request).await;
        let note = response.extensions().get::<StsNote>().cloned();
        let status = response.status().as_u16();
        match note {
            Some(note) => tracing::info!(
                "{method} {path} {status} sts:{} account={}",
                note.action,
                note.account.as_deref().unwrap_or("-")
            ),
            None => tracing::info!("{method} {path} {status}"),
        }
        return response;
    }
    // Numbered on arrival, so that the order is the order Lambda would have seen them in.
    let seq = app.requests.next.fetch_add(1, Ordering::SeqCst);
    let caller = access_key_id(request.headers());
    let account = match &caller {
        // Unsigned requests (curl, scripts) are served from the default account.
        None => Ok(app.accounts.default_account().to_owned()),
        Some(key) => app
            .sts
            .resolve(key, session_token(request.headers()))
            .map(|identity| identity.account),
    };
    let (account, response) = match account {
        Ok(account) => {
            request
                .extensions_mut()
                .insert(app.accounts.model(&account));
            (Some(account), next.run(request).await)
        }
        Err(error) => (None, error_response(&lambda_auth_error(error))),
    };
    let status = response.status().as_u16();
    tracing::info!(
        "{method} {path} {status} account={}",
        account.as_deref().unwrap_or("-")
    );
    app.requests.push(LoggedRequest {
        seq,
        method: method.to_string(),
        path,
        caller,
        account,
        status,
    });
    response
}

/// How Lambda refuses credentials that STS no longer (or never) vouches for.
fn lambda_auth_error(error: AuthError) -> ApiError {
    match error {
        AuthError::Expired => ApiError::new(
            403,
            "ExpiredTokenException",
            "The security token included in the request is expired",
        ),
        AuthError::Invalid => ApiError::new(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
    }
}

/// The access key id of a SigV4-signed request (`Authorization: AWS4-HMAC-SHA256
/// Credential=<key id>/<date>/<region>/<service>/aws4_request, …`): who sent it. The key id
/// names a credential without being a secret; the signature is never kept.
fn access_key_id(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    let key = credential.split('/').next()?;
    (!key.is_empty()).then(|| key.to_string())
}

/// The `X-Amz-Security-Token` that session credentials sign with (compared, never logged).
fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-amz-security-token")?.to_str().ok()
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
    /// The account that served it; `null` if the credentials were refused.
    account: Option<String>,
    status: u16,
}

// ---------------------------------------------------------------------------------------------
// Response helpers.

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(1);

/// A unique request id per response (UUID-shaped, like AWS's).
fn request_id_string() -> String {
    let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// A unique `x-amzn-RequestId` per response.
fn request_id() -> HeaderValue {
    HeaderValue::from_str(&request_id_string()).expect("ascii header")
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

async fn create_mapping(Extension(model): Extension<Model>, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(response) => return response,
    };
    respond(model.create_call(&body), |v| {
        json_response(StatusCode::ACCEPTED, &v)
    })
    .await
}

async fn get_mapping(Extension(model): Extension<Model>, Path(uuid): Path<String>) -> Response {
    respond(model.get_call(&uuid), |v| json_response(StatusCode::OK, &v)).await
}

async fn update_mapping(
    Extension(model): Extension<Model>,
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

async fn delete_mapping(Extension(model): Extension<Model>, Path(uuid): Path<String>) -> Response {
    respond(model.delete_call(&uuid), |v| {
        json_response(StatusCode::ACCEPTED, &v)
    })
    .await
}

async fn list_mappings(Extension(model): Extension<Model>, RawQuery(query): RawQuery) -> Response {
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
    Extension(model): Extension<Model>,
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
    Extension(model): Extension<Model>,
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

async fn list_tags(Extension(model): Extension<Model>, Path(arn): Path<String>) -> Response {
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

async fn admin_reset(State(app): State<App>) -> Response {
    for (_, model) in app.accounts.all() {
        model.reset();
    }
    app.sts.reset_counts();
    app.requests
        .kept
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    empty_response(StatusCode::NO_CONTENT)
}

/// The model of the account an admin body names (`"account": "111111111111"`), the default
/// account's if it names none.
#[allow(clippy::result_large_err)]
fn admin_model(app: &App, account: Option<&str>) -> Result<Model, Response> {
    match account {
        None => Ok(app.accounts.model(app.accounts.default_account())),
        Some(a) if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(app.accounts.model(a))
        }
        Some(a) => Err(error_response(&ApiError::invalid_parameter(format!(
            "Invalid admin request: account must be 12 digits, not '{a}'"
        )))),
    }
}

#[derive(Deserialize)]
struct SeedFunction {
    name: String,
    account: Option<String>,
}

async fn admin_seed_function(State(app): State<App>, body: Bytes) -> Response {
    let seed = match admin_body::<SeedFunction>(&body) {
        Ok(seed) => seed,
        Err(response) => return response,
    };
    match admin_model(&app, seed.account.as_deref()) {
        Ok(model) => {
            model.seed_function(&seed.name);
            empty_response(StatusCode::NO_CONTENT)
        }
        Err(response) => response,
    }
}

#[derive(Deserialize)]
struct SeedEventSource {
    arn: String,
    account: Option<String>,
}

async fn admin_seed_event_source(State(app): State<App>, body: Bytes) -> Response {
    let seed = match admin_body::<SeedEventSource>(&body) {
        Ok(seed) => seed,
        Err(response) => return response,
    };
    match admin_model(&app, seed.account.as_deref()) {
        Ok(model) => {
            model.seed_event_source(&seed.arn);
            empty_response(StatusCode::NO_CONTENT)
        }
        Err(response) => response,
    }
}

/// `{"operation":"CreateEventSourceMapping","status":500,"code":"ServiceException",
/// "message":"..","remaining":1,"probability":1.0,"latencyMs":0,"retryAfterSeconds":null,
/// "account":null}`
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
    account: Option<String>,
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

async fn admin_inject_fault(State(app): State<App>, body: Bytes) -> Response {
    let fault = match admin_body::<FaultBody>(&body) {
        Ok(f) => f,
        Err(response) => return response,
    };
    let model = match admin_model(&app, fault.account.as_deref()) {
        Ok(model) => model,
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

/// Clears the faults of every account.
async fn admin_clear_faults(State(app): State<App>) -> Response {
    for (_, model) in app.accounts.all() {
        model.clear_faults();
    }
    empty_response(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct LoseCreates {
    count: u32,
    account: Option<String>,
}

async fn admin_lose_create_responses(State(app): State<App>, body: Bytes) -> Response {
    let lose = match admin_body::<LoseCreates>(&body) {
        Ok(l) => l,
        Err(response) => return response,
    };
    match admin_model(&app, lose.account.as_deref()) {
        Ok(model) => {
            model.lose_next_create_responses(lose.count);
            empty_response(StatusCode::NO_CONTENT)
        }
        Err(response) => response,
    }
}

/// Every account's mappings (the default account's first), or `?account=` one account's.
async fn admin_mappings(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    let query = parse_query(query.as_deref());
    let models: Vec<Model> = match query_value(&query, "account") {
        Some(account) => app.accounts.existing(account).into_iter().collect(),
        None => app.accounts.all().into_iter().map(|(_, m)| m).collect(),
    };
    let mappings: Vec<Value> = models.iter().flat_map(Model::mappings).collect();
    json_response(StatusCode::OK, &Value::Array(mappings))
}

fn no_such_mapping() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"message": "no such mapping"}),
    )
}

/// One mapping as Get would show it, without counting as an API call (for benchmarks).
async fn admin_mapping(State(app): State<App>, Path(uuid): Path<String>) -> Response {
    let found = app.accounts.owner_of(&uuid).and_then(|model| {
        model
            .mappings()
            .into_iter()
            .find(|m| m["UUID"] == uuid.as_str())
    });
    match found {
        Some(mapping) => json_response(StatusCode::OK, &mapping),
        None => no_such_mapping(),
    }
}

/// Runs an admin hook on the account that holds the mapping; 404 if none does.
fn on_owner(app: &App, uuid: &str, hook: impl FnOnce(&Model) -> Result<(), ApiError>) -> Response {
    match app.accounts.owner_of(uuid) {
        Some(model) => admin_result(hook(&model)),
        None => error_response(&ApiError::mapping_not_found()),
    }
}

async fn admin_oob_delete(State(app): State<App>, Path(uuid): Path<String>) -> Response {
    on_owner(&app, &uuid, |model| model.oob_delete(&uuid))
}

async fn admin_oob_update(
    State(app): State<App>,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Response {
    match parse_body(&body) {
        Ok(patch) => on_owner(&app, &uuid, |model| model.oob_update(&uuid, &patch)),
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
    State(app): State<App>,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Response {
    match admin_body::<LambdaDisable>(&body) {
        Ok(d) => on_owner(&app, &uuid, |model| model.lambda_disable(&uuid, &d.reason)),
        Err(response) => response,
    }
}

/// Calls per operation name. Plain: the totals of every account, STS actions included.
/// `?account=A`: that account's Lambda calls and the STS calls its callers made.
/// `?by=account`: `{"<account>": {…}, …}`.
async fn admin_calls(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    let query = parse_query(query.as_deref());
    let mut by_account: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for (account, model) in app.accounts.all() {
        let counts = model.call_counts();
        for (op, n) in &counts {
            *totals.entry(op.clone()).or_default() += n;
        }
        by_account.insert(account, counts);
    }
    for ((account, action), n) in app.sts.counts() {
        *totals.entry(action.clone()).or_default() += n;
        if let Some(account) = account {
            *by_account
                .entry(account)
                .or_default()
                .entry(action)
                .or_default() += n;
        }
    }
    let body = if let Some(account) = query_value(&query, "account") {
        json!(by_account.remove(account).unwrap_or_default())
    } else if query_value(&query, "by") == Some("account") {
        json!(by_account)
    } else {
        json!(totals)
    };
    json_response(StatusCode::OK, &body)
}

async fn admin_requests(State(app): State<App>) -> Response {
    let kept = app.requests.kept.lock().unwrap_or_else(|e| e.into_inner());
    json_response(StatusCode::OK, &json!(*kept))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delays {
    transition_ms: Option<u64>,
    deleting_ms: Option<u64>,
}

/// Changes the delays of every account (accounts made later copy the default account's).
async fn admin_delays(State(app): State<App>, body: Bytes) -> Response {
    let delays = match admin_body::<Delays>(&body) {
        Ok(d) => d,
        Err(response) => return response,
    };
    for (_, model) in app.accounts.all() {
        let current = model.config();
        model.set_transition_delays(
            delays
                .transition_ms
                .map_or(current.transition_delay, Duration::from_millis),
            delays
                .deleting_ms
                .map_or(current.deleting_delay, Duration::from_millis),
        );
    }
    empty_response(StatusCode::NO_CONTENT)
}

/// `{"perSecond": 15}`; 0 or null = unlimited.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RateLimit {
    per_second: Option<u32>,
}

/// Sets the rate of every account's own bucket (and refills them).
async fn admin_rate_limit(State(app): State<App>, body: Bytes) -> Response {
    match admin_body::<RateLimit>(&body) {
        Ok(r) => {
            for (_, model) in app.accounts.all() {
                model.set_rate_limit(r.per_second.filter(|n| *n > 0));
            }
            empty_response(StatusCode::NO_CONTENT)
        }
        Err(response) => response,
    }
}

// ---------------------------------------------------------------------------------------------
// STS and its admin API.

/// One STS request (Query protocol): parameters from the form body and the query string.
async fn sts_action(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut params = parse_query(query.as_deref());
    params.extend(parse_query(Some(&String::from_utf8_lossy(&body))));
    let key = access_key_id(&headers);
    let signer = key.as_deref().map(|access_key_id| Signer {
        access_key_id,
        session_token: session_token(&headers),
    });
    let request_id = request_id_string();
    let reply = app.sts.handle(&params, signer, &request_id);
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, reply.body).into_response();
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        out.insert("x-amzn-RequestId", id);
    }
    response.extensions_mut().insert(StsNote {
        action: reply.action,
        account: reply.account,
    });
    response
}

/// `{"roleArn":"arn:aws:iam::111111111111:role/r","trust":["…"],"externalId":"…",
/// "maxSessionDurationSeconds":3600}`
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleBody {
    role_arn: String,
    #[serde(default)]
    trust: Vec<String>,
    external_id: Option<String>,
    max_session_duration_seconds: Option<u32>,
}

async fn admin_put_role(State(app): State<App>, body: Bytes) -> Response {
    let body = match admin_body::<RoleBody>(&body) {
        Ok(b) => b,
        Err(response) => return response,
    };
    match Role::new(
        &body.role_arn,
        body.trust,
        body.external_id,
        body.max_session_duration_seconds,
    ) {
        Ok(role) => {
            app.sts.put_role(role);
            empty_response(StatusCode::NO_CONTENT)
        }
        Err(message) => error_response(&ApiError::invalid_parameter(format!(
            "Invalid admin request: {message}"
        ))),
    }
}

async fn admin_roles(State(app): State<App>) -> Response {
    json_response(StatusCode::OK, &Value::Array(app.sts.roles()))
}

/// `{"accessKeyId":"AKIA…","account":"222222222222","userName":"alice"}`
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessKeyBody {
    access_key_id: String,
    account: String,
    user_name: Option<String>,
}

async fn admin_put_access_key(State(app): State<App>, body: Bytes) -> Response {
    let body = match admin_body::<AccessKeyBody>(&body) {
        Ok(b) => b,
        Err(response) => return response,
    };
    if let Err(response) = admin_model(&app, Some(&body.account)) {
        return response;
    }
    if body.access_key_id.is_empty() || body.access_key_id.starts_with("ASIA") {
        return error_response(&ApiError::invalid_parameter(
            "Invalid admin request: a base access key id must not be empty or start with ASIA",
        ));
    }
    app.sts.put_key(
        &body.access_key_id,
        &body.account,
        body.user_name.as_deref(),
    );
    empty_response(StatusCode::NO_CONTENT)
}

async fn admin_sessions(State(app): State<App>) -> Response {
    json_response(StatusCode::OK, &Value::Array(app.sts.sessions()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExpireBody {
    access_key_id: Option<String>,
}

/// Expires one session (`{"accessKeyId":"ASIA…"}`) or all (`{}`) now: `{"expired": n}`.
async fn admin_expire_sessions(State(app): State<App>, body: Bytes) -> Response {
    match admin_body::<ExpireBody>(&body) {
        Ok(b) => {
            let n = app.sts.expire_sessions(b.access_key_id.as_deref());
            json_response(StatusCode::OK, &json!({ "expired": n }))
        }
        Err(response) => response,
    }
}

/// `{"minDurationSeconds": 1}`
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StsSettings {
    min_duration_seconds: Option<u32>,
}

async fn admin_sts(State(app): State<App>, body: Bytes) -> Response {
    match admin_body::<StsSettings>(&body) {
        Ok(settings) => {
            if let Some(seconds) = settings.min_duration_seconds {
                app.sts.set_min_duration_seconds(seconds);
            }
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
