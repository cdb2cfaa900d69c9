#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: dynamodb_stream_info
version_added: 0.1.0
short_description: Read the stream settings and tags of a DynamoDB table
description:
  - Read-only companion of M(streamops.dynamodb_lambda.dynamodb_stream). Returns the same keys, plus
    RV(table_exists) and RV(table_tags) so roles can check ownership tags.
  - A missing table is not an error; it is reported as RV(table_exists=false).
  - Also returns the table's RV(key_schema), so callers build item keys from the table rather than from settings.
author:
  - streamops maintainers (@streamops)
options:
  table_name:
    description:
      - Name of the DynamoDB table.
    required: true
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the stream of users_post
  streamops.dynamodb_lambda.dynamodb_stream_info:
    table_name: users_post
  register: info

- name: Disable the stream only if this collection enabled it
  streamops.dynamodb_lambda.dynamodb_stream:
    table_name: users_post
    state: absent
  when: info.owned
"""

RETURN = r"""
table_exists:
  description: Whether the table exists. When false every other value is null or empty.
  returned: always
  type: bool
  sample: true
table_name:
  description: The table's name.
  returned: always
  type: str
  sample: users_post
table_arn:
  description: The table's ARN; null when the table does not exist.
  returned: always
  type: str
  sample: arn:aws:dynamodb:us-east-1:123456789012:table/users_post
table_tags:
  description: All tags of the table, as a dict.
  returned: always
  type: dict
  sample: {"streamops:stream-enabled-by": "streamops.dynamodb_lambda"}
stream_enabled:
  description: Whether the table has an enabled stream.
  returned: always
  type: bool
  sample: true
stream_arn:
  description: The enabled stream's ARN; null when disabled.
  returned: always
  type: str
  sample: arn:aws:dynamodb:us-east-1:123456789012:table/users_post/stream/2024-05-01T12:00:00.000
stream_label:
  description: The enabled stream's label; null when disabled.
  returned: always
  type: str
  sample: "2024-05-01T12:00:00.000"
view_type:
  description: The enabled stream's view type; null when disabled.
  returned: always
  type: str
  sample: NEW_AND_OLD_IMAGES
stream_replaced:
  description: Always false (a read changes nothing); present so the result has the shape of dynamodb_stream's.
  returned: always
  type: bool
  sample: false
previous_stream_arn:
  description: Always null, for the same reason.
  returned: always
  type: str
  sample: null
key_schema:
  description:
    - The table's primary key, partition key first; empty when the table does not exist.
    - Lets a caller build an item key that matches the table (the M(streamops.dynamodb_lambda.stream_verify) role's
      probe item).
  returned: always
  type: list
  elements: dict
  contains:
    attribute_name:
      description: The key attribute's name.
      type: str
      sample: user_id
    key_type:
      description: C(HASH) for the partition key, C(RANGE) for the sort key.
      type: str
      sample: HASH
    attribute_type:
      description: The attribute's type, C(S), C(N) or C(B).
      type: str
      sample: S
  sample: [{"attribute_name": "user_id", "key_type": "HASH", "attribute_type": "S"},
           {"attribute_name": "post_id", "key_type": "RANGE", "attribute_type": "S"}]
owned:
  description: Whether the table carries the C(streamops:stream-enabled-by) tag.
  returned: always
  type: bool
  sample: false
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import reference_problems
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import aws_retry
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import describe_table
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import key_schema
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import stream_facts
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import table_tags
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import STREAM_OWNER_TAG
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import owns


def read(client, table_name):
    table = describe_table(client, table_name)
    facts = stream_facts(table, table_name)
    tags = table_tags(client, facts["table_arn"]) if table else {}
    return dict(facts, table_exists=table is not None, table_tags=tags, owned=owns(tags, STREAM_OWNER_TAG),
                key_schema=key_schema(table), stream_replaced=False, previous_stream_arn=None)


ARGUMENT_SPEC = dict(table_name=dict(type="str", required=True))


def main():
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    problems = reference_problems(module.params, required=("table_name",))
    if problems:
        module.fail_json(msg="; ".join(problems))
    client = module.client("dynamodb", retry_decorator=aws_retry())
    try:
        result = read(client, module.params["table_name"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="failed to read table %s" % module.params["table_name"])
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
