"""Stream shards, rollover and lineage, as DynamoDB Streams and Lambda's poller handle them.

AWS pages: DynamoDB developer guide, "Change data capture for DynamoDB Streams" / "Reading and processing a stream"
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html#Streams.Processing): a stream has
shards, each with a SequenceNumberRange; shards are closed (EndingSequenceNumber) and children opened
automatically, a child names its ParentShardId; a reader must process a parent before its children; GetRecords
on a closed shard read to its end returns no NextShardIterator. Lambda developer guide, "Using AWS Lambda with
Amazon DynamoDB" (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html), "Polling and stream starting
positions" and the shard sections: Lambda processes a parent shard before its children, which keeps the order
of records per partition key.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

REGION = "us-east-1"


def wait_for(what: str, probe, timeout: float = 60.0, interval: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def make_table(aws, name: str = "t") -> str:
    return aws("dynamodb").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]


def put(aws, pk: str, v: int = 0, table: str = "t") -> None:
    aws("dynamodb").put_item(TableName=table, Item={"pk": {"S": pk}, "v": {"N": str(v)}})


def describe_all(aws, stream: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Every shard of the stream, following LastEvaluatedShardId."""
    client = aws("dynamodbstreams")
    shards: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"StreamArn": stream}
    if limit:
        kwargs["Limit"] = limit
    while True:
        desc = client.describe_stream(**kwargs)["StreamDescription"]
        shards += desc["Shards"]
        if "LastEvaluatedShardId" not in desc:
            return shards
        kwargs["ExclusiveStartShardId"] = desc["LastEvaluatedShardId"]


