"""Conformance: admission follows Lambda's API model, not our memory.

Reads the Lambda model that botocore ships (lambda/2015-03-31/service-2.json.gz). For every
member of CreateEventSourceMappingRequest and UpdateEventSourceMappingRequest, nested shapes
included, that has a min/max, a length, a pattern or an enum, it builds values just inside and
just outside each bound (plus probes for patterns), decides from the model whether Lambda takes
them, and sends each one in an otherwise valid manifest to the bed's API server as a server-side
dry run (dryRun=All). The API server must agree with the model, and every refusal must name the
field and the rule.

MAPPING says where each model member lives in our spec. A constrained member that is neither
there nor in NOT_EXPOSED fails test_every_constrained_member_is_mapped: a new or forgotten
constraint cannot slip past admission unnoticed. EXCEPTIONS is the short, documented list of
places where Lambda is stricter or looser than the model; nothing else may differ.

Regions: the model's ARN patterns predate the ISO partitions and the European Sovereign Cloud.
Every region that botocore's partitions.json lists is probed in spec.region and inside every
ARN-shaped member (the region exception below).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import ssl
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from conftest import ACCOUNT, API_VERSION, REGION, make_namespace

botocore = pytest.importorskip("botocore")
BOTOCORE_DATA = os.path.join(os.path.dirname(botocore.__file__), "data")


def _load_model() -> dict:
    path = os.path.join(BOTOCORE_DATA, "lambda", "2015-03-31", "service-2.json")
    if os.path.exists(path + ".gz"):
        with gzip.open(path + ".gz", "rt") as f:
            return json.load(f)
    with open(path) as f:
        return json.load(f)


MODEL = _load_model()
SHAPES = MODEL["shapes"]
with open(os.path.join(BOTOCORE_DATA, "partitions.json")) as f:
    PARTITIONS = [
        (p["id"], [r for r in p["regions"] if re.fullmatch(p["regionRegex"], r)], p["regionRegex"])
        for p in json.load(f)["partitions"]
    ]
REQUESTS = ["CreateEventSourceMappingRequest", "UpdateEventSourceMappingRequest"]
CONSTRAINTS = ("min", "max", "pattern", "enum")


# --------------------------------------------------------------------------------- the model


def constrained_members() -> dict[str, dict]:
    """Model member path (`DestinationConfig.OnFailure.Destination`, `Topics[]`,
    `SelfManagedEventSource.Endpoints{key}`) -> its shape, for every member with a constraint.
    Create and Update share their shapes; a member in both must have the same constraints."""
    found: dict[str, dict] = {}

    def walk(shape_name: str, path: str, stack: tuple[str, ...]) -> None:
        shape = SHAPES[shape_name]
        if path and any(k in shape for k in CONSTRAINTS):
            assert found.setdefault(path, shape) is shape or _same(found[path], shape), path
        if shape_name in stack:
            return
        stack = stack + (shape_name,)
        if shape["type"] == "structure":
            for member, ref in shape["members"].items():
                walk(ref["shape"], f"{path}.{member}" if path else member, stack)
        elif shape["type"] == "list":
            walk(shape["member"]["shape"], f"{path}[]", stack)
        elif shape["type"] == "map":
            walk(shape["key"]["shape"], f"{path}{{key}}", stack)
            walk(shape["value"]["shape"], f"{path}{{value}}", stack)

    for request in REQUESTS:
        walk(request, "", ())
    return found


def _same(a: dict, b: dict) -> bool:
    return all(a.get(k) == b.get(k) for k in CONSTRAINTS)


def model_accepts(shape: dict, value: Any) -> bool:
    """Whether the model's own constraints of one shape take `value` (Lambda matches a pattern
    against the whole value). Containers check their size and their scalar items."""
    t = shape["type"]
    if t == "string":
        if not isinstance(value, str):
            return False
        if "min" in shape and len(value) < shape["min"] or "max" in shape and len(value) > shape["max"]:
            return False
        if "pattern" in shape and not re.fullmatch(shape["pattern"], value):
            return False
        return "enum" not in shape or value in shape["enum"]
    if t in ("integer", "long"):
        return ("min" not in shape or value >= shape["min"]) and ("max" not in shape or value <= shape["max"])
    if t == "list":
        if "min" in shape and len(value) < shape["min"] or "max" in shape and len(value) > shape["max"]:
            return False
        item = SHAPES[shape["member"]["shape"]]
        return item["type"] == "structure" or all(model_accepts(item, v) for v in value)
    if t == "map":
        if "min" in shape and len(value) < shape["min"] or "max" in shape and len(value) > shape["max"]:
            return False
        key, val = SHAPES[shape["key"]["shape"]], SHAPES[shape["value"]["shape"]]
        return all(model_accepts(key, k) and model_accepts(val, v) for k, v in value.items())
    raise AssertionError(f"no rule for shape type {t}")


# --------------------------------------------------------------------------------- regions

# Our reading of every partition's region names (partitions.json); the model's ARN patterns use
# `[a-z]{2}(-gov)?-[a-z]+-\d{1}` or `[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}`.
PARTITION_REGION = "|".join(f"(?:{rx.strip('^$')})" for _, _, rx in PARTITIONS)
MODEL_REGION_PARTS = [r"[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}", r"[a-z]{2}(-gov)?-[a-z]+-\d{1}"]


def widen_regions(pattern: str) -> str:
    """The model's pattern with its region part extended to every partition's regions."""
    for part in MODEL_REGION_PARTS:
        if part in pattern:
            return pattern.replace(part, f"(?:{part}|{PARTITION_REGION})")
    raise AssertionError(f"no region part in {pattern}")


def every_partition(template: str) -> list[str]:
    """`template` with {partition} and {region} filled in for every region of every partition."""
    return [template.format(partition=p, region=r, account=ACCOUNT) for p, regions, _ in PARTITIONS for r in regions]


# --------------------------------------------------------------------------------- our spec

SQS = f"arn:aws:sqs:{REGION}:{ACCOUNT}:conformance-q"
KINESIS = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/conformance"
MSK = f"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/conformance/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d-1"
MQ = f"arn:aws:mq:{REGION}:{ACCOUNT}:broker:conformance:b-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
DOCDB = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:conformance"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:conformance-AbCdEf"
REGISTRY = f"arn:aws:glue:{REGION}:{ACCOUNT}:registry/conformance"
BROKER = "b-1.example.com:9092"

BASES: dict[str, dict] = {
    "sqs": {"eventSourceARN": SQS, "functionName": "fn"},
    "kinesis": {"eventSourceARN": KINESIS, "functionName": "fn", "startingPosition": "LATEST"},
    "msk": {"eventSourceARN": MSK, "functionName": "fn", "startingPosition": "LATEST", "topics": ["orders"]},
    "smk": {"selfManagedEventSource": {"endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [BROKER]}},
            "functionName": "fn", "startingPosition": "LATEST", "topics": ["orders"]},
    "mq": {"eventSourceARN": MQ, "functionName": "fn", "queues": ["orders"]},
    "docdb": {"eventSourceARN": DOCDB, "functionName": "fn", "startingPosition": "LATEST",
              "documentDBEventSourceConfig": {"databaseName": "db"}},
}


def put(base: str, path: str, value: Any) -> dict:
    """A copy of BASES[base] with `value` at `path` (dots; objects on the way are created)."""
    spec = json.loads(json.dumps(BASES[base]))
    *parents, leaf = path.split(".")
    node = spec
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value
    return spec


@dataclass
class Member:
    """Where a model member lives in our spec and how to build values for it."""
    base: str
    path: str                      # below spec; the manifest field
    wrap: Callable[[Any], Any] = lambda v: v   # model value -> what goes at `path`
    names: str = ""                # what the refusal must name (default: spec.<path>)
    fill: Callable[[int], Any] | None = None   # a value of size n that fits the pattern
    probes: list = field(default_factory=list)  # more values, judged by the model
    extra: Callable[[Any], dict] | None = None  # spec additions a value needs

    def spec(self, value: Any) -> dict:
        spec = put(self.base, self.path, self.wrap(value))
        if self.extra:
            spec.update(self.extra(value))
        return spec

    def named(self) -> str:
        return self.names or f"spec.{self.path}"


def pad(prefix: str, filler: str = "a") -> Callable[[int], str]:
    """Strings of exactly n characters that start with `prefix` (shorter ones are cut)."""
    return lambda n: (prefix + filler * max(0, n - len(prefix)))[:n]


def items(make: Callable[[int], Any]) -> Callable[[int], list]:
    return lambda n: [make(i) for i in range(n)]


def kafka_config(base: str, prefix: str) -> dict[str, Member]:
    """The members of one of the two Kafka config objects (they share their shapes)."""
    cfg = f"{prefix}EventSourceConfig"
    spec_cfg = cfg[0].lower() + cfg[1:]
    registry = f"{spec_cfg}.schemaRegistryConfig"
    with_uri = {"schemaRegistryURI": REGISTRY}
    return {
        f"{cfg}.ConsumerGroupId": Member(base, f"{spec_cfg}.consumerGroupID", fill=pad("group-", "g"),
                                         probes=["my group", "group/1:a=b@c", "g#1"]),
        f"{cfg}.SchemaRegistryConfig.SchemaRegistryURI": Member(
            base, f"{registry}.schemaRegistryURI", fill=pad("https://", "r"),
            probes=["https://registry.example.com:8081", REGISTRY, "has space", "https://r?x"]),
        f"{cfg}.SchemaRegistryConfig.EventRecordFormat": Member(
            base, registry, wrap=lambda v: dict(with_uri, eventRecordFormat=v),
            names=f"spec.{registry}.eventRecordFormat"),
        f"{cfg}.SchemaRegistryConfig.AccessConfigs[].Type": Member(
            base, registry, wrap=lambda v: dict(with_uri, accessConfigs=[{"type": v, "uri": SECRET}]),
            names=f"spec.{registry}.accessConfigs[0].type"),
        f"{cfg}.SchemaRegistryConfig.AccessConfigs[].URI": Member(
            base, registry, wrap=lambda v: dict(with_uri, accessConfigs=[{"type": "BASIC_AUTH", "uri": v}]),
            names=f"spec.{registry}.accessConfigs[0].uri",
            probes=[SECRET, "my-secret", f"arn:aws:secretsmanager:us-east:{ACCOUNT}:secret:s",
                    *every_partition("arn:{partition}:secretsmanager:{region}:{account}:secret:s")]),
        f"{cfg}.SchemaRegistryConfig.SchemaValidationConfigs[].Attribute": Member(
            base, registry, wrap=lambda v: dict(with_uri, schemaValidationConfigs=[{"attribute": v}]),
            names=f"spec.{registry}.schemaValidationConfigs[0].attribute"),
    }


FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"

# Model member -> our spec. Keep it in the model's order of appearance.
MAPPING: dict[str, Member] = {
    "EventSourceArn": Member("sqs", "eventSourceARN", probes=[
        SQS, "my-queue-please", f"arn:aws:sqs::{ACCOUNT}:q", f"arn:aws:sqs:{REGION}::q",
        f"arn:aws:sqs:{REGION}:12345:q", f"arn:aws:sqs:us-east:{ACCOUNT}:q", f"arn:azure:sqs:{REGION}:{ACCOUNT}:q",
        *every_partition("arn:{partition}:sqs:{region}:{account}:q")]),
    "FunctionName": Member("sqs", "functionName", fill=pad("", "f"), probes=[
        "my-function", "my function", "my-function ", "my.function", "f" * 64, "f" * 65, "fn:live", "fn:7", "fn:$LATEST",
        "fn:$LATEST.PUBLISHED", "fn:$latest", "fn:", "fn:a:b", "f" * 64 + ":live", "f" * 65 + ":live",
        f"{ACCOUNT}:function:fn", f"{ACCOUNT}:function:fn:live", f"{REGION}:{ACCOUNT}:function:fn",
        "function:my.function", FUNCTION_ARN + "fn", FUNCTION_ARN + "fn:$LATEST", FUNCTION_ARN + "my fn",
        pad(FUNCTION_ARN, "f")(256), pad(FUNCTION_ARN, "f")(257),
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:function:fn",
        *every_partition("arn:{partition}:lambda:{region}:{account}:function:fn:live"),
        *every_partition("{region}:{account}:function:fn")]),
    "BatchSize": Member("kinesis", "batchSize"),
    "FilterCriteria.Filters[].Pattern": Member(
        "sqs", "filterCriteria", wrap=lambda v: {"filters": [{"pattern": v}]},
        names="spec.filterCriteria.filters[0].pattern", fill=pad("{", " ")),
    "MaximumBatchingWindowInSeconds": Member("kinesis", "maximumBatchingWindowInSeconds"),
    "ParallelizationFactor": Member("kinesis", "parallelizationFactor"),
    "StartingPosition": Member("kinesis", "startingPosition", extra=lambda v: (
        {"startingPositionTimestamp": "2026-01-02T03:04:05Z"} if v == "AT_TIMESTAMP" else {})),
    "DestinationConfig.OnFailure.Destination": Member(
        "msk", "destinationConfig.onFailure.destination", fill=pad(f"arn:aws:sqs:{REGION}:{ACCOUNT}:", "d"),
        probes=["kafka://dlq", "kafka://.dlq", "kafka://!dlq", "kafka://" + "t" * 249, "kafka://" + "t" * 250,
                "see kafka://dlq", "kafka://", f"arn:aws:sqs:us-east:{ACCOUNT}:dlq",
                *every_partition("arn:{partition}:sqs:{region}:{account}:dlq")]),
    "MaximumRecordAgeInSeconds": Member("kinesis", "maximumRecordAgeInSeconds", probes=[0, 59, 60, 61]),
    "MaximumRetryAttempts": Member("kinesis", "maximumRetryAttempts"),
    "TumblingWindowInSeconds": Member("kinesis", "tumblingWindowInSeconds"),
    "Topics": Member("msk", "topics", fill=items(lambda i: f"topic-{i}")),
    "Topics[]": Member("msk", "topics", wrap=lambda v: [v], names="spec.topics[0]", fill=pad("", "t"),
                       probes=["orders", "ab", ".orders", "_orders", "-x", "bad topic", "a.b-c_d"]),
    "Queues": Member("mq", "queues", fill=items(lambda i: f"queue-{i}")),
    "Queues[]": Member("mq", "queues", wrap=lambda v: [v], names="spec.queues[0]", fill=pad("", "q"),
                       probes=["orders", "with space/and.dots"]),
    "SourceAccessConfigurations": Member(
        "smk", "sourceAccessConfigurations", fill=items(lambda i: {"type": "VPC_SUBNET", "uri": f"subnet:subnet-{i:04x}"}),
        probes=[[{"type": "VPC_SUBNET", "uri": f"subnet:subnet-{i:04x}"} for i in range(24)]]),
    "SourceAccessConfigurations[].Type": Member(
        "smk", "sourceAccessConfigurations", wrap=lambda v: [{"type": v, "uri": SECRET}],
        names="spec.sourceAccessConfigurations[0].type"),
    "SourceAccessConfigurations[].URI": Member(
        "smk", "sourceAccessConfigurations", wrap=lambda v: [{"type": "BASIC_AUTH", "uri": v}],
        names="spec.sourceAccessConfigurations[0].uri", fill=pad("", "u"),
        probes=[SECRET, "subnet:subnet-0a1b", "security_group:sg-0a1b", "/prod", "has space", "a#b"]),
    "SelfManagedEventSource.Endpoints": Member(
        "smk", "selfManagedEventSource.endpoints",
        fill=lambda n: {k: [BROKER] for k in ["KAFKA_BOOTSTRAP_SERVERS", "OTHER_SERVERS", "MORE_SERVERS"][:n]}),
    "SelfManagedEventSource.Endpoints{key}": Member(
        "smk", "selfManagedEventSource.endpoints", wrap=lambda v: {v: [BROKER]},
        names="spec.selfManagedEventSource.endpoints"),
    "SelfManagedEventSource.Endpoints{value}": Member(
        "smk", "selfManagedEventSource.endpoints", wrap=lambda v: {"KAFKA_BOOTSTRAP_SERVERS": v},
        names="spec.selfManagedEventSource.endpoints.KAFKA_BOOTSTRAP_SERVERS",
        fill=items(lambda i: f"b-{i}.example.com:9092")),
    "SelfManagedEventSource.Endpoints{value}[]": Member(
        "smk", "selfManagedEventSource.endpoints", wrap=lambda v: {"KAFKA_BOOTSTRAP_SERVERS": [v]},
        names="spec.selfManagedEventSource.endpoints.KAFKA_BOOTSTRAP_SERVERS[0]",
        fill=lambda n: ("b" * max(1, n - 5) + ":9092")[-n:] if n >= 6 else "b" * n,
        probes=[BROKER, "b-1.example.com", "-b.example.com:9092", "b_1.example.com:9092",
                "b-1.example.com:123456", "10.0.0.1:9092"]),
    "FunctionResponseTypes": Member("kinesis", "functionResponseTypes",
                                    fill=items(lambda i: "ReportBatchItemFailures")),
    "FunctionResponseTypes[]": Member("kinesis", "functionResponseTypes", wrap=lambda v: [v],
                                      names="spec.functionResponseTypes[0]"),
    **kafka_config("msk", "AmazonManagedKafka"),
    **kafka_config("smk", "SelfManagedKafka"),
    "ScalingConfig.MaximumConcurrency": Member("sqs", "scalingConfig.maximumConcurrency"),
    "DocumentDBEventSourceConfig.DatabaseName": Member(
        "docdb", "documentDBEventSourceConfig.databaseName", fill=pad("", "d"),
        probes=["orders-db", "my db", "a/b", "a.b", "a$b", 'a"b']),
    "DocumentDBEventSourceConfig.CollectionName": Member(
        "docdb", "documentDBEventSourceConfig.collectionName", fill=pad("", "c"),
        probes=["_events", "orders.2026", "system.views", "systemviews", "-x", "a$b", "system."]),
    "DocumentDBEventSourceConfig.FullDocument": Member("docdb", "documentDBEventSourceConfig.fullDocument"),
    "KMSKeyArn": Member("sqs", "kmsKeyARN", probes=[
        "", "my-key", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k", f"arn:aws:KMS:{REGION}:{ACCOUNT}:key/k",
        *every_partition("arn:{partition}:kms:{region}:{account}:key/k")]),
    "MetricsConfig.Metrics": Member(
        "msk", "metricsConfig.metrics",
        fill=items(lambda i: ["EventCount", "ErrorCount", "KafkaMetrics", "EventCount"][i])),
    "MetricsConfig.Metrics[]": Member("msk", "metricsConfig.metrics", wrap=lambda v: [v],
                                      names="spec.metricsConfig.metrics[0]"),
    "LoggingConfig.SystemLogLevel": Member("msk", "loggingConfig.systemLogLevel"),
    "ProvisionedPollerConfig.MinimumPollers": Member("msk", "provisionedPollerConfig.minimumPollers"),
    "ProvisionedPollerConfig.MaximumPollers": Member("sqs", "provisionedPollerConfig.maximumPollers",
                                                     probes=[2, 9999, 10000, 10001]),
    "ProvisionedPollerConfig.PollerGroupName": Member(
        "msk", "provisionedPollerConfig.pollerGroupName", fill=pad("", "p"), probes=["grp_1-a", "a.b", "a b"]),
}

# Constrained model members that are not part of our spec, and why.
NOT_EXPOSED = {
    "DestinationConfig.OnSuccess.Destination":
        "Lambda does not let callers set an on-success destination on a mapping; the CRD refuses "
        "destinationConfig.onSuccess altogether (test_admission on-success-destination)",
}


@dataclass
class Exception_:
    why: str
    accepts: Callable[[Any], bool]
    # Enum values Lambda takes that the model snapshot lacks (checked to be still missing).
    newer_values: tuple = ()


def _function_name(value: str) -> bool:
    """Lambda's FunctionName: a name alone is 1-64 of [a-zA-Z0-9-_] (optionally qualified); a
    full or partial ARN follows the model's pattern, regions widened."""
    if not 1 <= len(value) <= SHAPES["NamespacedFunctionName"]["max"]:
        return False
    qualifier = r"(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
    if re.fullmatch(r"[a-zA-Z0-9-_]{1,64}" + qualifier, value):
        return True
    arn_form = re.fullmatch(widen_regions(SHAPES["NamespacedFunctionName"]["pattern"]), value)
    name_alone = re.fullmatch(r"[a-zA-Z0-9-_.]+" + qualifier, value)
    return bool(arn_form) and not name_alone


