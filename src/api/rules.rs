//! CEL admission rules of the `EventSourceMapping` CRD.
//!
//! The API server evaluates these, so a bad manifest is refused at `kubectl apply` with a message
//! that names the field — it never reaches the controller, let alone AWS. They encode the
//! source-type-aware cross-field rules of semantics §3 and the create-only fields of §2.4.
//! Service quotas that accounts can raise (filters per mapping, maximum concurrency, …) are
//! deliberately not hard-coded here.

use kube::core::{Message, Reason, Rule};

use crate::lambda::types::CREATE_ONLY;

/// The event source types the rules tell apart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Source {
    /// A source named by `eventSourceARN`, by the ARN's service part.
    Arn(&'static str),
    /// Self-managed Apache Kafka: `selfManagedEventSource` is set.
    SelfManagedKafka,
}

/// The event source types, and CEL predicates for the SQS queue types and Kafka's queue mode.
pub(crate) mod source {
    use super::Source;

    pub(crate) const SQS: Source = Source::Arn("sqs");
    pub(crate) const KINESIS: Source = Source::Arn("kinesis");
    pub(crate) const DYNAMODB: Source = Source::Arn("dynamodb");
    pub(crate) const MSK: Source = Source::Arn("kafka");
    pub(crate) const MQ: Source = Source::Arn("mq");
    pub(crate) const DOCUMENTDB: Source = Source::Arn("rds");
    pub(crate) const SELF_MANAGED_KAFKA: Source = Source::SelfManagedKafka;
    pub(crate) const SQS_FIFO: &str = "(has(self.eventSourceARN) && self.eventSourceARN.matches('^arn:[^:]+:sqs:') && self.eventSourceARN.endsWith('.fifo'))";
    pub(crate) const SQS_STANDARD: &str = "(has(self.eventSourceARN) && self.eventSourceARN.matches('^arn:[^:]+:sqs:') && !self.eventSourceARN.endsWith('.fifo'))";
    pub(crate) const KAFKA_QUEUE_MODE: &str = "(has(self.selfManagedKafkaEventSourceConfig) && has(self.selfManagedKafkaEventSourceConfig.consumptionMode) && self.selfManagedKafkaEventSourceConfig.consumptionMode == 'Queue')";
}

/// "The event source is one of `sources`".
///
/// The ARN sources are tested by one regular expression over the ARN's service part, where
/// the first of them stands in the list; self-managed Kafka by the presence of
/// `selfManagedEventSource`. One test per ARN source would read `eventSourceARN` twice per
/// source, and each read of a field of `spec` is what a rule costs the API server most: every
/// one rebuilds the schemas of all of `spec`'s properties (k8s.io/apiserver
/// `unstructuredMap.Find`), and every rule runs on every write of the resource, status updates
/// included.
fn any(sources: &[Source]) -> String {
    let services: Vec<&str> = sources
        .iter()
        .filter_map(|source| match source {
            Source::Arn(service) => Some(*service),
            Source::SelfManagedKafka => None,
        })
        .collect();
    let service = match services.as_slice() {
        [one] => (*one).to_string(),
        many => format!("({})", many.join("|")),
    };
    let mut arn_tested = false;
    let tests: Vec<String> = sources
        .iter()
        .filter_map(|source| match source {
            Source::Arn(_) if arn_tested => None,
            Source::Arn(_) => {
                arn_tested = true;
                Some(format!(
                    "(has(self.eventSourceARN) && self.eventSourceARN.matches('^arn:[^:]+:{service}:'))"
                ))
            }
            Source::SelfManagedKafka => Some("has(self.selfManagedEventSource)".to_string()),
        })
        .collect();
    format!("({})", tests.join(" || "))
}

/// `field` may only be set for the given sources.
fn only_for(field: &str, sources: &[Source], who: &str) -> Rule {
    Rule::new(format!("!has(self.{field}) || {}", any(sources)))
        .message(Message::Message(format!(
            "{field} is only supported for {who} event sources"
        )))
        .field_path(format!(".{field}"))
        .reason(Reason::FieldValueForbidden)
}

