//! Drift without false positives: the normalizations that make the spec's values and Lambda's
//! comparable (semantics §6). Each field's rule in [`super::fields`] picks the ones it needs.
//!
//! Lambda fills defaults, reorders lists, reports a full ARN for a function name and shows
//! empty husks for unset objects; none of that is drift.

use std::collections::BTreeSet;

use crate::lambda::types as wire;

/// Whether the function the spec names is the one Lambda reports (`FunctionArn`).
///
/// The spec may hold a name, `name:qualifier`, a partial ARN (`account:function:name[:q]`) or a
/// full ARN; Lambda reports a full ARN that keeps the qualifier. A mapping can only invoke a
/// function of its own account and region, so a bare name matches on name and qualifier; any
/// account, region or partition the spec does state must match too. `fn` and `fn:$LATEST` are
/// the same target (semantics §6.1).
pub(crate) fn function_matches(spec: &str, function_arn: &str) -> bool {
    let Some(observed) = FunctionRef::parse(function_arn) else {
        return spec == function_arn;
    };
    let Some(wanted) = FunctionRef::parse(spec) else {
        return false;
    };
    let same = |a: Option<&str>, b: Option<&str>| a.is_none() || b.is_none() || a == b;
    wanted.name == observed.name
        && normalize_qualifier(wanted.qualifier) == normalize_qualifier(observed.qualifier)
        && same(wanted.account, observed.account)
        && same(wanted.region, observed.region)
        && same(wanted.partition, observed.partition)
}

fn normalize_qualifier(q: Option<&str>) -> Option<&str> {
    q.filter(|q| *q != "$LATEST")
}

#[derive(Debug, PartialEq)]
struct FunctionRef<'a> {
    partition: Option<&'a str>,
    region: Option<&'a str>,
    account: Option<&'a str>,
    name: &'a str,
    qualifier: Option<&'a str>,
}

impl<'a> FunctionRef<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        let parts: Vec<&str> = text.split(':').collect();
        let r = match parts.as_slice() {
            [
                "arn",
                partition,
                "lambda",
                region,
                account,
                "function",
                name,
                rest @ ..,
            ] => Self {
                partition: Some(partition),
                region: Some(region),
                account: Some(account),
                name,
                qualifier: rest.first().copied(),
            },
            [account, "function", name, rest @ ..] => Self {
                partition: None,
                region: None,
                account: Some(account),
                name,
                qualifier: rest.first().copied(),
            },
            [region, account, "function", name, rest @ ..] => Self {
                partition: None,
                region: Some(region),
                account: Some(account),
                name,
                qualifier: rest.first().copied(),
            },
            [name] => Self {
                partition: None,
                region: None,
                account: None,
                name,
                qualifier: None,
            },
            [name, qualifier] => Self {
                partition: None,
                region: None,
                account: None,
                name,
                qualifier: Some(qualifier),
            },
            _ => return None,
        };
        (!r.name.is_empty()).then_some(r)
    }
}

/// A filter pattern as canonical JSON (sorted keys, no whitespace). Unparseable text is kept
/// as is, so it still compares equal to itself.
pub(crate) fn canonical_pattern(pattern: &str) -> String {
    serde_json::from_str::<serde_json::Value>(pattern)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| pattern.to_string())
}

/// Filters as a sorted multiset of canonical patterns; absent, `{}` and `[]` are all empty.
pub(super) fn filter_set(fc: Option<&wire::FilterCriteria>) -> Vec<String> {
    let mut set: Vec<String> = fc
        .and_then(|f| f.filters.as_ref())
        .map(|filters| {
            filters
                .iter()
                .map(|f| canonical_pattern(f.pattern.as_deref().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    set.sort();
    set
}

pub(super) fn on_failure(dc: Option<&wire::DestinationConfig>) -> Option<&str> {
    dc.and_then(|d| d.on_failure.as_ref())
        .and_then(|f| f.destination.as_deref())
        .filter(|d| !d.is_empty())
}

pub(super) fn string_set(list: Option<&Vec<String>>) -> BTreeSet<&str> {
    list.map(|l| l.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

pub(super) fn access_set(
    list: Option<&Vec<wire::SourceAccessConfiguration>>,
) -> BTreeSet<&wire::SourceAccessConfiguration> {
    list.map(|l| l.iter().collect()).unwrap_or_default()
}

pub(super) fn registry_matches(
    want: Option<&wire::SchemaRegistryConfig>,
    have: Option<&wire::SchemaRegistryConfig>,
) -> bool {
    match (want, have) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(w), Some(h)) => {
            let validations = |c: &wire::SchemaRegistryConfig| -> BTreeSet<Option<String>> {
                c.schema_validation_configs
                    .iter()
                    .flatten()
                    .map(|v| v.attribute.clone())
                    .collect()
            };
            w.schema_registry_uri == h.schema_registry_uri
                && (w.event_record_format.is_none()
                    || w.event_record_format == h.event_record_format)
                && access_set(w.access_configs.as_ref()) == access_set(h.access_configs.as_ref())
                && validations(w) == validations(h)
        }
    }
}

pub(super) fn kafka_registry(
    c: Option<&wire::KafkaEventSourceConfig>,
) -> Option<&wire::SchemaRegistryConfig> {
    c.and_then(|c| c.schema_registry_config.as_ref())
}
