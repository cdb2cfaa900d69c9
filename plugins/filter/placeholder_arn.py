# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter placeholder_arn: the stand-in ARN of a resource that check mode did not create, marked as one (region
check-mode, account 000000000000 when unknown, stream label check-mode-placeholder); the one home of the marker is
plugins/module_utils/arns.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: placeholder_arn
version_added: 0.1.0
short_description: A marked stand-in ARN for a resource check mode would create
description:
  - In check mode a table, stream or function that does not exist yet has no ARN, and the next roles need one to
    plan with. This returns one that is marked so it is never taken for a real one (region C(check-mode), no
    account C(000000000000) where the account is unknown, stream label C(check-mode-placeholder)).
options:
  _input:
    description: >-
      The table name (kind C(table)), the table's ARN (kind C(stream)) or the function name (kind C(function)).
    type: str
    required: true
  kind:
    description: What the ARN names.
    type: str
    required: true
    choices: [table, stream, function]
  beside:
    description: For C(function), the ARN whose partition and account to use (the function's role).
    type: str
author:
  - streamops maintainers (@streamops)
"""

EXAMPLES = r"""
- name: A stand-in for a table check mode would create
  ansible.builtin.debug:
    msg: "{{ 'users_post' | streamops.dynamodb_lambda.placeholder_arn('table') }}"
"""

RETURN = r"""
_value:
  description: The placeholder ARN.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import arns


def placeholder_arn(value, kind, beside=None):
    try:
        if kind == "table":
            return arns.placeholder_table_arn(value)
        if kind == "stream":
            return arns.placeholder_stream_arn(value)
        if kind == "function":
            return arns.placeholder_function_arn(value, beside)
    except ValueError as exc:
        raise AnsibleFilterError("placeholder_arn: %s" % exc) from None
    raise AnsibleFilterError("placeholder_arn: kind must be table, stream or function, got %r" % (kind,))


class FilterModule:
    def filters(self):
        return {"placeholder_arn": placeholder_arn}
