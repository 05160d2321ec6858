//! [`LambdaPort`] over the real `aws-sdk-lambda`.
//!
//! One [`SdkConfig`] is loaded once from aws-config's default chain (environment, shared
//! profile, IRSA web identity, EKS Pod Identity / ECS container credentials, IMDS); an
//! `aws_sdk_lambda::Client` is built lazily for each region the controller touches and kept.
//!
//! The rest is translation, in submodules: `request` (with `to_sdk` for the nested types)
//! puts [`MappingFields`] onto the SDK's fluent builders field by field, `response` turns every
//! SDK output shape back into [`ObservedMapping`], and `sdk_error` turns `SdkError` into a
//! classified [`LambdaError`]. The SDK's standard retry policy (3 attempts, throttling and 5xx)
//! stays on unless [`AwsSettings::max_attempts`] says otherwise.
//! Nothing here logs request bodies or credentials.

mod request;
mod response;
mod sdk_error;
mod to_sdk;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_lambda::Client;
use aws_smithy_types::timeout::TimeoutConfig;

use super::{
    AccountRole, Connect, LambdaError, LambdaPort, LaneKey, ListFilter, MappingFields, MappingPage,
    ObservedMapping, Op,
};

use super::Op::{
    Create as CREATE, Delete as DELETE, Get as GET, List as LIST, ListTags as LIST_TAGS,
    Tag as TAG, Untag as UNTAG, Update as UPDATE,
};

use request::{create_request, update_request};
use response::SdkMapping;
use sdk_error::{chain, client_validation, sdk_error};
use to_sdk::to_hash_map;

pub use sdk_error::CLIENT_VALIDATION;

/// Lambda returns at most 100 mappings per page whatever is asked (semantics §7.2).
const PAGE_SIZE: i32 = 100;

/// Bounds one HTTP attempt. The SDK sets only a connect timeout by default, so a connection
/// that stalls after connecting would hold a reconcile forever. Timeouts are retried by the
/// SDK like other transient failures. Lambda's control plane answers in well under a second;
/// 30 s leaves room for a slow region without letting one call hold a reconcile for minutes.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bounds a whole call, the SDK's own retries included (3 attempts when
/// [`AwsSettings::max_attempts`] is unset; the controller makes one).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(90);

/// Bounds opening a connection (DNS, TCP, TLS). An endpoint that does not accept within a few
/// seconds is unreachable; the call fails and its resource is retried with backoff.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings from the command line / environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// The Lambda endpoint (tests, emulators); wins over any endpoint configured in the
    /// environment. Without it aws-config's own endpoint configuration applies:
    /// `AWS_ENDPOINT_URL_LAMBDA`, then `AWS_ENDPOINT_URL`, then the profile's `services` section.
    pub endpoint_url: Option<String>,
    /// Region for resources that name none; falls back to the default chain's region.
    pub default_region: Option<String>,
    /// Attempts per call, retries included. `None` keeps the SDK's standard policy (3). The
    /// controller uses 1: its shared budget must see every throttle, and its per-object backoff
    /// does the retrying, so that one governor decides how fast Lambda is called.
    pub max_attempts: Option<u32>,
    /// The STS session name for account bindings' roles: it names the cluster and the
    /// controller in CloudTrail (see [`session_name`]).
    pub session_name: String,
    /// How long the credentials of an assumed role last (STS `DurationSeconds`); `None`: STS's
    /// default, one hour. The SDK refreshes them shortly before they expire.
    pub session_length: Option<Duration>,
}

/// The STS role session name of a controller in `cluster`: `esm-controller@<cluster>`, with
/// characters STS refuses replaced by `-` and cut to STS's 64.
pub fn session_name(cluster: &str) -> String {
    let name: String = format!("esm-controller@{cluster}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    name
}

/// Production [`Connect`]: the shared AWS configuration, from which each lane gets its own
/// client ([`AwsLane`]). Cheap to clone.
#[derive(Clone)]
pub struct AwsLambda {
    inner: Arc<Inner>,
}

/// Production [`LambdaPort`] of one lane: aws-sdk-lambda's client for the lane's region.
pub struct AwsLane {
    region: String,
    /// `Err` when the lane's region is not a region name: every call is refused before AWS.
    client: Result<Client, String>,
}

struct Inner {
    config: SdkConfig,
    /// Set on each Lambda client's own config (which beats every environment/profile endpoint),
    /// so that it only ever applies to Lambda.
    endpoint_url: Option<String>,
    default_region: Option<String>,
    max_attempts: Option<u32>,
    session_name: String,
    session_length: Option<Duration>,
}

impl fmt::Debug for AwsLambda {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsLambda")
            .field("default_region", &self.default_region())
            .field("endpoint_url", &self.inner.endpoint_url)
            .finish_non_exhaustive()
    }
}

