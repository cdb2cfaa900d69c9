"""log_events_info without network: validation before any AWS call, pagination, sorting, JSON, waiting."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from ansible_collections.streamops.dynamodb_lambda.plugins.modules import log_events_info as mod

# Credentials are no_log, so short values would be masked inside every message.
BASE = {"region": "us-east-1", "access_key": "UNITTESTACCESSKEY", "secret_key": "unit-test-secret-key-value"}
NOW = 1_714_564_800_000


@pytest.mark.parametrize("args, option, fragment", [
    ({"log_group_name": "bad group!"}, "log_group_name", "is invalid"),
    ({"log_group_name": "/g", "since": "yesterday"}, "since", "invalid time 'yesterday'"),
    ({"log_group_name": "/g", "until": "-10x"}, "until", "invalid time"),
    ({"log_group_name": "/g", "since": "-1m", "until": "-1h"}, "until", "is before since"),
    ({"log_group_name": "/g", "max_events": 0}, "max_events", "at least 1"),
    ({"log_group_name": "/g", "min_events": 0}, "min_events", "at least 1"),
    ({"log_group_name": "/g", "min_events": 20, "max_events": 10}, "min_events", "could never be met"),
    ({"log_group_name": "/g", "contains": []}, "contains", "at least one string"),
    ({"log_group_name": "/g", "contains": ["a", ""]}, "contains[1]", "non-empty"),
    ({"log_group_name": "/g", "min_events": 1, "wait_timeout": -1}, "wait_timeout", "0 or more"),
    ({"log_group_name": "/g", "filter_pattern": "x" * 1025}, "filter_pattern", "at most 1024"),
    ({"log_group_name": "/g", "log_stream_name_prefix": "a*"}, "log_stream_name_prefix", "no ':' or '*'"),
    ({"log_group_name": "/g", "fail_on_timeout": "perhaps"}, "fail_on_timeout", "bool"),
])
def test_bad_input_fails_naming_the_option_before_any_aws_call(offline_main, args, option, fragment):
    result = offline_main(mod, **{**BASE, **args})
    assert result["failed"] is True
    assert option in result["msg"], result["msg"]
    assert fragment in result["msg"], result["msg"]


def query(**overrides):
    params = {"log_group_name": "/aws/lambda/f", "since": None, "until": None, "filter_pattern": None,
              "log_stream_name_prefix": None, "max_events": 10000, "min_events": None, "contains": None,
              "wait_timeout": 60, "fail_on_timeout": True}
    params.update(overrides)
    return mod.validate_params(params, now_ms=NOW)


def test_window_is_fixed_once():
    q = query(since="-10m", until="now")
    assert (q["start_time"], q["end_time"]) == (NOW - 600_000, NOW)


def ev(ts, message, stream="s1", eid=None):
    return {"timestamp": ts, "message": message, "logStreamName": stream, "eventId": eid or "e%d" % ts,
            "ingestionTime": ts + 5}


class FakeLogs:
    """FilterLogEvents from a list of pages; each call answers the page its token points at."""

    def __init__(self, pages=None, missing_for=0, repeat_token=False):
        self.pages = pages or [[]]
        self.missing_for = missing_for  # the first N calls see no log group
        self.repeat_token = repeat_token
        self.calls = []

    def filter_log_events(self, aws_retry, **kwargs):
        self.calls.append(kwargs)
        if len(self.calls) <= self.missing_for:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no group"}},
                              "FilterLogEvents")
        index = int(kwargs.get("nextToken", "t0")[1:])
        answer = {"events": self.pages[index]}
        if self.repeat_token:
            answer["nextToken"] = "t0"
        elif index + 1 < len(self.pages):
            answer["nextToken"] = "t%d" % (index + 1)
        return answer


def test_paginates_merges_sorts_and_passes_every_filter():
    client = FakeLogs(pages=[[ev(30, "c", "s2"), ev(10, "a")], [], [ev(20, '{"k": 1}', "s3")]])
    q = query(since=str(NOW - 1000), until=str(NOW), filter_pattern='"x"', log_stream_name_prefix="s")
    events, truncated = mod.filter_events(client, q)
    assert [e["timestamp"] for e in events] == [10, 20, 30]
    assert events[1]["json"] == {"k": 1} and "json" not in events[0]
    assert events[0] == {"timestamp": 10, "message": "a", "log_stream_name": "s1", "event_id": "e10",
                         "ingestion_time": 15}
    assert truncated is False
    assert len(client.calls) == 3  # the empty middle page did not stop pagination
    first = client.calls[0]
    assert first["logGroupName"] == "/aws/lambda/f" and first["startTime"] == NOW - 1000
    assert first["endTime"] == NOW and first["filterPattern"] == '"x"' and first["logStreamNamePrefix"] == "s"
    assert [c.get("nextToken") for c in client.calls] == [None, "t1", "t2"]


def test_prefix_is_enforced_even_if_the_service_ignores_it():
    client = FakeLogs(pages=[[ev(1, "a", "keep/1"), ev(2, "b", "drop/1")]])
    events, _truncated = mod.filter_events(client, query(log_stream_name_prefix="keep/"))
    assert [e["log_stream_name"] for e in events] == ["keep/1"]


def test_max_events_stops_paging_and_truncates():
    client = FakeLogs(pages=[[ev(i, str(i)) for i in range(3)], [ev(i, str(i)) for i in range(3, 6)],
                             [ev(9, "never read")]])
    events, truncated = mod.filter_events(client, query(max_events=4))
    assert [e["timestamp"] for e in events] == [0, 1, 2, 3]
    assert truncated is True and len(client.calls) == 2
    assert client.calls[0]["limit"] == 5


def test_a_repeated_token_ends_pagination():
    client = FakeLogs(pages=[[ev(1, "a")]], repeat_token=True)
    events, _truncated = mod.filter_events(client, query())
    assert len(events) == 2 and len(client.calls) == 2  # the repeat is read once, then the loop stops


def test_missing_group_is_a_value():
    assert mod.filter_events(FakeLogs(missing_for=1), query()) == (None, False)


@pytest.mark.parametrize("message, parsed", [
    ('{"a": 1}', {"a": 1}),
    ('  [1, 2]\n', [1, 2]),
    ('[INFO]\t2024-05-01T00:00:00Z\treq\t{"kind": "x"}\n', {"kind": "x"}),
    ("42", None),
    ('"text"', None),
    ("{not json", None),
    ("plain text", None),
    ("", None),
])
def test_parse_message_json(message, parsed):
    assert mod.parse_message_json(message) == parsed


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


def test_wait_keeps_reading_through_a_missing_group_until_matched():
    clock = FakeClock()
    client = FakeLogs(pages=[[ev(1, "INSERT"), ev(2, "MODIFY")]], missing_for=2)
    result = mod.collect(client, query(contains=["MODIFY"], min_events=2), sleep=clock.sleep, clock=clock)
    assert result["matched"] is True and result["timed_out"] is False and result["log_group_exists"] is True
    assert len(client.calls) == 3 and 0 < clock.t < 5


def test_wait_times_out_with_what_is_missing():
    clock = FakeClock()
    client = FakeLogs(pages=[[ev(1, "INSERT")]])
    q = query(contains=["INSERT", "REMOVE"], min_events=3, wait_timeout=10)
    result = mod.collect(client, q, sleep=clock.sleep, clock=clock)
    assert result["timed_out"] is True and result["matched"] is False and result["missing"] == ["REMOVE"]
    assert clock.t == pytest.approx(10)
    assert mod.describe_shortfall(q, result) == "found 1 of min_events 3 events; contains never seen: 'REMOVE'"


def test_no_condition_reads_exactly_once():
    client = FakeLogs(missing_for=5)
    result = mod.collect(client, query(), sleep=lambda s: pytest.fail("slept"), clock=FakeClock())
    assert result["log_group_exists"] is False and result["matched"] is True and len(client.calls) == 1
