"""stream_trigger / stream_trigger_info: every bad input is rejected before any AWS call, naming the option.
No network: building an AWS client fails the test."""

from __future__ import annotations

import importlib

import pytest

from ansible_collections.streamops.dynamodb_lambda.plugins.modules import stream_trigger

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/users_post/stream/2024-05-01T12:00:00.000"
BASE = {"function_name": "demo", "table_name": "users_post"}


@pytest.mark.parametrize("args, option", [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 10001}, "batch_size"),
    ({"maximum_batching_window": 301}, "maximum_batching_window"),
    ({"maximum_batching_window": -1}, "maximum_batching_window"),
    ({"parallelization_factor": 0}, "parallelization_factor"),
    ({"parallelization_factor": 11}, "parallelization_factor"),
    ({"maximum_retry_attempts": -2}, "maximum_retry_attempts"),
    ({"maximum_retry_attempts": 10001}, "maximum_retry_attempts"),
    ({"maximum_record_age": 59}, "maximum_record_age"),
    ({"maximum_record_age": 0}, "maximum_record_age"),
    ({"maximum_record_age": 604801}, "maximum_record_age"),
    ({"tumbling_window": 901}, "tumbling_window"),
    ({"starting_position": "AT_TIMESTAMP"}, "starting_position"),
    ({"on_failure_destination": "arn:aws:s3:::bucket"}, "on_failure_destination"),
    ({"on_failure_destination": "my-queue"}, "on_failure_destination"),
    ({"on_failure_destination": "arn:aws:lambda:us-east-1:123456789012:function:x"}, "on_failure_destination"),
    ({"kms_key_arn": "arn:aws:sqs:us-east-1:123456789012:q"}, "kms_key_arn"),
    ({"filters": ["{not json"]}, "filters[0]"),
    ({"filters": [{"ok": [1]}, "[1, 2]"]}, "filters[1]"),
    ({"filters": [{"k": "x" * 4100}]}, "filters[0]"),
    ({"filters": [42]}, "filters[0]"),
    ({"metrics": ["ErrorCount"]}, "metrics"),
    ({"tags": {"aws:reserved": "x"}}, "tags"),
    ({"wait_timeout": 0}, "wait_timeout"),
    ({"wait_timeout": 3601}, "wait_timeout"),
    ({"function_name": "x" * 65}, "function_name"),
    ({"function_name": "bad name"}, "function_name"),
    ({"function_name": "a:b:c"}, "function_name"),
    ({"function_name": "arn:aws:sqs:us-east-1:123456789012:q"}, "function_name"),
    ({"table_name": "ab"}, "table_name"),
    ({"table_name": None, "stream_arn": "arn:aws:dynamodb:us-east-1:123456789012:table/t"}, "stream_arn"),
    ({"stream_arn": STREAM}, "stream_arn"),  # together with table_name: mutually exclusive
    ({"table_name": None}, "table_name"),  # neither table_name nor stream_arn
    ({"state": "enabled"}, "state"),
    ({"enabled": "sometimes"}, "enabled"),
])
def test_bad_input_is_rejected_naming_the_option(offline_main, args, option):
    params = {k: v for k, v in dict(BASE, **args).items() if v is not None}
    result = offline_main(stream_trigger, **params)
    assert result["failed"] is True
    assert option in result["msg"], result["msg"]


def test_every_problem_is_reported_at_once(offline_main):
    result = offline_main(stream_trigger, **dict(BASE, batch_size=0, tumbling_window=-1,
                                                 on_failure_destination="nope"))
    for option in ("batch_size", "tumbling_window", "on_failure_destination"):
        assert option in result["msg"]


@pytest.mark.parametrize("args, option", [
    ({}, "function_name"),  # one of function_name, table_name, stream_arn is required
    ({"function_name": "bad name"}, "function_name"),
    ({"table_name": "x"}, "table_name"),
    ({"stream_arn": "arn:aws:dynamodb:us-east-1:123456789012:table/t"}, "stream_arn"),
    ({"table_name": "users_post", "stream_arn": STREAM}, "stream_arn"),
])
def test_info_bad_input(offline_main, args, option):
    info = importlib.import_module("ansible_collections.streamops.dynamodb_lambda.plugins.modules.stream_trigger_info")
    result = offline_main(info, **args)
    assert result["failed"] is True and option in result["msg"], result["msg"]


def test_desired_tags_keep_the_ownership_tag_only_where_it_is():
    params = {"tags": {"a": "1"}}
    assert stream_trigger.desired_tags(params, None) == {"a": "1", "streamops:managed-by": "streamops.dynamodb_lambda"}
    assert stream_trigger.desired_tags(params, {"streamops:managed-by": "streamops.dynamodb_lambda"}) == \
        {"a": "1", "streamops:managed-by": "streamops.dynamodb_lambda"}
    assert stream_trigger.desired_tags(params, {"b": "2"}) == {"a": "1"}  # a mapping we did not create
    assert stream_trigger.desired_tags({"tags": None}, {"b": "2"}) is None
