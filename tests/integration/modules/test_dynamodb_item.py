"""dynamodb_item against the sandbox: every option, check mode read back, idempotence, diff."""

from __future__ import annotations

import base64

import pytest

TABLE = "users_post"
B64 = base64.b64encode(b"\x00\x01binary").decode()


@pytest.fixture
def ddb(aws):
    client = aws("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}, {"AttributeName": "post_id", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"},
                              {"AttributeName": "post_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def stored(ddb, user_id="u1", post_id="p1"):
    return ddb.get_item(TableName=TABLE, Key={"user_id": {"S": user_id}, "post_id": {"S": post_id}},
                        ConsistentRead=True).get("Item")


ITEM = {
    "user_id": "u1", "post_id": "p1", "title": "hello", "likes": 3, "rating": 4.5, "published": True,
    "deleted_at": None, "tags": {"$ss": ["b", "a"]}, "scores": {"$ns": [3, 1, 2.5]}, "thumb": {"$b": B64},
    "chunks": {"$bs": [B64, "YQ=="]}, "meta": {"lang": "ko", "views": [1, {"deep": "x"}]},
}


def test_put_creates_then_is_idempotent(run_module, ddb, sandbox):
    result = run_module("dynamodb_item", table_name=TABLE, item=ITEM)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["previous_item"] is None
    assert result["key"] == {"user_id": "u1", "post_id": "p1"}
    assert result["item"]["tags"] == {"$ss": ["a", "b"]}
    assert result["item"]["scores"] == {"$ns": [1, 2.5, 3]}
    assert result["item"]["thumb"] == {"$b": B64}
    assert result["item"]["meta"] == {"lang": "ko", "views": [1, {"deep": "x"}]}

    raw = stored(ddb)
    assert raw["likes"] == {"N": "3"} and raw["rating"] == {"N": "4.5"}
    assert raw["published"] == {"BOOL": True} and raw["deleted_at"] == {"NULL": True}
    assert sorted(raw["tags"]["SS"]) == ["a", "b"]
    assert raw["thumb"]["B"] == b"\x00\x01binary"

    sandbox.reset_stats()
    again = run_module("dynamodb_item", table_name=TABLE, item=ITEM)
    assert again["changed"] is False, again
    assert again["item"] == result["item"]
    assert "dynamodb:PutItem" not in sandbox.stats()["calls"]  # an identical item is never rewritten


def test_numbers_compare_by_value(run_module, ddb):
    ddb.put_item(TableName=TABLE, Item={"user_id": {"S": "u1"}, "post_id": {"S": "p1"}, "n": {"N": "1E+2"},
                                        "s": {"SS": ["z", "y"]}})
    result = run_module("dynamodb_item", table_name=TABLE,
                        item={"user_id": "u1", "post_id": "p1", "n": 100, "s": {"$ss": ["y", "z"]}})
    assert result["changed"] is False, result


def test_put_updates_with_diff(run_module, ddb):
    run_module("dynamodb_item", table_name=TABLE, item={"user_id": "u1", "post_id": "p1", "likes": 1})
    result = run_module("dynamodb_item", table_name=TABLE, diff=True,
                        item={"user_id": "u1", "post_id": "p1", "likes": 2, "title": "new"})
    assert result["changed"] is True
    assert result["diff"] == {"before": {"user_id": "u1", "post_id": "p1", "likes": 1},
                              "after": {"user_id": "u1", "post_id": "p1", "likes": 2, "title": "new"}}
    assert result["previous_item"] == {"user_id": "u1", "post_id": "p1", "likes": 1}
    assert stored(ddb)["likes"] == {"N": "2"}
    # A put replaces the whole item: attributes left out are removed.
    run_module("dynamodb_item", table_name=TABLE, item={"user_id": "u1", "post_id": "p1"})
    assert "title" not in stored(ddb)


def test_check_mode_writes_nothing(run_module, ddb):
    result = run_module("dynamodb_item", check=True, diff=True, table_name=TABLE, item=ITEM)
    assert result["changed"] is True
    assert result["item"]["title"] == "hello"
    assert result["diff"]["before"] == {}
    assert stored(ddb) is None

    run_module("dynamodb_item", table_name=TABLE, item=ITEM)
    result = run_module("dynamodb_item", check=True, table_name=TABLE, state="absent",
                        key={"user_id": "u1", "post_id": "p1"})
    assert result["changed"] is True and result["item"] is None
    assert stored(ddb) is not None


def test_absent_by_key_and_by_item(run_module, ddb):
    run_module("dynamodb_item", table_name=TABLE, item=ITEM)
    result = run_module("dynamodb_item", table_name=TABLE, state="absent", diff=True,
                        key={"user_id": "u1", "post_id": "p1"})
    assert result["changed"] is True and result["item"] is None
    assert result["diff"]["after"] == {} and result["diff"]["before"]["title"] == "hello"
    assert stored(ddb) is None
    again = run_module("dynamodb_item", table_name=TABLE, state="absent", key={"user_id": "u1", "post_id": "p1"})
    assert again["changed"] is False and again["previous_item"] is None

    run_module("dynamodb_item", table_name=TABLE, item=ITEM)
    by_item = run_module("dynamodb_item", table_name=TABLE, state="absent", item=ITEM)
    assert by_item["changed"] is True
    assert stored(ddb) is None


def test_condition_expression_with_names_and_values(run_module, ddb):
    first = run_module("dynamodb_item", table_name=TABLE, item={"user_id": "u1", "post_id": "p1", "version": 1},
                       condition_expression="attribute_not_exists(user_id)")
    assert first["changed"] is True, first
    # A different item under the same key with the insert-only condition: a clear failure, nothing written.
    clash = run_module("dynamodb_item", table_name=TABLE, item={"user_id": "u1", "post_id": "p1", "version": 9},
                       condition_expression="attribute_not_exists(user_id)")
    assert clash["failed"] is True
    assert "condition_expression" in clash["msg"] and "nothing was written" in clash["msg"]
    assert stored(ddb)["version"] == {"N": "1"}
    # The same item again changes nothing, so the condition is not even evaluated.
    same = run_module("dynamodb_item", table_name=TABLE, item={"user_id": "u1", "post_id": "p1", "version": 1},
                      condition_expression="attribute_not_exists(user_id)")
    assert same["changed"] is False and not same.get("failed")

    optimistic = dict(condition_expression="#v = :expected", expression_attribute_names={"#v": "version"},
                      expression_attribute_values={":expected": 1})
    ok = run_module("dynamodb_item", table_name=TABLE, item={"user_id": "u1", "post_id": "p1", "version": 2},
                    **optimistic)
    assert ok["changed"] is True, ok
    stale = run_module("dynamodb_item", table_name=TABLE, item={"user_id": "u1", "post_id": "p1", "version": 3},
                       **optimistic)
    assert stale["failed"] is True and "was not met" in stale["msg"]
    assert stored(ddb)["version"] == {"N": "2"}

    refused = run_module("dynamodb_item", table_name=TABLE, state="absent", key={"user_id": "u1", "post_id": "p1"},
                         condition_expression="#v = :v", expression_attribute_names={"#v": "version"},
                         expression_attribute_values={":v": 1})
    assert refused["failed"] is True and "nothing was deleted" in refused["msg"]
    assert stored(ddb) is not None
    deleted = run_module("dynamodb_item", table_name=TABLE, state="absent", key={"user_id": "u1", "post_id": "p1"},
                         condition_expression="#v = :v", expression_attribute_names={"#v": "version"},
                         expression_attribute_values={":v": 2})
    assert deleted["changed"] is True
    assert stored(ddb) is None


@pytest.mark.parametrize("args, fragment", [
    ({"item": {"user_id": "u1", "x": 1}}, "item is missing key attribute 'post_id'"),
    ({"item": {"user_id": 5, "post_id": "p1"}}, "item.user_id must be a string (S)"),
    ({"item": {"user_id": "", "post_id": "p1"}}, "item.user_id must not be empty"),
    ({"state": "absent", "key": {"user_id": "u1"}}, "key is missing key attribute 'post_id'"),
    ({"state": "absent", "key": {"user_id": "u1", "post_id": "p1", "title": "x"}}, "not part of table"),
    ({"item": {"user_id": "u1", "post_id": "p1"}, "key": {"user_id": "u1", "post_id": "p2"}}, "does not match"),
])
def test_key_schema_errors_name_the_attribute(run_module, ddb, sandbox, args, fragment):
    sandbox.reset_stats()
    result = run_module("dynamodb_item", table_name=TABLE, **args)
    assert result["failed"] is True
    assert fragment in result["msg"]
    assert sandbox.stats()["writes"] == 0


def test_missing_table_is_a_clear_failure(run_module, sandbox):
    result = run_module("dynamodb_item", table_name="no_such_table", item={"id": "x"})
    assert result["failed"] is True
    assert "table no_such_table does not exist" in result["msg"]


def test_numeric_hash_key(run_module, aws):
    client = aws("dynamodb")
    client.create_table(TableName="counters", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
                        BillingMode="PAY_PER_REQUEST")
    result = run_module("dynamodb_item", table_name="counters", item={"id": 7, "count": 1})
    assert result["changed"] is True and result["key"] == {"id": 7}
    wrong = run_module("dynamodb_item", table_name="counters", item={"id": "7"})
    assert wrong["failed"] is True and "item.id must be a number (N)" in wrong["msg"]


def test_survives_throttling(run_module, ddb, sandbox):
    sandbox.configure(throttle=0.3, seed=7)
    sandbox.reset_stats()
    first = run_module("dynamodb_item", table_name=TABLE, item=ITEM)
    second = run_module("dynamodb_item", table_name=TABLE, item=ITEM)
    sandbox.configure(throttle=0)
    assert not first.get("failed") and not second.get("failed"), (first, second)
    assert first["changed"] is True and second["changed"] is False
    calls = sandbox.stats()["calls"]
    # Two runs need 5 calls (2 DescribeTable, 2 GetItem, 1 PutItem); more means throttled calls were retried.
    assert sum(v for k, v in calls.items() if k.startswith("dynamodb:")) > 5
    assert stored(ddb)["title"] == {"S": "hello"}