def _widened(shape_name: str, allow_empty: bool = True) -> Callable[[Any], bool]:
    shape = SHAPES[shape_name]

    def accepts(value: Any) -> bool:
        if value == "" and not allow_empty:
            return False
        return model_accepts(dict(shape, pattern=widen_regions(shape["pattern"])), value)

    return accepts


def _enum_plus(shape_name: str, newer: tuple) -> Callable[[Any], bool]:
    return lambda v: v in SHAPES[shape_name]["enum"] or v in newer


REGION_WHY = ("regions: the model's region part refuses the ISO partitions and the European Sovereign "
              "Cloud (us-iso-east-1, eusc-de-east-1, ...), which Lambda serves; we take every region of "
              "botocore's partitions.json")
NEWER_SOURCE_ACCESS = ("IAM_AUTH", "IAM_OAUTHBEARER_AUTH", "OAUTHBEARER_AUTH", "OAUTHBEARER_SCOPE",
                       "OAUTHBEARER_AUDIENCE", "OAUTHBEARER_LOGICAL_CLUSTER", "OAUTHBEARER_IDENTITY_POOL")

EXCEPTIONS: dict[str, Exception_] = {
    "FunctionName": Exception_(
        "Lambda is stricter: a function name given alone is at most 64 characters of [a-zA-Z0-9-_] "
        "(API reference: 'If you specify only the function name, it's limited to 64 characters'); "
        "the model's 256 and its '.' apply to the ARN forms. Also " + REGION_WHY,
        _function_name),
    "EventSourceArn": Exception_(REGION_WHY, _widened("Arn")),
    "DestinationConfig.OnFailure.Destination": Exception_(
        REGION_WHY + "; and the model's empty value (clear the destination) is written by removing "
        "destinationConfig instead", _widened("DestinationArn", allow_empty=False)),
    "AmazonManagedKafkaEventSourceConfig.SchemaRegistryConfig.AccessConfigs[].URI": Exception_(
        REGION_WHY, _widened("Arn")),
    "SelfManagedKafkaEventSourceConfig.SchemaRegistryConfig.AccessConfigs[].URI": Exception_(
        REGION_WHY, _widened("Arn")),
    "MaximumRecordAgeInSeconds": Exception_(
        "Lambda is stricter than the model's -1..604800: -1 (infinite) or 60..604800",
        lambda v: v == -1 or 60 <= v <= 604800),
    "ScalingConfig.MaximumConcurrency": Exception_(
        "no upper bound: the model's 1000 is a default account quota that Lambda raises with the "
        "account's concurrency (docs/peer-bugs.md 16)", lambda v: v >= 2),
    "ProvisionedPollerConfig.MaximumPollers": Exception_(
        "newer than the model snapshot: aws-sdk-lambda 1.156 documents SQS 2..10000 (Kafka 1..2000); "
        "the CRD takes 1..10000", lambda v: 1 <= v <= 10000),
    "SourceAccessConfigurations": Exception_(
        "newer than the model snapshot: Lambda takes up to 23 entries (22 before 2026-06)",
        lambda v: len(v) <= 23),
    "SourceAccessConfigurations[].Type": Exception_(
        "newer than the model snapshot: aws-sdk-lambda 1.156 adds the IAM and OAuth types",
        _enum_plus("SourceAccessType", NEWER_SOURCE_ACCESS), NEWER_SOURCE_ACCESS),
    "AmazonManagedKafkaEventSourceConfig.SchemaRegistryConfig.AccessConfigs[].Type": Exception_(
        "newer than the model snapshot: aws-sdk-lambda 1.156 adds OAUTHBEARER_AUTH",
        _enum_plus("KafkaSchemaRegistryAuthType", ("OAUTHBEARER_AUTH",)), ("OAUTHBEARER_AUTH",)),
    "SelfManagedKafkaEventSourceConfig.SchemaRegistryConfig.AccessConfigs[].Type": Exception_(
        "newer than the model snapshot: aws-sdk-lambda 1.156 adds OAUTHBEARER_AUTH",
        _enum_plus("KafkaSchemaRegistryAuthType", ("OAUTHBEARER_AUTH",)), ("OAUTHBEARER_AUTH",)),
}

