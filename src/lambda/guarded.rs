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
    Connect, ErrorKind, LambdaError, LambdaPort, LaneKey, ListFilter, MappingFields, MappingPage,
    ObservedMapping, Op,
};
use crate::controller::leader::Leadership;

/// The error code of a call refused because leadership is not current. It never reached AWS.
pub const NOT_LEADER: &str = "NotLeader";

pub struct Guarded<L> {
    inner: L,
    lane: String,
    leadership: Arc<Leadership>,
}

impl<L> Guarded<L> {
    pub fn new(inner: L, lane: &LaneKey, leadership: Arc<Leadership>) -> Self {
        Self {
            inner,
            lane: lane.to_string(),
            leadership,
        }
    }

    fn guard<F>(&self, operation: Op, inner: F) -> GuardedCall<'_, F> {
        GuardedCall {
            inner,
            check: Some(Check {
                leadership: &self.leadership,
                operation,
                lane: &self.lane,
            }),
        }
    }
}

/// Connects every lane through the leadership check.
pub struct Guarding<C> {
    inner: C,
    leadership: Arc<Leadership>,
}

impl<C> Guarding<C> {
    pub fn new(inner: C, leadership: Arc<Leadership>) -> Self {
        Self { inner, leadership }
    }
}

impl<C: Connect> Connect for Guarding<C> {
    type Port = Guarded<C::Port>;

    fn connect(&self, lane: &LaneKey) -> Self::Port {
        Guarded::new(self.inner.connect(lane), lane, self.leadership.clone())
    }

    fn check_role(
        &self,
        role: &super::AccountRole,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send {
        self.inner.check_role(role)
    }
}

struct Check<'s> {
    leadership: &'s Leadership,
    operation: Op,
    lane: &'s str,
}

pin_project_lite::pin_project! {
    /// A port call that asks [`Leadership`] on its first poll, and then is the inner call.
    pub struct GuardedCall<'s, F> {
        #[pin]
        inner: F,
        check: Option<Check<'s>>,
    }
}

impl<T, F: Future<Output = Result<T, LambdaError>>> Future for GuardedCall<'_, F> {
    type Output = Result<T, LambdaError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(check) = this.check.take()
            && let Err(not_leader) = check.leadership.check()
        {
            // Reads are refused too: a replica that is not the leader has no use for them, and
            // the process stops as soon as its renewal loop sees what the guard already knows.
            tracing::warn!(
                operation = check.operation.name(),
                region = check.lane,
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
        request: &MappingFields,
    ) -> impl Future<Output = Result<ObservedMapping, LambdaError>> + Send {
        let inner = self.inner.create_mapping(request);
        self.guard(Op::Create, inner)
    }

    fn get_mapping(
        &self,
        uuid: &str,
    ) -> impl Future<Output = Result<ObservedMapping, LambdaError>> + Send {
        let inner = self.inner.get_mapping(uuid);
        self.guard(Op::Get, inner)
    }

    fn update_mapping(
        &self,
        uuid: &str,
        patch: &MappingFields,
    ) -> impl Future<Output = Result<ObservedMapping, LambdaError>> + Send {
        let inner = self.inner.update_mapping(uuid, patch);
        self.guard(Op::Update, inner)
    }

    fn delete_mapping(
        &self,
        uuid: &str,
    ) -> impl Future<Output = Result<ObservedMapping, LambdaError>> + Send {
        let inner = self.inner.delete_mapping(uuid);
        self.guard(Op::Delete, inner)
    }

    fn list_mappings(
        &self,
        filter: &ListFilter,
        marker: Option<&str>,
    ) -> impl Future<Output = Result<MappingPage, LambdaError>> + Send {
        let inner = self.inner.list_mappings(filter, marker);
        self.guard(Op::List, inner)
    }

    fn tag_resource(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), LambdaError>> + Send {
        let inner = self.inner.tag_resource(arn, tags);
        self.guard(Op::Tag, inner)
    }

    fn untag_resource(
        &self,
        arn: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<(), LambdaError>> + Send {
        let inner = self.inner.untag_resource(arn, keys);
        self.guard(Op::Untag, inner)
    }

    fn list_tags(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, LambdaError>> + Send {
        let inner = self.inner.list_tags(arn);
        self.guard(Op::ListTags, inner)
    }
}
