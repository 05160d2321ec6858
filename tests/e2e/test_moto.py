"""A third-party Lambda implementation (moto): the happy paths for SQS, DynamoDB Streams and
Kinesis, checked through boto3. moto has no transitional states (mappings are "Enabled" at
once) and keeps no tags on mappings, so only create / update / delete are asserted here."""

import io
import json
import zipfile

import pytest

from conftest import REGION, Ctx, is_ready, make_namespace, status, stop_and_check, unique, wait_for

boto3 = pytest.importorskip("boto3")


@pytest.fixture(scope="module")
def moto(bed):
    if not bed.moto_endpoint:
        pytest.fail("MOTO_ENDPOINT missing: start the bed with BED_WITH_MOTO=1 (tests/e2e/run.sh does)")
    kw = dict(endpoint_url=bed.moto_endpoint, region_name=REGION,
              aws_access_key_id="testing", aws_secret_access_key="testing")
    return {svc: boto3.client(svc, **kw) for svc in ("lambda", "iam", "sqs", "kinesis", "dynamodb")}


@pytest.fixture(scope="module")
def moto_ctx(bed, kubectl, moto, controller_factory):
    """A namespace, a real (moto) function and a controller pointed at moto that watches only
    this namespace."""
    ns = make_namespace(kubectl, "moto")
    role = moto["iam"].create_role(
        RoleName=unique("esm-e2e-role"),
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return {'ok': True}\n")
    fn = unique("fn-moto")
    moto["lambda"].create_function(FunctionName=fn, Runtime="python3.12", Role=role, Handler="index.handler",
                                   Code={"ZipFile": buf.getvalue()})
    c = controller_factory("moto", bed.moto_endpoint, [ns])
    ctx = Ctx(kubectl, None, ns, fn, c)
    yield ctx
    stop_and_check(c)


def _sqs_source(moto):
    url = moto["sqs"].create_queue(QueueName=unique("moto-q"))["QueueUrl"]
    return moto["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"], {}


def _kinesis_source(moto):
    name = unique("moto-stream")
    moto["kinesis"].create_stream(StreamName=name, ShardCount=1)
    arn = moto["kinesis"].describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]
    return arn, {"startingPosition": "TRIM_HORIZON"}


def _dynamodb_source(moto):
    t = moto["dynamodb"].create_table(
        TableName=unique("moto-table"), BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return t["TableDescription"]["LatestStreamArn"], {"startingPosition": "LATEST"}


@pytest.mark.parametrize("kind,make_source", [
    ("sqs", _sqs_source), ("dynamodb", _dynamodb_source), ("kinesis", _kinesis_source),
])
def test_moto_create_update_delete(moto_ctx, moto, kind, make_source):
    ctx = moto_ctx
    lam = moto["lambda"]
    src, extra = make_source(moto)
    name = f"moto-{kind}"
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 5, **extra})
    obj = ctx.wait_ready(name)

    listed = lam.list_event_source_mappings(EventSourceArn=src, FunctionName=ctx.function)["EventSourceMappings"]
    assert len(listed) == 1, listed
    m = listed[0]
    assert status(obj)["uuid"] == m["UUID"]
    assert status(obj)["state"] == m["State"] == "Enabled"
    assert m["BatchSize"] == 5
    if extra:
        assert m.get("StartingPosition") == extra["startingPosition"]

    # A spec change reaches moto.
    ctx.patch(name, {"batchSize": 8})
    wait_for(lambda: lam.get_event_source_mapping(UUID=m["UUID"])["BatchSize"] == 8, 60,
             "BatchSize 8 in moto", describe=lambda: ctx.describe(name))
    obj = ctx.wait(name, is_ready, "Ready after the update")
    assert status(obj)["uuid"] == m["UUID"]

    # And an out-of-band edit is put back.
    lam.update_event_source_mapping(UUID=m["UUID"], BatchSize=9)
    wait_for(lambda: lam.get_event_source_mapping(UUID=m["UUID"])["BatchSize"] == 8, 60,
             "BatchSize back to 8 in moto", describe=lambda: ctx.describe(name))

    p = ctx.k("delete", "esm", name, "-n", ctx.ns, "--wait", "--timeout=60s", check=False)
    assert p.returncode == 0, p.stderr + ctx.describe(name)
    left = lam.list_event_source_mappings(EventSourceArn=src)["EventSourceMappings"]
    assert left == [], left
