//! `FunctionName` parsing. Lambda accepts a bare name, `name:qualifier`, a partial ARN
//! (`account:function:name`), `region:account:function:name`, and full or qualified ARNs.

use super::error::{ApiError, ApiResult};
use super::source::{is_account_id, is_region};

/// A parsed `FunctionName`. Region/account/partition are `Some` only if the caller gave them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FunctionRef {
    pub partition: Option<String>,
    pub region: Option<String>,
    pub account: Option<String>,
    pub name: String,
    pub qualifier: Option<String>,
}

/// Where the model lives: used to complete partial function names into ARNs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Home<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

impl FunctionRef {
    /// The full function ARN, qualifier kept (`…:function:name[:qualifier]`), completed with
    /// the model's own partition, region and account where the caller left them out.
    pub(crate) fn arn(&self, home: Home<'_>) -> String {
        let mut arn = format!(
            "arn:{}:lambda:{}:{}:function:{}",
            self.partition.as_deref().unwrap_or(home.partition),
            self.region.as_deref().unwrap_or(home.region),
            self.account.as_deref().unwrap_or(home.account),
            self.name
        );
        if let Some(q) = &self.qualifier {
            arn.push(':');
            arn.push_str(q);
        }
        arn
    }

    /// True if every part the caller gave names this model's own partition/region/account.
    pub(crate) fn is_home(&self, home: Home<'_>) -> bool {
        self.partition
            .as_deref()
            .is_none_or(|p| p == home.partition)
            && self.region.as_deref().is_none_or(|r| r == home.region)
            && self.account.as_deref().is_none_or(|a| a == home.account)
    }
}

fn is_function_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn is_qualifier(s: &str) -> bool {
    s == "$LATEST"
        || s == "$LATEST.PUBLISHED"
        || (!s.is_empty()
            && s.len() <= 128
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
}

/// Parses a `FunctionName` (request field or List filter); malformed values are a 400.
pub(crate) fn parse_function_name(input: &str) -> ApiResult<FunctionRef> {
    let invalid = || {
        ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{input}' at 'FunctionName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: \
             (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?\
             (function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
        ))
    };
    if input.is_empty() || input.chars().count() > 256 {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{input}' at 'FunctionName' failed to satisfy \
             constraint: Member must have length between 1 and 256"
        )));
    }
    let parts: Vec<&str> = input.split(':').collect();
    let mut rest: &[&str] = &parts;
    let mut partition = None;
    if rest.first() == Some(&"arn") {
        if rest.len() < 3 || !rest[1].starts_with("aws") || rest[2] != "lambda" {
            return Err(invalid());
        }
        partition = Some(rest[1].to_owned());
        rest = &rest[3..];
    }
    let mut region = None;
    if rest.first().is_some_and(|r| is_region(r)) {
        region = Some(rest[0].to_owned());
        rest = &rest[1..];
    }
    let mut account = None;
    if rest.first().is_some_and(|a| is_account_id(a)) {
        account = Some(rest[0].to_owned());
        rest = &rest[1..];
    }
    if rest.first() == Some(&"function") && rest.len() >= 2 {
        rest = &rest[1..];
    } else if partition.is_some() || region.is_some() || account.is_some() {
        // An ARN or partial ARN must spell out `function:`.
        return Err(invalid());
    }
    let (name, qualifier) = match rest {
        [name] => (*name, None),
        [name, qualifier] => (*name, Some(*qualifier)),
        _ => return Err(invalid()),
    };
    if !is_function_name(name) || qualifier.is_some_and(|q| !is_qualifier(q)) {
        return Err(invalid());
    }
    Ok(FunctionRef {
        partition,
        region,
        account,
        name: name.to_owned(),
        qualifier: qualifier.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: Home<'static> = Home {
        partition: "aws",
        region: "us-east-1",
        account: "123456789012",
    };

    #[test]
    fn iso_and_sovereign_function_arns_are_parsed() {
        for (partition, region) in [
            ("aws-iso", "us-iso-east-1"),
            ("aws-iso-b", "us-isob-east-1"),
            ("aws-iso-e", "eu-isoe-west-1"),
            ("aws-iso-f", "us-isof-south-1"),
            ("aws-eusc", "eusc-de-east-1"),
        ] {
            let arn = format!("arn:{partition}:lambda:{region}:123456789012:function:fn:live");
            let f = parse_function_name(&arn).unwrap_or_else(|e| panic!("{arn}: {e}"));
            assert_eq!(f.partition.as_deref(), Some(partition));
            assert_eq!(f.region.as_deref(), Some(region));
            assert_eq!(f.qualifier.as_deref(), Some("live"));
            let partial = format!("{region}:123456789012:function:fn");
            let f = parse_function_name(&partial).unwrap_or_else(|e| panic!("{partial}: {e}"));
            assert_eq!(f.region.as_deref(), Some(region));
        }
    }

    #[test]
    fn every_accepted_form_becomes_a_full_arn() {
        let cases = [
            ("fn", "arn:aws:lambda:us-east-1:123456789012:function:fn"),
            (
                "fn:live",
                "arn:aws:lambda:us-east-1:123456789012:function:fn:live",
            ),
            (
                "fn:$LATEST",
                "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST",
            ),
            (
                "123456789012:function:fn",
                "arn:aws:lambda:us-east-1:123456789012:function:fn",
            ),
            (
                "us-east-1:123456789012:function:fn:7",
                "arn:aws:lambda:us-east-1:123456789012:function:fn:7",
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:fn",
                "arn:aws:lambda:us-east-1:123456789012:function:fn",
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:fn:live",
                "arn:aws:lambda:us-east-1:123456789012:function:fn:live",
            ),
        ];
        for (input, arn) in cases {
            let f = parse_function_name(input).unwrap();
            assert_eq!(f.arn(HOME), arn, "{input}");
            assert!(f.is_home(HOME));
        }
    }

    #[test]
    fn foreign_account_is_not_home() {
        let f = parse_function_name("arn:aws:lambda:us-east-1:999999999999:function:fn").unwrap();
        assert!(!f.is_home(HOME));
    }

    #[test]
    fn rejects_malformed_names() {
        for input in [
            "",
            "a:b:c",
            "fn with space",
            "arn:aws:s3:::bucket",
            "arn:aws:lambda:us-east-1:123456789012:fn",
            &"x".repeat(65),
            &"x".repeat(257),
        ] {
            let e = parse_function_name(input).unwrap_err();
            assert_eq!(e.code, "InvalidParameterValueException", "{input}");
        }
    }
}
