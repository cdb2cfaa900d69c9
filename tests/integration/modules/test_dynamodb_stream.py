"""dynamodb_stream / dynamodb_stream_info against the sandbox: every option, check mode, diff, idempotence."""

from __future__ import annotations

import pytest

STREAM_TAG = "streamops:stream-enabled-by"


@pytest.fixture
def table(aws):
    ddb = aws("dynamodb")
    ddb.create_table(TableName="users_post", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}])
    return "users_post"


def described(aws, name="users_post"):
    return aws("dynamodb").describe_table(TableName=name)["Table"]


def tags(aws, name="users_post"):
    ddb = aws("dynamodb")
    arn = described(aws, name)["TableArn"]
    return {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}


def test_enable_then_idempotent(run_module, aws, table):
    first = run_module("dynamodb_stream", table_name=table, view_type="NEW_AND_OLD_IMAGES")
    assert first["changed"] is True, first
    t = described(aws)
    assert t["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert first["stream_arn"] == t["LatestStreamArn"]
    assert first["stream_label"] == t["LatestStreamLabel"]
    assert first["table_arn"] == t["TableArn"]
    assert first["view_type"] == "NEW_AND_OLD_IMAGES"
    assert first["stream_enabled"] is True and first["stream_replaced"] is False
    assert first["previous_stream_arn"] is None and first["owned"] is False
    second = run_module("dynamodb_stream", table_name=table, view_type="NEW_AND_OLD_IMAGES")
    assert second["changed"] is False, second
    assert second["stream_arn"] == first["stream_arn"]


def test_view_type_change_replaces_stream(run_module, aws, table):
    first = run_module("dynamodb_stream", table_name=table, view_type="KEYS_ONLY")
    changed = run_module("dynamodb_stream", table_name=table, view_type="NEW_IMAGE", diff=True)
    assert changed["changed"] is True, changed
    assert changed["stream_replaced"] is True
    assert changed["previous_stream_arn"] == first["stream_arn"]
    assert changed["stream_arn"] != first["stream_arn"]
    t = described(aws)
    assert t["LatestStreamArn"] == changed["stream_arn"]
    assert t["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
    assert changed["diff"]["before"]["view_type"] == "KEYS_ONLY"
    assert changed["diff"]["after"]["view_type"] == "NEW_IMAGE"
    assert changed["diff"]["after"]["stream_arn"] == changed["stream_arn"]
    again = run_module("dynamodb_stream", table_name=table, view_type="NEW_IMAGE")
    assert again["changed"] is False and again["stream_replaced"] is False


def test_check_mode_writes_nothing(run_module, aws, table):
    result = run_module("dynamodb_stream", table_name=table, view_type="NEW_IMAGE", check=True, diff=True)
    assert result["changed"] is True, result
    assert result["stream_enabled"] is True and result["view_type"] == "NEW_IMAGE"
    assert result["stream_arn"] is None  # not knowable before DynamoDB creates it
    assert result["diff"]["before"]["stream_enabled"] is False
    assert result["diff"]["after"]["stream_enabled"] is True
    assert "StreamSpecification" not in described(aws)


def test_check_mode_view_change_and_disable_write_nothing(run_module, aws, table):
    first = run_module("dynamodb_stream", table_name=table, view_type="OLD_IMAGE")
    change = run_module("dynamodb_stream", table_name=table, view_type="NEW_IMAGE", check=True)
    assert change["changed"] is True and change["stream_replaced"] is True
    assert change["previous_stream_arn"] == first["stream_arn"]
    off = run_module("dynamodb_stream", table_name=table, state="absent", check=True)
    assert off["changed"] is True and off["stream_enabled"] is False
    t = described(aws)
    assert t["StreamSpecification"]["StreamViewType"] == "OLD_IMAGE"
    assert t["LatestStreamArn"] == first["stream_arn"]


def test_disable_and_idempotent(run_module, aws, table):
    first = run_module("dynamodb_stream", table_name=table)
    off = run_module("dynamodb_stream", table_name=table, state="absent", diff=True)
    assert off["changed"] is True, off
    assert off["stream_enabled"] is False and off["stream_arn"] is None
    assert off["previous_stream_arn"] == first["stream_arn"]
    assert off["diff"]["before"]["stream_enabled"] is True and off["diff"]["after"]["stream_enabled"] is False
    assert not described(aws).get("StreamSpecification", {}).get("StreamEnabled")
    again = run_module("dynamodb_stream", table_name=table, state="absent")
    assert again["changed"] is False, again


def test_mark_owner_tags_and_guards_disable(run_module, aws, table):
    enabled = run_module("dynamodb_stream", table_name=table, mark_owner=True)
    assert enabled["changed"] is True and enabled["owned"] is True
    assert tags(aws)[STREAM_TAG] == "streamops.dynamodb_lambda"
    info = run_module("dynamodb_stream_info", table_name=table)
    assert info["owned"] is True and info["table_tags"] == {STREAM_TAG: "streamops.dynamodb_lambda"}
    off = run_module("dynamodb_stream", table_name=table, state="absent", mark_owner=True)
    assert off["changed"] is True and off["owned"] is False
    assert STREAM_TAG not in tags(aws)
    assert not described(aws).get("StreamSpecification", {}).get("StreamEnabled")


def test_mark_owner_leaves_foreign_stream_alone(run_module, aws, table):
    aws("dynamodb").update_table(TableName=table, StreamSpecification={"StreamEnabled": True,
                                                                       "StreamViewType": "KEYS_ONLY"})
    # Already enabled by someone else: mark_owner must not claim it.
    present = run_module("dynamodb_stream", table_name=table, view_type="KEYS_ONLY", mark_owner=True)
    assert present["changed"] is False and present["owned"] is False
    assert STREAM_TAG not in tags(aws)
    off = run_module("dynamodb_stream", table_name=table, state="absent", mark_owner=True)
    assert off["changed"] is False and off["stream_enabled"] is True
    assert "left enabled" in str(off.get("warnings")), off
    assert described(aws)["StreamSpecification"]["StreamEnabled"] is True


def test_wait_false_still_enables(run_module, aws, table):
    result = run_module("dynamodb_stream", table_name=table, view_type="KEYS_ONLY", wait=False)
    assert result["changed"] is True
    assert described(aws)["StreamSpecification"]["StreamViewType"] == "KEYS_ONLY"


def test_missing_table_fails_with_message(run_module, sandbox):
    result = run_module("dynamodb_stream", table_name="no_such_table")
    assert result["failed"] is True
    assert "no_such_table does not exist" in result["msg"]


@pytest.mark.parametrize("args, option", [
    ({"table_name": "ab"}, "table_name"),
    ({"table_name": "bad name!"}, "table_name"),
    ({"table_name": "users_post", "wait_timeout": 0}, "wait_timeout"),
    ({"table_name": "users_post", "view_type": "ALL"}, "view_type"),
    ({"table_name": "users_post", "state": "enabled"}, "state"),
])
def test_bad_input_fails_before_any_call(run_module, sandbox, args, option):
    sandbox.reset_stats()
    result = run_module("dynamodb_stream", **args)
    assert result["failed"] is True and option in result["msg"], result
    assert sandbox.stats()["total"] == 0


def test_info_reports_stream_and_missing_table(run_module, aws, table):
    none = run_module("dynamodb_stream_info", table_name=table)
    assert none["changed"] is False and none["table_exists"] is True and none["stream_enabled"] is False
    assert none["stream_arn"] is None and none["owned"] is False and none["table_tags"] == {}
    enabled = run_module("dynamodb_stream", table_name=table, view_type="NEW_IMAGE")
    info = run_module("dynamodb_stream_info", table_name=table)
    for key in ("stream_arn", "stream_label", "view_type", "table_arn", "table_name", "stream_enabled", "owned"):
        assert info[key] == enabled[key], key
    assert info["stream_replaced"] is False and info["previous_stream_arn"] is None
    missing = run_module("dynamodb_stream_info", table_name="absent_table")
    assert missing.get("failed") is not True and missing["table_exists"] is False
    assert missing["stream_enabled"] is False and missing["table_tags"] == {}


def test_survives_throttling(run_module, aws, sandbox, table):
    sandbox.configure(throttle=0.2, seed=1)
    result = run_module("dynamodb_stream", table_name=table, mark_owner=True)
    assert result.get("failed") is not True, result
    sandbox.configure(throttle=0)
    assert described(aws)["StreamSpecification"]["StreamEnabled"] is True
