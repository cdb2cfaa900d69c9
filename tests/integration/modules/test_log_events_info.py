"""log_events_info against the sandbox: windows, filters, prefixes, truncation, JSON, waiting and timeouts."""

from __future__ import annotations

import datetime
import json
import threading
import time

import pytest

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import Schedule, poll_until

GROUP = "/aws/lambda/probe"


def now_ms():
    return int(time.time() * 1000)


@pytest.fixture
def logs(aws):
    return aws("logs")


def put(logs, stream, events, group=GROUP):
    """events: [(timestamp ms, message)]; creates the group and stream when missing."""
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": t, "message": m} for t, m in sorted(events)])


@pytest.fixture
def seeded(logs):
    base = now_ms() - 60_000
    put(logs, "2024/05/01/[$LATEST]aaa", [
        (base + 0, json.dumps({"kind": "stream_record", "eventName": "INSERT"})),
        (base + 2000, "START RequestId: 1 Version: $LATEST"),
        (base + 4000, json.dumps({"kind": "stream_record", "eventName": "REMOVE"})),
    ])
    put(logs, "2024/05/02/[$LATEST]bbb", [
        (base + 1000, json.dumps({"kind": "stream_record", "eventName": "MODIFY"})),
        (base + 3000, "[INFO]\t2024-05-02T00:00:00Z\treq-2\t{\"kind\": \"batch_summary\", \"records\": 3}"),
    ])
    return base


def messages(result):
    return [e["message"] for e in result["events"]]


def test_reads_all_streams_merged_and_sorted_with_json(run_module, seeded):
    result = run_module("log_events_info", log_group_name=GROUP)
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["log_group_exists"] is True and result["matched"] is True and result["timed_out"] is False
    assert result["event_count"] == 5 and result["truncated"] is False
    assert [e["timestamp"] for e in result["events"]] == [seeded + i * 1000 for i in range(5)]
    first = result["events"][0]
    assert first["json"] == {"kind": "stream_record", "eventName": "INSERT"}
    assert first["log_stream_name"] == "2024/05/01/[$LATEST]aaa"
    assert first["event_id"] and isinstance(first["ingestion_time"], int)
    assert "json" not in result["events"][2]  # START line is not JSON
    assert result["events"][3]["json"] == {"kind": "batch_summary", "records": 3}  # Lambda logging format
    assert result["start_time"] is None and result["end_time"] is None


