"""Stream records as AWS writes them: shape per view type, as delivered to Lambda and as read with GetRecords.

The retention test runs in-process against moto's backends (no sandbox server), with the stream module's
clock moved forward a day instead of waiting one.
"""

from __future__ import annotations

import datetime
import io
import json
import time
import zipfile
from typing import Any

import boto3
import pytest

REGION = "us-east-1"
DUMP_HANDLER = '''
import json

def handler(event, context):
    for record in event["Records"]:
        print(json.dumps({"kind": "raw", "record": record}))
    return {}
'''


def wait_for(what: str, probe, timeout: float = 30.0, interval: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def make_table(ddb, view: str, name: str = "t", range_key: bool = False) -> str:
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}] + ([{"AttributeName": "sk", "KeyType": "RANGE"}]
                                                           if range_key else [])
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}] + ([{"AttributeName": "sk", "AttributeType": "N"}]
                                                                if range_key else [])
    return ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=keys, AttributeDefinitions=attrs,
                            StreamSpecification={"StreamEnabled": True, "StreamViewType": view}
                            )["TableDescription"]["LatestStreamArn"]


def make_function(aws, name: str = "dump") -> None:
    lam = aws("lambda")
    role = aws.lambda_role(f"{name}-role")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.py", DUMP_HANDLER)
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler",
                        Code={"ZipFile": buf.getvalue()})
    wait_for("function Active", lambda: lam.get_function(FunctionName=name)["Configuration"]["State"] == "Active")


