"""stream_function's vpc_config against the sandbox (which serves EC2 and keeps Lambda's network interfaces):
create in a VPC, a second run that writes nothing, a subnet change in check mode with its diff and then applied,
leaving the VPC, bad input refused before any write, and a teardown that waits for the interfaces Lambda
deletes some time after the function."""

from __future__ import annotations

import json

import pytest

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import iam

NAME = "sfv-fn"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
HANDLER = "def lambda_handler(event, context):\n    return {}\n"
ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def net(aws, sandbox):
    """A VPC with two subnets and two security groups, and a subnet of another VPC."""
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    groups = [ec2.create_security_group(GroupName=f"sfv-{i}", Description="sfv", VpcId=vpc)["GroupId"]
              for i in (1, 2)]
    other = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    foreign = ec2.create_subnet(VpcId=other, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]
    yield {"vpc": vpc, "subnets": subnets, "groups": groups, "foreign_subnet": foreign}
    sandbox.configure(eni_release_delay=0)


@pytest.fixture
def role_arn(aws, net):
    """An execution role with what the execution_role role grants a function in these subnets and groups."""
    iam_client = aws("iam")
    arn = iam_client.create_role(RoleName="sfv-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    policy = {"Version": "2012-10-17", "Statement": iam.vpc_access_statements(
        {"subnet_ids": net["subnets"], "security_group_ids": net["groups"]}, "aws", REGION, ACCOUNT)}
    iam_client.put_role_policy(RoleName="sfv-role", PolicyName="vpc", PolicyDocument=json.dumps(policy))
    return arn


