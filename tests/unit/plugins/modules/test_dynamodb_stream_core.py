"""dynamodb_stream's core (ensure with plan, create, delete) against fakes that answer like DynamoDB: UpdateTable
returns while the table is UPDATING and refuses the next change until ACTIVE, a disabled stream keeps
LatestStreamArn in DescribeTable, a new stream is ENABLING for a moment."""

from __future__ import annotations

import pytest

from aws_fakes import FakeDynamoDB
from aws_fakes import FakeModule
from aws_fakes import FakeStreams
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import stream
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

    assert result["changed"] is True and ddb.writes() == []
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
    assert module.warnings and "left enabled" in module.warnings[0]


def test_replacing_an_unowned_stream_is_refused_when_asked(clock):
    ddb, streams = FakeDynamoDB(), FakeStreams()
    ddb.add_table("orders", view_type="KEYS_ONLY")

    with pytest.raises(FakeModule.Failed, match="did not enable") as failed:
        ensure(ddb, streams, replace_unowned_stream=False)
    assert failed.value.kwargs["reason"] == "unowned_stream" and ddb.writes() == []


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