def read_shard(aws, stream: str, shard_id: str) -> tuple[list[dict[str, Any]], bool]:
    """All records of one shard from TRIM_HORIZON; True when the reader reached a missing NextShardIterator."""
    client = aws("dynamodbstreams")
    iterator = client.get_shard_iterator(StreamArn=stream, ShardId=shard_id,
                                         ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records: list[dict[str, Any]] = []
    for _ in range(1000):
        page = client.get_records(ShardIterator=iterator, Limit=1000)
        records += page["Records"]
        if "NextShardIterator" not in page:
            return records, True
        if not page["Records"]:
            return records, False  # an open shard read to its current end
        iterator = page["NextShardIterator"]
    raise AssertionError("shard never ended")


def key_of(record: dict[str, Any]) -> str:
    return record["dynamodb"]["Keys"]["pk"]["S"]


# --- DescribeStream, GetShardIterator, GetRecords ---------------------------------------------------------------

def test_default_is_one_open_shard(aws) -> None:
    stream = make_table(aws)
    put(aws, "a")
    [shard] = describe_all(aws, stream)
    assert "ParentShardId" not in shard
    assert set(shard["SequenceNumberRange"]) == {"StartingSequenceNumber"}
    records, ended = read_shard(aws, stream, shard["ShardId"])
    assert [key_of(r) for r in records] == ["a"] and not ended


def test_stream_shards_gives_that_many_shards_and_one_shard_per_key(aws, sandbox) -> None:
    sandbox.configure(stream_shards=4)
    stream = make_table(aws)
    for version in range(3):
        for i in range(40):
            put(aws, f"k{i}", version)
    shards = describe_all(aws, stream)
    assert len(shards) == 4 and all("ParentShardId" not in s for s in shards)
    seen: dict[str, set[str]] = {}
    per_shard = {}
    for shard in shards:
        records, _ = read_shard(aws, stream, shard["ShardId"])
        per_shard[shard["ShardId"]] = len(records)
        for r in records:
            seen.setdefault(key_of(r), set()).add(shard["ShardId"])
        seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
        assert seqs == sorted(seqs)  # increasing within a shard
    assert len(seen) == 40 and all(len(ids) == 1 for ids in seen.values()), seen
    assert sum(per_shard.values()) == 120
    assert sum(1 for n in per_shard.values() if n) >= 3, per_shard  # the keys spread over the shards


def test_rollover_by_records_closes_shards_into_a_lineage(aws, sandbox) -> None:
    sandbox.configure(shard_rollover_records=5)
    stream = make_table(aws)
    for i in range(12):
        put(aws, f"k{i}", i)
    shards = describe_all(aws, stream)
    assert len(shards) == 3
    first, second, third = shards
    assert "ParentShardId" not in first
    assert second["ParentShardId"] == first["ShardId"] and third["ParentShardId"] == second["ShardId"]
    for closed in (first, second):
        span = closed["SequenceNumberRange"]
        assert int(span["EndingSequenceNumber"]) >= int(span["StartingSequenceNumber"])
    assert "EndingSequenceNumber" not in third["SequenceNumberRange"]
    assert int(second["SequenceNumberRange"]["StartingSequenceNumber"]) > \
        int(first["SequenceNumberRange"]["EndingSequenceNumber"])
    got = []
    for shard, expect_end in ((first, True), (second, True), (third, False)):
        records, ended = read_shard(aws, stream, shard["ShardId"])
        assert ended is expect_end
        got.append([key_of(r) for r in records])
    assert got == [[f"k{i}" for i in range(5)], [f"k{i}" for i in range(5, 10)], ["k10", "k11"]]


def test_rollover_by_seconds_set_live(aws, sandbox) -> None:
    stream = make_table(aws)
    put(aws, "before")
    sandbox.configure(shard_rollover_seconds=0.3)
    time.sleep(0.4)  # the shard's age is what this knob is about
    put(aws, "after")
    shards = describe_all(aws, stream)
    assert len(shards) == 2 and shards[1]["ParentShardId"] == shards[0]["ShardId"]
    assert "EndingSequenceNumber" in shards[0]["SequenceNumberRange"]
    assert [key_of(r) for r in read_shard(aws, stream, shards[0]["ShardId"])[0]] == ["before"]
    assert [key_of(r) for r in read_shard(aws, stream, shards[1]["ShardId"])[0]] == ["after"]


def test_rollover_splits_a_shard_while_the_stream_has_fewer_than_stream_shards(aws, sandbox) -> None:
    stream = make_table(aws)
    sandbox.configure(stream_shards=2, shard_rollover_records=3)
    for i in range(3):
        put(aws, f"k{i}")
    parent, left, right = describe_all(aws, stream)
    assert left["ParentShardId"] == right["ParentShardId"] == parent["ShardId"]
    for i in range(3, 23):
        put(aws, f"k{i}")  # spread over both children (until they roll over themselves)
    children = [s for s in describe_all(aws, stream) if s.get("ParentShardId") == parent["ShardId"]]
    assert len(children) == 2
    assert all(read_shard(aws, stream, c["ShardId"])[0] for c in children)


def test_describe_stream_pages_with_limit_and_exclusive_start_shard_id(aws, sandbox) -> None:
    sandbox.configure(shard_rollover_records=1)
    stream = make_table(aws)
    for i in range(4):
        put(aws, f"k{i}")
    everything = aws("dynamodbstreams").describe_stream(StreamArn=stream)["StreamDescription"]["Shards"]
    assert len(everything) == 5
    assert describe_all(aws, stream, limit=2) == everything
    first_page = aws("dynamodbstreams").describe_stream(StreamArn=stream, Limit=2)["StreamDescription"]
    assert first_page["LastEvaluatedShardId"] == everything[1]["ShardId"]


def test_unknown_shard_id_is_resource_not_found(aws) -> None:
    stream = make_table(aws)
    client = aws("dynamodbstreams")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_shard_iterator(StreamArn=stream, ShardId="shardId-00000000000000000000-00000000",
                                  ShardIteratorType="TRIM_HORIZON")


def test_disabled_stream_reports_its_shards_closed(aws) -> None:
    stream = make_table(aws)
    put(aws, "a")
    aws("dynamodb").update_table(TableName="t", StreamSpecification={"StreamEnabled": False})
    [shard] = describe_all(aws, stream)
    assert "EndingSequenceNumber" in shard["SequenceNumberRange"]
    records, ended = read_shard(aws, stream, shard["ShardId"])
    assert [key_of(r) for r in records] == ["a"] and ended


# --- the poller follows the lineage -----------------------------------------------------------------------------

# Commits (appends to $OUT) every record before the first poison one, reports the poison one as the failure.
RECORDING_HANDLER = '''
import os

def handler(event, context):
    done = []
    for r in event["Records"]:
        image = r["dynamodb"]["NewImage"]
        if image.get("poison", {}).get("BOOL"):
            break
        done.append(f'{image["pk"]["S"]} {image["v"]["N"]} {r["dynamodb"]["SequenceNumber"]}\\n')
    with open(os.environ["OUT"], "a") as out:
        out.write("".join(done))
    if len(done) < len(event["Records"]):
        return {"batchItemFailures": [{"itemIdentifier": event["Records"][len(done)]["dynamodb"]["SequenceNumber"]}]}
    return {"batchItemFailures": []}
'''


def make_function(aws, out: Path, name: str = "recorder") -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.py", RECORDING_HANDLER)
    lam = aws("lambda")
    arn = lam.create_function(FunctionName=name, Runtime="python3.12", Role=aws.lambda_role(),
                              Handler="index.handler", Code={"ZipFile": buf.getvalue()}, Timeout=60,
                              MemorySize=1024, Environment={"Variables": {"OUT": str(out)}})["FunctionArn"]
    wait_for("function Active", lambda: lam.get_function(FunctionName=name)["Configuration"]["State"] == "Active")
    return arn


def processed(out: Path) -> list[tuple[str, int, int]]:
    if not out.exists():
        return []
    lines = out.read_text().splitlines()
    return [(k, int(v), int(s)) for k, v, s in (line.split() for line in lines)]


def write_versions(aws, keys: int, versions: int, poison: tuple[str, int] | None = None) -> None:
    """Every key gets versions 0..versions-1, in that order (BatchWriteItem, 25 distinct keys a call)."""
    ddb = aws("dynamodb")
    for v in range(versions):
        items = []
        for i in range(keys):
            item = {"pk": {"S": f"k{i:04d}"}, "v": {"N": str(v)}}
            if poison == (f"k{i:04d}", v):
                item["poison"] = {"BOOL": True}
            items.append({"PutRequest": {"Item": item}})
        for start in range(0, len(items), 25):
            ddb.batch_write_item(RequestItems={"t": items[start:start + 25]})


def test_child_shard_records_wait_for_the_parent(aws, sandbox, tmp_path) -> None:
    """A record written after a rollover is never processed before the records of the parent shard."""
    sandbox.configure(shard_rollover_records=20)
    stream = make_table(aws)
    write_versions(aws, keys=10, versions=5)  # 50 records: shards of 20, 20, 10
    out = tmp_path / "out.txt"
    make_function(aws, out)
    aws("lambda").create_event_source_mapping(FunctionName="recorder", EventSourceArn=stream,
                                              StartingPosition="TRIM_HORIZON", BatchSize=7)
    wait_for("50 records processed", lambda: len(processed(out)) == 50)
    seqs = [s for _, _, s in processed(out)]
    assert seqs == sorted(seqs)  # one lineage: the whole stream in order
    assert len(describe_all(aws, stream)) == 3


def test_nothing_lost_over_rollovers_with_a_poison_record(aws, sandbox, tmp_path) -> None:
    """10,000 records over 500 keys, four shards rolling over every 1,000 records each, a poison record.

    Every other record is processed exactly once and in order per key; the poison one reaches the on-failure
    queue, alone (bisection on the batch, ReportBatchItemFailures for the records before it).
    """
    keys, versions, poison = 500, 20, ("k0123", 10)
    sandbox.configure(stream_shards=4, shard_rollover_records=1000)
    stream = make_table(aws)
    out = tmp_path / "out.txt"
    make_function(aws, out)
    sqs = aws("sqs")
    queue_url = sqs.create_queue(QueueName="failures")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam = aws("lambda")
    uuid = lam.create_event_source_mapping(
        FunctionName="recorder", EventSourceArn=stream, StartingPosition="TRIM_HORIZON", BatchSize=1000,
        BisectBatchOnFunctionError=True, MaximumRetryAttempts=2, FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": queue_arn}})["UUID"]
    wait_for("mapping Enabled", lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled")

    started = time.monotonic()
    write_versions(aws, keys, versions, poison)
    written = time.monotonic() - started
    total = keys * versions
    messages: list[dict[str, Any]] = []

    def all_done() -> bool:
        messages.extend(json.loads(m["Body"]) for m in
                        sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []))
        return len(processed(out)) >= total - 1 and bool(messages)
    wait_for("every record processed and the poison one queued", all_done, timeout=120, interval=0.2)
    elapsed = time.monotonic() - started
    time.sleep(0.5)  # anything processed twice would show up now
    done = processed(out)

    # The stream itself, read shard by shard: 10,000 records, each key in one shard per generation.
    shards = describe_all(aws, stream)
    parent_of = {s["ShardId"]: s.get("ParentShardId") for s in shards}
    depth = {}
    for s in shards:
        d, p = 0, parent_of[s["ShardId"]]
        while p:
            d, p = d + 1, parent_of.get(p)
        depth[s["ShardId"]] = d
    on_stream: dict[str, tuple[str, int, bool]] = {}
    shards_of_key: dict[str, list[str]] = {}
    for s in shards:
        for r in read_shard(aws, stream, s["ShardId"])[0]:
            image = r["dynamodb"]["NewImage"]
            on_stream[r["dynamodb"]["SequenceNumber"]] = (image["pk"]["S"], int(image["v"]["N"]),
                                                          bool(image.get("poison")))
            shards_of_key.setdefault(image["pk"]["S"], []).append(s["ShardId"])
    closed = [s for s in shards if "EndingSequenceNumber" in s["SequenceNumberRange"]]
    print(f"\n{total} records written in {written:.1f}s, all processed {elapsed:.1f}s after the first write; "
          f"{len(shards)} shards ({len(closed)} closed), lineage depth {max(depth.values())}; "
          f"queue: {[m['DDBStreamBatchInfo'] for m in messages]}")

    assert len(on_stream) == total
    [poison_seq] = [seq for seq, (_, _, bad) in on_stream.items() if bad]
    assert on_stream[poison_seq][:2] == poison
    assert max(depth.values()) >= 2  # at least two rollovers on a lineage
    for key, ids in shards_of_key.items():
        # A key moves only from a shard to one of its descendants (never to a sibling lineage).
        distinct = list(dict.fromkeys(ids))
        for older, newer in zip(distinct, distinct[1:]):
            p = parent_of[newer]
            while p and p != older:
                p = parent_of.get(p)
            assert p == older, (key, distinct)

    assert len(done) == total - 1 == len({(k, v) for k, v, _ in done})  # each once
    assert {(k, v) for k, v, _ in done} == {(f"k{i:04d}", v) for i in range(keys) for v in range(versions)} - {poison}
    by_key: dict[str, list[int]] = {}
    for k, v, _ in done:
        by_key.setdefault(k, []).append(v)
    assert all(vs == sorted(vs) for vs in by_key.values())  # in order per key, in processing order
    [message] = messages
    info = message["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (poison_seq, poison_seq, 1)
    assert info["streamArn"] == stream and info["shardId"] in parent_of
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"


def test_latest_starts_after_the_newest_record_in_every_shard(aws, sandbox, tmp_path) -> None:
    """LATEST: only records written after the mapping, even when older shards of the lineage exist."""
    sandbox.configure(stream_shards=2, shard_rollover_records=3)
    stream = make_table(aws)
    write_versions(aws, keys=5, versions=2)  # 10 records, shards already rolled over
    out = tmp_path / "out.txt"
    make_function(aws, out)
    lam = aws("lambda")
    uuid = lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=stream,
                                           StartingPosition="LATEST")["UUID"]
    wait_for("mapping Enabled", lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled")
    write_versions(aws, keys=5, versions=3)  # versions 0, 1 again and 2: 15 new records
    wait_for("15 new records", lambda: len(processed(out)) >= 15)
    time.sleep(0.3)
    assert len(processed(out)) == 15  # the ten earlier ones would have come first, from the parent shards
    assert len([s for s in describe_all(aws, stream) if "EndingSequenceNumber" in s["SequenceNumberRange"]]) >= 2


def test_knobs_are_validated_live(sandbox) -> None:
    import urllib.error
    import urllib.request

    for bad in ({"stream_shards": 0}, {"shard_rollover_records": -1}, {"shard_rollover_seconds": -1},
                {"iam_evaluation": "maybe"}):
        req = urllib.request.Request(sandbox.url + "/_sandbox/config", data=json.dumps(bad).encode(), method="POST")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=10)
        assert info.value.code == 400, bad
    assert sandbox.configure(stream_shards=3, shard_rollover_seconds=1.5, shard_rollover_records=10)[
        "stream_shards"] == 3


def test_knobs_at_start() -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", "0", "--stream-shards", "3",
                             "--shard-rollover-records", "7", "--shard-rollover-seconds", "60",
                             "--no-iam-evaluation"], cwd=root, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ready = proc.stdout.readline()  # type: ignore[union-attr]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert "'stream_shards': 3" in ready and "'shard_rollover_records': 7" in ready, ready
    assert "'shard_rollover_seconds': 60.0" in ready and "'iam_evaluation': False" in ready, ready


# --- in process: a stuck shard blocks only its own lineage ------------------------------------------------------

class FakeResult:
    def __init__(self, failed: bool):
        self.status_code = 200
        self.payload = b'{"errorMessage": "boom"}' if failed else b"{}"
        self.function_error = "Unhandled" if failed else None
        self.request_id = "req"
        self.executed_version = "$LATEST"


def test_a_failing_shard_blocks_its_own_keys_only(monkeypatch) -> None:
    from moto import mock_aws

    from sandbox import poller, streams
    from sandbox.config import SandboxConfig
    from sandbox.event_source_mappings import Mapping

    streams.install()
    monkeypatch.setattr(streams, "config", SandboxConfig(stream_shards=2))

    def shard_index(key: str) -> int:
        return 0 if streams._key_hash({"S": key}) < streams.HASH_SPACE // 2 else 1

    keys = [f"k{i}" for i in range(40)]
    poison = next(k for k in keys if shard_index(k) == 0)
    same_shard = next(k for k in keys if shard_index(k) == 0 and k != poison)
    other_shard = next(k for k in keys if shard_index(k) == 1)
    calls: list[tuple[list[str], bool]] = []

    def invoke(account: str, region: str, function: str, payload: bytes) -> FakeResult:
        batch = [r["dynamodb"]["Keys"]["pk"]["S"] for r in json.loads(payload)["Records"]]
        calls.append((batch, poison in batch))
        return FakeResult(poison in batch)

    with mock_aws():
        # An explicit AWS endpoint: the session's AWS_ENDPOINT_URL points at the sandbox server, not at moto here.
        ddb = boto3.client("dynamodb", region_name=REGION, aws_access_key_id="testing",
                           aws_secret_access_key="testing", endpoint_url=f"https://dynamodb.{REGION}.amazonaws.com")
        arn = ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                               KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                               AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                               StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
                               )["TableDescription"]["LatestStreamArn"]
        for key in (poison, same_shard, other_shard):
            ddb.put_item(TableName="t", Item={"pk": {"S": key}})
        m = Mapping(uuid="00000000-aaaa-bbbb-cccc-000000000001", account="123456789012", region=REGION,
                    function_arn="arn:aws:lambda:us-east-1:123456789012:function:fake", event_source_arn=arn,
                    starting_position="TRIM_HORIZON", state="Enabled", batch_size=10)
        p = poller.Poller(m, invoke=invoke, send_failure=lambda *_: None).start()
        try:
            wait_for("the other shard delivered and the poison retried", lambda: (
                [other_shard] in [b for b, _ in calls] and sum(bad for _, bad in calls) >= 4))
        finally:
            p.stop()
            streams.reset()
    delivered_ok = [k for batch, bad in calls if not bad for k in batch]
    assert delivered_ok == [other_shard]
    assert all(batch == [poison, same_shard] for batch, bad in calls if bad)
