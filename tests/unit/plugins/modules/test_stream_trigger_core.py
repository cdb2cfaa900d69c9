"""stream_trigger's core (run / ensure_present / ensure_absent) against fakes that answer like Lambda and DynamoDB:
mappings Creating -> Enabled, Deleting for a while, ResourceInUseException mid-transition, ResourceConflictException
while an old mapping of the same pair is still being deleted, a table whose disabled stream keeps its ARN."""

from __future__ import annotations

import pytest

from aws_fakes import FakeDynamoDB
from aws_fakes import FakeLambda
from aws_fakes import FakeModule
from aws_fakes import FakeStreams
from aws_fakes import client_error
from ansible_collections.streamops.dynamodb_lambda.plugins.modules import stream_trigger as st

MANAGED = {"streamops:managed-by": "streamops.dynamodb_lambda"}


def params(**overrides):
    values = {option: spec.get("default") for option, spec in st.ARGUMENT_SPEC.items()}
    values.update(function_name="fn", table_name="orders")
    values.update(overrides)
    return values


def world(view_type="NEW_AND_OLD_IMAGES"):
    lam, ddb = FakeLambda(), FakeDynamoDB()
    lam.add_function("fn")
    table = ddb.add_table("orders", view_type=view_type)
    return lam, ddb, table


def recreate_stream(ddb, table):
    """The table's stream replaced (disable, enable): the old ARN is returned, the table now reads a new one."""
    old = table["LatestStreamArn"]
    ddb._new_stream(table)
    return old


def run(lam, ddb, check_mode=False, **overrides):
    return st.run(FakeModule(check_mode=check_mode), lam, ddb, params(**overrides))


def writes(lam):
    return [(op, kw.get("UUID")) for op, kw in lam.calls if op in lam.writes()]


# --- creating ---------------------------------------------------------------------------------------------------

def test_a_new_mapping_is_created_and_waited_for_until_enabled(clock):
    lam, ddb, table = world()
    lam.mapping_script = [{}, {}, {"State": "Enabled"}]  # Creating for two more reads

    result = run(lam, ddb, batch_size=50)

    assert result["changed"] is True and result["replaced"] is False
    [(op, request)] = [(op, kw) for op, kw in lam.calls if op == "create_event_source_mapping"]
    assert request["FunctionName"] == lam.function_arn("fn")
    assert request["EventSourceArn"] == table["LatestStreamArn"]
    assert request["BatchSize"] == 50 and request["StartingPosition"] == "LATEST"
    assert request["Tags"] == MANAGED
    assert result["state"] == "Enabled" and result["batch_size"] == 50
    assert lam.operations().count("get_event_source_mapping") >= 3


def test_create_retries_while_the_new_role_cannot_be_assumed(clock):
    lam, ddb, _table = world()
    lam.fail("create_event_source_mapping", client_error(
        "InvalidParameterValueException", "The provided execution role does not have permissions to call "
        "GetRecords on DynamoDB", "CreateEventSourceMapping"))

    result = run(lam, ddb)

    assert lam.operations().count("create_event_source_mapping") == 2
    assert result["state"] == "Enabled"


def test_a_mapping_that_ends_disabled_instead_of_enabled_is_an_error(clock):
    lam, ddb, _table = world()
    lam.mapping_script = [{"State": "Disabled", "StateTransitionReason": "PROBLEM: Function call failed"}]

    with pytest.raises(st.TriggerError) as failed:
        run(lam, ddb)
    assert str(failed.value) == ("event source mapping uuid-1 ended Disabled instead of Enabled: PROBLEM: Function "
                                 "call failed")


# --- converging -------------------------------------------------------------------------------------------------

