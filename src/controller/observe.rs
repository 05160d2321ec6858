//! Observation: what exists in Lambda for a resource. This is the one seam through which the
//! controller reads Lambda: from the List sweep's cache in list mode, with a Get per resource
//! in get mode, and with a List of the source's mappings after an interruption.

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::cache::{Cached, MappingCache};
use crate::api::{
    ADOPT_ANNOTATION, ADOPT_EXISTING_ANNOTATION, EventSourceMapping, EventSourceMappingStatus,
    ManagementPolicy,
};
use crate::lambda::{ErrorKind, LambdaError, LambdaPort, ListFilter, ObservedMapping, list_all};
use crate::plan::{Observed, Owner, Ownership, ownership};

/// How a mapping that status did not record yet was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Discovery {
    /// Status already had the UUID (the normal case).
    Recorded,
    /// Our own mapping, created before a crash or a lost response.
    Recovered,
    /// Someone else's mapping, taken over by the adopt annotation or from an earlier
    /// incarnation of this resource.
    Adopted,
    /// The one mapping of this source and function (and topic), found without a UUID: under
    /// managementPolicy Observe, or with the adopt-existing annotation.
    Matched,
    /// Several mappings match, so none is taken (their UUIDs).
    Ambiguous(Vec<String>),
    /// The one match carries another resource's ownership tags (its UUID and owner).
    OwnedElsewhere { uuid: String, owner: String },
}

/// Whether a resource with nothing recorded looks for an existing mapping without a UUID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindExisting {
    /// No: it creates its own (the default).
    No,
    /// The adopt-existing annotation: take the one match if no other resource owns it, else
    /// create.
    Adopt,
    /// managementPolicy Observe: report the one match, whoever owns it; never create.
    Observe,
}

pub struct Observation {
    pub observed: Observed,
    pub discovery: Discovery,
}

/// Where to look, derived from the spec without validating it (deletion must work even with a
/// spec that no longer validates).
pub struct Lookup<'a> {
    pub find_existing: FindExisting,
    pub event_source_arn: Option<&'a str>,
    pub function_name: &'a str,
    pub topics: Option<&'a [String]>,
    pub owner: &'a Owner,
}

impl<'a> Lookup<'a> {
    pub fn new(esm: &'a EventSourceMapping, owner: &'a Owner) -> Self {
        let find_existing = if esm.spec.management_policy == ManagementPolicy::Observe {
            FindExisting::Observe
        } else if esm
            .annotations()
            .get(ADOPT_EXISTING_ANNOTATION)
            .is_some_and(|v| v == "true")
        {
            FindExisting::Adopt
        } else {
            FindExisting::No
        };
        Self {
            find_existing,
            event_source_arn: esm.spec.event_source_arn.as_deref(),
            function_name: &esm.spec.function_name,
            topics: esm.spec.topics.as_deref(),
            owner,
        }
    }
}

/// Reads Lambda for reconciles: through the sweep's cache when there is one.
pub struct Observer<'a, L> {
    lambda: &'a L,
    cache: Option<&'a MappingCache>,
}

impl<'a, L: LambdaPort> Observer<'a, L> {
    pub fn new(lambda: &'a L, cache: Option<&'a MappingCache>) -> Self {
        Self { lambda, cache }
    }

    /// Observes the mapping for a resource: by its recorded UUID, by the adopt annotation, or —
    /// only when a create may have happened before a crash — by looking for our ownership tag.
    /// `tags_digest` is the desired tags' digest: tags are read only when it differs from
    /// status.
    ///
    /// With a [`MappingCache`] (list mode) a recorded mapping is read from the last sweep, and
    /// `Ok(None)` means "wait: the sweep triggers the resource once it lists the mapping" (our
    /// own write is not observed yet, or the lane's first sweep is under way). Without one
    /// (get mode) every observation is a Get.
    pub async fn observe(
        &self,
        esm: &EventSourceMapping,
        status: &EventSourceMappingStatus,
        lookup: &Lookup<'_>,
        tags_digest: Option<&str>,
    ) -> Result<Option<Observation>, LambdaError> {
        let observation = self.find(esm, status, lookup, tags_digest).await?;
        // However the mapping was found (recorded, adopted, recovered), sweeps tell this
        // resource about it from now on.
        if let (Some(cache), Some(found)) = (self.cache, &observation)
            && let Observed::Found { mapping, .. } = &found.observed
        {
            cache.watch(mapping, super::cache::owner_of(esm));
        }
        Ok(observation)
    }

