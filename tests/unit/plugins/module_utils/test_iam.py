"""iam.vpc_access_statements: what a VPC function's execution role is allowed, scoped as far as IAM accepts, and
the filter that puts it into the execution_role role's policy."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.streamops.dynamodb_lambda.plugins.filter.vpc_access_statements import vpc_access_statements
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import iam

SUBNETS = ["subnet-0123456789abcdef0", "subnet-1a2b3c4d"]
GROUPS = ["sg-0fedcba9876543210"]
PREFIX = "arn:aws:ec2:us-east-1:123456789012:"


def by_sid(statements):
    return {s["Sid"]: s for s in statements}


def test_no_vpc_grants_nothing():
    assert iam.vpc_access_statements(None, "aws", "us-east-1", "123456789012") == []
    assert vpc_access_statements("", "aws", "us-east-1", "123456789012") == []


def test_a_vpc_function_may_create_only_in_its_subnets_with_its_groups():
    statements = by_sid(iam.vpc_access_statements({"subnet_ids": SUBNETS, "security_group_ids": GROUPS}, "aws",
                                                  "us-east-1", "123456789012"))
    create = statements["CreateNetworkInterfacesInTheseSubnetsWithTheseGroups"]
    assert create["Action"] == ["ec2:CreateNetworkInterface"]
    assert create["Resource"] == [PREFIX + "network-interface/*", PREFIX + "subnet/" + SUBNETS[0],
                                  PREFIX + "subnet/" + SUBNETS[1], PREFIX + "security-group/" + GROUPS[0]]
    manage = statements["ManageLambdasNetworkInterfacesInThisRegion"]
    assert manage["Resource"] == PREFIX + "network-interface/*"
    assert sorted(manage["Action"]) == ["ec2:AssignPrivateIpAddresses", "ec2:DeleteNetworkInterface",
                                        "ec2:UnassignPrivateIpAddresses"]
    # Only the two actions IAM accepts on nothing narrower are on "*".
    stars = [s for s in statements.values() if s["Resource"] == "*"]
    assert [sorted(s["Action"]) for s in stars] == [["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]]


def test_every_action_of_the_managed_policy_is_granted_somewhere():
    # AWSLambdaVPCAccessExecutionRole's EC2 actions (the logs ones are the role's own statements).
    managed = {"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
               "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"}
    statements = iam.vpc_access_statements({"subnet_ids": SUBNETS, "security_group_ids": GROUPS}, "aws",
                                           "us-east-1", "123456789012")
    assert {a for s in statements for a in s["Action"]} == managed


def test_leaving_the_vpc_keeps_only_what_lambda_deletes_the_interfaces_with():
    statements = by_sid(iam.vpc_access_statements({"subnet_ids": [], "security_group_ids": []}, "aws-cn",
                                                  "cn-north-1", "123456789012"))
    assert "CreateNetworkInterfacesInTheseSubnetsWithTheseGroups" not in statements
    manage = statements["ManageLambdasNetworkInterfacesInThisRegion"]
    assert manage["Action"] == ["ec2:DeleteNetworkInterface", "ec2:UnassignPrivateIpAddresses"]
    assert manage["Resource"] == "arn:aws-cn:ec2:cn-north-1:123456789012:network-interface/*"


def test_the_filter_refuses_a_bad_vpc_naming_the_callers_word():
    with pytest.raises(AnsibleFilterError, match=r"^function_vpc\.security_group_ids: at least one"):
        vpc_access_statements({"subnet_ids": SUBNETS, "security_group_ids": []}, "aws", "us-east-1",
                              "123456789012", "function_vpc")
