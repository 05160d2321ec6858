//! Lambda's error model: an HTTP status, an exception name (`code`) and a message.

use std::fmt;

/// One Lambda API error, exactly as the service would report it.
///
/// `code` is the exception name that the SDK exposes as `err.code()`, e.g.
/// `ResourceConflictException`. `retry_after_seconds` is only set for throttling
/// (`TooManyRequestsException`), where the HTTP face turns it into a `Retry-After` header.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub retry_after_seconds: Option<u64>,
}

impl ApiError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            retry_after_seconds: None,
        }
    }

    /// 400 `InvalidParameterValueException`: a bad value or an unsupported combination.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidParameterValueException", message)
    }

    /// 404 `ResourceNotFoundException`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "ResourceNotFoundException", message)
    }

    /// 409 `ResourceConflictException` (duplicate mapping on Create/Update).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "ResourceConflictException", message)
    }

    /// 400 `ResourceInUseException`: the mapping is in a transitional state.
    pub fn in_use(message: impl Into<String>) -> Self {
        Self::new(400, "ResourceInUseException", message)
    }

    /// 500 `ServiceException`: Lambda's internal error.
    pub fn service(message: impl Into<String>) -> Self {
        Self::new(500, "ServiceException", message)
    }

    /// 429 `TooManyRequestsException` as the control-plane rate limiter returns it.
    pub fn throttled() -> Self {
        ApiError {
            retry_after_seconds: Some(1),
            ..Self::new(429, "TooManyRequestsException", "Rate exceeded")
        }
    }

    /// The mapping UUID (or ARN) is unknown.
    pub(crate) fn mapping_not_found() -> Self {
        Self::not_found("The resource you requested does not exist.")
    }

    /// Lambda's `Type` member: `Service` for 5xx, `User` for everything the caller caused.
    pub fn error_type(&self) -> &'static str {
        if self.status >= 500 {
            "Service"
        } else {
            "User"
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Shorthand used throughout the model.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
