//! The Lambda port: everything the controller asks of AWS Lambda, behind one trait.
//!
//! The controller only talks to [`LambdaPort`]. Production uses [`aws::AwsLambda`] (aws-sdk-lambda
//! with one client per lane, see [`Connect`]); tests plug in the in-memory model. Errors are
//! classified once, here, into [`ErrorKind`] so that no caller ever matches on AWS error codes.

/// Implements [`LambdaPort`] for a decorator `$ty<L>` that has a field `inner: L` and a method
/// `async fn around<T>(&self, call: Call, inner: impl Future<Output = Result<T, LambdaError>>)
/// -> Result<T, LambdaError>`. Every port method passes through `around`; the operation's name
/// and whether it writes are stated here, once, for every decorator.
macro_rules! decorate_lambda_port {
    ($ty:ident) => {
        impl<L: $crate::lambda::LambdaPort> $crate::lambda::LambdaPort for $ty<L> {
            async fn create_mapping(
                &self,
                request: &$crate::lambda::MappingFields,
            ) -> Result<$crate::lambda::ObservedMapping, $crate::lambda::LambdaError> {
                let call = $crate::lambda::Call::new($crate::lambda::Op::Create);
                self.around(call, self.inner.create_mapping(request)).await
            }
            async fn get_mapping(
                &self,
                uuid: &str,
            ) -> Result<$crate::lambda::ObservedMapping, $crate::lambda::LambdaError> {
                let call = $crate::lambda::Call::new($crate::lambda::Op::Get);
                self.around(call, self.inner.get_mapping(uuid)).await
            }
            async fn update_mapping(
                &self,
                uuid: &str,
                patch: &$crate::lambda::MappingFields,
            ) -> Result<$crate::lambda::ObservedMapping, $crate::lambda::LambdaError> {
                let call = $crate::lambda::Call::new($crate::lambda::Op::Update);
                self.around(call, self.inner.update_mapping(uuid, patch))
                    .await
            }
            async fn delete_mapping(
                &self,
                uuid: &str,
            ) -> Result<$crate::lambda::ObservedMapping, $crate::lambda::LambdaError> {
                let call = $crate::lambda::Call::new($crate::lambda::Op::Delete);
                self.around(call, self.inner.delete_mapping(uuid)).await
            }
            async fn list_mappings(
                &self,
                filter: &$crate::lambda::ListFilter,
                marker: Option<&str>,
            ) -> Result<$crate::lambda::MappingPage, $crate::lambda::LambdaError> {
                let call = $crate::lambda::Call::new($crate::lambda::Op::List);
                self.around(call, self.inner.list_mappings(filter, marker))
                    .await
            }
            async fn tag_resource(
                &self,
                arn: &str,
                tags: &std::collections::BTreeMap<String, String>,
            ) -> Result<(), $crate::lambda::LambdaError> {
                let call = $crate::lambda::Call::new($crate::lambda::Op::Tag);
                self.around(call, self.inner.tag_resource(arn, tags)).await
            }
            async fn untag_resource(
                &self,
                arn: &str,
                keys: &[String],
            ) -> Result<(), $crate::lambda::LambdaError> {
                let call = $crate::lambda::Call::new($crate::lambda::Op::Untag);
                self.around(call, self.inner.untag_resource(arn, keys))
                    .await
            }
            async fn list_tags(
                &self,
                arn: &str,
            ) -> Result<std::collections::BTreeMap<String, String>, $crate::lambda::LambdaError>
            {
                let call = $crate::lambda::Call::new($crate::lambda::Op::ListTags);
                self.around(call, self.inner.list_tags(arn)).await
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

pub use budget::{Budget, Budgeted, Budgeting, CallKind};
pub use error::{ErrorKind, LambdaError, Op, classify, conflicting_uuid, is_throttle_code};
pub use guarded::{Guarded, Guarding, NOT_LEADER};
pub use metered::{Metered, Metering};
pub use types::*;

/// Where Lambda calls go: one AWS account (the controller's own identity, or an account
/// binding's role) and one region. Everything that exists once per lane (the SDK client and its
/// credentials, the request budget, the List sweep and its cache) is built for a lane, not
/// looked up per call.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LaneKey {
    /// `None`: the controller's own identity.
    pub account: Option<AccountRole>,
    pub region: String,
}

/// The role of an account binding, as a lane uses it. Two bindings that differ in anything
/// here get lanes of their own.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountRole {
    /// The LambdaAccount's name.
    pub binding: String,
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_tags: BTreeMap<String, String>,
    /// The binding's request budget per region, in thousandths of a request per second (a
    /// float is no map key); `None`: the controller's.
    pub millirequests_per_second: Option<u32>,
}

impl AccountRole {
    /// The account ID in the role ARN (`arn:<partition>:iam::<account>:role/<name>`).
    pub fn account_id(&self) -> &str {
        crate::api::arn_account(&self.role_arn).unwrap_or_default()
    }

    /// The binding's request budget per region, if it sets one.
    pub fn requests_per_second(&self) -> Option<f64> {
        self.millirequests_per_second
            .map(|milli| f64::from(milli) / 1000.0)
    }
}

impl LaneKey {
    /// The lane of a region, in the controller's own identity.
    pub fn region(region: impl Into<String>) -> Self {
        Self {
            account: None,
            region: region.into(),
        }
    }

    /// The account label of the lane's metrics and logs: the account ID, or `own`.
    pub fn account_label(&self) -> &str {
        self.account.as_ref().map_or("own", AccountRole::account_id)
    }
}

impl std::fmt::Display for LaneKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.account {
            None => f.write_str(&self.region),
            Some(role) => write!(f, "{} in account {}", self.region, role.account_id()),
        }
    }
}

