"""The stream handler against the documented DynamoDB stream record shape
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_Record.html)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

HANDLER_PATH = Path(__file__).resolve().parents[3] / "files" / "lambda" / "stream_handler" / "handler.py"
ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/users_post/stream/2024-01-01T00:00:00.000"


@pytest.fixture(scope="module")
def handler():
    spec = importlib.util.spec_from_file_location("stream_handler_under_test", HANDLER_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


KEYS = {"user_id": {"S": "u1"}, "post_id": {"S": "p1"}}
OLD = {**KEYS, "title": {"S": "old"}, "likes": {"N": "1"}, "draft": {"BOOL": True}}
NEW = {**KEYS, "title": {"S": "new"}, "likes": {"N": "1"}, "tags": {"SS": ["b", "a"]}}


def record(event_name, view_type, seq="100", **extra_ddb):
    ddb = {"ApproximateCreationDateTime": 1700000000, "Keys": KEYS, "SequenceNumber": seq, "SizeBytes": 42,
           "StreamViewType": view_type}
    has_new = view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and event_name != "REMOVE"
    has_old = view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and event_name != "INSERT"
    if has_new:
        ddb["NewImage"] = NEW
    if has_old:
        ddb["OldImage"] = OLD
    ddb.update(extra_ddb)
    return {"eventID": f"id-{seq}", "eventName": event_name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1", "eventSourceARN": ARN, "dynamodb": ddb}


def run(handler, capsys, records, monkeypatch=None):
    result = handler.lambda_handler({"Records": records}, None)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return result, lines


@pytest.mark.parametrize("view_type,expect", [
    ("KEYS_ONLY", {"INSERT": set(), "MODIFY": set(), "REMOVE": set()}),
    ("NEW_IMAGE", {"INSERT": {"new_image"}, "MODIFY": {"new_image"}, "REMOVE": set()}),
    ("OLD_IMAGE", {"INSERT": set(), "MODIFY": {"old_image"}, "REMOVE": {"old_image"}}),
    ("NEW_AND_OLD_IMAGES", {"INSERT": {"new_image"}, "MODIFY": {"new_image", "old_image", "changed"},
                            "REMOVE": {"old_image"}}),
])
def test_each_view_type_logs_only_the_images_the_record_carries(handler, capsys, view_type, expect):
    records = [record(name, view_type, seq=str(i)) for i, name in enumerate(("INSERT", "MODIFY", "REMOVE"), 1)]
    result, lines = run(handler, capsys, records)
    assert result == {"batchItemFailures": []}
    assert len(lines) == 4
    base = {"kind", "eventName", "eventID", "keys", "sequenceNumber", "eventSourceARN"}
    for line, name in zip(lines, ("INSERT", "MODIFY", "REMOVE")):
        assert line["eventName"] == name
        assert set(line) == base | expect[name]
        assert line["keys"] == {"user_id": "u1", "post_id": "p1"}
        assert line["eventSourceARN"] == ARN
    assert lines[3] == {"kind": "batch_summary", "records": 3, "INSERT": 1, "MODIFY": 1, "REMOVE": 1,
                        "failures": 0}


def test_modify_with_both_images_lists_changed_attributes(handler, capsys):
    _result, lines = run(handler, capsys, [record("MODIFY", "NEW_AND_OLD_IMAGES", seq="7")])
    line = lines[0]
    # likes is equal on both sides; draft was removed, tags added, title changed.
    assert line["changed"] == ["draft", "tags", "title"]
    assert line["old_image"] == {"user_id": "u1", "post_id": "p1", "title": "old", "likes": 1, "draft": True}
    assert line["new_image"]["tags"] == {"$ss": ["a", "b"]}
    assert line["eventID"] == "id-7" and line["sequenceNumber"] == "7"


def test_every_line_is_one_sorted_json_object(handler, capsys):
    handler.lambda_handler({"Records": [record("INSERT", "NEW_IMAGE")]}, None)
    raw = capsys.readouterr().out.splitlines()
    assert len(raw) == 2
    for text in raw:
        assert text == json.dumps(json.loads(text), sort_keys=True)


@pytest.mark.parametrize("typed,plain", [
    ({"S": "x"}, "x"),
    ({"N": "42"}, 42),
    ({"N": "1E+2"}, 100),
    ({"N": "-0.5"}, -0.5),
    ({"N": "12.3400000000000000001"}, {"$n": "12.3400000000000000001"}),
    ({"N": "123456789012345678901234567890123456.78"}, {"$n": "123456789012345678901234567890123456.78"}),
    ({"BOOL": False}, False),
    ({"NULL": True}, None),
    ({"L": [{"S": "a"}, {"N": "2"}]}, ["a", 2]),
    ({"M": {"inner": {"M": {"n": {"N": "3"}}}}}, {"inner": {"n": 3}}),
    ({"NS": ["10", "2", "1.5"]}, {"$ns": [1.5, 2, 10]}),
    ({"BS": ["Yg==", "YQ=="]}, {"$bs": ["YQ==", "Yg=="]}),
    ({"B": "AAE="}, {"$b": "AAE="}),
])
def test_typed_values_become_plain_values(handler, typed, plain):
    assert handler.plain(typed) == plain


def test_plain_form_matches_the_collections_dynamodb_types(handler):
    # The handler cannot import module_utils (it ships alone), so the two conversions are checked against each other.
    from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import dynamodb_types

    item = {"s": "x", "n": 7, "f": 0.25, "big": {"$n": "12.3400000000000000001"}, "ss": {"$ss": ["b", "a"]},
            "ns": {"$ns": [3, 1]}, "l": [1, None, True], "m": {"k": "v"}}
    typed = dynamodb_types.item_to_typed(item)
    typed_as_in_stream = json.loads(json.dumps(typed))
    assert handler.image(typed_as_in_stream) == {**item, "ss": {"$ss": ["a", "b"]}, "ns": {"$ns": [1, 3]}}


def test_poison_record_is_reported_and_stops_the_batch(handler, capsys, monkeypatch):
    monkeypatch.setenv("STREAMOPS_POISON_ATTRIBUTE", "poison")
    poison = record("INSERT", "NEW_AND_OLD_IMAGES", seq="200")
    poison["dynamodb"]["NewImage"] = {**NEW, "poison": {"BOOL": True}}
    harmless = record("INSERT", "NEW_AND_OLD_IMAGES", seq="300")
    harmless["dynamodb"]["NewImage"] = {**NEW, "poison": {"BOOL": False}}
    records = [record("INSERT", "NEW_AND_OLD_IMAGES", seq="100"), poison, harmless]
    result, lines = run(handler, capsys, records)
    assert result == {"batchItemFailures": [{"itemIdentifier": "200"}]}
    assert [line.get("sequenceNumber") for line in lines[:-1]] == ["100"]
    assert lines[-1] == {"kind": "batch_summary", "records": 3, "INSERT": 1, "MODIFY": 0, "REMOVE": 0,
                         "failures": 1}


def test_poison_attribute_is_ignored_when_not_configured(handler, capsys, monkeypatch):
    monkeypatch.delenv("STREAMOPS_POISON_ATTRIBUTE", raising=False)
    poison = record("INSERT", "NEW_IMAGE")
    poison["dynamodb"]["NewImage"] = {**NEW, "poison": {"BOOL": True}}
    result, _lines = run(handler, capsys, [poison])
    assert result == {"batchItemFailures": []}


@pytest.mark.parametrize("mutate,identifier", [
    (lambda r: r.pop("eventName"), "100"),
    (lambda r: r.update(eventName="UPSERT"), "100"),
    (lambda r: r["dynamodb"].update(NewImage={"x": {"Q": "?"}}), "100"),
    (lambda r: r["dynamodb"].update(NewImage={"x": {"N": "not-a-number"}}), "100"),
    (lambda r: r["dynamodb"].update(NewImage={"x": {"L": 5}}), "100"),
    (lambda r: r["dynamodb"].pop("SequenceNumber"), ""),
    (lambda r: r.pop("dynamodb"), ""),
])
def test_malformed_record_is_a_batch_item_failure(handler, capsys, mutate, identifier):
    bad = record("INSERT", "NEW_IMAGE", seq="100")
    mutate(bad)
    result, lines = run(handler, capsys, [bad, record("INSERT", "NEW_IMAGE", seq="101")])
    assert result == {"batchItemFailures": [{"itemIdentifier": identifier}]}
    assert lines == [{"kind": "batch_summary", "records": 2, "INSERT": 0, "MODIFY": 0, "REMOVE": 0, "failures": 1}]


@pytest.mark.parametrize("event", [{}, {"Records": "nope"}, [], None])
def test_an_event_without_records_is_an_invocation_error(handler, event):
    with pytest.raises(ValueError, match="Records"):
        handler.lambda_handler(event, None)


def test_empty_batch_logs_an_empty_summary(handler, capsys):
    result, lines = run(handler, capsys, [])
    assert result == {"batchItemFailures": []}
    assert lines == [{"kind": "batch_summary", "records": 0, "INSERT": 0, "MODIFY": 0, "REMOVE": 0, "failures": 0}]