/// A create-only field: it may be neither changed, added nor removed after creation: when it is
/// set now it was set before with the same value, and when it is not it was not.
fn immutable(path: &str, what_to_do: &str) -> Rule {
    let leaf = path.rsplit('.').next().unwrap_or(path);
    let parent = path.rsplit_once('.').map(|(p, _)| p);
    // Presence of the parent object must be checked before the leaf, in both old and new.
    let (has_new, has_old) = match parent {
        Some(p) => (
            format!("(has(self.{p}) && has(self.{path}))"),
            format!("(has(oldSelf.{p}) && has(oldSelf.{path}))"),
        ),
        None => (format!("has(self.{path})"), format!("has(oldSelf.{path})")),
    };
    // Branching on the new presence reads an absent field (the common case: most of these
    // fields belong to other sources) once in each object; `has(new) == has(old) && (!has(new)
    // || new == old)` read it twice in the new one, and every rule runs on every write.
    Rule::new(format!(
        "{has_new} ? ({has_old} && self.{path} == oldSelf.{path}) : !{has_old}"
    ))
    .message(Message::Message(format!(
        "{path} cannot change after the mapping is created (Lambda cannot update {leaf}); {what_to_do}"
    )))
    .field_path(format!(".{path}"))
    .reason(Reason::FieldValueForbidden)
}

/// A create-only entry of a list, written `type=KIND].leaf` after the list's name (the
/// RabbitMQ virtual host): the list's other entries stay free to change, but the values of
/// `leaf` in entries of that type may be neither changed, added nor removed.
fn immutable_entry(list: &str, entry: &str) -> Rule {
    let (selector, leaf) = entry.split_once("].").unwrap_or((entry, ""));
    let (key, kind) = selector.split_once('=').unwrap_or((selector, ""));
    let values = |object: &str| {
        format!(
            "(has({object}.{list}) ? {object}.{list}.filter(c, c.{key} == '{kind}').map(c, has(c.{leaf}) ? c.{leaf} : '') : [])"
        )
    };
    Rule::new(format!("{} == {}", values("self"), values("oldSelf")))
        .message(Message::Message(format!(
            "the {kind} entry of {list} cannot change after the mapping is created (Lambda cannot update it); {REPLACE}"
        )))
        .field_path(format!(".{list}"))
        .reason(Reason::FieldValueForbidden)
}

/// Lambda refuses a second mapping for the same source and function while the first exists or
/// is still being deleted (semantics §2.4), so the old one must go before the new one is made.
const REPLACE: &str = "to change it, delete this EventSourceMapping (with deletionPolicy Delete) and wait until it is gone, then create it with the new value";

/// Adds [`spec_rules`] to the spec's schema (used as a schemars transform on the spec type).
pub(crate) fn add_spec_rules(schema: &mut schemars::Schema) {
    for rule in spec_rules() {
        kube::core::validate(schema, rule).expect("CEL rules serialize to JSON");
    }
}

