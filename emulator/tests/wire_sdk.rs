//! Wire tests: the real `aws-sdk-lambda` talks to the HTTP face on a loopback port.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::operation::get_event_source_mapping::GetEventSourceMappingError;
use aws_sdk_lambda::primitives::DateTime;
use aws_sdk_lambda::types::{
    DestinationConfig, EventSourcePosition, Filter, FilterCriteria, FunctionResponseType,
    OnFailure, ScalingConfig,
};
use common::*;
use esm_emulator::model::{ApiError, Fault, ManualClock, Model};
use esm_emulator::server::serve;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A running emulator; shuts down when dropped.
struct Emulator {
    model: Model,
    clock: ManualClock,
    addr: std::net::SocketAddr,
    client: Client,
    _shutdown: oneshot::Sender<()>,
}

async fn start() -> Emulator {
    let (model, clock) = model();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(serve(model.clone(), listener, async {
        let _ = rx.await;
    }));
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("http://{addr}"))
        .credentials_provider(Credentials::new(
            "AKIDEMULATOR",
            "secret",
            None,
            None,
            "test",
        ))
        .retry_config(RetryConfig::disabled())
        .build();
    Emulator {
        model,
        clock,
        addr,
        client: Client::from_conf(config),
        _shutdown: tx,
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips.

#[tokio::test]
async fn sdk_round_trip_create_get_update_delete() {
    let emu = start().await;
    let c = &emu.client;
    let pattern = r#"{"body":{"kind":["order"]}}"#;
    let created = c
        .create_event_source_mapping()
        .function_name("worker")
        .event_source_arn(SQS)
        .batch_size(5)
        .filter_criteria(
            FilterCriteria::builder()
                .filters(Filter::builder().pattern(pattern).build())
                .build(),
        )
        .scaling_config(ScalingConfig::builder().maximum_concurrency(4).build())
        .function_response_types(FunctionResponseType::ReportBatchItemFailures)
        .tags("owner", "esm-controller")
        .send()
        .await
        .unwrap();
    let id = created.uuid().unwrap().to_owned();
    assert_eq!(created.state(), Some("Creating"));
    assert_eq!(created.function_arn(), Some(FN_ARN));
    assert_eq!(created.batch_size(), Some(5));
    assert_eq!(created.maximum_batching_window_in_seconds(), Some(0));
    assert_eq!(
        created.filter_criteria().unwrap().filters()[0].pattern(),
        Some(pattern)
    );
    assert_eq!(
        created.scaling_config().unwrap().maximum_concurrency(),
        Some(4)
    );
    assert_eq!(
        created.function_response_types(),
        [FunctionResponseType::ReportBatchItemFailures]
    );
    assert_eq!(
        created.event_source_mapping_arn(),
        Some(format!("arn:aws:lambda:us-east-1:{ACCOUNT}:event-source-mapping:{id}").as_str())
    );
    let last_modified = created.last_modified().unwrap();
    assert!(last_modified.secs() > 1_600_000_000);

    emu.clock.advance(Duration::from_secs(1));
    let got = c.get_event_source_mapping().uuid(&id).send().await.unwrap();
    assert_eq!(got.state(), Some("Enabled"));
    assert_eq!(got.state_transition_reason(), Some("USER_INITIATED"));
    assert_eq!(got.last_processing_result(), Some("No records processed"));

    // Clear filters and the concurrency cap with empty objects, disable.
    let updated = c
        .update_event_source_mapping()
        .uuid(&id)
        .enabled(false)
        .filter_criteria(FilterCriteria::builder().build())
        .scaling_config(ScalingConfig::builder().build())
        .send()
        .await
        .unwrap();
    assert_eq!(updated.state(), Some("Disabling"));
    assert!(updated.filter_criteria().is_none());
    assert!(updated.scaling_config().is_none());
    emu.clock.advance(Duration::from_secs(1));
    assert_eq!(
        c.get_event_source_mapping()
            .uuid(&id)
            .send()
            .await
            .unwrap()
            .state(),
        Some("Disabled")
    );

    let deleted = c
        .delete_event_source_mapping()
        .uuid(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.state(), Some("Deleting"));
    emu.clock.advance(Duration::from_secs(1));
    let err = c
        .get_event_source_mapping()
        .uuid(&id)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_resource_not_found_exception()
    );
}