# What a refusal says about the rule it applied (the API server's words, or our CEL messages).
RULE_WORDS = ("should be greater than or equal to", "should be less than or equal to", "may not be",
              "should be at least", "should match", "Unsupported value", "must have at most",
              "should have at least", "Too many", "Too long", "must be -1 (infinite) or between",
              "functionName must be a function name", "must not name a system collection",
              "the only supported endpoint key", "must have at least")


# --------------------------------------------------------------------------------- probes


def probe_values(path: str, shape: dict, member: Member) -> list:
    """Values just inside and just outside each of the member's bounds, plus its probes."""
    values: list = []
    t = shape["type"]
    if t in ("integer", "long"):
        for bound in ("min", "max"):
            if bound in shape:
                values += [shape[bound] - 1, shape[bound], shape[bound] + 1]
    elif t in ("string", "list", "map"):
        if "enum" in shape:
            values += list(shape["enum"]) + ["NOT_" + shape["enum"][0], shape["enum"][0].lower()]
        sizes = []
        for bound in ("min", "max"):
            if bound in shape:
                sizes += [n for n in (shape[bound] - 1, shape[bound], shape[bound] + 1) if n >= 0]
        if sizes:
            assert member.fill, f"{path}: MAPPING needs `fill` to build values of a given size"
            values += [member.fill(n) for n in sizes]
        if "pattern" in shape and member.fill and not member.probes:
            values.append(member.fill(max(shape.get("min", 1), 1)))
    values += member.probes
    exception = EXCEPTIONS.get(path)
    if exception:
        values += list(exception.newer_values)
    unique: list = []
    for v in values:
        if v not in unique:
            unique.append(v)
    return unique


