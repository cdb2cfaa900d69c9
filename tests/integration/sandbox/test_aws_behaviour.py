"""AWS behaviours the sandbox reproduces where moto differs; each test names the AWS behaviour it pins."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from botocore.exceptions import ClientError

TABLE = "users_post"


def _table(ddb, name: str = TABLE, **extra) -> dict:
    return ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST", **extra)["TableDescription"]


def _enable(ddb, view: str = "NEW_AND_OLD_IMAGES", name: str = TABLE) -> dict:
    return ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": view})[
        "TableDescription"]


def _disable(ddb, name: str = TABLE) -> dict:
    return ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})["TableDescription"]


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


@pytest.mark.parametrize("view", ["NEW_AND_OLD_IMAGES", "KEYS_ONLY"])
def test_enabling_a_second_stream_is_a_validation_exception(aws, view):
    """AWS: UpdateTable enabling a stream (same or other view type) on a table with an enabled stream ->
    ValidationException 'Table already has an enabled stream: TableName: <name>' (terraform-provider-aws #18402)."""
    ddb = aws("dynamodb")
    _table(ddb)
    _enable(ddb)
    with pytest.raises(ClientError) as excinfo:
        _enable(ddb, view)
    assert _error(excinfo) == ("ValidationException", f"Table already has an enabled stream: TableName: {TABLE}")
    described = ddb.describe_table(TableName=TABLE)["Table"]
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_disabling_without_an_enabled_stream_is_a_validation_exception(aws):
    """AWS: StreamEnabled=false on a table without an enabled stream -> ValidationException
    'Table has no stream to disable: TableName: <name>' (moto accepts it silently)."""
    ddb = aws("dynamodb")
    _table(ddb)
    with pytest.raises(ClientError) as excinfo:
        _disable(ddb)
    assert _error(excinfo) == ("ValidationException", f"Table has no stream to disable: TableName: {TABLE}")
    _enable(ddb)
    _disable(ddb)
    with pytest.raises(ClientError) as excinfo:
        _disable(ddb)
    assert _error(excinfo)[0] == "ValidationException"


def test_stream_view_type_rules_on_enable_and_disable(aws):
    """AWS: enabling needs StreamViewType; disabling must not carry one (both ValidationException)."""
    ddb = aws("dynamodb")
    _table(ddb)
    with pytest.raises(ClientError) as excinfo:
        ddb.update_table(TableName=TABLE, StreamSpecification={"StreamEnabled": True})
    assert _error(excinfo)[0] == "ValidationException"
    _enable(ddb)
    with pytest.raises(ClientError) as excinfo:
        ddb.update_table(TableName=TABLE, StreamSpecification={"StreamEnabled": False, "StreamViewType": "KEYS_ONLY"})
    assert _error(excinfo)[0] == "ValidationException"


def test_disable_then_enable_makes_a_new_stream(aws):
    """AWS: changing the view type = disable then enable; the re-enabled stream has a new ARN and label
    (terraform-provider-aws #42560). moto refuses the re-enable for ever."""
    ddb = aws("dynamodb")
    _table(ddb)
    first = _enable(ddb, "KEYS_ONLY")
    disabled = _disable(ddb)
    second = _enable(ddb, "NEW_AND_OLD_IMAGES")
    assert disabled["LatestStreamArn"] == first["LatestStreamArn"]
    assert second["LatestStreamArn"] != first["LatestStreamArn"]
    assert second["LatestStreamLabel"] != first["LatestStreamLabel"]
    described = ddb.describe_table(TableName=TABLE)["Table"]
    assert described["LatestStreamArn"] == second["LatestStreamArn"]
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_describe_after_disable_omits_stream_specification_but_keeps_latest_arn(aws):
    """AWS: after disabling, DescribeTable has no StreamSpecification (as for a table that never had a stream)
    while LatestStreamArn/LatestStreamLabel linger (the old stream stays readable for 24 h)."""
    ddb = aws("dynamodb")
    _table(ddb)
    enabled = _enable(ddb)
    _disable(ddb)
    described = ddb.describe_table(TableName=TABLE)["Table"]
    assert "StreamSpecification" not in described
    assert described["LatestStreamArn"] == enabled["LatestStreamArn"]
    assert described["LatestStreamLabel"] == enabled["LatestStreamLabel"]


def test_unknown_stream_view_type_is_a_validation_exception(aws):
    """AWS: StreamViewType outside the enum -> ValidationException (moto accepts anything)."""
    ddb = aws("dynamodb")
    _table(ddb)
    with pytest.raises(ClientError) as excinfo:
        ddb.update_table(TableName=TABLE, StreamSpecification={"StreamEnabled": True, "StreamViewType": "BOGUS"})
    assert _error(excinfo)[0] == "ValidationException"
    assert "StreamSpecification" not in ddb.describe_table(TableName=TABLE)["Table"]


def test_a_refused_re_enable_keeps_the_old_stream(aws):
    """A re-enable that moto refuses for another reason (here: deleting a missing index in the same call) must
    not lose the table's earlier stream ARN."""
    ddb = aws("dynamodb")
    _table(ddb)
    enabled = _enable(ddb)
    _disable(ddb)
    with pytest.raises(ClientError):
        ddb.update_table(TableName=TABLE, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
                         GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "missing"}}])
    assert ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"] == enabled["LatestStreamArn"]


def test_table_descriptions_carry_a_stable_table_id(aws):
    """AWS: TableDescription.TableId (a UUID, stable for the table's life; community.aws.dynamodb_table reads it)."""
    ddb = aws("dynamodb")
    created = _table(ddb)
    table_id = created["TableId"]
    assert len(table_id) == 36
    assert ddb.describe_table(TableName=TABLE)["Table"]["TableId"] == table_id
    assert _enable(ddb)["TableId"] == table_id
    assert ddb.delete_table(TableName=TABLE)["TableDescription"]["TableId"] == table_id
    assert _table(ddb)["TableId"] != table_id or pytest.skip("re-created within the same clock tick")


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("handler.py", source)
    return buf.getvalue()


def test_lambda_state_transitions_in_write_answers(aws):
    """AWS: CreateFunction answers State Pending (then Active); updates answer LastUpdateStatus InProgress
    (then Successful). GetFunction/GetFunctionConfiguration report Active / Successful once settled."""
    role = aws("iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    lam = aws("lambda")
    created = lam.create_function(FunctionName="fn", Runtime="python3.12", Role=role, Handler="handler.main",
                                  Code={"ZipFile": _zip("def main(e, c):\n    return 1\n")})
    assert created["State"] == "Pending"
    assert created["StateReasonCode"] == "Creating"
    config = lam.get_function_configuration(FunctionName="fn")
    assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")
    assert lam.get_function(FunctionName="fn")["Configuration"]["State"] == "Active"
    updated = lam.update_function_configuration(FunctionName="fn", Timeout=9)
    assert updated["LastUpdateStatus"] == "InProgress"
    code = lam.update_function_code(FunctionName="fn", ZipFile=_zip("def main(e, c):\n    return 2\n"))
    assert code["LastUpdateStatus"] == "InProgress"
    config = lam.get_function_configuration(FunctionName="fn")
    assert (config["State"], config["LastUpdateStatus"], config["Timeout"]) == ("Active", "Successful", 9)
    lam.get_waiter("function_updated_v2").wait(FunctionName="fn", WaiterConfig={"Delay": 1, "MaxAttempts": 5})