    /// What [`Self::observe`] sees, before it registers the owner with the sweep.
    async fn find(
        &self,
        esm: &EventSourceMapping,
        status: &EventSourceMappingStatus,
        lookup: &Lookup<'_>,
        tags_digest: Option<&str>,
    ) -> Result<Option<Observation>, LambdaError> {
        let (lambda, cache) = (self.lambda, self.cache);
        let read_tags = tags_digest.is_some() && status.tags_digest.as_deref() != tags_digest;
        if let Some(uuid) = &status.uuid {
            let cached = match cache {
                Some(cache) => match cached_lookup(cache, uuid, esm) {
                    CacheAnswer::Wait => return Ok(None),
                    CacheAnswer::Mapping(m) if !needs_get(&m, esm) => Some(*m),
                    CacheAnswer::Mapping(_) | CacheAnswer::Confirm => None,
                },
                None => None,
            };
            let mapping = match cached {
                Some(m) => m,
                None => match get_recorded(lambda, cache, uuid).await? {
                    Some(m) => m,
                    None => {
                        return Ok(Some(Observation {
                            observed: Observed::Gone { uuid: uuid.clone() },
                            discovery: Discovery::Recorded,
                        }));
                    }
                },
            };
            return Ok(Some(Observation {
                observed: with_tags(lambda, mapping, read_tags).await?,
                discovery: Discovery::Recorded,
            }));
        }
        if let Some(uuid) = esm.annotations().get(ADOPT_ANNOTATION) {
            let mapping = lambda.get_mapping(uuid).await?;
            return Ok(Some(Observation {
                observed: with_tags(lambda, mapping, true).await?,
                discovery: Discovery::Adopted,
            }));
        }
        if lookup.find_existing != FindExisting::No
            && let Some(observation) = find_existing(lambda, lookup).await?
        {
            return Ok(Some(observation));
        }
        if status.create_requested_at.is_some()
            && let Some((mapping, tags)) = find_own(lambda, lookup).await?
        {
            return Ok(Some(Observation {
                observed: Observed::Found {
                    mapping,
                    tags: Some(tags),
                },
                discovery: Discovery::Recovered,
            }));
        }
        Ok(Some(Observation {
            observed: Observed::Nothing,
            discovery: Discovery::Recorded,
        }))
    }

    /// Observes a resource that is being deleted. Always asks Lambda (a Get right after our
    /// own Delete must see `Deleting` and then not-found, not a sweep's older answer), and
    /// looks for a mapping created just before a crash, which would otherwise be orphaned.
    /// Tags and the adopt annotation do not matter here.
    pub async fn observe_for_delete(
        &self,
        status: &EventSourceMappingStatus,
        lookup: &Lookup<'_>,
    ) -> Result<Observed, LambdaError> {
        if let Some(uuid) = &status.uuid {
            return Ok(match get_recorded(self.lambda, self.cache, uuid).await? {
                Some(mapping) => Observed::Found {
                    mapping,
                    tags: None,
                },
                None => Observed::Gone { uuid: uuid.clone() },
            });
        }
        if status.create_requested_at.is_some()
            && let Some((mapping, _)) = find_own(self.lambda, lookup).await?
        {
            return Ok(Observed::Found {
                mapping,
                tags: None,
            });
        }
        Ok(Observed::Nothing)
    }
}