/// Builds the Lambda port of a lane. Production chains the AWS adapter with the budget and the
/// metrics; tests connect to the emulator's model of the lane's region.
pub trait Connect: Send + Sync + 'static {
    type Port: LambdaPort;
    fn connect(&self, lane: &LaneKey) -> Self::Port;

    /// Whether the controller can assume the binding's role now: `Err` carries STS's own
    /// error, for the binding's status. Connectors without accounts accept every role.
    fn check_role(&self, _role: &AccountRole) -> impl Future<Output = Result<(), String>> + Send {
        async { Ok(()) }
    }
}

/// Lambda's event source mapping and tagging API, in one lane.
pub trait LambdaPort: Send + Sync + 'static {
    fn create_mapping(
        &self,
        request: &MappingFields,
    ) -> impl Future<Output = Result<ObservedMapping, LambdaError>> + Send;

    fn get_mapping(
        &self,
        uuid: &str,
    ) -> impl Future<Output = Result<ObservedMapping, LambdaError>> + Send;

    fn update_mapping(
        &self,
        uuid: &str,
        patch: &MappingFields,
    ) -> impl Future<Output = Result<ObservedMapping, LambdaError>> + Send;

    fn delete_mapping(
        &self,
        uuid: &str,
    ) -> impl Future<Output = Result<ObservedMapping, LambdaError>> + Send;

    /// One page of ListEventSourceMappings; pass the previous page's `next_marker` to continue.
    fn list_mappings(
        &self,
        filter: &ListFilter,
        marker: Option<&str>,
    ) -> impl Future<Output = Result<MappingPage, LambdaError>> + Send;

    fn tag_resource(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;

    fn untag_resource(
        &self,
        arn: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<(), LambdaError>> + Send;

    fn list_tags(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, LambdaError>> + Send;
}

/// One port call, as a decorator sees it.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    pub operation: Op,
    pub kind: CallKind,
}

impl Call {
    pub fn new(operation: Op) -> Self {
        let kind = if operation.writes() {
            CallKind::Write
        } else {
            CallKind::Read
        };
        Self { operation, kind }
    }
}

/// Every mapping a filter matches, following `NextMarker` to the last page.
pub async fn list_all<L: LambdaPort>(
    lambda: &L,
    filter: &ListFilter,
) -> Result<Vec<ObservedMapping>, LambdaError> {
    let mut all = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = lambda.list_mappings(filter, marker.as_deref()).await?;
        all.extend(page.mappings);
        match page.next_marker {
            // A repeated marker would loop forever; Lambda never sends one, but be safe.
            Some(next) if Some(&next) != marker.as_ref() => marker = Some(next),
            _ => return Ok(all),
        }
    }
}
