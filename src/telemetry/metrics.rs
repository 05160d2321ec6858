//! Prometheus metrics (`/metrics`). Label values are bounded: operations, outcomes, states and
//! result categories, never object names or error texts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AwsLabels {
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

/// What the metrics follow per resource: one small entry, since there may be 10,000.
#[derive(Default)]
struct Tracked {
    /// The mapping's Lambda state, for the mappings-by-state gauge.
    state: Option<&'static str>,
    /// When this process created the mapping, until the resource is first Ready.
    created: Option<Instant>,
    /// When the resource is next due for a reconcile.
    due: Option<Instant>,
    /// The outcome of the reconcile running now.
    outcome: Option<&'static str>,
}

impl Tracked {
    fn is_empty(&self) -> bool {
        self.state.is_none()
            && self.created.is_none()
            && self.due.is_none()
            && self.outcome.is_none()
    }
}

/// Entries are keyed by a digest of the resource's key, not the key itself: nothing here needs
/// the name back, and at 10,000 resources the strings would double the map's size.
#[derive(Default)]
struct Tracking {
    by_key: HashMap<u64, Tracked>,
}

impl Tracking {
    fn digest(key: &str) -> u64 {
        crate::controller::stored::digest(&key)
    }

    fn entry(&mut self, key: &str) -> &mut Tracked {
        self.by_key.entry(Self::digest(key)).or_default()
    }

    /// Changes the entry of `key` if there is one, dropping it once it holds nothing.
    fn update<T>(&mut self, key: &str, change: impl FnOnce(&mut Tracked) -> T) -> Option<T> {
        let digest = Self::digest(key);
        let tracked = self.by_key.get_mut(&digest)?;
        let out = change(tracked);
        if tracked.is_empty() {
            self.by_key.remove(&digest);
        }
        Some(out)
    }
}

/// Label values stay bounded: Lambda's state is free text, so unknown ones count as `Unknown`.
fn state_label(state: &str) -> &'static str {
    crate::lambda::MappingState::parse(Some(state))
        .known_name()
        .unwrap_or("Unknown")
}

pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabels, Counter>,
    reconcile_duration: Histogram,
    aws_requests: Family<AwsLabels, Counter>,
    mappings: Family<StateLabels, Gauge>,
    time_to_ready: Histogram,
    queue_depth: Gauge,
    in_flight: Gauge,
    tracking: Mutex<Tracking>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("esm");
        let reconciles = Family::<ResultLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles by result: ready, progressing, stalled, or the error category",
            reconciles.clone(),
        );
        let reconcile_duration = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconcile",
            reconcile_duration.clone(),
        );
        let aws_requests = Family::<AwsLabels, Counter>::default();
        registry.register(
            "aws_requests",
            "Lambda API calls by operation and outcome (ok, throttled, busy, conflict, not_found, invalid, access_denied, error)",
            aws_requests.clone(),
        );
        let mappings = Family::<StateLabels, Gauge>::default();
        registry.register(
            "mappings",
            "Managed mappings by Lambda state",
            mappings.clone(),
        );
        let time_to_ready = Histogram::new(exponential_buckets(0.5, 2.0, 12));
        registry.register(
            "time_to_ready_seconds",
            "Time from a successful CreateEventSourceMapping to the resource being Ready",
            time_to_ready.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Resources whose reconcile is due but has not started yet",
            queue_depth.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "reconciles_in_flight",
            "Reconciles running now",
            in_flight.clone(),
        );
        Self {
            registry,
            reconciles,
            reconcile_duration,
            aws_requests,
            mappings,
            time_to_ready,
            queue_depth,
            in_flight,
            tracking: Mutex::default(),
        }
    }

    fn tracking(&self) -> std::sync::MutexGuard<'_, Tracking> {
        self.tracking.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A reconcile of `key` starts; returns a guard that records its duration and result.
    pub fn reconcile_started(&self, key: &str) -> ReconcileTimer<'_> {
        self.tracking().update(key, |t| t.due = None);
        self.in_flight.inc();
        ReconcileTimer {
            metrics: self,
            started: Instant::now(),
        }
    }

    /// Records when `key` is due next (its requeue).
    pub fn scheduled(&self, key: &str, after: Duration) {
        self.tracking().entry(key).due = Some(Instant::now() + after);
    }

    pub fn aws_request(&self, operation: &str, outcome: &str) {
        self.aws_requests
            .get_or_create(&AwsLabels {
                operation: operation.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Records the Lambda state of a resource's mapping (`None`: no mapping).
    pub fn mapping_state(&self, key: &str, state: Option<&str>) {
        let state = state.map(state_label);
        let mut tracking = self.tracking();
        let previous = match state {
            Some(_) => std::mem::replace(&mut tracking.entry(key).state, state),
            None => tracking.update(key, |t| t.state.take()).flatten(),
        };
        drop(tracking);
        if previous == state {
            return;
        }
        if let Some(old) = previous {
            self.mappings
                .get_or_create(&StateLabels { state: old.into() })
                .dec();
        }
        if let Some(new) = state {
            self.mappings
                .get_or_create(&StateLabels { state: new.into() })
                .inc();
        }
    }

    /// Notes how the running reconcile of `key` turned out (ready, progressing, stalled).
    pub fn set_outcome(&self, key: &str, outcome: &'static str) {
        self.tracking().entry(key).outcome = Some(outcome);
    }

    /// The outcome noted for `key`, or `ok` when the reconcile noted none (finalizer steps).
    pub fn take_outcome(&self, key: &str) -> &'static str {
        self.tracking()
            .update(key, |t| t.outcome.take())
            .flatten()
            .unwrap_or("ok")
    }

    pub fn mapping_created(&self, key: &str) {
        self.tracking().entry(key).created = Some(Instant::now());
    }

    /// The resource is Ready: observe the time since its mapping was created, once.
    pub fn ready(&self, key: &str) {
        if let Some(created) = self.tracking().update(key, |t| t.created.take()).flatten() {
            self.time_to_ready.observe(created.elapsed().as_secs_f64());
        }
    }

    /// Whether anything is followed for the resource.
    pub fn tracks(&self, key: &str) -> bool {
        self.tracking().by_key.contains_key(&Tracking::digest(key))
    }

    /// The resource is gone.
    pub fn forget(&self, key: &str) {
        self.mapping_state(key, None);
        self.tracking().update(key, |t| {
            t.created = None;
            t.due = None;
            t.outcome = None;
        });
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let now = Instant::now();
        let overdue = self
            .tracking()
            .by_key
            .values()
            .filter(|t| t.due.is_some_and(|due| due <= now))
            .count();
        self.queue_depth.set(overdue as i64);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    started: Instant,
}

impl ReconcileTimer<'_> {
    /// `result`: ready, progressing, stalled, or an error category.
    pub fn finish(self, result: &str) {
        self.metrics
            .reconcile_duration
            .observe(self.started.elapsed().as_secs_f64());
        self.metrics
            .reconciles
            .get_or_create(&ResultLabels {
                result: result.to_string(),
            })
            .inc();
        self.metrics.in_flight.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn counts_reconciles_aws_calls_and_states() {
        let m = Metrics::new();
        m.reconcile_started("a").finish("ready");
        m.reconcile_started("b").finish("ready");
        m.reconcile_started("c").finish("retry");
        m.aws_request("GetEventSourceMapping", "ok");
        m.aws_request("CreateEventSourceMapping", "throttled");
        m.mapping_state("a", Some("Creating"));
        m.mapping_state("b", Some("Creating"));
        m.mapping_state("a", Some("Enabled"));
        let text = m.encode();
        assert_eq!(
            value(&text, r#"esm_reconciles_total{result="ready"}"#),
            Some(2.0)
        );
        assert_eq!(
            value(&text, r#"esm_reconciles_total{result="retry"}"#),
            Some(1.0)
        );
        assert_eq!(
            value(&text, "esm_reconcile_duration_seconds_count"),
            Some(3.0)
        );
        assert_eq!(
            value(
                &text,
                r#"esm_aws_requests_total{operation="CreateEventSourceMapping",outcome="throttled"}"#
            ),
            Some(1.0)
        );
        assert_eq!(value(&text, r#"esm_mappings{state="Creating"}"#), Some(1.0));
        assert_eq!(value(&text, r#"esm_mappings{state="Enabled"}"#), Some(1.0));
        assert_eq!(value(&text, "esm_reconciles_in_flight"), Some(0.0));
        m.forget("a");
        assert_eq!(
            value(&m.encode(), r#"esm_mappings{state="Enabled"}"#),
            Some(0.0)
        );
    }

    #[test]
    fn time_to_ready_is_observed_once_per_create() {
        let m = Metrics::new();
        m.ready("x");
        assert_eq!(
            value(&m.encode(), "esm_time_to_ready_seconds_count"),
            Some(0.0)
        );
        m.mapping_created("x");
        m.ready("x");
        m.ready("x");
        assert_eq!(
            value(&m.encode(), "esm_time_to_ready_seconds_count"),
            Some(1.0)
        );
    }

    #[test]
    fn queue_depth_counts_overdue_resources_until_they_start() {
        let m = Metrics::new();
        m.scheduled("a", Duration::ZERO);
        m.scheduled("b", Duration::ZERO);
        m.scheduled("c", Duration::from_secs(3600));
        assert_eq!(value(&m.encode(), "esm_queue_depth"), Some(2.0));
        m.reconcile_started("a").finish("ready");
        assert_eq!(value(&m.encode(), "esm_queue_depth"), Some(1.0));
    }
}
