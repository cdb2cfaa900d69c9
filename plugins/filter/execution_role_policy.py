# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter execution_role_policy: the execution role's inline policy, from plugins/module_utils/iam.py (the one home
of the rule), its VPC configuration checked with plugins/module_utils/function_settings.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: execution_role_policy
version_added: 0.1.0
short_description: The inline policy of a stream function's execution role, scoped to its stream and log group
description:
  - >-
    Returns the policy document the C(execution_role) role puts on the role: C(dynamodb:DescribeStream),
    C(dynamodb:GetRecords) and C(dynamodb:GetShardIterator) on the stream only; C(dynamodb:ListStreams) on C(*)
    (IAM accepts nothing narrower); C(logs:CreateLogGroup) on the function's log group and
    C(logs:CreateLogStream), C(logs:PutLogEvents) on its streams.
  - >-
    With O(on_failure_destination), C(sqs:SendMessage) or C(sns:Publish) on that queue or topic; with O(tracing),
    C(xray:PutTraceSegments) and C(xray:PutTelemetryRecords) on C(*); with O(vpc), the statements of the
    C(vpc_access_statements) filter.
  - The region, account and partition come from the stream ARN, so no STS call is needed.
  - A bad VPC configuration fails, naming O(vpc_name); a value that is not an ARN fails.
options:
  _input:
    description: The stream ARN the function reads.
    type: str
    required: true
  function_name:
    description: The function's name (its log group is C(/aws/lambda/<function_name>)).
    type: str
    required: true
  on_failure_destination:
    description: The ARN of the SQS queue or SNS topic failed batches go to, or null.
    type: str
  tracing:
    description: Whether the function writes X-Ray traces.
    type: bool
    default: false
  vpc:
    description: The function's VPC configuration (C(subnet_ids), C(security_group_ids)), or null.
    type: dict
  vpc_name:
    description: The word for O(vpc) in a failure message (a role variable or a pipeline field).
    type: str
    default: vpc
author:
  - streamops maintainers (@streamops)
"""

EXAMPLES = r"""
- name: The policy of a function that reads the stream of table orders
  ansible.builtin.debug:
    msg: >-
      {{ 'arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000'
         | streamops.dynamodb_lambda.execution_role_policy('orders-fn') }}
"""

RETURN = r"""
_value:
  description: The policy document (C(Version), C(Statement)), each statement with C(Sid), C(Effect), C(Action), C(Resource).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import function_settings
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import iam


def execution_role_policy(stream_arn, function_name, on_failure_destination=None, tracing=False, vpc=None,
                          vpc_name="vpc"):
    # ansible-core before 2.19 renders a null variable as ''.
    on_failure_destination = on_failure_destination or None
    vpc = vpc or None
    if vpc:
        problems = function_settings.vpc_problems(vpc_name, vpc)
        if problems:
            raise AnsibleFilterError("; ".join(problems))
    try:
        return iam.execution_policy(stream_arn, function_name, on_failure_destination, bool(tracing), vpc)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {"execution_role_policy": execution_role_policy}