def test_a_stale_mapping_beside_the_current_one_is_deleted_and_counted_as_a_change(clock):
    lam, ddb, table = world()
    old_stream = recreate_stream(ddb, table)
    stale = lam.add_mapping("fn", old_stream)
    current = lam.add_mapping("fn", table["LatestStreamArn"])

    result = run(lam, ddb)

    assert result["changed"] is True
    assert result["deleted"] == [stale["UUID"]]
    assert result["uuid"] == current["UUID"]
    assert writes(lam) == [("delete_event_source_mapping", stale["UUID"])]
    # The current mapping already matches: it is neither recreated nor replaced.
    assert result["replaced"] is False and result["replaced_reason"] is None


def test_an_up_to_date_mapping_is_not_changed(clock):
    lam, ddb, table = world()
    current = lam.add_mapping("fn", table["LatestStreamArn"], tags=MANAGED)

    result = run(lam, ddb)

    assert result["changed"] is False and result["deleted"] == [] and lam.writes() == []
    assert result["uuid"] == current["UUID"] and result["tags"] == MANAGED
    assert result["diff"]["before"] == result["diff"]["after"]
    assert result["diff"]["before"]["event_source_arn"] == table["LatestStreamArn"]


def test_a_mapping_on_a_replaced_stream_is_moved_to_the_new_stream(clock):
    lam, ddb, table = world()
    old_stream = recreate_stream(ddb, table)
    old = lam.add_mapping("fn", old_stream, tags=dict(MANAGED, team="data"))

    result = run(lam, ddb)

    assert result["replaced"] is True
    assert result["replaced_reason"] == ("the table's stream was re-created: mapping %s reads %s, the table's current "
                                         "stream is %s" % (old["UUID"], old_stream, table["LatestStreamArn"]))
    assert result["deleted"] == [old["UUID"]]
    ops = lam.writes()
    assert ops == ["delete_event_source_mapping", "create_event_source_mapping"]
    created = [kw for op, kw in lam.calls if op == "create_event_source_mapping"][0]
    assert created["EventSourceArn"] == table["LatestStreamArn"]
    # Unmanaged tags (tags: null) follow the mapping to its new stream.
    assert created["Tags"] == dict(MANAGED, team="data")
    assert old["UUID"] not in lam.mappings
    assert result["diff"]["before"]["event_source_arn"] == old_stream
    assert result["diff"]["after"]["event_source_arn"] == table["LatestStreamArn"]


def test_a_starting_position_change_waits_for_the_old_mapping_to_be_gone_before_creating(clock):
    lam, ddb, table = world()
    old = lam.add_mapping("fn", table["LatestStreamArn"], StartingPosition="TRIM_HORIZON")
    lam.delete_reads = 3  # Deleting for three reads; creating meanwhile answers ResourceConflictException

    result = run(lam, ddb, starting_position="LATEST")

    assert result["replaced"] is True
    # One option only can force a replacement today, so the "; " joining several is not exercised.
    assert result["replaced_reason"] == "starting_position cannot be updated (TRIM_HORIZON -> LATEST)"
    assert lam.operations().count("create_event_source_mapping") == 1
    ops = lam.operations()
    last_read_of_old = max(i for i, (op, kw) in enumerate(lam.calls)
                           if op == "get_event_source_mapping" and kw["UUID"] == old["UUID"])
    assert ops.index("delete_event_source_mapping") < last_read_of_old < ops.index("create_event_source_mapping")
    assert result["starting_position"] == "LATEST" and result["uuid"] != old["UUID"]


def test_an_update_waits_out_updating_and_retries_resource_in_use(clock):
    lam, ddb, table = world()
    mapping = lam.add_mapping("fn", table["LatestStreamArn"], state="Updating", script=[{}, {"State": "Enabled"}])
    lam.fail("update_event_source_mapping", client_error(
        "ResourceInUseException", "Cannot update the event source mapping because it is in use.",
        "UpdateEventSourceMapping"))

    result = run(lam, ddb, batch_size=10, filters=[{"eventName": ["INSERT"]}])

    updates = [kw for op, kw in lam.calls if op == "update_event_source_mapping"]
    assert len(updates) == 2
    assert updates[-1]["UUID"] == mapping["UUID"] and updates[-1]["BatchSize"] == 10
    assert updates[-1]["FilterCriteria"] == {"Filters": [{"Pattern": '{"eventName":["INSERT"]}'}]}
    assert "StartingPosition" not in updates[-1]
    assert result["changed"] is True and result["batch_size"] == 10 and result["state"] == "Enabled"