def expected(path: str, shape: dict, value: Any) -> bool:
    exception = EXCEPTIONS.get(path)
    return exception.accepts(value) if exception else model_accepts(shape, value)


class Api:
    """Server-side dry-run creates against the bed's API server, as its admin."""

    def __init__(self, env: dict[str, str], namespace: str):
        self.url = (f"{env['KUBE_APISERVER_URL']}/apis/{API_VERSION}/namespaces/{namespace}"
                    "/eventsourcemappings?dryRun=All&fieldManager=conformance")
        self.token = env["TESTBED_ADMIN_TOKEN"]
        self.ctx = ssl.create_default_context(cafile=env["TESTBED_CA_FILE"])
        self.namespace = namespace

    def dry_run(self, name: str, spec: dict) -> tuple[bool, str]:
        body = {"apiVersion": API_VERSION, "kind": "EventSourceMapping",
                "metadata": {"name": name, "namespace": self.namespace}, "spec": spec}
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(), method="POST")
        req.add_header("Content-Type", "application/json")
        req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as resp:
                return resp.status in (200, 201), ""
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            try:
                return False, json.loads(text).get("message", text)
            except ValueError:
                return False, text


@pytest.fixture(scope="module")
def api(bed, kubectl) -> Api:
    return Api(bed.env, make_namespace(kubectl, "conformance"))


