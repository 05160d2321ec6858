//! Prometheus metrics (`/metrics`). Label values are bounded: operations, outcomes, states and
//! result categories, never object names or error texts.

use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;

use crate::sync::lock;
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
    /// The lane's account ID (`own`: the controller's identity). Bounded by the account
    /// bindings a cluster admin creates.
    account: String,
    region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FieldLabels {
    /// A spec field name (one of the updatable fields: bounded).
    field: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

/// Label values stay bounded: Lambda's state is free text, so unknown ones count as `Unknown`.
pub fn state_label(state: &str) -> &'static str {
    crate::lambda::MappingState::parse(Some(state))
        .known_name()
        .unwrap_or("Unknown")
}

pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabels, Counter>,
    reconcile_duration: Histogram,
    aws_requests: Family<AwsLabels, Counter>,
    drift: Family<FieldLabels, Counter>,
    mappings: Family<StateLabels, Gauge>,
    time_to_ready: Histogram,
    queue_depth: Gauge,
    in_flight: Gauge,
    /// Where the queue depth is read from when the metrics are encoded: the controller's
    /// per-resource memory, which knows when each resource is due.
    queue: Mutex<Option<Weak<dyn Overdue>>>,
}

/// Counts the resources whose reconcile is due but has not started.
pub trait Overdue: Send + Sync {
    fn overdue(&self, now: tokio::time::Instant) -> usize;
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
            "Lambda API calls by operation, outcome (ok, throttled, busy, conflict, not_found, invalid, access_denied, error), account (an ID, or own) and region",
            aws_requests.clone(),
        );
        let drift = Family::<FieldLabels, Counter>::default();
        registry.register(
            "drift",
            "Out-of-band changes found in Lambda, by spec field (each time a field starts to differ)",
            drift.clone(),
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
            drift,
            mappings,
            time_to_ready,
            queue_depth,
            in_flight,
            queue: Mutex::default(),
        }
    }

    /// Reads the queue depth from `source` from now on.
    pub fn count_queue_with(&self, source: Weak<dyn Overdue>) {
        *lock(&self.queue) = Some(source);
    }

    /// A reconcile starts; returns a guard that records its duration and result when it is
    /// finished or dropped (a cancelled reconcile counts as `cancelled`).
    pub(crate) fn reconcile_started(&self) -> ReconcileTimer<'_> {
        self.in_flight.inc();
        ReconcileTimer {
            metrics: self,
            started: Instant::now(),
            result: None,
        }
    }

    pub(crate) fn aws_request(&self, account: &str, region: &str, operation: &str, outcome: &str) {
        self.aws_requests
            .get_or_create(&AwsLabels {
                operation: operation.to_string(),
                outcome: outcome.to_string(),
                account: account.to_string(),
                region: region.to_string(),
            })
            .inc();
    }

    /// A field of a mapping started to differ from its spec outside the controller.
    pub(crate) fn drift_found(&self, field: &str) {
        self.drift
            .get_or_create(&FieldLabels {
                field: field.to_string(),
            })
            .inc();
    }

    /// A resource's mapping moved from one state label to another (`None`: no mapping).
    pub(crate) fn mapping_state_changed(
        &self,
        from: Option<&'static str>,
        to: Option<&'static str>,
    ) {
        if let Some(old) = from {
            self.mappings
                .get_or_create(&StateLabels { state: old.into() })
                .dec();
        }
        if let Some(new) = to {
            self.mappings
                .get_or_create(&StateLabels { state: new.into() })
                .inc();
        }
    }

    /// A resource turned Ready this long after this process created its mapping.
    pub(crate) fn time_to_ready(&self, since_create: Duration) {
        self.time_to_ready.observe(since_create.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let source = lock(&self.queue).as_ref().and_then(Weak::upgrade);
        if let Some(source) = source {
            let overdue = source.overdue(tokio::time::Instant::now());
            self.queue_depth.set(overdue as i64);
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    started: Instant,
    result: Option<&'static str>,
}

impl ReconcileTimer<'_> {
    /// `result`: ready, progressing, stalled, or an error category.
    pub fn finish(mut self, result: &'static str) {
        self.result = Some(result);
    }
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        let metrics = self.metrics;
        metrics
            .reconcile_duration
            .observe(self.started.elapsed().as_secs_f64());
        metrics
            .reconciles
            .get_or_create(&ResultLabels {
                result: self.result.unwrap_or("cancelled").to_string(),
            })
            .inc();
        metrics.in_flight.dec();
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
        m.reconcile_started().finish("ready");
        m.reconcile_started().finish("ready");
        m.reconcile_started().finish("retry");
        drop(m.reconcile_started());
        m.aws_request("own", "eu-west-1", "GetEventSourceMapping", "ok");
        m.aws_request("own", "eu-west-1", "CreateEventSourceMapping", "throttled");
        m.mapping_state_changed(None, Some("Creating"));
        m.mapping_state_changed(None, Some("Creating"));
        m.mapping_state_changed(Some("Creating"), Some("Enabled"));
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
            Some(4.0)
        );
        assert_eq!(
            value(
                &text,
                r#"esm_aws_requests_total{operation="CreateEventSourceMapping",outcome="throttled",account="own",region="eu-west-1"}"#
            ),
            Some(1.0)
        );
        assert_eq!(value(&text, r#"esm_mappings{state="Creating"}"#), Some(1.0));
        assert_eq!(value(&text, r#"esm_mappings{state="Enabled"}"#), Some(1.0));
        assert_eq!(value(&text, "esm_reconciles_in_flight"), Some(0.0));
        assert_eq!(
            value(&text, r#"esm_reconciles_total{result="cancelled"}"#),
            Some(1.0),
            "a dropped reconcile is counted, and leaves in_flight"
        );
        m.mapping_state_changed(Some("Enabled"), None);
        assert_eq!(
            value(&m.encode(), r#"esm_mappings{state="Enabled"}"#),
            Some(0.0)
        );
    }
}
