//! What the controller keeps of each watched resource: its name, and whether it changed.
//!
//! The controller watches metadata only. Keeping every resource in memory, even as compact JSON,
//! cost about 2 KB each: at 10,000 resources, most of the controller's memory. A reconcile gets
//! the resource from the API server, in the cheapest way that is still current:
//!
//! - a resource in progress has the copy the API server returned to this process's last write
//!   (or read) of it, kept until it is Ready; it is used while the watch has seen no change to
//!   its metadata since ([`StoredMapping::print`]). Our own writes return the object as it is
//!   after them, so a reconcile never acts on a copy older than its own last status write.
//! - a resource the watch saw without any finalizer (new, as a rule) gets ours with a JSON patch
//!   that checks there is still none, and the patch returns the current object: the write the
//!   finalizer needs anyway is also the read.
//! - otherwise, a quorum read.
//!
//! A watch event calls for a reconcile only when something a reconcile acts on changed: the
//! spec (generation), annotations (the adopt annotation, or a nudge from a user), finalizers,
//! the deletion timestamp, or the object itself (UID). Our own status writes come back as watch
//! events too; they change none of these, so they do not start another reconcile.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash, Hasher};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::core::PartialObjectMeta;
use kube::runtime::watcher::Event;
use serde::{Deserialize, Serialize};

use crate::api::EventSourceMapping;

/// kubectl's copy of the last applied manifest: it changes with the spec (which generation
/// already tracks) and is not ours to react to.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A watched resource as the controller's store keeps it: name and namespace, which is all kube
/// needs to queue and look it up, and two facts about the metadata the watch saw last. UID and
/// resourceVersion are left out so that they are not copied into every `ObjectRef` kube derives
/// from it (store key, scheduler entries).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct StoredMapping {
    pub metadata: ObjectMeta,
    /// The [`fingerprint`] of the metadata: a kept copy of the resource with another one is
    /// missing a change (see the module documentation).
    #[serde(skip)]
    pub print: u64,
    /// The resource had no finalizer at all and was not being deleted.
    #[serde(skip)]
    pub bare: bool,
}

impl StoredMapping {
    pub fn of(meta: &ObjectMeta) -> Self {
        Self {
            metadata: ObjectMeta {
                name: meta.name.clone(),
                namespace: meta.namespace.clone(),
                ..ObjectMeta::default()
            },
            print: fingerprint(meta),
            bare: meta.finalizers.as_ref().is_none_or(Vec::is_empty)
                && meta.deletion_timestamp.is_none(),
        }
    }

