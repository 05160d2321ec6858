//! The aws-sdk-lambda adapter against the emulator, over real HTTP: every request goes through
//! the unmodified SDK (serialization, signing, retries, error parsing) to `esm-emulator`'s
//! REST-JSON server on 127.0.0.1.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener as StdListener;
use std::sync::{Mutex, Once};
use std::time::Duration;

use esm_controller::lambda::aws::{AwsLambda, AwsLane, AwsSettings};
use esm_controller::lambda::{
    Connect, Destination, DestinationConfig, ErrorKind, Filter, FilterCriteria, LambdaPort,
    LaneKey, ListFilter, MappingFields, MetricsConfig, ObservedMapping, ScalingConfig,
    conflicting_uuid, list_all,
};
use esm_emulator::model::{ApiError, Fault, ManualClock, Model, ModelConfig};
use serde_json::Value;

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";
const FUNCTION: &str = "orders";

/// A listener reserved before any test runs, whose address `AWS_ENDPOINT_URL_LAMBDA` names.
static ENV_ENDPOINT_LISTENER: Mutex<Option<StdListener>> = Mutex::new(None);

/// Process-wide environment, set once before any SDK code reads it: static test credentials,
/// no shared config files, and a service-specific endpoint variable that only the test without
/// an explicit endpoint may follow.
fn init_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        *ENV_ENDPOINT_LISTENER.lock().unwrap() = Some(listener);
        // SAFETY: runs once, before any test in this binary builds an SDK config or reads the
        // environment; the other test threads wait on `ONCE`.
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
            std::env::remove_var("AWS_SESSION_TOKEN");
            std::env::remove_var("AWS_PROFILE");
            std::env::remove_var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
            std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/aws-config");
            std::env::set_var(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/aws-credentials",
            );
            std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
            std::env::set_var("AWS_ENDPOINT_URL_LAMBDA", &url);
            // A dead generic endpoint: the service-specific variable above must win over it,
            // and explicit settings must win over both.
            std::env::set_var("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
        }
    });
}

fn model_config() -> ModelConfig {
    ModelConfig {
        region: REGION.into(),
        account: ACCOUNT.into(),
        rate_limit_per_second: None,
        // Larger than the adapter's MaxItems, so page sizes show that MaxItems=100 was sent.
        page_size: 500,
        rng_seed: Some(42),
        ..ModelConfig::default()
    }
}

/// Serves `model` on a fresh loopback port for the rest of the test's runtime.
async fn serve(model: &Model, listener: tokio::net::TcpListener) -> String {
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(esm_emulator::server::serve(
        model.clone(),
        listener,
        std::future::pending(),
    ));
    url
}

struct Harness {
    model: Model,
    clock: ManualClock,
    lambda: AwsLane,
}

async fn start() -> Harness {
    init_env();
    let (model, clock) = Model::with_manual_clock(model_config());
    model.seed_function(FUNCTION);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = serve(&model, listener).await;
    let lambda = AwsLambda::new(AwsSettings {
        endpoint_url: Some(url),
        default_region: Some(REGION.to_string()),
        ..Default::default()
    })
    .await
    .connect(&LaneKey::region(REGION));
    Harness {
        model,
        clock,
        lambda,
    }
}

impl Harness {
    /// Lets every Creating/Updating/Deleting transition finish.
    fn settle(&self) {
        self.clock.advance(Duration::from_secs(5));
    }

    fn calls(&self, operation: &str) -> u64 {
        self.model
            .call_counts()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// The emulator's own view of a mapping, as stored from what the SDK sent.
    fn stored(&self, uuid: &str) -> Value {
        self.model
            .mappings()
            .into_iter()
            .find(|m| m["UUID"] == uuid)
            .unwrap_or_else(|| panic!("no mapping {uuid} in the emulator"))
    }
}

fn sqs_arn(name: &str) -> String {
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
}

fn function_arn() -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}")
}

fn sqs_request(queue: &str) -> MappingFields {
    MappingFields {
        event_source_arn: Some(sqs_arn(queue)),
        function_name: Some(FUNCTION.to_string()),
        ..MappingFields::default()
    }
}

fn filters(patterns: &[&str]) -> FilterCriteria {
    FilterCriteria {
        filters: Some(
            patterns
                .iter()
                .map(|p| Filter {
                    pattern: Some(p.to_string()),
                })
                .collect(),
        ),
    }
}

