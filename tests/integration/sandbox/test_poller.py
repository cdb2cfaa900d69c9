"""The sandbox's stream poller end to end: PutItem -> stream -> poller -> real handler subprocess -> its log.

Each test function is a small inline handler that logs one JSON line per invocation with the keys it got, and
fails on records whose new image has `poison` set (by raising, or by reporting them as batch item failures).
Absence is never waited for: a test proves "not delivered" by ordering (a later record was delivered first)
or by a second, always-enabled mapping on the same stream that has already seen the record.
"""

from __future__ import annotations

import io
import json
import statistics
import time
import zipfile
from typing import Any

import pytest

HANDLER = '''
import json, os

def handler(event, context):
    records = event["Records"]
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]
    seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
    values = [r["dynamodb"].get("NewImage", {}).get("v", {}).get("N") for r in records]
    print(json.dumps({"kind": "batch", "keys": keys, "seqs": seqs, "values": values}))
    poison = [r for r in records if r["dynamodb"].get("NewImage", {}).get("poison", {}).get("BOOL")]
    mode = os.environ.get("MODE", "")
    if poison and mode == "raise":
        raise RuntimeError("poison record " + poison[0]["dynamodb"]["Keys"]["pk"]["S"])
    if poison and mode == "report":
        return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in poison]}
    return {"batchItemFailures": []}
'''

DEADLINE = 30.0


# --- helpers --------------------------------------------------------------------------------------------------

def wait_for(what: str, probe, timeout: float = DEADLINE, interval: float = 0.05) -> Any:
    """Poll *probe* until it returns something truthy; fail naming *what* at the deadline."""
    end = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def make_table(aws, name: str = "t", view: str = "NEW_AND_OLD_IMAGES") -> str:
    desc = aws("dynamodb").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    return desc["TableDescription"]["LatestStreamArn"]


def make_function(aws, name: str = "fn", code: str = HANDLER, env: dict[str, str] | None = None) -> str:
    lam = aws("lambda")
    role = aws.lambda_role("esm-test-role")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.py", code)
    arn = lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler",
                              Code={"ZipFile": buf.getvalue()}, Timeout=30,
                              Environment={"Variables": env or {}})["FunctionArn"]
    wait_for(f"{name} Active", lambda: lam.get_function(FunctionName=name)["Configuration"]["State"] == "Active")
    return arn


def put(aws, pk: str, **attrs: Any) -> None:
    item: dict[str, Any] = {"pk": {"S": pk}}
    for key, value in attrs.items():
        item[key] = {"BOOL": value} if isinstance(value, bool) else {"N": str(value)}
    aws("dynamodb").put_item(TableName="t", Item=item)


def batches(aws, function: str = "fn") -> list[dict[str, Any]]:
    """Every batch line the function logged so far, in invocation order."""
    logs = aws("logs")
    events: list[dict[str, Any]] = []
    try:
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{function}"):
            events.extend(page["events"])
    except logs.exceptions.ResourceNotFoundException:
        return []
    events.sort(key=lambda e: (e["timestamp"], e.get("ingestionTime", 0), e["eventId"]))
    out = []
    for event in events:
        text = event["message"].strip()
        if text.startswith('{"kind": "batch"'):
            out.append(json.loads(text))
    return out


def delivered(aws, function: str = "fn") -> list[str]:
    return [key for batch in batches(aws, function) for key in batch["keys"]]


def wait_delivered(aws, keys: list[str], function: str = "fn") -> list[dict[str, Any]]:
    wait_for(f"{keys} delivered to {function}", lambda: set(keys) <= set(delivered(aws, function)))
    return batches(aws, function)


def mapping(aws, stream: str, function: str = "fn", **params: Any) -> dict[str, Any]:
    params.setdefault("StartingPosition", "TRIM_HORIZON")
    lam = aws("lambda")
    created = lam.create_event_source_mapping(FunctionName=function, EventSourceArn=stream, **params)
    wait_for("mapping settled", lambda: lam.get_event_source_mapping(UUID=created["UUID"])["State"]
             in ("Enabled", "Disabled"))
    return created


def receive_all(aws, queue_url: str, count: int) -> list[dict[str, Any]]:
    sqs = aws("sqs")
    got: list[dict[str, Any]] = []

    def probe() -> bool:
        got.extend(json.loads(m["Body"]) for m in
                   sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []))
        return len(got) >= count
    wait_for(f"{count} message(s) on {queue_url}", probe)
    return got