def short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 90 else f"{text[:60]}…({len(text)} chars)"


def check(api: Api, cases: list[tuple[str, dict, bool, str]]) -> list[str]:
    """Runs (label, spec, accept?, field) cases; returns what disagreed."""
    def one(i_case):
        i, (label, spec, accept, field_name) = i_case
        ok, message = api.dry_run(f"c-{i}", spec)
        if ok != accept:
            return [f"{label}: expected {'accepted' if accept else 'refused'}, the API server "
                    f"{'accepted it' if ok else 'refused it: ' + message}"]
        if not ok:
            wrong = []
            if field_name not in message:
                wrong.append(f"{label}: the refusal does not name {field_name}: {message}")
            if not any(w in message for w in RULE_WORDS):
                wrong.append(f"{label}: the refusal does not state the rule: {message}")
            return wrong
        return []

    with ThreadPoolExecutor(max_workers=6) as pool:
        return [p for problems in pool.map(one, enumerate(cases)) for p in problems]


# --------------------------------------------------------------------------------- tests

MEMBERS = constrained_members()


def test_every_constrained_member_is_mapped():
    """The guard: a constrained member of the model that we neither map nor explain fails here."""
    missing = sorted(set(MEMBERS) - set(MAPPING) - set(NOT_EXPOSED))
    assert not missing, (f"model members with constraints that test_conformance does not cover: {missing}; "
                         "add each to MAPPING (and the CRD) or to NOT_EXPOSED with the reason")
    stale = sorted((set(MAPPING) | set(NOT_EXPOSED) | set(EXCEPTIONS)) - set(MEMBERS))
    assert not stale, f"entries for members the model no longer constrains: {stale}"
    assert len(MEMBERS) >= 40, sorted(MEMBERS)  # the walk itself found the nested shapes


