"""module_utils/dynamodb_types: plain <-> typed conversion, canonical comparison, path-named errors."""

from __future__ import annotations

import base64
import decimal
import json

import pytest

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.dynamodb_types import (
    DynamoDBTypeError,
    from_typed,
    item_from_typed,
    item_to_typed,
    items_equal,
    normalize_item,
    to_typed,
)

B64_HELLO = base64.b64encode(b"hello").decode()


@pytest.mark.parametrize("plain, typed", [
    ("abc", {"S": "abc"}),
    ("", {"S": ""}),
    (True, {"BOOL": True}),
    (False, {"BOOL": False}),
    (None, {"NULL": True}),
    (0, {"N": "0"}),
    (-7, {"N": "-7"}),
    (12345678901234567890123456789012345678, {"N": "12345678901234567890123456789012345678"}),
    (0.1, {"N": "0.1"}),
    (-2.5, {"N": "-2.5"}),
    (1e-7, {"N": "0.0000001"}),
    (decimal.Decimal("1.50"), {"N": "1.5"}),
    ({"$n": "3.14159265358979323846264338327950288"}, {"N": "3.14159265358979323846264338327950288"}),
    ({"$b": B64_HELLO}, {"B": b"hello"}),
    ({"$ss": ["b", "a", "b"]}, {"SS": ["a", "b"]}),
    ({"$ns": [10, "2", 1.5]}, {"NS": ["1.5", "2", "10"]}),
    ({"$bs": [B64_HELLO, "YQ=="]}, {"BS": [b"a", b"hello"]}),
    ([1, "x", None], {"L": [{"N": "1"}, {"S": "x"}, {"NULL": True}]}),
    ({"a": {"b": [True]}}, {"M": {"a": {"M": {"b": {"L": [{"BOOL": True}]}}}}}),
    ({}, {"M": {}}),
    ([], {"L": []}),
    ({"$ss": ["x"], "other": 1}, {"M": {"$ss": {"L": [{"S": "x"}]}, "other": {"N": "1"}}}),  # two keys: a plain map
])
def test_to_typed(plain, typed):
    assert to_typed(plain) == typed


@pytest.mark.parametrize("plain", [
    "abc", True, None, 0, -7, 0.1, 2.5, 1e-7, 123.456, 10**37, [1, [2, [3]]],
    {"$ss": ["a", "b"]}, {"$ns": [1, 2.5, 10]}, {"$bs": ["YQ==", B64_HELLO]}, {"$b": B64_HELLO},
    {"$n": "3.14159265358979323846264338327950288"},
    {"m": {"deep": {"list": [{"$ss": ["x"]}, {"$b": B64_HELLO}, None, False, 0.25]}}},
])
def test_plain_round_trip(plain):
    assert from_typed(to_typed(plain)) == plain


def test_nested_item_round_trip_is_stable_and_json_safe():
    item = {
        "user_id": "u1", "post_id": "p1", "likes": 3, "score": 4.75, "draft": False, "deleted_at": None,
        "tags": {"$ss": ["z", "a"]}, "ratings": {"$ns": [5, 1, "3.5"]}, "avatar": {"$b": B64_HELLO},
        "blobs": {"$bs": [B64_HELLO, "YQ=="]},
        "comments": [{"by": "u2", "votes": {"$ns": [1]}, "meta": {"edited": True}}],
    }
    typed = item_to_typed(item)
    plain = item_from_typed(typed)
    assert item_to_typed(plain) == typed
    assert item_from_typed(item_to_typed(plain)) == plain
    assert plain["tags"] == {"$ss": ["a", "z"]}
    assert plain["ratings"] == {"$ns": [1, 3.5, 5]}
    assert plain["blobs"] == {"$bs": sorted(["YQ==", B64_HELLO])}
    json.dumps(plain)  # modules return this; it must serialise


@pytest.mark.parametrize("typed, plain", [
    ({"N": "100"}, 100),
    ({"N": "1E+2"}, 100),
    ({"N": "1.0"}, 1),
    ({"N": "0.30000000000000004"}, 0.30000000000000004),
    ({"N": "12345678901234567890.123456789"}, {"$n": "12345678901234567890.123456789"}),
    ({"B": B64_HELLO}, {"$b": B64_HELLO}),  # stream records carry base64 text
    ({"B": b"hello"}, {"$b": B64_HELLO}),  # boto3 gives bytes
    ({"BS": [B64_HELLO, "YQ=="]}, {"$bs": ["YQ==", B64_HELLO]}),
    ({"NS": ["10", "9", "1E+1"]}, {"$ns": [9, 10]}),
    ({"NS": ["0.1000000000000000000001"]}, {"$ns": ["0.1000000000000000000001"]}),
    ({"SS": ["b", "a"]}, {"$ss": ["a", "b"]}),
    ({"NULL": True}, None),
])
def test_from_typed(typed, plain):
    assert from_typed(typed) == plain


