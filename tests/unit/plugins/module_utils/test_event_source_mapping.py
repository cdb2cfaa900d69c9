"""module_utils/event_source_mapping: pattern normalisation, defaults, field-by-field comparison, request building,
finding a table's mappings, and the retries around create/update/delete (with fake clients, no network)."""

from __future__ import annotations

import functools
import json

import pytest
from botocore.exceptions import ClientError

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import event_source_mapping as esm
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import waiters

FN = "arn:aws:lambda:us-east-1:123456789012:function:demo"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/users_post"
STREAM = TABLE + "/stream/2024-05-02T00:00:00.000"
OLD_STREAM = TABLE + "/stream/2024-05-01T00:00:00.000"

DEFAULT_PARAMS = dict(batch_size=100, maximum_batching_window=0, starting_position="LATEST",
                      parallelization_factor=1, bisect_batch_on_function_error=False, maximum_retry_attempts=-1,
                      maximum_record_age=-1, on_failure_destination=None, tumbling_window=0,
                      report_batch_item_failures=False, filters=[], kms_key_arn=None, metrics=[], enabled=True)


def params(**overrides):
    base = dict(DEFAULT_PARAMS, function_name="demo", table_name="users_post", stream_arn=None, tags=None,
                wait_timeout=300)
    base.update(overrides)
    return base


# --- normalisation --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b", [
    ({"eventName": ["INSERT"], "dynamodb": {"Keys": {"id": {"S": ["1"]}}}},
     '{ "dynamodb": {"Keys": {"id": {"S": ["1"]}}},\n "eventName": ["INSERT"] }'),
    ('{"a":[1]}', {"a": [1]}),
    ('{"b": {"y": 1, "x": 2}}', '{"b":{"x":2,"y":1}}'),
])
def test_equivalent_patterns_normalise_alike(a, b):
    assert esm.normalise_pattern(a) == esm.normalise_pattern(b)


def test_list_order_inside_a_pattern_is_kept():
    assert esm.normalise_pattern({"a": [1, 2]}) != esm.normalise_pattern({"a": [2, 1]})


@pytest.mark.parametrize("pattern, fragment", [("{oops", "not valid JSON"), ("[1, 2]", "must be a JSON object"),
                                               (7, "must be a JSON object"), ('"text"', "must be a JSON object")])
def test_bad_patterns(pattern, fragment):
    with pytest.raises(ValueError, match=fragment):
        esm.normalise_pattern(pattern)


# --- comparison -----------------------------------------------------------------------------------------------

MOTO_STYLE = {  # what an endpoint returns when it leaves unset fields out or null
    "UUID": "u1", "BatchSize": 100, "StartingPosition": "LATEST", "State": "Enabled", "FunctionArn": FN,
    "EventSourceArn": STREAM, "MaximumBatchingWindowInSeconds": None, "ParallelizationFactor": None,
    "DestinationConfig": None, "FilterCriteria": None, "FunctionResponseTypes": None, "KMSKeyArn": None,
    "MetricsConfig": None,
}
AWS_STYLE = {  # what AWS returns for the same mapping
    "UUID": "u1", "BatchSize": 100, "StartingPosition": "LATEST", "State": "Enabled", "FunctionArn": FN,
    "EventSourceArn": STREAM, "MaximumBatchingWindowInSeconds": 0, "ParallelizationFactor": 1,
    "DestinationConfig": {"OnFailure": {}}, "MaximumRecordAgeInSeconds": -1, "BisectBatchOnFunctionError": False,
    "MaximumRetryAttempts": -1, "TumblingWindowInSeconds": 0, "FunctionResponseTypes": [],
}


@pytest.mark.parametrize("mapping", [MOTO_STYLE, AWS_STYLE])
def test_defaults_compare_equal_to_what_endpoints_return(mapping):
    assert esm.differences(esm.current_settings(mapping), esm.desired_settings(params())) == []


