//! Event source types, derived from the `EventSourceArn` (or `SelfManagedEventSource`).

use super::error::{ApiError, ApiResult};

/// The kind of event source a mapping reads from; decides defaults and which fields apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SourceKind {
    Kinesis,
    DynamoDbStreams,
    Sqs,
    SqsFifo,
    Msk,
    SelfManagedKafka,
    Mq,
    DocumentDb,
}

impl SourceKind {
    /// Human-readable name used in error messages.
    pub(crate) fn label(self) -> &'static str {
        match self {
            SourceKind::Kinesis => "Kinesis",
            SourceKind::DynamoDbStreams => "DynamoDB Streams",
            SourceKind::Sqs => "SQS",
            SourceKind::SqsFifo => "SQS FIFO",
            SourceKind::Msk => "Amazon MSK",
            SourceKind::SelfManagedKafka => "self-managed Apache Kafka",
            SourceKind::Mq => "Amazon MQ",
            SourceKind::DocumentDb => "Amazon DocumentDB",
        }
    }

    /// Kinesis and DynamoDB Streams: shard-based, with the stream error-handling fields.
    pub(crate) fn is_stream(self) -> bool {
        matches!(self, SourceKind::Kinesis | SourceKind::DynamoDbStreams)
    }

    pub(crate) fn is_kafka(self) -> bool {
        matches!(self, SourceKind::Msk | SourceKind::SelfManagedKafka)
    }

    pub(crate) fn is_sqs(self) -> bool {
        matches!(self, SourceKind::Sqs | SourceKind::SqsFifo)
    }
}

/// The parts of an ARN: `arn:<partition>:<service>:<region>:<account>:<resource>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

/// Splits an ARN; `None` if it does not have the `arn:aws…:service:region:account:resource` shape
/// of Lambda's `Arn` pattern.
pub(crate) fn parse_arn(arn: &str) -> Option<Arn<'_>> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let partition = parts.next()?;
    let service = parts.next()?;
    let region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?;
    let partition_ok = partition.starts_with("aws")
        && partition
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    let service_ok = !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    let region_ok = region.is_empty() || is_region(region);
    let account_ok = account.is_empty() || is_account_id(account);
    (partition_ok && service_ok && region_ok && account_ok).then_some(Arn {
        partition,
        service,
        region,
        account,
        resource,
    })
}

/// `[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d` (optionally `eusc-` prefixed), like Lambda's patterns.
pub(crate) fn is_region(s: &str) -> bool {
    let s = s.strip_prefix("eusc-").unwrap_or(s);
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() < 3 || parts.len() > 4 {
        return false;
    }
    let two_letters = parts[0].len() == 2 && parts[0].chars().all(|c| c.is_ascii_lowercase());
    let digit = parts[parts.len() - 1].len() == 1
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit());
    let words = parts[1..parts.len() - 1]
        .iter()
        .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()));
    two_letters && digit && words
}

pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

/// Classifies an `EventSourceArn`; unsupported or malformed ARNs are a 400.
pub(crate) fn classify_event_source_arn(arn: &str) -> ApiResult<SourceKind> {
    let parsed = parse_arn(arn).ok_or_else(|| {
        ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{arn}' at 'EventSourceArn' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: \
             arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}})?:(\\d{{12}})?:(.*)"
        ))
    })?;
    let bad_resource = |what: &str| {
        ApiError::invalid_parameter(format!("EventSourceArn '{arn}' is not a valid {what} ARN."))
    };
    match parsed.service {
        "sqs" => {
            if parsed.resource.is_empty() || parsed.resource.contains('/') {
                return Err(bad_resource("SQS queue"));
            }
            Ok(if parsed.resource.ends_with(".fifo") {
                SourceKind::SqsFifo
            } else {
                SourceKind::Sqs
            })
        }
        "kinesis" => {
            if !parsed.resource.starts_with("stream/") {
                return Err(bad_resource("Kinesis stream"));
            }
            Ok(SourceKind::Kinesis)
        }
        "dynamodb" => {
            // A table ARN is the classic mistake: Lambda needs the table's *stream* ARN.
            let mut segments = parsed.resource.split('/');
            let ok = segments.next() == Some("table")
                && segments.next().is_some_and(|t| !t.is_empty())
                && segments.next() == Some("stream")
                && segments.next().is_some_and(|l| !l.is_empty());
            if !ok {
                return Err(bad_resource("DynamoDB stream"));
            }
            Ok(SourceKind::DynamoDbStreams)
        }
        "kafka" => Ok(SourceKind::Msk),
        "mq" => Ok(SourceKind::Mq),
        "rds" => Ok(SourceKind::DocumentDb),
        other => Err(ApiError::invalid_parameter(format!(
            "Unsupported event source type: the EventSourceArn service '{other}' cannot be \
             used with an event source mapping."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_source_type() {
        let cases = [
            ("arn:aws:sqs:us-east-1:123456789012:q", SourceKind::Sqs),
            (
                "arn:aws:sqs:us-east-1:123456789012:q.fifo",
                SourceKind::SqsFifo,
            ),
            (
                "arn:aws:kinesis:us-east-1:123456789012:stream/s",
                SourceKind::Kinesis,
            ),
            (
                "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000",
                SourceKind::DynamoDbStreams,
            ),
            (
                "arn:aws:kafka:us-east-1:123456789012:cluster/c/abc",
                SourceKind::Msk,
            ),
            (
                "arn:aws:mq:us-east-1:123456789012:broker:b:b-1",
                SourceKind::Mq,
            ),
            (
                "arn:aws:rds:us-east-1:123456789012:cluster:docdb",
                SourceKind::DocumentDb,
            ),
            (
                "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q",
                SourceKind::Sqs,
            ),
        ];
        for (arn, kind) in cases {
            assert_eq!(classify_event_source_arn(arn).unwrap(), kind, "{arn}");
        }
    }

    #[test]
    fn rejects_bad_arns() {
        for arn in [
            "not-an-arn",
            "arn:aws:sns:us-east-1:123456789012:topic",
            "arn:aws:dynamodb:us-east-1:123456789012:table/t",
            "arn:aws:kinesis:us-east-1:123456789012:table/x",
            "arn:aws:sqs:useast1:123456789012:q",
            "arn:aws:sqs:us-east-1:12345:q",
        ] {
            let err = classify_event_source_arn(arn).unwrap_err();
            assert_eq!(err.code, "InvalidParameterValueException", "{arn}");
        }
    }

    #[test]
    fn regions() {
        assert!(is_region("us-east-1"));
        assert!(is_region("us-gov-west-1"));
        assert!(is_region("cn-north-1"));
        assert!(is_region("eusc-de-east-1"));
        assert!(!is_region("us-east"));
        assert!(!is_region("useast-1"));
    }

    /// The ISO partitions and the European Sovereign Cloud: their regions and ARNs are taken.
    #[test]
    fn iso_and_sovereign_partitions() {
        for (partition, region) in [
            ("aws-iso", "us-iso-east-1"),
            ("aws-iso-b", "us-isob-east-1"),
            ("aws-iso-e", "eu-isoe-west-1"),
            ("aws-iso-f", "us-isof-south-1"),
            ("aws-eusc", "eusc-de-east-1"),
        ] {
            assert!(is_region(region), "{region}");
            let arn = format!("arn:{partition}:sqs:{region}:123456789012:q");
            let parsed = parse_arn(&arn).unwrap_or_else(|| panic!("{arn}"));
            assert_eq!((parsed.partition, parsed.region), (partition, region));
            assert_eq!(classify_event_source_arn(&arn).unwrap(), SourceKind::Sqs);
        }
    }
}
