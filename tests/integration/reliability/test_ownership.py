"""Ownership: teardown removes only what the collection created.

Three pipelines in one setup + teardown, each on a different kind of table:

- `ri-own-shared`: a table that existed before, with items, its own NEW_AND_OLD_IMAGES stream and another
  consumer's function and mapping on that stream. Setup adds a trigger next to the other one (and verifies);
  teardown must leave table, items, stream ARN, the other function and its mapping exactly as they were, and the
  other consumer must still receive records.
- `ri-own-nostream`: a table that existed before without a stream. Setup enables one; teardown disables it again
  and keeps the table and its items.
- `ri-own-created`: no table; setup creates it, so teardown deletes it.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any


SHARED, NOSTREAM, CREATED = "ri-own-shared", "ri-own-nostream", "ri-own-created"
OTHER_FUNCTION, OTHER_ROLE = "ri-other-consumer", "ri-other-consumer-role"
OTHER_HANDLER = '''
import json

def handler(event, context):
    for record in event["Records"]:
        print(json.dumps({"kind": "other", "user_id": record["dynamodb"]["Keys"]["user_id"]["S"]}))
'''
KEYS = {"KeySchema": [{"AttributeName": "user_id", "KeyType": "HASH"}, {"AttributeName": "post_id", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "user_id", "AttributeType": "S"},
                                 {"AttributeName": "post_id", "AttributeType": "S"}]}


def _item(user: str, post: str, **extra: str) -> dict[str, Any]:
    return {"user_id": {"S": user}, "post_id": {"S": post}, **{k: {"S": v} for k, v in extra.items()}}


def _other_consumer(h, aws, stream_arn: str) -> str:
    iam, lam = aws("iam"), aws("lambda")
    role = iam.create_role(RoleName=OTHER_ROLE, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    # Someone else's consumer has its own role with what Lambda needs to read the stream and log (the sandbox
    # evaluates execution roles as AWS does); the collection must leave both alone.
    iam.put_role_policy(RoleName=OTHER_ROLE, PolicyName="consumer", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Resource": stream_arn,
             "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                        "dynamodb:ListStreams"]},
            {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": "*"}]}))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.py", OTHER_HANDLER)
    lam.create_function(FunctionName=OTHER_FUNCTION, Runtime="python3.12", Role=role, Handler="index.handler",
                        Code={"ZipFile": buf.getvalue()}, Timeout=30, Tags={"team": "someone-else"})
    h.wait_for("the other consumer Active",
               lambda: lam.get_function(FunctionName=OTHER_FUNCTION)["Configuration"]["State"] == "Active")
    uuid = lam.create_event_source_mapping(FunctionName=OTHER_FUNCTION, EventSourceArn=stream_arn,
                                           StartingPosition="TRIM_HORIZON", BatchSize=10)["UUID"]
    h.wait_for("the other mapping Enabled", lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled")
    return uuid


def _other_saw(h, url: str) -> set[str]:
    return {line["user_id"] for line in h.json_lines(h.log_events(url, f"/aws/lambda/{OTHER_FUNCTION}"), "other")}


def _without(snap: dict[str, Any], table: str) -> dict[str, Any]:
    """The snapshot minus what legitimately changes: the NOSTREAM table (checked field by field), the streams
    list (a disabled stream stays listed, as on AWS) and the other consumer's log group (it logs records)."""
    out = json.loads(json.dumps(snap))
    out["tables"].pop(table, None)
    out["streams"] = {arn: s for arn, s in out["streams"].items() if s["table"] != table}
    out["log_groups"].pop(f"/aws/lambda/{OTHER_FUNCTION}", None)
    return out


def test_teardown_removes_only_what_the_collection_created(h, sandbox, aws) -> None:
    ddb = aws("dynamodb")
    shared_stream = ddb.create_table(TableName=SHARED, BillingMode="PAY_PER_REQUEST", **KEYS, StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})["TableDescription"]["LatestStreamArn"]
    ddb.tag_resource(ResourceArn=f"arn:aws:dynamodb:{h.REGION}:{h.ACCOUNT_ID}:table/{SHARED}",
                     Tags=[{"Key": "owner", "Value": "someone-else"}])
    ddb.create_table(TableName=NOSTREAM, BillingMode="PAY_PER_REQUEST", **KEYS)
    for table in (SHARED, NOSTREAM):
        for n in range(3):
            ddb.put_item(TableName=table, Item=_item(f"existing-{n}", "p", body=f"kept {n}"))
    other_mapping = _other_consumer(h, aws, shared_stream)
    h.wait_for("the other consumer saw the existing items",
               lambda: {f"existing-{n}" for n in range(3)} <= _other_saw(h, sandbox.url))
    before = h.snapshot(sandbox.url)
    nostream_before = before["tables"][NOSTREAM]

    pipelines = [
        {"name": SHARED, "table_name": SHARED, "table_create": False, "function_name": "ri-own-shared-fn"},
        {"name": NOSTREAM, "table_name": NOSTREAM, "table_create": False, "function_name": "ri-own-nostream-fn",
         "verify": False},
        {"name": CREATED, "table_name": CREATED, "function_name": "ri-own-created-fn", "verify": False},
    ]
    setup = h.run_playbook(sandbox.url, h.SETUP, {"streamops_pipelines": pipelines})
    assert setup.returncode == 0, setup.stdout[-6000:] + setup.stderr[-2000:]
    during = h.snapshot(sandbox.url)
    # Setup left the pre-existing stream where it was and added its trigger beside the other consumer's.
    assert during["tables"][SHARED]["latest_stream_arn"] == shared_stream
    assert during["mappings"][other_mapping] == before["mappings"][other_mapping]
    assert {m["source"] for u, m in during["mappings"].items() if u != other_mapping} >= {shared_stream}
    assert during["tables"][NOSTREAM]["stream"]["StreamEnabled"] is True
    assert CREATED in during["tables"]

    teardown = h.run_playbook(sandbox.url, h.TEARDOWN, {"streamops_pipelines": pipelines})
    assert teardown.returncode == 0, teardown.stdout[-6000:] + teardown.stderr[-2000:]
    after = h.snapshot(sandbox.url)

    # Everything outside the NOSTREAM table is exactly as before setup: the shared table (items, tags, stream ARN,
    # view type), the other function, role and mapping; and nothing of the collection's is left (the created
    # table, functions, roles, log groups, mappings are all gone).
    assert h.snapshot_diff(_without(before, NOSTREAM), _without(after, NOSTREAM)) == []
    assert after["streams"][shared_stream]["status"] == "ENABLED"
    # The table whose stream the collection enabled: stream disabled again, table, items and foreign tags kept.
    nostream_after = after["tables"][NOSTREAM]
    assert nostream_after["items"] == nostream_before["items"]
    assert nostream_after["tags"] == nostream_before["tags"]
    assert nostream_after["key_schema"] == nostream_before["key_schema"]
    assert not nostream_after["stream"].get("StreamEnabled")

    # The other consumer still works: a record written after teardown reaches it.
    ddb.put_item(TableName=SHARED, Item=_item("after-teardown", "p"))
    h.wait_for("the other consumer to receive a record written after teardown",
               lambda: "after-teardown" in _other_saw(h, sandbox.url))