def test_items_equal_is_dynamodb_equality():
    assert items_equal({"a": {"N": "100"}}, {"a": {"N": "1E+2"}})
    assert items_equal({"a": {"N": "1.50"}}, {"a": {"N": "1.5"}})
    assert items_equal({"s": {"SS": ["a", "b"]}}, {"s": {"SS": ["b", "a"]}})
    assert items_equal({"n": {"NS": ["1", "2"]}}, {"n": {"NS": ["2.0", "1"]}})
    assert items_equal({"b": {"B": b"hello"}}, {"b": {"B": B64_HELLO}})
    assert items_equal({"m": {"M": {"x": {"L": [{"N": "1"}]}}}}, {"m": {"M": {"x": {"L": [{"N": "1.0"}]}}}})
    assert items_equal(None, None)
    assert not items_equal({"a": {"N": "1"}}, {"a": {"S": "1"}})
    assert not items_equal({"a": {"N": "1"}}, {"a": {"N": "1"}, "b": {"NULL": True}})
    assert not items_equal({"l": {"L": [{"N": "1"}, {"N": "2"}]}}, {"l": {"L": [{"N": "2"}, {"N": "1"}]}})
    assert not items_equal({"a": {"N": "1"}}, None)
    assert normalize_item({"a": {"N": "010"}}) == {"a": {"N": "10"}}


@pytest.mark.parametrize("item, path, fragment", [
    ({"x": float("nan")}, "item.x", "finite"),
    ({"x": float("inf")}, "item.x", "finite"),
    ({"x": {"$ss": []}}, "item.x.$ss", "empty sets"),
    ({"x": {"$ss": "abc"}}, "item.x.$ss", "expected a list"),
    ({"x": {"l": [1, {"$ss": ["a", 2]}]}}, "item.x.l[1].$ss[1]", "must be strings"),
    ({"x": {"$ns": [1, "one"]}}, "item.x.$ns[1]", "not a number"),
    ({"x": {"$ns": [True]}}, "item.x.$ns[0]", "boolean"),
    ({"x": {"$b": "not base64!"}}, "item.x.$b", "base64"),
    ({"x": {"$bs": ["YQ==", 5]}}, "item.x.$bs[1]", "base64"),
    ({"x": {"$sss": ["a"]}}, "item.x.$sss", "allowed: $ss, $ns, $bs, $b, $n"),
    ({"x": {"$n": "12abc"}}, "item.x.$n", "not a number"),
    ({"x": 10**38 + 1}, "item.x", "38 significant digits"),
    ({"x": {"$n": "1E+200"}}, "item.x.$n", "number range"),
    ({"x": {1: "a"}}, "item.x.1", "non-empty strings"),
    ({"": 1}, "item.", "non-empty strings"),
    ({"x": object()}, "item.x", "cannot store a object"),
])
def test_errors_name_the_attribute_path(item, path, fragment):
    with pytest.raises(DynamoDBTypeError) as info:
        item_to_typed(item)
    assert str(info.value).startswith(path + ": ")
    assert fragment in str(info.value)
    assert info.value.path == path


def test_item_must_be_a_mapping():
    with pytest.raises(DynamoDBTypeError, match=r"^item: expected a mapping"):
        item_to_typed(["a"])


@pytest.mark.parametrize("typed", [{"X": "1"}, {"S": "a", "N": "1"}, "abc"])
def test_from_typed_rejects_malformed(typed):
    with pytest.raises(DynamoDBTypeError, match="^value"):
        from_typed(typed)


def test_python_sets_are_accepted():
    assert to_typed({"b", "a"}) == {"SS": ["a", "b"]}
    assert to_typed({2, 1}) == {"NS": ["1", "2"]}
    assert to_typed({b"x"}) == {"BS": [b"x"]}
    with pytest.raises(DynamoDBTypeError, match="only strings"):
        to_typed({"a", 1})
