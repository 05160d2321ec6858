//! [`LambdaPort`] over the real `aws-sdk-lambda`.
//!
//! One [`SdkConfig`] is loaded once from aws-config's default chain (environment, shared
//! profile, IRSA web identity, EKS Pod Identity / ECS container credentials, IMDS); an
//! `aws_sdk_lambda::Client` is built lazily for each region the controller touches and kept.
//!
//! Everything here is translation: [`MappingFields`] onto the SDK's fluent builders field by
//! field, every SDK output shape back into [`ObservedMapping`], and `SdkError` into a classified
//! [`LambdaError`]. The SDK's standard retry policy (3 attempts, throttling and 5xx) stays on
//! unless [`AwsSettings::max_attempts`] says otherwise.
//! Nothing here logs request bodies or credentials.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::create_event_source_mapping::CreateEventSourceMappingError;
use aws_sdk_lambda::operation::create_event_source_mapping::builders::CreateEventSourceMappingFluentBuilder;
use aws_sdk_lambda::operation::delete_event_source_mapping::DeleteEventSourceMappingError;
use aws_sdk_lambda::operation::get_event_source_mapping::GetEventSourceMappingError;
use aws_sdk_lambda::operation::list_event_source_mappings::ListEventSourceMappingsError;
use aws_sdk_lambda::operation::list_tags::ListTagsError;
use aws_sdk_lambda::operation::tag_resource::TagResourceError;
use aws_sdk_lambda::operation::untag_resource::UntagResourceError;
use aws_sdk_lambda::operation::update_event_source_mapping::UpdateEventSourceMappingError;
use aws_sdk_lambda::operation::update_event_source_mapping::builders::UpdateEventSourceMappingFluentBuilder;
use aws_sdk_lambda::types as sdk;
use aws_smithy_types::DateTime;
use aws_smithy_types::timeout::TimeoutConfig;

use super::{
    Connect, DestinationConfig, DocumentDbEventSourceConfig, ErrorKind, Filter, FilterCriteria,
    FilterCriteriaError, KafkaEventSourceConfig, LambdaError, LambdaPort, LaneKey, ListFilter,
    LoggingConfig, MappingFields, MappingPage, MetricsConfig, ObservedMapping, Op,
    ProvisionedPollerConfig, ScalingConfig, SchemaRegistryConfig, SchemaValidationConfig,
    SelfManagedEventSource, SourceAccessConfiguration, classify,
};

use super::Op::{
    Create as CREATE, Delete as DELETE, Get as GET, List as LIST, ListTags as LIST_TAGS,
    Tag as TAG, Untag as UNTAG, Update as UPDATE,
};

/// The error code of requests this adapter refuses before they reach AWS (controller bugs).
pub const CLIENT_VALIDATION: &str = "ClientValidation";

/// Lambda returns at most 100 mappings per page whatever is asked (semantics §7.2).
const PAGE_SIZE: i32 = 100;

