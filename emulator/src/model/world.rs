//! The model's state and the implementation of every operation. [`super::Model`] wraps one
//! [`World`] in a mutex and adds call counting, throttling and faults around it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde_json::{Map, Value};

use super::ModelConfig;
use super::clock::Clock;
use super::error::{ApiError, ApiResult};
use super::fault::Fault;
use super::function::{Home, parse_function_name};
use super::ratelimit::TokenBucket;
use super::rng::Rng;
use super::source::{SourceKind, classify_event_source_arn, parse_arn};
use super::state::{EsmState, Outcome, Pending};
use super::validate::{
    self, Mode, check_fields_apply, check_merged, is_kafka_queue_mode, parse_request,
};
use super::wire::{self, View};

/// `StateTransitionReason` for every change a caller makes.
pub(crate) const USER_INITIATED: &str = "USER_INITIATED";
/// `LastProcessingResult` of a mapping that never polled anything.
const NO_RECORDS_PROCESSED: &str = "No records processed";
/// Lambda's quotas for provisioned-mode poller groups (R12).
const MAX_MAPPINGS_PER_POLLER_GROUP: usize = 100;
const MAX_POLLERS_PER_GROUP: i64 = 2000;

/// One event source mapping.
#[derive(Clone, Debug)]
pub(crate) struct Mapping {
    /// Creation order: List pages and markers follow it.
    pub seq: u64,
    pub uuid: String,
    pub kind: SourceKind,
    pub function_arn: String,
    /// Configurable fields as Get echoes them (wire names).
    pub config: Map<String, Value>,
    pub state: EsmState,
    pub state_reason: String,
    pub last_modified_ms: u64,
    pub last_processing_result: String,
    /// Lambda could not decrypt the filter criteria with the mapping's KMS key (§6.2):
    /// `(ErrorCode, Message)`, reported as `FilterCriteriaError` in place of the filters.
    pub filter_criteria_error: Option<(String, String)>,
    pub pending: Option<Pending>,
    pub tags: BTreeMap<String, String>,
}

impl Mapping {
    /// What makes two mappings duplicates (§5.2): the event source, the function ARN including
    /// its qualifier, and for Kafka the topic.
    fn identity(&self) -> (String, &str, Option<&str>) {
        (
            source_identity(&self.config),
            &self.function_arn,
            topic(&self.config),
        )
    }
}

/// The event source part of the duplicate key: the ARN, or the sorted broker list for SMK.
fn source_identity(config: &Map<String, Value>) -> String {
    if let Some(arn) = config.get("EventSourceArn").and_then(Value::as_str) {
        return arn.to_owned();
    }
    config
        .get("SelfManagedEventSource")
        .and_then(|s| s.pointer("/Endpoints/KAFKA_BOOTSTRAP_SERVERS"))
        .and_then(Value::as_array)
        .map(|brokers| {
            brokers
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn topic(config: &Map<String, Value>) -> Option<&str> {
    config.get("Topics")?.get(0)?.as_str()
}

/// The message Lambda gives for a duplicate Create, per source type (§5.2).
fn duplicate_message(
    kind: SourceKind,
    source: &str,
    function_arn: &str,
    topic: Option<&str>,
    uuid: &str,
) -> String {
    let tail = format!("Please update or delete the existing mapping with UUID {uuid}");
    match kind {
        SourceKind::Sqs | SourceKind::SqsFifo => format!(
            "An event source mapping with SQS arn (\" {source} \") and function (\" {function_arn} \") already exists. {tail}"
        ),
        SourceKind::Kinesis | SourceKind::DynamoDbStreams => format!(
            "The event source arn (\" {source} \") and function (\" {function_arn} \") provided mapping already exists. {tail}"
        ),
        SourceKind::Msk | SourceKind::SelfManagedKafka => format!(
            "An event source mapping with event source (\" {source} \"), function (\" {function_arn} \") and topics (\" {} \") already exists. {tail}",
            topic.unwrap_or_default()
        ),
        SourceKind::Mq | SourceKind::DocumentDb => format!(
            "An event source mapping with event source arn (\" {source} \") and function (\" {function_arn} \") already exists. {tail}"
        ),
    }
}

/// List markers are opaque to callers; inside they name the creation sequence of the last item.
const MARKER_PREFIX: &str = "esm-marker-v1-";

fn encode_marker(seq: u64) -> String {
    format!("{MARKER_PREFIX}{seq:016x}")
}

fn decode_marker(marker: &str) -> ApiResult<u64> {
    marker
        .strip_prefix(MARKER_PREFIX)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .ok_or_else(|| ApiError::invalid_parameter(format!("Invalid Marker: '{marker}'.")))
}

/// The UUID in a Get/Update/Delete path: exactly 36 characters (model rule since 2026-06).
fn check_uuid(uuid: &str) -> ApiResult<()> {
    if uuid.chars().count() == 36 {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{uuid}' at 'UUID' failed to satisfy \
             constraint: Member must have length 36"
        )))
    }
}

