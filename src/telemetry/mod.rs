//! Logging setup: JSON (for clusters) or text (for people), level from `--log-level` or
//! `RUST_LOG`. Nothing here logs request bodies or credentials.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// Checks a `--log-level` value with tracing's own parser, and refuses what it would take but
/// is surely a typo: a bare word close to a level name (`inf`, `warning`, `debgu`). tracing
/// reads a bare word as a module to log at every level, so the controller would quietly log
/// nothing of its own. Other bare words (`esm_controller`) stay valid filters.
pub fn check_filter(text: &str) -> Result<String, String> {
    let refuse = |what: String| {
        format!(
            "{what}: use one of {} or a filter such as `info,esm_controller=debug`",
            LEVELS.join(", ")
        )
    };
    if text.trim().is_empty() {
        return Err(refuse("the filter is empty".into()));
    }
    let bare_words = text
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !d.contains(['=', '[']));
    for word in bare_words {
        if let Some(level) = misspelt_level(&word.to_ascii_lowercase()) {
            return Err(refuse(format!(
                "`{word}` is not a level (did you mean `{level}`?)"
            )));
        }
    }
    EnvFilter::try_new(text).map_err(|e| refuse(e.to_string()))?;
    Ok(text.to_string())
}

/// The level a bare word is a near miss of: a prefix of it, it with something appended, or
/// at most two edits away. Not a level itself, nor one of tracing's numeric levels.
fn misspelt_level(word: &str) -> Option<&'static str> {
    if LEVELS.contains(&word) || matches!(word, "0" | "1" | "2" | "3" | "4" | "5") {
        return None;
    }
    LEVELS[1..].iter().copied().find(|level| {
        level.starts_with(word) || word.starts_with(level) || edit_distance(word, level) <= 2
    })
}

/// Levenshtein distance of two short ASCII words.
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
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
pub use metrics::{Metrics, Overdue, state_label};
