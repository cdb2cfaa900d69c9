"""Nothing lost: every record written is either processed (in order per key) or dead-lettered with its details.

A pipeline set up through setup.yml with the handler's poison switch (`STREAMOPS_POISON_ATTRIBUTE`), bisecting on
function errors, reporting batch item failures, two retries and an SQS on-failure destination. The test writes
N records over several keys, one of them poison, then accounts for every record of the stream: processed ones
from the handler's JSON log lines (FilterLogEvents), dead-lettered ones from the on-failure record's
DDBStreamBatchInfo sequence range. Written = processed + dead-lettered, with no overlap and no gap.
"""

from __future__ import annotations

import collections
from typing import Any


TABLE, FUNCTION, QUEUE = "ri-lost-table", "ri-lost-fn", "ri-lost-failures"
KEYS = [f"user-{k}" for k in range(5)]
WRITES_PER_KEY = 8
POISON = ("user-2", 4)  # (key, write number): the one record the handler refuses


def _write_all(aws) -> int:
    """Interleave writes over the keys (round-robin), then delete every item; returns the number of writes."""
    ddb = aws("dynamodb")
    count = 0
    for n in range(WRITES_PER_KEY):
        for key in KEYS:
            item = {"user_id": {"S": key}, "post_id": {"S": "post"}, "n": {"N": str(n)}}
            if (key, n) == POISON:
                item["poison"] = {"BOOL": True}
            ddb.put_item(TableName=TABLE, Item=item)
            count += 1
    for key in KEYS:
        ddb.delete_item(TableName=TABLE, Key={"user_id": {"S": key}, "post_id": {"S": "post"}})
        count += 1
    return count


def test_every_record_is_processed_in_order_or_dead_lettered(h, sandbox, aws) -> None:
    sqs = aws("sqs")
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pipeline = {
        "name": "ri-lost", "table_name": TABLE, "function_name": FUNCTION, "verify": False,
        "function_environment": {"STREAMOPS_POISON_ATTRIBUTE": "poison"},
        "trigger": {"starting_position": "TRIM_HORIZON", "batch_size": 10, "bisect_batch_on_function_error": True,
                    "maximum_retry_attempts": 2, "report_batch_item_failures": True,
                    "on_failure_destination": queue_arn},
    }
    setup = h.run_playbook(sandbox.url, h.SETUP, {"streamops_pipelines": [pipeline]})
    assert setup.returncode == 0, setup.stdout[-6000:] + setup.stderr[-2000:]
    [mapping] = aws("lambda").list_event_source_mappings(FunctionName=FUNCTION)["EventSourceMappings"]
    assert mapping["BisectBatchOnFunctionError"] is True and mapping["MaximumRetryAttempts"] == 2
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn

    written = _write_all(aws)
    stream_arn = aws("dynamodb").describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    records = h.stream_records(sandbox.url, stream_arn)
    # The stream itself holds exactly what was written (the baseline the pipeline is measured against).
    assert len(records) == written
    by_seq = {r["dynamodb"]["SequenceNumber"]: r for r in records}

    [failure] = h.drain_queue(sandbox.url, queue_url, 1)
    info = failure["DDBStreamBatchInfo"]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3  # first try + maximum_retry_attempts
    assert info["streamArn"] == stream_arn
    dead = [seq for seq in by_seq if int(info["startSequenceNumber"]) <= int(seq) <= int(info["endSequenceNumber"])]
    assert info["batchSize"] == len(dead)
    # Bisecting isolates the poison record: it, and only it, is dead-lettered.
    [dead_seq] = dead
    dead_image = by_seq[dead_seq]["dynamodb"]["NewImage"]
    assert (dead_image["user_id"]["S"], int(dead_image["n"]["N"])) == POISON

    def processed_lines() -> list[dict[str, Any]]:
        return h.json_lines(h.log_events(sandbox.url, f"/aws/lambda/{FUNCTION}"), "stream_record")

    expected = set(by_seq) - {dead_seq}

    def all_but_poison() -> list[dict] | None:
        got = processed_lines()
        return got if expected <= {g["sequenceNumber"] for g in got} else None

    lines = h.wait_for("every record but the poison one in the handler's log", all_but_poison, timeout=120)
    processed = [line["sequenceNumber"] for line in lines]
    assert dead_seq not in processed
    assert len(processed) == len(set(processed)), "a record was processed twice"
    assert set(processed) | {dead_seq} == set(by_seq)
    assert written == len(processed) + len(dead)

    # In order per key: the handler saw each key's records in the order they were written (sequence order).
    seen: dict[str, list[int]] = collections.defaultdict(list)
    for line in lines:
        seen[line["keys"]["user_id"]].append(int(line["sequenceNumber"]))
    for key in KEYS:
        assert seen[key] == sorted(seen[key]), f"{key} processed out of order: {seen[key]}"
        expected_events = ["INSERT"] + ["MODIFY"] * (WRITES_PER_KEY - 1) + ["REMOVE"]
        if key == POISON[0]:
            expected_events.pop(POISON[1])
        got_events = [line["eventName"] for line in lines if line["keys"]["user_id"] == key]
        assert got_events == expected_events, key
