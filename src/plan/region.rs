//! Which AWS region a resource's mapping is in (pure).
//!
//! A resource without `spec.region` uses the controller's default region (`--region`,
//! `AWS_REGION`). That default can change while mappings exist; a mapping cannot move. Looking
//! up a recorded mapping in the new default region finds nothing: the live reconcile would read
//! it as deleted and create a duplicate there, and a delete would release the finalizer and
//! orphan the original. So once status records a mapping, or a create that may have made one,
//! every call for the resource (observe, update, delete, the lookup after an interrupted
//! create) goes to the recorded region. Only a resource with nothing recorded follows
//! `spec.region` or the default.
//!
//! A changed default is not an error for a resource that already has a mapping: the mapping
//! keeps being managed where it is. Stalling instead would leave every existing mapping
//! unmanaged (drift unfixed, no re-enable) after a flag change, and the operator could not
//! clear the stall in place: the admission rule forbids adding `spec.region` to an existing
//! resource. Only an explicit `spec.region` that disagrees with the recorded region stalls (see
//! [`region_moved`]): the user asked for a region the mapping is not in.

use super::{SpecError, Verdict};
use crate::api::{EventSourceMappingSpec, EventSourceMappingStatus};

/// The region to reconcile a resource in, and whether status fixes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Region {
    /// Status records a mapping, or a create in flight, in this region: it stays there.
    Recorded(String),
    /// Nothing is recorded: where a new mapping goes (`spec.region`, else the default).
    New(String),
}

impl Region {
    pub(crate) fn name(&self) -> &str {
        match self {
            Region::Recorded(name) | Region::New(name) => name,
        }
    }
}

/// The region of a resource, for the live reconcile, the delete and the region's sweep alike:
/// the recorded region if status records a mapping or a create in flight; otherwise
/// `spec.region`, otherwise the controller's default region; otherwise an error naming
/// `spec.region`.
pub(crate) fn region_of(
    spec: &EventSourceMappingSpec,
    status: Option<&EventSourceMappingStatus>,
    default_region: Option<&str>,
) -> Result<Region, SpecError> {
    if let Some(recorded) = status.and_then(recorded_region) {
        return Ok(Region::Recorded(recorded.to_string()));
    }
    region_for_new(spec, default_region).map(Region::New)
}

/// Where a new mapping for this spec goes.
pub(crate) fn region_for_new(
    spec: &EventSourceMappingSpec,
    default_region: Option<&str>,
) -> Result<String, SpecError> {
    spec.region
        .as_deref()
        .or(default_region)
        .map(str::to_string)
        .ok_or_else(|| SpecError {
            field: "region".into(),
            message: "no region is set and the controller has no default region (set spec.region, or start the controller with --region or AWS_REGION)".into(),
        })
}

/// The region status records for the mapping, if it records one.
///
/// `status.region` is the source of truth: it is the region the controller sent its requests
/// to, which is where the next request must go. On AWS the mapping's ARN names the same region,
/// but an emulator serving every region at one endpoint may name its own. The ARN's region is
/// the fallback for statuses written before `status.region` existed, so those resources are
/// covered without a migration; the next status write adds `status.region`. With neither (an
/// old status from an emulator that omits the ARN), `None`: the caller falls back to the spec
/// and the default, as the controller did before.
pub(crate) fn recorded_region(status: &EventSourceMappingStatus) -> Option<&str> {
    if status.uuid.is_none() && status.create_requested_at.is_none() {
        return None;
    }
    status.region.as_deref().or_else(|| {
        status
            .uuid
            .as_ref()
            .and(status.event_source_mapping_arn.as_deref())
            .and_then(arn_region)
    })
}

