"""The sandbox's Create/Get/List/Update/DeleteEventSourceMapping and mapping tags, with AWS's semantics.

Out-of-range values are sent with botocore's client-side validation switched off (it would reject some of them
before they reach the endpoint), so the endpoint's own answers are what is tested.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT, REGION = "123456789012", "us-east-1"
HANDLER = "def handler(event, context):\n    return {}\n"


def wait_for(what: str, probe, timeout: float = 30.0, interval: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def lam(sandbox):
    return boto3.client("lambda", endpoint_url=sandbox.url, region_name=REGION, aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=Config(parameter_validation=False, retries={"max_attempts": 1}, read_timeout=120))


@pytest.fixture
def stream(aws) -> str:
    return aws("dynamodb").create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]


def _role(aws, name: str = "esm-api-role") -> str:
    return aws.lambda_role(name)


def make_function(aws, name: str = "fn", publish: bool = False) -> dict[str, Any]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.py", HANDLER)
    return aws("lambda").create_function(FunctionName=name, Runtime="python3.12", Role=_role(aws),
                                         Handler="index.handler", Code={"ZipFile": buf.getvalue()}, Publish=publish)


@pytest.fixture
def fn(aws) -> dict[str, Any]:
    return make_function(aws)


def error_of(call, *args, **kwargs) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    err = info.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def settled(lam, uuid: str) -> dict[str, Any]:
    return wait_for("mapping settled", lambda: (m := lam.get_event_source_mapping(UUID=uuid))["State"]
                    in ("Enabled", "Disabled") and m)


FN_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"


# --- create and the response shape ----------------------------------------------------------------------------

def test_create_returns_creating_with_the_full_shape_then_enabled(lam, fn, stream) -> None:
    created = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST",
                                              Tags={"team": "a"})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["State"] == "Creating"
    uuid = created["UUID"]
    expected = {
        "UUID": uuid, "StartingPosition": "LATEST", "BatchSize": 100, "MaximumBatchingWindowInSeconds": 0,
        "ParallelizationFactor": 1, "EventSourceArn": stream, "FunctionArn": FN_ARN,
        "LastProcessingResult": "No records processed", "StateTransitionReason": "User action",
        "DestinationConfig": {"OnFailure": {}}, "MaximumRecordAgeInSeconds": -1,
        "BisectBatchOnFunctionError": False, "MaximumRetryAttempts": -1, "TumblingWindowInSeconds": 0,
        "FunctionResponseTypes": [],
        "EventSourceMappingArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{uuid}",
    }
    for key, value in expected.items():
        assert created[key] == value, key
    assert "FilterCriteria" not in created and "MetricsConfig" not in created and "KMSKeyArn" not in created
    assert abs(created["LastModified"].timestamp() - time.time()) < 300
    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["State"] == "Enabled"  # mapping_transition 0: the transition is over by the next call
    assert {k: got[k] for k in expected} == expected


def test_create_with_every_option_echoes_them(lam, aws, fn, stream) -> None:
    queue = aws("sqs").create_queue(QueueName="q")["QueueUrl"]
    queue_arn = aws("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = json.dumps({"eventName": ["INSERT"]})
    created = lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=stream, StartingPosition="TRIM_HORIZON", Enabled=False, BatchSize=10000,
        MaximumBatchingWindowInSeconds=300, ParallelizationFactor=10, BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=10000, MaximumRecordAgeInSeconds=604800, TumblingWindowInSeconds=900,
        FunctionResponseTypes=["ReportBatchItemFailures"], FilterCriteria={"Filters": [{"Pattern": pattern}]},
        DestinationConfig={"OnFailure": {"Destination": queue_arn}}, MetricsConfig={"Metrics": ["EventCount"]},
        KMSKeyArn="arn:aws:kms:us-east-1:123456789012:key/abc")
    got = settled(lam, created["UUID"])
    assert got["State"] == "Disabled"
    assert (got["BatchSize"], got["MaximumBatchingWindowInSeconds"], got["ParallelizationFactor"]) == (10000, 300, 10)
    assert (got["MaximumRetryAttempts"], got["MaximumRecordAgeInSeconds"], got["TumblingWindowInSeconds"]) == \
        (10000, 604800, 900)
    assert got["BisectBatchOnFunctionError"] is True
    assert got["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert got["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}
    assert got["DestinationConfig"] == {"OnFailure": {"Destination": queue_arn}}
    assert got["MetricsConfig"] == {"Metrics": ["EventCount"]}
    assert got["KMSKeyArn"] == "arn:aws:kms:us-east-1:123456789012:key/abc"


@pytest.mark.parametrize("name, expected_suffix", [
    ("fn", ""),
    (FN_ARN, ""),
    (f"{ACCOUNT}:function:fn", ""),
    ("fn:1", ":1"),
    (f"{FN_ARN}:1", ":1"),
    ("fn:live", ":live"),
])
def test_function_arn_resolution(lam, aws, stream, name: str, expected_suffix: str) -> None:
    make_function(aws, publish=True)
    aws("lambda").create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    created = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream, StartingPosition="LATEST")
    assert created["FunctionArn"] == FN_ARN + expected_suffix


# --- validation -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("params, named", [
    ({"BatchSize": 0}, "BatchSize"),
    ({"BatchSize": 10001}, "BatchSize"),
    ({"BatchSize": "ten"}, "BatchSize"),
    ({"MaximumBatchingWindowInSeconds": 301}, "MaximumBatchingWindowInSeconds"),
    ({"MaximumBatchingWindowInSeconds": -1}, "MaximumBatchingWindowInSeconds"),
    ({"ParallelizationFactor": 11}, "ParallelizationFactor"),
    ({"ParallelizationFactor": 0}, "ParallelizationFactor"),
    ({"MaximumRecordAgeInSeconds": 59}, "MaximumRecordAgeInSeconds"),
    ({"MaximumRecordAgeInSeconds": 604801}, "MaximumRecordAgeInSeconds"),
    ({"MaximumRecordAgeInSeconds": 0}, "MaximumRecordAgeInSeconds"),
    ({"MaximumRetryAttempts": -2}, "MaximumRetryAttempts"),
    ({"MaximumRetryAttempts": 10001}, "MaximumRetryAttempts"),
    ({"TumblingWindowInSeconds": 901}, "TumblingWindowInSeconds"),
    ({"BisectBatchOnFunctionError": "yes"}, "BisectBatchOnFunctionError"),
    ({"Enabled": "true"}, "Enabled"),
    ({"StartingPosition": None}, "StartingPosition"),
    ({"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1700000000}, "StartingPosition"),
    ({"StartingPosition": "EARLIEST"}, "StartingPosition"),
    ({"FunctionResponseTypes": ["Everything"]}, "FunctionResponseTypes"),
    ({"FilterCriteria": {"Filters": [{"Pattern": "{not json"}]}}, "FilterCriteria"),
    ({"FilterCriteria": {"Filters": [{"Pattern": '{"eventName": "INSERT"}'}]}}, "FilterCriteria"),
    ({"FilterCriteria": {"Filters": [{"Pattern": json.dumps({"a": ["x" * 4100]})}]}}, "FilterCriteria"),
    ({"FilterCriteria": {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}] * 6}}, "FilterCriteria"),
    ({"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::bucket"}}}, "DestinationConfig"),
    ({"DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:123456789012:q"}}},
     "DestinationConfig.OnSuccess"),
    ({"MetricsConfig": {"Metrics": ["Latency"]}}, "MetricsConfig"),
    ({"EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:q"}, "EventSourceArn"),
])
def test_invalid_parameters_are_rejected_naming_the_parameter(lam, fn, stream, params, named) -> None:
    args: dict[str, Any] = {"FunctionName": "fn", "EventSourceArn": stream, "StartingPosition": "LATEST", **params}
    args = {k: v for k, v in args.items() if v is not None}
    code, message, status = error_of(lam.create_event_source_mapping, **args)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert named in message
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


def test_unknown_function_is_resource_not_found(lam, stream) -> None:
    code, message, status = error_of(lam.create_event_source_mapping, FunctionName="nope", EventSourceArn=stream,
                                     StartingPosition="LATEST")
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:nope" in message


def test_unknown_qualifier_is_resource_not_found(lam, fn, stream) -> None:
    code, _, _ = error_of(lam.create_event_source_mapping, FunctionName="fn:nope", EventSourceArn=stream,
                          StartingPosition="LATEST")
    assert code == "ResourceNotFoundException"


def test_unknown_and_disabled_streams_are_invalid_parameters(lam, aws, fn, stream) -> None:
    missing = stream.rsplit("/", 1)[0] + "/2000-01-01T00:00:00.000"
    code, message, _ = error_of(lam.create_event_source_mapping, FunctionName="fn", EventSourceArn=missing,
                                StartingPosition="LATEST")
    assert code == "InvalidParameterValueException" and missing in message
    aws("dynamodb").update_table(TableName="t", StreamSpecification={"StreamEnabled": False})
    code, message, _ = error_of(lam.create_event_source_mapping, FunctionName="fn", EventSourceArn=stream,
                                StartingPosition="LATEST")
    assert code == "InvalidParameterValueException" and "not enabled" in message


def test_role_in_iam_propagation_window_cannot_describe_the_stream(lam, aws, sandbox, fn, stream) -> None:
    sandbox.configure(iam_propagation_delay=30)
    aws("iam").put_role_policy(RoleName="esm-api-role", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}))
    code, message, _ = error_of(lam.create_event_source_mapping, FunctionName="fn", EventSourceArn=stream,
                                StartingPosition="LATEST")
    assert code == "InvalidParameterValueException"
    assert message == "The provided execution role does not have permissions to call DescribeStream on DynamoDB"
    sandbox.configure(iam_propagation_delay=0)
    assert lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                           StartingPosition="LATEST")["State"] == "Creating"


# --- update ---------------------------------------------------------------------------------------------------

def test_update_changes_only_what_is_given_and_reports_updating(lam, fn, stream) -> None:
    pattern = json.dumps({"eventName": ["INSERT"]})
    uuid = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST",
                                           BatchSize=10, FilterCriteria={"Filters": [{"Pattern": pattern}]})["UUID"]
    settled(lam, uuid)
    updated = lam.update_event_source_mapping(UUID=uuid, BatchSize=20, MaximumRetryAttempts=3)
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert updated["State"] == "Updating"
    assert (updated["BatchSize"], updated["MaximumRetryAttempts"]) == (20, 3)
    got = settled(lam, uuid)
    assert got["State"] == "Enabled"
    assert got["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}
    assert got["StartingPosition"] == "LATEST"
    lam.update_event_source_mapping(UUID=uuid, FilterCriteria={})
    assert "FilterCriteria" not in settled(lam, uuid)


def test_update_enabled_reports_disabling_and_enabling(lam, fn, stream) -> None:
    uuid = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST")["UUID"]
    settled(lam, uuid)
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=False)["State"] == "Disabling"
    assert settled(lam, uuid)["State"] == "Disabled"
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    assert settled(lam, uuid)["State"] == "Enabled"


def test_starting_position_cannot_be_updated(lam, sandbox, fn, stream) -> None:
    # UpdateEventSourceMapping has no StartingPosition member, so botocore drops it: send the request by hand.
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    uuid = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST")["UUID"]
    settled(lam, uuid)
    url = f"{sandbox.url}/2015-03-31/event-source-mappings/{uuid}"
    request = AWSRequest(method="PUT", url=url, data=json.dumps({"StartingPosition": "TRIM_HORIZON"}),
                         headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("testing", "testing"), "lambda", REGION).add_auth(request)
    raw = urllib.request.Request(url, data=request.body, method="PUT", headers=dict(request.headers))
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(raw, timeout=30)
    assert info.value.code == 400
    assert info.value.headers["x-amzn-ErrorType"] == "InvalidParameterValueException"
    assert "StartingPosition" in json.loads(info.value.read())["message"]
    assert lam.get_event_source_mapping(UUID=uuid)["StartingPosition"] == "LATEST"


@pytest.mark.parametrize("params, named", [
    ({"BatchSize": 0}, "BatchSize"),
    ({"MaximumBatchingWindowInSeconds": 301}, "MaximumBatchingWindowInSeconds"),
    ({"ParallelizationFactor": 11}, "ParallelizationFactor"),
    ({"MaximumRecordAgeInSeconds": 59}, "MaximumRecordAgeInSeconds"),
    ({"TumblingWindowInSeconds": 901}, "TumblingWindowInSeconds"),
    ({"FilterCriteria": {"Filters": [{"Pattern": "nope"}]}}, "FilterCriteria"),
])
def test_update_validates_like_create_and_changes_nothing_on_error(lam, fn, stream, params, named) -> None:
    uuid = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST",
                                           BatchSize=7)["UUID"]
    before = settled(lam, uuid)
    code, message, _ = error_of(lam.update_event_source_mapping, UUID=uuid, **params)
    assert code == "InvalidParameterValueException" and named in message
    after = lam.get_event_source_mapping(UUID=uuid)
    for key in ("BatchSize", "MaximumBatchingWindowInSeconds", "ParallelizationFactor", "MaximumRecordAgeInSeconds",
                "TumblingWindowInSeconds", "LastModified", "State"):
        assert after[key] == before[key], key
    assert "FilterCriteria" not in after


def test_update_function_name_moves_the_mapping(lam, aws, fn, stream) -> None:
    make_function(aws, "other")
    uuid = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST")["UUID"]
    settled(lam, uuid)
    assert lam.update_event_source_mapping(UUID=uuid, FunctionName="other")["FunctionArn"] == \
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:other"


def test_unknown_uuid_is_resource_not_found(lam) -> None:
    for call in (lam.get_event_source_mapping, lam.delete_event_source_mapping):
        code, _, status = error_of(call, UUID="00000000-0000-0000-0000-000000000000")
        assert (code, status) == ("ResourceNotFoundException", 404)
    code, _, _ = error_of(lam.update_event_source_mapping, UUID="00000000-0000-0000-0000-000000000000", BatchSize=1)
    assert code == "ResourceNotFoundException"


# --- states with a transition time, conflicts, in-use ---------------------------------------------------------

def test_states_pass_through_transitions_when_they_take_time(lam, sandbox, fn, stream) -> None:
    sandbox.configure(mapping_transition=0.6)
    uuid = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST")["UUID"]
    seen = [lam.get_event_source_mapping(UUID=uuid)["State"]]
    assert seen == ["Creating"]
    code, _, _ = error_of(lam.update_event_source_mapping, UUID=uuid, BatchSize=5)
    assert code == "ResourceInUseException"
    code, _, _ = error_of(lam.delete_event_source_mapping, UUID=uuid)
    assert code == "ResourceInUseException"
    assert settled(lam, uuid)["State"] == "Enabled"

    assert lam.update_event_source_mapping(UUID=uuid, Enabled=False)["State"] == "Disabling"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabling"
    assert settled(lam, uuid)["State"] == "Disabled"
    assert lam.update_event_source_mapping(UUID=uuid, BatchSize=5)["State"] == "Updating"
    assert settled(lam, uuid)["State"] == "Disabled"

    assert lam.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    code, message, status = error_of(lam.create_event_source_mapping, FunctionName="fn", EventSourceArn=stream,
                                     StartingPosition="LATEST")
    assert (code, status) == ("ResourceConflictException", 409) and uuid in message
    code, _, _ = error_of(lam.delete_event_source_mapping, UUID=uuid)
    assert code == "ResourceInUseException"

    def gone() -> bool:
        try:
            lam.get_event_source_mapping(UUID=uuid)
        except ClientError as exc:
            return exc.response["Error"]["Code"] == "ResourceNotFoundException"
        return False
    wait_for("the mapping to be deleted", gone)
    assert lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                           StartingPosition="LATEST")["State"] == "Creating"


def test_delete_without_transition_time_reports_deleting_then_is_gone(lam, fn, stream) -> None:
    uuid = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST")["UUID"]
    settled(lam, uuid)
    deleted = lam.delete_event_source_mapping(UUID=uuid)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202 and deleted["State"] == "Deleting"
    code, _, _ = error_of(lam.get_event_source_mapping, UUID=uuid)
    assert code == "ResourceNotFoundException"
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


def test_second_mapping_for_the_same_function_and_stream_conflicts(lam, aws, fn, stream) -> None:
    first = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST")
    code, message, status = error_of(lam.create_event_source_mapping, FunctionName=FN_ARN, EventSourceArn=stream,
                                     StartingPosition="TRIM_HORIZON")
    assert (code, status) == ("ResourceConflictException", 409) and first["UUID"] in message
    make_function(aws, "other")
    assert lam.create_event_source_mapping(FunctionName="other", EventSourceArn=stream, StartingPosition="LATEST")


# --- list -----------------------------------------------------------------------------------------------------

def test_list_filters_by_function_name_arn_partial_arn_and_source(lam, aws, fn, stream) -> None:
    make_function(aws, "other")
    other_stream = aws("dynamodb").create_table(
        TableName="t2", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]["LatestStreamArn"]
    a = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST")["UUID"]
    b = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=other_stream,
                                        StartingPosition="LATEST")["UUID"]
    c = lam.create_event_source_mapping(FunctionName="other", EventSourceArn=stream, StartingPosition="LATEST")["UUID"]

    def uuids(**query: str) -> list[str]:
        return [m["UUID"] for m in lam.list_event_source_mappings(**query)["EventSourceMappings"]]
    assert uuids() == [a, b, c]
    assert uuids(FunctionName="fn") == [a, b]
    assert uuids(FunctionName=FN_ARN) == [a, b]
    assert uuids(FunctionName=f"{ACCOUNT}:function:fn") == [a, b]
    assert uuids(EventSourceArn=stream) == [a, c]
    assert uuids(FunctionName="other", EventSourceArn=stream) == [c]
    assert uuids(FunctionName="nothing") == []


def test_list_paginates_with_marker_and_max_items(lam, aws, stream) -> None:
    created = []
    for i in range(5):
        make_function(aws, f"f{i}")
        created.append(lam.create_event_source_mapping(FunctionName=f"f{i}", EventSourceArn=stream,
                                                       StartingPosition="LATEST")["UUID"])
    pages, marker = [], None
    while True:
        page = lam.list_event_source_mappings(MaxItems=2, **({"Marker": marker} if marker else {}))
        pages.append([m["UUID"] for m in page["EventSourceMappings"]])
        marker = page.get("NextMarker")
        if not marker:
            break
    assert pages == [created[0:2], created[2:4], created[4:5]]
    assert [m["UUID"] for p in aws("lambda").get_paginator("list_event_source_mappings").paginate(
        PaginationConfig={"PageSize": 2}) for m in p["EventSourceMappings"]] == created
    code, _, _ = error_of(lam.list_event_source_mappings, MaxItems=0)
    assert code == "InvalidParameterValueException"


# --- tags -----------------------------------------------------------------------------------------------------

def test_tags_on_the_mapping_arn(lam, fn, stream) -> None:
    created = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST",
                                              Tags={"a": "1", "b": "2"})
    arn = created["EventSourceMappingArn"]
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "1", "b": "2"}
    lam.tag_resource(Resource=arn, Tags={"b": "3", "c": "4"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "1", "b": "3", "c": "4"}
    lam.untag_resource(Resource=arn, TagKeys=["a"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "3", "c": "4"}
    missing = arn.rsplit(":", 1)[0] + ":00000000-0000-0000-0000-000000000000"
    code, _, status = error_of(lam.list_tags, Resource=missing)
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_untag_several_keys_at_once(lam, fn, stream) -> None:
    arn = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST",
                                          Tags={"a": "1", "b": "2", "c": "3"})["EventSourceMappingArn"]
    lam.untag_resource(Resource=arn, TagKeys=["a", "b"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"c": "3"}


def test_function_tags_still_reach_moto(lam, fn) -> None:
    lam.tag_resource(Resource=fn["FunctionArn"], Tags={"x": "y"})
    assert lam.list_tags(Resource=fn["FunctionArn"])["Tags"] == {"x": "y"}


def test_reset_clears_mappings(lam, sandbox, fn, stream) -> None:
    lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST")
    sandbox.reset()
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


# --- states produced on demand ------------------------------------------------------------------------------------

def _plan_next_mapping(sandbox, **plan: Any) -> dict[str, Any]:
    return sandbox._call("POST", "/_sandbox/lambda/next-mapping-state", plan)


def test_a_mapping_can_be_kept_creating_on_demand(sandbox, lam, fn, stream):
    """AWS: a new mapping is Creating until Lambda has set it up, then Enabled; callers poll State
    (https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingConfiguration.html). The sandbox keeps
    the next one Creating for as long as asked, whatever mapping_transition says."""
    _plan_next_mapping(sandbox, state="Creating", seconds=1.5)
    created = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST")
    started = time.monotonic()
    assert created["State"] == "Creating"
    assert lam.get_event_source_mapping(UUID=created["UUID"])["State"] == "Creating"
    final = settled(lam, created["UUID"])
    assert final["State"] == "Enabled" and time.monotonic() - started >= 1.0
    # Only the next create: the one after settles as usual.
    lam.delete_event_source_mapping(UUID=created["UUID"])
    wait_for("the first mapping gone", lambda: not lam.list_event_source_mappings(FunctionName="fn")[
        "EventSourceMappings"])
    again = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST")
    assert lam.get_event_source_mapping(UUID=again["UUID"])["State"] == "Enabled"


def test_a_mapping_lambda_stops_ends_disabled_with_the_problem(sandbox, lam, fn, stream):
    """AWS: StateTransitionReason says whether a user or Lambda made the last change; a mapping Lambda cannot run
    is left Disabled with the reason ("PROBLEM: ...") in StateTransitionReason and LastProcessingResult
    (https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingConfiguration.html)."""
    _plan_next_mapping(sandbox, state="Failed", seconds=0.5, reason="Function call failed")
    created = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST")
    final = settled(lam, created["UUID"])
    assert final["State"] == "Disabled"
    assert final["StateTransitionReason"] == "PROBLEM: Function call failed"
    assert final["LastProcessingResult"] == "PROBLEM: Function call failed"


def test_the_trigger_module_fails_naming_why_lambda_stopped_the_mapping(sandbox, run_module, fn, stream):
    """The collection's wait for Enabled must not report success for a mapping Lambda ended Disabled."""
    _plan_next_mapping(sandbox, state="Failed", seconds=0.3, reason="Function call failed")
    result = run_module("stream_trigger", function_name="fn", stream_arn=stream, wait_timeout=30)
    assert result.get("failed"), result
    assert "ended Disabled instead of Enabled" in result["msg"] and "PROBLEM: Function call failed" in result["msg"]


@pytest.mark.parametrize("plan", [{"state": "Pending"}, {"state": "Failed", "seconds": -1}])
def test_next_mapping_state_refuses_what_it_cannot_do(sandbox, plan):
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as info:
        _plan_next_mapping(sandbox, **plan)
    assert info.value.code == 400
