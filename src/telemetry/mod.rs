//! Logging setup: JSON (for clusters) or text (for people), level from `--log-level` or
//! `RUST_LOG`. Nothing here logs request bodies or credentials.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// Checks a `--log-level` value: a level, or a tracing filter whose every directive names a
/// level (`info,esm_controller=debug`). tracing would read a bare misspelt level ("inf",
/// "debgu") as the name of a module and quietly log nothing, so that is refused here.
pub fn check_filter(text: &str) -> Result<String, String> {
    let refuse = |what: &str| {
        format!(
            "{what}: use one of {} or a filter such as `info,esm_controller=debug`",
            LEVELS.join(", ")
        )
    };
    for directive in text.split(',').map(str::trim) {
        let level = directive
            .rsplit_once('=')
            .map_or(directive, |(_, level)| level);
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(refuse(&format!("`{directive}` names no level")));
        }
    }
    EnvFilter::try_new(text).map_err(|e| refuse(&e.to_string()))?;
    Ok(text.to_string())
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
