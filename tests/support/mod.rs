//! Test doubles for reconciler tests: the emulator's in-memory Lambda model behind our port
//! trait, and a small Kubernetes API double (a tower service) that stores our resources,
//! applies the finalizer JSON patches and status applies, and records Events.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use esm_controller::api::EventSourceMapping;
use esm_controller::controller::accounts::Accounts;
use esm_controller::controller::{Context, Settings, SweepSettings};
use esm_controller::lambda::{
    Connect, LambdaError, LambdaPort, LaneKey, ListFilter, MappingFields, MappingPage,
    ObservedMapping, Op, classify, is_throttle_code,
};
use esm_emulator::model::{ApiError, ManualClock, Model, ModelConfig};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use kube::client::Body;
use serde_json::{Value, json};

// ---------- Lambda: the emulator model behind the port ----------

/// The region the harness's controller defaults to, and [`Harness::model`]'s.
pub const REGION: &str = "us-east-1";
/// A second emulated region, for resources whose region is not the default.
pub const OTHER_REGION: &str = "eu-west-1";

/// Connects each lane to the emulated Lambda of its region (or of its binding's account).
#[derive(Clone)]
pub struct ModelPort {
    /// One model per emulated region: a call sees only its own region's mappings, as in AWS.
    pub regions: Arc<BTreeMap<String, Model>>,
    /// One model per account of a binding's role (in [`REGION`]).
    pub accounts: Arc<BTreeMap<String, Model>>,
    /// The lanes connected so far (a refused tenant must get none).
    pub connected: Arc<Mutex<Vec<LaneKey>>>,
}

impl ModelPort {
    pub fn at(&self, region: &str) -> &Model {
        self.regions.get(region).unwrap_or_else(|| {
            panic!(
                "a call went to {region}, which the harness does not model ({:?})",
                self.regions.keys().collect::<Vec<_>>()
            )
        })
    }
}

impl Connect for ModelPort {
    type Port = ModelLane;

    fn connect(&self, lane: &LaneKey) -> ModelLane {
        self.connected.lock().unwrap().push(lane.clone());
        match &lane.account {
            None => ModelLane(self.at(&lane.region).clone()),
            Some(role) => ModelLane(
                self.accounts
                    .get(role.account_id())
                    .unwrap_or_else(|| panic!("no model of account {}", role.account_id()))
                    .clone(),
            ),
        }
    }
}

/// One lane's Lambda: the emulated region's model.
pub struct ModelLane(pub Model);

fn to_lambda_error(operation: Op, e: ApiError) -> LambdaError {
    LambdaError {
        kind: classify(operation, &e.code, Some(e.status)),
        throttled: is_throttle_code(&e.code) || e.status == 429,
        operation,
        code: e.code,
        message: e.message,
        retry_after: e.retry_after_seconds.map(Duration::from_secs),
    }
}

fn mapping(operation: Op, v: Result<Value, ApiError>) -> Result<ObservedMapping, LambdaError> {
    let v = v.map_err(|e| to_lambda_error(operation, e))?;
    Ok(serde_json::from_value(v).expect("the model returns Lambda's mapping shape"))
}