def test_since_and_until_in_every_form(run_module, seeded):
    iso = datetime.datetime.fromtimestamp((seeded + 1000) / 1000, tz=datetime.timezone.utc).isoformat()
    result = run_module("log_events_info", log_group_name=GROUP, since=iso, until=str(seeded + 3000))
    assert [e["timestamp"] for e in result["events"]] == [seeded + 1000, seeded + 2000, seeded + 3000]
    assert result["start_time"] == seeded + 1000 and result["end_time"] == seeded + 3000

    seconds = run_module("log_events_info", log_group_name=GROUP, since=str((seeded + 3000) // 1000 + 1))
    assert all(e["timestamp"] >= seeded + 3000 for e in seconds["events"]) and seconds["event_count"] >= 1

    assert run_module("log_events_info", log_group_name=GROUP, since="-10m")["event_count"] == 5
    assert run_module("log_events_info", log_group_name=GROUP, since="-1s", until="now")["event_count"] == 0
    old = run_module("log_events_info", log_group_name=GROUP, until="2001-01-01T00:00:00Z")
    assert old["event_count"] == 0 and old["log_group_exists"] is True


def test_filter_pattern(run_module, seeded):
    result = run_module("log_events_info", log_group_name=GROUP, filter_pattern="REMOVE")
    assert [e["json"]["eventName"] for e in result["events"]] == ["REMOVE"]


def test_log_stream_name_prefix(run_module, seeded):
    result = run_module("log_events_info", log_group_name=GROUP, log_stream_name_prefix="2024/05/02/")
    assert result["event_count"] == 2
    assert {e["log_stream_name"] for e in result["events"]} == {"2024/05/02/[$LATEST]bbb"}


def test_max_events_keeps_the_earliest_and_says_truncated(run_module, seeded):
    result = run_module("log_events_info", log_group_name=GROUP, max_events=2)
    assert result["truncated"] is True and result["event_count"] == 2
    assert [e["timestamp"] for e in result["events"]] == [seeded, seeded + 1000]
    exact = run_module("log_events_info", log_group_name=GROUP, max_events=5)
    assert exact["truncated"] is False and exact["event_count"] == 5


def test_missing_group_without_wait_is_a_value(run_module, sandbox):
    result = run_module("log_events_info", log_group_name="/aws/lambda/never")
    assert not result.get("failed"), result
    assert result["log_group_exists"] is False and result["events"] == [] and result["matched"] is True


def test_check_mode_only_reads(run_module, seeded, sandbox):
    sandbox.reset_stats()
    result = run_module("log_events_info", check=True, log_group_name=GROUP, min_events=5, wait_timeout=5)
    assert result["changed"] is False and result["event_count"] == 5 and result["matched"] is True
    assert sandbox.stats()["writes"] == 0


def test_conditions_already_met_return_at_once(run_module, seeded, sandbox):
    sandbox.reset_stats()
    result = run_module("log_events_info", log_group_name=GROUP, min_events=3,
                        contains=['"INSERT"', '"MODIFY"', '"REMOVE"'], wait_timeout=30)
    assert result["matched"] is True and result["missing"] == [] and result["timed_out"] is False
    assert sandbox.stats()["calls"]["logs:FilterLogEvents"] == 1


def _write_after_first_read(sandbox, logs, events, group=GROUP):
    """Write *events* once the module has read at least once and seen them missing (no fixed delays)."""
    errors = []

    def writer():
        try:
            poll_until(lambda: sandbox.stats()["calls"].get("logs:FilterLogEvents", 0) >= 1, 30,
                       schedule=Schedule(0.05, 1.5, 1))
            put(logs, "2024/05/03/[$LATEST]late", events, group=group)
        except Exception as exc:  # surfaced by the test below
            errors.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    return thread, errors


def test_waits_for_a_group_that_appears_later(run_module, logs, sandbox):
    sandbox.reset_stats()
    group = "/aws/lambda/created-on-first-invoke"
    t = now_ms()
    thread, errors = _write_after_first_read(sandbox, logs, [(t, '{"eventName": "INSERT"}'),
                                                             (t + 1, '{"eventName": "MODIFY"}')], group=group)
    result = run_module("log_events_info", log_group_name=group, since="-5m", contains=["MODIFY"], min_events=2,
                        wait_timeout=30)
    thread.join(10)
    assert not errors, errors
    assert not result.get("failed"), result
    assert result["matched"] is True and result["log_group_exists"] is True and result["event_count"] == 2
    assert sandbox.stats()["calls"]["logs:FilterLogEvents"] >= 2  # it really did read before the events existed


def test_waits_for_contains_in_an_existing_group(run_module, logs, seeded, sandbox):
    sandbox.reset_stats()
    thread, errors = _write_after_first_read(sandbox, logs, [(now_ms(), "probe-42 done")])
    result = run_module("log_events_info", log_group_name=GROUP, contains=["probe-42"], wait_timeout=30)
    thread.join(10)
    assert not errors, errors
    assert result["matched"] is True and any("probe-42" in m for m in messages(result))


def test_timeout_fails_saying_what_is_missing(run_module, seeded):
    started = time.monotonic()
    result = run_module("log_events_info", log_group_name=GROUP, min_events=9, contains=["INSERT", "nope"],
                        wait_timeout=2)
    assert time.monotonic() - started < 10
    assert result["failed"] is True
    assert "found 5 of min_events 9" in result["msg"] and "'nope'" in result["msg"] and "'INSERT'" not in result["msg"]
    assert result["timed_out"] is True and result["missing"] == ["nope"]


def test_timeout_on_a_missing_group_says_so(run_module, sandbox):
    result = run_module("log_events_info", log_group_name="/aws/lambda/absent", min_events=1, wait_timeout=1)
    assert result["failed"] is True and "log group /aws/lambda/absent does not exist" in result["msg"]


def test_timeout_without_failing(run_module, seeded):
    result = run_module("log_events_info", log_group_name=GROUP, contains=["nope"], wait_timeout=1,
                        fail_on_timeout=False)
    assert not result.get("failed"), result
    assert result["timed_out"] is True and result["matched"] is False and result["missing"] == ["nope"]
    assert result["event_count"] == 5


def test_survives_throttling(run_module, seeded, sandbox):
    sandbox.configure(throttle=0.5, seed=11)
    sandbox.reset_stats()
    result = run_module("log_events_info", log_group_name=GROUP, min_events=5, wait_timeout=30)
    sandbox.configure(throttle=0)
    assert not result.get("failed"), result
    assert result["event_count"] == 5
    assert sandbox.stats()["calls"]["logs:FilterLogEvents"] > 1
