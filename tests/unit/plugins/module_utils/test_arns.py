"""module_utils/arns: ARN parsing and the naming rules for functions, tables and streams."""

from __future__ import annotations

import pytest

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import arns

FN = "arn:aws:lambda:us-east-1:123456789012:function:demo"
STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/users_post/stream/2024-05-01T12:00:00.000"


def test_parse_arn_splits_resource_with_colons():
    arn = arns.parse_arn(FN + ":live")
    assert arn == arns.Arn("aws", "lambda", "us-east-1", "123456789012", "function:demo:live")


@pytest.mark.parametrize("text", ["", "demo", "arn:aws:lambda", "arn:xyz:lambda:r:a:function:x", "arn:aws::r:a:x",
                                  "arn:aws:sqs:r:a:", None, 42])
def test_parse_arn_rejects(text):
    with pytest.raises(ValueError):
        arns.parse_arn(text)


def test_require_service():
    assert arns.require_service("arn:aws:sqs:us-east-1:123456789012:dlq", ("sqs", "sns")).service == "sqs"
    with pytest.raises(ValueError, match="s3 ARN; expected one of: sqs, sns"):
        arns.require_service("arn:aws:s3:::bucket", ("sqs", "sns"))


@pytest.mark.parametrize("text, expected", [
    ("demo", ("demo", None, None)),
    ("demo:live", ("demo", "live", None)),
    ("demo:$LATEST", ("demo", "$LATEST", None)),
    ("demo:7", ("demo", "7", None)),
    (FN, ("demo", None, FN)),
    (FN + ":live", ("demo", "live", FN)),
    ("arn:aws-cn:lambda:cn-north-1:123456789012:function:x_y-z", ("x_y-z", None,
                                                                  "arn:aws-cn:lambda:cn-north-1:123456789012:function:x_y-z")),
])
def test_parse_function_ref(text, expected):
    assert tuple(arns.parse_function_ref(text)) == expected


@pytest.mark.parametrize("text, fragment", [
    ("x" * 65, "1-64 characters"),
    ("bad name", "1-64 characters"),
    ("a:b:c", "neither"),
    ("demo:bad qualifier", "qualifier"),
    ("arn:aws:sqs:us-east-1:123456789012:queue", "not a Lambda function ARN"),
    ("arn:aws:lambda:us-east-1:123456789012:layer:x", "not a Lambda function ARN"),
    ("", "expected a function name"),
])
def test_parse_function_ref_rejects(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        arns.parse_function_ref(text)


def test_stream_arn_helpers():
    arn, table, label = arns.parse_stream_arn(STREAM)
    assert (arn.service, table, label) == ("dynamodb", "users_post", "2024-05-01T12:00:00.000")
    table_arn = arns.table_arn_of_stream(STREAM)
    assert table_arn == "arn:aws:dynamodb:us-east-1:123456789012:table/users_post"
    assert arns.is_stream_of_table(STREAM, table_arn)
    assert not arns.is_stream_of_table(STREAM.replace("users_post", "users_post2"), table_arn)
    assert not arns.is_stream_of_table(None, table_arn)
    assert arns.table_arn_beside(FN, "users_post") == table_arn
    with pytest.raises(ValueError, match="not a DynamoDB stream ARN"):
        arns.parse_stream_arn(table_arn)


def test_function_arn_helpers():
    assert arns.unqualified_function_arn(FN + ":live") == FN
    assert arns.unqualified_function_arn(FN + ":$LATEST") == FN and arns.unqualified_function_arn(FN) == FN
    assert arns.qualify(FN + ":3", "live") == FN + ":live"
    assert arns.qualify(FN, None) == FN
    assert arns.same_function(FN, FN + ":$LATEST")
    assert not arns.same_function(FN, FN + ":live")


@pytest.mark.parametrize("name, ok", [("users_post", True), ("a.b-c_d", True), ("ab", False), ("x" * 256, False),
                                      ("has space", False), ("a/b", False)])
def test_validate_table_name(name, ok):
    if ok:
        assert arns.validate_table_name(name) == name
    else:
        with pytest.raises(ValueError, match="not a valid DynamoDB table name"):
            arns.validate_table_name(name)


STREAM_ARN = "arn:aws-cn:dynamodb:cn-north-1:123456789012:table/users_post/stream/2024-01-01T00:00:00.000"


def test_arn_beside_keeps_partition_account_and_region_and_drops_the_region_for_iam():
    assert arns.arn_beside(STREAM_ARN, "logs", "log-group:/aws/lambda/fn") == \
        "arn:aws-cn:logs:cn-north-1:123456789012:log-group:/aws/lambda/fn"
    assert arns.log_group_arn_beside(STREAM_ARN, "/aws/lambda/fn") == \
        "arn:aws-cn:logs:cn-north-1:123456789012:log-group:/aws/lambda/fn"
    assert arns.arn_beside(STREAM_ARN, "iam", "role/r") == "arn:aws-cn:iam::123456789012:role/r"
    assert arns.arn_beside(STREAM_ARN, "lambda", "function:f", region="eu-west-1") == \
        "arn:aws-cn:lambda:eu-west-1:123456789012:function:f"
    with pytest.raises(ValueError):
        arns.arn_beside("users_post", "logs", "log-group:x")


def test_placeholders_are_marked_and_real_arns_are_not():
    table = arns.placeholder_table_arn("users_post")
    stream = arns.placeholder_stream_arn(table)
    function = arns.placeholder_function_arn("fn", "arn:aws:iam::123456789012:role/r")
    assert table == "arn:aws:dynamodb:check-mode:000000000000:table/users_post"
    assert stream == table + "/stream/check-mode-placeholder"
    assert function == "arn:aws:lambda:check-mode:123456789012:function:fn"
    # A placeholder still parses as what it stands for, so the next roles can plan with it.
    assert arns.parse_stream_arn(stream)[1] == "users_post"
    assert arns.parse_function_ref(function).name == "fn"
    assert all(arns.is_placeholder(arn) for arn in (table, stream, function))
    # A real table's stream before it is enabled: only the label marks it.
    assert arns.is_placeholder(arns.placeholder_stream_arn("arn:aws:dynamodb:us-east-1:123456789012:table/t"))
    assert not arns.is_placeholder(STREAM_ARN)
    assert not arns.is_placeholder("arn:aws:lambda:us-east-1:123456789012:function:fn")
    assert not arns.is_placeholder("fn")
