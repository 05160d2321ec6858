//! Observation: what exists in Lambda for a resource. This is the one seam through which the
//! controller reads Lambda, so a shared List-based cache can later replace per-object Gets here
//! without touching the rest.

use std::collections::BTreeMap;

use crate::api::{ADOPT_ANNOTATION, EventSourceMapping, EventSourceMappingStatus};
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
}

pub struct Observation {
    pub observed: Observed,
    pub discovery: Discovery,
}

/// Where to look, derived from the spec without validating it (deletion must work even with a
/// spec that no longer validates).
pub struct Lookup<'a> {
    pub region: &'a str,
    pub event_source_arn: Option<&'a str>,
    pub function_name: &'a str,
    pub topics: Option<&'a [String]>,
    pub owner: &'a Owner,
}

impl<'a> Lookup<'a> {
    pub fn new(esm: &'a EventSourceMapping, region: &'a str, owner: &'a Owner) -> Self {
        Self {
            region,
            event_source_arn: esm.spec.event_source_arn.as_deref(),
            function_name: &esm.spec.function_name,
            topics: esm.spec.topics.as_deref(),
            owner,
        }
    }
}

/// Observes the mapping for a resource: by its recorded UUID, by the adopt annotation, or — only
/// when a create may have happened before a crash — by looking for our ownership tag.
/// `want_tags` is the desired tags' digest: tags are read only when it differs from status.
pub async fn observe<L: LambdaPort>(
    lambda: &L,
    esm: &EventSourceMapping,
    status: &EventSourceMappingStatus,
    lookup: &Lookup<'_>,
    tags_digest: Option<&str>,
) -> Result<Observation, LambdaError> {
    let region = lookup.region;
    let read_tags = tags_digest.is_some() && status.tags_digest.as_deref() != tags_digest;
    if let Some(uuid) = &status.uuid {
        return match lambda.get_mapping(region, uuid).await {
            Ok(mapping) => Ok(Observation {
                observed: with_tags(lambda, region, mapping, read_tags).await?,
                discovery: Discovery::Recorded,
            }),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(Observation {
                observed: Observed::Gone { uuid: uuid.clone() },
                discovery: Discovery::Recorded,
            }),
            Err(e) => Err(e),
        };
    }
    if let Some(uuid) = esm.annotations().get(ADOPT_ANNOTATION) {
        let mapping = lambda.get_mapping(region, uuid).await?;
        return Ok(Observation {
            observed: with_tags(lambda, region, mapping, true).await?,
            discovery: Discovery::Adopted,
        });
    }
    if status.create_requested_at.is_some()
        && let Some((mapping, tags)) = find_own(lambda, lookup).await?
    {
        return Ok(Observation {
            observed: Observed::Found {
                mapping,
                tags: Some(tags),
            },
            discovery: Discovery::Recovered,
        });
    }
    Ok(Observation {
        observed: Observed::Nothing,
        discovery: Discovery::Recorded,
    })
}

use kube::ResourceExt;

async fn with_tags<L: LambdaPort>(
    lambda: &L,
    region: &str,
    mapping: ObservedMapping,
    read_tags: bool,
) -> Result<Observed, LambdaError> {
    let tags = match (&mapping.arn, read_tags) {
        (Some(arn), true) => Some(lambda.list_tags(region, arn).await?),
        _ => None,
    };
    Ok(Observed::Found { mapping, tags })
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
    let mappings = match list_all(lambda, lookup.region, &filter).await {
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
        let tags = lambda.list_tags(lookup.region, &arn).await?;
        out.push((mapping, tags));
    }
    Ok(out)
}