#[tokio::test]
async fn sqs_mapping_round_trips_and_clears_through_the_sdk() {
    let h = start().await;
    let kms = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd");
    let request = MappingFields {
        batch_size: Some(5),
        filter_criteria: Some(filters(&[
            r#"{"body":{"kind":["order"]}}"#,
            r#"{"body":{"kind":["refund"]}}"#,
        ])),
        scaling_config: Some(ScalingConfig {
            maximum_concurrency: Some(7),
        }),
        kms_key_arn: Some(kms.clone()),
        function_response_types: Some(vec!["ReportBatchItemFailures".to_string()]),
        metrics_config: Some(MetricsConfig {
            metrics: Some(vec!["EventCount".to_string()]),
        }),
        tags: Some(BTreeMap::from([(
            "team".to_string(),
            "payments".to_string(),
        )])),
        ..sqs_request("orders-q")
    };

    let created = h.lambda.create_mapping(&request).await.unwrap();
    assert_eq!(created.uuid.len(), 36, "{created:?}");
    assert_eq!(created.state.as_deref(), Some("Creating"));
    assert_eq!(created.function_arn, Some(function_arn()));
    assert_eq!(
        created.arn,
        Some(h.model.event_source_mapping_arn(&created.uuid))
    );
    assert_eq!(created.fields.event_source_arn, Some(sqs_arn("orders-q")));
    assert_eq!(created.fields.batch_size, Some(5));
    assert_eq!(created.fields.filter_criteria, request.filter_criteria);
    assert_eq!(created.fields.scaling_config, request.scaling_config);
    assert_eq!(created.fields.kms_key_arn, Some(kms.clone()));
    assert_eq!(
        created.fields.function_response_types,
        request.function_response_types
    );
    assert_eq!(created.fields.metrics_config, request.metrics_config);
    assert!(
        created.last_modified.is_some_and(|t| t > 1.6e9),
        "{created:?}"
    );
    // Not echoed by Lambda.
    assert_eq!(created.fields.function_name, None);
    assert_eq!(created.fields.tags, None);
    // What the emulator stored is what the SDK put on the wire.
    let stored = h.stored(&created.uuid);
    assert_eq!(
        stored["FilterCriteria"]["Filters"][1]["Pattern"],
        r#"{"body":{"kind":["refund"]}}"#
    );
    assert_eq!(stored["ScalingConfig"]["MaximumConcurrency"], 7);

    // Tags given at creation are visible through ListTags on the mapping ARN.
    let arn = created.arn.clone().unwrap();
    assert_eq!(
        h.lambda.list_tags(&arn).await.unwrap(),
        BTreeMap::from([("team".to_string(), "payments".to_string())])
    );

    // While Creating, Update is refused: ResourceInUseException is Busy.
    let patch = MappingFields {
        batch_size: Some(6),
        ..MappingFields::default()
    };
    let err = h
        .lambda
        .update_mapping(&created.uuid, &patch)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Busy, "{err}");
    assert_eq!(err.code, "ResourceInUseException");
    assert_eq!(err.operation, "UpdateEventSourceMapping");
    assert!(err.message.contains("Creating"), "{err}");

    h.settle();
    let got = h.lambda.get_mapping(&created.uuid).await.unwrap();
    assert_eq!(got.state.as_deref(), Some("Enabled"));
    assert_eq!(got.fields, created.fields);

    // Every clearing form at once: FilterCriteria with an empty list (the adapter sends `{}`),
    // ScalingConfig {}, KMSKeyArn "", FunctionResponseTypes [], MetricsConfig {Metrics: []}.
    let clear = MappingFields {
        filter_criteria: Some(FilterCriteria {
            filters: Some(vec![]),
        }),
        scaling_config: Some(ScalingConfig::default()),
        kms_key_arn: Some(String::new()),
        function_response_types: Some(vec![]),
        metrics_config: Some(MetricsConfig {
            metrics: Some(vec![]),
        }),
        ..MappingFields::default()
    };
    let updated = h
        .lambda
        .update_mapping(&created.uuid, &clear)
        .await
        .unwrap();
    assert_eq!(updated.state.as_deref(), Some("Updating"));
    h.settle();
    let got = h.lambda.get_mapping(&created.uuid).await.unwrap();
    assert_eq!(got.fields.filter_criteria, None, "{got:?}");
    assert_eq!(got.fields.scaling_config, None, "{got:?}");
    assert_eq!(got.fields.kms_key_arn, None, "{got:?}");
    assert_eq!(got.fields.metrics_config, None, "{got:?}");
    assert_eq!(got.fields.function_response_types, Some(vec![]), "{got:?}");
    assert_eq!(got.fields.batch_size, Some(5), "untouched fields stay");
    let stored = h.stored(&created.uuid);
    assert!(stored.get("FilterCriteria").is_none(), "{stored}");
    assert!(stored.get("KMSKeyArn").is_none(), "{stored}");

    // Filters again, then cleared with `filters: None` (also `{}` on the wire).
    h.lambda
        .update_mapping(
            &created.uuid,
            &MappingFields {
                filter_criteria: Some(filters(&[r#"{"body":{"a":[1]}}"#])),
                ..MappingFields::default()
            },
        )
        .await
        .unwrap();
    h.settle();
    let got = h.lambda.get_mapping(&created.uuid).await.unwrap();
    assert_eq!(
        got.fields.filter_criteria,
        Some(filters(&[r#"{"body":{"a":[1]}}"#]))
    );
    h.lambda
        .update_mapping(
            &created.uuid,
            &MappingFields {
                filter_criteria: Some(FilterCriteria { filters: None }),
                ..MappingFields::default()
            },
        )
        .await
        .unwrap();
    h.settle();
    let got = h.lambda.get_mapping(&created.uuid).await.unwrap();
    assert_eq!(got.fields.filter_criteria, None);

    // Disable through Enabled=false, observed as State.
    h.lambda
        .update_mapping(
            &created.uuid,
            &MappingFields {
                enabled: Some(false),
                ..MappingFields::default()
            },
        )
        .await
        .unwrap();
    h.settle();
    let got = h.lambda.get_mapping(&created.uuid).await.unwrap();
    assert_eq!(got.state.as_deref(), Some("Disabled"));

    // Delete: the response shows Deleting, then the mapping is gone (NotFound).
    let deleted = h.lambda.delete_mapping(&created.uuid).await.unwrap();
    assert_eq!(deleted.uuid, created.uuid);
    assert_eq!(deleted.state.as_deref(), Some("Deleting"));
    h.settle();
    let err = h.lambda.get_mapping(&created.uuid).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert_eq!(err.code, "ResourceNotFoundException");
    let err = h.lambda.delete_mapping(&created.uuid).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn kinesis_mapping_keeps_timestamp_and_clears_its_destination() {
    let h = start().await;
    let stream = format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/clicks");
    let dlq = sqs_arn("clicks-dlq");
    let request = MappingFields {
        event_source_arn: Some(stream.clone()),
        function_name: Some(FUNCTION.to_string()),
        starting_position: Some("AT_TIMESTAMP".to_string()),
        starting_position_timestamp: Some(1_700_000_000.0),
        destination_config: Some(DestinationConfig {
            on_failure: Some(Destination {
                destination: Some(dlq.clone()),
            }),
            on_success: None,
        }),
        parallelization_factor: Some(3),
        maximum_retry_attempts: Some(4),
        bisect_batch_on_function_error: Some(true),
        maximum_record_age_in_seconds: Some(3600),
        tumbling_window_in_seconds: Some(60),
        ..MappingFields::default()
    };
    let created = h.lambda.create_mapping(&request).await.unwrap();
    assert_eq!(
        created.fields.starting_position.as_deref(),
        Some("AT_TIMESTAMP")
    );
    assert_eq!(
        created.fields.starting_position_timestamp,
        Some(1_700_000_000.0)
    );
    assert_eq!(
        h.stored(&created.uuid)["StartingPositionTimestamp"],
        1_700_000_000.0
    );
    h.settle();

    let got = h.lambda.get_mapping(&created.uuid).await.unwrap();
    for (name, want, have) in [
        (
            "ParallelizationFactor",
            Some(3),
            got.fields.parallelization_factor,
        ),
        (
            "MaximumRetryAttempts",
            Some(4),
            got.fields.maximum_retry_attempts,
        ),
        (
            "MaximumRecordAgeInSeconds",
            Some(3600),
            got.fields.maximum_record_age_in_seconds,
        ),
        (
            "TumblingWindowInSeconds",
            Some(60),
            got.fields.tumbling_window_in_seconds,
        ),
        (
            "BatchSize (Kinesis default)",
            Some(100),
            got.fields.batch_size,
        ),
    ] {
        assert_eq!(have, want, "{name}");
    }
    assert_eq!(got.fields.bisect_batch_on_function_error, Some(true));
    assert_eq!(
        got.fields.starting_position_timestamp,
        Some(1_700_000_000.0)
    );
    assert_eq!(got.fields.destination_config, request.destination_config);
    assert_eq!(got.fields.event_source_arn, Some(stream));

    // Clear the destination with "".
    let clear = MappingFields {
        destination_config: Some(DestinationConfig {
            on_failure: Some(Destination {
                destination: Some(String::new()),
            }),
            on_success: None,
        }),
        ..MappingFields::default()
    };
    h.lambda
        .update_mapping(&created.uuid, &clear)
        .await
        .unwrap();
    h.settle();
    let got = h.lambda.get_mapping(&created.uuid).await.unwrap();
    let destination = got
        .fields
        .destination_config
        .as_ref()
        .and_then(|d| d.on_failure.as_ref())
        .and_then(|d| d.destination.as_deref())
        .unwrap_or_default();
    assert_eq!(destination, "", "{got:?}");
    assert_eq!(
        got.fields.starting_position_timestamp,
        Some(1_700_000_000.0)
    );

    // Create-only fields never reach AWS in an update.
    let updates_before = h.calls("UpdateEventSourceMapping");
    let err = h
        .lambda
        .update_mapping(
            &created.uuid,
            &MappingFields {
                starting_position: Some("LATEST".to_string()),
                ..MappingFields::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.code.as_str()),
        (ErrorKind::Invalid, "ClientValidation")
    );
    assert!(err.message.contains("StartingPosition"), "{err}");
    assert_eq!(h.calls("UpdateEventSourceMapping"), updates_before);
}

#[tokio::test]
async fn lists_one_page_per_call() {
    let h = start().await;
    let mut created = BTreeSet::new();
    for i in 0..120 {
        let m = h
            .lambda
            .create_mapping(&sqs_request(&format!("q-{i:03}")))
            .await
            .unwrap();
        created.insert(m.uuid);
    }
    assert_eq!(created.len(), 120);

    let all = ListFilter::default();
    let first = h.lambda.list_mappings(&all, None).await.unwrap();
    assert_eq!(first.mappings.len(), 100, "MaxItems=100 must be sent");
    let marker = first.next_marker.clone().expect("a second page");
    assert_eq!(h.calls("ListEventSourceMappings"), 1, "one call per page");
    let second = h.lambda.list_mappings(&all, Some(&marker)).await.unwrap();
    assert_eq!(second.mappings.len(), 20);
    assert_eq!(second.next_marker, None);
    assert_eq!(h.calls("ListEventSourceMappings"), 2);
    let listed: BTreeSet<String> = first
        .mappings
        .iter()
        .chain(&second.mappings)
        .map(|m| m.uuid.clone())
        .collect();
    assert_eq!(listed, created);
    assert!(
        first
            .mappings
            .iter()
            .all(|m| m.function_arn.as_deref() == Some(function_arn().as_str()))
    );

    let everything = list_all(&h.lambda, &all).await.unwrap();
    assert_eq!(everything.len(), 120);

    let one = ListFilter {
        event_source_arn: Some(sqs_arn("q-042")),
        function_name: None,
    };
    let page = h.lambda.list_mappings(&one, None).await.unwrap();
    assert_eq!(page.mappings.len(), 1);
    assert_eq!(
        page.mappings[0].fields.event_source_arn,
        Some(sqs_arn("q-042"))
    );

    let by_function = ListFilter {
        event_source_arn: None,
        function_name: Some(FUNCTION.to_string()),
    };
    assert_eq!(list_all(&h.lambda, &by_function).await.unwrap().len(), 120);
    let missing_function = ListFilter {
        event_source_arn: None,
        function_name: Some("no-such-function".to_string()),
    };
    let err = h
        .lambda
        .list_mappings(&missing_function, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert_eq!(err.operation, "ListEventSourceMappings");
}

#[tokio::test]
async fn tags_round_trip_on_the_mapping_arn() {
    let h = start().await;
    let m = h
        .lambda
        .create_mapping(&sqs_request("tagged"))
        .await
        .unwrap();
    let arn = m.arn.clone().unwrap();
    assert!(arn.ends_with(&m.uuid), "{arn}");
    assert_eq!(h.lambda.list_tags(&arn).await.unwrap(), BTreeMap::new());

    let tags = BTreeMap::from([
        ("owner".to_string(), "esm-controller".to_string()),
        ("env".to_string(), "prod test".to_string()),
        ("path".to_string(), "a/b:c=d".to_string()),
    ]);
    h.lambda.tag_resource(&arn, &tags).await.unwrap();
    assert_eq!(h.lambda.list_tags(&arn).await.unwrap(), tags);

    h.lambda
        .untag_resource(&arn, &["env".to_string(), "path".to_string()])
        .await
        .unwrap();
    assert_eq!(
        h.lambda.list_tags(&arn).await.unwrap(),
        BTreeMap::from([("owner".to_string(), "esm-controller".to_string())])
    );

    // Empty tag operations are no-ops that cost no API call.
    let (tag_calls, untag_calls) = (h.calls("TagResource"), h.calls("UntagResource"));
    h.lambda.tag_resource(&arn, &BTreeMap::new()).await.unwrap();
    h.lambda.untag_resource(&arn, &[]).await.unwrap();
    assert_eq!(h.calls("TagResource"), tag_calls);
    assert_eq!(h.calls("UntagResource"), untag_calls);

    let unknown = h
        .model
        .event_source_mapping_arn("00000000-0000-4000-8000-000000000000");
    let err = h.lambda.list_tags(&unknown).await.unwrap_err();
    assert_eq!(
        (err.kind, err.operation.name()),
        (ErrorKind::NotFound, "ListTags")
    );
}

#[tokio::test]
async fn errors_are_classified() {
    let h = start().await;
    let first = h.lambda.create_mapping(&sqs_request("dup")).await.unwrap();

    // Duplicate create: Conflict, and the message names the existing mapping.
    let err = h
        .lambda
        .create_mapping(&sqs_request("dup"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
    assert_eq!(err.code, "ResourceConflictException");
    assert_eq!(err.operation, "CreateEventSourceMapping");
    assert!(err.message.contains(&first.uuid), "{err}");
    assert_eq!(conflicting_uuid(&err.message), Some(first.uuid.clone()));

    // Unknown mapping.
    let err = h
        .lambda
        .get_mapping("0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert_eq!(err.operation, "GetEventSourceMapping");

    // Unknown function on create.
    let err = h
        .lambda
        .create_mapping(&MappingFields {
            function_name: Some("ghost".to_string()),
            ..sqs_request("ghost-q")
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert_eq!(err.code, "ResourceNotFoundException");
    assert!(err.message.contains("ghost"), "{err}");

    // Invalid parameter: StartingPosition is not allowed for SQS.
    let err = h
        .lambda
        .create_mapping(&MappingFields {
            starting_position: Some("LATEST".to_string()),
            ..sqs_request("invalid-q")
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert_eq!(err.code, "InvalidParameterValueException");
    assert!(!err.message.is_empty());

    // Throttling: the SDK retries (3 attempts in all), then the adapter reports Retry with
    // the Retry-After that Lambda sent.
    let throttle = ApiError {
        retry_after_seconds: Some(3),
        ..ApiError::throttled()
    };
    h.model
        .inject_fault(Fault::times(Some("GetEventSourceMapping"), throttle, 3));
    let gets_before = h.calls("GetEventSourceMapping");
    let err = h.lambda.get_mapping(&first.uuid).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Retry, "{err}");
    assert_eq!(err.code, "TooManyRequestsException");
    assert_eq!(err.retry_after, Some(Duration::from_secs(3)));
    assert_eq!(
        h.calls("GetEventSourceMapping") - gets_before,
        3,
        "standard retry: 3 attempts"
    );
    // The fault is used up: the next call goes through.
    h.lambda.get_mapping(&first.uuid).await.unwrap();

    // A 500 is retried by the SDK, even for the non-idempotent Create.
    h.model.inject_fault(Fault::times(
        Some("CreateEventSourceMapping"),
        ApiError::service("boom"),
        1,
    ));
    let creates_before = h.calls("CreateEventSourceMapping");
    let retried = h
        .lambda
        .create_mapping(&sqs_request("retried-q"))
        .await
        .unwrap();
    assert_eq!(h.calls("CreateEventSourceMapping") - creates_before, 2);
    assert_eq!(retried.fields.event_source_arn, Some(sqs_arn("retried-q")));

    // …so when Lambda committed the first attempt but its response was lost, the retry runs
    // into the mapping it just made: Conflict naming that mapping (the controller adopts it).
    h.model.lose_next_create_responses(1);
    let creates_before = h.calls("CreateEventSourceMapping");
    let err = h
        .lambda
        .create_mapping(&sqs_request("lost-q"))
        .await
        .unwrap_err();
    assert_eq!(h.calls("CreateEventSourceMapping") - creates_before, 2);
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
    let adopted = conflicting_uuid(&err.message).expect("the UUID of the committed create");
    let existing = h.lambda.get_mapping(&adopted).await.unwrap();
    assert_eq!(existing.fields.event_source_arn, Some(sqs_arn("lost-q")));

    // A persistent 500 ends as Retry after the SDK's attempts.
    h.model.inject_fault(Fault::times(
        Some("DeleteEventSourceMapping"),
        ApiError::service("still broken"),
        3,
    ));
    h.settle();
    let err = h.lambda.delete_mapping(&first.uuid).await.unwrap_err();
    assert_eq!(
        (err.kind, err.code.as_str()),
        (ErrorKind::Retry, "ServiceException")
    );
    assert_eq!(err.message, "still broken");

    // Update/Delete conflicts are Busy, not Conflict.
    h.model.inject_fault(Fault::times(
        Some("UpdateEventSourceMapping"),
        ApiError::conflict("An update is already in progress."),
        1,
    ));
    let err = h
        .lambda
        .update_mapping(
            &first.uuid,
            &MappingFields {
                batch_size: Some(3),
                ..MappingFields::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Busy, "{err}");

    // Unknown codes fall back on the HTTP status.
    h.model.inject_fault(Fault::times(
        Some("GetEventSourceMapping"),
        ApiError::new(403, "SomeNewDeniedException", "nope"),
        1,
    ));
    let err = h.lambda.get_mapping(&first.uuid).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::AccessDenied, "{err}");
    assert_eq!(err.code, "SomeNewDeniedException");
}

#[tokio::test]
async fn transport_failures_are_retryable() {
    init_env();
    // The discard port: privileged, so no test server can take it; nothing listens there.
    let aws = AwsLambda::new(AwsSettings {
        endpoint_url: Some("http://127.0.0.1:9".to_string()),
        default_region: Some(REGION.to_string()),
        ..Default::default()
    })
    .await;
    let lambda = aws.connect(&LaneKey::region(REGION));
    let err = lambda
        .get_mapping("0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Retry, "{err}");
    assert_eq!(err.code, "connection failure", "{err}");
    assert_eq!(err.operation, "GetEventSourceMapping");
    assert!(
        !err.message.contains("testing"),
        "no credentials in messages: {err}"
    );

    // Not a region: refused before any request.
    let err = aws
        .connect(&LaneKey::region("Not A Region"))
        .get_mapping("0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b")
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.code.as_str()),
        (ErrorKind::Invalid, "ClientValidation")
    );
}

/// Without an explicit endpoint, aws-config's `AWS_ENDPOINT_URL_LAMBDA` is followed (ahead of
/// the dead `AWS_ENDPOINT_URL`), and the default region comes from the settings.
#[tokio::test]
async fn follows_aws_endpoint_url_lambda_without_explicit_endpoint() {
    init_env();
    let listener = ENV_ENDPOINT_LISTENER
        .lock()
        .unwrap()
        .take()
        .expect("only this test uses the env endpoint");
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let (model, _clock) = Model::with_manual_clock(model_config());
    model.seed_function(FUNCTION);
    serve(&model, listener).await;

    let lambda = AwsLambda::new(AwsSettings {
        endpoint_url: None,
        default_region: Some("eu-central-1".to_string()),
        ..Default::default()
    })
    .await;
    assert_eq!(lambda.default_region().as_deref(), Some("eu-central-1"));
    lambda.check_credentials().await.unwrap();
    let page = lambda
        .connect(&LaneKey::region(REGION))
        .list_mappings(&ListFilter::default(), None)
        .await
        .unwrap();
    assert_eq!(page, Default::default());
    assert_eq!(model.call_counts().get("ListEventSourceMappings"), Some(&1));
}

/// The explicit endpoint wins over both endpoint variables: every other test here depends on
/// it, and this one checks the emulator really got the calls.
#[tokio::test]
async fn explicit_endpoint_wins_over_the_environment() {
    let h = start().await;
    let m: ObservedMapping = h
        .lambda
        .create_mapping(&sqs_request("explicit"))
        .await
        .unwrap();
    assert_eq!(h.calls("CreateEventSourceMapping"), 1);
    assert_eq!(h.stored(&m.uuid)["EventSourceArn"], sqs_arn("explicit"));
}
