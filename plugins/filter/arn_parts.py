# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter arn_parts: an ARN split by the collection's ARN parser (plugins/module_utils/arns.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: arn_parts
version_added: 0.1.0
short_description: The parts of an ARN, as a mapping
description:
  - Splits C(arn:<partition>:<service>:<region>:<account>:<resource>) and returns its parts; fails on a value that
    is not an ARN.
options:
  _input:
    description: The ARN.
    type: str
    required: true
author:
  - streamops maintainers (@streamops)
"""

EXAMPLES = r"""
- name: The service of an on-failure destination
  ansible.builtin.debug:
    msg: "{{ (destination | streamops.dynamodb_lambda.arn_parts).service }}"
"""

RETURN = r"""
_value:
  description: C(partition), C(service), C(region), C(account_id), C(resource).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import arns


def arn_parts(arn):
    try:
        return arns.parse_arn(arn)._asdict()
    except ValueError as exc:
        raise AnsibleFilterError("arn_parts: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {"arn_parts": arn_parts}
