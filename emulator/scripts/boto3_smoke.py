#!/usr/bin/env python3
"""boto3 smoke test against the esm-emulator binary.

Usage: python3 emulator/scripts/boto3_smoke.py --binary target/debug/esm-emulator

Starts the emulator on a free loopback port, runs a create/get/list/update/tag/delete round
trip plus the error mapping through boto3, and stops the emulator. Exits non-zero on failure.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

import boto3
import botocore.config

SQS = "arn:aws:sqs:us-east-1:123456789012:orders"


def start(binary, port_file):
    proc = subprocess.Popen(
        [binary, "--addr", "127.0.0.1:0", "--port-file", port_file, "--rate-limit", "0",
         "--transition-delay-ms", "100", "--deleting-delay-ms", "100", "--seed-function", "worker"],
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start(args.binary, os.path.join(tmp, "port"))
        try:
            client = boto3.client(
                "lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                aws_access_key_id="AKIDEMULATOR", aws_secret_access_key="secret",
                config=botocore.config.Config(retries={"max_attempts": 1}),
            )
            run(client)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=10)
        if code != 0:
            raise SystemExit(f"emulator exited with {code}")
    print("boto3 smoke: 1 passed, 0 failed")


if __name__ == "__main__":
    sys.exit(main())