impl LambdaPort for ModelLane {
    async fn create_mapping(
        &self,
        request: &MappingFields,
    ) -> Result<ObservedMapping, LambdaError> {
        let body = serde_json::to_value(request).unwrap();
        mapping(Op::Create, self.0.create_event_source_mapping(&body))
    }
    async fn get_mapping(&self, uuid: &str) -> Result<ObservedMapping, LambdaError> {
        mapping(Op::Get, self.0.get_event_source_mapping(uuid))
    }
    async fn update_mapping(
        &self,
        uuid: &str,
        patch: &MappingFields,
    ) -> Result<ObservedMapping, LambdaError> {
        let body = serde_json::to_value(patch).unwrap();
        mapping(Op::Update, self.0.update_event_source_mapping(uuid, &body))
    }
    async fn delete_mapping(&self, uuid: &str) -> Result<ObservedMapping, LambdaError> {
        mapping(Op::Delete, self.0.delete_event_source_mapping(uuid))
    }
    async fn list_mappings(
        &self,
        filter: &ListFilter,
        marker: Option<&str>,
    ) -> Result<MappingPage, LambdaError> {
        let op = Op::List;
        let v = self
            .0
            .list_event_source_mappings(
                filter.event_source_arn.as_deref(),
                filter.function_name.as_deref(),
                marker,
                Some(100),
            )
            .map_err(|e| to_lambda_error(op, e))?;
        Ok(MappingPage {
            mappings: serde_json::from_value(v["EventSourceMappings"].clone()).unwrap(),
            next_marker: v["NextMarker"].as_str().map(str::to_string),
        })
    }
    async fn tag_resource(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), LambdaError> {
        self.0
            .tag_resource(arn, tags)
            .map_err(|e| to_lambda_error(Op::Tag, e))
    }
    async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), LambdaError> {
        self.0
            .untag_resource(arn, keys)
            .map_err(|e| to_lambda_error(Op::Untag, e))
    }
    async fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, LambdaError> {
        self.0
            .list_tags(arn)
            .map_err(|e| to_lambda_error(Op::ListTags, e))
    }
}

// ---------- Kubernetes: an API double ----------

#[derive(Default)]
pub struct KubeState {
    /// Resources by name (one namespace).
    pub objects: BTreeMap<String, Value>,
    pub events: Vec<Value>,
    /// Every status body applied, in order.
    pub status_writes: Vec<Value>,
    /// Every request, in order, as the API server's metrics would count it: "GET orders",
    /// "PATCH orders" (a JSON patch), "APPLY orders/status", "POST events".
    pub requests: Vec<String>,
    /// Fail the next status apply whose body contains this text (simulates a crash or an API
    /// outage at exactly that write).
    pub fail_status_write_containing: Option<String>,
    resource_version: u64,
}

#[derive(Clone, Default)]
pub struct KubeDouble {
    pub state: Arc<Mutex<KubeState>>,
}

pub const NS: &str = "team";
/// The accounts whose roles the harness's bindings may name, each with its own Lambda.
pub const BINDING_ACCOUNTS: [&str; 2] = ["111111111111", "222222222222"];

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap()
}

fn status_error(code: u16, reason: &str, message: &str) -> Response<Body> {
    json_response(
        StatusCode::from_u16(code).unwrap(),
        &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message, "code": code}),
    )
}

/// Applies an RFC 6902 JSON patch (the subset kube's finalizer helper uses).
fn json_patch(doc: &mut Value, ops: &[Value]) -> Result<(), String> {
    for op in ops {
        let path = op["path"].as_str().ok_or("path")?;
        let (parent, last) = path.rsplit_once('/').ok_or("path")?;
        match op["op"].as_str().ok_or("op")? {
            "test" => {
                let have = doc.pointer(path).cloned().unwrap_or(Value::Null);
                if have != op["value"] {
                    return Err(format!("test failed at {path}"));
                }
            }
            "add" | "replace" => {
                let target = doc.pointer_mut(parent).ok_or("no parent")?;
                match target {
                    Value::Array(a) if last == "-" => a.push(op["value"].clone()),
                    Value::Array(a) => a.insert(
                        last.parse::<usize>().map_err(|e| e.to_string())?,
                        op["value"].clone(),
                    ),
                    Value::Object(o) => {
                        o.insert(last.to_string(), op["value"].clone());
                    }
                    _ => return Err("bad parent".into()),
                }
            }
            "remove" => match doc.pointer_mut(parent).ok_or("no parent")? {
                Value::Array(a) => {
                    a.remove(last.parse::<usize>().map_err(|e| e.to_string())?);
                }
                Value::Object(o) => {
                    o.remove(last);
                }
                _ => return Err("bad parent".into()),
            },
            other => return Err(format!("unsupported op {other}")),
        }
    }
    Ok(())
}

