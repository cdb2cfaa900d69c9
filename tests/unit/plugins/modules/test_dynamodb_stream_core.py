"""dynamodb_stream's core (ensure with plan, create, delete) against fakes that answer like DynamoDB: UpdateTable
returns while the table is UPDATING and refuses the next change until ACTIVE, a disabled stream keeps
LatestStreamArn in DescribeTable, a new stream is ENABLING for a moment."""

from __future__ import annotations

import pytest

from aws_fakes import FakeDynamoDB
from aws_fakes import FakeModule
from aws_fakes import FakeStreams
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import stream
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import WaitTimeout
from ansible_collections.streamops.dynamodb_lambda.plugins.modules import dynamodb_stream as ds

OWNED = {"streamops:stream-enabled-by": "streamops.dynamodb_lambda"}


def params(**overrides):
    values = {option: spec.get("default") for option, spec in ds.ARGUMENT_SPEC.items()}
    values.update(table_name="orders")
    values.update(overrides)
    return values


def ensure(ddb, streams, check_mode=False, **overrides):
    return ds.ensure(FakeModule(check_mode=check_mode), ddb, streams, params(**overrides))


def test_enabling_waits_for_the_table_and_the_new_stream(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams(enabling_reads=2)
    ddb.add_table("orders")
    ddb.update_reads = 3

    result = ensure(ddb, streams, view_type="NEW_IMAGE")

    table = ddb.tables["orders"]
    assert result["changed"] is True and result["stream_enabled"] is True
    assert result["stream_arn"] == table["LatestStreamArn"] and result["view_type"] == "NEW_IMAGE"
    assert result["stream_label"] == table["LatestStreamLabel"]
    assert ddb.writes() == ["update_table"]
    assert ddb.operations()[-3:] == ["describe_table"] * 3
    assert streams.operations() == ["describe_stream"] * 3


def test_a_view_type_change_disables_waits_for_active_then_enables_a_new_stream(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    old = ddb.add_table("orders", view_type="KEYS_ONLY", tags=OWNED)["LatestStreamArn"]
    # The fake refuses UpdateTable while the table is UPDATING, as DynamoDB does.
    ddb.update_reads = 2

    result = ensure(ddb, streams, view_type="NEW_AND_OLD_IMAGES")

    assert result["stream_replaced"] is True and result["previous_stream_arn"] == old
    assert result["stream_arn"] == ddb.tables["orders"]["LatestStreamArn"] != old
    updates = [kw["StreamSpecification"] for op, kw in ddb.calls if op == "update_table"]
    assert updates == [{"StreamEnabled": False}, {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}]
    ops = ddb.operations()
    assert ops[ops.index("update_table") + 1] == "describe_table"


def test_disabling_reports_no_stream_although_dynamodb_still_lists_the_old_arn(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    old = ddb.add_table("orders", view_type="NEW_IMAGE", tags=OWNED)["LatestStreamArn"]

    result = ensure(ddb, streams, state="absent")

    assert ddb.tables["orders"]["LatestStreamArn"] == old  # what DescribeTable still says
    assert result["changed"] is True and result["stream_enabled"] is False
    assert result["stream_arn"] is None and result["stream_label"] is None and result["view_type"] is None
    assert result["previous_stream_arn"] == old
    assert result["diff"]["after"]["stream_arn"] is None
    assert ddb.writes() == ["update_table", "untag_resource"]
    assert streams.calls == []


def test_disabling_without_wait_reports_no_stream_from_the_update_answer(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders", view_type="NEW_IMAGE")

    result = ensure(ddb, streams, state="absent", wait=False)

    assert ddb.operations().count("describe_table") == 1
    assert result["stream_enabled"] is False and result["stream_arn"] is None


def test_a_stream_disabled_earlier_is_absent_already(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders", view_type="NEW_IMAGE")
    ddb.disable_stream_keeping_arn("orders")

    result = ensure(ddb, streams, state="absent")

    assert result["changed"] is False and ddb.writes() == []
    assert result["stream_arn"] is None and result["stream_enabled"] is False


def test_a_stream_disabled_earlier_is_enabled_again_with_a_new_arn(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    old = ddb.add_table("orders", view_type="NEW_IMAGE")["LatestStreamArn"]
    ddb.disable_stream_keeping_arn("orders")

    result = ensure(ddb, streams, view_type="NEW_IMAGE", mark_owner=True)

    assert result["changed"] is True and result["stream_replaced"] is False
    assert result["stream_arn"] not in (None, old)
    assert ddb.writes() == ["update_table", "tag_resource"] and result["owned"] is True


def test_check_mode_predicts_an_enable_without_writing(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders")

    result = ensure(ddb, streams, check_mode=True)

    assert result["changed"] is True and ddb.writes() == [] and streams.calls == []
    assert result["stream_enabled"] is True and result["stream_arn"] is None


def test_check_mode_predicts_a_disable_without_writing(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    old = ddb.add_table("orders", view_type="NEW_IMAGE")["LatestStreamArn"]

    result = ensure(ddb, streams, check_mode=True, state="absent")

    assert result["changed"] is True and ddb.writes() == [] and result["stream_enabled"] is False
    assert result["stream_arn"] is None and result["previous_stream_arn"] == old


def test_a_table_mid_update_is_waited_for_before_reading_its_stream(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders", status="UPDATING", script=[{}, {"TableStatus": "ACTIVE"}])

    result = ensure(ddb, streams)

    assert ddb.operations()[:3] == ["describe_table", "describe_table", "list_tags_of_resource"]
    assert result["stream_enabled"] is True


def test_an_up_to_date_stream_is_not_changed(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    arn = ddb.add_table("orders", view_type="NEW_AND_OLD_IMAGES")["LatestStreamArn"]

    result = ensure(ddb, streams)

    assert result["changed"] is False and ddb.writes() == [] and result["stream_arn"] == arn


def test_mark_owner_leaves_a_stream_it_did_not_enable(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    arn = ddb.add_table("orders", view_type="NEW_IMAGE")["LatestStreamArn"]
    module = FakeModule()

    result = ds.ensure(module, ddb, streams, params(state="absent", mark_owner=True))

    assert result["changed"] is False and ddb.writes() == [] and result["stream_arn"] == arn
    assert module.warnings == ["stream of table orders left enabled: mark_owner is set and the table has no "
                               "streamops:stream-enabled-by tag, so this collection did not enable it"]


def test_replacing_an_unowned_stream_is_refused_when_asked(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders", view_type="KEYS_ONLY")

    with pytest.raises(FakeModule.Failed, match="did not enable") as failed:
        ensure(ddb, streams, replace_unowned_stream=False)
    assert failed.value.kwargs["reason"] == "unowned_stream" and ddb.writes() == []
    assert failed.value.kwargs["table_exists"] is True and failed.value.kwargs["owned"] is False


def test_a_missing_table_is_created_with_its_stream_and_waited_for(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.update_reads = 2

    result = ensure(ddb, streams, create_table={"hash_key": {"name": "id", "type": "S"}, "tags": {"team": "x"}})

    assert ddb.writes() == ["create_table"] and result["created"] is True
    table = ddb.tables["orders"]
    assert table["TableStatus"] == "ACTIVE" and result["stream_arn"] == table["LatestStreamArn"]
    assert ddb.tags[table["TableArn"]]["team"] == "x"
    assert streams.operations() == ["describe_stream"] * 2
    assert result["key_schema"] == [{"attribute_name": "id", "key_type": "HASH", "attribute_type": "S"}]


def test_check_mode_on_a_missing_table_predicts_the_creation(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()

    result = ensure(ddb, streams, check_mode=True, create_table={"hash_key": {"name": "id", "type": "N"}})

    assert ddb.writes() == [] and result["created"] is True and result["stream_arn"] is None
    assert result["key_schema"][0]["attribute_type"] == "N"


def test_a_missing_table_without_create_table_fails_naming_it(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()

    with pytest.raises(FakeModule.Failed, match="table orders does not exist"):
        ensure(ddb, streams)


def test_delete_table_removes_a_table_this_collection_created_and_waits(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    arn = ddb.add_table("orders", view_type="NEW_IMAGE",
                        tags={"streamops:table-created-by": "streamops.dynamodb_lambda"})["LatestStreamArn"]
    ddb.update_reads = 2

    result = ensure(ddb, streams, state="absent", delete_table=True)

    assert result["deleted"] is True and result["previous_stream_arn"] == arn and "orders" not in ddb.tables
    assert ddb.writes() == ["delete_table"]


def test_stream_facts_of_a_disabled_stream_name_no_arn():
    table = {"TableName": "t", "TableArn": "arn:aws:dynamodb:us-east-1:1:table/t",
             "StreamSpecification": {"StreamEnabled": False},
             "LatestStreamArn": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x", "LatestStreamLabel": "x"}

    facts = stream.stream_facts(table)

    assert facts == {"table_name": "t", "table_arn": table["TableArn"], "stream_enabled": False, "stream_arn": None,
                     "stream_label": None, "view_type": None}


# --- whole results ----------------------------------------------------------------------------------------------

KEYS = [{"attribute_name": "pk", "key_type": "HASH", "attribute_type": "S"}]


def expected(ddb, **values):
    table = ddb.tables.get("orders") or {}
    out = {"changed": True, "stream_replaced": False, "previous_stream_arn": None, "table_exists": True,
           "created": False, "deleted": False, "owned": False, "key_schema": KEYS, "table_name": "orders",
           "table_arn": ddb.table_arn("orders"), "stream_enabled": True, "stream_arn": table.get("LatestStreamArn"),
           "stream_label": table.get("LatestStreamLabel"), "view_type": "NEW_AND_OLD_IMAGES", "table_status": "ACTIVE"}
    out.update(values)
    return out


def view(result, **values):
    out = {k: result[k] for k in ("table_exists", "stream_enabled", "view_type", "stream_arn", "owned")}
    out.update(values)
    return out


def test_the_whole_result_of_an_enable_with_mark_owner(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders")

    result = ensure(ddb, streams, mark_owner=True)

    diff = result.pop("diff")
    assert result == expected(ddb, owned=True)
    assert diff == {"before": {"table_exists": True, "stream_enabled": False, "view_type": None, "stream_arn": None,
                               "owned": False},
                    "after": view(result)}
    assert ddb.tags[ddb.table_arn("orders")] == OWNED


def test_the_whole_result_of_a_replacement(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    old = ddb.add_table("orders", view_type="KEYS_ONLY", tags=OWNED)["LatestStreamArn"]

    result = ensure(ddb, streams, mark_owner=True)

    diff = result.pop("diff")
    assert result == expected(ddb, owned=True, stream_replaced=True, previous_stream_arn=old)
    assert diff["before"] == {"table_exists": True, "stream_enabled": True, "view_type": "KEYS_ONLY",
                              "stream_arn": old, "owned": True}
    assert diff["after"] == view(result)
    assert ddb.writes() == ["update_table", "update_table"]


def test_the_whole_result_of_a_disable_that_removes_the_ownership_tag(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    old = ddb.add_table("orders", view_type="NEW_IMAGE", tags=OWNED)["LatestStreamArn"]

    result = ensure(ddb, streams, state="absent", mark_owner=True)

    diff = result.pop("diff")
    assert result == expected(ddb, stream_enabled=False, stream_arn=None, stream_label=None, view_type=None,
                              previous_stream_arn=old)
    assert diff["after"] == {"table_exists": True, "stream_enabled": False, "view_type": None, "stream_arn": None,
                             "owned": False}
    assert ddb.tags[ddb.table_arn("orders")] == {}
    assert [kw for op, kw in ddb.calls if op == "untag_resource"] == [
        {"ResourceArn": ddb.table_arn("orders"), "TagKeys": ["streamops:stream-enabled-by"]}]


def test_the_whole_result_of_an_absent_table(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()

    result = ensure(ddb, streams, state="absent")

    assert result == {"changed": False, "stream_replaced": False, "previous_stream_arn": None, "table_exists": False,
                      "created": False, "deleted": False, "owned": False, "key_schema": [], "table_name": "orders",
                      "table_arn": None, "stream_enabled": False, "stream_arn": None, "stream_label": None,
                      "view_type": None, "table_status": None}


def test_the_whole_result_of_a_table_deletion(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    tags = dict(OWNED, **{"streamops:table-created-by": "streamops.dynamodb_lambda"})
    old = ddb.add_table("orders", view_type="NEW_IMAGE", tags=tags)["LatestStreamArn"]
    ddb.update_reads = 2  # DELETING for one read, then gone

    result = ensure(ddb, streams, state="absent", delete_table=True)

    diff = result.pop("diff")
    assert result == {"changed": True, "stream_replaced": False, "previous_stream_arn": old, "table_exists": False,
                      "created": False, "deleted": True, "owned": False, "key_schema": [], "table_name": "orders",
                      "table_arn": ddb.table_arn("orders"), "stream_enabled": False, "stream_arn": None,
                      "stream_label": None, "view_type": None, "table_status": None}
    assert diff == {"before": {"table_exists": True, "stream_enabled": True, "view_type": "NEW_IMAGE",
                               "stream_arn": old, "owned": True},
                    "after": {"table_exists": False, "stream_enabled": False, "view_type": None, "stream_arn": None,
                              "owned": False}}
    assert ddb.operations()[-3:] == ["delete_table", "describe_table", "describe_table"]


def test_the_whole_result_of_a_creation(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()

    result = ensure(ddb, streams, mark_owner=True, create_table={"hash_key": {"name": "pk", "type": "S"}})

    diff = result.pop("diff")
    assert result == expected(ddb, created=True, owned=True)
    assert diff["before"] == {"table_exists": False, "stream_enabled": False, "view_type": None, "stream_arn": None,
                              "owned": False}
    assert diff["after"] == view(result)
    [request] = [kw for op, kw in ddb.calls if op == "create_table"]
    assert request == {"TableName": "orders", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                       "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                       "BillingMode": "PAY_PER_REQUEST",
                       "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
                       "Tags": [{"Key": k, "Value": "streamops.dynamodb_lambda"} for k in (
                           "streamops:managed-by", "streamops:stream-enabled-by", "streamops:table-created-by")]}


# --- answers that are final already, waits turned off, failures ---------------------------------------------------

@pytest.mark.parametrize("how", ["answer active", "no wait"])
def test_an_enable_reads_nothing_more_when_the_answer_is_final_or_wait_is_off(clock, how):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders")
    ddb.answer_active = how == "answer active"

    result = ensure(ddb, streams, wait=how != "no wait")

    assert ddb.operations() == ["describe_table", "list_tags_of_resource", "update_table"]
    assert result["stream_arn"] == ddb.tables["orders"]["LatestStreamArn"]
    assert streams.operations() == ([] if how == "no wait" else ["describe_stream"] * 2)


def test_a_replacement_answered_active_needs_no_wait_between_its_two_updates(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders", view_type="KEYS_ONLY")
    ddb.answer_active = True

    ensure(ddb, streams)

    assert ddb.operations() == ["describe_table", "list_tags_of_resource", "update_table", "update_table"]


@pytest.mark.parametrize("how", ["answer active", "no wait"])
def test_a_creation_reads_nothing_more_when_the_answer_is_final_or_wait_is_off(clock, how):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.answer_active = how == "answer active"

    result = ensure(ddb, streams, wait=how != "no wait", create_table={"hash_key": {"name": "pk", "type": "S"}})

    assert ddb.operations() == ["describe_table", "create_table"] and streams.calls == []
    assert result["stream_arn"] == ddb.tables["orders"]["LatestStreamArn"]


def test_the_whole_result_of_a_creation_in_check_mode(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()

    result = ensure(ddb, streams, check_mode=True, mark_owner=True,
                    create_table={"hash_key": {"name": "pk", "type": "S"}})

    diff = result.pop("diff")
    assert result == {"changed": True, "stream_replaced": False, "previous_stream_arn": None, "table_exists": True,
                      "created": True, "deleted": False, "owned": True, "key_schema": KEYS, "table_name": "orders",
                      "table_arn": None, "stream_enabled": True, "stream_arn": None, "stream_label": None,
                      "view_type": "NEW_AND_OLD_IMAGES", "table_status": "ACTIVE"}
    assert diff["after"] == {"table_exists": True, "stream_enabled": True, "view_type": "NEW_AND_OLD_IMAGES",
                             "stream_arn": None, "owned": True}
    assert ddb.writes() == []


def test_a_missing_table_fails_with_the_whole_answer(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()

    with pytest.raises(FakeModule.Failed) as failed:
        ensure(ddb, streams)

    assert failed.value.kwargs == {
        "msg": "table orders does not exist: dynamodb_stream manages the stream of an existing table unless "
               "create_table is given", "reason": "table_missing", "table_exists": False, "table_name": "orders",
        "table_arn": None, "stream_enabled": False, "stream_arn": None, "stream_label": None, "view_type": None}


def test_mark_owner_does_not_untag_a_disabled_stream_it_does_not_own(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders", view_type="NEW_IMAGE")
    ddb.disable_stream_keeping_arn("orders")

    result = ensure(ddb, streams, state="absent", mark_owner=True)

    assert result["changed"] is False and ddb.writes() == []


def test_mark_owner_untags_a_disabled_stream_it_owned(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders", view_type="NEW_IMAGE", tags=OWNED)
    ddb.disable_stream_keeping_arn("orders")

    result = ensure(ddb, streams, state="absent", mark_owner=True)

    assert result["changed"] is True and ddb.writes() == ["untag_resource"] and result["owned"] is False


def test_a_deletion_without_wait_does_not_read_the_table_again(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders", tags={"streamops:table-created-by": "streamops.dynamodb_lambda"})

    ensure(ddb, streams, state="absent", delete_table=True, wait=False)

    assert ddb.operations() == ["describe_table", "list_tags_of_resource", "delete_table"]


def test_a_table_being_deleted_is_waited_out_before_it_is_created_again(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders", status="DELETING", script=[{}, {"_gone": True}])

    result = ensure(ddb, streams, create_table={"hash_key": {"name": "pk", "type": "S"}})

    assert ddb.operations()[:3] == ["describe_table", "describe_table", "create_table"]
    assert result["created"] is True


def test_a_table_that_stays_deleting_times_out_saying_so(clock):
    from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import WaitTimeout

    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders", status="DELETING")

    with pytest.raises(WaitTimeout) as failed:
        ensure(ddb, streams, wait_timeout=20)

    assert str(failed.value) == "timed out after 20s waiting for table orders to be deleted (last seen: DELETING)"


def vanish_after(ddb, operation):
    """The table is deleted by someone else right after *operation* answered (the next read finds nothing)."""
    original = getattr(ddb, operation)

    def call(**kwargs):
        answer = original(**kwargs)
        ddb.tables[kwargs["TableName"]]["_script"] = [{"_gone": True}]
        return answer

    setattr(ddb, operation, call)


def test_a_table_deleted_while_the_disable_settles_reports_the_update_answer(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders", view_type="NEW_IMAGE")
    vanish_after(ddb, "update_table")

    result = ensure(ddb, streams, state="absent")

    assert result["table_arn"] == ddb.table_arn("orders") and result["stream_enabled"] is False


def test_a_table_deleted_while_its_creation_settles_reports_the_create_answer(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    vanish_after(ddb, "create_table")

    result = ensure(ddb, streams, create_table={"hash_key": {"name": "pk", "type": "S"}})

    assert result["table_arn"] == ddb.table_arn("orders") and result["key_schema"] == KEYS


# --- table_status: what a trigger created next needs to know when wait is off ----------------------------------

@pytest.mark.parametrize("wait, status", [(True, "ACTIVE"), (False, "CREATING")])
def test_a_creation_reports_the_table_status_it_leaves(clock, wait, status):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.update_reads = 2

    result = ensure(ddb, streams, wait=wait, create_table={"hash_key": {"name": "pk", "type": "S"}})

    assert result["table_status"] == status
    assert result["stream_arn"] == ddb.tables["orders"]["LatestStreamArn"]
    if not wait:
        assert ddb.operations() == ["describe_table", "create_table"] and streams.calls == []
        assert ddb.tables["orders"]["TableStatus"] == "CREATING"


@pytest.mark.parametrize("wait, status", [(True, "ACTIVE"), (False, "CREATING")])
def test_check_mode_predicts_the_table_status_of_a_creation(clock, wait, status):
    ddb, streams = FakeDynamoDB(), FakeStreams()

    result = ensure(ddb, streams, check_mode=True, wait=wait, create_table={"hash_key": {"name": "pk", "type": "S"}})

    assert result["table_status"] == status and ddb.writes() == []


@pytest.mark.parametrize("wait, status", [(True, "ACTIVE"), (False, "UPDATING")])
def test_an_enable_reports_the_table_status_it_leaves(clock, wait, status):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders")

    result = ensure(ddb, streams, wait=wait)

    assert result["table_status"] == status


def test_a_table_still_creating_is_waited_for_before_its_stream_is_read_again(clock):
    """A second run while the first run's table is CREATING (wait off) waits, then changes nothing."""
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders", view_type="NEW_AND_OLD_IMAGES", status="CREATING", script=[{}, {"TableStatus": "ACTIVE"}])

    result = ensure(ddb, streams, wait=False)

    assert result["changed"] is False and result["table_status"] == "ACTIVE" and ddb.writes() == []


def test_a_creation_waits_for_the_table_then_the_stream_in_one_timeout(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams(enabling_reads=1000)
    ddb.update_reads = 3

    with pytest.raises(WaitTimeout) as failed:
        ensure(ddb, streams, wait_timeout=20, create_table={"hash_key": {"name": "pk", "type": "S"}})

    assert "waiting for stream %s to be ENABLED" % ddb.tables["orders"]["LatestStreamArn"] in str(failed.value)
    assert ddb.operations() == ["describe_table", "create_table"] + ["describe_table"] * 3
    # The stream's reads share the 20 s with the table's: fewer than a fresh 20 s wait would make.
    assert clock.now <= 20
