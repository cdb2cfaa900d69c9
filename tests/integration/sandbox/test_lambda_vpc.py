"""The sandbox's Lambda network interfaces (sandbox/lambda_vpc.py), as AWS documents them
(https://docs.aws.amazon.com/lambda/latest/dg/foundation-networking.html#foundation-nw-eni): one per subnet and
security-group set, shared by the functions of the account with that combination, deleted with the execution
role's permissions once no function uses it, and left behind when the role can no longer delete it."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from botocore.exceptions import ClientError

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
ENI_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface"]}]}


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("h.py", "def handler(event, context):\n    return 1\n")
    return buf.getvalue()


@pytest.fixture
def net(aws):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="lv", Description="lv", VpcId=vpc)["GroupId"]
    other_vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    other_group = ec2.create_security_group(GroupName="lv2", Description="lv", VpcId=other_vpc)["GroupId"]
    return {"subnet": subnet, "group": group, "other_group": other_group}


def role(aws, name, policy=ENI_POLICY):
    iam = aws("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    if policy:
        iam.put_role_policy(RoleName=name, PolicyName="eni", PolicyDocument=json.dumps(policy))
    return arn


def create(aws, name, role_arn, net, **vpc):
    return aws("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Handler="h.handler", Role=role_arn, Code={"ZipFile": _zip()},
        VpcConfig=vpc or {"SubnetIds": [net["subnet"]], "SecurityGroupIds": [net["group"]]})


def interfaces(aws, prefix="AWS Lambda VPC ENI-"):
    return aws("ec2").describe_network_interfaces(
        Filters=[{"Name": "description", "Values": [prefix + "*"]}])["NetworkInterfaces"]


def test_one_interface_per_combination_shared_until_its_last_function_goes(aws, net):
    arn = role(aws, "lv-role")
    create(aws, "lv-a", arn, net)
    create(aws, "lv-b", arn, net)
    [eni] = interfaces(aws)
    assert eni["Description"].startswith("AWS Lambda VPC ENI-lv-a-") and eni["SubnetId"] == net["subnet"]
    assert [g["GroupId"] for g in eni["Groups"]] == [net["group"]]

    aws("lambda").delete_function(FunctionName="lv-a")
    assert [e["NetworkInterfaceId"] for e in interfaces(aws)] == [eni["NetworkInterfaceId"]]  # lv-b uses it
    aws("lambda").delete_function(FunctionName="lv-b")
    assert interfaces(aws) == []


def test_leaving_the_vpc_releases_the_interface(aws, net):
    create(aws, "lv-a", role(aws, "lv-role"), net)
    aws("lambda").update_function_configuration(FunctionName="lv-a", Timeout=5)
    assert len(interfaces(aws)) == 1  # an update without VpcConfig keeps the VPC
    aws("lambda").update_function_configuration(FunctionName="lv-a",
                                                VpcConfig={"SubnetIds": [], "SecurityGroupIds": []})
    assert interfaces(aws) == []


def test_interfaces_linger_for_the_release_delay(aws, sandbox, net):
    create(aws, "lv-a", role(aws, "lv-role"), net)
    sandbox.configure(eni_release_delay=600)
    try:
        aws("lambda").delete_function(FunctionName="lv-a")
        assert len(interfaces(aws, "AWS Lambda VPC ENI-lv-a")) == 1
    finally:
        sandbox.configure(eni_release_delay=0)


def test_a_role_that_can_no_longer_delete_leaves_the_interface_behind(aws, net):
    arn = role(aws, "lv-role")
    create(aws, "lv-a", arn, net)
    # The role loses its EC2 permissions before Lambda deletes the interface (the teardown order to avoid).
    aws("iam").delete_role_policy(RoleName="lv-role", PolicyName="eni")
    aws("lambda").delete_function(FunctionName="lv-a")
    assert len(interfaces(aws, "AWS Lambda VPC ENI-lv-a")) == 1


@pytest.mark.parametrize("vpc, message", [
    (lambda n: {"SubnetIds": ["subnet-0123456789abcdef0"], "SecurityGroupIds": [n["group"]]},
     "The subnet ID 'subnet-0123456789abcdef0' does not exist"),
    (lambda n: {"SubnetIds": [n["subnet"]], "SecurityGroupIds": ["sg-0123456789abcdef0"]},
     "The security group 'sg-0123456789abcdef0' does not exist"),
    (lambda n: {"SubnetIds": [n["subnet"]], "SecurityGroupIds": [n["other_group"]]}, "is in vpc-"),
    (lambda n: {"SubnetIds": [n["subnet"]], "SecurityGroupIds": []}, "must both be given"),
])
def test_unknown_or_mismatched_network_resources_are_refused(aws, net, vpc, message):
    with pytest.raises(ClientError) as failed:
        create(aws, "lv-a", role(aws, "lv-role"), net, **vpc(net))
    assert failed.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert message in failed.value.response["Error"]["Message"]
    assert interfaces(aws) == []


def test_a_role_without_create_permission_is_refused(aws, net):
    with pytest.raises(ClientError) as failed:
        create(aws, "lv-a", role(aws, "lv-bare", policy=None), net)
    assert "does not have permissions to call CreateNetworkInterface on EC2" in str(failed.value)