impl KubeDouble {
    pub fn client(&self) -> kube::Client {
        let double = self.clone();
        let service = tower::service_fn(move |req: Request<Body>| {
            let double = double.clone();
            async move { Ok::<_, std::convert::Infallible>(double.handle(req).await) }
        });
        kube::Client::new(service, NS)
    }

    async fn handle(&self, req: Request<Body>) -> Response<Body> {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let verb = match req.headers().get("content-type").map(|v| v.as_bytes()) {
            Some(b"application/apply-patch+yaml") => "APPLY".to_string(),
            _ => method.to_string(),
        };
        let body: Bytes = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let mut st = self.state.lock().unwrap();
        let what = path
            .rsplit_once("/eventsourcemappings/")
            .map(|(_, rest)| rest)
            .or_else(|| path.contains("/events").then_some("events"))
            .unwrap_or(&path);
        st.requests.push(format!("{verb} {what}"));
        if path.starts_with("/apis/events.k8s.io/")
            || path.starts_with("/api/v1/namespaces/") && path.contains("/events")
        {
            st.events.push(body.clone());
            return json_response(StatusCode::CREATED, &body);
        }
        let prefix = format!(
            "/apis/lambda.esm-controller.dev/v1alpha1/namespaces/{NS}/eventsourcemappings/"
        );
        let Some(rest) = path.strip_prefix(&prefix) else {
            return status_error(404, "NotFound", &format!("unexpected path {path}"));
        };
        let (name, sub) = match rest.split_once('/') {
            Some((n, s)) => (n.to_string(), Some(s.to_string())),
            None => (rest.to_string(), None),
        };
        st.resource_version += 1;
        let rv = st.resource_version.to_string();
        if !st.objects.contains_key(&name) {
            return status_error(
                404,
                "NotFound",
                &format!("eventsourcemappings {name} not found"),
            );
        }
        match (method.as_str(), sub.as_deref()) {
            ("GET", None) => json_response(StatusCode::OK, &st.objects[&name]),
            ("PATCH", Some("status")) => {
                let text = body.to_string();
                if let Some(needle) = st.fail_status_write_containing.clone()
                    && text.contains(&needle)
                {
                    st.fail_status_write_containing = None;
                    return status_error(503, "ServiceUnavailable", "injected failure");
                }
                st.status_writes.push(body["status"].clone());
                let obj = st.objects.get_mut(&name).unwrap();
                obj["status"] = body["status"].clone();
                obj["metadata"]["resourceVersion"] = json!(rv);
                json_response(StatusCode::OK, obj)
            }
            ("PATCH", None) => {
                let obj = st.objects.get_mut(&name).unwrap();
                if let Err(e) = json_patch(obj, body.as_array().map(Vec::as_slice).unwrap_or(&[])) {
                    return status_error(422, "Invalid", &e);
                }
                obj["metadata"]["resourceVersion"] = json!(rv);
                let out = obj.clone();
                // Like the API server: a deleted object goes once its finalizers are gone.
                let finalizers_left = out["metadata"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty());
                if out["metadata"]["deletionTimestamp"].is_string() && !finalizers_left {
                    st.objects.remove(&name);
                }
                json_response(StatusCode::OK, &out)
            }
            _ => status_error(405, "MethodNotAllowed", &format!("{method} {path}")),
        }
    }
}

// ---------- The harness ----------

pub const FUNCTION: &str = "handler";
pub const SQS: &str = "arn:aws:sqs:us-east-1:123456789012:orders";
pub const KINESIS: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks";

/// An SQS spec for the harness's function, with extra fields merged in.
pub fn sqs(extra: Value) -> Value {
    let mut spec = json!({"eventSourceARN": SQS, "functionName": FUNCTION});
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    spec
}

pub struct Harness {
    /// The default region's ([`REGION`]) Lambda.
    pub model: Model,
    /// Every emulated region's Lambda, as the controller reaches them.
    pub port: ModelPort,
    pub clock: ManualClock,
    pub kube: KubeDouble,
    pub ctx: Arc<Context<ModelPort>>,
    generation: i64,
    /// UID given to the object the next time it is created.
    pub uid: String,
}

