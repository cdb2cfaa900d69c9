#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: dynamodb_stream
version_added: 0.1.0
short_description: Enable, change or disable the stream of a DynamoDB table
description:
  - Enables a DynamoDB stream on an existing table with the requested view type, or disables it.
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
      - Name of an existing DynamoDB table. A missing table is an error.
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
  wait:
    description:
      - Wait for the table to be C(ACTIVE) (and a new stream to be C(ENABLED)) after a change.
      - The module always waits for C(ACTIVE) before a change, because UpdateTable fails otherwise.
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
"""

RETURN = r"""
table_name:
  description: The table's name.
  returned: always
  type: str
  sample: users_post
table_arn:
  description: The table's ARN.
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
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import validate_table_name
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import COLLECTION
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import STREAM_ENABLED_BY_TAG
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import aws_retry
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import VIEW_TYPES
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import describe_table
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import stream_facts
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import table_tags
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import wait_stream_enabled
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import wait_table_active
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import WaitTimeout

MAX_WAIT_TIMEOUT = 3600


def validate_params(params):
    """Return a list of messages, each naming the offending option; empty when the input is valid."""
    errors = []
    try:
        validate_table_name(params.get("table_name"))
    except ValueError as exc:
        errors.append("table_name: %s" % exc)
    timeout = params.get("wait_timeout")
    if timeout is None or not 1 <= timeout <= MAX_WAIT_TIMEOUT:
        errors.append("wait_timeout must be between 1 and %d seconds, got %r" % (MAX_WAIT_TIMEOUT, timeout))
    if params.get("view_type") not in VIEW_TYPES:
        errors.append("view_type must be one of %s, got %r" % (", ".join(VIEW_TYPES), params.get("view_type")))
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


def update_stream(client, table_name, enabled, view_type=None):
    spec = {"StreamEnabled": enabled}
    if enabled:
        spec["StreamViewType"] = view_type
    client.update_table(aws_retry=True, TableName=table_name, StreamSpecification=spec)


def diff_view(facts, owned):
    return {"stream_enabled": facts["stream_enabled"], "view_type": facts["view_type"],
            "stream_arn": facts["stream_arn"], "owned": owned}


def ensure(module, client, streams_client, params):
    table_name = params["table_name"]
    timeout = params["wait_timeout"]
    table = describe_table(client, table_name)
    if table is None:
        module.fail_json(msg="table %s does not exist: dynamodb_stream manages the stream of an existing table"
                             % table_name)
    if table.get("TableStatus") != "ACTIVE":
        table = wait_table_active(client, table_name, timeout)
    before = stream_facts(table, table_name)
    owned = STREAM_ENABLED_BY_TAG in table_tags(client, before["table_arn"])
    steps = plan(before, owned, params["state"], params["view_type"], params["mark_owner"])
    changed = any(steps[k] for k in ("disable", "enable", "tag", "untag"))

    after = dict(before)
    after_owned = (owned or steps["tag"]) and not steps["untag"]
    if steps["enable"]:
        after.update(stream_enabled=True, view_type=params["view_type"], stream_arn=None, stream_label=None)
    elif steps["disable"]:
        after.update(stream_enabled=False, view_type=None, stream_arn=None, stream_label=None)

    result = {"changed": changed, "stream_replaced": steps["disable"] and steps["enable"],
              "previous_stream_arn": before["stream_arn"] if steps["disable"] else None}
    if steps["skipped_reason"]:
        module.warn(steps["skipped_reason"])
    if module._diff:
        result["diff"] = {"before": diff_view(before, owned), "after": diff_view(after, after_owned)}

    if module.check_mode or not changed:
        result.update(after, owned=after_owned)
        return result

    if steps["disable"]:
        update_stream(client, table_name, False)
        # The next UpdateTable (the enable) is rejected while the table is UPDATING, so this wait is not optional.
        wait_table_active(client, table_name, timeout)
    if steps["enable"]:
        update_stream(client, table_name, True, params["view_type"])
    if steps["tag"]:
        client.tag_resource(aws_retry=True, ResourceArn=before["table_arn"],
                            Tags=[{"Key": STREAM_ENABLED_BY_TAG, "Value": COLLECTION}])
    if steps["untag"]:
        client.untag_resource(aws_retry=True, ResourceArn=before["table_arn"], TagKeys=[STREAM_ENABLED_BY_TAG])

    if params["wait"]:
        table = wait_table_active(client, table_name, timeout)
    else:
        table = describe_table(client, table_name)
    final = stream_facts(table, table_name)
    if params["wait"] and final["stream_arn"]:
        wait_stream_enabled(streams_client, final["stream_arn"], timeout)
    if module._diff:
        result["diff"]["after"] = diff_view(final, after_owned)
    result.update(final, owned=after_owned)
    return result


ARGUMENT_SPEC = dict(
    table_name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    view_type=dict(type="str", default="NEW_AND_OLD_IMAGES", choices=list(VIEW_TYPES)),
    mark_owner=dict(type="bool", default=False),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=300),
)


def main():
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    errors = validate_params(module.params)
    if errors:
        module.fail_json(msg="; ".join(errors))

    client = module.client("dynamodb", retry_decorator=aws_retry())
    streams_client = module.client("dynamodbstreams", retry_decorator=aws_retry())
    try:
        result = ensure(module, client, streams_client, module.params)
    except WaitTimeout as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="failed to manage the stream of table %s" % module.params["table_name"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
