//! The report for people (a pull request comment) and for tools (`-o json`), and the exit
//! status.

use std::fmt::Write;

use serde_json::Value;

use super::{Report, ResourceDiff, Verdict};

/// 0: applying changes nothing in Lambda. 1: it creates or updates mappings. 2: it would not
/// work (refused at admission, a spec the controller refuses, a mapping the controller would
/// stall on) or `diff` could not tell; like `kubectl diff`, whose server-side dry run fails
/// on an admission refusal. Errors before the report (unreadable manifests, no cluster) are 2
/// too.
pub(crate) fn exit_code(report: &Report) -> u8 {
    let actions = || report.resources.iter().map(|r| r.action);
    if actions().any(|a| {
        matches!(
            a,
            Verdict::Refused | Verdict::Invalid | Verdict::Stalled | Verdict::Error
        )
    }) {
        2
    } else if actions().any(|a| a != Verdict::NoChange) {
        1
    } else {
        0
    }
}

pub(crate) fn json(report: &Report) -> String {
    let mut out = serde_json::to_string_pretty(report).unwrap_or_default();
    out.push('\n');
    out
}

/// One block per resource, then a summary line:
///
/// ```text
/// eventsourcemapping team-a/orders: update mapping 1f2e… (eu-west-1)
///   batchSize: 10 → 50
/// ```
pub(crate) fn text(report: &Report) -> String {
    let mut out = String::new();
    for resource in &report.resources {
        block(&mut out, resource);
    }
    let _ = writeln!(out, "{}", summary(report));
    out
}

fn block(out: &mut String, r: &ResourceDiff) {
    let region = r
        .region
        .as_deref()
        .unwrap_or("the controller's default region");
    let uuid = r.uuid.as_deref().unwrap_or("?");
    let message = r.message.as_deref().unwrap_or_default();
    let head = match r.action {
        Verdict::Create => format!("create ({region})"),
        Verdict::Recreate => format!("{message} ({region})"),
        Verdict::Update => format!("update mapping {uuid} ({region})"),
        Verdict::NoChange => match &r.uuid {
            Some(uuid) => format!("no change (mapping {uuid}, {region})"),
            None => "no change".to_string(),
        },
        Verdict::Refused => "refused at admission".to_string(),
        Verdict::Invalid => format!("invalid: {message}"),
        Verdict::Stalled => format!("stalled: {message}"),
        Verdict::Error => format!("error: {message}"),
    };
    let _ = writeln!(out, "eventsourcemapping {}/{}: {head}", r.namespace, r.name);
    for change in &r.changes {
        let line = match r.action {
            Verdict::Create | Verdict::Recreate => {
                format!("{}: {}", change.field, value(&change.desired))
            }
            _ => format!(
                "{}: {} → {}",
                change.field,
                value(&change.live),
                value(&change.desired)
            ),
        };
        let _ = writeln!(out, "  {line}");
        if let Some(note) = &change.note {
            let indent = if r.action == Verdict::Refused {
                "    "
            } else {
                "    # "
            };
            let _ = writeln!(out, "{indent}{note}");
        }
    }
    // The header already says it for the others.
    if matches!(
        r.action,
        Verdict::Create | Verdict::Update | Verdict::NoChange | Verdict::Refused
    ) && !message.is_empty()
    {
        let _ = writeln!(out, "  # {message}");
    }
}

/// A value as a person reads it: scalars plain (strings quoted), objects as compact JSON.
fn value(v: &Value) -> String {
    match v {
        Value::Null => "(unset)".to_string(),
        other => other.to_string(),
    }
}

fn summary(report: &Report) -> String {
    let count = |action: Verdict| {
        report
            .resources
            .iter()
            .filter(|r| r.action == action)
            .count()
    };
    let parts: Vec<String> = [
        (Verdict::Create, "to create"),
        (Verdict::Recreate, "to recreate"),
        (Verdict::Update, "to update"),
        (Verdict::NoChange, "unchanged"),
        (Verdict::Refused, "refused at admission"),
        (Verdict::Invalid, "invalid"),
        (Verdict::Stalled, "stalled"),
        (Verdict::Error, "failed"),
    ]
    .into_iter()
    .filter_map(|(action, words)| {
        let n = count(action);
        (n > 0).then(|| format!("{n} {words}"))
    })
    .collect();
    if parts.is_empty() {
        return "no EventSourceMapping in the manifests".to_string();
    }
    let n = report.resources.len();
    let noun = if n == 1 {
        "EventSourceMapping"
    } else {
        "EventSourceMappings"
    };
    format!("{n} {noun}: {}", parts.join(", "))
}

/// A Lambda JSON value with its object keys in the spec's spelling: `OnFailure` →
/// `onFailure`, `URI` → `uri`, `ConsumerGroupId` → `consumerGroupID`. Keys that are not
/// PascalCase (the broker map's `KAFKA_BOOTSTRAP_SERVERS`) are kept.
pub(crate) fn spec_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (spec_key(&k), spec_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(spec_keys).collect()),
        other => other,
    }
}

fn spec_key(key: &str) -> String {
    match key {
        "URI" => "uri".to_string(),
        "ConsumerGroupId" => "consumerGroupID".to_string(),
        "KMSKeyArn" => "kmsKeyARN".to_string(),
        _ => {
            let mut chars = key.chars();
            let pascal = chars.next().is_some_and(|c| c.is_ascii_uppercase())
                && chars.next().is_some_and(|c| c.is_ascii_lowercase());
            if pascal {
                lower_first(key)
            } else {
                key.to_string()
            }
        }
    }
}

pub(crate) fn lower_first(key: &str) -> String {
    let mut chars = key.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}
