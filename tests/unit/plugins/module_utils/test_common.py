"""module_utils/common: retry decorator, time parsing."""

from __future__ import annotations

import datetime

import pytest
from botocore.exceptions import ClientError

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import common
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import parse_time

NOW = 1_714_564_800_000  # 2024-05-01T12:00:00Z


class FakeClock:
    def __init__(self):
        self.t = 100.0
        self.sleeps = []

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.t += seconds


def test_constants():
    assert common.MANAGED_BY_TAG == "streamops:managed-by"
    assert common.COLLECTION == "streamops.dynamodb_lambda"
    assert common.TABLE_CREATED_BY_TAG == "streamops:table-created-by"
    assert common.STREAM_ENABLED_BY_TAG == "streamops:stream-enabled-by"


@pytest.mark.parametrize("value, expected", [
    ("2024-05-01T12:00:00Z", NOW),
    ("2024-05-01T12:00:00+00:00", NOW),
    ("2024-05-01T14:00:00+02:00", NOW),
    ("2024-05-01T12:00:00", NOW),  # no zone = UTC
    ("2024-05-01T12:00:00.250Z", NOW + 250),
    ("2024-05-01", NOW - 12 * 3600 * 1000),
    (1714564800, NOW),  # epoch seconds
    ("1714564800", NOW),
    (1714564800.5, NOW + 500),
    (NOW, NOW),  # epoch milliseconds
    (str(NOW), NOW),
    ("now", NOW),
    ("NOW", NOW),
    ("-30s", NOW - 30_000),
    ("-10m", NOW - 600_000),
    ("-2h", NOW - 7_200_000),
    ("-1d", NOW - 86_400_000),
    ("-1w", NOW - 604_800_000),
    ("-1.5m", NOW - 90_000),
    (datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone.utc), NOW),
])
def test_parse_time(value, expected):
    assert parse_time(value, now=NOW) == expected


def test_parse_time_now_defaults_to_the_clock():
    before = parse_time(datetime.datetime.now(datetime.timezone.utc))
    assert abs(parse_time("now") - before) < 5000
    assert abs(parse_time("-1m") - (before - 60_000)) < 5000


@pytest.mark.parametrize("value", ["yesterday", "", "-10x", "10m", "2024-13-01", "12:00", None, True, -5, "-"])
def test_parse_time_rejects_with_readable_message(value):
    with pytest.raises(ValueError, match="invalid time"):
        parse_time(value, now=NOW)


def _client_error(code):
    return ClientError({"Error": {"Code": code, "Message": "slow down"}}, "PutItem")


@pytest.mark.parametrize("code", list(common.THROTTLING_ERROR_CODES))
def test_aws_retry_retries_throttling(code, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    calls = []

    @common.aws_retry(retries=3, delay=0, max_delay=0)
    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise _client_error(code)
        return "ok"

    assert flaky() == "ok"
    assert len(calls) == 3


def test_aws_retry_does_not_retry_other_errors(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    calls = []

    @common.aws_retry(retries=3, delay=0, max_delay=0)
    def broken():
        calls.append(1)
        raise _client_error("ValidationException")

    with pytest.raises(ClientError):
        broken()
    assert len(calls) == 1


def test_aws_retry_adds_extra_codes(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    calls = []

    @common.aws_retry(retries=3, delay=0, max_delay=0, catch_extra_error_codes=["InvalidParameterValueException"])
    def propagating():
        calls.append(1)
        if len(calls) == 1:
            raise _client_error("InvalidParameterValueException")
        if len(calls) == 2:
            raise _client_error("ThrottlingException")  # still retried: extra codes add, never replace
        return "ok"

    assert propagating() == "ok"