fn busy(action: &str, state: EsmState) -> ApiError {
    ApiError::in_use(format!(
        "Cannot {action} the event source mapping because it is in use. The event source \
         mapping is currently in the {} state.",
        state.as_str()
    ))
}

pub(crate) struct World {
    pub config: ModelConfig,
    pub clock: Clock,
    functions: BTreeSet<String>,
    aliases: BTreeSet<(String, String)>,
    event_sources: BTreeSet<String>,
    /// By creation sequence, so iteration order is creation order.
    mappings: BTreeMap<u64, Mapping>,
    by_uuid: HashMap<String, u64>,
    next_seq: u64,
    /// Earliest `Pending::due` of any mapping: lets `settle` skip the scan most of the time.
    earliest_due: Option<Duration>,
    pub counts: BTreeMap<String, u64>,
    pub faults: Vec<Fault>,
    pub lost_create_responses: u32,
    bucket: TokenBucket,
    rng: Rng,
}

impl World {
    pub(crate) fn new(config: ModelConfig, clock: Clock) -> Self {
        let now = clock.elapsed();
        World {
            bucket: TokenBucket::new(config.rate_limit_per_second, now),
            rng: Rng::new(config.rng_seed),
            config,
            clock,
            functions: BTreeSet::new(),
            aliases: BTreeSet::new(),
            event_sources: BTreeSet::new(),
            mappings: BTreeMap::new(),
            by_uuid: HashMap::new(),
            next_seq: 1,
            earliest_due: None,
            counts: BTreeMap::new(),
            faults: Vec::new(),
            lost_create_responses: 0,
        }
    }

    fn now(&self) -> Duration {
        self.clock.elapsed()
    }

    fn now_millis(&self) -> u64 {
        self.clock.epoch_millis_at(self.now())
    }