@pytest.fixture
def src(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (root / "handler.py").write_text(HANDLER)
    return root


def deploy(run_module, src, role_arn, **args):
    params = {"function_name": NAME, "src": str(src), "handler": "handler.lambda_handler", "runtime": "python3.12",
              "role": role_arn, "requirements_cache_dir": str(src.parent / "deps"), "role_wait_timeout": 1, **args}
    return run_module("stream_function", **params)


def vpc(subnets, groups, **more):
    return {"subnet_ids": list(subnets), "security_group_ids": list(groups), **more}


def enis(aws, name=NAME):
    found = aws("ec2").describe_network_interfaces(
        Filters=[{"Name": "description", "Values": [f"AWS Lambda VPC ENI-{name}*"]}])["NetworkInterfaces"]
    return sorted((eni["SubnetId"], tuple(sorted(g["GroupId"] for g in eni["Groups"]))) for eni in found)


def writes(sandbox):
    return {k: v for k, v in sandbox.stats()["write_calls"].items() if not k.startswith(("iam:", "ec2:"))}


def test_create_in_a_vpc_then_a_second_run_writes_nothing(run_module, aws, sandbox, net, role_arn, src):
    wanted = vpc(net["subnets"][:1], net["groups"][:1])

    created = deploy(run_module, src, role_arn, vpc_config=wanted)

    assert created.get("failed") is not True, created.get("msg")
    assert created["changed"] is True and created["vpc_id"] == net["vpc"]
    assert created["vpc"] == dict(wanted, ipv6_allowed_for_dual_stack=False)
    conf = aws("lambda").get_function(FunctionName=NAME)["Configuration"]
    assert conf["VpcConfig"]["SubnetIds"] == wanted["subnet_ids"]
    assert conf["VpcConfig"]["SecurityGroupIds"] == wanted["security_group_ids"]
    assert conf["VpcConfig"]["VpcId"] == net["vpc"]
    # Lambda made one interface for the subnet and group, named after the function.
    assert enis(aws) == [(net["subnets"][0], (net["groups"][0],))]

    sandbox.reset_stats()
    again = deploy(run_module, src, role_arn, vpc_config=wanted)
    assert again["changed"] is False and again["operations"] == []
    assert writes(sandbox) == {}


def test_a_subnet_change_in_check_mode_shows_the_lists_then_applies(run_module, aws, sandbox, net, role_arn, src):
    deploy(run_module, src, role_arn, vpc_config=vpc(net["subnets"][:1], net["groups"][:1]))
    both = vpc(net["subnets"], net["groups"][:1])

    sandbox.reset_stats()
    planned = deploy(run_module, src, role_arn, vpc_config=both, check=True, diff=True)

    assert planned["changed"] is True and planned["operations"] == ["lambda:UpdateFunctionConfiguration"]
    assert writes(sandbox) == {}
    before, after = planned["diff"]["before"]["function"], planned["diff"]["after"]["function"]
    assert before["vpc"]["subnet_ids"] == net["subnets"][:1]
    assert after["vpc"]["subnet_ids"] == sorted(net["subnets"])
    # Only the VPC differs between the two views of the function.
    assert [key for key in after if before.get(key) != after[key]] == ["vpc"]

    applied = deploy(run_module, src, role_arn, vpc_config=both)
    assert applied["changed"] is True
    conf = aws("lambda").get_function(FunctionName=NAME)["Configuration"]
    assert sorted(conf["VpcConfig"]["SubnetIds"]) == sorted(net["subnets"])
    assert enis(aws) == sorted((s, (net["groups"][0],)) for s in net["subnets"])
    assert deploy(run_module, src, role_arn, vpc_config=vpc(reversed(net["subnets"]), net["groups"][:1]))[
        "changed"] is False


def test_empty_lists_leave_the_vpc_and_lambda_deletes_the_interfaces(run_module, aws, sandbox, net, role_arn, src):
    deploy(run_module, src, role_arn, vpc_config=vpc(net["subnets"][:1], net["groups"]))

    left = deploy(run_module, src, role_arn, vpc_config=vpc([], []), diff=True)

    assert left["changed"] is True and left["vpc_id"] is None
    assert left["diff"]["before"]["function"]["vpc"]["security_group_ids"] == sorted(net["groups"])
    assert left["diff"]["after"]["function"]["vpc"] == {"subnet_ids": [], "security_group_ids": [],
                                                        "ipv6_allowed_for_dual_stack": False}
    conf = aws("lambda").get_function(FunctionName=NAME)["Configuration"]
    assert conf["VpcConfig"]["SubnetIds"] == [] and conf["VpcConfig"]["VpcId"] == ""
    assert enis(aws) == []
    # Omitting vpc_config is the same as no VPC: nothing to change.
    assert deploy(run_module, src, role_arn)["changed"] is False


def test_check_mode_plans_a_vpc_function_without_writing(run_module, aws, sandbox, net, role_arn, src):
    planned = deploy(run_module, src, role_arn, vpc_config=vpc(net["subnets"], net["groups"][:1]), check=True)

    assert planned["changed"] is True and planned["operations"][-1] == "lambda:CreateFunction"
    assert planned["vpc"]["subnet_ids"] == sorted(net["subnets"]) and planned["vpc_id"] is None
    assert writes(sandbox) == {} and enis(aws) == []


@pytest.mark.parametrize("bad, message", [
    (lambda n: vpc(["subnet-nothex!"], n["groups"][:1]), "vpc_config.subnet_ids[0]: must be a subnet ID"),
    (lambda n: vpc(n["subnets"], []), "vpc_config.security_group_ids: at least one security group is needed"),
    (lambda n: vpc([], n["groups"][:1]), "vpc_config.subnet_ids: at least one subnet is needed"),
    (lambda n: vpc(["subnet-%08x" % i for i in range(17)], n["groups"][:1]), "vpc_config.subnet_ids: at most 16"),
    (lambda n: vpc(n["subnets"], ["sg-%08x" % i for i in range(6)]), "vpc_config.security_group_ids: at most 5"),
])
def test_bad_vpc_input_fails_before_any_write(run_module, aws, sandbox, net, role_arn, src, bad, message):
    sandbox.reset_stats()

    failed = deploy(run_module, src, role_arn, vpc_config=bad(net))

    assert failed["failed"] is True and message in failed["msg"], failed["msg"]
    assert sandbox.stats()["write_calls"] == {}


def test_subnets_groups_and_role_are_checked_by_lambda(run_module, aws, sandbox, net, role_arn, src):
    missing = deploy(run_module, src, role_arn, vpc_config=vpc(["subnet-0123456789abcdef0"], net["groups"][:1]))
    assert missing["failed"] is True and "subnet-0123456789abcdef0' does not exist" in missing["msg"]
    mixed = deploy(run_module, src, role_arn, vpc_config=vpc([net["subnets"][0], net["foreign_subnet"]],
                                                             net["groups"][:1]))
    assert mixed["failed"] is True and "different VPCs" in mixed["msg"]
    bare = aws("iam").create_role(RoleName="sfv-bare", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    refused = deploy(run_module, src, bare, vpc_config=vpc(net["subnets"][:1], net["groups"][:1]))
    assert refused["failed"] is True and "permissions to call CreateNetworkInterface" in refused["msg"]
    with pytest.raises(Exception):
        aws("lambda").get_function(FunctionName=NAME)


def test_teardown_waits_until_lambda_has_deleted_the_interfaces(run_module, aws, sandbox, net, role_arn, src):
    deploy(run_module, src, role_arn, vpc_config=vpc(net["subnets"], net["groups"][:1]))
    sandbox.configure(eni_release_delay=2)

    gone = run_module("stream_function", function_name=NAME, state="absent")

    assert gone.get("failed") is not True, gone.get("msg")
    assert gone["deleted"][0] == "function " + NAME and gone["waited_for_enis"] is True
    # Returned only once Lambda had deleted them, while the role could still do so.
    assert enis(aws) == []


def test_a_teardown_wait_that_runs_out_fails_and_a_rerun_waits_again(run_module, aws, sandbox, net, role_arn, src):
    deploy(run_module, src, role_arn, vpc_config=vpc(net["subnets"][:1], net["groups"][:1]))
    sandbox.configure(eni_release_delay=3)

    timed_out = run_module("stream_function", function_name=NAME, state="absent", eni_wait_timeout=1)

    assert timed_out["failed"] is True
    assert timed_out["msg"].startswith("timed out after 1s waiting for Lambda to delete the network interfaces of "
                                       "function %s in %s" % (NAME, net["subnets"][0])), timed_out["msg"]
    assert "eni-" in timed_out["msg"]
    # The function is gone; given its VPC, a second teardown still waits for the interfaces.
    again = run_module("stream_function", function_name=NAME, state="absent", eni_wait_timeout=60,
                       vpc_config=vpc(net["subnets"][:1], net["groups"][:1]))
    assert again.get("failed") is not True, again.get("msg")
    assert enis(aws) == []