#[tokio::test]
async fn sdk_round_trip_stream_fields_and_timestamps() {
    let emu = start().await;
    let created = emu
        .client
        .create_event_source_mapping()
        .function_name("worker:live")
        .event_source_arn(KINESIS)
        .starting_position(EventSourcePosition::AtTimestamp)
        .starting_position_timestamp(DateTime::from_secs(1_700_000_000))
        .parallelization_factor(3)
        .maximum_record_age_in_seconds(600)
        .destination_config(
            DestinationConfig::builder()
                .on_failure(
                    OnFailure::builder()
                        .destination("arn:aws:sqs:us-east-1:123456789012:dlq")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.function_arn(),
        Some(format!("{FN_ARN}:live").as_str())
    );
    assert_eq!(
        created.starting_position(),
        Some(&EventSourcePosition::AtTimestamp)
    );
    assert_eq!(
        created.starting_position_timestamp(),
        Some(&DateTime::from_secs(1_700_000_000))
    );
    assert_eq!(created.parallelization_factor(), Some(3));
    assert_eq!(created.maximum_record_age_in_seconds(), Some(600));
    assert_eq!(created.maximum_retry_attempts(), Some(-1));
    assert_eq!(created.bisect_batch_on_function_error(), Some(false));
    assert_eq!(created.tumbling_window_in_seconds(), Some(0));
    assert_eq!(
        created
            .destination_config()
            .unwrap()
            .on_failure()
            .unwrap()
            .destination(),
        Some("arn:aws:sqs:us-east-1:123456789012:dlq")
    );
    // Clearing the destination brings back the husk.
    emu.clock.advance(Duration::from_secs(1));
    let updated = emu
        .client
        .update_event_source_mapping()
        .uuid(created.uuid().unwrap())
        .destination_config(
            DestinationConfig::builder()
                .on_failure(OnFailure::builder().destination("").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let on_failure = updated.destination_config().unwrap().on_failure().unwrap();
    assert_eq!(on_failure.destination(), None);
}

#[tokio::test]
async fn sdk_paginator_walks_250_mappings_in_pages_of_100() {
    let emu = start().await;
    for i in 0..250 {
        let arn = format!("arn:aws:sqs:us-east-1:123456789012:q{i}");
        create(
            &emu.model,
            json!({"FunctionName": "worker", "EventSourceArn": arn}),
        );
    }
    let mut pages = emu
        .client
        .list_event_source_mappings()
        .into_paginator()
        .send();
    let mut sizes = Vec::new();
    while let Some(page) = pages.next().await {
        sizes.push(page.unwrap().event_source_mappings().len());
    }
    assert_eq!(sizes, [100, 100, 50]);
    let items = emu
        .client
        .list_event_source_mappings()
        .function_name(FN_ARN)
        .max_items(1000)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(items.len(), 250);
    let first = items.first().unwrap().uuid().unwrap();
    assert_eq!(first, emu.model.mappings()[0]["UUID"].as_str().unwrap());
    // The EventSourceArn filter goes through the query string.
    let one = emu
        .client
        .list_event_source_mappings()
        .event_source_arn("arn:aws:sqs:us-east-1:123456789012:q7")
        .send()
        .await
        .unwrap();
    assert_eq!(one.event_source_mappings().len(), 1);
    assert!(one.next_marker().is_none());
}

#[tokio::test]
async fn sdk_tags_round_trip() {
    let emu = start().await;
    let created = emu
        .client
        .create_event_source_mapping()
        .function_name("worker")
        .event_source_arn(SQS)
        .tags("owner", "esm-controller")
        .send()
        .await
        .unwrap();
    let arn = created.event_source_mapping_arn().unwrap();
    emu.client
        .tag_resource()
        .resource(arn)
        .tags("team", "payments")
        .tags("env", "prod")
        .send()
        .await
        .unwrap();
    emu.client
        .untag_resource()
        .resource(arn)
        .tag_keys("env")
        .tag_keys("owner")
        .send()
        .await
        .unwrap();
    let tags = emu.client.list_tags().resource(arn).send().await.unwrap();
    let tags = tags.tags().unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags.get("team").map(String::as_str), Some("payments"));
    let missing = format!(
        "arn:aws:lambda:us-east-1:{ACCOUNT}:event-source-mapping:00000000-0000-4000-8000-000000000000"
    );
    let err = emu
        .client
        .list_tags()
        .resource(missing)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_resource_not_found_exception()
    );
}

// ---------------------------------------------------------------------------------------------
// Error mapping.

#[tokio::test]
async fn sdk_maps_conflict_in_use_not_found_and_invalid() {
    let emu = start().await;
    let c = &emu.client;
    let first = c
        .create_event_source_mapping()
        .function_name("worker")
        .event_source_arn(SQS)
        .send()
        .await
        .unwrap();
    let id = first.uuid().unwrap();

    let err = c
        .create_event_source_mapping()
        .function_name("worker")
        .event_source_arn(SQS)
        .send()
        .await
        .unwrap_err();
    let service = err.as_service_error().unwrap();
    assert!(service.is_resource_conflict_exception());
    assert_eq!(service.code(), Some("ResourceConflictException"));
    assert!(service.message().unwrap().ends_with(&format!("UUID {id}")));

    let err = c
        .update_event_source_mapping()
        .uuid(id)
        .batch_size(3)
        .send()
        .await
        .unwrap_err();
    let service = err.into_service_error();
    assert!(service.is_resource_in_use_exception(), "{service:?}");
    assert_eq!(service.code(), Some("ResourceInUseException"));

    let err = c
        .delete_event_source_mapping()
        .uuid(id)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_in_use_exception());

    let err = c
        .get_event_source_mapping()
        .uuid("00000000-0000-4000-8000-000000000000")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());

    let err = c
        .create_event_source_mapping()
        .function_name("ghost")
        .event_source_arn(SQS2)
        .send()
        .await
        .unwrap_err();
    let service = err.into_service_error();
    assert!(service.is_resource_not_found_exception());
    assert_eq!(
        service.message(),
        Some("Function not found: arn:aws:lambda:us-east-1:123456789012:function:ghost")
    );

    let err = c
        .create_event_source_mapping()
        .function_name("worker")
        .event_source_arn(SQS2)
        .batch_size(50)
        .send()
        .await
        .unwrap_err();
    let service = err.into_service_error();
    assert!(service.is_invalid_parameter_value_exception());
    assert!(
        service
            .message()
            .unwrap()
            .contains("MaximumBatchingWindowInSeconds")
    );
}

