//! The Lambda port: everything the controller asks of AWS Lambda, behind one trait.
//!
//! The controller only talks to [`LambdaPort`]. Production uses [`aws::AwsLambda`] (aws-sdk-lambda
//! with one lazily built client per region); tests plug in the in-memory model. Errors are
//! classified once, here, into [`ErrorKind`] so that no caller ever matches on AWS error codes.

/// Implements [`LambdaPort`] for a decorator `$ty<L>` that has a field `inner: L` and a method
/// `async fn around<T>(&self, call: Call<'_>, inner: impl Future<Output = Result<T, LambdaError>>)
/// -> Result<T, LambdaError>`. Every port method passes through `around`; the operation's name
/// and whether it writes are stated here, once, for every decorator.
macro_rules! decorate_lambda_port {
    ($ty:ident) => {
        impl<L: $crate::lambda::LambdaPort> $crate::lambda::LambdaPort for $ty<L> {
            async fn create_mapping(
                &self,
                region: &str,
                request: &$crate::lambda::MappingFields,
            ) -> Result<$crate::lambda::ObservedMapping, $crate::lambda::LambdaError> {
                let call = $crate::lambda::Call::write(region, "CreateEventSourceMapping");
                self.around(call, self.inner.create_mapping(region, request))
                    .await
            }
            async fn get_mapping(
                &self,
                region: &str,
                uuid: &str,
            ) -> Result<$crate::lambda::ObservedMapping, $crate::lambda::LambdaError> {
                let call = $crate::lambda::Call::read(region, "GetEventSourceMapping");
                self.around(call, self.inner.get_mapping(region, uuid))
                    .await
            }
            async fn update_mapping(
                &self,
                region: &str,
                uuid: &str,
                patch: &$crate::lambda::MappingFields,
            ) -> Result<$crate::lambda::ObservedMapping, $crate::lambda::LambdaError> {
                let call = $crate::lambda::Call::write(region, "UpdateEventSourceMapping");
                self.around(call, self.inner.update_mapping(region, uuid, patch))
                    .await
            }
            async fn delete_mapping(
                &self,
                region: &str,
                uuid: &str,
            ) -> Result<$crate::lambda::ObservedMapping, $crate::lambda::LambdaError> {
                let call = $crate::lambda::Call::write(region, "DeleteEventSourceMapping");
                self.around(call, self.inner.delete_mapping(region, uuid))
                    .await
            }
            async fn list_mappings(
                &self,
                region: &str,
                filter: &$crate::lambda::ListFilter,
                marker: Option<&str>,
            ) -> Result<$crate::lambda::MappingPage, $crate::lambda::LambdaError> {
                let call = $crate::lambda::Call::read(region, "ListEventSourceMappings");
                self.around(call, self.inner.list_mappings(region, filter, marker))
                    .await
            }
            async fn tag_resource(
                &self,
                region: &str,
                arn: &str,
                tags: &std::collections::BTreeMap<String, String>,
            ) -> Result<(), $crate::lambda::LambdaError> {
                let call = $crate::lambda::Call::write(region, "TagResource");
                self.around(call, self.inner.tag_resource(region, arn, tags))
                    .await
            }
            async fn untag_resource(
                &self,
                region: &str,
                arn: &str,
                keys: &[String],
            ) -> Result<(), $crate::lambda::LambdaError> {
                let call = $crate::lambda::Call::write(region, "UntagResource");
                self.around(call, self.inner.untag_resource(region, arn, keys))
                    .await
            }
            async fn list_tags(
                &self,
                region: &str,
                arn: &str,
            ) -> Result<std::collections::BTreeMap<String, String>, $crate::lambda::LambdaError>
            {
                let call = $crate::lambda::Call::read(region, "ListTags");
                self.around(call, self.inner.list_tags(region, arn)).await
            }
        }
    };
}

pub mod aws;
mod budget;
mod error;
mod guarded;
mod metered;
pub mod types;

use std::collections::BTreeMap;
use std::future::Future;

pub use budget::{Budget, Budgeted, CallKind};
pub use error::{ErrorKind, LambdaError, classify, conflicting_uuid, is_throttle_code};
pub use guarded::{Guarded, NOT_LEADER};
pub use metered::Metered;
pub use types::*;

/// Lambda's event source mapping and tagging API, per region.
///
/// Every method takes the region explicitly: one controller serves resources in many regions.
pub trait LambdaPort: Send + Sync + 'static {
    fn create_mapping(
        &self,
        region: &str,
        request: &MappingFields,
    ) -> impl Future<Output = Result<ObservedMapping, LambdaError>> + Send;

    fn get_mapping(
        &self,
        region: &str,
        uuid: &str,
    ) -> impl Future<Output = Result<ObservedMapping, LambdaError>> + Send;

    fn update_mapping(
        &self,
        region: &str,
        uuid: &str,
        patch: &MappingFields,
    ) -> impl Future<Output = Result<ObservedMapping, LambdaError>> + Send;

    fn delete_mapping(
        &self,
        region: &str,
        uuid: &str,
    ) -> impl Future<Output = Result<ObservedMapping, LambdaError>> + Send;

    /// One page of ListEventSourceMappings; pass the previous page's `next_marker` to continue.
    fn list_mappings(
        &self,
        region: &str,
        filter: &ListFilter,
        marker: Option<&str>,
    ) -> impl Future<Output = Result<MappingPage, LambdaError>> + Send;

    fn tag_resource(
        &self,
        region: &str,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;

    fn untag_resource(
        &self,
        region: &str,
        arn: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;

    fn list_tags(
        &self,
        region: &str,
        arn: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, LambdaError>> + Send;
}

/// One port call, as a decorator sees it.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    pub region: &'a str,
    /// Lambda's name for the operation (metrics label).
    pub operation: &'static str,
    pub kind: CallKind,
}

impl<'a> Call<'a> {
    pub fn read(region: &'a str, operation: &'static str) -> Self {
        Self {
            region,
            operation,
            kind: CallKind::Read,
        }
    }

    pub fn write(region: &'a str, operation: &'static str) -> Self {
        Self {
            region,
            operation,
            kind: CallKind::Write,
        }
    }
}

/// Every mapping a filter matches, following `NextMarker` to the last page.
pub async fn list_all<L: LambdaPort>(
    lambda: &L,
    region: &str,
    filter: &ListFilter,
) -> Result<Vec<ObservedMapping>, LambdaError> {
    let mut all = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = lambda
            .list_mappings(region, filter, marker.as_deref())
            .await?;
        all.extend(page.mappings);
        match page.next_marker {
            // A repeated marker would loop forever; Lambda never sends one, but be safe.
            Some(next) if Some(&next) != marker.as_ref() => marker = Some(next),
            _ => return Ok(all),
        }
    }
}