impl Harness {
    /// Observes through the shared List sweep; tests run the sweeps by hand ([`Self::sweep`]).
    pub fn list_mode() -> Self {
        Self::list_mode_sweeping_every(Duration::ZERO, Duration::ZERO)
    }

    /// List mode whose sweeper, once started, runs on its own at these intervals (a zero
    /// interval starts none).
    pub fn list_mode_sweeping_every(interval: Duration, busy_interval: Duration) -> Self {
        let h = Self::new();
        let ctx = Context::new(h.kube.client(), h.port.clone(), h.ctx.settings.clone())
            .with_sweeps(SweepSettings {
                interval,
                busy_interval,
                pages_per_second: None,
            });
        Self {
            ctx: Arc::new(ctx),
            ..h
        }
    }

    /// Adds the finalizer, then creates the mapping but fails the status write that would record
    /// its UUID: as if the controller died right after Create.
    pub async fn crash_right_after_create(&mut self) {
        self.reconcile().await.unwrap(); // finalizer
        self.kube.state.lock().unwrap().fail_status_write_containing = Some("\"uuid\"".into());
        assert!(self.reconcile().await.is_err());
    }

    /// A new controller process (fresh memory) against the same Lambda and API server, as after
    /// a crash and restart.
    pub fn restart_controller(&mut self) {
        self.restart_with(self.ctx.settings.clone());
    }

    /// A restart with another default region (`--region`, `AWS_REGION`), as when an operator
    /// changes the flag while resources exist.
    pub fn restart_with_default_region(&mut self, region: &str) {
        let mut settings = self.ctx.settings.clone();
        settings.default_region = Some(region.to_string());
        self.restart_with(settings);
    }

    /// A restart in list mode whose sweeper, once started, runs on its own at these intervals.
    pub fn restart_sweeping_every(&mut self, interval: Duration, busy_interval: Duration) {
        let ctx = Context::new(
            self.kube.client(),
            self.port.clone(),
            self.ctx.settings.clone(),
        )
        .with_sweeps(SweepSettings {
            interval,
            busy_interval,
            pages_per_second: None,
        });
        self.ctx = Arc::new(ctx);
    }

    fn restart_with(&mut self, settings: Settings) {
        self.restart_with_accounts(settings, Accounts::default());
    }

    /// A restart whose resources resolve their account with these bindings.
    pub fn restart_with_bindings(&mut self, accounts: Accounts) {
        self.restart_with_accounts(self.ctx.settings.clone(), accounts);
    }

    fn restart_with_accounts(&mut self, settings: Settings, accounts: Accounts) {
        let mut ctx =
            Context::new(self.kube.client(), self.port.clone(), settings).with_accounts(accounts);
        if let Some(sweeps) = self.ctx.lanes.sweeps() {
            ctx = ctx.with_sweeps(sweeps);
        }
        self.ctx = Arc::new(ctx);
    }

    /// The Lambda of a binding's account.
    pub fn account(&self, account: &str) -> &Model {
        &self.port.accounts[account]
    }

    /// One complete List sweep of every emulated region into the cache (list mode); returns how
    /// many resources it triggered.
    pub async fn sweep(&self) -> usize {
        let mut triggered = 0;
        for region in self.port.regions.keys() {
            let lane = self
                .ctx
                .lane(&esm_controller::lambda::LaneKey::region(region));
            let cache = lane.cache.as_ref().expect("list mode");
            triggered += esm_controller::controller::sweep::sweep_once(&lane.lambda, cache)
                .await
                .unwrap();
        }
        triggered
    }

    /// Whether the harness runs in list mode.
    pub fn list_mode_on(&self) -> bool {
        self.ctx.lanes.sweeps().is_some()
    }