impl AwsLambda {
    /// Loads the shared AWS configuration from the default chain. Credentials are resolved
    /// lazily (and cached by the SDK); call [`AwsLambda::check_credentials`] to fail early.
    pub async fn new(settings: AwsSettings) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &settings.default_region {
            // Also used by the credential chain itself (e.g. the regional STS endpoint for IRSA).
            loader = loader.region(Region::new(region.clone()));
        }
        Self::with_config(loader.load().await, settings)
    }

    fn with_config(config: SdkConfig, settings: AwsSettings) -> Self {
        let default_region = settings
            .default_region
            .or_else(|| config.region().map(|r| r.as_ref().to_string()));
        Self {
            inner: Arc::new(Inner {
                config,
                endpoint_url: settings.endpoint_url,
                default_region,
                max_attempts: settings.max_attempts,
                session_name: if settings.session_name.is_empty() {
                    session_name("default")
                } else {
                    settings.session_name
                },
                session_length: settings.session_length,
            }),
        }
    }

    /// The region for resources that do not name one: the setting, else the chain's region.
    pub fn default_region(&self) -> Option<String> {
        self.inner.default_region.clone()
    }

    /// Resolves credentials from the default chain once. The error is a message for humans
    /// (it names the sources tried, never a secret); the caller exits non-zero on it.
    pub async fn check_credentials(&self) -> Result<(), String> {
        use aws_sdk_lambda::config::ProvideCredentials;

        const CHAIN: &str = "the default chain looks at AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
             the shared config and credentials files (AWS_PROFILE), web identity (IRSA: \
             AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE), EKS Pod Identity / ECS container \
             credentials, and EC2 instance metadata (IMDS)";
        let Some(provider) = self.inner.config.credentials_provider() else {
            return Err(format!(
                "no AWS credentials provider is configured; {CHAIN}"
            ));
        };
        match provider.provide_credentials().await {
            Ok(_) => Ok(()),
            Err(err) => Err(format!(
                "no usable AWS credentials found ({}); {CHAIN}",
                chain(&err)
            )),
        }
    }

    /// The client of a lane: its region, and the binding's role if it has one.
    fn client(&self, lane: &LaneKey) -> Result<Client, String> {
        let region = lane.region.as_str();
        let valid = !region.is_empty()
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            return Err(format!("{region:?} is not an AWS region name"));
        }
        let mut config = aws_sdk_lambda::config::Builder::from(&self.inner.config)
            .region(Region::new(region.to_string()));
        if let Some(url) = &self.inner.endpoint_url {
            config = config.endpoint_url(url.clone());
        }
        if let Some(role) = &lane.account {
            // The client's identity cache keeps the role's credentials and refreshes them
            // before they expire; STS is asked in the lane's own region.
            config = config.credentials_provider(self.assume(role, Some(region)));
        }
        // Timeouts configured in the shared config win; ours only fills the gap.
        let ours = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT);
        let timeouts = match self.inner.config.timeout_config() {
            Some(shared) => shared.to_builder().take_unset_from(ours).build(),
            None => ours.build(),
        };
        if let Some(attempts) = self.inner.max_attempts {
            config = config.retry_config(
                aws_sdk_lambda::config::retry::RetryConfig::standard()
                    .with_max_attempts(attempts.max(1)),
            );
        }
        Ok(Client::from_conf(config.timeout_config(timeouts).build()))
    }
}

