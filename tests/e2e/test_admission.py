"""Admission: the API server refuses invalid manifests and changes to create-only fields, naming
the field, and nothing reaches Lambda. A controller watches the namespace throughout, so a
manifest that slipped through would show up as a Create in the emulator's call counts."""

import json
import time

import pytest

from conftest import ACCOUNT, REGION, dynamodb_arn, esm_manifest, kinesis_arn, sqs_arn, unique, wait_for

SQS = sqs_arn("admission-q")
FIFO = sqs_arn("admission-q.fifo")
KINESIS = kinesis_arn("admission-stream")
DYNAMODB = dynamodb_arn("admission-table")
MSK = f"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/admission/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d-1"
MQ = f"arn:aws:mq:{REGION}:{ACCOUNT}:broker:admission:b-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
DOCDB = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:admission-docdb"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:admission-AbCdEf"


def sqs(**kw):
    return {"eventSourceARN": SQS, "functionName": "fn", **kw}


def kinesis(**kw):
    return {"eventSourceARN": KINESIS, "functionName": "fn", "startingPosition": "LATEST", **kw}


def without(spec, *keys):
    return {k: v for k, v in spec.items() if k not in keys}


# (id, spec, substrings the API server's answer must contain: the field, and the rule's words)
INVALID = [
    ("batchSize-0", sqs(batchSize=0), ["spec.batchSize", "should be greater than or equal to 1"]),
    ("batchSize-10001", kinesis(batchSize=10001), ["spec.batchSize", "should be less than or equal to 10000"]),
    ("window-301", sqs(maximumBatchingWindowInSeconds=301), ["spec.maximumBatchingWindowInSeconds", "300"]),
    ("parallelization-11", kinesis(parallelizationFactor=11), ["spec.parallelizationFactor", "10"]),
    ("tumbling-901", kinesis(tumblingWindowInSeconds=901), ["spec.tumblingWindowInSeconds", "900"]),
    ("record-age-30", kinesis(maximumRecordAgeInSeconds=30),
     ["spec.maximumRecordAgeInSeconds", "maximumRecordAgeInSeconds must be -1 (infinite) or between 60 and 604800"]),
    ("retries-minus-2", kinesis(maximumRetryAttempts=-2), ["spec.maximumRetryAttempts", "-1"]),
    ("kinesis-no-starting-position", without(kinesis(), "startingPosition"),
     ["spec.startingPosition", "startingPosition is required for Kinesis"]),
    ("sqs-starting-position", sqs(startingPosition="LATEST"),
     ["spec.startingPosition", "startingPosition is not supported for Amazon SQS"]),
    ("dynamodb-at-timestamp",
     {"eventSourceARN": DYNAMODB, "functionName": "fn", "startingPosition": "AT_TIMESTAMP",
      "startingPositionTimestamp": "2026-01-02T03:04:05Z"},
     ["spec.startingPosition", "AT_TIMESTAMP is not supported for DynamoDB Streams"]),
    ("at-timestamp-without-timestamp", kinesis(startingPosition="AT_TIMESTAMP"),
     ["spec.startingPositionTimestamp", "startingPositionTimestamp is required with startingPosition AT_TIMESTAMP"]),
    ("timestamp-without-at-timestamp", kinesis(startingPositionTimestamp="2026-01-02T03:04:05Z"),
     ["spec.startingPositionTimestamp", "not allowed otherwise"]),
    ("sqs-standard-batch-50-no-window", sqs(batchSize=50),
     ["spec.maximumBatchingWindowInSeconds", "batchSize above 10 requires maximumBatchingWindowInSeconds"]),
    ("fifo-batch-20", {"eventSourceARN": FIFO, "functionName": "fn", "batchSize": 20},
     ["spec.batchSize", "batchSize can be at most 10 for an SQS FIFO queue"]),
    ("fifo-window", {"eventSourceARN": FIFO, "functionName": "fn", "maximumBatchingWindowInSeconds": 1},
     ["spec.maximumBatchingWindowInSeconds", "not supported for SQS FIFO queues"]),
    ("sqs-parallelization", sqs(parallelizationFactor=2),
     ["spec.parallelizationFactor", "parallelizationFactor is only supported for Kinesis and DynamoDB Streams"]),
    ("sqs-tumbling-window", sqs(tumblingWindowInSeconds=10), ["spec.tumblingWindowInSeconds", "only supported"]),
    ("sqs-bisect", sqs(bisectBatchOnFunctionError=True), ["spec.bisectBatchOnFunctionError", "only supported"]),
    ("sqs-destination", sqs(destinationConfig={"onFailure": {"destination": sqs_arn("dlq")}}),
     ["spec.destinationConfig", "only supported"]),
    ("kinesis-scaling-config", kinesis(scalingConfig={"maximumConcurrency": 5}),
     ["spec.scalingConfig", "scalingConfig is only supported for Amazon SQS"]),
    ("max-concurrency-1", sqs(scalingConfig={"maximumConcurrency": 1}),
     ["spec.scalingConfig.maximumConcurrency", "should be greater than or equal to 2"]),
    ("msk-without-topics", {"eventSourceARN": MSK, "functionName": "fn", "startingPosition": "LATEST"},
     ["spec.topics", "topics (exactly one Kafka topic) is required"]),
    ("msk-two-topics",
     {"eventSourceARN": MSK, "functionName": "fn", "startingPosition": "LATEST", "topics": ["a", "b"]},
     ["spec.topics", "must have at most 1 item"]),
    ("msk-topic-with-space",
     {"eventSourceARN": MSK, "functionName": "fn", "startingPosition": "LATEST", "topics": ["bad topic"]},
     ["spec.topics[0]", "should match"]),
    ("kms-key-not-an-arn", sqs(kmsKeyARN="my-key"), ["spec.kmsKeyARN", "should match"]),
    ("destination-kafka-not-at-start",
     {"eventSourceARN": MSK, "functionName": "fn", "startingPosition": "LATEST", "topics": ["t"],
      "destinationConfig": {"onFailure": {"destination": "see kafka://dlq"}}},
     ["spec.destinationConfig.onFailure.destination", "should match"]),
    ("sqs-queues", sqs(queues=["q"]), ["spec.queues", "queues is only supported for Amazon MQ"]),
    ("mq-without-queues", {"eventSourceARN": MQ, "functionName": "fn"},
     ["spec.queues", "queues (exactly one broker queue) is required"]),
    ("no-source", {"functionName": "fn"}, ["exactly one of eventSourceARN or selfManagedEventSource"]),
    ("both-sources",
     sqs(selfManagedEventSource={"endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["b-1.example.com:9092"]}}),
     ["exactly one of eventSourceARN or selfManagedEventSource"]),
    ("smk-bad-endpoint-key",
     {"selfManagedEventSource": {"endpoints": {"BROKERS": ["b-1.example.com:9092"]}}, "functionName": "fn",
      "startingPosition": "LATEST", "topics": ["t"]},
     ["spec.selfManagedEventSource.endpoints", "the only supported endpoint key is KAFKA_BOOTSTRAP_SERVERS"]),
    ("on-success-destination",
     kinesis(destinationConfig={"onSuccess": {"destination": sqs_arn("ok")}}),
     ["spec.destinationConfig.onSuccess", "destinationConfig.onSuccess is not accepted"]),
    ("tag-aws-prefix", sqs(tags={"aws:cloudformation:stack-name": "x"}), ["spec.tags", "must not start with 'aws:'"]),
    ("tag-reserved-prefix", sqs(tags={"esm-controller.dev/owner": "x"}), ["spec.tags", "esm-controller.dev/"]),
    ("source-access-type-invalid",
     {"eventSourceARN": MQ, "functionName": "fn", "queues": ["q"],
      "sourceAccessConfigurations": [{"type": "PASSWORD", "uri": SECRET}]},
     ["spec.sourceAccessConfigurations[0].type", "Unsupported value: \"PASSWORD\""]),
    ("source-access-uri-missing",
     {"eventSourceARN": MQ, "functionName": "fn", "queues": ["q"],
      "sourceAccessConfigurations": [{"type": "BASIC_AUTH"}]},
     ["spec.sourceAccessConfigurations[0].uri", "uri is required"]),
    ("function-name-empty", sqs(functionName=""), ["spec.functionName", "at least 1 chars long"]),
    ("function-name-missing", without(sqs(), "functionName"), ["spec.functionName", "Required value"]),
    ("function-name-65", sqs(functionName="f" * 65),
     ["spec.functionName", "functionName must be a function name of 1-64 letters"]),
    ("function-name-space", sqs(functionName="my function"),
     ["spec.functionName", "functionName must be a function name of 1-64 letters"]),
    ("documentdb-database-with-dot",
     {"eventSourceARN": DOCDB, "functionName": "fn", "startingPosition": "LATEST",
      "documentDBEventSourceConfig": {"databaseName": "my.db"}},
     ["spec.documentDBEventSourceConfig.databaseName", "should match"]),
    ("starting-position-enum", kinesis(startingPosition="OLDEST"),
     ["spec.startingPosition", "Unsupported value: \"OLDEST\""]),
    ("documentdb-without-config", {"eventSourceARN": DOCDB, "functionName": "fn", "startingPosition": "LATEST"},
     ["spec.documentDBEventSourceConfig", "documentDBEventSourceConfig (with databaseName) is required"]),
    ("documentdb-filter",
     {"eventSourceARN": DOCDB, "functionName": "fn", "startingPosition": "LATEST",
      "documentDBEventSourceConfig": {"databaseName": "db"},
      "filterCriteria": {"filters": [{"pattern": "{}"}]}},
     ["spec.filterCriteria", "filterCriteria is only supported"]),
    ("deletion-policy-enum", sqs(deletionPolicy="Keep"), ["spec.deletionPolicy", "Unsupported value: \"Keep\""]),
    ("region-invalid", sqs(region="mars-north-1x"), ["spec.region", "should match"]),
    ("event-source-arn-not-an-arn", sqs(eventSourceARN="my-queue-please"), ["spec.eventSourceARN"]),
    ("scaling-with-provisioned",
     sqs(scalingConfig={"maximumConcurrency": 5}, provisionedPollerConfig={"minimumPollers": 2, "maximumPollers": 5}),
     ["spec.scalingConfig", "cannot be used together"]),
    ("pollers-max-below-min", sqs(provisionedPollerConfig={"minimumPollers": 5, "maximumPollers": 3}),
     ["spec.provisionedPollerConfig.maximumPollers", "must be at least minimumPollers"]),
    ("sqs-error-count-metric", sqs(metricsConfig={"metrics": ["ErrorCount"]}),
     ["spec.metricsConfig.metrics", "only supported for Kafka"]),
    ("response-type-enum", sqs(functionResponseTypes=["ReportEverything"]),
     ["spec.functionResponseTypes[0]", "Unsupported value"]),
    ("kafka-destination-on-sqs-like-kinesis",
     kinesis(destinationConfig={"onFailure": {"destination": "kafka://dlq-topic"}}),
     ["spec.destinationConfig.onFailure.destination", "kafka:// on-failure destination is only supported for Kafka"]),
]


def test_at_least_twenty_invalid_cases():
    assert len(INVALID) >= 20


@pytest.fixture(scope="module")
def create_calls_before(emu_ctx):
    # Let the controller settle (nothing to do yet) before taking the baseline.
    time.sleep(1)
    return emu_ctx.emu.calls().get("CreateEventSourceMapping", 0)


@pytest.mark.parametrize("case_id,spec,expect", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_manifest_is_rejected(emu_ctx, create_calls_before, case_id, spec, expect):
    ctx = emu_ctx
    name = f"bad-{case_id}"[:63].lower()
    p = ctx.apply(name, spec, check=False)
    assert p.returncode != 0, f"{case_id}: the API server accepted {json.dumps(spec)}:\n{p.stdout}"
    err = " ".join(p.stderr.split())
    assert "is invalid" in err or "Invalid value" in err, err
    for s in expect:
        assert s in err, f"{case_id}: expected {s!r} in the API server's answer:\n{p.stderr}"
    assert ctx.get(name) is None


def test_nothing_reached_lambda(emu_ctx, create_calls_before):
    """Runs after the invalid cases (file order): none of them caused a Create."""
    time.sleep(4)  # more than a resync: a resource that slipped through would be created by now
    assert emu_ctx.emu.calls().get("CreateEventSourceMapping", 0) == create_calls_before
    assert emu_ctx.k.json("get", "esm", "-n", emu_ctx.ns)["items"] == []


def _changed_is_rejected(ctx, name, spec, change, field):
    p = ctx.apply(name, dict(spec, **change), check=False)
    assert p.returncode != 0, f"changing {field} was accepted:\n{p.stdout}"
    err = " ".join(p.stderr.split())
    assert f"spec.{field}" in err, p.stderr
    assert f"{field} cannot change after the mapping is created" in err, p.stderr


def test_immutable_fields_are_rejected(emu_ctx):
    ctx = emu_ctx
    fn = ctx.function

    q = sqs_arn(unique("q-immutable"))
    spec = {"eventSourceARN": q, "functionName": fn, "batchSize": 5}
    ctx.apply("immutable-sqs", spec)
    _changed_is_rejected(ctx, "immutable-sqs", spec, {"eventSourceARN": sqs_arn(unique("q-other"))}, "eventSourceARN")
    # Region: adding it (even the default) counts as a change.
    _changed_is_rejected(ctx, "immutable-sqs", spec, {"region": "eu-west-1"}, "region")
    p = ctx.apply("immutable-sqs", dict(spec, region="eu-west-1"), check=False)
    assert "create a new EventSourceMapping in the other region" in " ".join(p.stderr.split()), p.stderr

    s = kinesis_arn(unique("s-immutable"))
    kspec = {"eventSourceARN": s, "functionName": fn, "startingPosition": "LATEST"}
    ctx.apply("immutable-kinesis", kspec)
    _changed_is_rejected(ctx, "immutable-kinesis", kspec, {"startingPosition": "TRIM_HORIZON"}, "startingPosition")
    # Removing a create-only field is a change too.
    p = ctx.k("patch", "esm", "immutable-kinesis", "-n", ctx.ns, "--type", "json",
              "-p", '[{"op":"remove","path":"/spec/startingPosition"}]', check=False)
    assert p.returncode != 0 and "spec.startingPosition" in p.stderr, p.stderr

    # Mutable fields still change, and the controller applies them.
    ctx.wait_ready("immutable-sqs")
    ctx.wait_ready("immutable-kinesis")
    ctx.apply("immutable-sqs", dict(spec, batchSize=8))
    uuid = ctx.get("immutable-sqs")["status"]["uuid"]
    wait_for(lambda: ctx.emu.mapping(uuid)["BatchSize"] == 8, 60, "BatchSize 8 in Lambda",
             describe=lambda: ctx.describe("immutable-sqs"))
    # Exactly the two mappings exist, untouched in what cannot change.
    assert ctx.one_mapping(q)["UUID"] == uuid
    assert ctx.one_mapping(s)["StartingPosition"] == "LATEST"
    ctx.wait_ready("immutable-sqs")


def test_the_virtual_host_entry_is_create_only(emu_ctx):
    """The RabbitMQ virtual host is one entry of sourceAccessConfigurations: that entry cannot
    change, be added or be removed, while the list's other entries (the broker secret) can."""
    ctx = emu_ctx
    broker = f"arn:aws:mq:{REGION}:{ACCOUNT}:broker:{unique('vhost')}:b-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
    secret = {"type": "BASIC_AUTH", "uri": SECRET}
    vhost = {"type": "VIRTUAL_HOST", "uri": "/prod"}
    spec = {"eventSourceARN": broker, "functionName": ctx.function, "queues": ["orders"],
            "sourceAccessConfigurations": [secret, vhost]}
    ctx.apply("vhost", spec)

    def refused(entries, what):
        p = ctx.apply("vhost", dict(spec, sourceAccessConfigurations=entries), check=False)
        assert p.returncode != 0, f"{what} was accepted:\n{p.stdout}"
        err = " ".join(p.stderr.split())
        assert "spec.sourceAccessConfigurations" in err, p.stderr
        assert "the VIRTUAL_HOST entry of sourceAccessConfigurations cannot change" in err, p.stderr

    refused([secret, dict(vhost, uri="/test")], "a changed virtual host")
    refused([secret], "a removed virtual host")
    refused([vhost, secret, dict(vhost, uri="/test")], "a second virtual host")

    # The other entries stay free to change, and so does their order.
    other = dict(secret, uri=SECRET + "-rotated")
    p = ctx.k("apply", "--dry-run=server", "-f", "-", check=False,
              input=json.dumps(esm_manifest(ctx.ns, "vhost", dict(spec, sourceAccessConfigurations=[vhost, other]))))
    assert p.returncode == 0, p.stderr


def test_documentdb_database_and_collection_are_create_only(emu_ctx):
    """Lambda's Update refuses DatabaseName and CollectionName (aws-cli issue 7756): changing,
    adding or removing them is refused at admission; fullDocument stays changeable."""
    ctx = emu_ctx
    cluster = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{unique('docdb')}"
    config = {"databaseName": "shop", "collectionName": "orders", "fullDocument": "Default"}
    spec = {"eventSourceARN": cluster, "functionName": ctx.function, "startingPosition": "LATEST",
            "documentDBEventSourceConfig": config}
    ctx.apply("docdb", spec)

    def with_config(**change):
        c = {k: v for k, v in dict(config, **change).items() if v is not None}
        return dict(spec, documentDBEventSourceConfig=c)

    for change, field in [({"databaseName": "other"}, "databaseName"),
                          ({"collectionName": "returns"}, "collectionName"),
                          ({"collectionName": None}, "collectionName")]:
        p = ctx.apply("docdb", with_config(**change), check=False)
        assert p.returncode != 0, f"{change} was accepted:\n{p.stdout}"
        err = " ".join(p.stderr.split())
        path = f"documentDBEventSourceConfig.{field}"
        assert f"spec.{path}" in err, p.stderr
        assert f"{path} cannot change after the mapping is created" in err, p.stderr

    p = ctx.k("apply", "--dry-run=server", "-f", "-", check=False,
              input=json.dumps(esm_manifest(ctx.ns, "docdb", with_config(fullDocument="UpdateLookup"))))
    assert p.returncode == 0, p.stderr
