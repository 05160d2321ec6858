//! The Lambda port: everything the controller asks of AWS Lambda, behind one trait.
//!
//! The controller only talks to [`LambdaPort`]. Production uses [`aws::AwsLambda`] (aws-sdk-lambda
//! with one lazily built client per region); tests plug in the in-memory model. Errors are
//! classified once, here, into [`ErrorKind`] so that no caller ever matches on AWS error codes.

pub mod aws;
mod budget;
mod error;
mod metered;
pub mod types;

use std::collections::BTreeMap;
use std::future::Future;

pub use budget::{Budget, Budgeted, CallKind};
pub use error::{ErrorKind, LambdaError, classify, conflicting_uuid};
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
