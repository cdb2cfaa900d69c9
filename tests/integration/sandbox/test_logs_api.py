"""CloudWatch Logs answers as AWS does where moto differs."""

from __future__ import annotations

import time

import pytest


@pytest.mark.parametrize("interleaved", [False, True, None])
def test_filter_log_events_interleaves_all_streams_by_time(aws, interleaved):
    """API_FilterLogEvents.html: "interleaved ... As of June 17, 2019, this parameter is ignored and the value is
    assumed to be true. The response from this operation always interleaves events from multiple log streams
    within a log group." """
    logs = aws("logs")
    logs.create_log_group(logGroupName="/aws/lambda/fn")
    now = int(time.time() * 1000)
    for stream in ("a", "b"):
        logs.create_log_stream(logGroupName="/aws/lambda/fn", logStreamName=stream)
    # a: t+0, t+2, t+4; b: t+1, t+3, t+5
    for stream, offset in (("a", 0), ("b", 1)):
        logs.put_log_events(logGroupName="/aws/lambda/fn", logStreamName=stream,
                            logEvents=[{"timestamp": now + offset + 2 * i, "message": f"{stream}{i}"}
                                       for i in range(3)])
    kwargs = {} if interleaved is None else {"interleaved": interleaved}
    events = logs.filter_log_events(logGroupName="/aws/lambda/fn", **kwargs)["events"]
    assert [e["message"] for e in events] == ["a0", "b0", "a1", "b1", "a2", "b2"]
    assert [e["logStreamName"] for e in events] == ["a", "b"] * 3
