"""The transitions the collection's waits exist for, behind the latency knobs (0 by default).

- UpdateTable: "the table status changes from ACTIVE to UPDATING ... while UPDATING you cannot issue another
  UpdateTable request" and ResourceInUseException is "the operation conflicts with the resource's availability ...
  attempting to recreate an existing table, or ... delete a table currently in the CREATING state"
  (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html,
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithTables.Basics.html#WorkingWithTables.Basics.UpdateTable).
- StreamStatus ENABLING / ENABLED / DISABLING / DISABLED
  (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_StreamDescription.html).
- Lambda function states: Pending after create, LastUpdateStatus InProgress after an update; "while the update is
  in progress ... operations that modify the function fail" with ResourceConflictException
  (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html,
  https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html#API_UpdateFunctionCode_Errors).
"""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
import zipfile

import pytest
from botocore.exceptions import ClientError

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
KNOBS = ("table_transition", "stream_transition", "function_transition", "table_create_transition")


@pytest.fixture
def knobs(sandbox):
    def set_knobs(**values):
        sandbox.configure(**values)

    yield set_knobs
    sandbox.configure(**{k: 0 for k in KNOBS})


def _table(aws, name="tt", stream=None):
    extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": stream}} if stream else {}
    aws("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                 AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                                 KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}], **extra)
    return name


def _status(aws, name="tt"):
    return aws("dynamodb").describe_table(TableName=name)["Table"]["TableStatus"]


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _error(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def _zip(body="def handler(event, context):\n    return 1\n") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("h.py", body)
    return buf.getvalue()


def _function(aws, name="tf"):
    role = aws("iam").create_role(RoleName="tr", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    return aws("lambda").create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="h.handler",
                                         Code={"ZipFile": _zip()})


def test_at_zero_a_second_update_table_right_away_succeeds(aws):
    """The knobs default to 0: nothing lasts, as before they existed."""
    _table(aws, stream="KEYS_ONLY")
    ddb = aws("dynamodb")
    ddb.update_table(TableName="tt", StreamSpecification={"StreamEnabled": False})
    ddb.update_table(TableName="tt", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    assert _status(aws) == "ACTIVE"


def test_update_table_leaves_the_table_updating_and_refuses_a_second_update(aws, knobs):
    _table(aws)
    # Long enough that the reads right after the change land inside it on a loaded machine (0.6 s did not).
    knobs(table_transition=3.0)
    ddb = aws("dynamodb")
    answer = ddb.update_table(TableName="tt", BillingMode="PROVISIONED",
                              ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    assert answer["TableDescription"]["TableStatus"] == "UPDATING"
    assert _status(aws) == "UPDATING"
    with pytest.raises(ClientError) as excinfo:
        ddb.update_table(TableName="tt", BillingMode="PAY_PER_REQUEST")
    assert _error(excinfo) == ("ResourceInUseException",
                               "Attempt to change a resource which is still in use: Table is being updated: tt", 400)
    assert _wait(lambda: _status(aws) == "ACTIVE")
    ddb.update_table(TableName="tt", BillingMode="PAY_PER_REQUEST")


def test_a_new_table_is_creating_refuses_items_and_updates_then_becomes_active(aws, knobs):
    """CreateTable "immediately returns a response with a TableStatus of CREATING ... You can perform read and write
    operations only on an ACTIVE table" (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html).
    """
    # Long enough that the reads right after the change land inside it on a loaded machine (0.6 s did not).
    knobs(table_create_transition=3.0)
    ddb = aws("dynamodb")
    answer = ddb.create_table(TableName="tc", BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])
    assert answer["TableDescription"]["TableStatus"] == "CREATING"
    assert _status(aws, "tc") == "CREATING"
    with pytest.raises(ClientError) as excinfo:
        ddb.put_item(TableName="tc", Item={"k": {"S": "a"}})
    assert _error(excinfo) == ("ResourceNotFoundException", "Requested resource not found", 400)
    with pytest.raises(ClientError) as excinfo:
        ddb.update_table(TableName="tc", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    assert _error(excinfo)[:2] == ("ResourceInUseException",
                                   "Attempt to change a resource which is still in use: Table is being created: tc")
    assert _wait(lambda: _status(aws, "tc") == "ACTIVE")
    ddb.put_item(TableName="tc", Item={"k": {"S": "a"}})


def test_the_aws_latency_profile_sets_every_timing_knob_and_an_explicit_knob_wins(sandbox):
    try:
        config = sandbox.configure(latency="aws", mapping_transition=0.25)
        assert config["latency"] == "aws" and config["mapping_transition"] == 0.25
        assert all(config[k] > 0 for k in ("iam_propagation_delay", "function_transition", "poller_start_delay",
                                           "table_transition", "stream_transition", "table_create_transition"))
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            sandbox.configure(latency="mars")
        assert "unknown latency profile 'mars'" in str(excinfo.value)
    finally:
        config = sandbox.configure(latency="zero")
    assert config["latency"] == "zero" and config["mapping_transition"] == 0 and config["poller_start_delay"] == 0


def test_a_stream_is_disabling_then_enabling_and_the_table_refuses_the_enable_meanwhile(aws, knobs):
    _table(aws, stream="KEYS_ONLY")
    ddb, streams = aws("dynamodb"), aws("dynamodbstreams")
    old = ddb.describe_table(TableName="tt")["Table"]["LatestStreamArn"]
    # Long enough that the reads right after the change land inside it on a loaded machine (0.6 s did not).
    knobs(stream_transition=3.0)
    answer = ddb.update_table(TableName="tt", StreamSpecification={"StreamEnabled": False})
    assert answer["TableDescription"]["TableStatus"] == "UPDATING"
    assert streams.describe_stream(StreamArn=old)["StreamDescription"]["StreamStatus"] == "DISABLING"
    with pytest.raises(ClientError) as excinfo:
        ddb.update_table(TableName="tt", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    assert _error(excinfo)[0] == "ResourceInUseException"
    assert _wait(lambda: _status(aws) == "ACTIVE")
    assert streams.describe_stream(StreamArn=old)["StreamDescription"]["StreamStatus"] == "DISABLED"
    new = ddb.update_table(TableName="tt", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    new_arn = new["TableDescription"]["LatestStreamArn"]
    assert new_arn != old
    assert streams.describe_stream(StreamArn=new_arn)["StreamDescription"]["StreamStatus"] == "ENABLING"
    assert _wait(lambda: streams.describe_stream(StreamArn=new_arn)["StreamDescription"]["StreamStatus"] == "ENABLED")


def test_a_new_function_is_pending_and_refuses_updates_and_invokes_until_active(aws, knobs):
    knobs(function_transition=0.6)
    created = _function(aws)
    assert created["State"] == "Pending"
    lam = aws("lambda")
    conf = lam.get_function_configuration(FunctionName="tf")
    assert (conf["State"], conf["StateReasonCode"]) == ("Pending", "Creating")
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName="tf", Timeout=5)
    assert _error(excinfo) == ("ResourceConflictException", "The operation cannot be performed at this time. The "
                               "function is currently in the following state: Pending", 409)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName="tf", Payload=b"{}")
    assert _error(excinfo)[0] == "ResourceConflictException"
    assert _wait(lambda: lam.get_function(FunctionName="tf")["Configuration"]["State"] == "Active")
    assert lam.update_function_configuration(FunctionName="tf", Timeout=5)["LastUpdateStatus"] == "InProgress"


def test_an_update_is_in_progress_and_a_second_update_right_after_fails(aws, knobs):
    _function(aws)
    knobs(function_transition=0.6)
    lam = aws("lambda")
    arn = lam.update_function_configuration(FunctionName="tf", Timeout=5)["FunctionArn"]
    assert lam.get_function_configuration(FunctionName="tf")["LastUpdateStatus"] == "InProgress"
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_code(FunctionName="tf", ZipFile=_zip("def handler(e, c):\n    return 2\n"))
    assert _error(excinfo) == ("ResourceConflictException", "The operation cannot be performed at this time. An "
                               f"update is in progress for resource: {arn}", 409)
    assert lam.invoke(FunctionName="tf", Payload=b"{}")["StatusCode"] == 200  # invocations go on meanwhile
    assert _wait(lambda: lam.get_function_configuration(FunctionName="tf")["LastUpdateStatus"] == "Successful")
    lam.update_function_code(FunctionName="tf", ZipFile=_zip("def handler(e, c):\n    return 2\n"))


def _next_state(sandbox, **body):
    req = urllib.request.Request(sandbox.url + "/_sandbox/lambda/next-state", data=json.dumps(body).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_the_next_create_can_be_made_to_fail_with_a_state_reason(aws, sandbox):
    _next_state(sandbox, operation="CreateFunction", state="Failed", reason="Lambda was unable to configure access "
                "to your environment variables because the KMS key is invalid.", reason_code="InvalidConfiguration")
    assert _function(aws)["State"] == "Pending"
    conf = aws("lambda").get_function_configuration(FunctionName="tf")
    assert (conf["State"], conf["StateReasonCode"]) == ("Failed", "InvalidConfiguration")
    assert conf["StateReason"].startswith("Lambda was unable to configure access")
    # only the next create: another function is Active
    aws("lambda").create_function(FunctionName="tf2", Runtime="python3.11", Role=conf["Role"], Handler="h.handler",
                                  Code={"ZipFile": _zip()})
    assert aws("lambda").get_function_configuration(FunctionName="tf2")["State"] == "Active"


def test_the_next_update_can_fail_or_stay_in_progress(aws, sandbox):
    _function(aws)
    lam = aws("lambda")
    _next_state(sandbox, operation="UpdateFunctionConfiguration", state="Failed", reason="bad", reason_code="X")
    lam.update_function_configuration(FunctionName="tf", Timeout=5)
    conf = lam.get_function_configuration(FunctionName="tf")
    assert (conf["LastUpdateStatus"], conf["LastUpdateStatusReason"]) == ("Failed", "bad")
    _next_state(sandbox, operation="UpdateFunctionCode", state="Pending", seconds=0.5)
    lam.update_function_code(FunctionName="tf", ZipFile=_zip())
    assert lam.get_function_configuration(FunctionName="tf")["LastUpdateStatus"] == "InProgress"
    assert _wait(lambda: lam.get_function_configuration(FunctionName="tf")["LastUpdateStatus"] == "Successful")


# --- the collection's waits matter ----------------------------------------------------------------------------
def test_dynamodb_stream_changes_the_view_type_while_transitions_last(aws, knobs, run_module):
    """Disable then enable: the enable is refused while the table is UPDATING, so the module must wait between."""
    _table(aws, name="users_post", stream="KEYS_ONLY")
    knobs(table_transition=0.5, stream_transition=0.5)
    started = time.monotonic()
    result = run_module("dynamodb_stream", table_name="users_post", view_type="NEW_IMAGE")
    assert result.get("failed") is not True, result
    assert result["stream_replaced"] is True and result["view_type"] == "NEW_IMAGE"
    assert time.monotonic() - started >= 0.5  # it waited out at least one transition
    assert aws("dynamodb").describe_table(TableName="users_post")["Table"]["StreamSpecification"] == {
        "StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}


def test_dynamodb_stream_creates_a_table_and_waits_while_it_is_creating(aws, knobs, run_module):
    knobs(table_create_transition=0.5)
    result = run_module("dynamodb_stream", table_name="fresh_table", view_type="NEW_IMAGE", create_table={"hash_key": {"name": "k", "type": "S"}})
    assert result.get("failed") is not True, result
    assert result["changed"] is True and _status(aws, "fresh_table") == "ACTIVE"


def test_stream_function_updates_configuration_then_code_while_transitions_last(aws, knobs, run_module, tmp_path):
    role = aws("iam").create_role(RoleName="sf-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    src = tmp_path / "src"
    src.mkdir()
    (src / "handler.py").write_text("def lambda_handler(event, context):\n    return 1\n")
    knobs(function_transition=0.5)
    args = {"function_name": "sf-fn", "src": str(src), "handler": "handler.lambda_handler", "runtime": "python3.12",
            "role": role}
    first = run_module("stream_function", **args)
    assert first.get("failed") is not True, first
    (src / "handler.py").write_text("def lambda_handler(event, context):\n    return 2\n")
    second = run_module("stream_function", timeout=7, **args)  # new configuration and new code in one run
    assert second.get("failed") is not True, second
    conf = aws("lambda").get_function_configuration(FunctionName="sf-fn")
    assert conf["Timeout"] == 7
    out = aws("lambda").invoke(FunctionName="sf-fn", Payload=b"{}")
    assert out["Payload"].read() == b"2"
