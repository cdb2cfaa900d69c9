#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dynamodb_item
version_added: 0.1.0
short_description: Put or delete one DynamoDB item given as plain YAML values
description:
  - Writes one item to a DynamoDB table (O(state=present)) or deletes it (O(state=absent)).
  - Values are plain YAML; strings, numbers, booleans, null, lists and mappings map to DynamoDB's S, N, BOOL, NULL,
    L and M types.
  - 'Sets and binary have no YAML spelling, so they are written as single-key mappings C({"$ss": [...]}),
    C({"$ns": [...]}), C({"$bs": [base64, ...]}) and C({"$b": base64}); C({"$n": "..."}) writes a number with
    more precision than a YAML float holds.'
  - The item's key is taken from O(item) using the table's key schema (read with DescribeTable), so a missing key
    attribute or a key of the wrong type fails before anything is written.
  - Idempotent. The current item is read with a strongly consistent GetItem first; nothing is written when it
    already holds the same data (numbers are compared by value and sets regardless of order, as DynamoDB does).
  - Supports check mode and diff mode (the item before and after). In check mode O(condition_expression) is not
    evaluated, because DynamoDB has no way to test a condition without writing.
author:
  - streamops maintainers (@streamops)
options:
  table_name:
    description:
      - Name of the DynamoDB table.
    required: true
    type: str
  state:
    description:
      - V(present) writes O(item) (replacing every attribute of an existing item with the same key).
      - V(absent) deletes the item whose key is O(key), or the key attributes of O(item) when O(key) is omitted.
    choices: [present, absent]
    default: present
    type: str
  item:
    description:
      - The whole item as a mapping of attribute names to plain values. Required when O(state=present).
      - Must contain every key attribute of the table with the type the table declares.
    type: dict
  key:
    description:
      - The key attributes of the item to delete, as plain values. Used with O(state=absent).
      - With O(state=present) it may be given as a safety check; it must then equal the key attributes of O(item).
    type: dict
  condition_expression:
    description:
      - A DynamoDB condition expression the write must satisfy, for example C(attribute_not_exists(user_id)).
      - When the condition does not hold the module fails and nothing is written. An identical item is not
        rewritten, so a condition never fails a run that would change nothing.
    type: str
  expression_attribute_names:
    description:
      - Substitutes for attribute names in O(condition_expression); keys start with C(#).
    type: dict
  expression_attribute_values:
    description:
      - Values used in O(condition_expression), as plain values (same spelling as O(item)); keys start with C(:).
    type: dict
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Create or update a post (the table's key is user_id + post_id)
  streamops.dynamodb_lambda.dynamodb_item:
    table_name: users_post
    item:
      user_id: u-1
      post_id: p-1
      title: Hello
      likes: 3
      rating: 4.5
      published: true
      tags: {"$ss": [aws, lambda]}
      thumbnail: {"$b": "iVBORw0KGgo="}
      meta: {lang: ko, views: [1, 2, 3]}

- name: Insert only if it does not exist yet
  streamops.dynamodb_lambda.dynamodb_item:
    table_name: users_post
    item: {user_id: u-1, post_id: p-2, title: Draft}
    condition_expression: attribute_not_exists(user_id)

- name: Update only while the stored version is the one we read
  streamops.dynamodb_lambda.dynamodb_item:
    table_name: users_post
    item: {user_id: u-1, post_id: p-1, title: Edited, version: 2}
    condition_expression: "#v = :expected"
    expression_attribute_names: {"#v": version}
    expression_attribute_values: {":expected": 1}

- name: Delete a post
  streamops.dynamodb_lambda.dynamodb_item:
    table_name: users_post
    state: absent
    key: {user_id: u-1, post_id: p-1}
"""

RETURN = r"""
item:
  description:
    - The item as stored after the task, in plain form (sets as C($ss)/C($ns)/C($bs) with sorted members, binary
      as C($b) base64). In check mode, the item as it would be stored.
    - V(null) when the item does not exist after the task.
  returned: always
  type: dict
  sample: {"user_id": "u-1", "post_id": "p-1", "likes": 3, "tags": {"$ss": ["aws", "lambda"]}}
key:
  description: The item's key attributes, in plain form.
  returned: always
  type: dict
  sample: {"user_id": "u-1", "post_id": "p-1"}
previous_item:
  description: The item before the task in plain form, or V(null) when it did not exist.
  returned: always
  type: dict
  sample: {"user_id": "u-1", "post_id": "p-1", "likes": 2}
table_name:
  description: The table written to.
  returned: always
  type: str
  sample: users_post
"""

import copy

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import table_name_problem
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import aws_retry
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.dynamodb_types import DynamoDBTypeError
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.dynamodb_types import item_from_typed
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.dynamodb_types import item_to_typed
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.dynamodb_types import items_equal

TYPE_WORDS = {"S": "string", "N": "number", "B": "binary"}


class ItemError(AnsibleAWSError):
    pass


def validate_params(params):
    """Check and convert the options; return typed values. Raises ItemError naming the option. No AWS calls."""
    table_name = params["table_name"]
    problem = table_name_problem(table_name)
    if problem:
        raise ItemError("table_name: " + problem)
    state = params["state"]
    if state == "present" and params["item"] is None:
        raise ItemError("item is required when state is present")
    if state == "absent" and params["item"] is None and params["key"] is None:
        raise ItemError("state is absent: give key (or item, whose key attributes are used)")
    try:
        item = item_to_typed(params["item"], "item") if params["item"] is not None else None
        key = item_to_typed(params["key"], "key") if params["key"] is not None else None
        if item is not None and not item:
            raise ItemError("item must hold at least the table's key attributes, got an empty mapping")
        if key is not None and not key:
            raise ItemError("key must hold the table's key attributes, got an empty mapping")
        values = params["expression_attribute_values"]
        typed_values = item_to_typed(values, "expression_attribute_values") if values else None
    except DynamoDBTypeError as e:
        raise ItemError(str(e)) from None
    names = params["expression_attribute_names"]
    condition = params["condition_expression"]
    if condition is not None and not condition.strip():
        raise ItemError("condition_expression must not be empty; omit it for an unconditional write")
    for option, given in (("expression_attribute_names", names), ("expression_attribute_values", values)):
        if given and not condition:
            raise ItemError("%s is only used with condition_expression, which is not set" % option)
    for placeholder, name in (names or {}).items():
        if not placeholder.startswith("#") or len(placeholder) < 2:
            raise ItemError("expression_attribute_names key %r must start with '#' (e.g. '#v')" % (placeholder,))
        if not isinstance(name, str) or not name:
            raise ItemError("expression_attribute_names[%r] must be a non-empty attribute name" % (placeholder,))
    for placeholder in values or {}:
        if not placeholder.startswith(":") or len(placeholder) < 2:
            raise ItemError("expression_attribute_values key %r must start with ':' (e.g. ':v')" % (placeholder,))
    return {
        "table_name": table_name,
        "state": state,
        "item": item,
        "key": key,
        "condition": condition,
        "names": names or None,
        "values": typed_values,
    }


def describe_key_schema(client, table_name):
    """[(attribute name, key type HASH|RANGE, attribute type S|N|B)] or None when the table does not exist."""
    try:
        table = client.describe_table(aws_retry=True, TableName=table_name)["Table"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        raise ItemError("Failed to describe table %s" % table_name, exception=e)
    types = {d["AttributeName"]: d["AttributeType"] for d in table.get("AttributeDefinitions", [])}
    return [(k["AttributeName"], k["KeyType"], types.get(k["AttributeName"])) for k in table["KeySchema"]]


def key_from(schema, attributes, option, table_name, exact=False):
    """The key of *attributes* (typed) per *schema*; fails naming the option and attribute that is wrong."""
    key = {}
    for name, key_type, attr_type in schema:
        role = "partition key" if key_type == "HASH" else "sort key"
        if name not in attributes:
            raise ItemError("%s is missing key attribute %r (the %s of table %s, type %s)"
                            % (option, name, role, table_name, attr_type))
        (given_type, value), = attributes[name].items()
        if attr_type and given_type != attr_type:
            raise ItemError("%s.%s must be a %s (%s), the type of %s's %s; got %s" % (
                option, name, TYPE_WORDS.get(attr_type, attr_type), attr_type, table_name, role, given_type))
        if given_type in ("S", "B") and len(value) == 0:
            raise ItemError("%s.%s must not be empty: DynamoDB key attributes cannot be empty" % (option, name))
        key[name] = attributes[name]
    if exact:
        extra = sorted(set(attributes) - set(key))
        if extra:
            key_names = [n for n, _key_type, _attr_type in schema]
            raise ItemError("%s holds attributes that are not part of table %s's key: %s (the key is %s)"
                            % (option, table_name, ", ".join(extra), ", ".join(key_names)))
    return key


def get_item(client, table_name, key):
    try:
        # Strongly consistent: an eventually consistent read right after a write could miss it and rewrite.
        return client.get_item(aws_retry=True, TableName=table_name, Key=key, ConsistentRead=True).get("Item")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        raise ItemError("Failed to read the item from %s" % table_name, exception=e)


def _condition_kwargs(prepared):
    kwargs = {}
    if prepared["condition"]:
        kwargs["ConditionExpression"] = prepared["condition"]
    if prepared["names"]:
        kwargs["ExpressionAttributeNames"] = prepared["names"]
    if prepared["values"]:
        kwargs["ExpressionAttributeValues"] = prepared["values"]
    return kwargs


def _condition_failed(prepared, key, action):
    return ItemError("condition_expression %r was not met for the item with key %s in table %s; nothing was %s"
                     % (prepared["condition"], item_from_typed(key, "key"), prepared["table_name"], action))


def put_item(client, prepared, current, check_mode):
    """Write the item unless it is already stored identically. Returns changed."""
    if current is not None and items_equal(current, prepared["item"]):
        return False
    if check_mode:
        return True
    try:
        client.put_item(aws_retry=True, TableName=prepared["table_name"], Item=prepared["item"],
                        **_condition_kwargs(prepared))
    except is_boto3_error_code("ConditionalCheckFailedException"):
        raise _condition_failed(prepared, prepared["key"], "written")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        raise ItemError("Failed to put the item into %s" % prepared["table_name"], exception=e)
    return True


def delete_item(client, prepared, current, check_mode):
    """Delete the item if it exists. Returns changed."""
    if current is None:
        return False
    if check_mode:
        return True
    try:
        client.delete_item(aws_retry=True, TableName=prepared["table_name"], Key=prepared["key"],
                           **_condition_kwargs(prepared))
    except is_boto3_error_code("ConditionalCheckFailedException"):
        raise _condition_failed(prepared, prepared["key"], "deleted")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        raise ItemError("Failed to delete the item from %s" % prepared["table_name"], exception=e)
    return True


def ensure_item(client, prepared, check_mode):
    table_name = prepared["table_name"]
    schema = describe_key_schema(client, table_name)
    if schema is None:
        raise ItemError("table_name: table %s does not exist" % table_name)
    if prepared["state"] == "present":
        key = key_from(schema, prepared["item"], "item", table_name)
        if prepared["key"] is not None:
            given = key_from(schema, prepared["key"], "key", table_name, exact=True)
            if not items_equal(given, key):
                raise ItemError("key %s does not match the key attributes of item %s"
                                % (item_from_typed(given, "key"), item_from_typed(key, "item")))
    elif prepared["key"] is not None:
        key = key_from(schema, prepared["key"], "key", table_name, exact=True)
    else:
        key = key_from(schema, prepared["item"], "item", table_name)
    prepared = dict(prepared, key=key)
    current = get_item(client, table_name, key)
    if prepared["state"] == "present":
        changed = put_item(client, prepared, current, check_mode)
        after = prepared["item"] if changed else current
    else:
        changed = delete_item(client, prepared, current, check_mode)
        after = None
    before_plain = item_from_typed(current)
    after_plain = item_from_typed(after)
    return {
        "changed": changed,
        "item": after_plain,
        "previous_item": before_plain,
        "key": item_from_typed(key, "key"),
        "table_name": table_name,
        "diff": {"before": before_plain or {}, "after": after_plain or {}},
    }


ARGUMENT_SPEC = dict(
    table_name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    item=dict(type="dict"),
    key=dict(type="dict", no_log=False),
    condition_expression=dict(type="str"),
    expression_attribute_names=dict(type="dict"),
    expression_attribute_values=dict(type="dict"),
)


def main():
    module = AnsibleAWSModule(argument_spec=copy.deepcopy(ARGUMENT_SPEC), supports_check_mode=True)

    try:
        prepared = validate_params(module.params)
    except ItemError as e:
        module.fail_json(msg=e.message)

    client = module.client("dynamodb", retry_decorator=aws_retry())
    try:
        result = ensure_item(client, prepared, module.check_mode)
    except ItemError as e:
        if e.exception:
            module.fail_json_aws(e.exception, msg=e.message)
        module.fail_json(msg=e.message)

    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