# --- delivery -------------------------------------------------------------------------------------------------

def test_batch_size_splits_five_records_into_three_invocations(aws) -> None:
    stream = make_table(aws)
    make_function(aws)
    for i in range(5):
        put(aws, f"k{i}")
    mapping(aws, stream, BatchSize=2)
    got = wait_delivered(aws, [f"k{i}" for i in range(5)])
    assert [b["keys"] for b in got] == [["k0", "k1"], ["k2", "k3"], ["k4"]]


def test_per_key_order_is_preserved(aws) -> None:
    stream = make_table(aws)
    make_function(aws)
    mapping(aws, stream, BatchSize=3)
    writes = [(f"key{i % 3}", i) for i in range(18)]
    for pk, v in writes:
        put(aws, pk, v=v)
    wait_for("all 18 writes delivered", lambda: len(delivered(aws)) >= 18)
    got = batches(aws)
    seqs = [int(s) for b in got for s in b["seqs"]]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)) == 18
    pairs = [(k, int(v)) for b in got for k, v in zip(b["keys"], b["values"])]
    for key in ("key0", "key1", "key2"):
        assert [v for k, v in pairs if k == key] == [v for k, v in writes if k == key]


def test_batching_window_gathers_records_into_one_invocation(aws) -> None:
    stream = make_table(aws)
    make_function(aws)
    mapping(aws, stream, BatchSize=10, MaximumBatchingWindowInSeconds=2)
    for i in range(4):
        put(aws, f"w{i}")
    got = wait_delivered(aws, [f"w{i}" for i in range(4)])
    assert [b["keys"] for b in got] == [["w0", "w1", "w2", "w3"]]


def test_full_batch_does_not_wait_for_the_window(aws) -> None:
    stream = make_table(aws)
    make_function(aws)
    # A 300 s window would outlast the test's deadline: delivery proves a full batch goes at once.
    mapping(aws, stream, BatchSize=2, MaximumBatchingWindowInSeconds=300)
    put(aws, "f0")
    put(aws, "f1")
    assert [b["keys"] for b in wait_delivered(aws, ["f0", "f1"])] == [["f0", "f1"]]


def test_latest_skips_earlier_records_and_trim_horizon_reads_them(aws) -> None:
    stream = make_table(aws)
    make_function(aws, "from_start")
    make_function(aws, "from_latest")
    put(aws, "before")
    mapping(aws, stream, function="from_start", StartingPosition="TRIM_HORIZON")
    mapping(aws, stream, function="from_latest", StartingPosition="LATEST")
    put(aws, "after")
    wait_delivered(aws, ["before", "after"], "from_start")
    wait_delivered(aws, ["after"], "from_latest")
    assert delivered(aws, "from_start") == ["before", "after"]
    assert delivered(aws, "from_latest") == ["after"]


def test_poller_start_delay_loses_records_written_before_polling_starts(aws, sandbox) -> None:
    stream = make_table(aws)
    make_function(aws)
    sandbox.configure(poller_start_delay=1.0)
    created_at = time.time()
    mapping(aws, stream, StartingPosition="LATEST")
    put(aws, "early")
    # Keep writing until one write is delivered: that one was written after the poller started.
    written: list[tuple[str, float]] = []

    def write_and_check() -> bool:
        pk = f"late{len(written)}"
        put(aws, pk)
        written.append((pk, time.time()))  # after the write: the record's server time is earlier
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            if delivered(aws):
                return True
            time.sleep(0.05)
        return False
    wait_for("a write after the start delay to be delivered", write_and_check, interval=0)
    got = delivered(aws)
    assert "early" not in got
    first = next(stamp for pk, stamp in written if pk == got[0])
    assert first - created_at >= 1.0