    fn home(&self) -> Home<'_> {
        Home {
            partition: &self.config.partition,
            region: &self.config.region,
            account: &self.config.account,
        }
    }

    pub(crate) fn esm_arn(&self, uuid: &str) -> String {
        format!(
            "arn:{}:lambda:{}:{}:event-source-mapping:{uuid}",
            self.config.partition, self.config.region, self.config.account
        )
    }

    fn render(&self, m: &Mapping, view: View) -> Value {
        wire::render(m, self.esm_arn(&m.uuid), view)
    }

    // -----------------------------------------------------------------------------------------
    // Clock-driven state changes.

    /// Applies every scheduled transition that is due.
    pub(crate) fn settle(&mut self) {
        let now = self.now();
        if self.earliest_due.is_none_or(|due| due > now) {
            return;
        }
        let mut vanished = Vec::new();
        let mut earliest: Option<Duration> = None;
        for (seq, m) in self.mappings.iter_mut() {
            let Some(pending) = m.pending else { continue };
            if pending.due > now {
                earliest = Some(earliest.map_or(pending.due, |e| e.min(pending.due)));
                continue;
            }
            m.pending = None;
            match pending.outcome {
                Outcome::Become(state) => {
                    m.state = state;
                    // LastModified moves with state changes too (§2.2).
                    m.last_modified_ms = self.clock.epoch_millis_at(pending.due);
                }
                Outcome::Vanish => vanished.push(*seq),
            }
        }
        for seq in vanished {
            if let Some(m) = self.mappings.remove(&seq) {
                self.by_uuid.remove(&m.uuid);
            }
        }
        self.earliest_due = earliest;
    }

    fn schedule(&mut self, seq: u64, delay: Duration, outcome: Outcome) {
        let due = self.now() + delay;
        if let Some(m) = self.mappings.get_mut(&seq) {
            m.pending = Some(Pending { due, outcome });
        }
        self.earliest_due = Some(self.earliest_due.map_or(due, |e| e.min(due)));
    }

    // -----------------------------------------------------------------------------------------
    // The gate every API call passes: count, throttle, inject faults.

    /// Counts the call, then applies the rate limit and any matching fault. Returns the
    /// verdict and the latency the HTTP face should add.
    pub(crate) fn admit(&mut self, operation: &str) -> (ApiResult<()>, Option<Duration>) {
        *self.counts.entry(operation.to_owned()).or_default() += 1;
        let now = self.now();
        if !self.bucket.try_take(now) {
            return (Err(ApiError::throttled()), None);
        }
        let mut verdict = (Ok(()), None);
        for fault in self.faults.iter_mut().filter(|f| f.matches(operation)) {
            if fault.probability < 1.0 && self.rng.next_f64() >= fault.probability {
                continue;
            }
            if let Some(n) = fault.remaining.as_mut() {
                *n -= 1;
            }
            let result = if fault.is_latency_only() {
                Ok(())
            } else {
                Err(fault.error.clone())
            };
            verdict = (result, fault.latency);
            break;
        }
        self.faults.retain(|f| f.remaining != Some(0));
        verdict
    }

    pub(crate) fn reset(&mut self) {
        self.mappings.clear();
        self.by_uuid.clear();
        self.earliest_due = None;
        self.counts.clear();
        self.faults.clear();
        self.lost_create_responses = 0;
        self.bucket = TokenBucket::new(self.config.rate_limit_per_second, self.now());
    }

    pub(crate) fn set_rate_limit(&mut self, rate: Option<u32>) {
        self.config.rate_limit_per_second = rate;
        self.bucket = TokenBucket::new(rate, self.now());
    }

    // -----------------------------------------------------------------------------------------
    // Seeds.

    pub(crate) fn seed_function(&mut self, name: &str) {
        match name.split_once(':') {
            Some((function, alias)) => {
                self.functions.insert(function.to_owned());
                self.aliases.insert((function.to_owned(), alias.to_owned()));
            }
            None => {
                self.functions.insert(name.to_owned());
            }
        }
    }

    pub(crate) fn seed_event_source(&mut self, arn: &str) {
        self.event_sources.insert(arn.to_owned());
    }

    /// Resolves a `FunctionName` to the full ARN of a seeded function; 404 if it (or the
    /// qualifier) does not exist. Qualifiers: `$LATEST`, `$LATEST.PUBLISHED`, any numeric
    /// version, or a seeded alias.
    fn resolve_function(&self, function_name: &str) -> ApiResult<String> {
        let f = parse_function_name(function_name)?;
        let arn = f.arn(self.home());
        let exists = f.is_home(self.home())
            && self.functions.contains(&f.name)
            && f.qualifier.as_deref().is_none_or(|q| {
                q == "$LATEST"
                    || q == "$LATEST.PUBLISHED"
                    || q.chars().all(|c| c.is_ascii_digit())
                    || self.aliases.contains(&(f.name.clone(), q.to_owned()))
            });
        if exists {
            Ok(arn)
        } else {
            Err(ApiError::not_found(format!("Function not found: {arn}")))
        }
    }

    // -----------------------------------------------------------------------------------------
    // Lookups.

    fn seq_of(&self, uuid: &str) -> ApiResult<u64> {
        self.by_uuid
            .get(uuid)
            .copied()
            .ok_or_else(ApiError::mapping_not_found)
    }

    pub(crate) fn contains(&self, uuid: &str) -> bool {
        self.by_uuid.contains_key(uuid)
    }

    fn mapping(&self, uuid: &str) -> ApiResult<&Mapping> {
        Ok(&self.mappings[&self.seq_of(uuid)?])
    }

    fn find_duplicate(&self, candidate: &Mapping) -> Option<&Mapping> {
        let key = candidate.identity();
        self.mappings
            .values()
            .find(|m| m.seq != candidate.seq && m.identity() == key)
    }

    /// R12: at most 100 mappings and 2000 maximum pollers per Kafka poller group.
    fn check_poller_group(&self, config: &Map<String, Value>, own_seq: u64) -> ApiResult<()> {
        let group_of = |c: &Map<String, Value>| {
            c.get("ProvisionedPollerConfig")
                .and_then(|p| p.get("PollerGroupName"))
                .and_then(Value::as_str)
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
        };
        let max_pollers = |c: &Map<String, Value>| {
            c.get("ProvisionedPollerConfig")
                .and_then(|p| p.get("MaximumPollers"))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        let Some(group) = group_of(config) else {
            return Ok(());
        };
        let members: Vec<&Mapping> = self
            .mappings
            .values()
            .filter(|m| m.seq != own_seq && group_of(&m.config).as_deref() == Some(group.as_str()))
            .collect();
        if members.len() + 1 > MAX_MAPPINGS_PER_POLLER_GROUP {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid ProvisionedPollerConfig.PollerGroupName '{group}': a poller group can \
                 hold at most {MAX_MAPPINGS_PER_POLLER_GROUP} event source mappings."
            )));
        }
        let total: i64 =
            members.iter().map(|m| max_pollers(&m.config)).sum::<i64>() + max_pollers(config);
        if total > MAX_POLLERS_PER_GROUP {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid ProvisionedPollerConfig.PollerGroupName '{group}': the MaximumPollers \
                 of a poller group add up to at most {MAX_POLLERS_PER_GROUP} (would be {total})."
            )));
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // The ESM API.

    pub(crate) fn create(&mut self, body: &Value) -> ApiResult<Value> {
        let req = parse_request(body, Mode::Create, self.config.max_filters_per_mapping)?;
        let function_name = req.function_name.as_deref().ok_or_else(|| {
            ApiError::invalid_parameter(
                "1 validation error detected: Value null at 'FunctionName' failed to satisfy \
                 constraint: Member must not be null",
            )
        })?;
        // R18: exactly one of EventSourceArn / SelfManagedEventSource.
        let self_managed = req.fields.contains_key("SelfManagedEventSource");
        let kind = match (&req.event_source_arn, self_managed) {
            (Some(_), true) => {
                return Err(ApiError::invalid_parameter(
                    "Specify either EventSourceArn or SelfManagedEventSource, not both.",
                ));
            }
            (None, false) => {
                return Err(ApiError::invalid_parameter(
                    "EventSourceArn is required unless SelfManagedEventSource is given.",
                ));
            }
            (Some(arn), false) => classify_event_source_arn(arn)?,
            (None, true) => SourceKind::SelfManagedKafka,
        };
        check_fields_apply(kind, &req.fields)?;
        let function_arn = self.resolve_function(function_name)?;
        if let Some(arn) = &req.event_source_arn
            && self.config.require_seeded_sources
            && !self.event_sources.contains(arn)
        {
            return Err(ApiError::invalid_parameter(format!(
                "The provided event source does not exist or Lambda cannot access it: {arn}"
            )));
        }

        let uuid = self.rng.uuid_v4();
        let mut config = wire::defaults(kind, &uuid, is_kafka_queue_mode(&req.fields));
        if let Some(arn) = &req.event_source_arn {
            config.insert("EventSourceArn".into(), Value::String(arn.clone()));
        }
        wire::apply_fields(kind, Mode::Create, &mut config, &req.fields)?;
        let now_seconds = self.now_millis() as f64 / 1000.0;
        check_merged(kind, Mode::Create, &req.fields, &config, now_seconds)?;

        let seq = self.next_seq;
        self.check_poller_group(&config, seq)?;
        let mapping = Mapping {
            seq,
            uuid: uuid.clone(),
            kind,
            function_arn,
            config,
            state: EsmState::Creating,
            state_reason: USER_INITIATED.into(),
            last_modified_ms: self.now_millis(),
            last_processing_result: NO_RECORDS_PROCESSED.into(),
            filter_criteria_error: None,
            pending: None,
            tags: req.tags.unwrap_or_default(),
        };
        if let Some(existing) = self.find_duplicate(&mapping) {
            let (source, function_arn, topic) = mapping.identity();
            return Err(ApiError::conflict(duplicate_message(
                kind,
                &source,
                function_arn,
                topic,
                &existing.uuid,
            )));
        }
        self.next_seq += 1;
        self.mappings.insert(seq, mapping);
        self.by_uuid.insert(uuid, seq);
        let settles_to = EsmState::stable(req.enabled.unwrap_or(true));
        self.schedule(
            seq,
            self.config.transition_delay,
            Outcome::Become(settles_to),
        );
        Ok(self.render(&self.mappings[&seq], View::Full))
    }

    pub(crate) fn get(&self, uuid: &str) -> ApiResult<Value> {
        check_uuid(uuid)?;
        Ok(self.render(self.mapping(uuid)?, View::Full))
    }

    /// Validates an update against a mapping and returns the mapping as it would be after it
    /// (config and function changed; state untouched). Shared by Update and `oob_update`.
    fn prepare_update(&self, seq: u64, body: &Value) -> ApiResult<(Mapping, Option<bool>)> {
        let current = &self.mappings[&seq];
        let req = parse_request(body, Mode::Update, self.config.max_filters_per_mapping)?;
        check_fields_apply(current.kind, &req.fields)?;
        let mut next = current.clone();
        if let Some(name) = &req.function_name {
            next.function_arn = self.resolve_function(name)?;
        }
        wire::apply_fields(current.kind, Mode::Update, &mut next.config, &req.fields)?;
        let now_seconds = self.now_millis() as f64 / 1000.0;
        check_merged(
            current.kind,
            Mode::Update,
            &req.fields,
            &next.config,
            now_seconds,
        )?;
        self.check_poller_group(&next.config, seq)?;
        if next.function_arn != current.function_arn
            && let Some(existing) = self.find_duplicate(&next)
        {
            let (source, function_arn, topic) = next.identity();
            return Err(ApiError::conflict(duplicate_message(
                next.kind,
                &source,
                function_arn,
                topic,
                &existing.uuid,
            )));
        }
        Ok((next, req.enabled))
    }

    pub(crate) fn update(&mut self, uuid: &str, body: &Value) -> ApiResult<Value> {
        check_uuid(uuid)?;
        let seq = self.seq_of(uuid)?;
        let state = self.mappings[&seq].state;
        if state.is_busy() {
            return Err(busy("update", state));
        }
        let (mut next, enabled) = self.prepare_update(seq, body)?;
        let was_enabled = state == EsmState::Enabled;
        let (through, settles_to) = match enabled {
            Some(true) if !was_enabled => (EsmState::Enabling, EsmState::Enabled),
            Some(false) if was_enabled => (EsmState::Disabling, EsmState::Disabled),
            _ => (EsmState::Updating, state),
        };
        next.state = through;
        next.state_reason = USER_INITIATED.into();
        next.last_modified_ms = self.now_millis();
        self.mappings.insert(seq, next);
        self.schedule(
            seq,
            self.config.transition_delay,
            Outcome::Become(settles_to),
        );
        Ok(self.render(&self.mappings[&seq], View::Full))
    }

    pub(crate) fn delete(&mut self, uuid: &str) -> ApiResult<Value> {
        check_uuid(uuid)?;
        let seq = self.seq_of(uuid)?;
        let now_ms = self.now_millis();
        let m = self.mappings.get_mut(&seq).expect("indexed mapping exists");
        if m.state.is_busy() {
            return Err(busy("delete", m.state));
        }
        m.state = EsmState::Deleting;
        m.state_reason = USER_INITIATED.into();
        m.last_modified_ms = now_ms;
        self.schedule(seq, self.config.deleting_delay, Outcome::Vanish);
        Ok(self.render(&self.mappings[&seq], View::Full))
    }

    pub(crate) fn list(
        &self,
        event_source_arn: Option<&str>,
        function_name: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> ApiResult<Value> {
        if let Some(n) = max_items
            && !(1..=10_000).contains(&n)
        {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{n}' at 'MaxItems' failed to satisfy \
                 constraint: Member must have value between 1 and 10000"
            )));
        }
        if let Some(arn) = event_source_arn
            && parse_arn(arn).is_none()
        {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{arn}' at 'EventSourceArn' failed to \
                 satisfy constraint: Member must satisfy regular expression pattern: arn:.*"
            )));
        }
        let function_arn = function_name
            .map(|name| self.resolve_function(name))
            .transpose()?;
        let after = marker.map(decode_marker).transpose()?.unwrap_or(0);
        // Lambda caps pages at 100 items whatever MaxItems says (§7.2).
        let page_size = max_items
            .map_or(self.config.page_size, |n| {
                (n as usize).min(self.config.page_size)
            })
            .max(1);
        let mut matching = self
            .mappings
            .range(after + 1..)
            .map(|(_, m)| m)
            .filter(|m| {
                event_source_arn.is_none_or(|arn| {
                    m.config.get("EventSourceArn").and_then(Value::as_str) == Some(arn)
                }) && function_arn.as_deref().is_none_or(|f| m.function_arn == f)
            });
        let page: Vec<&Mapping> = matching.by_ref().take(page_size).collect();
        let more = matching.next().is_some();
        let mut out = Map::new();
        out.insert(
            "EventSourceMappings".into(),
            Value::Array(
                page.iter()
                    .map(|m| self.render(m, View::ListItem))
                    .collect(),
            ),
        );
        if more && let Some(last) = page.last() {
            out.insert("NextMarker".into(), Value::String(encode_marker(last.seq)));
        }
        Ok(Value::Object(out))
    }

    // -----------------------------------------------------------------------------------------
    // Tags (on the mapping ARN).

    fn seq_by_arn(&self, arn: &str) -> ApiResult<u64> {
        if parse_arn(arn).is_none() {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{arn}' at 'Resource' failed to satisfy \
                 constraint: Member must satisfy regular expression pattern: arn:.*"
            )));
        }
        let prefix = self.esm_arn("");
        arn.strip_prefix(&prefix)
            .and_then(|uuid| self.by_uuid.get(uuid).copied())
            .ok_or_else(ApiError::mapping_not_found)
    }

    pub(crate) fn tag_resource(
        &mut self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> ApiResult<()> {
        let seq = self.seq_by_arn(arn)?;
        let mut merged = self.mappings[&seq].tags.clone();
        merged.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        validate::validate_tags(&merged)?;
        self.mappings.get_mut(&seq).expect("exists").tags = merged;
        Ok(())
    }

    pub(crate) fn untag_resource(&mut self, arn: &str, keys: &[String]) -> ApiResult<()> {
        let seq = self.seq_by_arn(arn)?;
        if let Some(bad) = keys
            .iter()
            .find(|k| k.is_empty() || k.chars().count() > 128)
        {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{bad}' at 'TagKeys' failed to satisfy \
                 constraint: Member must have length between 1 and 128"
            )));
        }
        let m = self.mappings.get_mut(&seq).expect("exists");
        for k in keys {
            m.tags.remove(k);
        }
        Ok(())
    }

    pub(crate) fn list_tags(&self, arn: &str) -> ApiResult<BTreeMap<String, String>> {
        let seq = self.seq_by_arn(arn)?;
        Ok(self.mappings[&seq].tags.clone())
    }

    // -----------------------------------------------------------------------------------------
    // Out-of-band changes (admin hooks).

    /// Applies an Update-shaped patch at once, whatever the state, without a transition.
    /// `Enabled` sets the stable state directly; the response-only `State`,
    /// `StateTransitionReason` and `LastProcessingResult` may be set verbatim.
    pub(crate) fn oob_update(&mut self, uuid: &str, patch: &Value) -> ApiResult<()> {
        let seq = self.seq_of(uuid)?;
        let (mut next, enabled) = self.prepare_update(seq, patch)?;
        if let Some(enabled) = enabled {
            next.state = EsmState::stable(enabled);
            next.state_reason = USER_INITIATED.into();
            next.pending = None;
        }
        if let Some(state) = patch.get("State").and_then(Value::as_str) {
            next.state = EsmState::parse(state).ok_or_else(|| {
                ApiError::invalid_parameter(format!("Unknown State '{state}' in oob_update."))
            })?;
            next.pending = None;
        }
        if let Some(reason) = patch.get("StateTransitionReason").and_then(Value::as_str) {
            next.state_reason = reason.to_owned();
        }
        if let Some(result) = patch.get("LastProcessingResult").and_then(Value::as_str) {
            next.last_processing_result = result.to_owned();
        }
        next.last_modified_ms = self.now_millis();
        self.mappings.insert(seq, next);
        Ok(())
    }

    pub(crate) fn oob_delete(&mut self, uuid: &str) -> ApiResult<()> {
        let seq = self.seq_of(uuid)?;
        self.mappings.remove(&seq);
        self.by_uuid.remove(uuid);
        Ok(())
    }

    /// Lambda switches the mapping off by itself (e.g. the source broke).
    pub(crate) fn lambda_disable(&mut self, uuid: &str, reason: &str) -> ApiResult<()> {
        let seq = self.seq_of(uuid)?;
        let now_ms = self.now_millis();
        let m = self.mappings.get_mut(&seq).expect("exists");
        if m.state == EsmState::Deleting {
            return Err(busy("disable", m.state));
        }
        m.state = EsmState::Disabled;
        m.state_reason = reason.to_owned();
        m.pending = None;
        m.last_modified_ms = now_ms;
        Ok(())
    }

    pub(crate) fn set_filter_criteria_error(
        &mut self,
        uuid: &str,
        error: Option<(&str, &str)>,
    ) -> ApiResult<()> {
        let seq = self.seq_of(uuid)?;
        let m = self.mappings.get_mut(&seq).expect("exists");
        m.filter_criteria_error =
            error.map(|(code, message)| (code.to_owned(), message.to_owned()));
        Ok(())
    }

    pub(crate) fn snapshot(&self) -> Vec<Value> {
        self.mappings
            .values()
            .map(|m| self.render(m, View::Full))
            .collect()
    }
}
