"""module_utils/stream's waits against the DynamoDB fakes: what each waits for, and what its timeout says."""

from __future__ import annotations

import pytest

from aws_fakes import FakeDynamoDB
from aws_fakes import FakeStreams
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import stream
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import WaitTimeout


def test_wait_table_active_returns_the_table_once_active(clock):
    ddb = FakeDynamoDB()
    ddb.add_table("orders", status="UPDATING", script=[{}, {"TableStatus": "ACTIVE"}])

    table = stream.wait_table_active(ddb, "orders", 60)

    assert table["TableStatus"] == "ACTIVE" and ddb.operations() == ["describe_table"] * 2


def test_wait_table_active_timeout_names_the_table_and_its_last_status(clock):
    ddb = FakeDynamoDB()
    ddb.add_table("orders", status="UPDATING")

    with pytest.raises(WaitTimeout) as failed:
        stream.wait_table_active(ddb, "orders", 10)

    assert str(failed.value) == "timed out after 10s waiting for table orders to be ACTIVE (last seen: UPDATING)"
    assert sum(clock.sleeps) == pytest.approx(10)


def test_wait_table_active_on_a_table_that_disappeared_returns_none(clock):
    ddb = FakeDynamoDB()

    assert stream.wait_table_active(ddb, "orders", 10) is None


def test_wait_table_gone_timeout_names_the_table_and_its_last_status(clock):
    ddb = FakeDynamoDB()
    ddb.add_table("orders", status="DELETING")

    with pytest.raises(WaitTimeout) as failed:
        stream.wait_table_gone(ddb, "orders", 10)

    assert str(failed.value) == "timed out after 10s waiting for table orders to be deleted (last seen: DELETING)"


@pytest.mark.parametrize("final", ["ENABLED", "DISABLED"])
def test_wait_stream_enabled_ends_when_the_stream_is_enabled_or_already_disabled(clock, final):
    streams = FakeStreams(enabling_reads=2)
    streams.final_status = final

    description = stream.wait_stream_enabled(streams, "arn:s", 60)

    assert description["StreamStatus"] == final and len(streams.calls) == 3


def test_wait_stream_enabled_timeout_names_the_stream_and_its_last_status(clock):
    streams = FakeStreams(enabling_reads=10 ** 6)

    with pytest.raises(WaitTimeout) as failed:
        stream.wait_stream_enabled(streams, "arn:s", 10)

    assert str(failed.value) == "timed out after 10s waiting for stream arn:s to be ENABLED (last seen: ENABLING)"


def test_table_tags_follow_next_token(clock):
    ddb = FakeDynamoDB()
    pages = [{"Tags": [{"Key": "a", "Value": "1"}], "NextToken": "t1"}, {"Tags": [{"Key": "b", "Value": "2"}]}]
    ddb.list_tags_of_resource = lambda **kwargs: (ddb.calls.append(("list_tags_of_resource", kwargs)),
                                                  pages[len(ddb.calls) - 1])[1]

    assert stream.table_tags(ddb, "arn:t") == {"a": "1", "b": "2"}
    assert [kw.get("NextToken") for _op, kw in ddb.calls] == [None, "t1"]
