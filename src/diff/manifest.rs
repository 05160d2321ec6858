//! Manifests as `kubectl apply -f` reads them: YAML or JSON, several documents per file, `List`
//! objects unpacked. Pure: text in, documents out.

use serde_json::Value;

use crate::api::{EventSourceMapping, GROUP};

/// One object of the manifests.
#[derive(Clone, Debug)]
pub(crate) enum Document {
    /// An EventSourceMapping of our API version.
    Mapping {
        source: String,
        esm: Box<EventSourceMapping>,
    },
    /// Another kind (or another API's EventSourceMapping, such as ACK's): not ours to diff.
    Skipped {
        source: String,
        api_version: String,
        kind: String,
        name: String,
    },
    /// Ours, but not a valid EventSourceMapping (a missing or mistyped field).
    Invalid {
        source: String,
        namespace: Option<String>,
        name: String,
        message: String,
    },
}

/// The objects in one file's text. `origin` names the file in messages; each document's
/// source is `origin#N` (N from 1) when the text holds more than one. A text that is not YAML
/// or JSON, or a document that is not an object, is an error for the whole file, as for
/// `kubectl apply`.
pub(crate) fn parse(origin: &str, text: &str) -> Result<Vec<Document>, String> {
    let values: Vec<Value> = serde_saphyr::from_multiple(text)
        .map_err(|e| format!("{origin}: not valid YAML or JSON: {e}"))?;
    let several = values.len() > 1;
    let mut documents = Vec::new();
    for (i, value) in values.into_iter().enumerate() {
        let source = if several {
            format!("{origin}#{}", i + 1)
        } else {
            origin.to_string()
        };
        if value.is_null() {
            continue;
        }
        unpack(&source, value, &mut documents)?;
    }
    Ok(documents)
}

fn unpack(source: &str, value: Value, out: &mut Vec<Document>) -> Result<(), String> {
    let Value::Object(object) = &value else {
        return Err(format!(
            "{source}: a document must be a Kubernetes object (a mapping with apiVersion and kind)"
        ));
    };
    let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind) = (text("apiVersion").to_string(), text("kind").to_string());
    if kind.is_empty() {
        return Err(format!("{source}: the object has no kind"));
    }
    // `kubectl get -o yaml` of several objects writes a List.
    if kind == "List" || (kind.ends_with("List") && object.contains_key("items")) {
        let items = object.get("items").and_then(Value::as_array);
        for (i, item) in items.into_iter().flatten().enumerate() {
            unpack(&format!("{source} items[{i}]"), item.clone(), out)?;
        }
        return Ok(());
    }
    let metadata = object.get("metadata");
    let meta = |key: &str| {
        metadata
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let name = meta("name").unwrap_or_default();
    let namespace = meta("namespace");
    let ours = api_version.split('/').next() == Some(GROUP) && kind == "EventSourceMapping";
    if !ours {
        out.push(Document::Skipped {
            source: source.to_string(),
            api_version,
            kind,
            name,
        });
        return Ok(());
    }
    let invalid = |message: String| Document::Invalid {
        source: source.to_string(),
        namespace: namespace.clone(),
        name: name.clone(),
        message,
    };
    let version = api_version.split_once('/').map(|(_, v)| v).unwrap_or("");
    if version != "v1alpha1" {
        out.push(invalid(format!(
            "apiVersion {api_version} is not served; this esm-controller knows {GROUP}/v1alpha1"
        )));
        return Ok(());
    }
    if name.is_empty() {
        // generateName makes a new object on every apply: nothing to compare with.
        out.push(invalid("metadata.name is required".to_string()));
        return Ok(());
    }
    match serde_json::from_value::<EventSourceMapping>(value) {
        Ok(esm) => out.push(Document::Mapping {
            source: source.to_string(),
            esm: Box::new(esm),
        }),
        Err(e) => out.push(invalid(format!("not a valid EventSourceMapping: {e}"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_yaml_with_other_kinds_and_lists() {
        let text = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: team-a}
---
apiVersion: lambda.esm-controller.dev/v1alpha1
kind: EventSourceMapping
metadata: {name: orders}
spec:
  eventSourceARN: arn:aws:sqs:us-east-1:123456789012:orders
  functionName: handler
---
---
apiVersion: v1
kind: List
items:
- apiVersion: lambda.services.k8s.aws/v1alpha1
  kind: EventSourceMapping
  metadata: {name: ack}
- apiVersion: lambda.esm-controller.dev/v1alpha1
  kind: EventSourceMapping
  metadata: {name: typo}
  spec: {functionName: handler, batchSize: lots}
"#;
        let docs = parse("m.yaml", text).unwrap();
        assert_eq!(docs.len(), 4, "{docs:#?}");
        assert!(
            matches!(&docs[0], Document::Skipped { kind, name, source, .. }
            if kind == "ConfigMap" && name == "settings" && source == "m.yaml#1")
        );
        let Document::Mapping { esm, source } = &docs[1] else {
            panic!("{:?}", docs[1])
        };
        assert_eq!(source, "m.yaml#2");
        assert_eq!(esm.metadata.name.as_deref(), Some("orders"));
        assert_eq!(esm.spec.function_name, "handler");
        assert!(matches!(&docs[2], Document::Skipped { api_version, .. }
            if api_version == "lambda.services.k8s.aws/v1alpha1"));
        let Document::Invalid { name, message, .. } = &docs[3] else {
            panic!("{:?}", docs[3])
        };
        assert_eq!(name, "typo");
        assert!(
            message.contains("batchSize") || message.contains("invalid type"),
            "{message}"
        );
    }

    #[test]
    fn json_files_and_single_documents_keep_the_plain_origin() {
        let text = r#"{"apiVersion": "lambda.esm-controller.dev/v1alpha1", "kind": "EventSourceMapping",
            "metadata": {"name": "a", "namespace": "n"},
            "spec": {"eventSourceARN": "arn:aws:sqs:us-east-1:1:q", "functionName": "f"}}"#;
        let docs = parse("a.json", text).unwrap();
        assert!(matches!(&docs[..], [Document::Mapping { source, .. }] if source == "a.json"));
    }

    #[test]
    fn unreadable_text_and_non_objects_fail_the_file() {
        assert!(
            parse("x.yaml", "a: [unclosed")
                .unwrap_err()
                .starts_with("x.yaml: ")
        );
        assert!(parse("x.yaml", "- just\n- a list\n").is_err());
        assert!(
            parse("x.yaml", "metadata: {name: x}\n")
                .unwrap_err()
                .contains("no kind")
        );
    }

    #[test]
    fn missing_name_and_unknown_versions_are_invalid_documents() {
        let docs = parse(
            "x.yaml",
            "apiVersion: lambda.esm-controller.dev/v1alpha1\nkind: EventSourceMapping\nmetadata: {generateName: x-}\nspec: {}\n---\napiVersion: lambda.esm-controller.dev/v2\nkind: EventSourceMapping\nmetadata: {name: y}\n",
        )
        .unwrap();
        assert!(
            matches!(&docs[0], Document::Invalid { message, .. } if message.contains("metadata.name"))
        );
        assert!(matches!(&docs[1], Document::Invalid { message, .. } if message.contains("v2")));
    }
}
