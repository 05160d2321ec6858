//! SDK failures turned into classified [`LambdaError`]s, and the errors this adapter raises
//! itself for requests it refuses to send.

use std::time::Duration;

use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::create_event_source_mapping::CreateEventSourceMappingError;
use aws_sdk_lambda::operation::delete_event_source_mapping::DeleteEventSourceMappingError;
use aws_sdk_lambda::operation::get_event_source_mapping::GetEventSourceMappingError;
use aws_sdk_lambda::operation::list_event_source_mappings::ListEventSourceMappingsError;
use aws_sdk_lambda::operation::list_tags::ListTagsError;
use aws_sdk_lambda::operation::tag_resource::TagResourceError;
use aws_sdk_lambda::operation::untag_resource::UntagResourceError;
use aws_sdk_lambda::operation::update_event_source_mapping::UpdateEventSourceMappingError;

use crate::lambda::{ErrorKind, LambdaError, Op, classify};

/// The error code of requests this adapter refuses before they reach AWS (controller bugs).
pub const CLIENT_VALIDATION: &str = "ClientValidation";

pub(super) fn client_validation(operation: Op, message: String) -> LambdaError {
    LambdaError {
        kind: ErrorKind::Invalid,
        operation,
        code: CLIENT_VALIDATION.to_string(),
        message,
        retry_after: None,
        throttled: false,
    }
}

/// The modelled `Retry-After` of an operation's `TooManyRequestsException`.
pub(super) trait Throttling {
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
pub(super) fn sdk_error<E>(operation: Op, err: SdkError<E, HttpResponse>) -> LambdaError
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
        throttled: crate::lambda::is_throttle_code(&code) || status == Some(429),
        operation,
        code,
        message,
        retry_after,
    }
}

/// An error and its sources, `outer: inner: root`, without the repeats of errors that already
/// print their source.
pub(super) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
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
    use crate::lambda::Op::{Create as CREATE, Get as GET, Update as UPDATE};
    use aws_sdk_lambda::error::ErrorMetadata;
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
            crate::lambda::conflicting_uuid(&err.message).as_deref(),
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
}
