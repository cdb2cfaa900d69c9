# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter vpc_access_statements: the execution role's policy statements for a VPC function, from
plugins/module_utils/iam.py (the one home of the rule), checked with plugins/module_utils/function_settings.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: vpc_access_statements
version_added: 0.1.0
short_description: Execution role policy statements that let Lambda manage a VPC function's network interfaces
description:
  - >-
    For a VPC configuration (C(subnet_ids), C(security_group_ids), C(ipv6_allowed_for_dual_stack)) returns the IAM
    statements the function's execution role needs: C(ec2:DescribeNetworkInterfaces) and C(ec2:DescribeSubnets) on
    C(*) (IAM accepts nothing narrower), C(ec2:CreateNetworkInterface) only in those subnets with those security
    groups, and deleting and (un)assigning addresses on the network interfaces of the account and region.
  - With empty lists (the function leaves its VPC) only what Lambda needs to delete the interfaces it made; null
    returns no statement.
  - A bad configuration fails, naming O(name).
options:
  _input:
    description: The VPC configuration, or null.
    type: dict
    required: true
  partition:
    description: Partition of the function, for example C(aws).
    type: str
    required: true
  region:
    description: Region of the function.
    type: str
    required: true
  account:
    description: Account ID of the function.
    type: str
    required: true
  name:
    description: The word for the configuration in a failure message (a role variable or a pipeline field).
    type: str
    default: vpc
author:
  - streamops maintainers (@streamops)
"""

EXAMPLES = r"""
- name: The statements for a function in two subnets
  ansible.builtin.debug:
    msg: "{{ {'subnet_ids': ['subnet-0123456789abcdef0'], 'security_group_ids': ['sg-0123456789abcdef0']}
             | streamops.dynamodb_lambda.vpc_access_statements('aws', 'us-east-1', '123456789012') }}"
"""

RETURN = r"""
_value:
  description: IAM policy statements (each with C(Sid), C(Effect), C(Action), C(Resource)); empty for null.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import function_settings
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import iam


def vpc_access_statements(vpc, partition, region, account, name="vpc"):
    if vpc == "":
        vpc = None  # ansible-core before 2.19 renders a null variable as ''
    problems = function_settings.vpc_problems(name, vpc)
    if problems:
        raise AnsibleFilterError("; ".join(problems))
    return iam.vpc_access_statements(vpc, partition, region, account)


class FilterModule:
    def filters(self):
        return {"vpc_access_statements": vpc_access_statements}