def test_disabling_a_mapping_is_an_update_that_ends_disabled(clock):
    lam, ddb, table = world()
    lam.add_mapping("fn", table["LatestStreamArn"])

    result = run(lam, ddb, enabled=False)

    assert lam.writes() == ["update_event_source_mapping"]
    assert result["state"] == "Disabled"


def test_a_mapping_being_deleted_is_waited_out_and_replaced_by_a_new_one(clock):
    lam, ddb, table = world()
    going = lam.add_mapping("fn", table["LatestStreamArn"], state="Deleting")
    lam.delete_reads = 2

    result = run(lam, ddb)

    assert result["replaced"] is False and result["deleted"] == []
    assert going["UUID"] not in lam.mappings
    assert lam.writes() == ["create_event_source_mapping"]


def test_check_mode_predicts_the_creation_without_writing(clock):
    lam, ddb, table = world()

    result = run(lam, ddb, check_mode=True, batch_size=7)

    assert result["changed"] is True and lam.writes() == []
    assert result["uuid"] is None and result["event_source_arn"] == table["LatestStreamArn"]
    assert result["batch_size"] == 7 and result["state"] == "Enabled"


def test_check_mode_counts_a_stale_mapping_without_deleting_it(clock):
    lam, ddb, table = world()
    stale = lam.add_mapping("fn", recreate_stream(ddb, table))
    lam.add_mapping("fn", table["LatestStreamArn"])

    result = run(lam, ddb, check_mode=True)

    assert result["changed"] is True and result["deleted"] == [stale["UUID"]] and lam.writes() == []


# --- what is not there yet --------------------------------------------------------------------------------------

def test_check_mode_reports_a_trigger_for_a_function_that_does_not_exist_yet(clock):
    lam, ddb, _table = world()
    del lam.functions["fn"]
    module = FakeModule(check_mode=True)

    result = st.run(module, lam, ddb, params())

    assert result == {"changed": True, "replaced": False, "replaced_reason": None, "uuid": None, "deleted": []}
    assert lam.writes() == [] and ddb.writes() == []
    assert module.warnings == ["function fn does not exist; in check mode it may be created by an earlier task, so "
                               "the trigger is reported as to be created"]


def test_without_check_mode_a_missing_function_is_an_error(clock):
    lam, ddb, _table = world()
    del lam.functions["fn"]

    with pytest.raises(st.TriggerError, match="function fn does not exist"):
        run(lam, ddb)


def test_a_disabled_stream_that_still_reports_its_old_arn_is_not_a_source(clock):
    lam, ddb, _table = world()
    ddb.disable_stream_keeping_arn("orders")

    with pytest.raises(st.TriggerError, match="has no enabled stream"):
        run(lam, ddb)
    assert lam.writes() == []


def test_check_mode_on_a_table_without_a_stream_yet_reports_a_change(clock):
    lam, ddb, _table = world(view_type=None)
    module = FakeModule(check_mode=True)

    result = st.run(module, lam, ddb, params())

    assert result == {"changed": True, "replaced": False, "replaced_reason": None, "uuid": None, "deleted": []}
    assert lam.writes() == []
    assert module.warnings == ["table orders has no enabled stream (enable it with "
                               "streamops.dynamodb_lambda.dynamodb_stream); in check mode it may be created by an "
                               "earlier task"]


# --- absent -----------------------------------------------------------------------------------------------------

