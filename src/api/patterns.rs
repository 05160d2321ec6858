//! The regular expressions of the CRD, taken from Lambda's API model (botocore's
//! `lambda/2015-03-31/service-2.json`) and anchored, because Lambda matches them against the
//! whole value. The API server evaluates them with Go's RE2, so they use no look-around.
//!
//! One deliberate change to the model: the model's region part (`[a-z]{2}(-gov)?-[a-z]+-\d`, or
//! `…((-gov)|(-iso([a-z]?)))?…` in newer shapes) predates the ISO partitions and the European
//! Sovereign Cloud. Every ARN and region pattern here takes the region names of every partition
//! that botocore's `partitions.json` lists: `us-east-1`, `us-gov-west-1`, `cn-north-1`,
//! `us-iso-east-1`, `us-isob-east-1`, `eu-isoe-west-1`, `us-isof-south-1`, `eusc-de-east-1`.
//! `tests/e2e/test_conformance.py` checks these against the model and `partitions.json`.

/// A region name of any partition, unanchored.
macro_rules! region {
    () => {
        r"(?:[a-z]{2}(?:-gov|-iso[a-z]?)?|eusc-[a-z]{2})-[a-z]+-\d"
    };
}

/// A partition (`aws`, `aws-cn`, `aws-us-gov`, `aws-iso-b`, `aws-eusc`, …), unanchored.
macro_rules! partition {
    () => {
        r"aws[a-zA-Z0-9-]*"
    };
}

/// A function qualifier (`:alias`, `:version`, `:$LATEST`, `:$LATEST.PUBLISHED`), optional.
macro_rules! qualifier {
    () => {
        r"(?::(?:\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
    };
}

/// `spec.region`.
pub(crate) const REGION: &str = concat!("^", region!(), "$");

/// The model's `Arn` shape (event source ARNs, schema registry secrets).
pub(crate) const ARN: &str = concat!(
    "^arn:",
    partition!(),
    r":[a-zA-Z0-9-]+:(?:",
    region!(),
    r")?:(?:\d{12})?:.*$"
);

/// The model's `DestinationArn`, without its empty alternative (clearing the destination is
/// written by removing `destinationConfig`).
pub(crate) const DESTINATION: &str = concat!(
    r"^(?:kafka://[^.][a-zA-Z0-9-_.]{0,248}|arn:",
    partition!(),
    r":[a-zA-Z0-9-]+:(?:",
    region!(),
    r")?:(?:\d{12})?:.*)$"
);

/// The model's `KMSKeyArn` (no region part, so every partition already fits).
pub(crate) const KMS_KEY_ARN: &str = r"^(?:arn:(?:aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)?$";

/// `FunctionName`, stricter than the model's `NamespacedFunctionName` where Lambda is: a name
/// given alone is 1–64 characters of `[a-zA-Z0-9-_]` (the API reference: "If you specify only
/// the function name, it's limited to 64 characters in length"), optionally qualified. A full or
/// partial ARN follows the model's pattern (the CRD caps the whole value at 256 characters).
pub(crate) const FUNCTION_NAME: &str = concat!(
    r"^(?:[a-zA-Z0-9-_]{1,64}|(?:arn:aws[a-zA-Z-]*:lambda:(?:",
    region!(),
    r":)?(?:\d{12}:)?(?:function:)?|",
    region!(),
    r":(?:\d{12}:)?(?:function:)?|\d{12}:(?:function:)?|function:)[a-zA-Z0-9-_.]+)",
    qualifier!(),
    "$"
);

/// The admission rule of `functionName`: [`FUNCTION_NAME`], with a message that says what it
/// asks for (a schema `pattern` would only quote the expression).
pub(crate) fn function_name_rule() -> kube::core::Rule {
    kube::core::Rule::new(format!("self.matches(r'{FUNCTION_NAME}')"))
        .message(
            "functionName must be a function name of 1-64 letters, digits, '-' or '_' \
             (optionally with :alias or :version), or a full or partial function ARN such as \
             arn:aws:lambda:us-east-1:123456789012:function:my-function or \
             123456789012:function:my-function[:qualifier]",
        )
        .reason(kube::core::Reason::FieldValueInvalid)
}