def delivered_records(aws, function: str = "dump") -> list[dict[str, Any]]:
    logs = aws("logs")
    try:
        events = [e for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{function}") for e in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []
    records = [json.loads(e["message"])["record"] for e in events if e["message"].startswith('{"kind": "raw"')]
    return sorted(records, key=lambda r: int(r["dynamodb"]["SequenceNumber"]))


def write_insert_modify_remove(ddb) -> None:
    ddb.put_item(TableName="t", Item={"pk": {"S": "u1"}, "title": {"S": "first"}, "n": {"N": "1"}})
    ddb.put_item(TableName="t", Item={"pk": {"S": "u1"}, "title": {"S": "second"}, "n": {"N": "2"}})
    ddb.delete_item(TableName="t", Key={"pk": {"S": "u1"}})


FIRST = {"pk": {"S": "u1"}, "title": {"S": "first"}, "n": {"N": "1"}}
SECOND = {"pk": {"S": "u1"}, "title": {"S": "second"}, "n": {"N": "2"}}
# (NewImage, OldImage) per event for each view type; None = the key must be absent.
EXPECTED_IMAGES = {
    "KEYS_ONLY": [(None, None), (None, None), (None, None)],
    "NEW_IMAGE": [(FIRST, None), (SECOND, None), (None, None)],
    "OLD_IMAGE": [(None, None), (None, FIRST), (None, SECOND)],
    "NEW_AND_OLD_IMAGES": [(FIRST, None), (SECOND, FIRST), (None, SECOND)],
}


@pytest.mark.parametrize("view", list(EXPECTED_IMAGES))
def test_record_shape_per_view_type_as_lambda_delivers_it(aws, view: str) -> None:
    ddb = aws("dynamodb")
    stream = make_table(ddb, view)
    make_function(aws)
    aws("lambda").create_event_source_mapping(FunctionName="dump", EventSourceArn=stream,
                                              StartingPosition="TRIM_HORIZON")
    before = int(time.time())
    write_insert_modify_remove(ddb)
    after = time.time()
    records = wait_for("three records", lambda: len(r := delivered_records(aws)) >= 3 and r)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert seqs == sorted(set(seqs))
    assert len({r["eventID"] for r in records}) == 3
    for record, (new, old) in zip(records, EXPECTED_IMAGES[view]):
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == REGION
        assert record["eventSourceARN"] == stream
        body = record["dynamodb"]
        assert body["Keys"] == {"pk": {"S": "u1"}}
        assert body["StreamViewType"] == view
        assert isinstance(body["ApproximateCreationDateTime"], int)
        assert before <= body["ApproximateCreationDateTime"] <= after
        assert isinstance(body["SequenceNumber"], str)
        assert isinstance(body["SizeBytes"], int) and body["SizeBytes"] > 0
        assert body.get("NewImage") == new
        assert body.get("OldImage") == old
        assert ("NewImage" in body) == (new is not None) and ("OldImage" in body) == (old is not None)
    sizes = [r["dynamodb"]["SizeBytes"] for r in records]
    if view == "NEW_AND_OLD_IMAGES":
        assert sizes[1] > sizes[0] and sizes[1] > sizes[2]  # MODIFY carries both images


def test_get_records_still_works_for_direct_readers(aws) -> None:
    ddb, streams = aws("dynamodb"), aws("dynamodbstreams")
    stream = make_table(ddb, "NEW_AND_OLD_IMAGES")
    write_insert_modify_remove(ddb)
    shard = streams.describe_stream(StreamArn=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    page = streams.get_records(ShardIterator=iterator)
    records = page["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert all("eventSourceARN" not in r for r in records)  # Lambda adds it, GetRecords does not
    assert all(isinstance(r["dynamodb"]["ApproximateCreationDateTime"], datetime.datetime) for r in records)
    # Reading on from where the last page ended sees only new records.
    ddb.put_item(TableName="t", Item={"pk": {"S": "u2"}})
    more = streams.get_records(ShardIterator=page["NextShardIterator"])["Records"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in more] == ["u2"]
    after = streams.get_shard_iterator(StreamArn=stream, ShardId=shard, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                       SequenceNumber=records[0]["dynamodb"]["SequenceNumber"])["ShardIterator"]
    assert [r["eventName"] for r in streams.get_records(ShardIterator=after)["Records"]] == \
        ["MODIFY", "REMOVE", "INSERT"]
    latest = streams.get_shard_iterator(StreamArn=stream, ShardId=shard,
                                        ShardIteratorType="LATEST")["ShardIterator"]
    assert streams.get_records(ShardIterator=latest)["Records"] == []


def test_region_and_range_key_in_records(aws, sandbox) -> None:
    kwargs = dict(endpoint_url=sandbox.url, region_name="eu-west-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing")
    ddb, streams = boto3.client("dynamodb", **kwargs), boto3.client("dynamodbstreams", **kwargs)
    stream = make_table(ddb, "KEYS_ONLY", range_key=True)
    assert ":eu-west-1:" in stream
    ddb.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"N": "7"}, "x": {"S": "y"}})
    shard = streams.describe_stream(StreamArn=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    [record] = streams.get_records(ShardIterator=iterator)["Records"]
    assert record["awsRegion"] == "eu-west-1"
    assert record["dynamodb"]["Keys"] == {"pk": {"S": "a"}, "sk": {"N": "7"}}
    assert "NewImage" not in record["dynamodb"]


def test_disabled_stream_keeps_its_records_and_gets_no_new_ones(aws) -> None:
    ddb, streams = aws("dynamodb"), aws("dynamodbstreams")
    old = make_table(ddb, "NEW_IMAGE")
    ddb.put_item(TableName="t", Item={"pk": {"S": "kept"}})
    ddb.update_table(TableName="t", StreamSpecification={"StreamEnabled": False})
    ddb.put_item(TableName="t", Item={"pk": {"S": "while-off"}})  # no stream: no record anywhere
    ddb.update_table(TableName="t", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    ddb.put_item(TableName="t", Item={"pk": {"S": "new"}})
    new = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    assert new != old

    def keys(arn: str) -> list[str]:
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        return [r["dynamodb"]["Keys"]["pk"]["S"] for r in streams.get_records(ShardIterator=it)["Records"]]
    assert keys(old) == ["kept"]
    assert keys(new) == ["new"]


def test_disabled_and_replaced_streams_are_described_as_disabled(aws) -> None:
    """AWS DescribeStream keeps answering for a disabled stream (StreamStatus DISABLED, its own view type);
    moto raised KeyError (a 500) once the table's stream was switched off."""
    ddb, streams = aws("dynamodb"), aws("dynamodbstreams")
    old = make_table(ddb, "NEW_IMAGE")
    ddb.update_table(TableName="t", StreamSpecification={"StreamEnabled": False})
    described = streams.describe_stream(StreamArn=old)["StreamDescription"]
    assert (described["StreamStatus"], described["StreamViewType"]) == ("DISABLED", "NEW_IMAGE")
    ddb.update_table(TableName="t", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    new = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    old_d = streams.describe_stream(StreamArn=old)["StreamDescription"]
    new_d = streams.describe_stream(StreamArn=new)["StreamDescription"]
    assert (old_d["StreamStatus"], old_d["StreamViewType"]) == ("DISABLED", "NEW_IMAGE")
    assert (new_d["StreamStatus"], new_d["StreamViewType"]) == ("ENABLED", "KEYS_ONLY")
    assert old_d["StreamLabel"] != new_d["StreamLabel"]


# --- in-process: retention ------------------------------------------------------------------------------------

@pytest.fixture
def in_process(monkeypatch):
    """moto in this process, with the sandbox's stream patches; yields a DynamoDB client."""
    from moto import mock_aws

    from sandbox import streams

    streams.install()
    monkeypatch.setattr(streams, "clock", streams.clock)
    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION, endpoint_url=f"https://dynamodb.{REGION}.amazonaws.com",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    streams.reset()


def test_records_older_than_24_hours_are_trimmed(in_process, monkeypatch) -> None:
    from sandbox import streams

    stream = make_table(in_process, "KEYS_ONLY")
    real = time.time
    monkeypatch.setattr(streams, "clock", lambda: real() - streams.RETENTION_SECONDS - 5)
    in_process.put_item(TableName="t", Item={"pk": {"S": "ancient"}})
    monkeypatch.setattr(streams, "clock", real)
    in_process.put_item(TableName="t", Item={"pk": {"S": "fresh"}})
    shard = streams.shard_for(stream)
    assert [r.record["dynamodb"]["Keys"]["pk"]["S"] for r in streams.records_after(shard, 0, 10)] == ["fresh"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in shard.get(shard.starting_sequence_number, 10)] == ["fresh"]
    assert streams.stream_status(stream) == "ENABLED"
    assert streams.stream_status(stream + "x") == "NOT_FOUND"


def test_every_attribute_type_round_trips_through_the_stream(aws) -> None:
    ddb, streams = aws("dynamodb"), aws("dynamodbstreams")
    stream = ddb.create_table(
        TableName="bin", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "B"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    item = {"pk": {"B": b"\x00\x01key"}, "b": {"B": b"\xffdata"}, "bs": {"BS": [b"\x01", b"\x02"]},
            "s": {"S": "x"}, "n": {"N": "1.5"}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]},
            "m": {"M": {"inner": {"B": b"\x03"}, "deep": {"L": [{"S": "y"}, {"N": "2"}]}}},
            "l": {"L": [{"BOOL": True}, {"NULL": True}, {"M": {"z": {"S": "z"}}}]}}
    ddb.put_item(TableName="bin", Item=item)
    shard = streams.describe_stream(StreamArn=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    [record] = streams.get_records(ShardIterator=it)["Records"]
    assert record["dynamodb"]["Keys"] == {"pk": {"B": b"\x00\x01key"}}
    image = record["dynamodb"]["NewImage"]
    assert {k: v for k, v in image.items() if k not in ("bs", "ss", "ns")} == \
        {k: v for k, v in item.items() if k not in ("bs", "ss", "ns")}
    assert sorted(image["bs"]["BS"]) == [b"\x01", b"\x02"]
    assert sorted(image["ss"]["SS"]) == ["a", "b"] and sorted(image["ns"]["NS"]) == ["1", "2"]


def test_lambda_gets_binary_values_as_base64_strings(in_process) -> None:
    from sandbox import streams

    stream = in_process.create_table(
        TableName="bin", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "B"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    in_process.put_item(TableName="bin", Item={"pk": {"B": b"\x00\x01"}, "m": {"M": {"b": {"B": b"\xff"}}}})
    [record] = streams.records_after(streams.shard_for(stream), 0, 10)
    event = json.loads(json.dumps(record.for_lambda(stream)))
    assert event["dynamodb"]["Keys"] == {"pk": {"B": "AAE="}}
    assert event["dynamodb"]["NewImage"]["m"] == {"M": {"b": {"B": "/w=="}}}
    assert event["eventSourceARN"] == stream
