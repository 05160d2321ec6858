//! The CRD's create-only admission rules, applied to a manifest and the stored resource.
//!
//! The API server refuses a change to a create-only field (and to `region`) before the
//! controller sees it. `diff` makes no request that could ask the API server (a server-side
//! dry run is a write request), so it evaluates those transition rules itself: the same fields
//! ([`CREATE_ONLY`] and `region`), the same comparison (presence, then equality, of the spec's
//! JSON), and the rule's own message, read from [`crate::api::rules::spec_rules`].

use kube::core::Message;
use serde_json::Value;

use crate::api::EventSourceMappingSpec;
use crate::api::rules::spec_rules;
use crate::lambda::types::CREATE_ONLY;

/// A create-only field the manifest changes: `kubectl apply` would be refused.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Refusal {
    /// The field's path below `spec`, as the rule names it.
    pub field: String,
    /// Its value in the cluster, and in the manifest (`Null` when absent).
    pub stored: Value,
    pub manifest: Value,
    /// The admission rule's message.
    pub message: String,
}

/// Every create-only field whose presence or value differs between the stored spec and the
/// manifest, in the order the API server reports them.
pub(crate) fn refusals(
    manifest: &EventSourceMappingSpec,
    stored: &EventSourceMappingSpec,
) -> Vec<Refusal> {
    let (new, old) = (spec_json(manifest), spec_json(stored));
    let paths = CREATE_ONLY
        .iter()
        .map(|field| field.spec_path)
        .chain(["region"]);
    paths
        .filter_map(|path| {
            let (now, before) = (value_at(&new, path), value_at(&old, path));
            (now != before).then(|| Refusal {
                field: path.split('[').next().unwrap_or(path).to_string(),
                stored: before,
                manifest: now,
                message: rule_message(path),
            })
        })
        .collect()
}

fn spec_json(spec: &EventSourceMappingSpec) -> Value {
    serde_json::to_value(spec).unwrap_or(Value::Null)
}

/// The value a transition rule compares: a dotted path (`Null` when absent), or for a list
/// entry `list[key=kind].leaf` the leaves of that list's entries of that kind (`[]` when the
/// list is absent, `""` for an entry without the leaf), as the rule's CEL does.
fn value_at(spec: &Value, path: &str) -> Value {
    if let Some((list, entry)) = path.split_once('[') {
        let (selector, leaf) = entry.split_once("].").unwrap_or((entry, ""));
        let (key, kind) = selector.split_once('=').unwrap_or((selector, ""));
        let leaves = spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|item| item.get(key).and_then(Value::as_str) == Some(kind))
            .map(|item| item.get(leaf).cloned().unwrap_or(Value::from("")))
            .collect();
        return Value::Array(leaves);
    }
    path.split('.')
        .try_fold(spec, |v, key| v.get(key))
        .cloned()
        .unwrap_or(Value::Null)
}

/// The message of the transition rule guarding `path` (a list entry's rule names the list).
fn rule_message(path: &str) -> String {
    let guarded = format!(".{}", path.split('[').next().unwrap_or(path));
    spec_rules()
        .into_iter()
        .filter(|rule| rule.rule.contains("oldSelf"))
        .find(|rule| rule.field_path.as_deref() == Some(guarded.as_str()))
        .and_then(|rule| match rule.message {
            Some(Message::Message(text)) => Some(text),
            _ => None,
        })
        .unwrap_or_else(|| format!("{path} cannot change after the mapping is created"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(v: Value) -> EventSourceMappingSpec {
        serde_json::from_value(v).unwrap()
    }

    const SQS: &str = "arn:aws:sqs:us-east-1:123456789012:orders";

    #[test]
    fn every_create_only_field_and_region_has_its_rule_message() {
        for path in CREATE_ONLY.iter().map(|f| f.spec_path).chain(["region"]) {
            let message = rule_message(path);
            assert!(
                message.contains("cannot change after the mapping is created"),
                "{path}: {message}"
            );
            // The fallback names the full path; the rules' own messages say what to do.
            assert!(
                message.contains("delete") || message.contains("create a new"),
                "{path}: {message}"
            );
        }
    }

    #[test]
    fn changed_added_and_removed_create_only_fields_are_refused() {
        let stored = spec(json!({"eventSourceARN": SQS, "functionName": "f"}));
        assert!(refusals(&stored, &stored).is_empty());
        // Updatable fields are not refused.
        let batch = spec(json!({"eventSourceARN": SQS, "functionName": "g", "batchSize": 5}));
        assert!(refusals(&batch, &stored).is_empty());

        let moved = spec(json!({"eventSourceARN": format!("{SQS}-2"), "functionName": "f"}));
        let r = refusals(&moved, &stored);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].field, "eventSourceARN");
        assert_eq!(
            (r[0].stored.clone(), r[0].manifest.clone()),
            (json!(SQS), json!(format!("{SQS}-2")))
        );
        assert!(
            r[0].message.starts_with("eventSourceARN cannot change"),
            "{}",
            r[0].message
        );

        // Adding region, even with the region the mapping is in, is refused, as by CEL's has().
        let region =
            spec(json!({"eventSourceARN": SQS, "functionName": "f", "region": "us-east-1"}));
        let r = refusals(&region, &stored);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].field.as_str(), &r[0].stored),
            ("region", &Value::Null)
        );
        assert!(
            r[0].message.contains("cannot move between regions"),
            "{}",
            r[0].message
        );
        // And removing it.
        assert_eq!(refusals(&stored, &region).len(), 1);
    }

    #[test]
    fn nested_and_list_entry_rules_compare_like_their_cel() {
        let mq = "arn:aws:mq:us-east-1:123456789012:broker:b:b-1";
        let with = |vhost: &str, secret: &str| {
            spec(
                json!({"eventSourceARN": mq, "functionName": "f", "queues": ["q"],
                "sourceAccessConfigurations": [
                    {"type": "BASIC_AUTH", "uri": secret},
                    {"type": "VIRTUAL_HOST", "uri": vhost}]}),
            )
        };
        // Another secret is an update; another virtual host is refused.
        assert!(refusals(&with("/a", "arn:s2"), &with("/a", "arn:s1")).is_empty());
        let r = refusals(&with("/b", "arn:s1"), &with("/a", "arn:s1"));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].field, "sourceAccessConfigurations");
        assert_eq!(
            (r[0].stored.clone(), r[0].manifest.clone()),
            (json!(["/a"]), json!(["/b"]))
        );
        assert!(r[0].message.contains("VIRTUAL_HOST"), "{}", r[0].message);

        let docdb = |db: &str, full: &str| {
            spec(
                json!({"eventSourceARN": "arn:aws:rds:us-east-1:123456789012:cluster:c",
                "functionName": "f", "startingPosition": "LATEST",
                "documentDBEventSourceConfig": {"databaseName": db, "fullDocument": full}}),
            )
        };
        assert!(refusals(&docdb("a", "UpdateLookup"), &docdb("a", "Default")).is_empty());
        let r = refusals(&docdb("b", "Default"), &docdb("a", "Default"));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].field, "documentDBEventSourceConfig.databaseName");
    }
}
