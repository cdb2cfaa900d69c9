#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: dynamodb_stream
version_added: 0.1.0
short_description: Enable, change or disable the stream of a DynamoDB table, optionally creating the table
description:
  - Enables a DynamoDB stream on an existing table with the requested view type, or disables it.
  - With O(create_table), a missing table is created with the stream already enabled and its tags set, in the one
    C(CreateTable) call. An existing table is never modified beyond its stream.
  - With O(state=absent) and O(delete_table), a table this collection created (tag C(streamops:table-created-by))
    is deleted, which removes its stream too; any other table only has its stream disabled, as O(mark_owner) allows.
  - DynamoDB cannot change a stream's view type in place (UpdateTable fails with ValidationException); this module
    disables the stream and enables a new one, which gets a new ARN. That is reported with RV(stream_replaced) and
    RV(previous_stream_arn) so an event source mapping can follow the new ARN.
  - Waits for the table to be C(ACTIVE) before and after each change, since UpdateTable returns while the table
    is still C(UPDATING) and rejects the next change until it is C(ACTIVE).
  - C(community.aws.dynamodb_table) cannot enable streams, which is why this module exists.
author:
  - streamops maintainers (@streamops)
options:
  table_name:
    description:
      - Name of the DynamoDB table. A missing table is an error unless O(create_table) is given
        (with O(state=absent) a missing table is not an error, since there is nothing to undo).
    required: true
    type: str
  state:
    description:
      - V(present) ensures a stream with O(view_type) is enabled; V(absent) ensures it is disabled.
    default: present
    choices: [present, absent]
    type: str
  view_type:
    description:
      - What each stream record carries.
    default: NEW_AND_OLD_IMAGES
    choices: [KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES]
    type: str
  mark_owner:
    description:
      - With O(state=present), when this run enables the stream, tag the table
        C(streamops:stream-enabled-by=streamops.dynamodb_lambda).
      - With O(state=absent), disable the stream only if the table carries that tag (a stream someone else
        enabled is left alone), and remove the tag.
    default: false
    type: bool
  create_table:
    description:
      - Create the table when it does not exist (with O(state=present)), with on-demand billing
        (C(PAY_PER_REQUEST)), the stream enabled with O(view_type), and tags set in the same C(CreateTable) call.
      - The tags are O(create_table.tags) plus the ownership tags C(streamops:managed-by) and
        C(streamops:table-created-by) (and C(streamops:stream-enabled-by) with O(mark_owner)).
      - Ignored for an existing table, which is never modified beyond its stream. Omit to fail on a missing table.
    type: dict
    suboptions:
      hash_key:
        description: The partition key.
        required: true
        type: dict
        suboptions:
          name:
            description: Attribute name.
            required: true
            type: str
          type:
            description: Attribute type (string, number, binary).
            default: S
            choices: [S, N, B]
            type: str
      range_key:
        description: The sort key; omit (or null) for a table without one.
        type: dict
        suboptions:
          name:
            description: Attribute name.
            required: true
            type: str
          type:
            description: Attribute type (string, number, binary).
            default: S
            choices: [S, N, B]
            type: str
      tags:
        description: Extra tags for the new table. The ownership tags win over a tag of the same key.
        default: {}
        type: dict
  replace_unowned_stream:
    description:
      - With O(state=present), allow changing the view type of an enabled stream that this collection did not
        enable (the table has no C(streamops:stream-enabled-by) tag). The replacement stream has a new ARN, so other
        consumers of the old one stop receiving records.
      - When V(false), such a change fails before any write, naming O(view_type).
    default: true
    type: bool
  delete_table:
    description:
      - With O(state=absent), delete the table when it carries the C(streamops:table-created-by) tag (this
        collection created it); its stream goes with it. A table without the tag only has its stream disabled.
    default: false
    type: bool
  wait:
    description:
      - Wait for the table to be C(ACTIVE) (and a new stream to be C(ENABLED)) after a change, and for a deleted
        table to be gone. An answer that already reports the table C(ACTIVE) (or gone) needs no further read.
      - The module always waits for C(ACTIVE) before a change, because UpdateTable fails otherwise.
      - When V(false), a table this run created or changed may still be C(CREATING) or C(UPDATING) (RV(table_status)
        says which), and its new stream C(ENABLING). RV(stream_arn) is known already; a trigger created next can
        wait for the stream itself (O(streamops.dynamodb_lambda.stream_trigger#module:wait_for_source)).
    default: true
    type: bool
  wait_timeout:
    description:
      - Seconds to wait, 1-3600.
    default: 300
    type: int
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Enable the stream the walkthrough uses
  streamops.dynamodb_lambda.dynamodb_stream:
    table_name: users_post
    view_type: NEW_AND_OLD_IMAGES
    mark_owner: true
  register: stream

- name: Change the view type (the stream is re-created; its ARN changes)
  streamops.dynamodb_lambda.dynamodb_stream:
    table_name: users_post
    view_type: NEW_IMAGE

- name: Disable the stream, but only if this collection enabled it
  streamops.dynamodb_lambda.dynamodb_stream:
    table_name: users_post
    state: absent
    mark_owner: true

- name: Create the table with its stream when missing; refuse to replace someone else's stream
  streamops.dynamodb_lambda.dynamodb_stream:
    table_name: users_post
    view_type: NEW_AND_OLD_IMAGES
    mark_owner: true
    replace_unowned_stream: false
    create_table:
      hash_key: {name: user_id, type: S}
      range_key: {name: post_id, type: S}
      tags:
        team: data
  register: stream

- name: Delete the table if this collection created it, else disable the stream if this collection enabled it
  streamops.dynamodb_lambda.dynamodb_stream:
    table_name: users_post
    state: absent
    mark_owner: true
    delete_table: true
"""

RETURN = r"""
table_name:
  description: The table's name.
  returned: always
  type: str
  sample: users_post
table_arn:
  description: The table's ARN; null when the table does not exist, or when check mode would create it.
  returned: always
  type: str
  sample: arn:aws:dynamodb:us-east-1:123456789012:table/users_post
stream_enabled:
  description: Whether the table has an enabled stream (predicted in check mode).
  returned: always
  type: bool
  sample: true
stream_arn:
  description: The enabled stream's ARN; null when disabled, or when check mode would create a new stream.
  returned: always
  type: str
  sample: arn:aws:dynamodb:us-east-1:123456789012:table/users_post/stream/2024-05-01T12:00:00.000
stream_label:
  description: The enabled stream's label (timestamp part of the ARN); null when disabled.
  returned: always
  type: str
  sample: "2024-05-01T12:00:00.000"
view_type:
  description: The enabled stream's view type; null when disabled.
  returned: always
  type: str
  sample: NEW_AND_OLD_IMAGES
stream_replaced:
  description: True when the view type changed, which disables the old stream and enables a new one.
  returned: always
  type: bool
  sample: false
previous_stream_arn:
  description: ARN of the stream that was disabled by this run (replaced or disabled); null otherwise.
  returned: always
  type: str
  sample: arn:aws:dynamodb:us-east-1:123456789012:table/users_post/stream/2024-04-01T08:00:00.000
owned:
  description: Whether the table carries the C(streamops:stream-enabled-by) tag after this run.
  returned: always
  type: bool
  sample: true
table_status:
  description:
    - The table's C(TableStatus) as this run last saw it (C(ACTIVE), C(CREATING), C(UPDATING), C(DELETING)); null
      when the table does not exist after this run.
    - With O(wait) every change ends C(ACTIVE); without it, the answer of the last write.
    - In check mode, the status read for an existing table; for a table check mode would create, C(ACTIVE) with
      O(wait) and C(CREATING) without it (what the run would report).
  returned: always
  type: str
  sample: ACTIVE
table_exists:
  description: Whether the table exists after this run (predicted in check mode).
  returned: always
  type: bool
  sample: true
created:
  description: Whether this run created the table (would create it, in check mode).
  returned: always
  type: bool
  sample: false
deleted:
  description: Whether this run deleted the table (would delete it, in check mode).
  returned: always
  type: bool
  sample: false
key_schema:
  description:
    - The table's primary key, partition key first, as M(streamops.dynamodb_lambda.dynamodb_stream_info) returns
      it; for a table check mode would create, the key it would be created with. Empty when the table does not
      exist after this run.
  returned: always
  type: list
  elements: dict
  sample: [{attribute_name: user_id, key_type: HASH, attribute_type: S},
           {attribute_name: post_id, key_type: RANGE, attribute_type: S}]
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import reference_problems
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import aws_retry
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import DEFAULT_VIEW_TYPE
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import VIEW_TYPES
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import describe_table
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import key_schema
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import stream_facts
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import table_tags
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import wait_stream_enabled
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import wait_stream_readable
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import wait_table_active
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import wait_table_gone
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import OWNER_TAG
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import STREAM_ENABLED_BY_TAG
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import STREAM_OWNER_TAG
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import TABLE_OWNER_TAG
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import owns
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import tag_problems
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import with_owner
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import WaitTimeout

MAX_WAIT_TIMEOUT = 3600
KEY_TYPES = ("S", "N", "B")


def validate_params(params):
    """Return a list of messages, each naming the offending option; empty when the input is valid."""
    errors = reference_problems({"table_name": params.get("table_name")}, required=("table_name",))
    timeout = params.get("wait_timeout")
    if timeout is None or not 1 <= timeout <= MAX_WAIT_TIMEOUT:
        errors.append("wait_timeout must be between 1 and %d seconds, got %r" % (MAX_WAIT_TIMEOUT, timeout))
    if params.get("view_type") not in VIEW_TYPES:
        errors.append("view_type must be one of %s, got %r" % (", ".join(VIEW_TYPES), params.get("view_type")))
    errors.extend(validate_create_table(params.get("create_table")))
    return errors


def validate_create_table(definition):
    if not definition:
        return []
    errors = []
    keys = [("hash_key", definition.get("hash_key"))]
    if definition.get("range_key"):
        keys.append(("range_key", definition["range_key"]))
    for option, key in keys:
        if not isinstance(key, dict) or not key.get("name"):
            errors.append("create_table.%s.name must be a non-empty attribute name" % option)
            continue
        if len(key["name"]) > 255:
            errors.append("create_table.%s.name must be at most 255 characters, got %d"
                          % (option, len(key["name"])))
        if key.get("type", "S") not in KEY_TYPES:
            errors.append("create_table.%s.type must be one of %s, got %r"
                          % (option, ", ".join(KEY_TYPES), key.get("type")))
    names = [key.get("name") for _option, key in keys if isinstance(key, dict)]
    if len(names) == 2 and names[0] == names[1]:
        errors.append("create_table.range_key.name must differ from create_table.hash_key.name (%r)" % names[0])
    errors.extend(tag_problems("create_table.tags", definition.get("tags"), service="dynamodb"))
    return errors


def plan(facts, owned, state, view_type, mark_owner):
    """Decide what to do. Returns a dict: disable, enable (bools), tag, untag (bools), reason (str or None)."""
    steps = {"disable": False, "enable": False, "tag": False, "untag": False, "skipped_reason": None}
    if state == "present":
        if not facts["stream_enabled"]:
            steps["enable"] = True
        elif facts["view_type"] != view_type:
            # DynamoDB has no in-place view type change (terraform-provider-aws #18402): disable, then enable.
            steps["disable"] = steps["enable"] = True
        steps["tag"] = steps["enable"] and mark_owner and not owned
        return steps
    if not facts["stream_enabled"]:
        steps["untag"] = owned and mark_owner
        return steps
    if mark_owner and not owned:
        steps["skipped_reason"] = ("stream of table %s left enabled: mark_owner is set and the table has no %s tag, "
                                   "so this collection did not enable it" % (facts["table_name"], STREAM_ENABLED_BY_TAG))
        return steps
    steps["disable"] = True
    steps["untag"] = owned
    return steps


def unowned_replacement_error(facts, owned, params):
    """The message refusing to replace a stream this collection did not enable, or None when allowed."""
    if params["state"] != "present" or params["replace_unowned_stream"] or owned:
        return None
    if not facts["stream_enabled"] or facts["view_type"] == params["view_type"]:
        return None
    return ("view_type: table %s already has a %s stream that this collection did not enable (no %s tag); changing "
            "the view type to %s replaces the stream (new ARN) under its other consumers. Use its view type, or set "
            "replace_unowned_stream: true" % (facts["table_name"], facts["view_type"], STREAM_ENABLED_BY_TAG,
                                              params["view_type"]))


def creation_request(params):
    """The one CreateTable call: keys, on-demand billing, the stream and every tag (ownership tags win)."""
    definition = params["create_table"]
    keys = [("HASH", definition["hash_key"])]
    if definition.get("range_key"):
        keys.append(("RANGE", definition["range_key"]))
    tags = with_owner(definition.get("tags"), dict(OWNER_TAG, **TABLE_OWNER_TAG))
    if params["mark_owner"]:
        tags.update(STREAM_OWNER_TAG)
    return {
        "TableName": params["table_name"],
        "KeySchema": [{"AttributeName": key["name"], "KeyType": kind} for kind, key in keys],
        "AttributeDefinitions": [{"AttributeName": key["name"], "AttributeType": key.get("type") or "S"}
                                 for _kind, key in keys],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": params["view_type"]},
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
    }


def update_stream(client, table_name, enabled, view_type=None):
    """UpdateTable's answer (TableDescription): it already reports the new stream and the table's status."""
    spec = {"StreamEnabled": enabled}
    if enabled:
        spec["StreamViewType"] = view_type
    return client.update_table(aws_retry=True, TableName=table_name, StreamSpecification=spec)["TableDescription"]


def settled(client, table, table_name, timeout):
    """*table* (a write's answer) when it is ACTIVE already, else the table once a poll sees it ACTIVE."""
    if table and table.get("TableStatus") == "ACTIVE":
        return table
    return wait_table_active(client, table_name, timeout)


def diff_view(facts, owned, exists=True):
    return {"table_exists": exists, "stream_enabled": facts["stream_enabled"], "view_type": facts["view_type"],
            "stream_arn": facts["stream_arn"], "owned": owned}


def base_result(**extra):
    result = {"changed": False, "stream_replaced": False, "previous_stream_arn": None, "table_exists": True,
              "created": False, "deleted": False, "owned": False, "table_status": None}
    result.update(extra)
    return result


def missing_table(module, params):
    """The table does not exist: nothing to undo (absent), a failure, or the one CreateTable call."""
    table_name = params["table_name"]
    gone = stream_facts(None, table_name)
    if params["state"] == "absent":
        return base_result(table_exists=False, key_schema=[], **gone)
    if not params["create_table"]:
        module.fail_json(msg="table %s does not exist: dynamodb_stream manages the stream of an existing table "
                             "unless create_table is given" % table_name,
                         reason="table_missing", table_exists=False, **gone)
    return None


def create(module, client, streams_client, params):
    table_name, timeout = params["table_name"], params["wait_timeout"]
    request = creation_request(params)
    predicted = {"table_name": table_name, "table_arn": None, "stream_enabled": True, "stream_arn": None,
                 "stream_label": None, "view_type": params["view_type"]}
    result = base_result(changed=True, created=True, owned=params["mark_owner"])
    if module._diff:
        result["diff"] = {"before": diff_view(stream_facts(None, table_name), False, exists=False),
                          "after": diff_view(predicted, params["mark_owner"])}
    if module.check_mode:
        result.update(predicted, key_schema=key_schema(request), table_status="ACTIVE" if params["wait"] else "CREATING")
        return result
    table = client.create_table(aws_retry=True, **request)["TableDescription"]
    # AWS answers CREATING, with the new stream's ARN already; an answer that is ACTIVE already (the stream was
    # created with the table) needs no further read. Otherwise poll until ACTIVE, then until the stream is ENABLED.
    final = stream_facts(table, table_name)
    if params["wait"] and table.get("TableStatus") != "ACTIVE" and final["stream_arn"]:
        table = wait_stream_readable(client, streams_client, final["stream_arn"], timeout) or table
        final = stream_facts(table, table_name)
    if module._diff:
        result["diff"]["after"] = diff_view(final, params["mark_owner"])
    result.update(final, key_schema=key_schema(table), table_status=table.get("TableStatus"))
    return result


def delete(module, client, params, before):
    """One DeleteTable of a table this collection created; its stream goes with it."""
    table_name = params["table_name"]
    gone = stream_facts(None, table_name)
    result = base_result(changed=True, deleted=True, table_exists=False, key_schema=[],
                         previous_stream_arn=before["stream_arn"])
    result.update(gone, table_arn=before["table_arn"])
    if module._diff:
        result["diff"] = {"before": diff_view(before, owns(before.get("tags"), STREAM_OWNER_TAG)),
                          "after": diff_view(gone, False, exists=False)}
    if module.check_mode:
        return result
    answer = client.delete_table(aws_retry=True, TableName=table_name)["TableDescription"]
    # AWS answers DELETING and the name stays taken until the table is gone; poll only then.
    if params["wait"] and answer.get("TableStatus") == "DELETING":
        wait_table_gone(client, table_name, params["wait_timeout"])
    else:
        result["table_status"] = answer.get("TableStatus")
    return result


def ensure(module, client, streams_client, params):
    table_name = params["table_name"]
    timeout = params["wait_timeout"]
    table = describe_table(client, table_name)
    if table is not None and table.get("TableStatus") == "DELETING":
        table = wait_table_gone(client, table_name, timeout)
    elif table is not None and table.get("TableStatus") != "ACTIVE":
        table = wait_table_active(client, table_name, timeout)
    if table is None:
        result = missing_table(module, params)
        return result if result is not None else create(module, client, streams_client, params)

    before = stream_facts(table, table_name)
    tags = table_tags(client, before["table_arn"])
    owned = owns(tags, STREAM_OWNER_TAG)
    if params["state"] == "absent" and params["delete_table"] and owns(tags, TABLE_OWNER_TAG):
        return delete(module, client, params, dict(before, tags=tags))

    refusal = unowned_replacement_error(before, owned, params)
    if refusal:
        module.fail_json(msg=refusal, reason="unowned_stream", table_exists=True, owned=owned,
                         key_schema=key_schema(table), **before)

    steps = plan(before, owned, params["state"], params["view_type"], params["mark_owner"])
    changed = any(steps[k] for k in ("disable", "enable", "tag", "untag"))

    after = dict(before)
    after_owned = (owned or steps["tag"]) and not steps["untag"]
    if steps["enable"]:
        after.update(stream_enabled=True, view_type=params["view_type"], stream_arn=None, stream_label=None)
    elif steps["disable"]:
        after.update(stream_enabled=False, view_type=None, stream_arn=None, stream_label=None)

    result = base_result(changed=changed, stream_replaced=steps["disable"] and steps["enable"],
                         previous_stream_arn=before["stream_arn"] if steps["disable"] else None,
                         key_schema=key_schema(table))
    if steps["skipped_reason"]:
        module.warn(steps["skipped_reason"])
    if module._diff:
        result["diff"] = {"before": diff_view(before, owned), "after": diff_view(after, after_owned)}

    result["table_status"] = table.get("TableStatus")
    if module.check_mode or not changed:
        result.update(after, owned=after_owned)
        return result

    if steps["disable"]:
        table = update_stream(client, table_name, False)
        # The next UpdateTable (the enable) is rejected while the table is UPDATING, so this wait is not optional.
        if steps["enable"]:
            table = settled(client, table, table_name, timeout)
    if steps["enable"]:
        table = update_stream(client, table_name, True, params["view_type"])
    if steps["tag"]:
        client.tag_resource(aws_retry=True, ResourceArn=before["table_arn"],
                            Tags=[{"Key": k, "Value": v} for k, v in STREAM_OWNER_TAG.items()])
    if steps["untag"]:
        client.untag_resource(aws_retry=True, ResourceArn=before["table_arn"], TagKeys=[STREAM_ENABLED_BY_TAG])

    if steps["enable"] or steps["disable"]:
        if params["wait"]:
            table = settled(client, table, table_name, timeout) or table
        final = stream_facts(table, table_name)
        if params["wait"] and final["stream_arn"]:
            wait_stream_enabled(streams_client, final["stream_arn"], timeout)
    else:
        final = before
    if module._diff:
        result["diff"]["after"] = diff_view(final, after_owned)
    result.update(final, owned=after_owned, table_status=table.get("TableStatus"))
    return result


KEY_SPEC = dict(
    name=dict(type="str", required=True),
    type=dict(type="str", default="S", choices=list(KEY_TYPES)),
)

ARGUMENT_SPEC = dict(
    table_name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    view_type=dict(type="str", default=DEFAULT_VIEW_TYPE, choices=list(VIEW_TYPES)),
    mark_owner=dict(type="bool", default=False),
    create_table=dict(type="dict", options=dict(
        hash_key=dict(type="dict", required=True, options=KEY_SPEC, no_log=False),
        range_key=dict(type="dict", options=KEY_SPEC, no_log=False),
        tags=dict(type="dict", default={}),
    )),
    replace_unowned_stream=dict(type="bool", default=True),
    delete_table=dict(type="bool", default=False),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=300),
)


def main():
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    errors = validate_params(module.params)
    if errors:
        module.fail_json(msg="; ".join(errors))

    client = module.client("dynamodb", retry_decorator=aws_retry())
    # DynamoDB Streams is read only to wait for a stream (each client costs a boto3 session of its own).
    streams_client = module.client("dynamodbstreams", retry_decorator=aws_retry()) if module.params["wait"] else None
    try:
        result = ensure(module, client, streams_client, module.params)
    except WaitTimeout as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="failed to manage the stream of table %s" % module.params["table_name"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
