# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter pipeline_name_error: what is wrong with one name or ARN of a pipeline description, in words with the
value quoted. The rules (patterns and their words) live in module_utils, where the modules use them too."""

from __future__ import annotations

DOCUMENTATION = r"""
name: pipeline_name_error
version_added: 0.1.0
short_description: The problem with one resource name or ARN, in words, or an empty string
description:
  - >-
    Checks a table, function or role name, or a permissions boundary, on-failure destination, KMS key or
    DynamoDB stream ARN, or a Python runtime or handler,
    against the rule AWS applies to it, without calling AWS. The message states the rule in words and quotes the
    value, for example "must be a Lambda function name (1-64 characters, letters, digits, '-' and '_'), got
    'Lambda demo' (11 characters)".
options:
  _input:
    description: The value.
    type: raw
    required: true
  kind:
    description: What the value names.
    type: str
    required: true
    choices: [table_name, function_name, role_name, permissions_boundary, on_failure_destination, kms_key_arn,
              stream_arn, function_runtime, function_handler]
author:
  - streamops maintainers (@streamops)
"""

EXAMPLES = r"""
- name: Check a function name
  ansible.builtin.assert:
    that: name | streamops.dynamodb_lambda.pipeline_name_error('function_name') == ''
"""

RETURN = r"""
_value:
  description: The problem, starting with C(must be); empty when the value is valid.
  type: str
"""

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import arns
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import iam
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import package


def _shown(value):
    if value is None:
        return "nothing"
    return "'%s'" % value if isinstance(value, str) else str(value)


# kind -> function returning a problem (words) or None; the rules live in module_utils beside their patterns.
_NAME_CHECKS = {
    "table_name": arns.table_name_problem,
    "function_name": arns.function_name_problem,
    "role_name": iam.role_name_problem,
}


def _parses(parse, value):
    try:
        parse(value)
    except ValueError:
        return False
    return True


def _arn_problem(services, what):
    def check(value):
        try:
            arns.require_service(value, services)
        except ValueError:
            return "must be %s, got %s" % (what, _shown(value))
        return None
    return check


_NAME_CHECKS.update({
    "permissions_boundary": iam.policy_arn_problem,
    "on_failure_destination": _arn_problem(("sqs", "sns"), "an SQS queue or SNS topic ARN"),
    "kms_key_arn": _arn_problem(("kms",), "a KMS key ARN"),
    "function_runtime": lambda value: None if isinstance(value, str) and package.PYTHON_RUNTIME.match(value) else (
        "must be %s, got %s" % (package.PYTHON_RUNTIME_RULE, _shown(value))),
    "function_handler": lambda value: None if isinstance(value, str) and package.HANDLER.match(value) else (
        "must be %s, got %s" % (package.HANDLER_RULE, _shown(value))),
    "stream_arn": lambda value: None if _parses(arns.parse_stream_arn, value) else (
        "must be a DynamoDB stream ARN (arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>), got %s"
        % _shown(value)),
})


def pipeline_name_error(value, kind):
    """The problem with one name or ARN of kind *kind* (table_name, function_name, role_name, permissions_boundary,
    on_failure_destination, kms_key_arn, stream_arn, function_runtime, function_handler), in words with the value quoted; an empty string when it is valid."""
    return _NAME_CHECKS[kind](value) or ""


class FilterModule:
    def filters(self):
        return {"pipeline_name_error": pipeline_name_error}
