"""End to end through ansible-playbook: a pipeline whose function is in a VPC (function_vpc). Setup gives the
execution role what Lambda needs for the function's network interfaces and puts the function in the subnets; a
second setup changes nothing; a bad function_vpc fails before anything is created, naming the field; teardown
waits for the interfaces Lambda deletes some time after the function (the sandbox's eni_release_delay) before the
role goes, so none is left behind."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

from ansible_collections.streamops.dynamodb_lambda.tests.integration.playbooks.checks import ok, recap

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "playbooks" / "setup.yml"
TEARDOWN = ROOT / "playbooks" / "teardown.yml"


def network(aws):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    group = ec2.create_security_group(GroupName="pv", Description="pv", VpcId=vpc)["GroupId"]
    return vpc, subnets, group


def interfaces(aws, name):
    return aws("ec2").describe_network_interfaces(
        Filters=[{"Name": "description", "Values": [f"AWS Lambda VPC ENI-{name}*"]}])["NetworkInterfaces"]


def test_pipeline_in_a_vpc_sets_up_verifies_and_tears_down_without_leaving_interfaces(run_playbook, aws, sandbox,
                                                                                      tmp_path):
    vpc, subnets, group = network(aws)
    pipeline = {"name": "pv", "table_name": "pv-table", "function_name": "pv-fn",
                "function_vpc": {"subnet_ids": subnets, "security_group_ids": [group]}, "verify": True}
    extra = {"streamops_pipelines": [pipeline], "streamops_verify_report_dir": str(tmp_path)}

    ok(run_playbook(SETUP, extra))
    assert json.loads((tmp_path / "pv.json").read_text())["passed"] is True

    conf = aws("lambda").get_function(FunctionName="pv-fn")["Configuration"]
    assert sorted(conf["VpcConfig"]["SubnetIds"]) == sorted(subnets) and conf["VpcConfig"]["VpcId"] == vpc
    assert len(interfaces(aws, "pv-fn")) == 2
    doc = aws("iam").get_role_policy(RoleName="pv-fn-role", PolicyName="streamops-stream-function")["PolicyDocument"]
    doc = json.loads(unquote(doc)) if isinstance(doc, str) else doc
    create = [s for s in doc["Statement"] if "ec2:CreateNetworkInterface" in s["Action"]]
    assert create and f"arn:aws:ec2:us-east-1:123456789012:subnet/{subnets[0]}" in create[0]["Resource"], doc

    sandbox.reset_stats()
    again = run_playbook(SETUP, {**extra, "streamops_pipelines": [dict(pipeline, verify=False)]})
    ok(again)
    assert recap(again)["pv"]["changed"] == 0, again.stdout[-4000:]
    assert sandbox.stats()["writes"] == 0, sandbox.stats()["write_calls"]

    # Lambda deletes the interfaces a while after the function, with the role: the role must outlive them.
    sandbox.configure(eni_release_delay=3)
    try:
        down = run_playbook(TEARDOWN, {"streamops_pipelines": [pipeline]})
    finally:
        sandbox.configure(eni_release_delay=0)
    ok(down)
    assert interfaces(aws, "pv-fn") == []
    assert aws("lambda").list_functions()["Functions"] == []
    assert aws("iam").list_roles()["Roles"] == []


def test_a_bad_function_vpc_fails_before_anything_is_created(run_playbook, aws, sandbox):
    _vpc, subnets, _group = network(aws)
    pipeline = {"name": "pvb", "table_name": "pvb-table", "function_name": "pvb-fn",
                "function_vpc": {"subnet_ids": subnets + ["subnet-bad"], "security_group_ids": []}}
    sandbox.reset_stats()

    proc = run_playbook(SETUP, {"streamops_pipelines": [pipeline]})

    assert proc.returncode != 0
    assert "streamops_pipelines[0] (pvb): function_vpc.subnet_ids[2]: must be a subnet ID" in proc.stdout
    assert "function_vpc.security_group_ids: at least one security group is needed with subnets" in proc.stdout
    assert sandbox.stats()["writes"] == 0