/// Bounds one HTTP attempt. The SDK sets only a connect timeout by default, so a connection
/// that stalls after connecting would hold a reconcile forever. Timeouts are retried by the
/// SDK like other transient failures.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

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

    /// The client for a region.
    fn client(&self, region: &str) -> Result<Client, String> {
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
        // Timeouts configured in the shared config win; ours only fills the gap.
        let ours = TimeoutConfig::builder().operation_attempt_timeout(ATTEMPT_TIMEOUT);
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

impl Connect for AwsLambda {
    type Port = AwsLane;

    fn connect(&self, lane: &LaneKey) -> AwsLane {
        AwsLane {
            region: lane.region.clone(),
            client: self.client(&lane.region),
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

// ---------------------------------------------------------------------------------------------
// Requests: MappingFields -> SDK builders
// ---------------------------------------------------------------------------------------------

/// Applies every field that both Create and Update take. The two SDK builders are different
/// types with the same setters, so this is a macro: a field added here reaches both requests.
macro_rules! set_updatable_fields {
    ($builder:expr, $f:expr, $operation:expr) => {
        $builder
            .set_function_name($f.function_name.clone())
            .set_enabled($f.enabled)
            .set_batch_size($f.batch_size)
            .set_filter_criteria($f.filter_criteria.as_ref().map(filter_criteria_to_sdk))
            .set_kms_key_arn($f.kms_key_arn.clone())
            .set_metrics_config($f.metrics_config.as_ref().map(metrics_config_to_sdk))
            .set_logging_config($f.logging_config.as_ref().map(logging_config_to_sdk))
            .set_scaling_config($f.scaling_config.as_ref().map(scaling_config_to_sdk))
            .set_maximum_batching_window_in_seconds($f.maximum_batching_window_in_seconds)
            .set_parallelization_factor($f.parallelization_factor)
            .set_destination_config(
                $f.destination_config
                    .as_ref()
                    .map(destination_config_to_sdk),
            )
            .set_maximum_record_age_in_seconds($f.maximum_record_age_in_seconds)
            .set_bisect_batch_on_function_error($f.bisect_batch_on_function_error)
            .set_maximum_retry_attempts($f.maximum_retry_attempts)
            .set_tumbling_window_in_seconds($f.tumbling_window_in_seconds)
            .set_source_access_configurations(
                $f.source_access_configurations
                    .as_deref()
                    .map(source_access_configurations_to_sdk),
            )
            .set_function_response_types(
                $f.function_response_types
                    .as_deref()
                    .map(function_response_types_to_sdk),
            )
            .set_amazon_managed_kafka_event_source_config(
                $f.amazon_managed_kafka_event_source_config
                    .as_ref()
                    .map(|c| msk_config_to_sdk($operation, c))
                    .transpose()?,
            )
            .set_self_managed_kafka_event_source_config(
                $f.self_managed_kafka_event_source_config
                    .as_ref()
                    .map(smk_config_to_sdk),
            )
            .set_document_db_event_source_config(
                $f.document_db_event_source_config
                    .as_ref()
                    .map(document_db_config_to_sdk),
            )
            .set_provisioned_poller_config(
                $f.provisioned_poller_config
                    .as_ref()
                    .map(provisioned_poller_config_to_sdk),
            )
    };
}

fn create_request(
    client: &Client,
    f: &MappingFields,
) -> Result<CreateEventSourceMappingFluentBuilder, LambdaError> {
    let timestamp = f
        .starting_position_timestamp
        .map(|secs| to_datetime(CREATE, "StartingPositionTimestamp", secs))
        .transpose()?;
    let builder = client
        .create_event_source_mapping()
        .set_event_source_arn(f.event_source_arn.clone())
        .set_starting_position(
            f.starting_position
                .as_deref()
                .map(sdk::EventSourcePosition::from),
        )
        .set_starting_position_timestamp(timestamp)
        .set_tags(f.tags.as_ref().map(to_hash_map))
        .set_topics(f.topics.clone())
        .set_queues(f.queues.clone())
        .set_self_managed_event_source(
            f.self_managed_event_source
                .as_ref()
                .map(self_managed_event_source_to_sdk),
        );
    Ok(set_updatable_fields!(builder, f, CREATE))
}

/// Fields that UpdateEventSourceMapping does not take: the create-only ones and tags. Finding
/// one in a patch is a controller bug (the planner must stall instead), and the SDK's Update
/// builder would silently drop most of them, so the patch never reaches AWS.
fn fields_update_cannot_take(f: &MappingFields) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = f.create_only_set().map(|c| c.wire_name).collect();
    // Tags can change after creation, but only through TagResource and UntagResource.
    if f.tags.is_some() {
        names.push("Tags");
    }
    names
}

fn update_request(
    client: &Client,
    uuid: &str,
    f: &MappingFields,
) -> Result<UpdateEventSourceMappingFluentBuilder, LambdaError> {
    let refused = fields_update_cannot_take(f);
    if !refused.is_empty() {
        return Err(client_validation(
            UPDATE,
            format!(
                "{} cannot be changed by UpdateEventSourceMapping (create-only; tags go through \
                 TagResource); refusing to send the patch",
                refused.join(", ")
            ),
        ));
    }
    let builder = client.update_event_source_mapping().uuid(uuid);
    Ok(set_updatable_fields!(builder, f, UPDATE))
}

fn client_validation(operation: Op, message: String) -> LambdaError {
    LambdaError {
        kind: ErrorKind::Invalid,
        operation,
        code: CLIENT_VALIDATION.to_string(),
        message,
        retry_after: None,
        throttled: false,
    }
}

fn to_datetime(operation: Op, field: &str, secs: f64) -> Result<DateTime, LambdaError> {
    if secs.is_finite() {
        Ok(DateTime::from_secs_f64(secs))
    } else {
        Err(client_validation(
            operation,
            format!("{field} must be a finite number of epoch seconds, got {secs}"),
        ))
    }
}

fn to_hash_map(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// `FilterCriteria {}` and `FilterCriteria { Filters: [] }` both become `{}` on the wire, the
/// form that clears the filters in an Update (semantics §6.6).
fn filter_criteria_to_sdk(c: &FilterCriteria) -> sdk::FilterCriteria {
    let filters = c.filters.as_deref().filter(|f| !f.is_empty()).map(|f| {
        f.iter()
            .map(|filter| {
                sdk::Filter::builder()
                    .set_pattern(filter.pattern.clone())
                    .build()
            })
            .collect()
    });
    sdk::FilterCriteria::builder().set_filters(filters).build()
}

fn metrics_config_to_sdk(c: &MetricsConfig) -> sdk::EventSourceMappingMetricsConfig {
    sdk::EventSourceMappingMetricsConfig::builder()
        .set_metrics(c.metrics.as_ref().map(|m| {
            m.iter()
                .map(|s| sdk::EventSourceMappingMetric::from(s.as_str()))
                .collect()
        }))
        .build()
}

fn logging_config_to_sdk(c: &LoggingConfig) -> sdk::EventSourceMappingLoggingConfig {
    sdk::EventSourceMappingLoggingConfig::builder()
        .set_system_log_level(
            c.system_log_level
                .as_deref()
                .map(sdk::EventSourceMappingSystemLogLevel::from),
        )
        .build()
}

fn scaling_config_to_sdk(c: &ScalingConfig) -> sdk::ScalingConfig {
    sdk::ScalingConfig::builder()
        .set_maximum_concurrency(c.maximum_concurrency)
        .build()
}

fn destination_config_to_sdk(c: &DestinationConfig) -> sdk::DestinationConfig {
    sdk::DestinationConfig::builder()
        .set_on_failure(c.on_failure.as_ref().map(|d| {
            sdk::OnFailure::builder()
                .set_destination(d.destination.clone())
                .build()
        }))
        .set_on_success(c.on_success.as_ref().map(|d| {
            sdk::OnSuccess::builder()
                .set_destination(d.destination.clone())
                .build()
        }))
        .build()
}

fn source_access_configurations_to_sdk(
    list: &[SourceAccessConfiguration],
) -> Vec<sdk::SourceAccessConfiguration> {
    list.iter()
        .map(|c| {
            sdk::SourceAccessConfiguration::builder()
                .set_type(c.kind.as_deref().map(sdk::SourceAccessType::from))
                .set_uri(c.uri.clone())
                .build()
        })
        .collect()
}

fn self_managed_event_source_to_sdk(s: &SelfManagedEventSource) -> sdk::SelfManagedEventSource {
    sdk::SelfManagedEventSource::builder()
        .set_endpoints(s.endpoints.as_ref().map(|endpoints| {
            endpoints
                .iter()
                .map(|(k, v)| (sdk::EndPointType::from(k.as_str()), v.clone()))
                .collect()
        }))
        .build()
}

fn function_response_types_to_sdk(list: &[String]) -> Vec<sdk::FunctionResponseType> {
    list.iter()
        .map(|s| sdk::FunctionResponseType::from(s.as_str()))
        .collect()
}

/// The MSK config has no `ConsumptionMode`; refuse rather than silently drop one.
fn msk_config_to_sdk(
    operation: Op,
    c: &KafkaEventSourceConfig,
) -> Result<sdk::AmazonManagedKafkaEventSourceConfig, LambdaError> {
    if c.consumption_mode.is_some() {
        return Err(client_validation(
            operation,
            "AmazonManagedKafkaEventSourceConfig has no ConsumptionMode (only \
             SelfManagedKafkaEventSourceConfig does)"
                .to_string(),
        ));
    }
    Ok(sdk::AmazonManagedKafkaEventSourceConfig::builder()
        .set_consumer_group_id(c.consumer_group_id.clone())
        .set_schema_registry_config(
            c.schema_registry_config
                .as_ref()
                .map(schema_registry_to_sdk),
        )
        .build())
}

fn smk_config_to_sdk(c: &KafkaEventSourceConfig) -> sdk::SelfManagedKafkaEventSourceConfig {
    sdk::SelfManagedKafkaEventSourceConfig::builder()
        .set_consumer_group_id(c.consumer_group_id.clone())
        .set_schema_registry_config(
            c.schema_registry_config
                .as_ref()
                .map(schema_registry_to_sdk),
        )
        .set_consumption_mode(
            c.consumption_mode
                .as_deref()
                .map(sdk::KafkaEventSourceMappingConsumptionMode::from),
        )
        .build()
}

fn schema_registry_to_sdk(c: &SchemaRegistryConfig) -> sdk::KafkaSchemaRegistryConfig {
    sdk::KafkaSchemaRegistryConfig::builder()
        .set_schema_registry_uri(c.schema_registry_uri.clone())
        .set_event_record_format(
            c.event_record_format
                .as_deref()
                .map(sdk::SchemaRegistryEventRecordFormat::from),
        )
        .set_access_configs(c.access_configs.as_ref().map(|list| {
            list.iter()
                .map(|a| {
                    sdk::KafkaSchemaRegistryAccessConfig::builder()
                        .set_type(
                            a.kind
                                .as_deref()
                                .map(sdk::KafkaSchemaRegistryAuthType::from),
                        )
                        .set_uri(a.uri.clone())
                        .build()
                })
                .collect()
        }))
        .set_schema_validation_configs(c.schema_validation_configs.as_ref().map(|list| {
            list.iter()
                .map(|v| {
                    sdk::KafkaSchemaValidationConfig::builder()
                        .set_attribute(
                            v.attribute
                                .as_deref()
                                .map(sdk::KafkaSchemaValidationAttribute::from),
                        )
                        .build()
                })
                .collect()
        }))
        .build()
}

fn document_db_config_to_sdk(c: &DocumentDbEventSourceConfig) -> sdk::DocumentDbEventSourceConfig {
    sdk::DocumentDbEventSourceConfig::builder()
        .set_database_name(c.database_name.clone())
        .set_collection_name(c.collection_name.clone())
        .set_full_document(c.full_document.as_deref().map(sdk::FullDocument::from))
        .build()
}

fn provisioned_poller_config_to_sdk(c: &ProvisionedPollerConfig) -> sdk::ProvisionedPollerConfig {
    sdk::ProvisionedPollerConfig::builder()
        .set_minimum_pollers(c.minimum_pollers)
        .set_maximum_pollers(c.maximum_pollers)
        .set_poller_group_name(c.poller_group_name.clone())
        .build()
}

// ---------------------------------------------------------------------------------------------
// Responses: SDK outputs -> ObservedMapping
// ---------------------------------------------------------------------------------------------

/// The five SDK shapes that carry a mapping (Create/Get/Update/Delete outputs and the List
/// item) have identical public fields; one conversion serves them all.
///
/// Lists keep the wire's distinction: absent stays `None`, `[]` stays `Some(vec![])` (Lambda
/// sends `FunctionResponseTypes: []` when unset), exactly as the JSON-consuming model sees it.
trait SdkMapping {
    fn into_observed(self) -> ObservedMapping;
}

macro_rules! sdk_mapping {
    ($($shape:ty),+ $(,)?) => {$(
        impl SdkMapping for $shape {
            fn into_observed(self) -> ObservedMapping {
                ObservedMapping {
                    uuid: self.uuid.unwrap_or_default(),
                    arn: self.event_source_mapping_arn,
                    function_arn: self.function_arn,
                    state: self.state,
                    state_transition_reason: self.state_transition_reason,
                    last_modified: self.last_modified.map(|t| t.as_secs_f64()),
                    last_processing_result: self.last_processing_result,
                    filter_criteria_error: self
                        .filter_criteria_error
                        .map(filter_criteria_error_from_sdk),
                    fields: MappingFields {
                        event_source_arn: self.event_source_arn,
                        // Not echoed by Lambda: see FunctionArn, State and ListTags instead.
                        function_name: None,
                        enabled: None,
                        tags: None,
                        batch_size: self.batch_size,
                        filter_criteria: self.filter_criteria.map(filter_criteria_from_sdk),
                        kms_key_arn: self.kms_key_arn,
                        metrics_config: self.metrics_config.map(metrics_config_from_sdk),
                        logging_config: self.logging_config.map(logging_config_from_sdk),
                        scaling_config: self.scaling_config.map(scaling_config_from_sdk),
                        maximum_batching_window_in_seconds: self
                            .maximum_batching_window_in_seconds,
                        parallelization_factor: self.parallelization_factor,
                        starting_position: self.starting_position.map(|p| p.as_str().to_string()),
                        starting_position_timestamp: self
                            .starting_position_timestamp
                            .map(|t| t.as_secs_f64()),
                        destination_config: self
                            .destination_config
                            .map(destination_config_from_sdk),
                        maximum_record_age_in_seconds: self.maximum_record_age_in_seconds,
                        bisect_batch_on_function_error: self.bisect_batch_on_function_error,
                        maximum_retry_attempts: self.maximum_retry_attempts,
                        tumbling_window_in_seconds: self.tumbling_window_in_seconds,
                        topics: self.topics,
                        queues: self.queues,
                        source_access_configurations: self
                            .source_access_configurations
                            .map(source_access_configurations_from_sdk),
                        self_managed_event_source: self
                            .self_managed_event_source
                            .map(self_managed_event_source_from_sdk),
                        function_response_types: self
                            .function_response_types
                            .map(|l| l.iter().map(|t| t.as_str().to_string()).collect()),
                        amazon_managed_kafka_event_source_config: self
                            .amazon_managed_kafka_event_source_config
                            .map(msk_config_from_sdk),
                        self_managed_kafka_event_source_config: self
                            .self_managed_kafka_event_source_config
                            .map(smk_config_from_sdk),
                        document_db_event_source_config: self
                            .document_db_event_source_config
                            .map(document_db_config_from_sdk),
                        provisioned_poller_config: self
                            .provisioned_poller_config
                            .map(provisioned_poller_config_from_sdk),
                    },
                }
            }
        }
    )+};
}

sdk_mapping!(
    aws_sdk_lambda::operation::create_event_source_mapping::CreateEventSourceMappingOutput,
    aws_sdk_lambda::operation::get_event_source_mapping::GetEventSourceMappingOutput,
    aws_sdk_lambda::operation::update_event_source_mapping::UpdateEventSourceMappingOutput,
    aws_sdk_lambda::operation::delete_event_source_mapping::DeleteEventSourceMappingOutput,
    sdk::EventSourceMappingConfiguration,
);

fn filter_criteria_error_from_sdk(e: sdk::FilterCriteriaError) -> FilterCriteriaError {
    FilterCriteriaError {
        error_code: e.error_code,
        message: e.message,
    }
}

fn filter_criteria_from_sdk(c: sdk::FilterCriteria) -> FilterCriteria {
    FilterCriteria {
        filters: c.filters.map(|list| {
            list.into_iter()
                .map(|f| Filter { pattern: f.pattern })
                .collect()
        }),
    }
}

fn metrics_config_from_sdk(c: sdk::EventSourceMappingMetricsConfig) -> MetricsConfig {
    MetricsConfig {
        metrics: c
            .metrics
            .map(|list| list.iter().map(|m| m.as_str().to_string()).collect()),
    }
}

fn logging_config_from_sdk(c: sdk::EventSourceMappingLoggingConfig) -> LoggingConfig {
    LoggingConfig {
        system_log_level: c.system_log_level.map(|l| l.as_str().to_string()),
    }
}

fn scaling_config_from_sdk(c: sdk::ScalingConfig) -> ScalingConfig {
    ScalingConfig {
        maximum_concurrency: c.maximum_concurrency,
    }
}

fn destination_config_from_sdk(c: sdk::DestinationConfig) -> DestinationConfig {
    DestinationConfig {
        on_failure: c.on_failure.map(|d| super::Destination {
            destination: d.destination,
        }),
        on_success: c.on_success.map(|d| super::Destination {
            destination: d.destination,
        }),
    }
}

fn source_access_configurations_from_sdk(
    list: Vec<sdk::SourceAccessConfiguration>,
) -> Vec<SourceAccessConfiguration> {
    list.into_iter()
        .map(|c| SourceAccessConfiguration {
            kind: c.r#type.map(|t| t.as_str().to_string()),
            uri: c.uri,
        })
        .collect()
}

fn self_managed_event_source_from_sdk(s: sdk::SelfManagedEventSource) -> SelfManagedEventSource {
    SelfManagedEventSource {
        endpoints: s.endpoints.map(|endpoints| {
            endpoints
                .into_iter()
                .map(|(k, v)| (k.as_str().to_string(), v))
                .collect()
        }),
    }
}

fn msk_config_from_sdk(c: sdk::AmazonManagedKafkaEventSourceConfig) -> KafkaEventSourceConfig {
    KafkaEventSourceConfig {
        consumer_group_id: c.consumer_group_id,
        schema_registry_config: c.schema_registry_config.map(schema_registry_from_sdk),
        consumption_mode: None,
    }
}

fn smk_config_from_sdk(c: sdk::SelfManagedKafkaEventSourceConfig) -> KafkaEventSourceConfig {
    KafkaEventSourceConfig {
        consumer_group_id: c.consumer_group_id,
        schema_registry_config: c.schema_registry_config.map(schema_registry_from_sdk),
        consumption_mode: c.consumption_mode.map(|m| m.as_str().to_string()),
    }
}

fn schema_registry_from_sdk(c: sdk::KafkaSchemaRegistryConfig) -> SchemaRegistryConfig {
    SchemaRegistryConfig {
        schema_registry_uri: c.schema_registry_uri,
        event_record_format: c.event_record_format.map(|f| f.as_str().to_string()),
        access_configs: c.access_configs.map(|list| {
            list.into_iter()
                .map(|a| SourceAccessConfiguration {
                    kind: a.r#type.map(|t| t.as_str().to_string()),
                    uri: a.uri,
                })
                .collect()
        }),
        schema_validation_configs: c.schema_validation_configs.map(|list| {
            list.into_iter()
                .map(|v| SchemaValidationConfig {
                    attribute: v.attribute.map(|a| a.as_str().to_string()),
                })
                .collect()
        }),
    }
}

fn document_db_config_from_sdk(c: sdk::DocumentDbEventSourceConfig) -> DocumentDbEventSourceConfig {
    DocumentDbEventSourceConfig {
        database_name: c.database_name,
        collection_name: c.collection_name,
        full_document: c.full_document.map(|d| d.as_str().to_string()),
    }
}

fn provisioned_poller_config_from_sdk(c: sdk::ProvisionedPollerConfig) -> ProvisionedPollerConfig {
    ProvisionedPollerConfig {
        minimum_pollers: c.minimum_pollers,
        maximum_pollers: c.maximum_pollers,
        poller_group_name: c.poller_group_name,
    }
}

// ---------------------------------------------------------------------------------------------
// Errors: SdkError -> LambdaError
// ---------------------------------------------------------------------------------------------

/// The modelled `Retry-After` of an operation's `TooManyRequestsException`.
trait Throttling {
    fn retry_after_seconds(&self) -> Option<&str>;
}

macro_rules! throttling {
    ($($error:ty),+ $(,)?) => {$(
        impl Throttling for $error {
            fn retry_after_seconds(&self) -> Option<&str> {
                match self {
                    Self::TooManyRequestsException(e) => e.retry_after_seconds(),
                    _ => None,
                }
            }
        }
    )+};
}

throttling!(
    CreateEventSourceMappingError,
    GetEventSourceMappingError,
    UpdateEventSourceMappingError,
    DeleteEventSourceMappingError,
    ListEventSourceMappingsError,
    TagResourceError,
    UntagResourceError,
    ListTagsError,
);

/// Classifies an SDK failure. Service errors carry Lambda's code and message; transport
/// failures get a short code ("timeout", "dispatch failure", …) and the error chain as message
/// (which never contains the request body or credentials).
fn sdk_error<E>(operation: Op, err: SdkError<E, HttpResponse>) -> LambdaError
where
    E: ProvideErrorMetadata + Throttling + std::error::Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let header_retry_after = err
        .raw_response()
        .and_then(|r| r.headers().get("retry-after"))
        .and_then(parse_retry_after);
    let (code, message, retry_after) = match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = match (e.code(), status) {
                (Some(code), _) => code.to_string(),
                (None, Some(status)) => format!("HTTP {status}"),
                (None, None) => "unknown service error".to_string(),
            };
            let message = e
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| code.clone());
            let retry_after = e
                .retry_after_seconds()
                .and_then(parse_retry_after)
                .or(header_retry_after);
            (code, message, retry_after)
        }
        SdkError::ConstructionFailure(_) => {
            // The request could not even be built: deterministic, never worth retrying.
            return LambdaError {
                kind: ErrorKind::Invalid,
                operation,
                code: "construction failure".to_string(),
                message: chain(&err),
                retry_after: None,
                throttled: false,
            };
        }
        SdkError::TimeoutError(_) => ("timeout".to_string(), chain(&err), None),
        SdkError::DispatchFailure(failure) => {
            let code = if failure.is_timeout() {
                "timeout"
            } else if failure.is_io() {
                "connection failure"
            } else {
                "dispatch failure"
            };
            (code.to_string(), chain(&err), None)
        }
        SdkError::ResponseError(_) => (
            "response error".to_string(),
            chain(&err),
            header_retry_after,
        ),
        _ => ("unknown error".to_string(), chain(&err), None),
    };
    // An unparseable 2xx is no verdict on the request: only error statuses steer the fallback.
    let status_for_kind = status.filter(|s| *s >= 400 || matches!(err, SdkError::ServiceError(_)));
    LambdaError {
        kind: classify(operation, &code, status_for_kind),
        // A 429 is a throttle whatever its body says, so that the budget slows down for it too.
        throttled: super::is_throttle_code(&code) || status == Some(429),
        operation,
        code,
        message,
        retry_after,
    }
}