/// The model's `Topic`: a first character other than `.`, then at least one of
/// `[a-zA-Z0-9-_.]` (so a topic has at least two characters).
pub(crate) const TOPIC: &str = r"^[^.][a-zA-Z0-9-_.]+$";

/// The model's `URI` shape: source access URIs, consumer group ids, schema registry URIs.
pub(crate) const URI: &str = r"^[a-zA-Z0-9/*:_+=.@-]*$";

/// The model's `Endpoint`: `host:port` with a DNS host name.
pub(crate) const ENDPOINT: &str = r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])\.)*(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]):[0-9]{1,5}$";

/// The model's `DatabaseName`: no space, `/`, `.`, `$` or `"`.
pub(crate) const DATABASE_NAME: &str = r#"^[^ /.$"]*$"#;

/// The model's `CollectionName` without its look-ahead (`system.` names are refused by a CEL
/// rule instead): a first character of `[_a-zA-Z0-9]`, then no `$`.
pub(crate) const COLLECTION_NAME: &str = r"^[_a-zA-Z0-9][^$]*$";

/// The model's `ProvisionedPollerGroupName`.
pub(crate) const POLLER_GROUP_NAME: &str = r"^[a-zA-Z0-9-_]*$";

/// A Kubernetes object name (RFC 1123 subdomain): `metadata.name` of a LambdaAccount.
pub(crate) const DNS_SUBDOMAIN: &str =
    r"^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$";

/// An IAM role ARN (`arn:aws:iam::123456789012:role/path/name`), stricter than STS's model
/// (which takes any text) so that the account ID can be read from it.
pub(crate) const ROLE_ARN: &str = concat!(
    "^arn:",
    partition!(),
    r":iam::\d{12}:role/[\w+=,.@/-]{1,512}$"
);