def test_absent_deletes_every_mapping_of_the_table_and_waits_until_gone(clock):
    lam, ddb, table = world()
    old = lam.add_mapping("fn", recreate_stream(ddb, table))
    current = lam.add_mapping("fn", table["LatestStreamArn"])
    lam.add_mapping("fn", "arn:aws:dynamodb:us-east-1:123456789012:table/other/stream/2026-01-01T00:00:00.000")
    lam.delete_reads = 2

    result = run(lam, ddb, state="absent")

    assert result["changed"] is True and sorted(result["deleted"]) == sorted([old["UUID"], current["UUID"]])
    assert old["UUID"] not in lam.mappings and current["UUID"] not in lam.mappings
    assert len(lam.mappings) == 1


def test_absent_in_check_mode_writes_nothing(clock):
    lam, ddb, table = world()
    mapping = lam.add_mapping("fn", table["LatestStreamArn"])

    result = run(lam, ddb, check_mode=True, state="absent")

    assert result == {"changed": True, "replaced": False, "replaced_reason": None, "uuid": None,
                      "deleted": [mapping["UUID"]], "diff": {"before": {mapping["UUID"]: table["LatestStreamArn"]},
                                                             "after": {}}}
    assert lam.writes() == []


def test_absent_retries_a_delete_refused_mid_transition(clock):
    lam, ddb, table = world()
    lam.add_mapping("fn", table["LatestStreamArn"])
    lam.fail("delete_event_source_mapping", client_error(
        "ResourceInUseException", "Cannot delete the event source mapping because it is in use.",
        "DeleteEventSourceMapping"))

    result = run(lam, ddb, state="absent")

    assert lam.operations().count("delete_event_source_mapping") == 2 and lam.mappings == {}
    assert result["changed"] is True


# --- the source given as a stream ARN, or missing --------------------------------------------------------------

def test_a_stream_arn_source_needs_no_table_read(clock):
    lam, ddb, table = world()
    stream_arn = table["LatestStreamArn"]

    result = st.run(FakeModule(), lam, None, params(table_name=None, stream_arn=stream_arn))

    [request] = [kw for op, kw in lam.calls if op == "create_event_source_mapping"]
    assert request["EventSourceArn"] == stream_arn and result["event_source_arn"] == stream_arn
    assert ddb.calls == []


def test_a_stream_arn_source_finds_a_stale_mapping_of_the_same_table(clock):
    lam, ddb, table = world()
    stale = lam.add_mapping("fn", recreate_stream(ddb, table))

    result = st.run(FakeModule(), lam, None, params(table_name=None, stream_arn=table["LatestStreamArn"]))

    assert result["replaced"] is True and result["deleted"] == [stale["UUID"]]


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_missing_table_is_an_error_or_a_check_mode_warning(clock, check_mode):
    lam, ddb = FakeLambda(), FakeDynamoDB()
    lam.add_function("fn")
    # A mapping of the function on another table: the lookup must still know which table to look for.
    lam.add_mapping("fn", "arn:aws:dynamodb:us-east-1:123456789012:table/other/stream/2026-01-01T00:00:00.000")
    module = FakeModule(check_mode=check_mode)

    if check_mode:
        result = st.run(module, lam, ddb, params())
        assert result["changed"] is True and module.warnings[0].startswith("table orders does not exist; ")
    else:
        with pytest.raises(st.TriggerError) as failed:
            st.run(module, lam, ddb, params())
        assert str(failed.value) == "table orders does not exist"
    assert lam.writes() == []


# --- settling what was found ------------------------------------------------------------------------------------

def test_a_settled_mapping_is_compared_without_extra_reads(clock):
    lam, ddb, table = world()
    lam.add_mapping("fn", table["LatestStreamArn"], tags=MANAGED)

    run(lam, ddb)

    # GetFunction, DescribeTable, one listing, the tags: a mapping at rest is not polled.
    assert lam.operations() == ["get_function", "list_event_source_mappings", "list_tags"]
    assert ddb.operations() == ["describe_table"]