def test_disabled_mapping_delivers_nothing_and_resumes_where_it_stopped(aws) -> None:
    stream = make_table(aws)
    make_function(aws)
    make_function(aws, "witness")
    lam = aws("lambda")
    m = mapping(aws, stream, Enabled=True)
    mapping(aws, stream, function="witness")
    put(aws, "one")
    wait_delivered(aws, ["one"])
    lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False)
    wait_for("Disabled", lambda: lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Disabled")
    put(aws, "two")
    put(aws, "three")
    # The witness mapping reads the same stream; once it has both records, an enabled poller would have too.
    wait_delivered(aws, ["two", "three"], "witness")
    assert delivered(aws) == ["one"]
    lam.update_event_source_mapping(UUID=m["UUID"], Enabled=True)
    wait_delivered(aws, ["two", "three"])
    assert delivered(aws) == ["one", "two", "three"]


def test_created_disabled_then_enabled_delivers_from_its_position(aws) -> None:
    stream = make_table(aws)
    make_function(aws)
    lam = aws("lambda")
    put(aws, "a")
    m = mapping(aws, stream, Enabled=False)
    assert lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Disabled"
    lam.update_event_source_mapping(UUID=m["UUID"], Enabled=True)
    wait_delivered(aws, ["a"])
    assert delivered(aws) == ["a"]


# --- filters --------------------------------------------------------------------------------------------------

def test_filter_delivers_matching_records_and_drops_the_rest(aws) -> None:
    stream = make_table(aws)
    make_function(aws)
    pattern = {"dynamodb": {"NewImage": {"pk": {"S": [{"prefix": "keep"}]}}}}
    m = mapping(aws, stream, FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    put(aws, "drop1")
    put(aws, "keep1")
    put(aws, "drop2")
    put(aws, "keep2")
    wait_delivered(aws, ["keep1", "keep2"])
    assert delivered(aws) == ["keep1", "keep2"]
    lam = aws("lambda")
    assert lam.get_event_source_mapping(UUID=m["UUID"])["FilterCriteria"]["Filters"][0]["Pattern"] \
        == json.dumps(pattern)


def test_filter_that_matches_nothing_delivers_nothing(aws) -> None:
    stream = make_table(aws)
    make_function(aws)
    make_function(aws, "witness")
    pattern = {"eventName": ["REMOVE"]}
    mapping(aws, stream, FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    mapping(aws, stream, function="witness")
    put(aws, "x")
    put(aws, "y")
    wait_delivered(aws, ["x", "y"], "witness")
    assert delivered(aws) == []
    aws("dynamodb").delete_item(TableName="t", Key={"pk": {"S": "x"}})
    wait_delivered(aws, ["x"])
    assert [b["keys"] for b in batches(aws)] == [["x"]]


def test_removing_filters_needs_an_explicit_empty_filter_criteria(aws) -> None:
    stream = make_table(aws)
    make_function(aws)
    lam = aws("lambda")
    pattern = json.dumps({"dynamodb": {"NewImage": {"pk": {"S": ["only"]}}}})
    m = mapping(aws, stream, FilterCriteria={"Filters": [{"Pattern": pattern}]})
    lam.update_event_source_mapping(UUID=m["UUID"], BatchSize=5)
    wait_for("Enabled", lambda: lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Enabled")
    assert "FilterCriteria" in lam.get_event_source_mapping(UUID=m["UUID"])  # omitted = unchanged
    put(aws, "other1")
    put(aws, "only")
    wait_delivered(aws, ["only"])
    lam.update_event_source_mapping(UUID=m["UUID"], FilterCriteria={})
    wait_for("Enabled", lambda: lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Enabled")
    assert "FilterCriteria" not in lam.get_event_source_mapping(UUID=m["UUID"])
    put(aws, "other2")
    wait_delivered(aws, ["other2"])
    assert delivered(aws) == ["only", "other2"]


# --- error handling -------------------------------------------------------------------------------------------

def _queue(aws, name: str = "failures") -> tuple[str, str]:
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def test_poison_record_is_retried_then_sent_to_the_sqs_on_failure_queue(aws) -> None:
    stream = make_table(aws)
    fn_arn = make_function(aws, env={"MODE": "raise"})
    url, queue_arn = _queue(aws)
    m = mapping(aws, stream, BatchSize=1, MaximumRetryAttempts=2,
                DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    put(aws, "good1")
    put(aws, "bad", poison=True)
    put(aws, "good2")
    [message] = receive_all(aws, url, 1)
    wait_delivered(aws, ["good2"])
    assert delivered(aws) == ["good1", "bad", "bad", "bad", "good2"]
    seqs = {k: s for b in batches(aws) for k, s in zip(b["keys"], b["seqs"])}
    assert message["version"] == "1.0"
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["functionArn"] == fn_arn
    assert message["requestContext"]["approximateInvokeCount"] == 3
    assert message["requestContext"]["requestId"]
    assert message["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                          "functionError": "Unhandled"}
    info = message["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == seqs["bad"]
    assert info["batchSize"] == 1 and info["streamArn"] == stream and info["shardId"].startswith("shardId-")
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert message["timestamp"].endswith("Z")
    result = aws("lambda").get_event_source_mapping(UUID=m["UUID"])["LastProcessingResult"]
    assert result == "OK"  # the last invocation (good2) succeeded


def test_on_failure_record_goes_to_an_sns_topic(aws) -> None:
    stream = make_table(aws)
    make_function(aws, env={"MODE": "raise"})
    sns = aws("sns")
    topic = sns.create_topic(Name="esm-failures")["TopicArn"]
    url, queue_arn = _queue(aws, "from-topic")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    mapping(aws, stream, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": topic}})
    put(aws, "bad", poison=True)
    [envelope] = receive_all(aws, url, 1)
    assert envelope["TopicArn"] == topic
    record = json.loads(envelope["Message"])
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["DDBStreamBatchInfo"]["batchSize"] == 1


def test_report_batch_item_failures_retries_from_the_lowest_failed_record(aws) -> None:
    stream = make_table(aws)
    make_function(aws, env={"MODE": "report"})
    url, queue_arn = _queue(aws)
    for i, poison in enumerate([False, False, True, False, True]):
        put(aws, f"r{i}", poison=poison)
    m = mapping(aws, stream, BatchSize=5, MaximumRetryAttempts=1, FunctionResponseTypes=["ReportBatchItemFailures"],
                DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    [message] = receive_all(aws, url, 1)
    got = batches(aws)
    assert [b["keys"] for b in got] == [["r0", "r1", "r2", "r3", "r4"], ["r2", "r3", "r4"]]
    info = message["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == \
        (got[0]["seqs"][2], got[0]["seqs"][4], 3)
    assert aws("lambda").get_event_source_mapping(UUID=m["UUID"])["FunctionResponseTypes"] == \
        ["ReportBatchItemFailures"]


def test_bisect_splits_a_failing_batch_until_the_poison_record_is_alone(aws) -> None:
    stream = make_table(aws)
    make_function(aws, env={"MODE": "raise"})
    url, queue_arn = _queue(aws)
    for i in range(4):
        put(aws, f"b{i}", poison=(i == 2))
    mapping(aws, stream, BatchSize=4, BisectBatchOnFunctionError=True, MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    [message] = receive_all(aws, url, 1)
    # b3 was already in the failed batches; wait for its own final invocation.
    wait_for("five invocations", lambda: len(batches(aws)) >= 5)
    assert [b["keys"] for b in batches(aws)] == [["b0", "b1", "b2", "b3"], ["b0", "b1"], ["b2", "b3"], ["b2"],
                                                 ["b3"]]
    assert message["DDBStreamBatchInfo"]["batchSize"] == 1


def test_failed_invocation_sets_last_processing_result(aws) -> None:
    stream = make_table(aws)
    make_function(aws, env={"MODE": "raise"})
    lam = aws("lambda")
    m = mapping(aws, stream, MaximumRetryAttempts=0)
    assert lam.get_event_source_mapping(UUID=m["UUID"])["LastProcessingResult"] == "No records processed"
    put(aws, "bad", poison=True)
    wait_for("PROBLEM result", lambda: lam.get_event_source_mapping(UUID=m["UUID"])["LastProcessingResult"]
             == "PROBLEM: Function call failed")


# --- lifecycle ------------------------------------------------------------------------------------------------

def test_deleted_mapping_stops_delivering(aws) -> None:
    stream = make_table(aws)
    make_function(aws)
    make_function(aws, "witness")
    lam = aws("lambda")
    m = mapping(aws, stream)
    mapping(aws, stream, function="witness")
    put(aws, "before")
    wait_delivered(aws, ["before"])
    lam.delete_event_source_mapping(UUID=m["UUID"])
    put(aws, "after")
    wait_delivered(aws, ["after"], "witness")
    assert delivered(aws) == ["before"]


def test_mapping_on_a_replaced_stream_reads_only_the_old_stream(aws) -> None:
    old_stream = make_table(aws)
    make_function(aws)
    make_function(aws, "witness")
    ddb, lam = aws("dynamodb"), aws("lambda")
    mapping(aws, old_stream)
    put(aws, "old")
    wait_delivered(aws, ["old"])
    ddb.update_table(TableName="t", StreamSpecification={"StreamEnabled": False})
    ddb.update_table(TableName="t", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    new_stream = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    assert new_stream != old_stream
    mapping(aws, new_stream, function="witness")
    put(aws, "new")
    wait_delivered(aws, ["new"], "witness")
    assert delivered(aws) == ["old"]
    assert [m["EventSourceArn"] for m in lam.list_event_source_mappings(FunctionName="fn")["EventSourceMappings"]] \
        == [old_stream]


# --- measurement ----------------------------------------------------------------------------------------------

def test_measure_write_to_log_latency(aws) -> None:
    stream = make_table(aws)
    make_function(aws)
    mapping(aws, stream, StartingPosition="LATEST")
    samples = []
    for i in range(10):
        started = time.perf_counter()
        put(aws, f"lat{i}")
        wait_for(f"lat{i} in the log", lambda: f"lat{i}" in delivered(aws), interval=0.01)
        samples.append(time.perf_counter() - started)
    print(f"\nPutItem -> log event latency over {len(samples)} writes: median {statistics.median(samples):.3f}s, "
          f"min {min(samples):.3f}s, max {max(samples):.3f}s")


# --- in-process: the poller with an injected invoke (no sandbox server, no subprocess) -------------------------

class FakeResult:
    def __init__(self, failed: bool, request_id: str):
        self.status_code = 200
        self.payload = b'{"errorMessage": "boom"}' if failed else b"{}"
        self.function_error = "Unhandled" if failed else None
        self.request_id = request_id
        self.executed_version = "$LATEST"


@pytest.fixture
def in_process(monkeypatch):
    """moto in this process with the sandbox's stream patches; yields (dynamodb client, stream ARN)."""
    import boto3
    from moto import mock_aws

    from sandbox import streams

    streams.install()
    monkeypatch.setattr(streams, "clock", streams.clock)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url="https://dynamodb.us-east-1.amazonaws.com",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        arn = ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                               KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                               AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                               StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
                               )["TableDescription"]["LatestStreamArn"]
        yield ddb, arn
    streams.reset()


def _in_process_poller(arn: str, fail_keys: set[str], **settings: Any):
    from sandbox import poller
    from sandbox.event_source_mappings import Mapping

    calls: list[list[str]] = []
    sent: list[dict[str, Any]] = []

    def invoke(account: str, region: str, function: str, payload: bytes) -> FakeResult:
        keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in json.loads(payload)["Records"]]
        calls.append(keys)
        return FakeResult(bool(fail_keys & set(keys)), f"req-{len(calls)}")

    m = Mapping(uuid="00000000-aaaa-bbbb-cccc-000000000000", account="123456789012", region="us-east-1",
                function_arn="arn:aws:lambda:us-east-1:123456789012:function:fake", event_source_arn=arn,
                starting_position="TRIM_HORIZON", state="Enabled",
                on_failure="arn:aws:sqs:us-east-1:123456789012:dlq", **settings)
    p = poller.Poller(m, invoke=invoke, send_failure=lambda _m, _dest, record: sent.append(record))
    return m, p, calls, sent


def test_records_older_than_maximum_record_age_go_to_on_failure_without_invoking(in_process, monkeypatch) -> None:
    from sandbox import streams

    ddb, arn = in_process
    real = time.time
    monkeypatch.setattr(streams, "clock", lambda: real() - 120)  # written two minutes ago
    for pk in ("old1", "old2"):
        ddb.put_item(TableName="t", Item={"pk": {"S": pk}})
    monkeypatch.setattr(streams, "clock", real)
    ddb.put_item(TableName="t", Item={"pk": {"S": "fresh"}})
    m, p, calls, sent = _in_process_poller(arn, set(), maximum_record_age=60)
    p.start()
    try:
        wait_for("the fresh record to be invoked", lambda: calls)
        wait_for("the on-failure record", lambda: sent)
    finally:
        p.stop()
    assert calls == [["fresh"]]
    [record] = sent
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responseContext" not in record
    assert record["DDBStreamBatchInfo"]["batchSize"] == 2


def test_in_process_retries_stop_at_maximum_retry_attempts(in_process) -> None:
    ddb, arn = in_process
    for pk in ("a", "poison", "b"):
        ddb.put_item(TableName="t", Item={"pk": {"S": pk}})
    m, p, calls, sent = _in_process_poller(arn, {"poison"}, batch_size=3, maximum_retry_attempts=1)
    p.start()
    try:
        wait_for("the on-failure record", lambda: sent)
    finally:
        p.stop()
    assert calls == [["a", "poison", "b"]] * 2
    assert sent[0]["requestContext"]["approximateInvokeCount"] == 2
    assert sent[0]["requestContext"]["requestId"] == "req-2"
    assert sent[0]["responseContext"]["functionError"] == "Unhandled"
    assert m.last_processing_result == "PROBLEM: Function call failed"
    assert not p.thread.is_alive()
