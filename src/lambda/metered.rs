//! A [`LambdaPort`] decorator that counts every call by operation and outcome.

use std::sync::Arc;

use super::{Call, Connect, ErrorKind, LambdaError, LambdaPort, LaneKey};
use crate::telemetry::Metrics;

pub struct Metered<L> {
    inner: L,
    metrics: Arc<Metrics>,
    /// The lane's account label (an account ID, or `own`) and region.
    account: String,
    region: String,
}

impl<L> Metered<L> {
    pub fn new(inner: L, metrics: Arc<Metrics>, lane: &LaneKey) -> Self {
        Self {
            inner,
            metrics,
            account: lane.account_label().to_string(),
            region: lane.region.clone(),
        }
    }
}

/// The outcome label of a call.
fn outcome<T>(result: &Result<T, LambdaError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => match e.kind {
            ErrorKind::Retry if e.is_throttled() => "throttled",
            ErrorKind::Retry => "error",
            ErrorKind::Busy => "busy",
            ErrorKind::Conflict => "conflict",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Invalid => "invalid",
            ErrorKind::AccessDenied => "access_denied",
        },
    }
}

impl<L: LambdaPort> Metered<L> {
    async fn around<T>(
        &self,
        call: Call,
        inner: impl std::future::Future<Output = Result<T, LambdaError>>,
    ) -> Result<T, LambdaError> {
        let result = inner.await;
        self.metrics.aws_request(
            &self.account,
            &self.region,
            call.operation.name(),
            outcome(&result),
        );
        result
    }
}

decorate_lambda_port!(Metered);

/// Connects every lane through the shared metrics.
pub struct Metering<C> {
    inner: C,
    metrics: Arc<Metrics>,
}

impl<C> Metering<C> {
    pub fn new(inner: C, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

impl<C: Connect> Connect for Metering<C> {
    type Port = Metered<C::Port>;

    fn connect(&self, lane: &LaneKey) -> Self::Port {
        Metered::new(self.inner.connect(lane), self.metrics.clone(), lane)
    }

    fn check_role(
        &self,
        role: &super::AccountRole,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send {
        self.inner.check_role(role)
    }
}
