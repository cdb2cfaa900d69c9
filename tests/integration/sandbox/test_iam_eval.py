"""The execution role is evaluated for what the mapping and the function do.

AWS pages: IAM User Guide, "Policy evaluation logic"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): an explicit Deny wins,
otherwise an Allow is needed, within the permissions boundary; action names are case-insensitive, `*` and `?` are
wildcards. Lambda developer guide, "Using AWS Lambda with Amazon DynamoDB", "Execution role permissions"
(https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html): the role needs dynamodb:DescribeStream, GetRecords,
GetShardIterator and ListStreams; "Sending Lambda function logs to CloudWatch Logs"
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html): without logs:CreateLogStream and
logs:PutLogEvents the function's logs are not written. CreateEventSourceMapping's refusal is Lambda's
InvalidParameterValueException "Cannot access stream <arn>. Please ensure the role can perform the GetRecords,
GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM." (as reported from AWS in
aws-samples/lambda-refarch-webapp#7, awslabs/dynamodb-continuous-backup#39, aws-amplify/amplify-js#4793), and a
poller without the permissions shows the access-denied text in LastProcessingResult, "PROBLEM: User:
arn:aws:sts::...:assumed-role/<role>/awslambda_... is not authorized to perform: <action> on resource: <arn>" (as
reported from AWS in functionalone/serverless-iam-roles-per-function#3).
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

ACCOUNT, REGION = "123456789012", "us-east-1"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": "lambda.amazonaws.com"}}]}
STREAM = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t.x/stream/2026-01-01T00:00:00.000"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def wait_for(what: str, probe, timeout: float = 30.0, interval: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --- role_allows, in process ----------------------------------------------------------------------------------

@pytest.fixture
def iam():
    from moto import mock_aws

    from sandbox import iam_eval

    iam_eval.reset()
    with mock_aws():
        # Explicit AWS endpoints: the session's AWS_ENDPOINT_URL may point at the sandbox server, not at moto here.
        yield boto3.client("iam", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing",
                           endpoint_url="https://iam.amazonaws.com")
    iam_eval.reset()


def role(iam, name: str = "r", *policies: str) -> str:
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    for i, policy in enumerate(policies):
        iam.put_role_policy(RoleName=name, PolicyName=f"p{i}", PolicyDocument=policy)
    return arn


def allows(arn: str, action: str, resource: str = STREAM) -> bool:
    from sandbox.iam_eval import role_allows

    return role_allows(ACCOUNT, arn, action, resource)


def test_inline_allow_on_the_resource_and_nothing_else(iam) -> None:
    arn = role(iam, "r", doc(allow(["dynamodb:GetRecords"], STREAM)))
    assert allows(arn, "dynamodb:GetRecords")
    assert not allows(arn, "dynamodb:DescribeStream")
    assert not allows(arn, "dynamodb:GetRecords", STREAM.replace("t.x", "other"))


def test_explicit_deny_wins_over_allow_in_another_policy(iam) -> None:
    arn = role(iam, "r", doc(allow("dynamodb:*")),
               doc({"Effect": "Deny", "Action": "dynamodb:GetRecords", "Resource": STREAM}))
    assert allows(arn, "dynamodb:DescribeStream")
    assert not allows(arn, "dynamodb:GetRecords")


def test_action_names_are_case_insensitive_and_question_mark_is_a_wildcard(iam) -> None:
    arn = role(iam, "r", doc(allow("DynamoDB:getrecords"), allow("dynamodb:GetShardIterato?")))
    assert allows(arn, "dynamodb:GetRecords")
    assert allows(arn, "dynamodb:GetShardIterator")


def test_a_dot_in_a_resource_pattern_is_a_dot(iam) -> None:
    # moto's matcher would let "t.x" match "tax"; IAM compares the characters.
    arn = role(iam, "r", doc(allow("dynamodb:GetRecords", STREAM)))
    assert not allows(arn, "dynamodb:GetRecords", STREAM.replace("t.x", "tax"))


def test_not_resource_excludes_and_a_deny_with_not_resource_denies_the_rest(iam) -> None:
    arn = role(iam, "r", doc({"Effect": "Allow", "Action": "dynamodb:GetRecords", "NotResource": STREAM}))
    assert not allows(arn, "dynamodb:GetRecords")
    assert allows(arn, "dynamodb:GetRecords", STREAM.replace("t.x", "other"))
    arn2 = role(iam, "r2", doc(allow("dynamodb:*"),
                               {"Effect": "Deny", "Action": "dynamodb:*", "NotResource": STREAM}))
    assert allows(arn2, "dynamodb:GetRecords")
    assert not allows(arn2, "dynamodb:GetRecords", STREAM.replace("t.x", "other"))


def test_a_conditional_allow_grants_nothing_without_a_request_context(iam) -> None:
    arn = role(iam, "r", doc(allow("dynamodb:GetRecords", Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}})),
               doc(allow("dynamodb:DescribeStream")))
    assert not allows(arn, "dynamodb:GetRecords")
    assert allows(arn, "dynamodb:DescribeStream")  # not an explicit deny, as moto's own evaluator would make it


def test_attached_managed_policy_and_its_new_default_version(iam) -> None:
    arn = role(iam, "r")
    policy = iam.create_policy(PolicyName="m", PolicyDocument=doc(allow("dynamodb:GetRecords")))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="r", PolicyArn=policy)
    assert allows(arn, "dynamodb:GetRecords")
    iam.create_policy_version(PolicyArn=policy, PolicyDocument=doc(allow("dynamodb:DescribeStream")),
                              SetAsDefault=True)
    assert not allows(arn, "dynamodb:GetRecords")  # the cache follows the default version
    assert allows(arn, "dynamodb:DescribeStream")
    iam.detach_role_policy(RoleName="r", PolicyArn=policy)
    assert not allows(arn, "dynamodb:DescribeStream")


def test_changed_and_deleted_inline_policies_are_seen_at_once(iam) -> None:
    arn = role(iam, "r", doc(allow("dynamodb:GetRecords")))
    assert allows(arn, "dynamodb:GetRecords")
    iam.put_role_policy(RoleName="r", PolicyName="p0", PolicyDocument=doc(allow("logs:PutLogEvents")))
    assert not allows(arn, "dynamodb:GetRecords")
    iam.delete_role_policy(RoleName="r", PolicyName="p0")
    assert not allows(arn, "logs:PutLogEvents")


def test_permissions_boundary_limits_what_the_policies_allow(iam) -> None:
    boundary = iam.create_policy(PolicyName="b", PolicyDocument=doc(allow("dynamodb:Get*")))["Policy"]["Arn"]
    arn = role(iam, "r", doc(allow("dynamodb:*")))
    iam.put_role_permissions_boundary(RoleName="r", PermissionsBoundary=boundary)
    assert allows(arn, "dynamodb:GetRecords")
    assert not allows(arn, "dynamodb:DescribeStream")


def test_unknown_role_and_role_with_another_path_allow_nothing(iam) -> None:
    role(iam, "r", doc(allow("*")))
    assert not allows(f"arn:aws:iam::{ACCOUNT}:role/missing", "dynamodb:GetRecords")
    assert not allows(f"arn:aws:iam::{ACCOUNT}:role/other/path/r", "dynamodb:GetRecords")
    assert allows(f"arn:aws:iam::{ACCOUNT}:role/r", "dynamodb:GetRecords")


def test_the_collections_execution_role_policy_passes(iam) -> None:
    """The execution role's inline policy (module_utils/iam.py execution_policy, through the filter the role calls
    with the role's own defaults) allows what Lambda does."""
    from ansible_collections.streamops.dynamodb_lambda.plugins.filter.execution_role_policy import (
        execution_role_policy,
    )

    from sandbox import iam_eval

    stream = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders/stream/2026-01-01T00:00:00.000"
    # As the role calls it with its defaults before ansible-core 2.19 (a null on-failure destination renders '').
    rendered = json.dumps(execution_role_policy(stream, "orders-fn", "", False, None, "execution_role_vpc"))
    arn = role(iam, "exec", rendered)
    assert iam_eval.missing_stream_permissions(ACCOUNT, arn, stream) == []
    log_stream = (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/orders-fn:log-stream:"
                  "2026/01/01/[$LATEST]0123")
    assert all(iam_eval.role_allows(ACCOUNT, arn, a, log_stream) for a in iam_eval.LOG_ACTIONS)
    # and no more than that: another stream, another function's logs
    assert iam_eval.missing_stream_permissions(ACCOUNT, arn, stream.replace("orders", "other")) == [
        "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"]
    assert not iam_eval.role_allows(ACCOUNT, arn, "logs:PutLogEvents", log_stream.replace("orders-fn", "x"))