/// An explicit `spec.region` that disagrees with the recorded region: a mapping cannot move
/// between regions, so the resource stalls instead of creating a second mapping. The admission
/// rule makes `spec.region` immutable, so this happens only when that rule was bypassed or the
/// installed CRD predates it. A `spec.region` left unset is no disagreement (module docs).
pub(crate) fn region_moved(
    spec: &EventSourceMappingSpec,
    status: Option<&EventSourceMappingStatus>,
    region: &Region,
) -> Option<Verdict> {
    let Region::Recorded(recorded) = region else {
        return None;
    };
    let asked = spec.region.as_deref().filter(|asked| asked != recorded)?;
    let mapping = match status.and_then(|s| s.uuid.as_deref()) {
        Some(uuid) => format!("mapping {uuid}"),
        None => "the mapping this resource was creating".to_string(),
    };
    Some(Verdict::stalled(
        "RegionChanged",
        format!(
            "spec.region is {asked}, but {mapping} is in {recorded} (status.region) and a mapping cannot move between regions; nothing was changed in either region. Set spec.region back to {recorded}, or delete this EventSourceMapping (with deletionPolicy Delete its mapping in {recorded} is deleted) and then create it again with spec.region {asked}"
        ),
    ))
}

/// The region in a mapping's ARN,
/// `arn:<partition>:lambda:<region>:<account>:event-source-mapping:<uuid>`; `None` for
/// anything else.
pub(crate) fn arn_region(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.split(':').collect();
    let [
        "arn",
        partition,
        "lambda",
        region,
        account,
        "event-source-mapping",
        uuid,
    ] = parts.as_slice()
    else {
        return None;
    };
    let region_like = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (region_like && !partition.is_empty() && !account.is_empty() && !uuid.is_empty())
        .then_some(*region)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const UUID: &str = "6d1b2c3a-0000-4000-8000-000000000001";

    fn arn(region: &str) -> String {
        format!("arn:aws:lambda:{region}:123456789012:event-source-mapping:{UUID}")
    }

    fn spec(region: Option<&str>) -> EventSourceMappingSpec {
        let mut v =
            json!({"eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:q", "functionName": "f"});
        if let Some(region) = region {
            v["region"] = json!(region);
        }
        serde_json::from_value(v).unwrap()
    }

    fn status(v: serde_json::Value) -> EventSourceMappingStatus {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn arn_region_reads_the_region_of_a_mapping_arn() {
        assert_eq!(arn_region(&arn("eu-west-1")), Some("eu-west-1"));
        assert_eq!(
            arn_region(&format!(
                "arn:aws-cn:lambda:cn-north-1:123456789012:event-source-mapping:{UUID}"
            )),
            Some("cn-north-1")
        );
        assert_eq!(
            arn_region(&format!(
                "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:event-source-mapping:{UUID}"
            )),
            Some("us-gov-west-1")
        );
    }

    #[test]
    fn arn_region_refuses_anything_but_a_mapping_arn() {
        for malformed in [
            "",
            ":",
            "arn",
            "not an arn",
            UUID,
            // A function ARN has a region too, but it is not the mapping's.
            "arn:aws:lambda:eu-west-1:123456789012:function:handler",
            "arn:aws:sqs:eu-west-1:123456789012:event-source-mapping:x",
            "arn:aws:lambda::123456789012:event-source-mapping:x",
            "arn::lambda:eu-west-1:123456789012:event-source-mapping:x",
            "arn:aws:lambda:eu-west-1::event-source-mapping:x",
            "arn:aws:lambda:eu-west-1:123456789012:event-source-mapping:",
            "arn:aws:lambda:eu-west-1:123456789012:event-source-mapping",
            "arn:aws:lambda:eu-west-1:123456789012:event-source-mapping:x:extra",
            "arn:aws:lambda:EU-WEST-1:123456789012:event-source-mapping:x",
            "arn:aws:lambda:eu west 1:123456789012:event-source-mapping:x",
            "arn:aws:lambda:eu-wést-1:123456789012:event-source-mapping:x",
            "ARN:aws:lambda:eu-west-1:123456789012:event-source-mapping:x",
        ] {
            assert_eq!(arn_region(malformed), None, "{malformed:?}");
        }
    }

    #[test]
    fn without_a_recorded_mapping_the_spec_then_the_default_decides() {
        assert_eq!(
            region_of(&spec(Some("eu-west-1")), None, Some("us-east-1")),
            Ok(Region::New("eu-west-1".into()))
        );
        assert_eq!(
            region_of(&spec(None), None, Some("us-east-1")),
            Ok(Region::New("us-east-1".into()))
        );
        // A status that records nothing does not pin, even with a region left in it.
        let nothing = status(json!({"region": "ap-south-1", "observedGeneration": 1}));
        assert_eq!(
            region_of(&spec(None), Some(&nothing), Some("us-east-1")),
            Ok(Region::New("us-east-1".into()))
        );
        let err = region_of(&spec(None), None, None).unwrap_err();
        assert_eq!(err.field, "region");
        assert!(err.message.contains("set spec.region"), "{}", err.message);
    }

    #[test]
    fn a_recorded_mapping_keeps_its_region_whatever_the_default_says() {
        let recorded = status(
            json!({"uuid": UUID, "region": "eu-west-1", "eventSourceMappingARN": arn("eu-west-1")}),
        );
        for default in [Some("us-east-1"), Some("eu-west-1"), None] {
            assert_eq!(
                region_of(&spec(None), Some(&recorded), default),
                Ok(Region::Recorded("eu-west-1".into())),
                "default {default:?}"
            );
        }
    }

    #[test]
    fn a_create_in_flight_keeps_the_region_it_was_sent_to() {
        // The lookup after an interrupted create must search where the Create went.
        let in_flight =
            status(json!({"createRequestedAt": "2026-01-01T00:00:00Z", "region": "eu-west-1"}));
        assert_eq!(
            region_of(&spec(None), Some(&in_flight), Some("us-east-1")),
            Ok(Region::Recorded("eu-west-1".into()))
        );
    }

    #[test]
    fn status_region_is_the_source_of_truth_and_the_arn_the_fallback() {
        // Written before status.region existed: the ARN's region.
        let legacy = status(json!({"uuid": UUID, "eventSourceMappingARN": arn("eu-west-1")}));
        assert_eq!(recorded_region(&legacy), Some("eu-west-1"));
        // An emulator naming its own region in the ARN: the region we called wins.
        let emulated = status(
            json!({"uuid": UUID, "region": "ap-south-1", "eventSourceMappingARN": arn("us-east-1")}),
        );
        assert_eq!(recorded_region(&emulated), Some("ap-south-1"));
        // Neither (an old status without the ARN): unknown, the spec and default decide.
        let bare = status(json!({"uuid": UUID}));
        assert_eq!(recorded_region(&bare), None);
        assert_eq!(
            region_of(&spec(None), Some(&bare), Some("us-east-1")),
            Ok(Region::New("us-east-1".into()))
        );
        let garbled = status(json!({"uuid": UUID, "eventSourceMappingARN": "garbled"}));
        assert_eq!(recorded_region(&garbled), None);
    }

    #[test]
    fn only_an_explicit_different_spec_region_is_a_move() {
        let recorded_status = status(json!({"uuid": UUID, "region": "eu-west-1"}));
        let recorded = Region::Recorded("eu-west-1".into());
        // Unset spec.region, whatever the default: not a move, the mapping stays managed.
        assert_eq!(
            region_moved(&spec(None), Some(&recorded_status), &recorded),
            None
        );
        assert_eq!(
            region_moved(&spec(Some("eu-west-1")), Some(&recorded_status), &recorded),
            None
        );
        assert_eq!(
            region_moved(
                &spec(Some("us-east-1")),
                None,
                &Region::New("us-east-1".into())
            ),
            None
        );
        let Some(Verdict::Stalled { reason, message }) =
            region_moved(&spec(Some("us-east-1")), Some(&recorded_status), &recorded)
        else {
            panic!("a move stalls")
        };
        assert_eq!(reason, "RegionChanged");
        for part in [
            "spec.region is us-east-1",
            &format!("mapping {UUID} is in eu-west-1"),
            "Set spec.region back to eu-west-1",
            "delete this EventSourceMapping",
        ] {
            assert!(message.contains(part), "{part:?} in {message}");
        }
    }
}