    /// The store's form of a metadata watch event.
    pub fn event(event: &Event<PartialObjectMeta<EventSourceMapping>>) -> Event<Self> {
        match event {
            Event::Apply(o) => Event::Apply(Self::of(&o.metadata)),
            Event::Delete(o) => Event::Delete(Self::of(&o.metadata)),
            Event::Init => Event::Init,
            Event::InitApply(o) => Event::InitApply(Self::of(&o.metadata)),
            Event::InitDone => Event::InitDone,
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

/// A 64-bit digest, the same for the same value within this process (not across processes).
pub fn digest(value: &impl Hash) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(value)
}

/// A digest of the metadata whose change calls for a reconcile.
pub fn fingerprint(meta: &ObjectMeta) -> u64 {
    let mut hasher = DefaultHasher::new();
    meta.uid.hash(&mut hasher);
    meta.generation.hash(&mut hasher);
    meta.deletion_timestamp
        .as_ref()
        .map(|t| t.0)
        .hash(&mut hasher);
    meta.finalizers.hash(&mut hasher);
    if let Some(annotations) = &meta.annotations {
        for (key, value) in annotations {
            if key != LAST_APPLIED {
                (key, value).hash(&mut hasher);
            }
        }
    }
    hasher.finish()
}

/// Decides which watch events call for a reconcile, from the fingerprint each resource had when
/// it was last let through. Resources are keyed by a digest of namespace and name: 16 bytes
/// each instead of a string (two names colliding in 64 bits is not a practical concern; it
/// would cost one missed trigger, which the next change or sweep makes up for).
#[derive(Default)]
pub struct Changes {
    seen: HashMap<u64, u64>,
    /// Fingerprints gathered while the watch re-lists; they replace `seen` when it is done, which
    /// also forgets resources deleted while the watch was down.
    relisting: Option<HashMap<u64, u64>>,
    /// Resources the re-list found changed. They are let through only once it is done: until
    /// then kube's store does not have them, and a reconcile started earlier would be dropped
    /// (while `seen` already says they were handled).
    held: Vec<StoredMapping>,
}

impl Changes {
    /// The resources to reconcile for this event. Apply the event to the store first.
    pub fn admit(
        &mut self,
        event: &Event<PartialObjectMeta<EventSourceMapping>>,
    ) -> Vec<StoredMapping> {
        let key = |meta: &ObjectMeta| digest(&(&meta.namespace, &meta.name));
        match event {
            Event::Init => {
                self.relisting = Some(HashMap::new());
                self.held.clear();
                vec![]
            }
            Event::InitApply(o) => {
                let (key, print) = (key(&o.metadata), fingerprint(&o.metadata));
                if self.seen.get(&key) != Some(&print) {
                    self.held.push(StoredMapping::of(&o.metadata));
                }
                self.relisting
                    .get_or_insert_with(HashMap::new)
                    .insert(key, print);
                vec![]
            }
            Event::InitDone => {
                if let Some(relisted) = self.relisting.take() {
                    self.seen = relisted;
                }
                std::mem::take(&mut self.held)
            }
            Event::Apply(o) => {
                let print = fingerprint(&o.metadata);
                if self.seen.insert(key(&o.metadata), print) == Some(print) {
                    vec![]
                } else {
                    vec![StoredMapping::of(&o.metadata)]
                }
            }
            Event::Delete(o) => {
                self.seen.remove(&key(&o.metadata));
                vec![]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn meta(name: &str, generation: i64) -> PartialObjectMeta<EventSourceMapping> {
        PartialObjectMeta {
            types: None,
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(format!("uid-{name}")),
                generation: Some(generation),
                resource_version: Some("1".into()),
                ..ObjectMeta::default()
            },
            _phantom: Default::default(),
        }
    }

    fn admitted(
        changes: &mut Changes,
        event: Event<PartialObjectMeta<EventSourceMapping>>,
    ) -> bool {
        !changes.admit(&event).is_empty()
    }

    fn names(admitted: Vec<StoredMapping>) -> Vec<String> {
        admitted
            .into_iter()
            .filter_map(|s| s.metadata.name)
            .collect()
    }

    #[test]
    fn the_store_keeps_only_name_and_namespace() {
        let mut o = meta("m", 3);
        o.metadata.annotations = Some([("a".to_string(), "b".to_string())].into());
        o.metadata.finalizers = Some(vec!["f".into()]);
        let stored = StoredMapping::of(&o.metadata);
        assert_eq!(stored.metadata.name.as_deref(), Some("m"));
        assert_eq!(stored.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(
            stored.metadata,
            ObjectMeta {
                name: Some("m".into()),
                namespace: Some("ns".into()),
                ..ObjectMeta::default()
            },
            "UID, resourceVersion and the rest stay out of kube's ObjectRefs"
        );
    }

    #[test]
    fn our_own_status_writes_do_not_trigger_a_reconcile() {
        let mut changes = Changes::default();
        assert!(admitted(&mut changes, Event::Apply(meta("m", 1))), "new");
        // A status write changes the resourceVersion and nothing a reconcile acts on.
        let mut status_written = meta("m", 1);
        status_written.metadata.resource_version = Some("2".into());
        status_written.metadata.managed_fields = Some(vec![Default::default()]);
        assert!(!admitted(&mut changes, Event::Apply(status_written)));
    }

    #[test]
    fn what_a_reconcile_acts_on_triggers_one() {
        type Change = fn(&mut ObjectMeta);
        let cases: [(&str, Change); 6] = [
            ("spec (generation)", |m| m.generation = Some(2)),
            ("adopt annotation", |m| {
                m.annotations =
                    Some([(crate::api::ADOPT_ANNOTATION.to_string(), "u".to_string())].into())
            }),
            ("a user's nudge annotation", |m| {
                m.annotations = Some([("nudge".to_string(), "1".to_string())].into())
            }),
            ("finalizers", |m| m.finalizers = Some(vec!["f".into()])),
            ("deletion", |m| {
                m.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH))
            }),
            ("a new object under the same name", |m| {
                m.uid = Some("other".into())
            }),
        ];
        for (what, change) in cases {
            let mut changes = Changes::default();
            assert!(admitted(&mut changes, Event::Apply(meta("m", 1))));
            let mut changed = meta("m", 1);
            change(&mut changed.metadata);
            assert!(
                admitted(&mut changes, Event::Apply(changed.clone())),
                "{what}"
            );
            assert!(
                !admitted(&mut changes, Event::Apply(changed)),
                "{what}, again"
            );
        }
    }

    #[test]
    fn kubectls_last_applied_copy_is_not_a_change_of_its_own() {
        let mut changes = Changes::default();
        assert!(admitted(&mut changes, Event::Apply(meta("m", 1))));
        let mut o = meta("m", 1);
        o.metadata.annotations = Some([(LAST_APPLIED.to_string(), "{}".to_string())].into());
        assert!(!admitted(&mut changes, Event::Apply(o)));
    }

    #[test]
    fn a_relist_triggers_only_what_changed_once_the_store_has_it_and_forgets_what_is_gone() {
        let mut changes = Changes::default();
        assert!(changes.admit(&Event::Init).is_empty());
        assert!(changes.admit(&Event::InitApply(meta("a", 1))).is_empty());
        assert!(changes.admit(&Event::InitApply(meta("b", 1))).is_empty());
        assert_eq!(names(changes.admit(&Event::InitDone)), ["a", "b"]);
        assert_eq!(changes.seen.len(), 2);
        // The watch comes back after a gap: a changed, b deleted meanwhile, c new. Nothing is
        // let through before the re-list is done (kube's store swaps it in at InitDone).
        assert!(changes.admit(&Event::Init).is_empty());
        assert!(changes.admit(&Event::InitApply(meta("a", 2))).is_empty());
        assert!(changes.admit(&Event::InitApply(meta("c", 1))).is_empty());
        assert_eq!(names(changes.admit(&Event::InitDone)), ["a", "c"]);
        assert_eq!(changes.seen.len(), 2, "b is forgotten");
        assert!(
            admitted(&mut changes, Event::Apply(meta("b", 1))),
            "b again is new"
        );
        assert!(!admitted(&mut changes, Event::Apply(meta("a", 2))));
    }

    #[test]
    fn a_relist_cut_short_by_a_new_one_keeps_nothing_of_it() {
        let mut changes = Changes::default();
        changes.admit(&Event::Init);
        changes.admit(&Event::InitApply(meta("a", 1)));
        // The list failed half way; the watcher starts over.
        changes.admit(&Event::Init);
        changes.admit(&Event::InitApply(meta("b", 1)));
        assert_eq!(names(changes.admit(&Event::InitDone)), ["b"]);
    }

    #[test]
    fn a_deleted_resource_is_forgotten() {
        let mut changes = Changes::default();
        assert!(admitted(&mut changes, Event::Apply(meta("m", 1))));
        assert!(changes.admit(&Event::Delete(meta("m", 1))).is_empty());
        assert!(changes.seen.is_empty());
    }
}