def test_every_setting_is_compared():
    current = esm.current_settings(AWS_STYLE)
    changed = dict(batch_size=5, maximum_batching_window=1, starting_position="TRIM_HORIZON",
                   parallelization_factor=2, bisect_batch_on_function_error=True, maximum_retry_attempts=0,
                   maximum_record_age=60, tumbling_window=1, report_batch_item_failures=True,
                   on_failure_destination="arn:aws:sqs:us-east-1:123456789012:q", filters=[{"a": ["b"]}],
                   kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k", metrics=["EventCount"], enabled=False)
    for option, value in changed.items():
        assert esm.differences(current, esm.desired_settings(params(**{option: value}))) == [option], option
    assert set(changed) == set(esm.SETTINGS)


def test_filters_compare_ignoring_order_key_order_and_whitespace():
    mapping = dict(AWS_STYLE, FilterCriteria={"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'},
                                                          {"Pattern": '{"b":1,"a":2}'}]})
    desired = esm.desired_settings(params(filters=['{"a": 2, "b": 1}', {"eventName": ["INSERT"]}]))
    assert esm.differences(esm.current_settings(mapping), desired) == []


@pytest.mark.parametrize("state, enabled", [("Enabled", True), ("Enabling", True), ("Disabled", False),
                                            ("Disabling", False)])
def test_enabled_from_state(state, enabled):
    assert esm.current_settings(dict(AWS_STYLE, State=state))["enabled"] is enabled


def test_update_request_clears_explicitly():
    desired = esm.desired_settings(params())
    request = esm.api_fields(desired, ["filters", "on_failure_destination", "report_batch_item_failures",
                                       "kms_key_arn", "metrics"], for_update=True)
    assert request == {"FilterCriteria": {"Filters": []}, "DestinationConfig": {"OnFailure": {}},
                       "FunctionResponseTypes": [], "KMSKeyArn": "", "MetricsConfig": {"Metrics": []}}


def test_create_request_leaves_empty_optionals_out():
    request = esm.api_fields(esm.desired_settings(params()))
    assert request == {"BatchSize": 100, "MaximumBatchingWindowInSeconds": 0, "StartingPosition": "LATEST",
                       "ParallelizationFactor": 1, "BisectBatchOnFunctionError": False, "MaximumRetryAttempts": -1,
                       "MaximumRecordAgeInSeconds": -1, "TumblingWindowInSeconds": 0, "Enabled": True}