/// Gets the recorded mapping (`None`: Lambda says it is gone), keeping the cache in step.
async fn get_recorded<L: LambdaPort>(
    lambda: &L,
    cache: Option<&MappingCache>,
    uuid: &str,
) -> Result<Option<ObservedMapping>, LambdaError> {
    match lambda.get_mapping(uuid).await {
        Ok(m) => {
            if let Some(cache) = cache {
                cache.store(&m);
            }
            Ok(Some(m))
        }
        Err(e) if e.kind == ErrorKind::NotFound => {
            if let Some(cache) = cache {
                cache.remove(uuid);
            }
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// What the sweep's cache can say about a recorded mapping.
enum CacheAnswer {
    Mapping(Box<ObservedMapping>),
    /// Our write is not observed yet, or the lane's first sweep has not listed the mapping
    /// yet: the sweep triggers the resource when it does.
    Wait,
    /// The cache cannot answer (absent, or no sweep to wait for): ask Lambda.
    Confirm,
}

fn cached_lookup(cache: &MappingCache, uuid: &str, esm: &EventSourceMapping) -> CacheAnswer {
    match cache.lookup_for(uuid, &super::cache::owner_of(esm)) {
        Cached::Fresh(m) => CacheAnswer::Mapping(m),
        Cached::Pending | Cached::Awaited => CacheAnswer::Wait,
        Cached::Absent | Cached::Unknown => CacheAnswer::Confirm,
    }
}

/// List hides the filters of mappings encrypted with a customer KMS key (semantics §6.2): when
/// the spec sets filters for such a mapping, only Get can tell.
fn needs_get(mapping: &ObservedMapping, esm: &EventSourceMapping) -> bool {
    esm.spec.filter_criteria.is_some()
        && mapping
            .fields
            .kms_key_arn
            .as_deref()
            .is_some_and(|k| !k.is_empty())
}

async fn with_tags<L: LambdaPort>(
    lambda: &L,
    mapping: ObservedMapping,
    read_tags: bool,
) -> Result<Observed, LambdaError> {
    let tags = match (&mapping.arn, read_tags) {
        (Some(arn), true) => Some(lambda.list_tags(arn).await?),
        _ => None,
    };
    Ok(Observed::Found { mapping, tags })
}

/// The one mapping of the lookup's source and function (and topic), found without its UUID;
/// `None` when there is none (a create follows, unless observing). Our own mapping (a crash
/// between Create and recording it) counts as a match too.
async fn find_existing<L: LambdaPort>(
    lambda: &L,
    lookup: &Lookup<'_>,
) -> Result<Option<Observation>, LambdaError> {
    let mut found = candidates(lambda, lookup).await?;
    let nothing = |discovery| Observation {
        observed: Observed::Nothing,
        discovery,
    };
    if found.len() > 1 {
        let uuids = found.into_iter().map(|(m, _)| m.uuid).collect();
        return Ok(Some(nothing(Discovery::Ambiguous(uuids))));
    }
    let Some((mapping, tags)) = found.pop() else {
        return Ok(None);
    };
    let other_owner = tags
        .get(crate::api::tags::OWNER_UID)
        .filter(|_| ownership(lookup.owner, &mapping.uuid, &tags, None) == Ownership::Foreign);
    if lookup.find_existing == FindExisting::Adopt && other_owner.is_some() {
        let owner = tags
            .get(crate::api::tags::OWNER)
            .cloned()
            .unwrap_or_else(|| "another resource".into());
        return Ok(Some(nothing(Discovery::OwnedElsewhere {
            uuid: mapping.uuid,
            owner,
        })));
    }
    Ok(Some(Observation {
        observed: Observed::Found {
            mapping,
            tags: Some(tags),
        },
        discovery: Discovery::Matched,
    }))
}

/// Lists the mappings of this source and function and returns the one tagged as ours.
/// Costs one List page (usually) plus one ListTags per candidate; used only after a crash or a
/// lost Create response, never on the normal create path.
pub async fn find_own<L: LambdaPort>(
    lambda: &L,
    lookup: &Lookup<'_>,
) -> Result<Option<(ObservedMapping, BTreeMap<String, String>)>, LambdaError> {
    for (mapping, tags) in candidates(lambda, lookup).await? {
        if ownership(lookup.owner, &mapping.uuid, &tags, None) == Ownership::Ours {
            return Ok(Some((mapping, tags)));
        }
    }
    Ok(None)
}

/// Mappings for the lookup's source and function (and topic, for Kafka), with their tags.
pub async fn candidates<L: LambdaPort>(
    lambda: &L,
    lookup: &Lookup<'_>,
) -> Result<Vec<(ObservedMapping, BTreeMap<String, String>)>, LambdaError> {
    let filter = ListFilter {
        event_source_arn: lookup.event_source_arn.map(str::to_string),
        function_name: Some(lookup.function_name.to_string()),
    };
    let mappings = match list_all(lambda, &filter).await {
        Ok(m) => m,
        // The function does not exist, so neither can a mapping to it.
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for mapping in mappings {
        if let Some(topics) = lookup.topics
            && mapping
                .fields
                .topics
                .as_deref()
                .is_some_and(|t| t != topics)
        {
            continue;
        }
        let Some(arn) = mapping.arn.clone() else {
            continue;
        };
        let tags = match lambda.list_tags(&arn).await {
            Ok(tags) => tags,
            // Someone else's mapping for the same source and function whose tags we may not
            // read (a tag-based IAM condition), or one deleted since the List. Skipping it
            // cannot cause a duplicate even if it were ours (a role without lambda:ListTags):
            // Lambda refuses a second mapping for the same source and function, and the
            // conflict is resolved on its own path.
            Err(e) if matches!(e.kind, ErrorKind::AccessDenied | ErrorKind::NotFound) => {
                tracing::debug!(
                    uuid = mapping.uuid,
                    error = %e,
                    "skipping a mapping whose tags cannot be read while looking for our own"
                );
                continue;
            }
            Err(e) => return Err(e),
        };
        out.push((mapping, tags));
    }
    Ok(out)
}
