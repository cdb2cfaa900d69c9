"""The execution_role role through ansible-playbook against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pytest

PLAYBOOK = Path(__file__).parent / "playbooks" / "execution_role.yml"
STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/users_post/stream/2024-01-01T00:00:00.000"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:failed-batches"
LOGS = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn"
BASE = {"execution_role_name": "fn-role", "execution_role_stream_arn": STREAM, "execution_role_function_name": "fn"}


def play(run_playbook, extra_vars, *args):
    """Run the playbook with the json callback; return (stats for localhost, reported facts, failure messages)."""
    proc = run_playbook(PLAYBOOK, extra_vars, *args, env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    try:
        out = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON from ansible-playbook (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    facts, failures = None, []
    for p in out["plays"]:
        for task in p["tasks"]:
            result = task["hosts"].get("localhost", {})
            if result.get("failed"):
                failures.append(result.get("msg", ""))
            if task["task"]["name"] == "Report the published facts":
                facts = result.get("msg")
    return out["stats"].get("localhost", {}), facts, failures


def inline_policy(iam, role="fn-role", name="streamops-stream-function"):
    doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    return json.loads(unquote(doc)) if isinstance(doc, str) else doc


def statements(doc):
    return {s["Sid"]: s for s in doc["Statement"]}


def attached(iam, role="fn-role"):
    return sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"])


def test_least_privilege_role_idempotent_opt_in_and_absent(run_playbook, aws):
    iam = aws("iam")
    checked, facts, failures = play(run_playbook, BASE, "--check")
    assert checked["failures"] == 0 and checked["changed"] == 1, failures
    assert facts["execution_role_arn"] == "arn:aws:iam::123456789012:role/fn-role"
    assert iam.list_roles()["Roles"] == []

    first, facts, failures = play(run_playbook, {**BASE, "execution_role_on_failure_destination": QUEUE})
    # One task creates the role with its tags and puts the inline policy (both read back below).
    assert first["failures"] == 0 and first["changed"] == 1, failures
    role = iam.get_role(RoleName="fn-role")["Role"]
    assert facts["execution_role_arn"] == role["Arn"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(unquote(trust)) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert {t["Key"]: t["Value"] for t in role["Tags"]} == {"streamops:managed-by": "streamops.dynamodb_lambda"}
    assert attached(iam) == []
    sts = statements(inline_policy(iam))
    assert sts["ReadThisStream"]["Resource"] == STREAM
    assert sorted(sts["ReadThisStream"]["Action"]) == ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                                                       "dynamodb:GetShardIterator"]
    assert sts["WriteThisFunctionsLogs"]["Resource"] == LOGS + ":*"
    assert sts["CreateThisFunctionsLogGroup"]["Resource"] == [LOGS, LOGS + ":*"]
    assert sts["SendFailedBatchesToTheOnFailureDestination"] == {
        "Sid": "SendFailedBatchesToTheOnFailureDestination", "Effect": "Allow", "Action": ["sqs:SendMessage"],
        "Resource": QUEUE}
    # The only wildcard is the one action IAM cannot scope.
    wildcard = [s for s in sts.values() if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcard] == [["dynamodb:ListStreams"]]

    second, _facts, _failures = play(run_playbook, {**BASE, "execution_role_on_failure_destination": QUEUE})
    assert second["changed"] == 0 and second["failures"] == 0, second

    # A new stream (view type change) moves the policy with it; the destination statement goes when unset.
    new_stream = STREAM.replace("2024-01-01", "2024-02-02")
    moved, _facts, failures = play(run_playbook, {**BASE, "execution_role_stream_arn": new_stream})
    assert moved["failures"] == 0 and moved["changed"] == 1, failures
    assert statements(inline_policy(iam))["ReadThisStream"]["Resource"] == new_stream
    assert "SendFailedBatchesToTheOnFailureDestination" not in statements(inline_policy(iam))

    gone, facts, failures = play(run_playbook, {**BASE, "execution_role_state": "absent"})
    assert gone["failures"] == 0 and gone["changed"] == 1, failures
    assert iam.list_roles()["Roles"] == []
    assert facts["execution_role_arn"] is None


def test_absent_leaves_an_unmanaged_role_alone(run_playbook, aws):
    iam = aws("iam")
    iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    gone, _facts, failures = play(run_playbook, {"execution_role_name": "fn-role", "execution_role_state": "absent"})
    assert gone["failures"] == 0 and gone["changed"] == 0, failures
    assert iam.get_role(RoleName="fn-role")["Role"]["RoleName"] == "fn-role"


def test_bad_input_fails_before_any_change(run_playbook, aws, sandbox):
    sandbox.reset_stats()
    bad, _facts, failures = play(run_playbook, {**BASE, "execution_role_stream_arn": "arn:aws:dynamodb:us-east-1:1:table/x"})
    assert bad["failures"] == 1 and "execution_role_stream_arn" in failures[0], failures
    bad, _facts, failures = play(run_playbook, {**BASE, "execution_role_on_failure_destination": "arn:aws:s3:::bucket"})
    assert bad["failures"] == 1 and "execution_role_on_failure_destination" in failures[0], failures
    missing, _facts, failures = play(run_playbook, {"execution_role_name": "fn-role"})
    assert missing["failures"] == 1 and "execution_role_stream_arn" in failures[0], failures
    assert sandbox.stats()["writes"] == 0
    assert aws("iam").list_roles()["Roles"] == []


WALKTHROUGH = ["arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess",
               "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"]


def test_walkthrough_managed_policies_are_opt_in_and_opt_out(run_playbook, aws):
    iam = aws("iam")
    try:
        for arn in WALKTHROUGH:
            iam.get_policy(PolicyArn=arn)
    except iam.exceptions.NoSuchEntityException:
        pytest.skip("the sandbox does not load AWS managed policies (moto: MOTO_IAM_LOAD_MANAGED_POLICIES=true)")
    opt_in, _facts, failures = play(run_playbook, {**BASE, "execution_role_managed_policies": True})
    assert opt_in["failures"] == 0, failures
    assert attached(iam) == WALKTHROUGH
    opt_out, _facts, failures = play(run_playbook, BASE)
    assert opt_out["failures"] == 0 and opt_out["changed"] == 1, failures
    assert attached(iam) == []


def test_call_budget_one_module_call_per_state(run_playbook, sandbox):
    """Counted by the sandbox (never timed): cold setup <= 3 calls, re-run <= 3 reads and no write, teardown <= 4."""
    sandbox.reset_stats()
    checked, _facts, failures = play(run_playbook, BASE, "--check", "--diff")
    assert checked["failures"] == 0 and checked["changed"] == 1, failures
    assert sandbox.stats()["calls"] == {"iam:GetRole": 1}

    sandbox.reset_stats()
    cold, _facts, failures = play(run_playbook, BASE)
    assert cold["failures"] == 0 and cold["changed"] == 1, failures
    stats = sandbox.stats()
    assert stats["calls"] == {"iam:GetRole": 1, "iam:CreateRole": 1, "iam:PutRolePolicy": 1}, stats

    sandbox.reset_stats()
    rerun, _facts, failures = play(run_playbook, BASE)
    assert rerun["failures"] == 0 and rerun["changed"] == 0, failures
    stats = sandbox.stats()
    assert stats["writes"] == 0 and stats["total"] <= 3, stats

    sandbox.reset_stats()
    gone, _facts, failures = play(run_playbook, {**BASE, "execution_role_state": "absent"})
    assert gone["failures"] == 0 and gone["changed"] == 1, failures
    stats = sandbox.stats()
    assert stats["total"] <= 4 and stats["calls"].get("iam:DeleteRole") == 1, stats


def test_tracing_adds_the_xray_statement_and_removes_it(run_playbook, aws, sandbox):
    iam = aws("iam")
    first, _facts, failures = play(run_playbook, BASE)
    assert first["failures"] == 0, failures
    assert not any(a.startswith("xray:") for s in statements(inline_policy(iam)).values() for a in s["Action"])

    checked, _facts, failures = play(run_playbook, {**BASE, "execution_role_tracing": True}, "--check")
    assert checked["failures"] == 0 and checked["changed"] == 1, failures
    assert "WriteTracesXRayHasNoResourceLevelPermissions" not in statements(inline_policy(iam))

    traced, _facts, failures = play(run_playbook, {**BASE, "execution_role_tracing": True})
    assert traced["failures"] == 0 and traced["changed"] == 1, failures
    xray = statements(inline_policy(iam))["WriteTracesXRayHasNoResourceLevelPermissions"]
    assert sorted(xray["Action"]) == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    assert xray["Resource"] == "*"

    sandbox.reset_stats()
    again, _facts, failures = play(run_playbook, {**BASE, "execution_role_tracing": True})
    assert again["failures"] == 0 and again["changed"] == 0, failures
    assert sandbox.stats()["writes"] == 0

    untraced, _facts, failures = play(run_playbook, BASE)
    assert untraced["changed"] == 1, failures
    assert "WriteTracesXRayHasNoResourceLevelPermissions" not in statements(inline_policy(iam))


def test_a_vpc_adds_the_network_interface_statements_and_leaving_it_keeps_only_the_cleanup(run_playbook, aws,
                                                                                           sandbox):
    iam = aws("iam")
    subnets, group = ["subnet-0123456789abcdef0", "subnet-1a2b3c4d"], "sg-0fedcba9876543210"
    vpc = {"subnet_ids": subnets, "security_group_ids": [group]}
    first, _facts, failures = play(run_playbook, {**BASE, "execution_role_vpc": vpc})
    assert first["failures"] == 0, failures
    found = statements(inline_policy(iam))
    create = found["CreateNetworkInterfacesInTheseSubnetsWithTheseGroups"]
    prefix = "arn:aws:ec2:us-east-1:123456789012:"
    assert create["Resource"] == [prefix + "network-interface/*"] + [prefix + "subnet/" + s for s in subnets] + [
        prefix + "security-group/" + group]
    assert found["DescribeNetworkInterfacesHasNoResourceLevelPermissions"]["Resource"] == "*"

    sandbox.reset_stats()
    again, _facts, failures = play(run_playbook, {**BASE, "execution_role_vpc": vpc})
    assert again["failures"] == 0 and again["changed"] == 0, failures
    assert sandbox.stats()["writes"] == 0

    left, _facts, failures = play(run_playbook, {**BASE, "execution_role_vpc": {"subnet_ids": [],
                                                                                "security_group_ids": []}})
    assert left["changed"] == 1, failures
    found = statements(inline_policy(iam))
    assert "CreateNetworkInterfacesInTheseSubnetsWithTheseGroups" not in found
    cleanup = found["ManageLambdasNetworkInterfacesInThisRegion"]["Action"]
    assert cleanup == ["ec2:DeleteNetworkInterface", "ec2:UnassignPrivateIpAddresses"]

    none, _facts, failures = play(run_playbook, BASE)
    assert none["changed"] == 1, failures
    assert not any(a.startswith("ec2:") for s in statements(inline_policy(iam)).values() for a in s["Action"])