#[tokio::test]
async fn sdk_maps_throttling_with_retry_after() {
    let emu = start().await;
    emu.model.set_rate_limit(Some(2));
    let id = "00000000-0000-4000-8000-000000000000";
    for _ in 0..2 {
        let _ = emu.client.get_event_source_mapping().uuid(id).send().await;
    }
    let err = emu
        .client
        .get_event_source_mapping()
        .uuid(id)
        .send()
        .await
        .unwrap_err();
    match err.into_service_error() {
        GetEventSourceMappingError::TooManyRequestsException(t) => {
            assert_eq!(t.retry_after_seconds(), Some("1"));
            assert_eq!(t.message(), Some("Rate exceeded"));
        }
        other => panic!("expected throttling, got {other:?}"),
    }
    assert_eq!(emu.model.call_counts()["GetEventSourceMapping"], 3);
}

#[tokio::test]
async fn sdk_sees_injected_service_errors_and_lost_creates() {
    let emu = start().await;
    emu.model.inject_fault(Fault::times(
        Some("ListEventSourceMappings"),
        ApiError::service("injected"),
        1,
    ));
    let err = emu
        .client
        .list_event_source_mappings()
        .send()
        .await
        .unwrap_err();
    let service = err.into_service_error();
    assert!(service.is_service_exception());
    assert_eq!(service.message(), Some("injected"));
    emu.client
        .list_event_source_mappings()
        .send()
        .await
        .unwrap();

    emu.model.lose_next_create_responses(1);
    let err = emu
        .client
        .create_event_source_mapping()
        .function_name("worker")
        .event_source_arn(SQS)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_service_exception());
    assert_eq!(emu.model.mappings().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP: headers, odd paths, admin API.

#[tokio::test]
async fn error_wire_format() {
    let emu = start().await;
    let r = raw(
        emu.addr,
        "GET",
        "/2015-03-31/event-source-mappings/00000000-0000-4000-8000-000000000000",
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("ResourceNotFoundException")
    );
    assert_eq!(r.json()["Type"], "User");
    assert!(r.json()["message"].is_string());
    emu.model.set_rate_limit(Some(1));
    let _ = raw(emu.addr, "GET", "/2015-03-31/event-source-mappings", None).await;
    let r = raw(emu.addr, "GET", "/2015-03-31/event-source-mappings", None).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), Some("1"));
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("TooManyRequestsException")
    );
    emu.model.set_rate_limit(None);
    emu.model
        .inject_fault(Fault::times(None, ApiError::service("down"), 1));
    let r = raw(emu.addr, "GET", "/2015-03-31/event-source-mappings", None).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["Type"], "Service");
    let r = raw(
        emu.addr,
        "POST",
        "/2015-03-31/event-source-mappings",
        Some(json!("not an object")),
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn trailing_slash_and_encoded_tag_arns_are_accepted() {
    let emu = start().await;
    let r = raw(
        emu.addr,
        "POST",
        "/2015-03-31/event-source-mappings/",
        Some(sqs_body()),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let arn = r.json()["EventSourceMappingArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = raw(
        emu.addr,
        "GET",
        "/2015-03-31/event-source-mappings/?FunctionName=worker&MaxItems=5",
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["EventSourceMappings"].as_array().unwrap().len(), 1);
    let encoded = arn.replace(':', "%3A");
    let r = raw(
        emu.addr,
        "POST",
        &format!("/2017-03-31/tags/{encoded}"),
        Some(json!({"Tags": {"a": "1", "b": "2"}})),
    )
    .await;
    assert_eq!(r.status, 204);
    let r = raw(
        emu.addr,
        "DELETE",
        &format!("/2017-03-31/tags/{encoded}?tagKeys=a"),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    let r = raw(emu.addr, "GET", &format!("/2017-03-31/tags/{arn}"), None).await;
    assert_eq!(r.json(), json!({"Tags": {"b": "2"}}));
}

#[tokio::test]
async fn admin_api_drives_the_model() {
    let emu = start().await;
    let a = emu.addr;
    assert_eq!(
        raw(
            a,
            "POST",
            "/_emulator/functions",
            Some(json!({"name": "late"}))
        )
        .await
        .status,
        204
    );
    assert_eq!(
        raw(
            a,
            "POST",
            "/_emulator/event-sources",
            Some(json!({"arn": SQS}))
        )
        .await
        .status,
        204
    );
    assert_eq!(
        raw(
            a,
            "POST",
            "/_emulator/delays",
            Some(json!({"transitionMs": 0, "deletingMs": 0}))
        )
        .await
        .status,
        204
    );
    let created = emu
        .client
        .create_event_source_mapping()
        .function_name("late")
        .event_source_arn(SQS)
        .send()
        .await
        .unwrap();
    let id = created.uuid().unwrap();

    let r = raw(
        a,
        "POST",
        &format!("/_emulator/mappings/{id}/oob-update"),
        Some(json!({"BatchSize": 9})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = raw(
        a,
        "POST",
        &format!("/_emulator/mappings/{id}/lambda-disable"),
        Some(json!({"reason": "PROBLEM: gone"})),
    )
    .await;
    assert_eq!(r.status, 204);
    let snapshot = raw(a, "GET", "/_emulator/mappings", None).await.json();
    assert_eq!(snapshot[0]["BatchSize"], 9);
    assert_eq!(snapshot[0]["State"], "Disabled");
    assert_eq!(snapshot[0]["StateTransitionReason"], "PROBLEM: gone");
    let calls_before = raw(a, "GET", "/_emulator/calls", None).await.json();
    let one = raw(a, "GET", &format!("/_emulator/mappings/{id}"), None).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["BatchSize"], 9);
    assert_eq!(
        raw(a, "GET", "/_emulator/calls", None).await.json(),
        calls_before,
        "admin reads are not API calls"
    );
    let missing = raw(
        a,
        "GET",
        "/_emulator/mappings/00000000-0000-4000-8000-000000000000",
        None,
    )
    .await;
    assert_eq!(missing.status, 404);
    let r = raw(
        a,
        "POST",
        "/_emulator/mappings/00000000-0000-4000-8000-000000000000/oob-update",
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 404);

    let fault = json!({"operation": "GetEventSourceMapping", "status": 500, "code": "ServiceException",
        "message": "admin fault", "remaining": 1, "probability": 1.0, "latencyMs": 0});
    assert_eq!(
        raw(a, "POST", "/_emulator/faults", Some(fault))
            .await
            .status,
        204
    );
    let err = emu
        .client
        .get_event_source_mapping()
        .uuid(id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().message(), Some("admin fault"));
    emu.client
        .get_event_source_mapping()
        .uuid(id)
        .send()
        .await
        .unwrap();
    let fault = json!({"status": 503, "code": "ServiceException", "message": "always"});
    raw(a, "POST", "/_emulator/faults", Some(fault)).await;
    assert!(
        emu.client
            .get_event_source_mapping()
            .uuid(id)
            .send()
            .await
            .is_err()
    );
    assert_eq!(
        raw(a, "DELETE", "/_emulator/faults", None).await.status,
        204
    );
    emu.client
        .get_event_source_mapping()
        .uuid(id)
        .send()
        .await
        .unwrap();

    let calls = raw(a, "GET", "/_emulator/calls", None).await.json();
    assert_eq!(calls["CreateEventSourceMapping"], 1);
    assert_eq!(calls["GetEventSourceMapping"], 4);

    assert_eq!(
        raw(
            a,
            "POST",
            "/_emulator/lose-create-responses",
            Some(json!({"count": 1}))
        )
        .await
        .status,
        204
    );
    let err = emu
        .client
        .create_event_source_mapping()
        .function_name("late")
        .event_source_arn(SQS2)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_service_exception());

    assert_eq!(
        raw(a, "DELETE", &format!("/_emulator/mappings/{id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        raw(a, "GET", "/_emulator/mappings", None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(raw(a, "POST", "/_emulator/reset", None).await.status, 204);
    assert_eq!(
        raw(a, "GET", "/_emulator/mappings", None).await.json(),
        json!([])
    );
    assert_eq!(
        raw(a, "GET", "/_emulator/calls", None).await.json(),
        json!({})
    );
    assert_eq!(
        raw(a, "POST", "/_emulator/functions", Some(json!({"wrong": 1})))
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn request_log_names_each_caller_in_arrival_order() {
    let emu = start().await;
    let created = emu
        .client
        .create_event_source_mapping()
        .function_name("worker")
        .event_source_arn(SQS)
        .send()
        .await
        .unwrap();
    // An unsigned request (another tool), then admin calls, which are not Lambda requests.
    let uuid = created.uuid().unwrap();
    let got = raw(
        emu.addr,
        "GET",
        &format!("/2015-03-31/event-source-mappings/{uuid}"),
        None,
    )
    .await;
    assert_eq!(got.status, 200);
    raw(emu.addr, "GET", "/_emulator/calls", None).await;

    let log = raw(emu.addr, "GET", "/_emulator/requests", None)
        .await
        .json();
    let seen: Vec<(u64, &str, &str, Option<&str>, u64)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["seq"].as_u64().unwrap(),
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap(),
                r["caller"].as_str(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let get_path = format!("/2015-03-31/event-source-mappings/{uuid}");
    assert_eq!(
        seen,
        [
            (
                0,
                "POST",
                "/2015-03-31/event-source-mappings",
                Some("AKIDEMULATOR"),
                202
            ),
            (1, "GET", get_path.as_str(), None, 200),
        ]
    );

    assert_eq!(
        raw(emu.addr, "POST", "/_emulator/reset", None).await.status,
        204
    );
    let log = raw(emu.addr, "GET", "/_emulator/requests", None)
        .await
        .json();
    assert_eq!(log, json!([]));
}

#[tokio::test]
async fn fault_latency_delays_the_http_response() {
    let emu = start().await;
    let fault = json!({"operation": "ListEventSourceMappings", "status": 500, "code": "ServiceException",
        "message": "slow", "remaining": 1, "latencyMs": 300});
    raw(emu.addr, "POST", "/_emulator/faults", Some(fault)).await;
    let started = Instant::now();
    let err = emu
        .client
        .list_event_source_mappings()
        .send()
        .await
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(err.into_service_error().is_service_exception());
}

#[tokio::test]
async fn server_stops_on_shutdown_signal() {
    let (model, _) = model();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(serve(model, listener, async {
        let _ = rx.await;
    }));
    assert_eq!(raw(addr, "GET", "/_emulator/calls", None).await.status, 200);
    tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err());
}
