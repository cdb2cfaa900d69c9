"""EventBridge pattern grammar and matching as Lambda applies it to DynamoDB stream records."""

from __future__ import annotations

import json

import pytest

from sandbox import event_patterns as ep

RECORD = {
    "eventName": "MODIFY",
    "eventSource": "aws:dynamodb",
    "dynamodb": {
        "Keys": {"user_id": {"S": "u-1"}},
        "NewImage": {"user_id": {"S": "u-1"}, "title": {"S": "Hello World"}, "score": {"N": "42"},
                     "tags": {"SS": ["a", "b"]}, "flag": {"BOOL": True}, "ip": {"S": "10.1.2.3"}},
        "OldImage": {"user_id": {"S": "u-1"}, "title": {"S": "hello"}},
        "SizeBytes": 120,
    },
}


def match(pattern: dict) -> bool:
    return ep.matches(ep.parse(json.dumps(pattern)), RECORD)


@pytest.mark.parametrize("pattern, expected", [
    ({"eventName": ["MODIFY"]}, True),
    ({"eventName": ["INSERT", "MODIFY"]}, True),
    ({"eventName": ["INSERT"]}, False),
    ({"dynamodb": {"NewImage": {"title": {"S": ["Hello World"]}}}}, True),
    ({"dynamodb": {"NewImage": {"title": {"S": ["hello world"]}}}}, False),
    ({"dynamodb": {"NewImage": {"title": {"S": [{"prefix": "Hello"}]}}}}, True),
    ({"dynamodb": {"NewImage": {"title": {"S": [{"prefix": "World"}]}}}}, False),
    ({"dynamodb": {"NewImage": {"title": {"S": [{"prefix": {"equals-ignore-case": "HELLO"}}]}}}}, True),
    ({"dynamodb": {"NewImage": {"title": {"S": [{"suffix": "World"}]}}}}, True),
    ({"dynamodb": {"NewImage": {"title": {"S": [{"equals-ignore-case": "hello world"}]}}}}, True),
    ({"dynamodb": {"NewImage": {"title": {"S": [{"wildcard": "Hel*ld"}]}}}}, True),
    ({"dynamodb": {"NewImage": {"title": {"S": [{"wildcard": "Hel*x"}]}}}}, False),
    ({"dynamodb": {"NewImage": {"title": {"S": [{"anything-but": "nope"}]}}}}, True),
    ({"dynamodb": {"NewImage": {"title": {"S": [{"anything-but": ["Hello World", "x"]}]}}}}, False),
    ({"dynamodb": {"NewImage": {"title": {"S": [{"anything-but": {"prefix": "Hel"}}]}}}}, False),
    ({"dynamodb": {"NewImage": {"title": {"S": [{"anything-but": {"prefix": "Bye"}}]}}}}, True),
    ({"dynamodb": {"NewImage": {"missing": {"S": [{"anything-but": "x"}]}}}}, False),
    ({"dynamodb": {"SizeBytes": [{"numeric": [">", 100]}]}}, True),
    ({"dynamodb": {"SizeBytes": [{"numeric": [">", 100, "<=", 120]}]}}, True),
    ({"dynamodb": {"SizeBytes": [{"numeric": [">=", 121]}]}}, False),
    ({"dynamodb": {"SizeBytes": [120.0]}}, True),
    # DynamoDB numbers are strings in the record: numeric matching does not apply to them.
    ({"dynamodb": {"NewImage": {"score": {"N": [{"numeric": [">", 1]}]}}}}, False),
    ({"dynamodb": {"NewImage": {"score": {"N": ["42"]}}}}, True),
    ({"dynamodb": {"NewImage": {"title": {"S": [{"exists": True}]}}}}, True),
    ({"dynamodb": {"NewImage": {"nothere": {"S": [{"exists": True}]}}}}, False),
    ({"dynamodb": {"NewImage": {"nothere": {"S": [{"exists": False}]}}}}, True),
    ({"dynamodb": {"NewImage": {"title": {"S": [{"exists": False}]}}}}, False),
    # exists applies to leaves: an object is not a leaf.
    ({"dynamodb": {"NewImage": {"title": [{"exists": True}]}}}, False),
    ({"dynamodb": {"NewImage": {"tags": {"SS": ["b"]}}}}, True),
    ({"dynamodb": {"NewImage": {"tags": {"SS": ["c"]}}}}, False),
    ({"dynamodb": {"NewImage": {"flag": {"BOOL": [True]}}}}, True),
    ({"dynamodb": {"NewImage": {"flag": {"BOOL": ["true"]}}}}, False),
    ({"dynamodb": {"NewImage": {"ip": {"S": [{"cidr": "10.1.0.0/16"}]}}}}, True),
    ({"dynamodb": {"NewImage": {"ip": {"S": [{"cidr": "10.2.0.0/16"}]}}}}, False),
    ({"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"title": {"S": ["nope"]}}}}, False),
    ({"$or": [{"eventName": ["INSERT"]}, {"dynamodb": {"Keys": {"user_id": {"S": ["u-1"]}}}}]}, True),
    ({"$or": [{"eventName": ["INSERT"]}, {"eventName": ["REMOVE"]}]}, False),
    ({}, True),
])
def test_matching(pattern: dict, expected: bool) -> None:
    assert match(pattern) is expected


@pytest.mark.parametrize("text, fragment", [
    ("{not json", "not valid JSON"),
    ("[]", "must be a JSON object"),
    ('{"eventName": "INSERT"}', "must be an object or an array"),
    ('{"eventName": []}', "empty arrays"),
    ('{"eventName": [{"prefixx": "I"}]}', "unknown operator"),
    ('{"eventName": [{"prefix": 1}]}', "prefix takes a string"),
    ('{"eventName": [{"numeric": [">"]}]}', "numeric takes"),
    ('{"eventName": [{"numeric": [">", "1"]}]}', "numeric takes operators"),
    ('{"eventName": [{"numeric": ["<", 1, ">", 5]}]}', "lower bound"),
    ('{"eventName": [{"exists": "yes"}]}', "exists takes"),
    ('{"eventName": [{"prefix": "a", "suffix": "b"}]}', "exactly one operator"),
    ('{"eventName": [["a"]]}', "nested arrays"),
    ('{"$or": [{"eventName": ["A"]}]}', "at least two"),
    ('{"eventName": [{"anything-but": []}]}', "non-empty list"),
    ('{"eventName": [{"cidr": "not-a-net"}]}', "cidr"),
    ('{"a": ["' + "x" * 4100 + '"]}', "longer than 4096"),
])
def test_invalid_patterns_are_rejected_with_a_reason(text: str, fragment: str) -> None:
    with pytest.raises(ep.PatternError, match=fragment):
        ep.parse(text)


def test_filters_are_ored_and_no_filters_pass_everything() -> None:
    insert = ep.parse('{"eventName": ["INSERT"]}')
    modify = ep.parse('{"eventName": ["MODIFY"]}')
    assert ep.matches_any([], RECORD)
    assert ep.matches_any([insert, modify], RECORD)
    assert not ep.matches_any([insert], RECORD)


def test_array_of_objects_matches_any_element() -> None:
    pattern = ep.parse('{"items": {"name": ["b"]}}')
    assert ep.matches(pattern, {"items": [{"name": "a"}, {"name": "b"}]})
    assert not ep.matches(pattern, {"items": [{"name": "a"}]})


def test_null_matches_only_json_null() -> None:
    pattern = ep.parse('{"v": [null]}')
    assert ep.matches(pattern, {"v": None})
    assert not ep.matches(pattern, {})
    assert not ep.matches(pattern, {"v": ""})