@pytest.mark.parametrize("first_state, first_script", [
    ("Deleting", []),
    # Updating, then deleted by someone else while this run waits for it to settle.
    ("Updating", [{"State": "Deleting"}]),
])
def test_a_mapping_that_goes_away_while_settling_does_not_hide_the_next_one(clock, first_state, first_script):
    lam, ddb, table = world()
    going = lam.add_mapping("fn", table["LatestStreamArn"], state=first_state, script=first_script)
    current = lam.add_mapping("fn", table["LatestStreamArn"], tags=MANAGED)
    lam.delete_reads = 1

    result = run(lam, ddb)

    assert going["UUID"] not in lam.mappings
    assert result["changed"] is False and result["uuid"] == current["UUID"] and lam.writes() == []


def test_the_no_stream_message_names_the_table_and_the_module_to_use(clock):
    lam, ddb, _table = world(view_type=None)

    with pytest.raises(st.TriggerError) as failed:
        run(lam, ddb)

    assert str(failed.value) == ("table orders has no enabled stream (enable it with "
                                 "streamops.dynamodb_lambda.dynamodb_stream)")


def test_a_second_mapping_on_the_current_stream_is_a_leftover_to_delete(clock):
    lam, ddb, table = world()
    kept = lam.add_mapping("fn", table["LatestStreamArn"], tags=MANAGED)
    extra = lam.add_mapping("fn", table["LatestStreamArn"], tags=MANAGED)

    result = run(lam, ddb)

    assert result["uuid"] == kept["UUID"] and result["deleted"] == [extra["UUID"]]
    assert writes(lam) == [("delete_event_source_mapping", extra["UUID"])]


# --- tags -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("purge, unset", [(True, ["old"]), (False, [])])
def test_tags_of_an_existing_mapping_converge_and_keep_the_ownership_tag(clock, purge, unset):
    lam, ddb, table = world()
    mapping = lam.add_mapping("fn", table["LatestStreamArn"], tags=dict(MANAGED, old="1"))

    result = run(lam, ddb, tags={"team": "data"}, purge_tags=purge)

    tag_calls = [(op, kw) for op, kw in lam.calls if op in ("tag_resource", "untag_resource")]
    arn = mapping["EventSourceMappingArn"]
    expected = [("tag_resource", {"Resource": arn, "Tags": {"team": "data"}})]
    if unset:
        expected.append(("untag_resource", {"Resource": arn, "TagKeys": unset}))
    assert tag_calls == expected
    assert result["changed"] is True and result["tags"] == lam.tags[arn]
    assert lam.tags[arn] == dict(MANAGED, team="data", **({} if purge else {"old": "1"}))
    assert result["diff"]["after"]["tags"] == lam.tags[arn]


def test_tags_of_a_mapping_this_collection_did_not_create_get_no_ownership_tag(clock):
    lam, ddb, table = world()
    mapping = lam.add_mapping("fn", table["LatestStreamArn"], tags={"team": "x"})

    run(lam, ddb, tags={"team": "data"})

    assert lam.tags[mapping["EventSourceMappingArn"]] == {"team": "data"}


def test_a_recreated_mapping_carries_the_wanted_tags_and_the_ownership_tag(clock):
    lam, ddb, table = world()
    lam.add_mapping("fn", table["LatestStreamArn"], StartingPosition="TRIM_HORIZON", tags={"team": "x"})

    result = run(lam, ddb, tags={"team": "data"})

    [request] = [kw for op, kw in lam.calls if op == "create_event_source_mapping"]
    assert request["Tags"] == dict(MANAGED, team="data")
    assert [op for op in lam.writes() if "tag" in op] == []
    assert result["tags"] == dict(MANAGED, team="data")


# --- more of ensure_present ----------------------------------------------------------------------------------