/// STS's `externalIdType`.
pub(crate) const EXTERNAL_ID: &str = r"^[\w+=,.@:/-]*$";

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, value: &str) -> bool {
        regex::Regex::new(pattern)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
            .is_match(value)
    }

    const PARTITIONS: [(&str, &str); 8] = [
        ("aws", "us-east-1"),
        ("aws-cn", "cn-north-1"),
        ("aws-us-gov", "us-gov-west-1"),
        ("aws-iso", "us-iso-east-1"),
        ("aws-iso-b", "us-isob-east-1"),
        ("aws-iso-e", "eu-isoe-west-1"),
        ("aws-iso-f", "us-isof-south-1"),
        ("aws-eusc", "eusc-de-east-1"),
    ];

    #[test]
    fn regions_of_every_partition_are_accepted() {
        for (_, region) in PARTITIONS {
            assert!(matches(REGION, region), "{region}");
        }
        for region in [
            "ap-southeast-2",
            "il-central-1",
            "mx-central-1",
            "us-isof-east-1",
        ] {
            assert!(matches(REGION, region), "{region}");
        }
        for bad in [
            "",
            "us-east",
            "useast-1",
            "US-EAST-1",
            "mars-north-1x",
            "us-east-1 ",
            "eusc-east-1",
            "us-isoxy-east-1",
            "us-east-12",
            "x-east-1",
        ] {
            assert!(!matches(REGION, bad), "{bad:?}");
        }
    }

    #[test]
    fn arns_of_every_partition_are_accepted() {
        for (partition, region) in PARTITIONS {
            let queue = format!("arn:{partition}:sqs:{region}:123456789012:q");
            assert!(matches(ARN, &queue), "{queue}");
            assert!(matches(DESTINATION, &queue), "{queue}");
            let key = format!("arn:{partition}:kms:{region}:123456789012:key/k");
            assert!(matches(KMS_KEY_ARN, &key), "{key}");
            let function = format!("arn:{partition}:lambda:{region}:123456789012:function:f");
            assert!(matches(FUNCTION_NAME, &function), "{function}");
            let partial = format!("{region}:123456789012:function:f:live");
            assert!(matches(FUNCTION_NAME, &partial), "{partial}");
        }
        for bad in [
            "my-queue",
            "arn:aws:sqs:us-east:123456789012:q",
            "arn:azure:sqs:us-east-1:123456789012:q",
            "arn:aws:sqs:us-east-1:12345:q",
            "arn:aws::us-east-1:123456789012:q",
        ] {
            assert!(!matches(ARN, bad), "{bad}");
            assert!(!matches(DESTINATION, bad), "{bad}");
        }
        assert!(matches(DESTINATION, "kafka://dlq-topic"));
        assert!(!matches(DESTINATION, "kafka://.hidden"));
        assert!(!matches(DESTINATION, "see kafka://dlq"));
        assert!(matches(KMS_KEY_ARN, ""));
        assert!(!matches(KMS_KEY_ARN, "my-key"));
    }

    #[test]
    fn a_plain_function_name_is_at_most_64_characters_without_spaces() {
        let name64 = "f".repeat(64);
        let name65 = "f".repeat(65);
        for good in [
            "f",
            "my-function",
            "my_function:live",
            "my-function:7",
            "my-function:$LATEST",
            "my-function:$LATEST.PUBLISHED",
            name64.as_str(),
            &format!("{name64}:live"),
            "123456789012:function:my-function",
            "123456789012:function:my-function:live",
            "function:my-function",
            "arn:aws:lambda:us-east-1:123456789012:function:my-function",
            "arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATEST",
            "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f:prod",
        ] {
            assert!(matches(FUNCTION_NAME, good), "{good:?}");
        }
        for bad in [
            "",
            name65.as_str(),
            &format!("{name65}:live"),
            "my function",
            "my-function ",
            "my.function",
            "my-function:live:extra",
            "my-function:",
            "my-function:$latest",
            "arn:aws:sqs:us-east-1:123456789012:function:f",
            "arn:aws:lambda:us-east-1:123456789012:function:",
            "arn:aws:lambda:us-east-1:123456789012:function:my function",
        ] {
            assert!(!matches(FUNCTION_NAME, bad), "{bad:?}");
        }
    }

    #[test]
    fn other_model_patterns() {
        assert!(matches(TOPIC, "orders"));
        assert!(matches(TOPIC, "ab"));
        assert!(!matches(TOPIC, "t"));
        assert!(!matches(TOPIC, ".orders"));
        assert!(!matches(TOPIC, "bad topic"));
        assert!(matches(
            URI,
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbC"
        ));
        assert!(matches(URI, "subnet:subnet-0a1b"));
        assert!(matches(URI, "/prod"));
        assert!(!matches(URI, "has space"));
        assert!(matches(ENDPOINT, "b-1.example.com:9092"));
        assert!(!matches(ENDPOINT, "b-1.example.com"));
        assert!(!matches(ENDPOINT, "-b.example.com:9092"));
        assert!(!matches(ENDPOINT, "b_1.example.com:9092"));
        assert!(matches(DATABASE_NAME, "orders-db"));
        for bad in ["my db", "a/b", "a.b", "a$b", "a\"b"] {
            assert!(!matches(DATABASE_NAME, bad), "{bad}");
        }
        assert!(matches(COLLECTION_NAME, "_events"));
        assert!(!matches(COLLECTION_NAME, "-events"));
        assert!(!matches(COLLECTION_NAME, "ev$nts"));
        assert!(matches(POLLER_GROUP_NAME, ""));
        assert!(!matches(POLLER_GROUP_NAME, "a.b"));
    }
}
