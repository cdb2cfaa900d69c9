"""pipeline_wait against the sandbox: stream_function and stream_trigger with wait=false leave their resources
mid-transition, and one pipeline_wait sees them settle (or names what failed); check mode reads nothing."""

from __future__ import annotations

import io
import zipfile

import pytest

TABLE = "users_post"
FUNCTION = "Lambda_demo_DynamoDB_stream"
HANDLER = "def lambda_handler(event, context):\n    return {'batchItemFailures': []}\n"
HANDLER_DIR_FILES = {"handler.py": HANDLER}


def create_function(aws):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", HANDLER)
    return aws("lambda").create_function(FunctionName=FUNCTION, Runtime="python3.12", Role=aws.lambda_role("wait-test-role"),
                                         Handler="handler.lambda_handler", Code={"ZipFile": buf.getvalue()})


def mappings(aws):
    return aws("lambda").list_event_source_mappings()["EventSourceMappings"]


@pytest.fixture
def table(aws):
    aws("dynamodb").create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                                 AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
                                 KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
                                 StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    return aws("dynamodb").describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]


@pytest.fixture
def slow(sandbox):
    """Functions stay Pending and mappings Creating / Deleting for a while, as on AWS."""
    sandbox.configure(function_transition=1.5, mapping_transition=1.5)
    yield
    sandbox.configure(function_transition=0, mapping_transition=0)


def function_args(tmp_path, aws, **extra):
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    for name, text in HANDLER_DIR_FILES.items():
        (src / name).write_text(text)
    return dict(function_name=FUNCTION, src=str(src), handler="handler.lambda_handler", runtime="python3.12",
                role=aws.lambda_role("wait-test-role"), **extra)


def test_deferred_function_and_trigger_end_settled(run_module, aws, table, slow, tmp_path):
    function = run_module("stream_function", **function_args(tmp_path, aws, wait=False))
    assert function.get("failed") is not True, function
    assert function["state"] == "Pending"  # returned at once, not after the transition
    trigger = run_module("stream_trigger", function_name=FUNCTION, stream_arn=table, wait=False)
    assert trigger.get("failed") is not True, trigger
    assert trigger["state"] == "Creating"

    waited = run_module("pipeline_wait", function_name=FUNCTION,
                        mappings=[{"uuid": trigger["uuid"], "state": "Enabled"}], wait_timeout=60)

    assert waited.get("failed") is not True and waited["changed"] is False, waited
    assert waited["function"] == {"state": "Active", "last_update_status": "Successful"}
    assert waited["mappings"][0]["state"] == "Enabled"
    assert aws("lambda").get_function_configuration(FunctionName=FUNCTION)["State"] == "Active"
    assert aws("lambda").get_event_source_mapping(UUID=trigger["uuid"])["State"] == "Enabled"

    # Idempotent: a second deploy without wait changes nothing and is already settled.
    again = run_module("stream_function", **function_args(tmp_path, aws, wait=False))
    assert again["changed"] is False and again["state"] == "Active", again

    gone = run_module("stream_trigger", function_name=FUNCTION, stream_arn=table, state="absent", wait=False)
    assert gone["deleted"] == [trigger["uuid"]]
    assert aws("lambda").get_event_source_mapping(UUID=trigger["uuid"])["State"] == "Deleting"
    waited = run_module("pipeline_wait", mappings=[{"uuid": trigger["uuid"], "state": "absent"}], wait_timeout=60)
    assert waited.get("failed") is not True, waited
    assert waited["mappings"] == [{"uuid": trigger["uuid"], "state": "gone", "state_transition_reason": None}]
    assert mappings(aws) == []


def test_stream_function_waits_by_default(run_module, aws, slow, tmp_path):
    function = run_module("stream_function", **function_args(tmp_path, aws))
    assert function.get("failed") is not True, function
    assert function["state"] == "Active" and function["last_update_status"] in (None, "Successful"), function


def test_a_mapping_lambda_disables_is_a_failure_with_its_reason(run_module, aws, sandbox, table):
    create_function(aws)
    sandbox._call("POST", "/_sandbox/lambda/next-mapping-state", {"state": "Failed", "seconds": 0.5,
                                                                  "reason": "the stream cannot be read"})
    trigger = run_module("stream_trigger", function_name=FUNCTION, stream_arn=table, wait=False)
    assert trigger.get("failed") is not True, trigger

    waited = run_module("pipeline_wait", mappings=[{"uuid": trigger["uuid"]}], wait_timeout=30)

    assert waited["failed"] is True
    assert waited["msg"] == ("event source mapping %s ended Disabled instead of Enabled: PROBLEM: the stream cannot "
                             "be read" % trigger["uuid"]), waited["msg"]


