"""dynamodb_item without network: option validation (before any AWS call), key derivation, write decisions."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from ansible_collections.streamops.dynamodb_lambda.plugins.modules import dynamodb_item
from ansible_collections.streamops.dynamodb_lambda.plugins.modules.dynamodb_item import ItemError

SCHEMA = [("user_id", "HASH", "S"), ("post_id", "RANGE", "S")]
# Credentials are no_log, so short values would be masked inside every message.
BASE = {"region": "us-east-1", "access_key": "UNITTESTACCESSKEY", "secret_key": "unit-test-secret-key-value"}


@pytest.mark.parametrize("args, option, fragment", [
    ({"table_name": "x"}, "table_name", "3-255 characters"),
    ({"table_name": "bad name!"}, "table_name", "must be a DynamoDB table name"),
    ({"table_name": "users"}, "item", "item is required when state is present"),
    ({"table_name": "users", "state": "absent"}, "key", "give key (or item"),
    ({"table_name": "users", "state": "gone"}, "state", "one of: present, absent"),
    ({"table_name": "users", "item": {}}, "item", "empty mapping"),
    ({"table_name": "users", "state": "absent", "key": {}}, "key", "empty mapping"),
    ({"table_name": "users", "item": {"id": "a", "s": {"$ss": []}}}, "item.s.$ss", "empty sets"),
    ({"table_name": "users", "item": {"id": "a", "n": {"$n": "x"}}}, "item.n.$n", "not a number"),
    ({"table_name": "users", "state": "absent", "key": {"id": {"$b": "%%"}}}, "key.id.$b", "base64"),
    ({"table_name": "users", "item": {"id": "a"}, "expression_attribute_names": {"#a": "b"}},
     "expression_attribute_names", "only used with condition_expression"),
    ({"table_name": "users", "item": {"id": "a"}, "expression_attribute_values": {":a": 1}},
     "expression_attribute_values", "only used with condition_expression"),
    ({"table_name": "users", "item": {"id": "a"}, "condition_expression": "#a = :b",
      "expression_attribute_names": {"a": "x"}}, "expression_attribute_names", "must start with '#'"),
    ({"table_name": "users", "item": {"id": "a"}, "condition_expression": "#a = :b",
      "expression_attribute_values": {"b": 1}}, "expression_attribute_values", "must start with ':'"),
    ({"table_name": "users", "item": {"id": "a"}, "condition_expression": "x = :b",
      "expression_attribute_values": {":b": float("nan")}}, "expression_attribute_values.:b", "finite"),
    ({"table_name": "users", "item": {"id": "a"}, "condition_expression": "  "}, "condition_expression",
     "must not be empty"),
])
def test_bad_input_fails_naming_the_option_before_any_aws_call(offline_main, args, option, fragment):
    result = offline_main(dynamodb_item, **{**BASE, **args})
    assert result["failed"] is True
    assert option in result["msg"], result["msg"]
    assert fragment in result["msg"], result["msg"]


def prepared(**overrides):
    params = {"table_name": "users_post", "state": "present", "item": None, "key": None,
              "condition_expression": None, "expression_attribute_names": None, "expression_attribute_values": None}
    params.update(overrides)
    return dynamodb_item.validate_params(params)


def test_key_from_item():
    item = prepared(item={"user_id": "u", "post_id": "p", "x": 1})["item"]
    assert dynamodb_item.key_from(SCHEMA, item, "item", "users_post") == {"user_id": {"S": "u"},
                                                                          "post_id": {"S": "p"}}


@pytest.mark.parametrize("item, message", [
    ({"post_id": "p"}, "item is missing key attribute 'user_id' (the partition key of table users_post, type S)"),
    ({"user_id": "u"}, "item is missing key attribute 'post_id' (the sort key of table users_post, type S)"),
    ({"user_id": 1, "post_id": "p"}, "item.user_id must be a string (S), the type of users_post's partition key; "
                                     "got N"),
    ({"user_id": "u", "post_id": {"$b": "YQ=="}}, "item.post_id must be a string (S)"),
    ({"user_id": "u", "post_id": ""}, "item.post_id must not be empty"),
])
def test_key_errors_name_the_attribute(item, message):
    with pytest.raises(ItemError) as info:
        dynamodb_item.key_from(SCHEMA, prepared(item=item)["item"], "item", "users_post")
    assert message in info.value.message


def test_key_option_must_be_exactly_the_key():
    key = prepared(state="absent", key={"user_id": "u", "post_id": "p", "extra": 1})["key"]
    with pytest.raises(ItemError, match="not part of table users_post's key: extra"):
        dynamodb_item.key_from(SCHEMA, key, "key", "users_post", exact=True)


class FakeDynamoDB:
    """Records calls; answers DescribeTable/GetItem from fixed data."""

    def __init__(self, current=None, put_error=None):
        self.current = current
        self.put_error = put_error
        self.calls = []

    def describe_table(self, aws_retry, TableName):
        self.calls.append("DescribeTable")
        return {"Table": {"KeySchema": [{"AttributeName": "user_id", "KeyType": "HASH"},
                                        {"AttributeName": "post_id", "KeyType": "RANGE"}],
                          "AttributeDefinitions": [{"AttributeName": "user_id", "AttributeType": "S"},
                                                   {"AttributeName": "post_id", "AttributeType": "S"}]}}

    def get_item(self, aws_retry, TableName, Key, ConsistentRead):
        assert ConsistentRead is True
        self.calls.append("GetItem")
        return {"Item": self.current} if self.current else {}

    def put_item(self, aws_retry, **kwargs):
        self.calls.append(("PutItem", kwargs))
        if self.put_error:
            raise ClientError({"Error": {"Code": self.put_error, "Message": "no"}}, "PutItem")

    def delete_item(self, aws_retry, **kwargs):
        self.calls.append(("DeleteItem", kwargs))


ITEM = {"user_id": "u", "post_id": "p", "n": 1.5, "tags": {"$ss": ["b", "a"]}}


def test_identical_item_is_not_written():
    stored = {"user_id": {"S": "u"}, "post_id": {"S": "p"}, "n": {"N": "1.50"}, "tags": {"SS": ["a", "b"]}}
    client = FakeDynamoDB(current=stored)
    result = dynamodb_item.ensure_item(client, prepared(item=ITEM), check_mode=False)
    assert result["changed"] is False
    assert client.calls == ["DescribeTable", "GetItem"]


def test_changed_item_is_written_with_condition():
    client = FakeDynamoDB(current={"user_id": {"S": "u"}, "post_id": {"S": "p"}})
    args = prepared(item=ITEM, condition_expression="#v = :v", expression_attribute_names={"#v": "v"},
                    expression_attribute_values={":v": {"$ss": ["x"]}})
    result = dynamodb_item.ensure_item(client, args, check_mode=False)
    assert result["changed"] is True
    assert result["item"] == {"user_id": "u", "post_id": "p", "n": 1.5, "tags": {"$ss": ["a", "b"]}}
    assert result["diff"]["before"] == {"user_id": "u", "post_id": "p"}
    name, kwargs = client.calls[-1]
    assert name == "PutItem"
    assert kwargs["ConditionExpression"] == "#v = :v"
    assert kwargs["ExpressionAttributeNames"] == {"#v": "v"}
    assert kwargs["ExpressionAttributeValues"] == {":v": {"SS": ["x"]}}


def test_check_mode_never_writes():
    client = FakeDynamoDB()
    result = dynamodb_item.ensure_item(client, prepared(item=ITEM), check_mode=True)
    assert result["changed"] is True and result["previous_item"] is None
    assert client.calls == ["DescribeTable", "GetItem"]
    client = FakeDynamoDB(current={"user_id": {"S": "u"}, "post_id": {"S": "p"}})
    result = dynamodb_item.ensure_item(client, prepared(state="absent", key={"user_id": "u", "post_id": "p"}),
                                       check_mode=True)
    assert result["changed"] is True and result["item"] is None
    assert client.calls == ["DescribeTable", "GetItem"]


def test_conditional_check_failure_is_a_clear_error():
    client = FakeDynamoDB(put_error="ConditionalCheckFailedException")
    with pytest.raises(ItemError) as info:
        dynamodb_item.ensure_item(client, prepared(item=ITEM, condition_expression="attribute_not_exists(x)"),
                                  check_mode=False)
    assert "condition_expression 'attribute_not_exists(x)' was not met" in info.value.message
    assert "{'user_id': 'u', 'post_id': 'p'}" in info.value.message
    assert info.value.exception is None  # our message, not a traceback-shaped AWS error


def test_absent_when_missing_changes_nothing():
    client = FakeDynamoDB()
    result = dynamodb_item.ensure_item(client, prepared(state="absent", item=ITEM), check_mode=False)
    assert result["changed"] is False and result["item"] is None
    assert client.calls == ["DescribeTable", "GetItem"]