def test_create_request_carries_every_option():
    desired = esm.desired_settings(params(on_failure_destination="arn:aws:sns:us-east-1:123456789012:t",
                                          report_batch_item_failures=True, filters=['{"x": [1]}'],
                                          kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
                                          metrics=["EventCount"]))
    request = esm.api_fields(desired)
    assert request["DestinationConfig"] == {"OnFailure": {"Destination": "arn:aws:sns:us-east-1:123456789012:t"}}
    assert request["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert request["FilterCriteria"] == {"Filters": [{"Pattern": '{"x":[1]}'}]}
    assert request["KMSKeyArn"].endswith(":key/k") and request["MetricsConfig"] == {"Metrics": ["EventCount"]}


def test_botocore_accepts_the_explicit_empty_values():
    """The clearing request must pass botocore's own parameter validation (min lengths, types)."""
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("lambda")
    shape = model.operation_model("UpdateEventSourceMapping").input_shape
    request = esm.api_fields(esm.desired_settings(params()), esm.SETTINGS, for_update=True)
    report = ParamValidator().validate(dict(request, UUID="0" * 36), shape)
    assert not report.has_errors(), report.generate_report()


# --- validation -----------------------------------------------------------------------------------------------

def test_valid_params_have_no_errors():
    assert esm.validate_params(params(filters=[{"a": ["b"]}], metrics=["EventCount"], tags={"k": "v"},
                                      on_failure_destination="arn:aws:sqs:us-east-1:123456789012:q")) == []


def test_pattern_length_limit_counts_the_sent_text():
    long_value = "x" * 4090
    ok = {"k": [long_value[:4096 - len('{"k":[""]}')]]}
    assert esm.validate_params(params(filters=[ok])) == []
    errors = esm.validate_params(params(filters=[{"k": [long_value + "yy"]}]))
    assert len(errors) == 1 and errors[0].startswith("filters[0]") and "4096" in errors[0]


def test_the_module_checks_a_patterns_shape_as_the_pipelines_role_does():
    """One check for both (pattern_problems): a bare value where Lambda wants an array of alternatives."""
    errors = esm.validate_params(params(filters=[{"eventName": "INSERT"}, {"$or": [{"a": ["b"]}]}]))
    assert errors == ["filters[0]: field eventName must be an array of values to match (or an object), got str INSERT",
                      "filters[1]: field $or must be an array of at least two patterns (objects)"]


# --- AWS calls with fake clients ------------------------------------------------------------------------------

class FakeLambda:
    def __init__(self, mappings=(), create_errors=(), delete_errors=()):
        self.mappings = list(mappings)
        self.create_errors = list(create_errors)
        self.delete_errors = list(delete_errors)
        self.calls = []

    def list_event_source_mappings(self, aws_retry=False, **kwargs):
        assert aws_retry is True
        self.calls.append(("list", kwargs))
        if "Marker" not in kwargs and len(self.mappings) > 1:
            return {"EventSourceMappings": self.mappings[:1], "NextMarker": "m2"}
        if "Marker" in kwargs:
            return {"EventSourceMappings": self.mappings[1:]}
        return {"EventSourceMappings": self.mappings}

    def create_event_source_mapping(self, aws_retry=False, **kwargs):
        self.calls.append(("create", kwargs))
        if self.create_errors:
            raise self.create_errors.pop(0)
        return dict(kwargs, UUID="new", State="Creating")

    def delete_event_source_mapping(self, aws_retry=False, **kwargs):
        self.calls.append(("delete", kwargs))
        if self.delete_errors:
            raise self.delete_errors.pop(0)
        return {"UUID": kwargs["UUID"], "State": "Deleting"}


def err(code, message="x"):
    return ClientError({"Error": {"Code": code, "Message": message}}, "Op")


@pytest.fixture
def no_sleep(monkeypatch):
    sleeps = []
    fast = functools.partial(waiters.retry_until_deadline, sleep=sleeps.append)
    monkeypatch.setattr(esm, "retry_until_deadline", fast)
    return sleeps


def test_find_table_mappings_pages_filters_and_dedupes():
    mine_old = {"UUID": "a", "FunctionArn": FN, "EventSourceArn": OLD_STREAM, "LastModified": "1"}
    mine_new = {"UUID": "b", "FunctionArn": FN, "EventSourceArn": STREAM, "LastModified": "2"}
    other_fn = {"UUID": "c", "FunctionArn": FN + "2", "EventSourceArn": STREAM}
    other_table = {"UUID": "d", "FunctionArn": FN, "EventSourceArn": TABLE + "x/stream/1"}
    client = FakeLambda([mine_new, mine_old, other_fn, other_table])
    found = esm.find_table_mappings(client, FN, TABLE, STREAM)
    assert [m["UUID"] for m in found] == ["a", "b"]
    # The listing by function found the mapping on the current stream: no second listing by stream.
    assert [c for c in client.calls if "Marker" not in c[1]] == [("list", {"FunctionName": FN})]


class LiteralFunctionLambda(FakeLambda):
    """An endpoint that matches FunctionName only as spelled at creation (plain moto): by ARN it finds nothing."""

    def list_event_source_mappings(self, aws_retry=False, **kwargs):
        if "FunctionName" in kwargs:
            self.calls.append(("list", kwargs))
            return {"EventSourceMappings": []}
        return super().list_event_source_mappings(aws_retry=aws_retry, **kwargs)


def test_find_table_mappings_lists_the_stream_when_the_function_listing_misses_it():
    mine = {"UUID": "b", "FunctionArn": FN, "EventSourceArn": STREAM, "LastModified": "2"}
    client = LiteralFunctionLambda([mine])
    assert [m["UUID"] for m in esm.find_table_mappings(client, FN, TABLE, STREAM)] == ["b"]
    assert client.calls == [("list", {"FunctionName": FN}), ("list", {"EventSourceArn": STREAM})]


@pytest.mark.parametrize(("function_name", "table_name", "table_arn", "expected"), [
    ("demo", "users_post", None, ["a", "b"]),  # by name: old and current stream of the table
    (FN, "users_post", None, ["a", "b"]),  # by ARN
    ("demo:$LATEST", "users_post", None, ["a", "b"]),  # $LATEST is the unqualified function
    ("demo:live", "users_post", None, ["q"]),  # an alias is another target
    ("demo", None, TABLE, ["a", "b"]),  # the table given by a stream ARN's table
    ("demo", "users_postx", None, ["d"]),  # another table whose name starts the same: not ours
    (FN.replace("123456789012", "999999999999"), "users_post", None, []),  # another account's function
])
def test_find_mappings_to_remove_needs_no_function_or_table_read(function_name, table_name, table_arn, expected):
    mine_old = {"UUID": "a", "FunctionArn": FN, "EventSourceArn": OLD_STREAM, "LastModified": "1"}
    mine_new = {"UUID": "b", "FunctionArn": FN + ":$LATEST", "EventSourceArn": STREAM, "LastModified": "2"}
    aliased = {"UUID": "q", "FunctionArn": FN + ":live", "EventSourceArn": STREAM, "LastModified": "3"}
    other_fn = {"UUID": "c", "FunctionArn": FN + "2", "EventSourceArn": STREAM}
    other_table = {"UUID": "d", "FunctionArn": FN, "EventSourceArn": TABLE + "x/stream/1", "LastModified": "4"}
    client = FakeLambda([mine_new, mine_old, aliased, other_fn, other_table])
    found = esm.find_mappings_to_remove(client, function_name, table_name, table_arn)
    assert [m["UUID"] for m in found] == expected
    assert {c[0] for c in client.calls} == {"list"}  # nothing but the listing (and its pages)


def test_find_mappings_to_remove_when_the_function_is_gone():
    class Gone(FakeLambda):
        def list_event_source_mappings(self, aws_retry=False, **kwargs):
            raise err("ResourceNotFoundException", "Function not found")

    assert esm.find_mappings_to_remove(Gone(), "demo", "users_post") == []


def test_create_retries_iam_propagation_and_conflict(no_sleep):
    client = FakeLambda(create_errors=[err("InvalidParameterValueException", "cannot be assumed by Lambda"),
                                       err("ResourceConflictException", "still deleting")])
    settings = esm.desired_settings(params())
    made = esm.create_mapping(client, FN, STREAM, settings, {"t": "1"}, 60)
    assert made["UUID"] == "new" and len(no_sleep) == 2
    request = client.calls[-1][1]
    assert request["FunctionName"] == FN and request["EventSourceArn"] == STREAM and request["Tags"] == {"t": "1"}


def test_create_does_not_retry_real_validation_errors(no_sleep):
    client = FakeLambda(create_errors=[err("InvalidParameterValueException", "BatchSize exceeds the max")])
    with pytest.raises(ClientError, match="BatchSize"):
        esm.create_mapping(client, FN, STREAM, esm.desired_settings(params()), None, 60)
    assert no_sleep == []


def test_delete_retries_in_use_and_treats_gone_as_deleted(no_sleep):
    client = FakeLambda(delete_errors=[err("ResourceInUseException"), err("ResourceNotFoundException")])
    assert esm.delete_mapping(client, "u1", 60) is None
    assert len(no_sleep) == 1


def test_mapping_arn_fallback():
    assert esm.mapping_arn({"UUID": "u1", "FunctionArn": FN + ":live"}) == \
        "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:u1"
    assert esm.mapping_arn({"EventSourceMappingArn": "given"}) == "given"


def test_patterns_survive_round_trip_through_json():
    text = esm.normalise_pattern({"dynamodb": {"NewImage": {"n": {"N": [{"numeric": [">", 5]}]}}}})
    assert json.loads(text) == {"dynamodb": {"NewImage": {"n": {"N": [{"numeric": [">", 5]}]}}}}
