#!/usr/bin/env python3
"""boto3 smoke test against the esm-emulator binary.

Usage: python3 emulator/scripts/boto3_smoke.py --binary target/debug/esm-emulator

Starts the emulator on a free loopback port, runs a create/get/list/update/tag/delete round
trip plus the error mapping through boto3, then assumes a role in another account through
boto3's STS client and checks where its mappings land, and stops the emulator. Exits non-zero
on failure.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import urllib.request

import boto3
import botocore.config
import botocore.exceptions

SQS = "arn:aws:sqs:us-east-1:123456789012:orders"


def start(binary, port_file):
    proc = subprocess.Popen(
        [binary, "--addr", "127.0.0.1:0", "--port-file", port_file, "--rate-limit", "0",
         "--transition-delay-ms", "100", "--deleting-delay-ms", "100", "--seed-function", "worker",
         "--sts-min-duration-seconds", "60"],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        if os.path.exists(port_file):
            with open(port_file) as f:
                text = f.read().strip()
            if text:
                return proc, int(text)
        time.sleep(0.02)
    proc.kill()
    raise SystemExit("emulator did not write its port file")


def wait_state(client, uuid, wanted):
    for _ in range(100):
        state = client.get_event_source_mapping(UUID=uuid)["State"]
        if state == wanted:
            return
        time.sleep(0.02)
    raise AssertionError(f"{uuid} never reached {wanted}")


def run(client):
    created = client.create_event_source_mapping(
        FunctionName="worker", EventSourceArn=SQS, BatchSize=5,
        FilterCriteria={"Filters": [{"Pattern": '{"body":{"a":[1]}}'}]},
        Tags={"owner": "esm-controller"},
    )
    uuid = created["UUID"]
    assert created["State"] == "Creating", created
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:worker"
    assert "Enabled" not in created and "Tags" not in created
    wait_state(client, uuid, "Enabled")

    try:
        client.create_event_source_mapping(FunctionName="worker", EventSourceArn=SQS)
        raise AssertionError("duplicate create succeeded")
    except client.exceptions.ResourceConflictException as e:
        assert e.response["Error"]["Message"].endswith(uuid), e.response

    updated = client.update_event_source_mapping(UUID=uuid, Enabled=False, FilterCriteria={})
    assert updated["State"] == "Disabling" and "FilterCriteria" not in updated, updated
    try:
        client.update_event_source_mapping(UUID=uuid, BatchSize=3)
        raise AssertionError("update while Disabling succeeded")
    except client.exceptions.ResourceInUseException:
        pass
    wait_state(client, uuid, "Disabled")

    items = [m for page in client.get_paginator("list_event_source_mappings").paginate()
             for m in page["EventSourceMappings"]]
    assert [m["UUID"] for m in items] == [uuid], items

    arn = created["EventSourceMappingArn"]
    client.tag_resource(Resource=arn, Tags={"team": "a"})
    client.untag_resource(Resource=arn, TagKeys=["owner"])
    assert client.list_tags(Resource=arn)["Tags"] == {"team": "a"}

    assert client.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    time.sleep(0.2)
    try:
        client.get_event_source_mapping(UUID=uuid)
        raise AssertionError("mapping still there")
    except client.exceptions.ResourceNotFoundException:
        pass


def admin(endpoint, path, body):
    req = urllib.request.Request(f"{endpoint}/_emulator/{path}", data=json.dumps(body).encode(),
                                 method="POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def error_code(call):
    try:
        call()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    raise AssertionError("call succeeded")


def run_accounts(endpoint, session_kwargs):
    role = "arn:aws:iam::111111111111:role/esm-deployer"
    admin(endpoint, "roles", {"roleArn": role, "trust": ["123456789012"], "externalId": "ext-1"})
    admin(endpoint, "roles", {"roleArn": "arn:aws:iam::111111111111:role/locked", "trust": []})
    admin(endpoint, "functions", {"name": "payments", "account": "111111111111"})
    # botocore checks DurationSeconds >= 900 itself; the emulator's lower minimum needs that
    # client-side check off.
    sts = boto3.client("sts", **dict(session_kwargs, config=botocore.config.Config(
        retries={"max_attempts": 1}, parameter_validation=False)))
    assert sts.get_caller_identity()["Account"] == "123456789012"
    code, message = error_code(lambda: sts.assume_role(
        RoleArn="arn:aws:iam::111111111111:role/locked", RoleSessionName="nope"))
    assert code == "AccessDenied", code
    assert message == ("User: arn:aws:iam::123456789012:user/AKIDEMULATOR is not authorized to "
                       "perform: sts:AssumeRole on resource: "
                       "arn:aws:iam::111111111111:role/locked"), message
    # The binary was started with --sts-min-duration-seconds 60.
    assumed = sts.assume_role(RoleArn=role, RoleSessionName="smoke", ExternalId="ext-1",
                              DurationSeconds=60, Tags=[{"Key": "team", "Value": "a"}])
    creds = assumed["Credentials"]
    lasts = creds["Expiration"].timestamp() - time.time()
    assert 50 <= lasts <= 60, lasts
    workload = dict(session_kwargs, aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["SessionToken"])
    lam = boto3.client("lambda", **workload)
    created = lam.create_event_source_mapping(FunctionName="payments", EventSourceArn=SQS)
    assert created["EventSourceMappingArn"].startswith(
        "arn:aws:lambda:us-east-1:111111111111:event-source-mapping:"), created
    assert [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]] == [
        created["UUID"]]
    home = boto3.client("lambda", **session_kwargs)
    assert home.list_event_source_mappings()["EventSourceMappings"] == []
    admin(endpoint, "sessions/expire", {"accessKeyId": creds["AccessKeyId"]})
    code, _ = error_code(lam.list_event_source_mappings)
    assert code == "ExpiredTokenException", code


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start(args.binary, os.path.join(tmp, "port"))
        try:
            endpoint = f"http://127.0.0.1:{port}"
            session_kwargs = dict(
                endpoint_url=endpoint, region_name="us-east-1",
                aws_access_key_id="AKIDEMULATOR", aws_secret_access_key="secret",
                config=botocore.config.Config(retries={"max_attempts": 1}),
            )
            run(boto3.client("lambda", **session_kwargs))
            run_accounts(endpoint, session_kwargs)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=10)
        if code != 0:
            raise SystemExit(f"emulator exited with {code}")
    print("boto3 smoke: 2 passed, 0 failed")


if __name__ == "__main__":
    sys.exit(main())