/// Every spec-level rule, in the order the API server reports them.
///
/// A table, one entry per rule (semantics §3's cross-field rules, then the create-only fields):
/// long on purpose, since splitting it would scatter the rules an admission error quotes.
pub(crate) fn spec_rules() -> Vec<Rule> {
    use source::*;
    let streams = [KINESIS, DYNAMODB];
    let streams_and_kafka = [KINESIS, DYNAMODB, MSK, SELF_MANAGED_KAFKA];
    let kafka = [MSK, SELF_MANAGED_KAFKA];
    let mut rules = vec![
        // Which source.
        Rule::new("has(self.eventSourceARN) != has(self.selfManagedEventSource)")
            .message("exactly one of eventSourceARN or selfManagedEventSource must be set (selfManagedEventSource is for self-managed Apache Kafka only)")
            .reason(Reason::FieldValueRequired),
        // Starting position (R4, R5, R8).
        Rule::new(format!(
            "has(self.startingPosition) || !({} || (has(self.selfManagedEventSource) && !{KAFKA_QUEUE_MODE}))",
            any(&[KINESIS, DYNAMODB, MSK])
        ))
        .message("startingPosition is required for Kinesis, DynamoDB Streams and Kafka event sources (TRIM_HORIZON, LATEST or AT_TIMESTAMP)")
        .field_path(".startingPosition")
        .reason(Reason::FieldValueRequired),
        Rule::new(format!("!has(self.startingPosition) || !{}", any(&[SQS, MQ])))
            .message("startingPosition is not supported for Amazon SQS or Amazon MQ event sources; remove it")
            .field_path(".startingPosition")
            .reason(Reason::FieldValueForbidden),
        Rule::new(format!("!({KAFKA_QUEUE_MODE} && (has(self.startingPosition) || has(self.startingPositionTimestamp) || has(self.maximumBatchingWindowInSeconds)))"))
            .message("startingPosition, startingPositionTimestamp and maximumBatchingWindowInSeconds are not supported with selfManagedKafkaEventSourceConfig.consumptionMode Queue")
            .field_path(".selfManagedKafkaEventSourceConfig.consumptionMode")
            .reason(Reason::FieldValueForbidden),
        Rule::new(format!("!has(self.startingPosition) || self.startingPosition != 'AT_TIMESTAMP' || !{}", any(&[DYNAMODB])))
            .message("startingPosition AT_TIMESTAMP is not supported for DynamoDB Streams; use TRIM_HORIZON or LATEST")
            .field_path(".startingPosition")
            .reason(Reason::FieldValueInvalid),
        Rule::new("has(self.startingPositionTimestamp) == (has(self.startingPosition) && self.startingPosition == 'AT_TIMESTAMP')")
            .message("startingPositionTimestamp is required with startingPosition AT_TIMESTAMP and not allowed otherwise")
            .field_path(".startingPositionTimestamp")
            .reason(Reason::FieldValueInvalid),
        // Batching (R1, R2).
        // The batch size before the queue type: it is at most 10 in most mappings, which settles
        // the rule with fewer reads of spec's fields (see `any`). Likewise below: the test that
        // is cheapest and most often decisive goes first.
        Rule::new(format!("!(has(self.batchSize) && self.batchSize > 10 && {SQS_STANDARD}) || (has(self.maximumBatchingWindowInSeconds) && self.maximumBatchingWindowInSeconds >= 1)"))
            .message("for a standard SQS queue, batchSize above 10 requires maximumBatchingWindowInSeconds of at least 1")
            .field_path(".maximumBatchingWindowInSeconds")
            .reason(Reason::FieldValueRequired),
        Rule::new(format!("!(has(self.batchSize) && self.batchSize > 10 && {SQS_FIFO})"))
            .message("batchSize can be at most 10 for an SQS FIFO queue")
            .field_path(".batchSize")
            .reason(Reason::FieldValueInvalid),
        Rule::new(format!("!(has(self.maximumBatchingWindowInSeconds) && {SQS_FIFO})"))
            .message("maximumBatchingWindowInSeconds is not supported for SQS FIFO queues; remove it")
            .field_path(".maximumBatchingWindowInSeconds")
            .reason(Reason::FieldValueForbidden),
        // Fields that only some sources take.
        only_for("parallelizationFactor", &streams, "Kinesis and DynamoDB Streams"),
        only_for("tumblingWindowInSeconds", &streams, "Kinesis and DynamoDB Streams"),
        only_for("maximumRecordAgeInSeconds", &streams_and_kafka, "Kinesis, DynamoDB Streams and Kafka"),
        only_for("maximumRetryAttempts", &streams_and_kafka, "Kinesis, DynamoDB Streams and Kafka"),
        only_for("bisectBatchOnFunctionError", &streams_and_kafka, "Kinesis, DynamoDB Streams and Kafka"),
        only_for("destinationConfig", &streams_and_kafka, "Kinesis, DynamoDB Streams and Kafka"),
        only_for("functionResponseTypes", &[KINESIS, DYNAMODB, SQS, MSK, SELF_MANAGED_KAFKA], "Kinesis, DynamoDB Streams, SQS and Kafka"),
        only_for("scalingConfig", &[SQS], "Amazon SQS"),
        only_for("filterCriteria", &[KINESIS, DYNAMODB, SQS, MSK, SELF_MANAGED_KAFKA, MQ], "Kinesis, DynamoDB Streams, SQS, Kafka and Amazon MQ"),
        only_for("amazonManagedKafkaEventSourceConfig", &[MSK], "Amazon MSK"),
        only_for("selfManagedKafkaEventSourceConfig", &[SELF_MANAGED_KAFKA], "self-managed Apache Kafka"),
        only_for("documentDBEventSourceConfig", &[DOCUMENTDB], "Amazon DocumentDB"),
        only_for("provisionedPollerConfig", &[SQS, MSK, SELF_MANAGED_KAFKA], "Amazon SQS and Kafka"),
        only_for("loggingConfig", &kafka, "Kafka"),
        only_for("topics", &kafka, "Kafka"),
        only_for("queues", &[MQ], "Amazon MQ"),
        // Required per source (R17, DocumentDB needs its database). The source first: most
        // mappings are of another source, and then the field is absent, a second read.
        Rule::new(format!("!{} || has(self.topics)", any(&kafka)))
            .message("topics (exactly one Kafka topic) is required for Kafka event sources")
            .field_path(".topics")
            .reason(Reason::FieldValueRequired),
        Rule::new(format!("!{} || has(self.queues)", any(&[MQ])))
            .message("queues (exactly one broker queue) is required for Amazon MQ event sources")
            .field_path(".queues")
            .reason(Reason::FieldValueRequired),
        Rule::new(format!("!{} || has(self.documentDBEventSourceConfig)", any(&[DOCUMENTDB])))
            .message("documentDBEventSourceConfig (with databaseName) is required for Amazon DocumentDB event sources")
            .field_path(".documentDBEventSourceConfig")
            .reason(Reason::FieldValueRequired),
        // R11, R12, R10, R13.
        Rule::new("!(has(self.scalingConfig) && has(self.provisionedPollerConfig))")
            .message("scalingConfig and provisionedPollerConfig cannot be used together (an SQS mapping uses either maximum concurrency or provisioned mode)")
            .field_path(".scalingConfig")
            .reason(Reason::FieldValueForbidden),
        Rule::new(format!("!(has(self.provisionedPollerConfig) && has(self.provisionedPollerConfig.pollerGroupName)) || {}", any(&kafka)))
            .message("provisionedPollerConfig.pollerGroupName is only supported for Kafka event sources")
            .field_path(".provisionedPollerConfig.pollerGroupName")
            .reason(Reason::FieldValueForbidden),
        Rule::new(format!("!(has(self.provisionedPollerConfig) && has(self.provisionedPollerConfig.minimumPollers) && self.provisionedPollerConfig.minimumPollers < 2 && {})", any(&[SQS])))
            .message("provisionedPollerConfig.minimumPollers must be at least 2 for Amazon SQS")
            .field_path(".provisionedPollerConfig.minimumPollers")
            .reason(Reason::FieldValueInvalid),
        Rule::new(format!("!has(self.metricsConfig) || !has(self.metricsConfig.metrics) || {} || self.metricsConfig.metrics.all(m, m == 'EventCount')", any(&kafka)))
            .message("metricsConfig.metrics ErrorCount and KafkaMetrics are only supported for Kafka event sources; other sources support EventCount")
            .field_path(".metricsConfig.metrics")
            .reason(Reason::FieldValueInvalid),
        Rule::new(format!("!(has(self.destinationConfig) && has(self.destinationConfig.onFailure) && has(self.destinationConfig.onFailure.destination) && self.destinationConfig.onFailure.destination.startsWith('kafka://')) || {}", any(&kafka)))
            .message("a kafka:// on-failure destination is only supported for Kafka event sources")
            .field_path(".destinationConfig.onFailure.destination")
            .reason(Reason::FieldValueInvalid),
        // Create-only fields (semantics §2.4): one rule per entry of the table the planner and
        // the AWS adapter use too, so the three cannot list different fields.
    ];
    rules.extend(
        CREATE_ONLY
            .iter()
            .map(|field| match field.spec_path.split_once('[') {
                Some((list, entry)) => immutable_entry(list, entry),
                None => immutable(field.spec_path, REPLACE),
            }),
    );
    rules.push(immutable("region", "a mapping cannot move between regions; create a new EventSourceMapping in the other region and delete this one"));
    rules.push(immutable("accountRef", "a mapping cannot move between AWS accounts; create a new EventSourceMapping with the other accountRef and delete this one"));
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immutable_rule_covers_add_remove_and_change() {
        let rule = immutable(
            "amazonManagedKafkaEventSourceConfig.consumerGroupID",
            REPLACE,
        );
        assert!(rule.rule.contains("has(self.amazonManagedKafkaEventSourceConfig) && has(self.amazonManagedKafkaEventSourceConfig.consumerGroupID)"));
        assert!(rule.rule.contains("self.amazonManagedKafkaEventSourceConfig.consumerGroupID == oldSelf.amazonManagedKafkaEventSourceConfig.consumerGroupID"));
        // The advice puts deleting before creating: Lambda would refuse the new mapping while
        // the old one exists.
        let Some(Message::Message(message)) = &rule.message else {
            panic!("{rule:?}")
        };
        let delete = message
            .find("delete this EventSourceMapping")
            .expect(message);
        let create = message.find("then create it").expect(message);
        assert!(delete < create, "{message}");
        let top = immutable("eventSourceARN", REPLACE);
        assert_eq!(
            top.rule,
            "has(self.eventSourceARN) ? (has(oldSelf.eventSourceARN) && self.eventSourceARN == oldSelf.eventSourceARN) : !has(oldSelf.eventSourceARN)"
        );
    }

    #[test]
    fn source_tests_read_the_arn_once() {
        use source::*;
        assert_eq!(
            any(&[KINESIS, DYNAMODB, MSK, SELF_MANAGED_KAFKA]),
            "((has(self.eventSourceARN) && self.eventSourceARN.matches('^arn:[^:]+:(kinesis|dynamodb|kafka):')) || has(self.selfManagedEventSource))"
        );
        assert_eq!(
            any(&[SQS]),
            "((has(self.eventSourceARN) && self.eventSourceARN.matches('^arn:[^:]+:sqs:')))"
        );
        assert_eq!(
            any(&[SELF_MANAGED_KAFKA]),
            "(has(self.selfManagedEventSource))"
        );
        // The ARN test stands where the first ARN source does.
        assert_eq!(
            any(&[KINESIS, SELF_MANAGED_KAFKA, MQ]),
            "((has(self.eventSourceARN) && self.eventSourceARN.matches('^arn:[^:]+:(kinesis|mq):')) || has(self.selfManagedEventSource))"
        );
    }

    /// The admission rules and the create-only table name the same fields: every table entry
    /// has one, and every rule comparing with the stored object (`oldSelf`) guards a table entry
    /// or the region and the account (which are ours, not Lambda's).
    #[test]
    fn immutable_rules_match_the_create_only_table() {
        let rules = spec_rules();
        let guarded: Vec<String> = rules
            .iter()
            .filter(|rule| rule.rule.contains("oldSelf"))
            .map(|rule| {
                let path = rule
                    .field_path
                    .as_deref()
                    .expect("a transition rule names its field");
                path.trim_start_matches('.').to_string()
            })
            .collect();
        // A list entry's rule names the list.
        let mut expected: Vec<String> = CREATE_ONLY
            .iter()
            .map(|field| field.spec_path.split('[').next().unwrap().to_string())
            .collect();
        expected.push("region".to_string());
        expected.push("accountRef".to_string());
        assert_eq!(guarded, expected);
        for rule in rules.iter().filter(|rule| rule.rule.contains("oldSelf")) {
            assert_eq!(
                rule.reason,
                Some(Reason::FieldValueForbidden),
                "{}",
                rule.rule
            );
        }
    }

    #[test]
    fn the_virtual_host_rule_compares_only_virtual_host_entries() {
        let rule = immutable_entry("sourceAccessConfigurations", "type=VIRTUAL_HOST].uri");
        assert_eq!(
            rule.rule,
            "(has(self.sourceAccessConfigurations) ? self.sourceAccessConfigurations.filter(c, c.type == 'VIRTUAL_HOST').map(c, has(c.uri) ? c.uri : '') : []) == \
             (has(oldSelf.sourceAccessConfigurations) ? oldSelf.sourceAccessConfigurations.filter(c, c.type == 'VIRTUAL_HOST').map(c, has(c.uri) ? c.uri : '') : [])"
        );
        assert_eq!(
            rule.field_path.as_deref(),
            Some(".sourceAccessConfigurations")
        );
    }
}