impl AwsLambda {
    /// The SDK's own assume-role provider for a binding's role, on top of the controller's
    /// base identity. Building it makes no call; STS is asked when credentials are needed.
    fn assume(
        &self,
        role: &AccountRole,
        region: Option<&str>,
    ) -> aws_sdk_lambda::config::SharedCredentialsProvider {
        use aws_config::sts::AssumeRoleProvider;
        use futures::FutureExt;

        let mut builder = AssumeRoleProvider::builder(role.role_arn.clone())
            .session_name(self.inner.session_name.clone())
            .configure(&self.inner.config);
        if let Some(region) = region {
            builder = builder.region(Region::new(region.to_string()));
        }
        if let Some(id) = &role.external_id {
            builder = builder.external_id(id.clone());
        }
        if let Some(length) = self.inner.session_length {
            builder = builder.session_length(length);
        }
        if !role.session_tags.is_empty() {
            builder = builder.tags(role.session_tags.clone());
        }
        // With a configuration given, `build` awaits nothing.
        let provider = builder
            .build()
            .now_or_never()
            .expect("a configured AssumeRoleProvider builds without waiting");
        aws_sdk_lambda::config::SharedCredentialsProvider::new(provider)
    }
}

impl Connect for AwsLambda {
    type Port = AwsLane;

    fn connect(&self, lane: &LaneKey) -> AwsLane {
        AwsLane {
            region: lane.region.clone(),
            client: self.client(lane),
        }
    }

    /// Assumes the role once, outside any lane's cache: STS's answer, as it is now.
    async fn check_role(&self, role: &AccountRole) -> Result<(), String> {
        use aws_sdk_lambda::config::ProvideCredentials;

        match self.assume(role, None).provide_credentials().await {
            Ok(_) => Ok(()),
            Err(err) => Err(chain(&err)),
        }
    }
}

impl AwsLane {
    fn client(&self, operation: Op) -> Result<&Client, LambdaError> {
        self.client
            .as_ref()
            .map_err(|message| client_validation(operation, message.clone()))
    }
}

impl LambdaPort for AwsLane {
    async fn create_mapping(
        &self,
        request: &MappingFields,
    ) -> Result<ObservedMapping, LambdaError> {
        tracing::debug!(
            operation = CREATE.name(),
            region = self.region,
            "calling Lambda"
        );
        let client = self.client(CREATE)?;
        let output = create_request(client, request)?
            .send()
            .await
            .map_err(|err| sdk_error(CREATE, err))?;
        Ok(output.into_observed())
    }

    async fn get_mapping(&self, uuid: &str) -> Result<ObservedMapping, LambdaError> {
        tracing::debug!(
            operation = GET.name(),
            region = self.region,
            uuid,
            "calling Lambda"
        );
        let output = self
            .client(GET)?
            .get_event_source_mapping()
            .uuid(uuid)
            .send()
            .await
            .map_err(|err| sdk_error(GET, err))?;
        Ok(output.into_observed())
    }

    async fn update_mapping(
        &self,
        uuid: &str,
        patch: &MappingFields,
    ) -> Result<ObservedMapping, LambdaError> {
        tracing::debug!(
            operation = UPDATE.name(),
            region = self.region,
            uuid,
            "calling Lambda"
        );
        let client = self.client(UPDATE)?;
        let output = update_request(client, uuid, patch)?
            .send()
            .await
            .map_err(|err| sdk_error(UPDATE, err))?;
        Ok(output.into_observed())
    }

    async fn delete_mapping(&self, uuid: &str) -> Result<ObservedMapping, LambdaError> {
        tracing::debug!(
            operation = DELETE.name(),
            region = self.region,
            uuid,
            "calling Lambda"
        );
        let output = self
            .client(DELETE)?
            .delete_event_source_mapping()
            .uuid(uuid)
            .send()
            .await
            .map_err(|err| sdk_error(DELETE, err))?;
        Ok(output.into_observed())
    }

    async fn list_mappings(
        &self,
        filter: &ListFilter,
        marker: Option<&str>,
    ) -> Result<MappingPage, LambdaError> {
        tracing::debug!(
            operation = LIST.name(),
            region = self.region,
            "calling Lambda"
        );
        let output = self
            .client(LIST)?
            .list_event_source_mappings()
            .set_event_source_arn(filter.event_source_arn.clone())
            .set_function_name(filter.function_name.clone())
            .set_marker(marker.map(str::to_string))
            .max_items(PAGE_SIZE)
            .send()
            .await
            .map_err(|err| sdk_error(LIST, err))?;
        Ok(MappingPage {
            next_marker: output.next_marker.filter(|m| !m.is_empty()),
            mappings: output
                .event_source_mappings
                .unwrap_or_default()
                .into_iter()
                .map(SdkMapping::into_observed)
                .collect(),
        })
    }