def test_check_mode_predicts_a_disabled_mapping_in_the_result_shape(clock):
    lam, ddb, table = world()

    result = run(lam, ddb, check_mode=True, enabled=False)

    assert result["state"] == "Disabled" and "enabled" not in result
    assert result["function_arn"] == lam.function_arn("fn")


def test_without_wait_only_a_replacement_on_the_same_stream_waits_for_the_old_one(clock):
    lam, ddb, table = world()
    old = lam.add_mapping("fn", table["LatestStreamArn"], StartingPosition="TRIM_HORIZON")
    lam.delete_reads = 2

    run(lam, ddb, wait=False)

    reads_of_old = [kw for op, kw in lam.calls if op == "get_event_source_mapping" and kw["UUID"] == old["UUID"]]
    assert len(reads_of_old) == 3 and lam.operations().count("create_event_source_mapping") == 1


def test_without_wait_a_mapping_on_an_old_stream_is_deleted_without_waiting(clock):
    lam, ddb, table = world()
    old = lam.add_mapping("fn", recreate_stream(ddb, table))

    result = run(lam, ddb, wait=False)

    assert [kw for op, kw in lam.calls if op == "get_event_source_mapping" and kw["UUID"] == old["UUID"]] == []
    assert result["uuid"] != old["UUID"] and lam.operations().count("create_event_source_mapping") == 1
    # Without waiting, the result is one read after the create (the fake's mapping is Enabled by then).
    assert lam.operations()[-2:] == ["get_event_source_mapping", "list_tags"] and result["state"] == "Enabled"


def test_clearing_filters_sends_an_explicit_empty_list(clock):
    lam, ddb, table = world()
    lam.add_mapping("fn", table["LatestStreamArn"],
                    FilterCriteria={"Filters": [{"Pattern": "{\"eventName\":[\"INSERT\"]}"}]})

    run(lam, ddb, filters=[])

    [update] = [kw for op, kw in lam.calls if op == "update_event_source_mapping"]
    # Lambda keeps the filters of a mapping when FilterCriteria is left out.
    assert update["FilterCriteria"] == {"Filters": []}


def test_a_mapping_that_disappears_while_waiting_is_an_error_naming_it(clock):
    lam, ddb, _table = world()
    lam.mapping_script = [{"State": "Deleting"}]
    lam.delete_reads = 0

    with pytest.raises(st.TriggerError) as failed:
        run(lam, ddb)

    [created] = [op for op in lam.operations() if op == "create_event_source_mapping"]
    assert lam.mappings == {}
    assert str(failed.value) == "event source mapping uuid-1 disappeared while waiting for it"


def test_absent_with_a_stream_arn_removes_the_mappings_of_that_table(clock):
    lam, ddb, table = world()
    old = lam.add_mapping("fn", recreate_stream(ddb, table))
    other = lam.add_mapping("fn", "arn:aws:dynamodb:us-east-1:123456789012:table/other/stream/2026-01-01T00:00:00.000")

    result = st.run(FakeModule(), lam, None,
                    params(state="absent", table_name=None, stream_arn=table["LatestStreamArn"]))

    assert result["deleted"] == [old["UUID"]] and list(lam.mappings) == [other["UUID"]]


def test_a_mapping_stuck_deleting_times_out_saying_it_waited_for_the_deletion(clock):
    from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import WaitTimeout

    lam, ddb, table = world()
    stuck = lam.add_mapping("fn", table["LatestStreamArn"], state="Deleting")
    lam.delete_reads = 10 ** 6

    with pytest.raises(WaitTimeout) as failed:
        run(lam, ddb, wait_timeout=10)

    assert str(failed.value) == ("timed out after 10s waiting for event source mapping %s to be deleted (last "
                                 "seen: Deleting)" % stuck["UUID"])


# --- wait_for_source: a source table still CREATING (dynamodb_stream with wait: false) -------------------------