# --- function_may_write_logs, in process ----------------------------------------------------------------------

def _function(name: str, role_arn: str) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.py", "def handler(e, c):\n    return 1\n")
    boto3.client("lambda", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing",
                 endpoint_url=f"https://lambda.{REGION}.amazonaws.com").create_function(FunctionName=name, Runtime="python3.12", Role=role_arn, Handler="index.handler",
                                   Code={"ZipFile": buf.getvalue()})


@pytest.mark.parametrize("resource, expected", [
    (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fn:*", True),
    (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fn:log-stream:*", True),
    ("*", True),
    (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fn", False),  # the group, not its streams
    (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/other:*", False),
])
def test_function_may_write_logs_follows_the_function_role(iam, resource: str, expected: bool) -> None:
    from sandbox import iam_eval

    arn = role(iam, "fn-role", doc(allow(["logs:CreateLogStream", "logs:PutLogEvents"], resource)))
    _function("fn", arn)
    assert iam_eval.function_may_write_logs(ACCOUNT, REGION, "fn") is expected
    assert iam_eval.function_may_write_logs(ACCOUNT, REGION, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn",
                                            "2026/01/01/[$LATEST]abc") is expected


def test_function_may_write_logs_needs_both_actions_and_a_known_function(iam) -> None:
    from sandbox import iam_eval

    arn = role(iam, "fn-role", doc(allow("logs:PutLogEvents")))
    _function("fn", arn)
    assert not iam_eval.function_may_write_logs(ACCOUNT, REGION, "fn")
    assert not iam_eval.function_may_write_logs(ACCOUNT, REGION, "missing")
    iam.put_role_policy(RoleName="fn-role", PolicyName="p1", PolicyDocument=doc(allow("logs:CreateLogStream")))
    assert iam_eval.function_may_write_logs(ACCOUNT, REGION, "fn")


# --- CreateEventSourceMapping and the poller, through the sandbox -----------------------------------------------

HANDLER = '''
import json

def handler(event, context):
    print(json.dumps({"kind": "batch", "keys": [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]}))
'''


def make_table(aws) -> str:
    return aws("dynamodb").create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]["LatestStreamArn"]


def bare_role(aws, name: str, *policies: str) -> str:
    iam = aws("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    for i, policy in enumerate(policies):
        iam.put_role_policy(RoleName=name, PolicyName=f"p{i}", PolicyDocument=policy)
    return arn


def make_function(aws, name: str, role_arn: str) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.py", HANDLER)
    lam = aws("lambda")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role_arn, Handler="index.handler",
                        Code={"ZipFile": buf.getvalue()})
    wait_for("function Active", lambda: lam.get_function(FunctionName=name)["Configuration"]["State"] == "Active")


def delivered(aws, function: str) -> list[str]:
    logs = aws("logs")
    try:
        events = [e for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{function}") for e in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [k for e in events if e["message"].strip().startswith('{"kind": "batch"')
            for k in json.loads(e["message"])["keys"]]


def create_error(aws, function: str, stream: str) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        aws("lambda").create_event_source_mapping(FunctionName=function, EventSourceArn=stream,
                                                  StartingPosition="TRIM_HORIZON")
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


STREAM_ACTIONS = ["dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream",
                  "dynamodb:ListStreams"]


@pytest.mark.parametrize("policies", [
    (),  # trust only
    (doc(allow(STREAM_ACTIONS[:3])),),  # ListStreams missing
    (doc(allow(STREAM_ACTIONS, "arn:aws:dynamodb:*:*:table/other/stream/*")),),  # another table's streams
    (doc(allow(STREAM_ACTIONS)), doc({"Effect": "Deny", "Action": "dynamodb:GetRecords", "Resource": "*"})),
], ids=["no-policy", "no-list-streams", "other-table", "explicit-deny"])
def test_create_refuses_a_role_that_cannot_read_the_stream(aws, policies) -> None:
    stream = make_table(aws)
    make_function(aws, "fn", bare_role(aws, "weak", *policies))
    assert create_error(aws, "fn", stream) == ("InvalidParameterValueException", (
        f"Cannot access stream {stream}. Please ensure the role can perform the GetRecords, GetShardIterator, "
        "DescribeStream, and ListStreams Actions on your stream in IAM."))
    assert aws("lambda").list_event_source_mappings()["EventSourceMappings"] == []


def test_create_accepts_the_dynamodb_guides_example_policy(aws) -> None:
    """The DynamoDB developer guide's policy for Lambda scopes all four actions to the table's streams."""
    stream = make_table(aws)
    make_function(aws, "fn", bare_role(aws, "scoped", doc(allow(
        STREAM_ACTIONS, f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t/stream/*"))))
    assert aws("lambda").create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                                     StartingPosition="LATEST")["State"] == "Creating"


def test_update_to_a_function_whose_role_cannot_read_is_refused(aws) -> None:
    stream = make_table(aws)
    make_function(aws, "good", aws.lambda_role())
    make_function(aws, "bad", bare_role(aws, "weak"))
    lam = aws("lambda")
    uuid = lam.create_event_source_mapping(FunctionName="good", EventSourceArn=stream,
                                           StartingPosition="LATEST")["UUID"]
    wait_for("Enabled", lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled")
    with pytest.raises(ClientError) as info:
        lam.update_event_source_mapping(UUID=uuid, FunctionName="bad")
    assert info.value.response["Error"]["Message"].startswith(f"Cannot access stream {stream}.")


def test_iam_evaluation_off_accepts_any_role(aws, sandbox) -> None:
    sandbox.configure(iam_evaluation=False)
    stream = make_table(aws)
    make_function(aws, "fn", bare_role(aws, "weak"))
    aws("lambda").create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST")


def test_poller_stops_reading_when_the_role_loses_the_stream_permissions(aws) -> None:
    stream = make_table(aws)
    make_function(aws, "fn", bare_role(aws, "reader", doc(allow(STREAM_ACTIONS)),
                                       doc(allow(["logs:CreateLogGroup", "logs:CreateLogStream",
                                                  "logs:PutLogEvents"]))))
    make_function(aws, "witness", aws.lambda_role())
    lam, iam = aws("lambda"), aws("iam")
    mappings = [lam.create_event_source_mapping(FunctionName=f, EventSourceArn=stream,
                                                StartingPosition="TRIM_HORIZON")["UUID"] for f in ("fn", "witness")]
    for uuid in mappings:
        wait_for("Enabled", lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled")
    aws("dynamodb").put_item(TableName="t", Item={"pk": {"S": "before"}})
    wait_for("'before' delivered", lambda: delivered(aws, "fn") == ["before"])

    iam.delete_role_policy(RoleName="reader", PolicyName="p0")
    expected = (f"is not authorized to perform: dynamodb:DescribeStream on resource: {stream}")
    result = wait_for("the access problem reported", lambda: (
        r := lam.get_event_source_mapping(UUID=mappings[0])["LastProcessingResult"]).startswith("PROBLEM") and r)
    assert result.startswith(f"PROBLEM: User: arn:aws:sts::{ACCOUNT}:assumed-role/reader/awslambda_")
    assert result.endswith(expected)
    aws("dynamodb").put_item(TableName="t", Item={"pk": {"S": "while-denied"}})
    wait_for("the witness got it", lambda: "while-denied" in delivered(aws, "witness"))
    assert delivered(aws, "fn") == ["before"]

    iam.put_role_policy(RoleName="reader", PolicyName="p0", PolicyDocument=doc(allow(STREAM_ACTIONS)))
    wait_for("delivery resumes", lambda: delivered(aws, "fn") == ["before", "while-denied"])
    assert wait_for("OK again", lambda: lam.get_event_source_mapping(UUID=mappings[0])["LastProcessingResult"]
                    == "OK")
