//! AWS error classification, done once for the whole controller (semantics §5).

use std::time::Duration;

/// What an AWS error means for us. Every decision about retrying, waiting or stalling is taken
/// on this, never on raw error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Throttling, 5xx, timeouts, connection failures: retry with backoff.
    Retry,
    /// The mapping is in a transitional state (ResourceInUse, or a 409 on Update/Delete):
    /// wait a few seconds, this is not a failure.
    Busy,
    /// Create found an existing mapping for the same source and function.
    Conflict,
    /// The named resource does not exist (mapping UUID, or the function on Create).
    NotFound,
    /// Lambda rejected the request as invalid; only a spec change can fix it.
    Invalid,
    /// Missing IAM permission for the controller's role.
    AccessDenied,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Busy => "busy",
            Self::Conflict => "conflict",
            Self::NotFound => "not_found",
            Self::Invalid => "invalid",
            Self::AccessDenied => "access_denied",
        }
    }
}

/// A Lambda operation the controller calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Create,
    Get,
    Update,
    Delete,
    List,
    Tag,
    Untag,
    ListTags,
}

impl Op {
    pub const ALL: [Op; 8] = [
        Op::Create,
        Op::Get,
        Op::Update,
        Op::Delete,
        Op::List,
        Op::Tag,
        Op::Untag,
        Op::ListTags,
    ];

