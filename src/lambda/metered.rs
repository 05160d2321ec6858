//! A [`LambdaPort`] decorator that counts every call by operation and outcome.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{
    ErrorKind, LambdaError, LambdaPort, ListFilter, MappingFields, MappingPage, ObservedMapping,
};
use crate::telemetry::Metrics;

pub struct Metered<L> {
    inner: L,
    metrics: Arc<Metrics>,
}

impl<L> Metered<L> {
    pub fn new(inner: L, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
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
    fn record<T>(&self, operation: &str, result: Result<T, LambdaError>) -> Result<T, LambdaError> {
        self.metrics.aws_request(operation, outcome(&result));
        result
    }
}

impl<L: LambdaPort> LambdaPort for Metered<L> {
    async fn create_mapping(
        &self,
        region: &str,
        request: &MappingFields,
    ) -> Result<ObservedMapping, LambdaError> {
        self.record(
            "CreateEventSourceMapping",
            self.inner.create_mapping(region, request).await,
        )
    }
    async fn get_mapping(&self, region: &str, uuid: &str) -> Result<ObservedMapping, LambdaError> {
        self.record(
            "GetEventSourceMapping",
            self.inner.get_mapping(region, uuid).await,
        )
    }
    async fn update_mapping(
        &self,
        region: &str,
        uuid: &str,
        patch: &MappingFields,
    ) -> Result<ObservedMapping, LambdaError> {
        self.record(
            "UpdateEventSourceMapping",
            self.inner.update_mapping(region, uuid, patch).await,
        )
    }
    async fn delete_mapping(
        &self,
        region: &str,
        uuid: &str,
    ) -> Result<ObservedMapping, LambdaError> {
        self.record(
            "DeleteEventSourceMapping",
            self.inner.delete_mapping(region, uuid).await,
        )
    }
    async fn list_mappings(
        &self,
        region: &str,
        filter: &ListFilter,
        marker: Option<&str>,
    ) -> Result<MappingPage, LambdaError> {
        self.record(
            "ListEventSourceMappings",
            self.inner.list_mappings(region, filter, marker).await,
        )
    }
    async fn tag_resource(
        &self,
        region: &str,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), LambdaError> {
        self.record(
            "TagResource",
            self.inner.tag_resource(region, arn, tags).await,
        )
    }
    async fn untag_resource(
        &self,
        region: &str,
        arn: &str,
        keys: &[String],
    ) -> Result<(), LambdaError> {
        self.record(
            "UntagResource",
            self.inner.untag_resource(region, arn, keys).await,
        )
    }
    async fn list_tags(
        &self,
        region: &str,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, LambdaError> {
        self.record("ListTags", self.inner.list_tags(region, arn).await)
    }
}