    pub fn new() -> Self {
        let config = |region: &str| ModelConfig {
            region: region.into(),
            transition_delay: Duration::from_secs(1),
            deleting_delay: Duration::from_secs(1),
            rate_limit_per_second: None,
            ..ModelConfig::default()
        };
        let (model, clock) = Model::with_manual_clock(config(REGION));
        let other = Model::with_shared_clock(config(OTHER_REGION), &clock);
        // The function exists in both regions, so a Create sent to the wrong one would succeed
        // and show up as a duplicate instead of failing quietly.
        model.seed_function(FUNCTION);
        other.seed_function(FUNCTION);
        let accounts = BINDING_ACCOUNTS.map(|account| {
            let model = Model::with_shared_clock(
                ModelConfig {
                    account: account.into(),
                    ..config(REGION)
                },
                &clock,
            );
            model.seed_function(FUNCTION);
            (account.to_string(), model)
        });
        let port = ModelPort {
            regions: Arc::new(BTreeMap::from([
                (REGION.to_string(), model.clone()),
                (OTHER_REGION.to_string(), other),
            ])),
            accounts: Arc::new(BTreeMap::from(accounts)),
            connected: Arc::default(),
        };
        let kube = KubeDouble::default();
        let settings = Settings {
            cluster_name: "test".into(),
            default_region: Some(REGION.into()),
            ..Settings::default()
        };
        let ctx = Arc::new(Context::new(kube.client(), port.clone(), settings));
        Self {
            model,
            port,
            clock,
            kube,
            ctx,
            generation: 0,
            uid: "uid-orders-1".into(),
        }
    }

    /// Creates or replaces the resource `orders` with this spec (a new generation).
    pub fn apply(&mut self, spec: Value) {
        self.apply_with(spec, json!({}));
    }

    /// Applies the spec, lets the controller settle, and returns the UUID status recorded.
    pub async fn apply_and_settle(&mut self, spec: Value) -> String {
        self.apply(spec);
        self.settle().await;
        self.status()["uuid"]
            .as_str()
            .expect("a settled resource records its mapping's UUID")
            .to_string()
    }

    /// Deletes the resource (deletionPolicy Delete) and follows the delete through: the first
    /// pass sends one Delete and keeps the finalizer while Lambda is Deleting; later passes
    /// release it once the mapping is gone.
    pub async fn delete_through_lambda(&self) {
        self.mark_deleted();
        let err = self.reconcile().await.unwrap_err();
        assert_eq!(err.category(), "deleting");
        assert_eq!(self.calls("DeleteEventSourceMapping"), 1);
        assert!(
            self.object().is_some(),
            "the finalizer holds while Lambda deletes the mapping"
        );
        self.finish_deletion().await;
    }

    pub fn apply_with(&mut self, spec: Value, annotations: Value) {
        self.generation += 1;
        let mut st = self.kube.state.lock().unwrap();
        let existing = st.objects.get("orders").cloned();
        let mut obj = existing.unwrap_or_else(|| {
            json!({
                "apiVersion": "lambda.esm-controller.dev/v1alpha1",
                "kind": "EventSourceMapping",
                "metadata": {"name": "orders", "namespace": NS, "uid": self.uid, "resourceVersion": "1"},
            })
        });
        obj["spec"] = spec;
        obj["metadata"]["generation"] = json!(self.generation);
        obj["metadata"]["annotations"] = annotations;
        st.objects.insert("orders".into(), obj);
    }

    pub fn object(&self) -> Option<EventSourceMapping> {
        let st = self.kube.state.lock().unwrap();
        st.objects
            .get("orders")
            .map(|o| serde_json::from_value(o.clone()).unwrap())
    }

    pub fn status(&self) -> Value {
        self.kube.state.lock().unwrap().objects["orders"]["status"].clone()
    }

