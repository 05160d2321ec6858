//! The in-memory Lambda event source mapping model.
//!
//! Its API takes and returns Lambda's wire JSON, so the in-process face (controller tests) and
//! the HTTP face ([`crate::server`]) share every code path. Each API call is counted, then
//! passes the rate limiter and any injected [`Fault`], then runs against the [`World`].
//! Admin hooks (`seed_*`, `oob_*`, `inject_fault`, …) bypass counting, throttling and faults.

mod clock;
mod error;
mod fault;
mod function;
mod ratelimit;
pub(crate) mod rng;
mod source;
mod state;
mod validate;
mod wire;
mod world;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

pub(crate) use clock::Clock;
pub use clock::ManualClock;
pub use error::ApiError;
pub use fault::Fault;

use world::World;

/// The model's settings.
#[derive(Clone, Debug)]
pub struct ModelConfig {
    pub region: String,
    pub account: String,
    pub partition: String,
    /// Creating/Updating/Enabling/Disabling → stable.
    pub transition_delay: Duration,
    /// Deleting → gone.
    pub deleting_delay: Duration,
    /// One limit for all API operations together (Lambda: 15/s); `None` = unlimited.
    /// Measured on the model clock, so with a [`ManualClock`] tokens refill only when the
    /// test advances time.
    pub rate_limit_per_second: Option<u32>,
    /// List page size cap (Lambda: 100).
    pub page_size: usize,
    /// `true`: an `EventSourceArn` must have been seeded, else Create answers
    /// `InvalidParameterValueException` like Lambda does for a missing source.
    pub require_seeded_sources: bool,
    /// Filters per mapping (Lambda's default quota 5, raisable to 10).
    pub max_filters_per_mapping: usize,
    /// Seed for UUIDs and fault probabilities; `None` = from the time.
    pub rng_seed: Option<u64>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            partition: "aws".into(),
            transition_delay: Duration::from_secs(1),
            deleting_delay: Duration::from_secs(1),
            rate_limit_per_second: Some(15),
            page_size: 100,
            require_seeded_sources: false,
            max_filters_per_mapping: 5,
            rng_seed: None,
        }
    }
}

/// The Lambda operations the model serves, with their official names (used for call counts
/// and fault matching).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    CreateEventSourceMapping,
    GetEventSourceMapping,
    UpdateEventSourceMapping,
    DeleteEventSourceMapping,
    ListEventSourceMappings,
    TagResource,
    UntagResource,
    ListTags,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::CreateEventSourceMapping => "CreateEventSourceMapping",
            Operation::GetEventSourceMapping => "GetEventSourceMapping",
            Operation::UpdateEventSourceMapping => "UpdateEventSourceMapping",
            Operation::DeleteEventSourceMapping => "DeleteEventSourceMapping",
            Operation::ListEventSourceMappings => "ListEventSourceMappings",
            Operation::TagResource => "TagResource",
            Operation::UntagResource => "UntagResource",
            Operation::ListTags => "ListTags",
        }
    }
}

/// An API call's result plus the latency an injected fault asks for (used by the HTTP face).
pub(crate) struct Call<T> {
    pub result: Result<T, ApiError>,
    pub latency: Option<Duration>,
}

/// A handle on one emulated Lambda. Cheap to clone; all clones share the same state.
#[derive(Clone)]
pub struct Model {
    world: Arc<Mutex<World>>,
}

impl Model {
    /// A model on real time.
    pub fn new(config: ModelConfig) -> Model {
        Self::with_clock(config, Clock::real())
    }

    /// A model whose time only moves when the returned clock is advanced.
    pub fn with_manual_clock(config: ModelConfig) -> (Model, ManualClock) {
        let clock = ManualClock::new();
        (
            Self::with_clock(config, Clock::Manual(clock.clone())),
            clock,
        )
    }

    /// A model on an existing manual clock: one model per emulated region, all moved by one
    /// `advance`.
    pub fn with_shared_clock(config: ModelConfig, clock: &ManualClock) -> Model {
        Self::with_clock(config, Clock::Manual(clock.clone()))
    }