    /// Lambda's name for it (error messages, metrics labels, the emulator's call counts).
    pub fn name(self) -> &'static str {
        match self {
            Op::Create => "CreateEventSourceMapping",
            Op::Get => "GetEventSourceMapping",
            Op::Update => "UpdateEventSourceMapping",
            Op::Delete => "DeleteEventSourceMapping",
            Op::List => "ListEventSourceMappings",
            Op::Tag => "TagResource",
            Op::Untag => "UntagResource",
            Op::ListTags => "ListTags",
        }
    }

    /// Whether it changes anything in Lambda (writes go first in the budget).
    pub(crate) fn writes(self) -> bool {
        matches!(
            self,
            Op::Create | Op::Update | Op::Delete | Op::Tag | Op::Untag
        )
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Lets tests and logs compare with Lambda's name.
impl PartialEq<&str> for Op {
    fn eq(&self, name: &&str) -> bool {
        self.name() == *name
    }
}

/// An error from Lambda, already classified.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{operation}: {code}: {message}")]
pub struct LambdaError {
    pub kind: ErrorKind,
    /// The operation that failed.
    pub operation: Op,
    /// AWS error code (`ResourceInUseException`), or a transport description.
    pub code: String,
    /// Lambda's message, shown to users in conditions and events.
    pub message: String,
    /// From the `Retry-After` header on throttling.
    pub retry_after: Option<Duration>,
    /// Refused for its rate: a throttling code, or HTTP 429 whatever the body says.
    pub throttled: bool,
}

impl LambdaError {
    /// Create was refused because of the tags it carries: the role may not tag
    /// (`lambda:TagResource` is missing), or Lambda does not support tags on event source
    /// mappings where the call went. The controller never creates an untagged mapping (the
    /// ownership tag is what lets it find its mapping after an interruption), so only granting
    /// the permission or going elsewhere can fix this.
    pub fn refuses_tags(&self) -> bool {
        if self.operation != Op::Create {
            return false;
        }
        match self.kind {
            ErrorKind::AccessDenied => self.message.contains("TagResource"),
            ErrorKind::Invalid => {
                let message = self.message.to_ascii_lowercase();
                message.contains("tags") || message.contains("tagging")
            }
            _ => false,
        }
    }

    /// Lambda (or another AWS service) refused the call for its rate: retryable, and a signal
    /// to the shared budget to slow down.
    pub(crate) fn is_throttled(&self) -> bool {
        self.throttled
    }
}

/// The error codes that mean "too many requests".
pub fn is_throttle_code(code: &str) -> bool {
    matches!(
        code,
        "TooManyRequestsException" | "ThrottlingException" | "Throttling" | "RequestLimitExceeded"
    )
}

/// Classifies an AWS error code for an operation. `status` (HTTP) is a fallback for codes we do
/// not know.
pub fn classify(operation: Op, code: &str, status: Option<u16>) -> ErrorKind {
    match code {
        code if is_throttle_code(code) => ErrorKind::Retry,
        "ServiceException" | "InternalFailure" | "ServiceUnavailable" => ErrorKind::Retry,
        "ResourceInUseException" => ErrorKind::Busy,
        // On Create a 409 means "a mapping for this source and function exists"; on Update and
        // Delete it means "another operation is in progress" (semantics §5.1).
        "ResourceConflictException" if operation == Op::Create => ErrorKind::Conflict,
        "ResourceConflictException" => ErrorKind::Busy,
        "ResourceNotFoundException" => ErrorKind::NotFound,
        "InvalidParameterValueException"
        | "ValidationException"
        | "InvalidRequestContentException" => ErrorKind::Invalid,
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "KMSAccessDeniedException" => ErrorKind::AccessDenied,
        _ => match status {
            Some(429) | Some(500..=599) | None => ErrorKind::Retry,
            Some(404) => ErrorKind::NotFound,
            Some(403) => ErrorKind::AccessDenied,
            Some(409) => ErrorKind::Busy,
            Some(_) => ErrorKind::Invalid,
        },
    }
}

/// The UUID Lambda names in a duplicate-mapping message: "… Please update or delete the
/// existing mapping with UUID 2b7b6a2c-…" (semantics §5.2).
pub fn conflicting_uuid(message: &str) -> Option<String> {
    let after = &message[message.find("UUID")? + 4..];
    let candidate: String = after
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
        .collect();
    (candidate.len() == 36).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_each_lambda_error_once() {
        let create = Op::Create;
        let update = Op::Update;
        let delete = Op::Delete;
        let cases = [
            (
                create,
                "TooManyRequestsException",
                Some(429),
                ErrorKind::Retry,
            ),
            (update, "ServiceException", Some(500), ErrorKind::Retry),
            (update, "ResourceInUseException", Some(400), ErrorKind::Busy),
            (delete, "ResourceInUseException", Some(400), ErrorKind::Busy),
            (
                create,
                "ResourceConflictException",
                Some(409),
                ErrorKind::Conflict,
            ),
            (
                update,
                "ResourceConflictException",
                Some(409),
                ErrorKind::Busy,
            ),
            (
                delete,
                "ResourceConflictException",
                Some(409),
                ErrorKind::Busy,
            ),
            (
                create,
                "ResourceNotFoundException",
                Some(404),
                ErrorKind::NotFound,
            ),
            (
                create,
                "InvalidParameterValueException",
                Some(400),
                ErrorKind::Invalid,
            ),
            (
                update,
                "AccessDeniedException",
                Some(403),
                ErrorKind::AccessDenied,
            ),
            (update, "SomethingNew", Some(503), ErrorKind::Retry),
            (update, "SomethingNew", Some(400), ErrorKind::Invalid),
            (update, "dispatch failure", None, ErrorKind::Retry),
        ];
        for (op, code, status, want) in cases {
            assert_eq!(classify(op, code, status), want, "{op} {code} {status:?}");
        }
    }

    #[test]
    fn finds_the_uuid_in_duplicate_messages() {
        let sqs = r#"An event source mapping with SQS arn (" arn:aws:sqs:us-east-1:123456789012:q ") and function (" f ") already exists. Please update or delete the existing mapping with UUID 2b7b6a2c-9d2e-4a4f-8f00-1c2d3e4f5a6b"#;
        assert_eq!(
            conflicting_uuid(sqs).as_deref(),
            Some("2b7b6a2c-9d2e-4a4f-8f00-1c2d3e4f5a6b")
        );
        let stream = "The event source arn (\" arn:aws:kinesis:us-east-1:1:stream/s \") and function (\" f \") provided mapping already exists. Please update or delete the existing mapping with UUID 0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b.";
        assert_eq!(
            conflicting_uuid(stream).as_deref(),
            Some("0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b")
        );
        assert_eq!(conflicting_uuid("another operation is in progress"), None);
        assert_eq!(conflicting_uuid("UUID 1234"), None);
    }

    fn create_error(code: &str, status: u16, message: &str) -> LambdaError {
        let operation = Op::Create;
        LambdaError {
            kind: classify(operation, code, Some(status)),
            operation,
            code: code.into(),
            message: message.into(),
            retry_after: None,
            throttled: false,
        }
    }

    #[test]
    fn a_create_refused_for_its_tags_is_told_apart() {
        let denied_tagging = "User: arn:aws:sts::123456789012:assumed-role/esm/c is not authorized to perform: lambda:TagResource on resource: arn:aws:lambda:us-east-1:123456789012:event-source-mapping:*";
        let denied_create = "User: arn:aws:sts::123456789012:assumed-role/esm/c is not authorized to perform: lambda:CreateEventSourceMapping";
        let cases = [
            ("AccessDeniedException", 403, denied_tagging, true),
            ("AccessDeniedException", 403, denied_create, false),
            (
                "InvalidParameterValueException",
                400,
                "Tags are not supported for event source mappings in this region",
                true,
            ),
            (
                "InvalidParameterValueException",
                400,
                "BatchSize must be between 1 and 10000",
                false,
            ),
            ("ServiceException", 500, "Tags: internal error", false),
        ];
        for (code, status, message, refuses) in cases {
            assert_eq!(
                create_error(code, status, message).refuses_tags(),
                refuses,
                "{code}: {message}"
            );
        }
        let mut update = create_error("AccessDeniedException", 403, denied_tagging);
        update.operation = Op::Update;
        assert!(!update.refuses_tags(), "only Create carries tags");
    }
}
