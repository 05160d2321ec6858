//! Injected faults: make selected API calls fail (and/or slow down) on purpose.

use std::time::Duration;

use super::error::ApiError;

/// A fault to inject into API calls.
///
/// * `operation`: the Lambda operation name (e.g. `"CreateEventSourceMapping"`), `None` = all.
/// * `error`: what the call returns. An error whose `code` is empty is a *latency-only*
///   fault: the call then runs normally after the delay (HTTP face only).
/// * `remaining`: how many more calls it hits; `None` = every matching call.
/// * `probability`: chance that a matching call is hit (1.0 = always).
/// * `latency`: extra delay before answering. Only the HTTP face sleeps; the in-process
///   API ignores it (it must not block an async test runtime).
#[derive(Clone, Debug)]
pub struct Fault {
    pub operation: Option<String>,
    pub error: ApiError,
    pub remaining: Option<u32>,
    pub probability: f64,
    pub latency: Option<Duration>,
}

impl Fault {
    /// A fault that hits every call of `operation` (or all operations) with `error`.
    pub fn always(operation: Option<&str>, error: ApiError) -> Self {
        Fault {
            operation: operation.map(str::to_owned),
            error,
            remaining: None,
            probability: 1.0,
            latency: None,
        }
    }

    /// A fault that hits the next `n` calls of `operation` with `error`.
    pub fn times(operation: Option<&str>, error: ApiError, n: u32) -> Self {
        Fault {
            remaining: Some(n),
            ..Self::always(operation, error)
        }
    }

    pub(crate) fn matches(&self, operation: &str) -> bool {
        self.operation.as_deref().is_none_or(|op| op == operation) && self.remaining != Some(0)
    }

    pub(crate) fn is_latency_only(&self) -> bool {
        self.error.code.is_empty()
    }
}
