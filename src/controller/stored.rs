//! The watch cache's form of a resource.
//!
//! The controller keeps every watched resource in memory. Typed, with its status conditions,
//! one costs about 3 KB in some thirty allocations, most of them fields that are unset; at
//! 10,000 resources that would be most of the controller's memory. The cache keeps only name
//! and namespace typed (kube keys, queues and looks objects up by them) and the object as
//! compact JSON, which a reconcile parses back in microseconds. Keeping UID and
//! resourceVersion out of the typed metadata also keeps them out of every `ObjectRef` kube
//! derives from it (store key, scheduler entries).

use std::borrow::Cow;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::runtime::watcher;
use serde::{Deserialize, Serialize};

use crate::api::EventSourceMapping;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct StoredMapping {
    /// Name and namespace only.
    pub metadata: ObjectMeta,
    /// The whole object, as JSON.
    object: Box<str>,
}

impl StoredMapping {
    pub fn new(esm: EventSourceMapping) -> Self {
        // Serializing our own type cannot fail; an empty text would fail `expand` loudly.
        let object = serde_json::to_string(&esm).unwrap_or_default();
        Self {
            metadata: ObjectMeta {
                name: esm.metadata.name,
                namespace: esm.metadata.namespace,
                ..ObjectMeta::default()
            },
            object: object.into_boxed_str(),
        }
    }

    /// The resource, typed again.
    pub fn expand(&self) -> Result<EventSourceMapping, serde_json::Error> {
        serde_json::from_str(&self.object)
    }

    /// Converts a watch event of typed resources into one of stored ones.
    pub fn from_event(event: watcher::Event<EventSourceMapping>) -> watcher::Event<Self> {
        match event {
            watcher::Event::Apply(esm) => watcher::Event::Apply(Self::new(esm)),
            watcher::Event::Delete(esm) => watcher::Event::Delete(Self::new(esm)),
            watcher::Event::Init => watcher::Event::Init,
            watcher::Event::InitApply(esm) => watcher::Event::InitApply(Self::new(esm)),
            watcher::Event::InitDone => watcher::Event::InitDone,
        }
    }
}

impl Resource for StoredMapping {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        EventSourceMapping::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        EventSourceMapping::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        EventSourceMapping::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        EventSourceMapping::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_survives_the_round_trip() {
        let esm: EventSourceMapping = serde_json::from_value(serde_json::json!({
            "apiVersion": "lambda.esm-controller.dev/v1alpha1",
            "kind": "EventSourceMapping",
            "metadata": {"name": "m", "namespace": "ns", "uid": "u-1", "generation": 3,
                         "annotations": {"a": "b"}, "finalizers": ["f"]},
            "spec": {"eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s",
                     "functionName": "f", "batchSize": 7, "startingPosition": "LATEST",
                     "filterCriteria": {"filters": [{"pattern": "{\"a\":[1]}"}]},
                     "tags": {"team": "x"}, "deletionPolicy": "Retain"},
            "status": {"uuid": "abc", "observedGeneration": 2, "appliedFields": ["BatchSize"],
                       "conditions": [{"type": "Ready", "status": "True", "reason": "Enabled",
                                       "message": "ok", "lastTransitionTime": "2026-11-21T10:00:00Z",
                                       "observedGeneration": 2}]}
        }))
        .unwrap();
        let json = |e: &EventSourceMapping| serde_json::to_value(e).unwrap();
        let stored = StoredMapping::new(esm.clone());
        assert_eq!(stored.metadata.name.as_deref(), Some("m"));
        assert_eq!(stored.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(stored.metadata.uid, None, "kept out of kube's ObjectRefs");
        assert_eq!(json(&stored.expand().unwrap()), json(&esm));
        assert_eq!(stored.expand().unwrap().status, esm.status);
        assert_eq!(stored.expand().unwrap().spec, esm.spec);

        let fresh = EventSourceMapping::new("n", esm.spec.clone());
        assert_eq!(
            json(&StoredMapping::new(fresh.clone()).expand().unwrap()),
            json(&fresh)
        );
    }
}
