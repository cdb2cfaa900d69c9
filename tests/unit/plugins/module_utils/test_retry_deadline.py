"""waiters.retry_until_deadline's backoff on the fake clock: the delay cap, and a last try in the final second."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from aws_fakes import client_error
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import waiters


def flaky(failures):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= failures:
            raise client_error("ResourceInUseException", "in use", "UpdateEventSourceMapping")
        return "done"

    fn.calls = calls
    return fn


def test_the_delay_grows_by_half_and_stops_at_two_seconds(clock):
    fn = flaky(6)

    assert waiters.retry_until_deadline(fn, waiters.is_mapping_busy_error, 300) == "done"

    # An IAM change propagates in seconds: a retry (a create call each) every 2 s at most sees it end soon after.
    assert clock.sleeps == pytest.approx([1.0, 1.5, 2, 2, 2, 2])


def test_a_retry_still_happens_when_less_than_a_second_is_left(clock):
    fn = flaky(2)

    assert waiters.retry_until_deadline(fn, waiters.is_mapping_busy_error, 1.5) == "done"

    assert clock.sleeps == [1.0, 0.5] and len(fn.calls) == 3


def test_it_gives_up_with_aws_error_at_the_deadline(clock):
    fn = flaky(100)

    with pytest.raises(ClientError, match="in use"):
        waiters.retry_until_deadline(fn, waiters.is_mapping_busy_error, 1.5)

    assert sum(clock.sleeps) == pytest.approx(1.5)
