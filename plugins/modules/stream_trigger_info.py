#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: stream_trigger_info
version_added: 0.1.0
short_description: List the event source mappings between DynamoDB streams and Lambda functions
description:
  - Read-only companion of M(streamops.dynamodb_lambda.stream_trigger). Returns every matching mapping in the
    shape M(streamops.dynamodb_lambda.stream_trigger) returns one, tags included.
  - With O(table_name), mappings on older (re-created) streams of the table are listed too, so stale triggers
    show up.
author:
  - streamops maintainers (@streamops)
options:
  function_name:
    description:
      - Only mappings of this function (name, C(name:qualifier) or ARN). A missing function gives an empty list.
    type: str
  table_name:
    description:
      - Only mappings reading any stream of this table. Mutually exclusive with O(stream_arn).
    type: str
  stream_arn:
    description:
      - Only mappings reading this stream.
    type: str
notes:
  - At least one of O(function_name), O(table_name) and O(stream_arn) is required. O(table_name) alone lists all
    mappings of the region and filters them, since Lambda cannot filter by a table.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Triggers of the walkthrough's function
  streamops.dynamodb_lambda.stream_trigger_info:
    function_name: Lambda_demo_DynamoDB_stream
  register: triggers

- name: Every trigger reading users_post, including ones left on an old stream
  streamops.dynamodb_lambda.stream_trigger_info:
    table_name: users_post
  register: triggers
"""

RETURN = r"""
mappings:
  description:
    - The matching mappings, oldest change first, each with the keys
      M(streamops.dynamodb_lambda.stream_trigger) returns for its mapping (snake_case fields of
      GetEventSourceMapping plus C(tags)).
  returned: always
  type: list
  elements: dict
  sample: [{"uuid": "6d9bce8e-836b-442c-8070-74e77903c815", "state": "Enabled", "batch_size": 100}]
  contains:
    uuid:
      description: The mapping's identifier.
      type: str
      returned: always
      sample: 6d9bce8e-836b-442c-8070-74e77903c815
    state:
      description: The mapping's State.
      type: str
      returned: always
      sample: Enabled
    event_source_arn:
      description: The stream the mapping reads.
      type: str
      returned: always
      sample: arn:aws:dynamodb:us-east-1:123456789012:table/users_post/stream/2024-05-01T12:00:00.000
    function_arn:
      description: The function.
      type: str
      returned: always
      sample: arn:aws:lambda:us-east-1:123456789012:function:Lambda_demo_DynamoDB_stream
    batch_size:
      description: Records per invocation.
      type: int
      returned: always
      sample: 100
    starting_position:
      description: LATEST or TRIM_HORIZON.
      type: str
      returned: always
      sample: LATEST
    tags:
      description: The mapping's tags.
      type: dict
      returned: always
      sample: {"streamops:managed-by": "streamops.dynamodb_lambda"}
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import normalize_boto3_result
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import event_source_mapping as esm
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import is_stream_of_table
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import same_function
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import table_arn_beside
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import reference_problems
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import aws_retry
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import describe_table


def validate(params):
    return reference_problems(params)


def find(client, ddb, params):
    function_arn = None
    if params["function_name"]:
        function_arn = esm.resolve_function(client, params["function_name"])
        if function_arn is None:
            return []
    table_arn = None
    if params["table_name"]:
        table = describe_table(ddb, params["table_name"])
        if table is None and function_arn is None:
            return []
        # A deleted table can still have mappings left on its streams; its ARN follows the function's account.
        table_arn = table["TableArn"] if table else table_arn_beside(function_arn, params["table_name"])
    if params["stream_arn"]:
        found = esm.list_mappings(client, EventSourceArn=params["stream_arn"])
    elif function_arn:
        found = esm.list_mappings(client, FunctionName=function_arn)
    else:
        found = esm.list_mappings(client)
    selected = []
    for mapping in found:
        if function_arn and not same_function(mapping.get("FunctionArn"), function_arn):
            continue
        if table_arn and not is_stream_of_table(mapping.get("EventSourceArn"), table_arn):
            continue
        if params["stream_arn"] and mapping.get("EventSourceArn") != params["stream_arn"]:
            continue
        selected.append(mapping)
    selected.sort(key=lambda m: str(m.get("LastModified", "")))
    results = []
    for mapping in selected:
        entry = camel_dict_to_snake_dict(normalize_boto3_result(mapping))
        entry["tags"] = esm.mapping_tags(client, mapping)
        results.append(entry)
    return results


ARGUMENT_SPEC = dict(function_name=dict(type="str"), table_name=dict(type="str"), stream_arn=dict(type="str"))


def main():
    module = AnsibleAWSModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        mutually_exclusive=[("table_name", "stream_arn")],
        required_one_of=[("function_name", "table_name", "stream_arn")],
    )
    errors = validate(module.params)
    if errors:
        module.fail_json(msg="; ".join(errors))
    client = module.client("lambda", retry_decorator=aws_retry())
    ddb = module.client("dynamodb", retry_decorator=aws_retry()) if module.params["table_name"] else None
    try:
        mappings = find(client, ddb, module.params)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="failed to list event source mappings")
    module.exit_json(changed=False, mappings=mappings)


if __name__ == "__main__":
    main()