    /// An empty tag set is a no-op that never reaches AWS.
    async fn tag_resource(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), LambdaError> {
        if tags.is_empty() {
            return Ok(());
        }
        tracing::debug!(
            operation = TAG.name(),
            region = self.region,
            arn,
            "calling Lambda"
        );
        self.client(TAG)?
            .tag_resource()
            .resource(arn)
            .set_tags(Some(to_hash_map(tags)))
            .send()
            .await
            .map_err(|err| sdk_error(TAG, err))?;
        Ok(())
    }

    /// An empty key list is a no-op that never reaches AWS.
    async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), LambdaError> {
        if keys.is_empty() {
            return Ok(());
        }
        tracing::debug!(
            operation = UNTAG.name(),
            region = self.region,
            arn,
            "calling Lambda"
        );
        self.client(UNTAG)?
            .untag_resource()
            .resource(arn)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map_err(|err| sdk_error(UNTAG, err))?;
        Ok(())
    }

    async fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, LambdaError> {
        tracing::debug!(
            operation = LIST_TAGS.name(),
            region = self.region,
            arn,
            "calling Lambda"
        );
        let output = self
            .client(LIST_TAGS)?
            .list_tags()
            .resource(arn)
            .send()
            .await
            .map_err(|err| sdk_error(LIST_TAGS, err))?;
        Ok(output.tags.unwrap_or_default().into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::ErrorKind;

    #[tokio::test]
    #[allow(deprecated)] // ProfileFiles: its replacement lives in aws-runtime, not a dependency.
    async fn check_credentials_explains_what_is_missing() {
        use aws_config::profile::ProfileFileCredentialsProvider;
        use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
        use aws_sdk_lambda::config::SharedCredentialsProvider;

        let none = AwsLambda::with_config(SdkConfig::builder().build(), AwsSettings::default());
        let err = none.check_credentials().await.unwrap_err();
        assert!(err.contains("no AWS credentials provider"), "{err}");
        assert_eq!(none.default_region(), None);

        let missing = ProfileFileCredentialsProvider::builder()
            .profile_files(
                ProfileFiles::builder()
                    .with_file(ProfileFileKind::Credentials, "/nonexistent/credentials")
                    .with_file(ProfileFileKind::Config, "/nonexistent/config")
                    .build(),
            )
            .profile_name("ghost")
            .build();
        let config = SdkConfig::builder()
            .credentials_provider(SharedCredentialsProvider::new(missing))
            .region(Region::new("sa-east-1"))
            .build();
        let lambda = AwsLambda::with_config(config, AwsSettings::default());
        let err = lambda.check_credentials().await.unwrap_err();
        assert!(err.starts_with("no usable AWS credentials found"), "{err}");
        assert!(
            err.contains("/nonexistent/credentials"),
            "the chain's own reason is kept: {err}"
        );
        assert!(err.contains("IMDS") && err.contains("IRSA"), "{err}");
        // The chain's region is the fallback default region.
        assert_eq!(lambda.default_region().as_deref(), Some("sa-east-1"));

        let static_creds = SdkConfig::builder()
            .credentials_provider(SharedCredentialsProvider::new(
                aws_sdk_lambda::config::Credentials::for_tests(),
            ))
            .build();
        AwsLambda::with_config(static_creds, AwsSettings::default())
            .check_credentials()
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn settings_win_and_regions_are_validated() {
        let lambda = AwsLambda::new(AwsSettings {
            endpoint_url: Some("http://127.0.0.1:9".to_string()),
            default_region: Some("eu-west-3".to_string()),
            ..Default::default()
        })
        .await;
        assert_eq!(lambda.default_region().as_deref(), Some("eu-west-3"));
        let lane = lambda.connect(&LaneKey::region("ap-south-1"));
        let client = lane.client(GET).unwrap();
        assert_eq!(
            client.config().region().map(|r| r.as_ref()),
            Some("ap-south-1")
        );
        let timeouts = client.config().timeout_config().unwrap();
        // Every call is bounded, whole and per attempt, and so is connecting (the SDK's own
        // connect timeout, when its defaults set one, stays).
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(timeouts.operation_timeout(), Some(OPERATION_TIMEOUT));
        assert!(timeouts.connect_timeout().is_some());
        for bad in ["", "US-EAST-1", "us east 1", "../x"] {
            let err = lambda
                .connect(&LaneKey::region(bad))
                .client(GET)
                .unwrap_err();
            assert_eq!(
                (err.kind, err.code.as_str()),
                (ErrorKind::Invalid, CLIENT_VALIDATION)
            );
        }
    }
}
