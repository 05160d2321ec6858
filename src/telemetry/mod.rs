//! Logging setup: JSON (for clusters) or text (for people), level from `--log-level` or
//! `RUST_LOG`. Nothing here logs request bodies or credentials.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

pub fn init(format: LogFormat, level: &str) {
    // Quiet the SDK's and kube's internals unless asked for: they can be chatty at debug.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},aws_smithy_runtime=warn,aws_config=warn,hyper=warn,tower=warn"
        ))
    });
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false),
            )
            .init(),
        LogFormat::Text => registry.with(fmt::layer().compact()).init(),
    }
}

pub mod memory;
pub mod metrics;
pub use metrics::Metrics;