    /// A condition's status and reason; ("Absent", "") when the controller did not write it
    /// (Reconciling and Stalled appear only while True).
    pub fn condition(&self, type_: &str) -> (String, String) {
        let status = self.status();
        let Some(c) = status["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == type_).cloned())
        else {
            return ("Absent".into(), String::new());
        };
        (
            c["status"].as_str().unwrap().to_string(),
            c["reason"].as_str().unwrap().to_string(),
        )
    }

    /// The Ready condition's message.
    pub fn ready_message(&self) -> String {
        self.status()["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
            .and_then(|c| c["message"].as_str())
            .unwrap_or_default()
            .to_string()
    }

    pub fn event_reasons(&self) -> Vec<String> {
        self.kube
            .state
            .lock()
            .unwrap()
            .events
            .iter()
            .map(|e| e["reason"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// Calls of `op` in the default region ([`REGION`]).
    pub fn calls(&self, op: &str) -> u64 {
        self.calls_in(REGION, op)
    }

    pub fn calls_in(&self, region: &str, op: &str) -> u64 {
        self.port
            .at(region)
            .call_counts()
            .get(op)
            .copied()
            .unwrap_or(0)
    }

    /// Every call that reached the region, of any operation.
    pub fn all_calls_in(&self, region: &str) -> u64 {
        self.port.at(region).call_counts().values().sum()
    }

    pub fn write_calls(&self) -> u64 {
        [
            "CreateEventSourceMapping",
            "UpdateEventSourceMapping",
            "DeleteEventSourceMapping",
            "TagResource",
            "UntagResource",
        ]
        .iter()
        .map(|op| self.calls(op))
        .sum()
    }

    /// What the controller's metadata watch shows of the current object.
    pub fn watched(&self) -> Arc<esm_controller::controller::StoredMapping> {
        let obj = self.object().expect("object exists");
        Arc::new(esm_controller::controller::StoredMapping::of(&obj.metadata))
    }

    /// One reconcile as the controller runs it on a watch event or a trigger: from what the
    /// watch shows, getting the object itself as it does.
    pub async fn reconcile_watched(
        &self,
    ) -> Result<kube::runtime::controller::Action, esm_controller::controller::Error> {
        esm_controller::controller::reconcile_stored(self.watched(), self.ctx.clone()).await
    }

    /// The API server requests made since the last call.
    pub fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut self.kube.state.lock().unwrap().requests)
    }

    /// One reconcile of the current object, as kube-runtime would run it.
    pub async fn reconcile(
        &self,
    ) -> Result<kube::runtime::controller::Action, esm_controller::controller::Error> {
        let obj = self.object().expect("object exists");
        esm_controller::controller::reconcile(Arc::new(obj), self.ctx.clone()).await
    }

    /// One reconcile of a given (possibly stale) copy of the object, as a lagging watch cache
    /// would hand it over.
    pub async fn reconcile_with(
        &self,
        obj: EventSourceMapping,
    ) -> Result<kube::runtime::controller::Action, esm_controller::controller::Error> {
        esm_controller::controller::reconcile(Arc::new(obj), self.ctx.clone()).await
    }

    /// Reconciles, letting Lambda's transitions finish between passes, until Ready=True (or
    /// the pass limit).
    pub async fn settle(&self) {
        for _ in 0..12 {
            let _ = self.reconcile().await;
            if self.list_mode_on() {
                self.sweep().await;
            }
            if self.status().get("conditions").is_some() && self.condition("Ready").0 == "True" {
                return;
            }
            self.clock.advance(Duration::from_secs(2));
        }
        panic!("did not become Ready: {}", self.status());
    }

    pub fn mark_deleted(&self) {
        let mut st = self.kube.state.lock().unwrap();
        let obj = st.objects.get_mut("orders").unwrap();
        obj["metadata"]["deletionTimestamp"] = json!("2026-11-21T12:00:00Z");
    }

    /// Reconciles a deleted object until the API double has removed it.
    pub async fn finish_deletion(&self) -> usize {
        for pass in 1..=12 {
            if self.object().is_none() {
                return pass - 1;
            }
            let _ = self.reconcile().await;
            if self.list_mode_on() {
                self.sweep().await;
            }
            self.clock.advance(Duration::from_secs(2));
        }
        panic!("finalizer was never released: {:?}", self.object());
    }

    /// The mappings in the default region ([`REGION`]).
    pub fn mappings(&self) -> Vec<Value> {
        self.model.mappings()
    }

    pub fn mappings_in(&self, region: &str) -> Vec<Value> {
        self.port.at(region).mappings()
    }
}
