"""The ARN filters the roles use instead of splitting ARNs in Jinja: the same code as the modules'."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.streamops.dynamodb_lambda.plugins.filter.arn_beside import arn_beside
from ansible_collections.streamops.dynamodb_lambda.plugins.filter.arn_parts import arn_parts
from ansible_collections.streamops.dynamodb_lambda.plugins.filter.placeholder_arn import placeholder_arn
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import arns

STREAM = "arn:aws-us-gov:dynamodb:us-gov-west-1:123456789012:table/t/stream/label"


def test_arn_parts():
    assert arn_parts("arn:aws:sns:us-east-1:123456789012:topic") == {
        "partition": "aws", "service": "sns", "region": "us-east-1", "account_id": "123456789012", "resource": "topic"}


def test_arn_beside():
    assert arn_beside(STREAM, "iam", "role/r") == "arn:aws-us-gov:iam::123456789012:role/r"
    assert arn_beside(STREAM, "logs", "log-group:/aws/lambda/f") == \
        "arn:aws-us-gov:logs:us-gov-west-1:123456789012:log-group:/aws/lambda/f"


@pytest.mark.parametrize("call", [lambda: arn_parts("queue"), lambda: arn_beside("queue", "iam", "role/r"),
                                  lambda: placeholder_arn("t", "bucket"),
                                  lambda: placeholder_arn("fn", "function", "not-an-arn")])
def test_bad_input_is_a_filter_error(call):
    with pytest.raises(AnsibleFilterError):
        call()


def test_placeholders_come_from_arns():
    table = placeholder_arn("t", "table")
    assert table == arns.placeholder_table_arn("t")
    assert placeholder_arn(table, "stream") == arns.placeholder_stream_arn(table)
    assert placeholder_arn("fn", "function", "arn:aws:iam::123456789012:role/r") == \
        arns.placeholder_function_arn("fn", "arn:aws:iam::123456789012:role/r")
    assert arns.is_placeholder(placeholder_arn(table, "stream"))
