"""Fault injection knobs: throttling (each service's real error, parsed and retried by boto3) and the IAM
propagation window."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})

# service -> (a cheap read call, expected error code, expected HTTP status)
THROTTLED_CALLS = {
    "dynamodb": (lambda c: c.list_tables(), "ThrottlingException", 400),
    "dynamodbstreams": (lambda c: c.list_streams(), "LimitExceededException", 400),
    "lambda": (lambda c: c.list_functions(), "TooManyRequestsException", 429),
    "iam": (lambda c: c.list_roles(), "Throttling", 400),
    "sts": (lambda c: c.get_caller_identity(), "Throttling", 400),
    "logs": (lambda c: c.describe_log_groups(), "ThrottlingException", 400),
    "sqs": (lambda c: c.list_queues(), "RequestThrottled", 400),
    "sns": (lambda c: c.list_topics(), "Throttled", 429),
}


@pytest.mark.parametrize("service", sorted(THROTTLED_CALLS))
def test_throttle_one_answers_every_call_with_the_services_throttling_error(aws, sandbox, service):
    call, code, status = THROTTLED_CALLS[service]
    client = aws(service, config=NO_RETRY)
    sandbox.configure(throttle=1.0)
    for _attempt in range(3):
        with pytest.raises(ClientError) as excinfo:
            call(client)
        assert excinfo.value.response["Error"]["Code"] == code
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    sandbox.configure(throttle=0)
    call(client)  # the knob is live: off again means calls pass


def test_admin_calls_are_never_throttled(sandbox):
    sandbox.configure(throttle=1.0)
    assert sandbox.stats()["total"] >= 0
    assert sandbox.configure(throttle=1.0)["throttle"] == 1.0


@pytest.mark.parametrize("service", ["dynamodb", "lambda", "iam"])
def test_botocore_classifies_the_errors_as_throttling(aws, sandbox, service):
    """boto3's retry handler must see a throttle (so it backs off and retries), not a generic client error."""
    call = THROTTLED_CALLS[service][0]
    client = aws(service, config=Config(retries={"total_max_attempts": 3, "mode": "standard"}))
    sandbox.configure(throttle=1.0)
    sandbox.reset_stats()
    with pytest.raises(ClientError):
        call(client)
    assert sandbox.stats()["total"] == 3, sandbox.stats()  # three attempts: botocore retried the throttling error twice


def test_partial_throttle_is_ridden_out_by_boto3_retries(aws, sandbox):
    # legacy is boto3's default retry mode (and its DynamoDB backoff starts at 50 ms, which keeps this fast)
    ddb = aws("dynamodb", config=Config(retries={"total_max_attempts": 10, "mode": "legacy"}))
    sandbox.configure(throttle=0.2, seed=7)
    sandbox.reset_stats()
    ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    for i in range(20):
        ddb.put_item(TableName="t", Item={"id": {"S": str(i)}})
    assert ddb.scan(TableName="t")["Count"] == 20
    calls = sandbox.stats()["total"]
    assert calls > 22, "with P=0.2 (seed 7) over 22 calls some must have been throttled and retried"


def test_the_same_seed_replays_the_same_throttling(aws, sandbox):
    ddb = aws("dynamodb", config=NO_RETRY)

    def outcomes() -> list[bool]:
        sandbox.configure(throttle=0.5, seed=1234)
        seen = []
        for _call in range(20):
            try:
                ddb.list_tables()
                seen.append(True)
            except ClientError:
                seen.append(False)
        sandbox.reset()
        return seen

    first, second = outcomes(), outcomes()
    assert first == second
    assert True in first and False in first


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("handler.py", "def main(event, context):\n    return event\n")
    return buf.getvalue()


def _create_function(lam, role_arn: str, name: str = "fn"):
    return lam.create_function(FunctionName=name, Runtime="python3.12", Role=role_arn, Handler="handler.main",
                               Code={"ZipFile": _zip()})


def test_propagation_window_opens_after_put_role_policy_and_closes_after_the_delay(aws, sandbox):
    """AWS: a role that just changed cannot be assumed by Lambda for a few seconds; CreateFunction fails with
    InvalidParameterValueException 'The role defined for the function cannot be assumed by Lambda.'"""
    iam, lam = aws("iam"), aws("lambda")
    role = iam.create_role(RoleName="fresh", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    delay = 1.5
    sandbox.configure(iam_propagation_delay=delay)
    iam.put_role_policy(RoleName="fresh", PolicyName="logs", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}))
    changed = time.monotonic()
    with pytest.raises(ClientError) as excinfo:
        _create_function(lam, role)
    err = excinfo.value.response["Error"]
    assert err["Code"] == "InvalidParameterValueException"
    assert err["Message"] == "The role defined for the function cannot be assumed by Lambda."
    deadline = changed + delay + 5
    while True:
        try:
            _create_function(lam, role)
            break
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "InvalidParameterValueException"
            assert time.monotonic() < deadline, "the propagation window never closed"
            time.sleep(0.1)
    opened_for = time.monotonic() - changed
    assert opened_for >= delay - 0.05


@pytest.mark.parametrize("operation", ["CreateRole", "AttachRolePolicy", "UpdateAssumeRolePolicy"])
def test_other_role_changes_open_the_window_too(aws, sandbox, operation):
    iam, lam = aws("iam"), aws("lambda")
    if operation != "CreateRole":
        iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST)
        _create_function(lam, "arn:aws:iam::123456789012:role/r", "before")
    sandbox.configure(iam_propagation_delay=30)
    if operation == "CreateRole":
        iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST)
    elif operation == "AttachRolePolicy":
        policy = iam.create_policy(PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        iam.attach_role_policy(RoleName="r", PolicyArn=policy["Policy"]["Arn"])
    else:
        iam.update_assume_role_policy(RoleName="r", PolicyDocument=TRUST)
    with pytest.raises(ClientError) as excinfo:
        _create_function(lam, "arn:aws:iam::123456789012:role/r", "during")
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"
    if operation != "CreateRole":
        # UpdateFunctionConfiguration re-checks the function's role even when Role is not being changed.
        with pytest.raises(ClientError) as excinfo:
            lam.update_function_configuration(FunctionName="before", Timeout=5)
        assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_window_belongs_to_changes_made_while_the_delay_is_set(aws, sandbox):
    """Only roles changed while the knob is on are affected; turning the knob off closes open windows."""
    iam, lam = aws("iam"), aws("lambda")
    iam.create_role(RoleName="old", AssumeRolePolicyDocument=TRUST)
    sandbox.configure(iam_propagation_delay=30)
    iam.create_role(RoleName="new", AssumeRolePolicyDocument=TRUST)
    _create_function(lam, "arn:aws:iam::123456789012:role/old")
    with pytest.raises(ClientError) as excinfo:
        _create_function(lam, "arn:aws:iam::123456789012:role/new", "fn2")
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"
    sandbox.configure(iam_propagation_delay=0)
    _create_function(lam, "arn:aws:iam::123456789012:role/new", "fn2")


def test_reset_closes_every_window(aws, sandbox):
    iam, lam = aws("iam"), aws("lambda")
    sandbox.configure(iam_propagation_delay=30)
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST)
    sandbox.reset()  # wipes the role and sets the knob to 0
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST)  # knob off: this change opens no window
    sandbox.configure(iam_propagation_delay=30)
    _create_function(lam, "arn:aws:iam::123456789012:role/r")  # only a change remembered across reset could refuse