def creating_world(creating_reads=2, enabling_reads=1):
    """A table CreateTable answered CREATING, ACTIVE after *creating_reads* DescribeTable reads; its stream is
    ENABLING for *enabling_reads* DescribeStream reads."""
    lam, ddb = FakeLambda(), FakeDynamoDB()
    lam.add_function("fn")
    table = ddb.add_table("orders", view_type="NEW_AND_OLD_IMAGES", status="CREATING",
                          script=[{}] * (creating_reads - 1) + [{"TableStatus": "ACTIVE"}])
    return lam, ddb, FakeStreams(enabling_reads=enabling_reads), table


def run_from_stream(lam, table, source_clients, check_mode=False, **overrides):
    """The trigger as playbooks/setup.yml runs it: the stream ARN table_stream published, no table read."""
    return st.run(FakeModule(check_mode=check_mode), lam, None,
                  params(table_name=None, stream_arn=table["LatestStreamArn"], **overrides), source_clients)


def never_called():
    raise AssertionError("the source's clients were asked for")


def test_a_create_waits_until_the_table_is_active_and_its_stream_enabled(clock):
    lam, ddb, streams, table = creating_world(creating_reads=3, enabling_reads=2)
    seen_at_create = []
    create = lam.create_event_source_mapping

    def create_and_look(**kwargs):
        seen_at_create.append((ddb.tables["orders"]["TableStatus"], streams.operations().count("describe_stream")))
        return create(**kwargs)

    lam.create_event_source_mapping = create_and_look

    result = run_from_stream(lam, table, lambda: (ddb, streams), wait_for_source=True)

    assert result["changed"] is True and result["event_source_arn"] == table["LatestStreamArn"]
    assert ddb.operations() == ["describe_table"] * 3
    assert [kw["StreamArn"] for _op, kw in streams.calls] == [table["LatestStreamArn"]] * 3
    # Lambda was asked only once the table read ACTIVE and the stream ENABLED (its third read).
    assert seen_at_create == [("ACTIVE", 3)]


@pytest.mark.parametrize("case", ["wait_for_source off", "mapping exists", "check mode"])
def test_the_source_is_not_read_unless_a_mapping_is_about_to_be_created(clock, case):
    lam, _ddb, _streams, table = creating_world()
    if case == "mapping exists":
        lam.add_mapping("fn", table["LatestStreamArn"], tags=MANAGED)

    result = run_from_stream(lam, table, never_called, check_mode=case == "check mode",
                             wait_for_source=case != "wait_for_source off")

    assert result["changed"] is (case != "mapping exists")
    created = lam.operations().count("create_event_source_mapping")
    assert created == (1 if case == "wait_for_source off" else 0)


def test_a_table_that_stays_creating_times_out_naming_it_and_creates_nothing(clock):
    lam, ddb, streams, table = creating_world(creating_reads=1000)
    stale = lam.add_mapping("fn", recreate_stream(ddb, table))

    with pytest.raises(st.TriggerError) as failed:
        run_from_stream(lam, table, lambda: (ddb, streams), wait_for_source=True, wait_timeout=30)

    assert str(failed.value) == ("wait_for_source: timed out after 30s waiting for table orders to be ACTIVE (last "
                                 "seen: CREATING); no mapping was created")
    # The old mapping is left in place: the wait comes before any delete.
    assert lam.writes() == [] and [m["UUID"] for m in lam.mappings.values()] == [stale["UUID"]]
    assert streams.calls == []


def test_a_stream_that_stays_enabling_times_out_naming_it(clock):
    lam, ddb, streams, table = creating_world(creating_reads=1, enabling_reads=1000)

    with pytest.raises(st.TriggerError) as failed:
        run_from_stream(lam, table, lambda: (ddb, streams), wait_for_source=True, wait_timeout=30)

    message = str(failed.value)
    assert message.startswith("wait_for_source: timed out after ")
    assert message.endswith("waiting for stream %s to be ENABLED (last seen: ENABLING); no mapping was created"
                            % table["LatestStreamArn"])
    assert lam.writes() == []