def test_the_timeout_names_what_is_still_transitioning(run_module, aws, sandbox, table):
    create_function(aws)
    sandbox.configure(mapping_transition=30)
    try:
        trigger = run_module("stream_trigger", function_name=FUNCTION, stream_arn=table, wait=False)
        waited = run_module("pipeline_wait", function_name=FUNCTION, mappings=[{"uuid": trigger["uuid"]}],
                            wait_timeout=2)
    finally:
        sandbox.configure(mapping_transition=0)
    assert waited["failed"] is True
    # The function settled; only the mapping is named.
    assert waited["msg"] == ("timed out after 2s waiting for event source mapping %s to be Enabled (last seen: "
                             "event source mapping %s to be Enabled: Creating)" % (trigger["uuid"], trigger["uuid"]))


def test_a_missing_function_fails_and_absent_is_gone_at_once(run_module, sandbox):
    sandbox.reset_stats()
    missing = run_module("pipeline_wait", function_name="nope", wait_timeout=5)
    assert missing["failed"] is True and missing["msg"] == "function nope does not exist"
    gone = run_module("pipeline_wait", function_name="nope", function_state="absent", wait_timeout=5)
    assert gone.get("failed") is not True and gone["function"] is None, gone


def test_check_mode_reads_nothing(run_module, sandbox):
    sandbox.reset_stats()
    result = run_module("pipeline_wait", check=True, function_name="nope", mappings=[{"uuid": None}])
    assert result.get("failed") is not True and result["changed"] is False, result
    calls = sandbox.stats()["calls"]
    assert not [c for c in calls if c.startswith("lambda:")], calls


def test_wait_timeout_out_of_range_is_refused_before_any_call(run_module, sandbox):
    sandbox.reset_stats()
    result = run_module("pipeline_wait", function_name="x", wait_timeout=0)
    assert result["failed"] is True and result["msg"] == "wait_timeout: must be 1-3600 seconds (got 0)"
    assert not [c for c in sandbox.stats()["calls"] if c.startswith("lambda:")]


def test_many_pipelines_report_each_failure_under_its_name(run_module, aws, slow, sandbox):
    create_function(aws)  # Pending for a while (slow), then Active
    result = run_module("pipeline_wait", wait_timeout=30, pipelines=[
        {"name": "ok", "function_name": FUNCTION, "msg_prefix": "[ok] "},
        {"name": "missing", "function_name": "nope", "msg_prefix": "[missing] "},
        {"name": "gone", "function_name": "nope", "function_state": "absent"},
    ])
    assert result["failed"] is True and result["msg"] == "[missing] function nope does not exist", result
    assert result["failures"] == {"missing": "[missing] function nope does not exist"}
    assert result["pipelines"]["ok"]["function"] == {"state": "Active", "last_update_status": "Successful"}
    assert result["pipelines"]["gone"] == {"function": None, "mappings": []}
    assert aws("lambda").get_function_configuration(FunctionName=FUNCTION)["State"] == "Active"


def test_many_pipelines_refuse_a_name_twice_and_the_single_options_beside_them(run_module, sandbox):
    sandbox.reset_stats()
    twice = run_module("pipeline_wait", pipelines=[{"name": "a"}, {"name": "a"}])
    assert twice["failed"] is True and twice["msg"] == "pipelines: each name once, got a more than once", twice
    both = run_module("pipeline_wait", function_name="x", pipelines=[{"name": "a"}])
    assert both["failed"] is True and "mutually exclusive" in both["msg"], both
    assert not [c for c in sandbox.stats()["calls"] if c.startswith("lambda:")]


def test_many_mappings_are_awaited_with_a_listing_not_one_read_each(run_module, aws, table, slow, sandbox):
    names = ["%s_%d" % (FUNCTION, i) for i in range(3)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", HANDLER)
    uuids = []
    for name in names:
        aws("lambda").create_function(FunctionName=name, Runtime="python3.12", Role=aws.lambda_role("wait-test-role"),
                                      Handler="handler.lambda_handler", Code={"ZipFile": buf.getvalue()})
        trigger = run_module("stream_trigger", function_name=name, stream_arn=table, wait=False)
        assert trigger.get("failed") is not True, trigger
        uuids.append(trigger["uuid"])
    assert {m["State"] for m in mappings(aws)} == {"Creating"}  # still transitioning (slow)
    sandbox.reset_stats()

    result = run_module("pipeline_wait", wait_timeout=60, pipelines=[
        {"name": name, "mappings": [{"uuid": uuid}]} for name, uuid in zip(names, uuids)])

    assert result.get("failed") is not True, result
    assert [result["pipelines"][name]["mappings"][0]["state"] for name in names] == ["Enabled"] * 3
    # The first round has all three pending, so it lists; later rounds may read one by one, once fewer than three
    # are left (the mappings were created one after another and settle so); the unit tests pin the rounds down.
    calls = sandbox.stats()["calls"]
    assert calls.get("lambda:ListEventSourceMappings", 0) >= 1, calls
