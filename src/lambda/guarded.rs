//! A [`LambdaPort`] decorator that lets a call through only while this replica can show it
//! leads (see [`Leadership`]). It sits after the budget and asks when the call is first polled,
//! so that the check is the last thing before the request is built and sent: a call that
//! waited for a token checks when it is about to go, not when it started waiting.
//!
//! The call is a small hand-written future rather than one more `async` layer: every decorator
//! layer of `async fn` adds a copy of the inner future to each poll frame, and one more overflowed
//! a worker thread's stack in debug builds on the deepest reconcile paths.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::{
    ErrorKind, LambdaError, LambdaPort, ListFilter, MappingFields, MappingPage, ObservedMapping,
};
use crate::controller::leader::Leadership;

/// The error code of a call refused because leadership is not current. It never reached AWS.
pub const NOT_LEADER: &str = "NotLeader";

pub struct Guarded<L> {
    inner: L,
    leadership: Arc<Leadership>,
}

impl<L> Guarded<L> {
    pub fn new(inner: L, leadership: Arc<Leadership>) -> Self {
        Self { inner, leadership }
    }

    /// Two lifetimes, not one: the returned future must name each borrow it captures.
    fn guard<'s, 'r, F>(
        &'s self,
        operation: &'static str,
        region: &'r str,
        inner: F,
    ) -> GuardedCall<'s, 'r, F> {
        GuardedCall {
            inner,
            check: Some(Check {
                leadership: &self.leadership,
                operation,
                region,
            }),
        }
    }
}

struct Check<'s, 'r> {
    leadership: &'s Leadership,
    operation: &'static str,
    region: &'r str,
}

pin_project_lite::pin_project! {
    /// A port call that asks [`Leadership`] on its first poll, and then is the inner call.
    pub struct GuardedCall<'s, 'r, F> {
        #[pin]
        inner: F,
        check: Option<Check<'s, 'r>>,
    }
}

impl<T, F: Future<Output = Result<T, LambdaError>>> Future for GuardedCall<'_, '_, F> {
    type Output = Result<T, LambdaError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(check) = this.check.take()
            && let Err(not_leader) = check.leadership.check()
        {
            // Reads are refused too: a replica that is not the leader has no use for them, and
            // the process stops as soon as its renewal loop sees what the guard already knows.
            tracing::warn!(
                operation = check.operation,
                region = check.region,
                "refused a Lambda call: {not_leader}"
            );
            // Retry: the reconcile is requeued, never stalled; the process is stopping anyway.
            return Poll::Ready(Err(LambdaError {
                kind: ErrorKind::Retry,
                operation: check.operation,
                code: NOT_LEADER.into(),
                message: not_leader.to_string(),
                retry_after: None,
                throttled: false,
            }));
        }
        this.inner.poll(cx)
    }
}

impl<L: LambdaPort> LambdaPort for Guarded<L> {
    fn create_mapping(
        &self,
        region: &str,
        request: &MappingFields,
    ) -> impl Future<Output = Result<ObservedMapping, LambdaError>> + Send {
        let inner = self.inner.create_mapping(region, request);
        self.guard("CreateEventSourceMapping", region, inner)
    }

    fn get_mapping(
        &self,
        region: &str,
        uuid: &str,
    ) -> impl Future<Output = Result<ObservedMapping, LambdaError>> + Send {
        let inner = self.inner.get_mapping(region, uuid);
        self.guard("GetEventSourceMapping", region, inner)
    }

    fn update_mapping(
        &self,
        region: &str,
        uuid: &str,
        patch: &MappingFields,
    ) -> impl Future<Output = Result<ObservedMapping, LambdaError>> + Send {
        let inner = self.inner.update_mapping(region, uuid, patch);
        self.guard("UpdateEventSourceMapping", region, inner)
    }

    fn delete_mapping(
        &self,
        region: &str,
        uuid: &str,
    ) -> impl Future<Output = Result<ObservedMapping, LambdaError>> + Send {
        let inner = self.inner.delete_mapping(region, uuid);
        self.guard("DeleteEventSourceMapping", region, inner)
    }

    fn list_mappings(
        &self,
        region: &str,
        filter: &ListFilter,
        marker: Option<&str>,
    ) -> impl Future<Output = Result<MappingPage, LambdaError>> + Send {
        let inner = self.inner.list_mappings(region, filter, marker);
        self.guard("ListEventSourceMappings", region, inner)
    }

    fn tag_resource(
        &self,
        region: &str,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), LambdaError>> + Send {
        let inner = self.inner.tag_resource(region, arn, tags);
        self.guard("TagResource", region, inner)
    }

    fn untag_resource(
        &self,
        region: &str,
        arn: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<(), LambdaError>> + Send {
        let inner = self.inner.untag_resource(region, arn, keys);
        self.guard("UntagResource", region, inner)
    }

    fn list_tags(
        &self,
        region: &str,
        arn: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, LambdaError>> + Send {
        let inner = self.inner.list_tags(region, arn);
        self.guard("ListTags", region, inner)
    }
}
