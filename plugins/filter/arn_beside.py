# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter arn_beside: the ARN of another resource in the partition, account and region of a given ARN, so the
roles build ARNs with the collection's ARN code (plugins/module_utils/arns.py) instead of splitting them in Jinja."""

from __future__ import annotations

DOCUMENTATION = r"""
name: arn_beside
version_added: 0.1.0
short_description: The ARN of a resource in the partition, account and region of another ARN
description:
  - Takes an ARN and returns C(arn:<its partition>:<service>:<its region>:<its account>:<resource>); the region is
    empty for IAM. Fails on a value that is not an ARN.
  - For example the log group of a function from the stream it reads, or the role of that account, without an
    STS call.
options:
  _input:
    description: The ARN whose partition, account and region are used.
    type: str
    required: true
  service:
    description: The service of the ARN to build (C(logs), C(iam), C(lambda), ...).
    type: str
    required: true
  resource:
    description: Its resource part (C(log-group:/aws/lambda/fn), C(role/name), ...).
    type: str
    required: true
  region:
    description: Another region than the input's.
    type: str
author:
  - streamops maintainers (@streamops)
"""

EXAMPLES = r"""
- name: The role of the stream's account
  ansible.builtin.debug:
    msg: "{{ stream_arn | streamops.dynamodb_lambda.arn_beside('iam', 'role/my-role') }}"
"""

RETURN = r"""
_value:
  description: The ARN.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import arns


def arn_beside(arn, service, resource, region=None):
    try:
        return arns.arn_beside(arn, service, resource, region)
    except ValueError as exc:
        raise AnsibleFilterError("arn_beside: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {"arn_beside": arn_beside}