    /// The same Lambda in another account: the current configuration (delays, rate limit,
    /// quotas) with `account` in place of this model's, on the same clock, with nothing seeded
    /// and its own mappings, counts, faults and rate-limit bucket. The HTTP face keeps one per
    /// account that calls it.
    pub fn for_account(&self, account: &str) -> Model {
        let (mut config, clock) = {
            let world = self.world();
            (world.config.clone(), world.clock.clone())
        };
        // A seeded model stays deterministic, but no two accounts share a UUID sequence.
        config.rng_seed = config.rng_seed.map(|seed| seed ^ fnv1a(account.as_bytes()));
        config.account = account.to_owned();
        Self::with_clock(config, clock)
    }

    fn with_clock(config: ModelConfig, clock: Clock) -> Model {
        Model {
            world: Arc::new(Mutex::new(World::new(config, clock))),
        }
    }

    /// Locks the world and settles due transitions. A panic elsewhere while holding the lock
    /// must not make every later call panic, so poisoning is ignored.
    fn world(&self) -> MutexGuard<'_, World> {
        let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        world.settle();
        world
    }

    /// Runs one API operation through the gate (count → rate limit → faults).
    fn call<T>(&self, op: Operation, f: impl FnOnce(&mut World) -> Result<T, ApiError>) -> Call<T> {
        let mut world = self.world();
        let (admitted, latency) = world.admit(op.name());
        Call {
            result: admitted.and_then(|()| f(&mut world)),
            latency,
        }
    }

    // --- the Lambda API, with fault latency for the HTTP face --------------------------------

    pub(crate) fn create_call(&self, body: &Value) -> Call<Value> {
        self.call(Operation::CreateEventSourceMapping, |w| {
            let created = w.create(body)?;
            if w.lost_create_responses > 0 {
                // The mapping exists, but the caller never learns it: as if the response got
                // lost after Lambda committed the create.
                w.lost_create_responses -= 1;
                return Err(ApiError::service(
                    "An internal error occurred. The request may or may not have been processed.",
                ));
            }
            Ok(created)
        })
    }

    pub(crate) fn get_call(&self, uuid: &str) -> Call<Value> {
        self.call(Operation::GetEventSourceMapping, |w| w.get(uuid))
    }

    pub(crate) fn update_call(&self, uuid: &str, body: &Value) -> Call<Value> {
        self.call(Operation::UpdateEventSourceMapping, |w| {
            w.update(uuid, body)
        })
    }

    pub(crate) fn delete_call(&self, uuid: &str) -> Call<Value> {
        self.call(Operation::DeleteEventSourceMapping, |w| w.delete(uuid))
    }

    pub(crate) fn list_call(
        &self,
        event_source_arn: Option<&str>,
        function_name: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> Call<Value> {
        self.call(Operation::ListEventSourceMappings, |w| {
            w.list(event_source_arn, function_name, marker, max_items)
        })
    }

    pub(crate) fn tag_call(&self, arn: &str, tags: &BTreeMap<String, String>) -> Call<()> {
        self.call(Operation::TagResource, |w| w.tag_resource(arn, tags))
    }

    pub(crate) fn untag_call(&self, arn: &str, keys: &[String]) -> Call<()> {
        self.call(Operation::UntagResource, |w| w.untag_resource(arn, keys))
    }

    pub(crate) fn list_tags_call(&self, arn: &str) -> Call<BTreeMap<String, String>> {
        self.call(Operation::ListTags, |w| w.list_tags(arn))
    }

    // --- the Lambda API, in process (fault latency is ignored here) ---------------------------

    pub fn create_event_source_mapping(&self, body: &Value) -> Result<Value, ApiError> {
        self.create_call(body).result
    }

    pub fn get_event_source_mapping(&self, uuid: &str) -> Result<Value, ApiError> {
        self.get_call(uuid).result
    }

    pub fn update_event_source_mapping(&self, uuid: &str, body: &Value) -> Result<Value, ApiError> {
        self.update_call(uuid, body).result
    }

    pub fn delete_event_source_mapping(&self, uuid: &str) -> Result<Value, ApiError> {
        self.delete_call(uuid).result
    }

    /// `{"EventSourceMappings":[…],"NextMarker":"…"}` (NextMarker only when more pages follow).
    pub fn list_event_source_mappings(
        &self,
        event_source_arn: Option<&str>,
        function_name: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> Result<Value, ApiError> {
        self.list_call(event_source_arn, function_name, marker, max_items)
            .result
    }

    pub fn tag_resource(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
        self.tag_call(arn, tags).result
    }

    pub fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), ApiError> {
        self.untag_call(arn, keys).result
    }

    pub fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, ApiError> {
        self.list_tags_call(arn).result
    }

    // --- admin and test hooks (not counted, never throttled or faulted) ----------------------

    /// Makes a function exist. `"name:alias"` seeds the function and that alias. Versions
    /// (`$LATEST`, numbers) need no seeding.
    pub fn seed_function(&self, name: &str) {
        self.world().seed_function(name);
    }

    /// Makes an event source exist (only checked with `require_seeded_sources`).
    pub fn seed_event_source(&self, arn: &str) {
        self.world().seed_event_source(arn);
    }

    pub fn inject_fault(&self, fault: Fault) {
        self.world().faults.push(fault);
    }

    pub fn clear_faults(&self) {
        self.world().faults.clear();
    }

    /// The next `n` successful creates do create the mapping, but the caller gets a 500
    /// `ServiceException` instead of the response.
    pub fn lose_next_create_responses(&self, n: u32) {
        self.world().lost_create_responses += n;
    }

    /// An out-of-band edit (someone used the console): applies Update-shaped fields at once,
    /// in any state, without a transition, and bumps `LastModified`. `Enabled` sets the stable
    /// state directly. The response-only `State`, `StateTransitionReason` and
    /// `LastProcessingResult` may also be set verbatim.
    pub fn oob_update(&self, uuid: &str, patch: &Value) -> Result<(), ApiError> {
        self.world().oob_update(uuid, patch)
    }

    /// The mapping vanishes at once (no `Deleting` phase).
    pub fn oob_delete(&self, uuid: &str) -> Result<(), ApiError> {
        self.world().oob_delete(uuid)
    }

    /// Lambda switches the mapping off by itself: `State=Disabled` with the given reason.
    pub fn lambda_disable(&self, uuid: &str, reason: &str) -> Result<(), ApiError> {
        self.world().lambda_disable(uuid, reason)
    }

    /// Lambda loses (`Some((ErrorCode, Message))`, e.g. `KMSAccessDeniedException`) or regains
    /// (`None`) the use of the mapping's KMS key: while lost, Get and List report
    /// `FilterCriteriaError` in place of `FilterCriteria` (§6.2).
    pub fn set_filter_criteria_error(
        &self,
        uuid: &str,
        error: Option<(&str, &str)>,
    ) -> Result<(), ApiError> {
        self.world().set_filter_criteria_error(uuid, error)
    }

    /// Calls per operation name, including failed and throttled ones.
    pub fn call_counts(&self) -> BTreeMap<String, u64> {
        self.world().counts.clone()
    }

    /// Whether a mapping with this UUID exists (in any state), without counting a call.
    pub fn contains_mapping(&self, uuid: &str) -> bool {
        self.world().contains(uuid)
    }

    /// Every mapping as Get would show it now, in creation order.
    pub fn mappings(&self) -> Vec<Value> {
        self.world().snapshot()
    }

    /// Forgets mappings, tags, call counts, faults and lost-response debts; keeps the seeds
    /// and the configuration. The rate limiter starts full again.
    pub fn reset(&self) {
        self.world().reset();
    }

    pub fn set_transition_delays(&self, transition: Duration, deleting: Duration) {
        let mut world = self.world();
        world.config.transition_delay = transition;
        world.config.deleting_delay = deleting;
    }

    /// Changes the rate limit (and refills the bucket); `None` = unlimited.
    pub fn set_rate_limit(&self, per_second: Option<u32>) {
        self.world().set_rate_limit(per_second);
    }

    /// The current configuration.
    pub fn config(&self) -> ModelConfig {
        self.world().config.clone()
    }

    /// The model's clock, so that what lives beside it (STS sessions) ages with it.
    pub(crate) fn clock(&self) -> Clock {
        self.world().clock.clone()
    }

    /// `arn:<partition>:lambda:<region>:<account>:event-source-mapping:<uuid>`.
    pub fn event_source_mapping_arn(&self, uuid: &str) -> String {
        self.world().esm_arn(uuid)
    }
}

/// FNV-1a: a stable 64-bit hash (std's `DefaultHasher` may change between releases).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").finish_non_exhaustive()
    }
}
