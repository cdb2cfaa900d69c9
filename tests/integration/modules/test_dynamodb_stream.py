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


# --- create_table, replace_unowned_stream, delete_table --------------------------------------------------

OWNER = "streamops.dynamodb_lambda"
CREATED_TAG = "streamops:table-created-by"
MANAGED_TAG = "streamops:managed-by"
CREATE = {"hash_key": {"name": "user_id", "type": "S"}, "range_key": {"name": "post_id", "type": "N"},
          "tags": {"team": "data", CREATED_TAG: "someone-else"}}
KEY_SCHEMA = [{"attribute_name": "user_id", "key_type": "HASH", "attribute_type": "S"},
              {"attribute_name": "post_id", "key_type": "RANGE", "attribute_type": "N"}]


def missing(aws, name="users_post"):
    return name not in aws("dynamodb").list_tables()["TableNames"]


def test_create_table_in_one_call_then_idempotent(run_module, aws, sandbox):
    sandbox.reset_stats()
    first = run_module("dynamodb_stream", table_name="users_post", view_type="NEW_IMAGE", mark_owner=True,
                       create_table=CREATE, diff=True)
    assert first.get("failed") is not True, first
    stats = sandbox.stats()
    # DescribeTable (missing), CreateTable with stream and tags, and at most one DescribeTable until ACTIVE.
    assert stats["total"] <= 3 and stats["write_calls"] == {"dynamodb:CreateTable": 1}, stats
    t = described(aws)
    assert t["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert t["TableStatus"] == "ACTIVE"
    # Ownership tags win over a user tag of the same key.
    assert tags(aws) == {"team": "data", MANAGED_TAG: OWNER, CREATED_TAG: OWNER, STREAM_TAG: OWNER}
    assert first["changed"] is True and first["created"] is True and first["table_exists"] is True
    assert first["deleted"] is False and first["owned"] is True and first["stream_replaced"] is False
    assert first["table_arn"] == t["TableArn"] and first["stream_arn"] == t["LatestStreamArn"]
    assert first["stream_label"] == t["LatestStreamLabel"] and first["view_type"] == "NEW_IMAGE"
    assert first["key_schema"] == KEY_SCHEMA
    assert first["diff"]["before"]["table_exists"] is False
    assert first["diff"]["after"] == {"table_exists": True, "stream_enabled": True, "view_type": "NEW_IMAGE",
                                      "stream_arn": t["LatestStreamArn"], "owned": True}
    stream = aws("dynamodbstreams").describe_stream(StreamArn=first["stream_arn"])["StreamDescription"]
    assert stream["StreamStatus"] == "ENABLED"

    sandbox.reset_stats()
    again = run_module("dynamodb_stream", table_name="users_post", view_type="NEW_IMAGE", mark_owner=True,
                       create_table=CREATE)
    stats = sandbox.stats()
    assert again["changed"] is False and again["created"] is False, again
    assert stats["writes"] == 0 and stats["total"] <= 2, stats
    for key in ("stream_arn", "table_arn", "view_type", "key_schema", "owned", "table_exists"):
        assert again[key] == first[key], key


def test_create_table_hash_key_only_without_mark_owner(run_module, aws):
    result = run_module("dynamodb_stream", table_name="events", view_type="KEYS_ONLY",
                        create_table={"hash_key": {"name": "id", "type": "N"}})
    assert result["created"] is True and result["owned"] is False, result
    assert result["key_schema"] == [{"attribute_name": "id", "key_type": "HASH", "attribute_type": "N"}]
    assert tags(aws, "events") == {MANAGED_TAG: OWNER, CREATED_TAG: OWNER}
    assert described(aws, "events")["StreamSpecification"]["StreamViewType"] == "KEYS_ONLY"


def test_create_table_check_mode_writes_nothing(run_module, aws, sandbox):
    sandbox.reset_stats()
    result = run_module("dynamodb_stream", table_name="users_post", mark_owner=True, create_table=CREATE,
                        check=True, diff=True)
    assert result["changed"] is True and result["created"] is True and result["table_exists"] is True, result
    assert result["table_arn"] is None and result["stream_arn"] is None
    assert result["stream_enabled"] is True and result["view_type"] == "NEW_AND_OLD_IMAGES"
    assert result["key_schema"] == KEY_SCHEMA and result["owned"] is True
    assert result["diff"]["before"]["table_exists"] is False and result["diff"]["after"]["table_exists"] is True
    assert sandbox.stats()["writes"] == 0
    assert missing(aws)


def test_create_table_leaves_an_existing_table_alone(run_module, aws, table):
    result = run_module("dynamodb_stream", table_name=table, create_table=CREATE, mark_owner=True)
    assert result["changed"] is True and result["created"] is False, result
    assert result["key_schema"] == [{"attribute_name": "user_id", "key_type": "HASH", "attribute_type": "S"}]
    assert tags(aws) == {STREAM_TAG: OWNER}  # no created-by / managed-by / user tags on a table it did not create
    assert [k["AttributeName"] for k in described(aws)["KeySchema"]] == ["user_id"]


def test_create_table_after_the_table_was_deleted(run_module, aws, table):
    # The sandbox deletes at once (a DELETING table is waited out first: see the unit tests).
    aws("dynamodb").delete_table(TableName=table)
    result = run_module("dynamodb_stream", table_name=table, create_table=CREATE)
    assert result["created"] is True, result


def test_replace_unowned_stream_false_refuses_before_any_write(run_module, aws, sandbox, table):
    aws("dynamodb").update_table(TableName=table, StreamSpecification={"StreamEnabled": True,
                                                                       "StreamViewType": "KEYS_ONLY"})
    arn = described(aws)["LatestStreamArn"]
    for check in (True, False):
        sandbox.reset_stats()
        refused = run_module("dynamodb_stream", table_name=table, view_type="NEW_IMAGE", mark_owner=True,
                             replace_unowned_stream=False, check=check)
        assert refused["failed"] is True and refused["reason"] == "unowned_stream", refused
        assert "view_type" in refused["msg"] and "replace_unowned_stream" in refused["msg"], refused["msg"]
        assert refused["view_type"] == "KEYS_ONLY"
        assert sandbox.stats()["writes"] == 0
    assert described(aws)["LatestStreamArn"] == arn
    # The same view type is fine, and so is a stream this collection enabled.
    same = run_module("dynamodb_stream", table_name=table, view_type="KEYS_ONLY", replace_unowned_stream=False)
    assert same.get("failed") is not True and same["changed"] is False, same
    allowed = run_module("dynamodb_stream", table_name=table, view_type="NEW_IMAGE", mark_owner=True,
                         replace_unowned_stream=True)
    assert allowed["changed"] is True and allowed["stream_replaced"] is True and allowed["owned"] is True, allowed


def test_replace_unowned_stream_false_still_replaces_an_owned_stream(run_module, aws, table):
    first = run_module("dynamodb_stream", table_name=table, view_type="KEYS_ONLY", mark_owner=True)
    changed = run_module("dynamodb_stream", table_name=table, view_type="OLD_IMAGE", mark_owner=True,
                         replace_unowned_stream=False)
    assert changed["changed"] is True and changed["stream_replaced"] is True, changed
    assert changed["previous_stream_arn"] == first["stream_arn"] != changed["stream_arn"]
    assert changed["stream_arn"] == described(aws)["LatestStreamArn"]


def test_missing_table_without_create_table_names_the_option(run_module, sandbox):
    sandbox.reset_stats()
    result = run_module("dynamodb_stream", table_name="no_such_table", check=True)
    assert result["failed"] is True and result["reason"] == "table_missing", result
    assert "create_table" in result["msg"] and result["table_exists"] is False
    assert sandbox.stats()["writes"] == 0


def test_delete_table_deletes_only_a_table_it_created(run_module, aws, sandbox):
    created = run_module("dynamodb_stream", table_name="users_post", mark_owner=True, create_table=CREATE)
    checked = run_module("dynamodb_stream", table_name="users_post", state="absent", mark_owner=True,
                         delete_table=True, check=True, diff=True)
    assert checked["changed"] is True and checked["deleted"] is True and checked["table_exists"] is False, checked
    assert checked["diff"]["before"]["table_exists"] is True and checked["diff"]["after"]["table_exists"] is False
    assert not missing(aws)

    sandbox.reset_stats()
    gone = run_module("dynamodb_stream", table_name="users_post", state="absent", mark_owner=True,
                      delete_table=True)
    stats = sandbox.stats()
    assert gone["changed"] is True and gone["deleted"] is True and gone["table_exists"] is False, gone
    assert gone["previous_stream_arn"] == created["stream_arn"] and gone["stream_arn"] is None
    assert gone["key_schema"] == [] and gone["owned"] is False
    assert stats["total"] <= 3 and stats["write_calls"] == {"dynamodb:DeleteTable": 1}, stats
    assert missing(aws)

    sandbox.reset_stats()
    again = run_module("dynamodb_stream", table_name="users_post", state="absent", mark_owner=True,
                       delete_table=True)
    assert again.get("failed") is not True and again["changed"] is False and again["table_exists"] is False, again
    assert sandbox.stats()["writes"] == 0


def test_delete_table_keeps_a_table_it_did_not_create(run_module, aws, table):
    enabled = run_module("dynamodb_stream", table_name=table, mark_owner=True)
    off = run_module("dynamodb_stream", table_name=table, state="absent", mark_owner=True, delete_table=True)
    assert off["changed"] is True and off["deleted"] is False and off["table_exists"] is True, off
    assert off["previous_stream_arn"] == enabled["stream_arn"]
    assert not missing(aws) and not described(aws).get("StreamSpecification", {}).get("StreamEnabled")
    assert STREAM_TAG not in tags(aws)


def test_delete_table_false_disables_the_stream_of_a_created_table(run_module, aws):
    run_module("dynamodb_stream", table_name="users_post", mark_owner=True, create_table=CREATE)
    off = run_module("dynamodb_stream", table_name="users_post", state="absent", mark_owner=True)
    assert off["changed"] is True and off["deleted"] is False, off
    assert not described(aws).get("StreamSpecification", {}).get("StreamEnabled")
    assert tags(aws) == {"team": "data", MANAGED_TAG: OWNER, CREATED_TAG: OWNER}


@pytest.mark.parametrize("create, option", [
    ({}, "hash_key"),
    ({"hash_key": {"type": "S"}}, "name"),
    ({"hash_key": {"name": "id", "type": "X"}}, "type"),
    ({"hash_key": {"name": "id"}, "range_key": {"name": "id"}}, "create_table.range_key.name"),
    ({"hash_key": {"name": "id"}, "tags": {"k" * 129: "v"}}, "create_table.tags"),
])
def test_bad_create_table_fails_before_any_call(run_module, sandbox, create, option):
    sandbox.reset_stats()
    result = run_module("dynamodb_stream", table_name="users_post", create_table=create)
    assert result["failed"] is True and option in result["msg"], result
    assert sandbox.stats()["total"] == 0
