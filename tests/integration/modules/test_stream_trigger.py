"""stream_trigger / stream_trigger_info against the sandbox: every option, check mode, diff, idempotence,
replacement (new stream, starting position), and the AWS behaviours users meet (IAM propagation, transitions, throttling) via the fault knobs."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

TABLE = "users_post"
FUNCTION = "Lambda_demo_DynamoDB_stream"
MANAGED = {"streamops:managed-by": "streamops.dynamodb_lambda"}
HANDLER = b"def lambda_handler(event, context):\n    return {'batchItemFailures': []}\n"


def make_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", HANDLER)
    return buf.getvalue()


def create_function(aws, name=FUNCTION, role_name="trigger-test-role"):
    role = aws.lambda_role(role_name)  # may read the stream: the sandbox evaluates the execution role
    return aws("lambda").create_function(FunctionName=name, Runtime="python3.12", Role=role,
                                         Handler="handler.lambda_handler", Code={"ZipFile": make_zip()})


@pytest.fixture
def pipeline(aws, run_module):
    """A table with a NEW_AND_OLD_IMAGES stream and a function; returns (stream_arn, function_arn)."""
    aws("dynamodb").create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                                 AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
                                 KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
                                 StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    stream_arn = aws("dynamodb").describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    function_arn = create_function(aws)["FunctionArn"]
    return stream_arn, function_arn


def mappings(aws, function_arn=None):
    out = aws("lambda").list_event_source_mappings()["EventSourceMappings"]
    return [m for m in out if function_arn is None or m["FunctionArn"] == function_arn]


def only_mapping(aws):
    found = mappings(aws)
    assert len(found) == 1, found
    return aws("lambda").get_event_source_mapping(UUID=found[0]["UUID"])


def trigger(run_module, **args):
    return run_module("stream_trigger", **{"function_name": FUNCTION, "table_name": TABLE, **args})


def test_create_defaults_then_idempotent(run_module, aws, pipeline):
    stream_arn, function_arn = pipeline
    first = trigger(run_module)
    assert first.get("failed") is not True, first
    assert first["changed"] is True and first["replaced"] is False and first["replaced_reason"] is None
    m = only_mapping(aws)
    assert first["uuid"] == m["UUID"]
    assert m["EventSourceArn"] == stream_arn and m["FunctionArn"] == function_arn
    assert m["BatchSize"] == 100 and m["StartingPosition"] == "LATEST" and m["State"] == "Enabled"
    assert first["state"] == "Enabled" and first["event_source_arn"] == stream_arn
    assert first["tags"] == MANAGED
    assert aws("lambda").list_tags(Resource=m["EventSourceMappingArn"])["Tags"] == MANAGED
    second = trigger(run_module)
    assert second["changed"] is False, second
    assert second["uuid"] == first["uuid"]


ALL_OPTIONS = dict(
    batch_size=250,
    maximum_batching_window=5,
    parallelization_factor=3,
    bisect_batch_on_function_error=True,
    maximum_retry_attempts=4,
    maximum_record_age=3600,
    tumbling_window=30,
    report_batch_item_failures=True,
    filters=[{"eventName": ["INSERT", "MODIFY"]}, '{"dynamodb": {"Keys": {"user_id": {"S": ["u1"]}}}}'],
    metrics=["EventCount"],
    enabled=False,
    tags={"team": "data"},
)


def test_every_option_is_applied_and_idempotent(run_module, aws, pipeline):
    queue_arn = aws("sqs").get_queue_attributes(
        QueueUrl=aws("sqs").create_queue(QueueName="dlq")["QueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    key_arn = aws("kms").create_key()["KeyMetadata"]["Arn"]
    args = dict(ALL_OPTIONS, on_failure_destination=queue_arn, kms_key_arn=key_arn)
    result = trigger(run_module, **args)
    assert result.get("failed") is not True, result
    m = only_mapping(aws)
    assert m["BatchSize"] == 250
    assert m["MaximumBatchingWindowInSeconds"] == 5
    assert m["ParallelizationFactor"] == 3
    assert m["BisectBatchOnFunctionError"] is True
    assert m["MaximumRetryAttempts"] == 4
    assert m["MaximumRecordAgeInSeconds"] == 3600
    assert m["TumblingWindowInSeconds"] == 30
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert m["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn
    assert m["KMSKeyArn"] == key_arn
    assert m["MetricsConfig"]["Metrics"] == ["EventCount"]
    assert m["State"] == "Disabled"
    patterns = [json.loads(f["Pattern"]) for f in m["FilterCriteria"]["Filters"]]
    assert {"eventName": ["INSERT", "MODIFY"]} in patterns
    assert {"dynamodb": {"Keys": {"user_id": {"S": ["u1"]}}}} in patterns
    assert aws("lambda").list_tags(Resource=m["EventSourceMappingArn"])["Tags"] == {"team": "data", **MANAGED}
    assert result["batch_size"] == 250 and result["state"] == "Disabled"
    again = trigger(run_module, **args)
    assert again["changed"] is False, again.get("diff")


def test_filter_normalisation_no_false_change(run_module, aws, pipeline):
    trigger(run_module, filters=[{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["post"]}}}}])
    reordered = '{ "dynamodb" : {"NewImage": {"kind": {"S": ["post"]}}},\n  "eventName": ["INSERT"] }'
    result = trigger(run_module, filters=[reordered])
    assert result["changed"] is False, result.get("diff")


def test_filters_removed_explicitly(run_module, aws, pipeline):
    trigger(run_module, filters=[{"eventName": ["REMOVE"]}])
    assert only_mapping(aws)["FilterCriteria"]["Filters"]
    result = trigger(run_module, filters=[], diff=True)
    assert result["changed"] is True
    assert result["diff"]["before"]["filters"] and result["diff"]["after"]["filters"] == []
    assert not (only_mapping(aws).get("FilterCriteria") or {}).get("Filters")
    assert trigger(run_module, filters=[])["changed"] is False


@pytest.mark.parametrize("option, first, second, api_field", [
    ("batch_size", 100, 500, "BatchSize"),
    ("maximum_batching_window", 0, 10, "MaximumBatchingWindowInSeconds"),
    ("parallelization_factor", 1, 2, "ParallelizationFactor"),
    ("maximum_retry_attempts", -1, 2, "MaximumRetryAttempts"),
    ("maximum_record_age", -1, 120, "MaximumRecordAgeInSeconds"),
    ("tumbling_window", 0, 60, "TumblingWindowInSeconds"),
    ("bisect_batch_on_function_error", False, True, "BisectBatchOnFunctionError"),
])
def test_update_in_place_keeps_uuid(run_module, aws, pipeline, option, first, second, api_field):
    created = trigger(run_module, **{option: first})
    updated = trigger(run_module, diff=True, **{option: second})
    assert updated["changed"] is True and updated["replaced"] is False
    assert updated["uuid"] == created["uuid"]
    assert updated["diff"]["before"][option] == first and updated["diff"]["after"][option] == second
    assert only_mapping(aws)[api_field] == second
    assert trigger(run_module, **{option: second})["changed"] is False


def test_disable_and_enable(run_module, aws, pipeline):
    trigger(run_module)
    off = trigger(run_module, enabled=False)
    assert off["changed"] is True and off["state"] == "Disabled"
    assert only_mapping(aws)["State"] == "Disabled"
    on = trigger(run_module, enabled=True)
    assert on["changed"] is True and on["state"] == "Enabled"


def test_starting_position_change_replaces(run_module, aws, pipeline):
    created = trigger(run_module, starting_position="LATEST")
    replaced = trigger(run_module, starting_position="TRIM_HORIZON", diff=True)
    assert replaced["changed"] is True and replaced["replaced"] is True
    assert "starting_position" in replaced["replaced_reason"]
    assert replaced["uuid"] != created["uuid"] and replaced["deleted"] == [created["uuid"]]
    assert replaced["diff"]["before"]["starting_position"] == "LATEST"
    assert replaced["diff"]["after"]["starting_position"] == "TRIM_HORIZON"
    m = only_mapping(aws)
    assert m["UUID"] == replaced["uuid"] and m["StartingPosition"] == "TRIM_HORIZON"


def test_trigger_follows_recreated_stream(run_module, aws, pipeline):
    old_stream, _function_arn = pipeline
    created = trigger(run_module)
    stream = run_module("dynamodb_stream", table_name=TABLE, view_type="NEW_IMAGE")
    assert stream.get("failed") is not True, stream
    assert stream["stream_replaced"] is True
    followed = trigger(run_module, diff=True)
    assert followed["changed"] is True and followed["replaced"] is True, followed
    assert "re-created" in followed["replaced_reason"]
    assert followed["event_source_arn"] == stream["stream_arn"] != old_stream
    assert followed["deleted"] == [created["uuid"]]
    assert followed["diff"]["before"]["event_source_arn"] == old_stream
    assert followed["diff"]["after"]["event_source_arn"] == stream["stream_arn"]
    m = only_mapping(aws)
    assert m["EventSourceArn"] == stream["stream_arn"]
    assert trigger(run_module)["changed"] is False


def test_identify_by_stream_arn_and_function_arn(run_module, aws, pipeline):
    stream_arn, function_arn = pipeline
    created = run_module("stream_trigger", function_name=function_arn, stream_arn=stream_arn)
    assert created["changed"] is True, created
    same = trigger(run_module)  # by plain name and table_name: the same mapping
    assert same["changed"] is False and same["uuid"] == created["uuid"]


def test_qualified_function_alias(run_module, aws, pipeline):
    _stream_arn, function_arn = pipeline
    version = aws("lambda").publish_version(FunctionName=FUNCTION)["Version"]
    aws("lambda").create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion=version)
    result = trigger(run_module, function_name=FUNCTION + ":live")
    assert result.get("failed") is not True, result
    assert result["function_arn"] == function_arn + ":live"
    assert trigger(run_module, function_name=FUNCTION + ":live")["changed"] is False


def test_check_mode_writes_nothing(run_module, aws, pipeline):
    result = trigger(run_module, check=True, diff=True, batch_size=300)
    assert result["changed"] is True and result["uuid"] is None
    assert result["batch_size"] == 300 and result["diff"]["before"] == {}
    assert mappings(aws) == []
    created = trigger(run_module)
    changed = trigger(run_module, check=True, batch_size=300, starting_position="TRIM_HORIZON", tags={"a": "b"})
    assert changed["changed"] is True and changed["replaced"] is True
    m = only_mapping(aws)
    assert m["UUID"] == created["uuid"] and m["BatchSize"] == 100 and m["StartingPosition"] == "LATEST"
    assert aws("lambda").list_tags(Resource=m["EventSourceMappingArn"])["Tags"] == MANAGED
    gone = trigger(run_module, state="absent", check=True)
    assert gone["changed"] is True and len(mappings(aws)) == 1


def test_tags_purge_and_keep(run_module, aws, pipeline):
    trigger(run_module, tags={"a": "1", "b": "2"})
    kept = trigger(run_module, tags={"c": "3"}, purge_tags=False)
    assert kept["changed"] is True and kept["tags"] == {"a": "1", "b": "2", "c": "3", **MANAGED}
    purged = trigger(run_module, tags={"c": "3"})
    assert purged["changed"] is True and purged["tags"] == {"c": "3", **MANAGED}
    arn = only_mapping(aws)["EventSourceMappingArn"]
    assert aws("lambda").list_tags(Resource=arn)["Tags"] == {"c": "3", **MANAGED}
    assert trigger(run_module)["changed"] is False  # tags omitted: unmanaged


def test_absent_deletes_and_is_idempotent(run_module, aws, pipeline):
    created = trigger(run_module)
    gone = trigger(run_module, state="absent")
    assert gone["changed"] is True and gone["deleted"] == [created["uuid"]]
    assert mappings(aws) == []
    assert trigger(run_module, state="absent")["changed"] is False


def test_missing_table_stream_and_function(run_module, aws, pipeline):
    missing_fn = trigger(run_module, function_name="nope")
    assert missing_fn["failed"] is True and "nope does not exist" in missing_fn["msg"]
    missing_table = trigger(run_module, table_name="other_table")
    assert missing_table["failed"] is True and "other_table does not exist" in missing_table["msg"]
    aws("dynamodb").create_table(TableName="plain", BillingMode="PAY_PER_REQUEST",
                                 AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                                 KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])
    no_stream = trigger(run_module, table_name="plain")
    assert no_stream["failed"] is True and "no enabled stream" in no_stream["msg"]
    assert trigger(run_module, table_name="plain", state="absent")["changed"] is False


@pytest.mark.parametrize("args, option", [
    ({"batch_size": 0}, "batch_size"),
    ({"starting_position": "AT_TIMESTAMP"}, "starting_position"),
    ({"on_failure_destination": "arn:aws:s3:::bucket"}, "on_failure_destination"),
    ({"filters": ["{not json"]}, "filters"),
    ({"stream_arn": "arn:aws:dynamodb:us-east-1:123456789012:table/users_post/stream/x"}, "stream_arn"),
])
def test_bad_input_fails_before_any_call(run_module, sandbox, args, option):
    sandbox.reset_stats()
    result = trigger(run_module, **args)
    assert result["failed"] is True and option in result["msg"], result
    assert sandbox.stats()["total"] == 0


def test_info_lists_by_function_and_table(run_module, aws, pipeline):
    stream_arn, function_arn = pipeline
    assert run_module("stream_trigger_info", function_name=FUNCTION)["mappings"] == []
    created = trigger(run_module, batch_size=42, tags={"x": "y"})
    for args in ({"function_name": FUNCTION}, {"table_name": TABLE}, {"stream_arn": stream_arn},
                 {"function_name": function_arn, "table_name": TABLE}):
        info = run_module("stream_trigger_info", **args)
        assert info.get("failed") is not True and info["changed"] is False, info
        assert [m["uuid"] for m in info["mappings"]] == [created["uuid"]], args
        m = info["mappings"][0]
        assert m["batch_size"] == 42 and m["event_source_arn"] == stream_arn
        assert m["tags"] == {"x": "y", **MANAGED}
    other = run_module("stream_trigger_info", table_name="unknown_table")
    assert other.get("failed") is not True and other["mappings"] == []


# --- AWS behaviours users meet ---------------------------------------------------------------------------------------

def test_iam_propagation_is_retried(run_module, aws, sandbox, pipeline):
    # 6 s: long enough that the module's first CreateEventSourceMapping lands inside the window even when a
    # loaded CI machine takes seconds to start the module (3 s was seen to close before the first call).
    sandbox.configure(iam_propagation_delay=6)
    # A policy change on the function's role opens the propagation window (the same as a freshly made role):
    # CreateEventSourceMapping answers "cannot be assumed by Lambda" until it closes.
    aws("iam").put_role_policy(RoleName="trigger-test-role", PolicyName="streams",
                               PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                                   {"Effect": "Allow", "Action": "dynamodb:GetRecords", "Resource": "*"}]}))
    sandbox.reset_stats()
    result = trigger(run_module, wait_timeout=60)
    assert result.get("failed") is not True, result
    assert result["state"] == "Enabled"
    calls = sandbox.stats()["calls"]
    assert calls.get("lambda:CreateEventSourceMapping", 0) >= 2, calls
    assert len(mappings(aws)) == 1


def test_waits_through_transitions(run_module, aws, sandbox, pipeline):
    sandbox.configure(mapping_transition=1)
    created = trigger(run_module)
    assert created.get("failed") is not True and created["state"] == "Enabled", created
    updated = trigger(run_module, batch_size=200)
    assert updated["state"] == "Enabled" and only_mapping(aws)["BatchSize"] == 200
    replaced = trigger(run_module, batch_size=200, starting_position="TRIM_HORIZON")
    assert replaced.get("failed") is not True and replaced["replaced"] is True, replaced
    assert only_mapping(aws)["State"] == "Enabled"
    gone = trigger(run_module, state="absent")
    assert gone["changed"] is True and mappings(aws) == []


def test_update_right_after_create_without_wait(run_module, aws, sandbox, pipeline):
    sandbox.configure(mapping_transition=1)
    created = trigger(run_module, wait=False)
    assert created.get("failed") is not True, created
    # The mapping is still Creating: the module must wait for it rather than fail with ResourceInUseException.
    updated = trigger(run_module, batch_size=120)
    assert updated.get("failed") is not True and updated["batch_size"] == 120, updated


def test_survives_throttling(run_module, aws, sandbox, pipeline):
    sandbox.configure(throttle=0.2, seed=1)
    created = trigger(run_module, tags={"t": "1"})
    again = trigger(run_module, tags={"t": "1"})
    sandbox.configure(throttle=0)
    assert created.get("failed") is not True and again.get("failed") is not True, (created, again)
    assert again["changed"] is False
    assert len(mappings(aws)) == 1


def test_call_budget_rerun_and_absent(run_module, aws, pipeline, sandbox):
    """A re-run reads the function and lists once; absent lists once and needs neither the function nor the table."""
    stream_arn = pipeline[0]
    by_arn = {"function_name": FUNCTION, "stream_arn": stream_arn}  # as the role calls it in setup
    assert run_module("stream_trigger", **by_arn)["changed"] is True
    sandbox.reset_stats()
    assert run_module("stream_trigger", **by_arn)["changed"] is False
    assert sandbox.stats()["calls"] == {"lambda:GetFunction": 1, "lambda:ListEventSourceMappings": 1,
                                        "lambda:ListTags": 1}

    sandbox.reset_stats()
    gone = trigger(run_module, state="absent")
    assert gone["changed"] is True and len(gone["deleted"]) == 1
    calls = sandbox.stats()["calls"]
    assert calls.pop("lambda:GetEventSourceMapping") >= 1  # waiting until it is gone
    assert calls == {"lambda:ListEventSourceMappings": 1, "lambda:DeleteEventSourceMapping": 1}
    assert mappings(aws) == []


def test_absent_finds_the_mapping_after_its_function_and_table_are_gone(run_module, aws, pipeline):
    assert trigger(run_module)["changed"] is True
    aws("dynamodb").delete_table(TableName=TABLE)
    gone = trigger(run_module, state="absent")
    assert gone["changed"] is True and len(gone["deleted"]) == 1, gone
    assert mappings(aws) == []
    again = trigger(run_module, state="absent")
    assert again["changed"] is False and again["deleted"] == []