/// An error and its sources, `outer: inner: root`, without the repeats of errors that already
/// print their source.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `Retry-After` as Lambda sends it: a number of seconds.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    if secs.is_sign_negative() {
        return None;
    }
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_lambda::error::ErrorMetadata;
    use aws_sdk_lambda::operation::get_event_source_mapping::GetEventSourceMappingOutput;
    use aws_sdk_lambda::primitives::SdkBody;
    use aws_sdk_lambda::types::error::{
        ResourceConflictException, ResourceInUseException, TooManyRequestsException,
    };

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().unwrap(), SdkBody::empty())
    }

    fn meta(code: &str, message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message(message).build()
    }

    #[test]
    fn converts_every_field_of_an_output() {
        let output = GetEventSourceMappingOutput::builder()
            .uuid("a1b2c3d4-0000-4000-8000-000000000001")
            .event_source_mapping_arn("arn:aws:lambda:us-east-1:1:event-source-mapping:x")
            .function_arn("arn:aws:lambda:us-east-1:1:function:f")
            .state("Enabled")
            .state_transition_reason("USER_INITIATED")
            .last_modified(DateTime::from_secs_f64(1_569_284_520.333))
            .last_processing_result("No records processed")
            .filter_criteria_error(
                sdk::FilterCriteriaError::builder()
                    .error_code("KMSAccessDeniedException")
                    .message("denied")
                    .build(),
            )
            .event_source_arn("arn:aws:kinesis:us-east-1:1:stream/s")
            .batch_size(100)
            .filter_criteria(
                sdk::FilterCriteria::builder()
                    .filters(sdk::Filter::builder().pattern(r#"{"a":[1]}"#).build())
                    .build(),
            )
            .kms_key_arn("arn:aws:kms:us-east-1:1:key/k")
            .metrics_config(
                sdk::EventSourceMappingMetricsConfig::builder()
                    .metrics(sdk::EventSourceMappingMetric::EventCount)
                    .build(),
            )
            .logging_config(
                sdk::EventSourceMappingLoggingConfig::builder()
                    .system_log_level(sdk::EventSourceMappingSystemLogLevel::Warn)
                    .build(),
            )
            .scaling_config(sdk::ScalingConfig::builder().maximum_concurrency(5).build())
            .maximum_batching_window_in_seconds(3)
            .parallelization_factor(2)
            .starting_position(sdk::EventSourcePosition::AtTimestamp)
            .starting_position_timestamp(DateTime::from_secs(1_700_000_000))
            .destination_config(
                sdk::DestinationConfig::builder()
                    .on_failure(
                        sdk::OnFailure::builder()
                            .destination("arn:aws:sqs:us-east-1:1:dlq")
                            .build(),
                    )
                    .build(),
            )
            .maximum_record_age_in_seconds(60)
            .bisect_batch_on_function_error(true)
            .maximum_retry_attempts(3)
            .tumbling_window_in_seconds(30)
            .topics("t")
            .queues("q")
            .source_access_configurations(
                sdk::SourceAccessConfiguration::builder()
                    .r#type(sdk::SourceAccessType::from("SOMETHING_NEW"))
                    .uri("arn:aws:secretsmanager:us-east-1:1:secret:s")
                    .build(),
            )
            .self_managed_event_source(
                sdk::SelfManagedEventSource::builder()
                    .endpoints(
                        sdk::EndPointType::KafkaBootstrapServers,
                        vec!["b1:9092".to_string(), "b2:9092".to_string()],
                    )
                    .build(),
            )
            .function_response_types(sdk::FunctionResponseType::ReportBatchItemFailures)
            .amazon_managed_kafka_event_source_config(
                sdk::AmazonManagedKafkaEventSourceConfig::builder()
                    .consumer_group_id("g")
                    .schema_registry_config(
                        sdk::KafkaSchemaRegistryConfig::builder()
                            .schema_registry_uri("https://registry")
                            .event_record_format(sdk::SchemaRegistryEventRecordFormat::Json)
                            .access_configs(
                                sdk::KafkaSchemaRegistryAccessConfig::builder()
                                    .r#type(sdk::KafkaSchemaRegistryAuthType::BasicAuth)
                                    .uri("arn:secret")
                                    .build(),
                            )
                            .schema_validation_configs(
                                sdk::KafkaSchemaValidationConfig::builder()
                                    .attribute(sdk::KafkaSchemaValidationAttribute::Value)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .self_managed_kafka_event_source_config(
                sdk::SelfManagedKafkaEventSourceConfig::builder()
                    .consumer_group_id("g2")
                    .consumption_mode(sdk::KafkaEventSourceMappingConsumptionMode::from("Queue"))
                    .build(),
            )
            .document_db_event_source_config(
                sdk::DocumentDbEventSourceConfig::builder()
                    .database_name("db")
                    .collection_name("c")
                    .full_document(sdk::FullDocument::UpdateLookup)
                    .build(),
            )
            .provisioned_poller_config(
                sdk::ProvisionedPollerConfig::builder()
                    .minimum_pollers(1)
                    .maximum_pollers(10)
                    .poller_group_name("pg")
                    .build(),
            )
            .build();

        let got = output.into_observed();

        let expected_json = serde_json::json!({
            "UUID": "a1b2c3d4-0000-4000-8000-000000000001",
            "EventSourceMappingArn": "arn:aws:lambda:us-east-1:1:event-source-mapping:x",
            "FunctionArn": "arn:aws:lambda:us-east-1:1:function:f",
            "State": "Enabled",
            "StateTransitionReason": "USER_INITIATED",
            "LastModified": 1_569_284_520.333,
            "LastProcessingResult": "No records processed",
            "FilterCriteriaError": {"ErrorCode": "KMSAccessDeniedException", "Message": "denied"},
            "EventSourceArn": "arn:aws:kinesis:us-east-1:1:stream/s",
            "BatchSize": 100,
            "FilterCriteria": {"Filters": [{"Pattern": "{\"a\":[1]}"}]},
            "KMSKeyArn": "arn:aws:kms:us-east-1:1:key/k",
            "MetricsConfig": {"Metrics": ["EventCount"]},
            "LoggingConfig": {"SystemLogLevel": "WARN"},
            "ScalingConfig": {"MaximumConcurrency": 5},
            "MaximumBatchingWindowInSeconds": 3,
            "ParallelizationFactor": 2,
            "StartingPosition": "AT_TIMESTAMP",
            "StartingPositionTimestamp": 1_700_000_000.0,
            "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:1:dlq"}},
            "MaximumRecordAgeInSeconds": 60,
            "BisectBatchOnFunctionError": true,
            "MaximumRetryAttempts": 3,
            "TumblingWindowInSeconds": 30,
            "Topics": ["t"],
            "Queues": ["q"],
            "SourceAccessConfigurations": [
                {"Type": "SOMETHING_NEW", "URI": "arn:aws:secretsmanager:us-east-1:1:secret:s"}
            ],
            "SelfManagedEventSource": {
                "Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["b1:9092", "b2:9092"]}
            },
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "AmazonManagedKafkaEventSourceConfig": {
                "ConsumerGroupId": "g",
                "SchemaRegistryConfig": {
                    "SchemaRegistryURI": "https://registry",
                    "EventRecordFormat": "JSON",
                    "AccessConfigs": [{"Type": "BASIC_AUTH", "URI": "arn:secret"}],
                    "SchemaValidationConfigs": [{"Attribute": "VALUE"}]
                }
            },
            "SelfManagedKafkaEventSourceConfig": {
                "ConsumerGroupId": "g2", "ConsumptionMode": "Queue"
            },
            "DocumentDBEventSourceConfig": {
                "DatabaseName": "db", "CollectionName": "c", "FullDocument": "UpdateLookup"
            },
            "ProvisionedPollerConfig": {
                "MinimumPollers": 1, "MaximumPollers": 10, "PollerGroupName": "pg"
            }
        });
        let expected: ObservedMapping = serde_json::from_value(expected_json).unwrap();
        assert_eq!(got, expected);
        // Spot checks that do not depend on the serde mapping of types.rs.
        assert_eq!(got.last_modified, Some(1_569_284_520.333));
        assert_eq!(
            got.fields.starting_position.as_deref(),
            Some("AT_TIMESTAMP")
        );
        assert_eq!(
            got.fields.source_access_configurations.as_ref().unwrap()[0]
                .kind
                .as_deref(),
            Some("SOMETHING_NEW")
        );
        assert_eq!(got.fields.function_name, None);
        assert_eq!(got.fields.enabled, None);
    }

    #[test]
    fn absent_stays_absent_and_empty_stays_empty() {
        let bare = sdk::EventSourceMappingConfiguration::builder()
            .uuid("u")
            .build()
            .into_observed();
        assert_eq!(
            bare,
            ObservedMapping {
                uuid: "u".to_string(),
                ..ObservedMapping::default()
            }
        );

        let empty = sdk::EventSourceMappingConfiguration::builder()
            .uuid("u")
            .set_function_response_types(Some(vec![]))
            .set_topics(Some(vec![]))
            .filter_criteria(sdk::FilterCriteria::builder().build())
            .build()
            .into_observed();
        assert_eq!(empty.fields.function_response_types, Some(vec![]));
        assert_eq!(empty.fields.topics, Some(vec![]));
        assert_eq!(
            empty.fields.filter_criteria,
            Some(FilterCriteria { filters: None })
        );
        assert_eq!(empty.fields.queues, None);
    }

    #[test]
    fn clear_values_become_empty_objects() {
        assert_eq!(
            filter_criteria_to_sdk(&FilterCriteria {
                filters: Some(vec![])
            }),
            sdk::FilterCriteria::builder().build()
        );
        assert_eq!(
            filter_criteria_to_sdk(&FilterCriteria { filters: None }),
            sdk::FilterCriteria::builder().build()
        );
        let one = filter_criteria_to_sdk(&FilterCriteria {
            filters: Some(vec![Filter {
                pattern: Some("{}".to_string()),
            }]),
        });
        assert_eq!(one.filters().len(), 1);
        assert_eq!(
            scaling_config_to_sdk(&ScalingConfig::default()),
            sdk::ScalingConfig::builder().build()
        );
        // Metrics: [] is kept, it is the documented way to clear them.
        assert_eq!(
            metrics_config_to_sdk(&MetricsConfig {
                metrics: Some(vec![])
            })
            .metrics,
            Some(vec![])
        );
        let destination = destination_config_to_sdk(&DestinationConfig {
            on_failure: Some(super::super::Destination {
                destination: Some(String::new()),
            }),
            on_success: None,
        });
        assert_eq!(
            destination.on_failure.and_then(|d| d.destination),
            Some(String::new())
        );
        assert!(destination.on_success.is_none());
        assert_eq!(function_response_types_to_sdk(&[]), vec![]);
    }

    #[test]
    fn unknown_enum_values_survive_both_ways() {
        let sdk_types = source_access_configurations_to_sdk(&[SourceAccessConfiguration {
            kind: Some("FUTURE_AUTH".to_string()),
            uri: None,
        }]);
        assert_eq!(sdk_types[0].r#type().unwrap().as_str(), "FUTURE_AUTH");
        let back = source_access_configurations_from_sdk(sdk_types);
        assert_eq!(back[0].kind.as_deref(), Some("FUTURE_AUTH"));
        assert_eq!(
            function_response_types_to_sdk(&["ReportBatchItemFailures".to_string()]),
            vec![sdk::FunctionResponseType::ReportBatchItemFailures]
        );
    }

    #[test]
    fn update_refuses_create_only_fields() {
        let client = Client::from_conf(
            aws_sdk_lambda::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .build(),
        );
        let patch = MappingFields {
            batch_size: Some(5),
            starting_position: Some("LATEST".to_string()),
            topics: Some(vec!["t".to_string()]),
            ..MappingFields::default()
        };
        let err = update_request(&client, "u", &patch).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid);
        assert_eq!(err.code, CLIENT_VALIDATION);
        assert_eq!(err.operation, UPDATE);
        assert!(err.message.contains("StartingPosition"), "{}", err.message);
        assert!(err.message.contains("Topics"), "{}", err.message);
        assert!(!err.message.contains("BatchSize"), "{}", err.message);

        // One patch per entry of the create-only table, in Lambda's own JSON; a new entry
        // without a case here fails the coverage check below.
        let cases = [
            (
                "EventSourceArn",
                serde_json::json!({"EventSourceArn": "arn:aws:sqs:us-east-1:1:q"}),
            ),
            (
                "StartingPosition",
                serde_json::json!({"StartingPosition": "LATEST"}),
            ),
            (
                "StartingPositionTimestamp",
                serde_json::json!({"StartingPositionTimestamp": 1.0}),
            ),
            ("Topics", serde_json::json!({"Topics": []})),
            ("Queues", serde_json::json!({"Queues": []})),
            (
                "SelfManagedEventSource",
                serde_json::json!({"SelfManagedEventSource": {}}),
            ),
            (
                "AmazonManagedKafkaEventSourceConfig.ConsumerGroupId",
                serde_json::json!({"AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "g"}}),
            ),
            (
                "SelfManagedKafkaEventSourceConfig.ConsumerGroupId",
                serde_json::json!({"SelfManagedKafkaEventSourceConfig": {"ConsumerGroupId": "g"}}),
            ),
            (
                "SelfManagedKafkaEventSourceConfig.ConsumptionMode",
                serde_json::json!({"SelfManagedKafkaEventSourceConfig": {"ConsumptionMode": "Queue"}}),
            ),
            (
                "DocumentDBEventSourceConfig.DatabaseName",
                serde_json::json!({"DocumentDBEventSourceConfig": {"DatabaseName": "db", "FullDocument": "Default"}}),
            ),
            (
                "DocumentDBEventSourceConfig.CollectionName",
                serde_json::json!({"DocumentDBEventSourceConfig": {"CollectionName": "c"}}),
            ),
            (
                "SourceAccessConfigurations[Type=VIRTUAL_HOST].URI",
                serde_json::json!({"SourceAccessConfigurations": [
                    {"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:1:secret:s"},
                    {"Type": "VIRTUAL_HOST", "URI": "/orders"}]}),
            ),
            ("Tags", serde_json::json!({"Tags": {}})),
        ];
        for (name, patch) in &cases {
            let patch: MappingFields = serde_json::from_value(patch.clone()).unwrap();
            assert_eq!(fields_update_cannot_take(&patch), vec![*name]);
            let err = update_request(&client, "u", &patch).unwrap_err();
            assert!(err.message.contains(name), "{}", err.message);
        }
        let covered: Vec<&str> = cases.iter().map(|(name, _)| *name).collect();
        for field in &crate::lambda::CREATE_ONLY {
            assert!(
                covered.contains(&field.wire_name),
                "no case for {}",
                field.wire_name
            );
        }

        // What Update does take, including the parts of the Kafka configs and source access
        // list that stay updatable.
        let allowed: MappingFields = serde_json::from_value(serde_json::json!({
            "FunctionName": "f", "BatchSize": 1, "FilterCriteria": {},
            "SelfManagedKafkaEventSourceConfig": {"SchemaRegistryConfig": {"SchemaRegistryURI": "https://registry"}},
            "SourceAccessConfigurations": [{"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:1:secret:s"}],
            "DocumentDBEventSourceConfig": {"FullDocument": "UpdateLookup"},
        }))
        .unwrap();
        assert!(fields_update_cannot_take(&allowed).is_empty());
        assert!(update_request(&client, "u", &allowed).is_ok());
    }

    #[test]
    fn rejects_non_finite_timestamps_and_msk_consumption_mode() {
        let err = to_datetime(CREATE, "StartingPositionTimestamp", f64::NAN).unwrap_err();
        assert_eq!(
            (err.kind, err.code.as_str()),
            (ErrorKind::Invalid, CLIENT_VALIDATION)
        );
        assert_eq!(
            to_datetime(CREATE, "x", 1_700_000_000.5).unwrap(),
            DateTime::from_secs_f64(1_700_000_000.5)
        );
        let err = msk_config_to_sdk(
            CREATE,
            &KafkaEventSourceConfig {
                consumption_mode: Some("Queue".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid);
        assert!(err.message.contains("ConsumptionMode"));
    }

    #[test]
    fn maps_service_errors_with_code_message_status_and_retry_after() {
        let conflict = SdkError::service_error(
            CreateEventSourceMappingError::ResourceConflictException(
                ResourceConflictException::builder()
                    .message("exists with UUID 2b7b6a2c-9d2e-4a4f-8f00-1c2d3e4f5a6b")
                    .meta(meta(
                        "ResourceConflictException",
                        "exists with UUID 2b7b6a2c-9d2e-4a4f-8f00-1c2d3e4f5a6b",
                    ))
                    .build(),
            ),
            response(409),
        );
        let err = sdk_error(CREATE, conflict);
        assert_eq!(err.kind, ErrorKind::Conflict);
        assert_eq!(err.code, "ResourceConflictException");
        assert_eq!(err.operation, CREATE);
        assert_eq!(
            super::super::conflicting_uuid(&err.message).as_deref(),
            Some("2b7b6a2c-9d2e-4a4f-8f00-1c2d3e4f5a6b")
        );
        assert_eq!(err.retry_after, None);

        let in_use = SdkError::service_error(
            UpdateEventSourceMappingError::ResourceInUseException(
                ResourceInUseException::builder()
                    .message("busy")
                    .meta(meta("ResourceInUseException", "busy"))
                    .build(),
            ),
            response(400),
        );
        let err = sdk_error(UPDATE, in_use);
        assert_eq!((err.kind, err.message.as_str()), (ErrorKind::Busy, "busy"));

        let throttled = SdkError::service_error(
            UpdateEventSourceMappingError::TooManyRequestsException(
                TooManyRequestsException::builder()
                    .retry_after_seconds("7")
                    .message("slow down")
                    .meta(meta("TooManyRequestsException", "slow down"))
                    .build(),
            ),
            response(429),
        );
        let err = sdk_error(UPDATE, throttled);
        assert_eq!(err.kind, ErrorKind::Retry);
        assert_eq!(err.retry_after, Some(Duration::from_secs(7)));
    }

    #[test]
    fn unknown_codes_fall_back_on_the_status() {
        let unhandled = |status: u16, code: Option<&str>| {
            let mut meta = ErrorMetadata::builder().message("m");
            if let Some(code) = code {
                meta = meta.code(code);
            }
            SdkError::service_error(
                GetEventSourceMappingError::generic(meta.build()),
                response(status),
            )
        };
        let err = sdk_error(GET, unhandled(404, Some("SomethingNew")));
        assert_eq!(
            (err.kind, err.code.as_str()),
            (ErrorKind::NotFound, "SomethingNew")
        );
        let err = sdk_error(GET, unhandled(502, None));
        assert_eq!(
            (err.kind, err.code.as_str()),
            (ErrorKind::Retry, "HTTP 502")
        );
        let err = sdk_error(GET, unhandled(403, None));
        assert_eq!(err.kind, ErrorKind::AccessDenied);
        let err = sdk_error(GET, unhandled(429, None));
        assert_eq!(
            (err.kind, err.code.as_str()),
            (ErrorKind::Retry, "HTTP 429")
        );
        assert!(err.is_throttled(), "a bare 429 still slows the budget down");
        assert!(!sdk_error(GET, unhandled(502, None)).is_throttled());
    }

    #[test]
    fn maps_transport_failures() {
        use aws_sdk_lambda::error::ConnectorError;
        let io = SdkError::<GetEventSourceMappingError, HttpResponse>::dispatch_failure(
            ConnectorError::io("connection refused".into()),
        );
        let err = sdk_error(GET, io);
        assert_eq!(
            (err.kind, err.code.as_str()),
            (ErrorKind::Retry, "connection failure")
        );
        assert!(
            err.message.contains("connection refused"),
            "{}",
            err.message
        );

        let timeout = SdkError::<GetEventSourceMappingError, HttpResponse>::timeout_error("slow");
        let err = sdk_error(GET, timeout);
        assert_eq!((err.kind, err.code.as_str()), (ErrorKind::Retry, "timeout"));

        let other = SdkError::<GetEventSourceMappingError, HttpResponse>::dispatch_failure(
            ConnectorError::other("no credentials".into(), None),
        );
        let err = sdk_error(GET, other);
        assert_eq!(
            (err.kind, err.code.as_str()),
            (ErrorKind::Retry, "dispatch failure")
        );

        let construction =
            SdkError::<GetEventSourceMappingError, HttpResponse>::construction_failure(
                "uuid was not specified",
            );
        let err = sdk_error(GET, construction);
        assert_eq!(err.kind, ErrorKind::Invalid);
        assert_eq!(err.code, "construction failure");

        let garbled_ok = SdkError::<GetEventSourceMappingError, HttpResponse>::response_error(
            "bad json",
            response(200),
        );
        assert_eq!(sdk_error(GET, garbled_ok).kind, ErrorKind::Retry);
        let garbled_400 = SdkError::<GetEventSourceMappingError, HttpResponse>::response_error(
            "bad json",
            response(400),
        );
        assert_eq!(sdk_error(GET, garbled_400).kind, ErrorKind::Invalid);
    }

    #[test]
    fn parses_retry_after() {
        assert_eq!(parse_retry_after("5"), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_retry_after(" 1.5 "),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("1e400"), None);
        assert_eq!(parse_retry_after("NaN"), None);
    }

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
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert!(
            timeouts.connect_timeout().is_some(),
            "the SDK default stays"
        );
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