def test_exceptions_are_still_exceptions():
    """An exception that the model has caught up with must go."""
    for path, exception in EXCEPTIONS.items():
        shape = MEMBERS[path]
        for value in exception.newer_values:
            assert value not in shape.get("enum", []), f"{path}: the model now has {value}; drop it from EXCEPTIONS"
        probes = probe_values(path, shape, MAPPING[path])
        assert any(exception.accepts(v) != model_accepts(shape, v) for v in probes), \
            f"{path}: no probe where Lambda and the model differ; is the exception still needed? ({exception.why})"


@pytest.mark.parametrize("path", sorted(MAPPING), ids=sorted(MAPPING))
def test_member_follows_the_model(api, path):
    shape, member = MEMBERS[path], MAPPING[path]
    cases = []
    for value in probe_values(path, shape, member):
        accept = expected(path, shape, value)
        cases.append((f"{path}={short(value)}", member.spec(value), accept, member.named()))
    accepted = sum(1 for c in cases if c[2])
    assert accepted and accepted < len(cases), f"{path}: the probes must include values inside and outside"
    problems = check(api, cases)
    assert not problems, f"{len(problems)} of {len(cases)} values disagree with the model:\n" + "\n".join(problems)


def test_regions_of_every_partition(api):
    """spec.region takes every region of every partition in botocore's partitions.json (ISO
    partitions and the European Sovereign Cloud included), and refuses what is no region."""
    regions = [r for _, rs, _ in PARTITIONS for r in rs]
    assert {"us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1", "us-isof-south-1", "eusc-de-east-1"} <= set(regions)
    cases = [(f"region={r}", dict(BASES["sqs"], region=r), True, "spec.region") for r in regions]
    for bad in ("mars-north-1x", "us-east", "US-EAST-1", "useast-1", "eusc-east-1", "us-east-1 ", ""):
        assert not any(re.fullmatch(rx, bad) for _, _, rx in PARTITIONS), bad
        cases.append((f"region={bad!r}", dict(BASES["sqs"], region=bad), False, "spec.region"))
    problems = check(api, cases)
    assert not problems, "\n".join(problems)
