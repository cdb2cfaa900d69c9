"""The execution role's inline policy: what each statement allows, on which resources, and when it is there."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.streamops.dynamodb_lambda.plugins.filter.execution_role_policy import execution_role_policy

STREAM = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000"
LOG_GROUP = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/orders-fn"
VPC = {"subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": ["sg-0123456789abcdef0"]}


def _by_sid(policy):
    assert policy["Version"] == "2012-10-17"
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert len(statements) == len(policy["Statement"])
    assert all(s["Effect"] == "Allow" for s in statements.values())
    return statements


def test_the_stream_and_the_functions_log_group_only():
    statements = _by_sid(execution_role_policy(STREAM, "orders-fn"))
    assert set(statements) == {"ReadThisStream", "ListStreamsHasNoResourceLevelPermissions",
                               "CreateThisFunctionsLogGroup", "WriteThisFunctionsLogs"}
    assert statements["ReadThisStream"]["Resource"] == STREAM
    assert statements["ReadThisStream"]["Action"] == [
        "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
    # IAM honours ListStreams only with "*" (no resource type): the one wildcard, and it reads no record.
    assert statements["ListStreamsHasNoResourceLevelPermissions"] == {
        "Sid": "ListStreamsHasNoResourceLevelPermissions", "Effect": "Allow", "Action": ["dynamodb:ListStreams"],
        "Resource": "*"}
    assert statements["CreateThisFunctionsLogGroup"]["Resource"] == [LOG_GROUP, LOG_GROUP + ":*"]
    assert statements["WriteThisFunctionsLogs"] == {
        "Sid": "WriteThisFunctionsLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": LOG_GROUP + ":*"}


def test_the_partition_region_and_account_come_from_the_stream():
    stream = "arn:aws-cn:dynamodb:cn-north-1:210987654321:table/t/stream/2026-01-01T00:00:00.000"
    statements = _by_sid(execution_role_policy(stream, "fn"))
    assert statements["WriteThisFunctionsLogs"]["Resource"] == (
        "arn:aws-cn:logs:cn-north-1:210987654321:log-group:/aws/lambda/fn:*")


@pytest.mark.parametrize("destination, action", [
    ("arn:aws:sqs:eu-west-1:123456789012:failed", "sqs:SendMessage"),
    ("arn:aws:sns:eu-west-1:123456789012:failed", "sns:Publish"),
])
def test_the_on_failure_destination_gets_its_own_send_on_that_arn_only(destination, action):
    statement = _by_sid(execution_role_policy(STREAM, "orders-fn", destination))[
        "SendFailedBatchesToTheOnFailureDestination"]
    assert statement["Action"] == [action] and statement["Resource"] == destination


@pytest.mark.parametrize("unset", [None, ""])  # "" is a null variable before ansible-core 2.19
def test_no_destination_no_tracing_no_vpc_add_nothing(unset):
    assert len(execution_role_policy(STREAM, "orders-fn", unset, False, unset)["Statement"]) == 4


def test_tracing_adds_the_xray_writes():
    statement = _by_sid(execution_role_policy(STREAM, "orders-fn", tracing=True))[
        "WriteTracesXRayHasNoResourceLevelPermissions"]
    assert statement["Action"] == ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]


def test_a_vpc_adds_the_network_interface_statements_of_the_streams_account_and_region():
    statements = _by_sid(execution_role_policy(STREAM, "orders-fn", vpc=VPC))
    create = statements["CreateNetworkInterfacesInTheseSubnetsWithTheseGroups"]["Resource"]
    assert "arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-0123456789abcdef0" in create
    assert "DescribeNetworkInterfacesHasNoResourceLevelPermissions" in statements


def test_a_bad_vpc_fails_naming_the_callers_word():
    with pytest.raises(AnsibleFilterError, match="function_vpc"):
        execution_role_policy(STREAM, "orders-fn", vpc={"subnet_ids": "subnet-1"}, vpc_name="function_vpc")


def test_a_stream_that_is_not_an_arn_fails():
    with pytest.raises(AnsibleFilterError, match="not an ARN"):
        execution_role_policy("orders", "orders-fn")
