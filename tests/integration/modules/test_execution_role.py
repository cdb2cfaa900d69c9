"""execution_role against the sandbox: every option, check mode read back, diff, idempotence with zero writes,
ownership on delete, and the call budgets of the role's two states (counted by the sandbox, never timed)."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest

ROLE = "fn-role"
POLICY_NAME = "streamops-stream-function"
MANAGED = {"streamops:managed-by": "streamops.dynamodb_lambda"}
STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/users_post/stream/2024-01-01T00:00:00.000"
POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "ReadThisStream", "Effect": "Allow",
     "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"], "Resource": STREAM},
    {"Sid": "ListStreams", "Effect": "Allow", "Action": ["dynamodb:ListStreams"], "Resource": "*"}]}
LAMBDA_TRUST = {"Service": "lambda.amazonaws.com"}


def doc(value):
    return json.loads(unquote(value)) if isinstance(value, str) else value


def role(run_module, check=False, diff=False, **args):
    return run_module("execution_role", check=check, diff=diff,
                      **{"role_name": ROLE, "policy_name": POLICY_NAME, "policy_document": POLICY, **args})


def read_role(aws):
    iam = aws("iam")
    found = iam.get_role(RoleName=ROLE)["Role"]
    return {
        "trust": doc(found["AssumeRolePolicyDocument"]),
        "description": found.get("Description"),
        "boundary": (found.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        "tags": {t["Key"]: t["Value"] for t in found.get("Tags") or []},
        "inline": {p: doc(iam.get_role_policy(RoleName=ROLE, PolicyName=p)["PolicyDocument"])
                   for p in iam.list_role_policies(RoleName=ROLE)["PolicyNames"]},
        "attached": sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]),
    }


def local_policy(aws, name):
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
    return aws("iam").create_policy(PolicyName=name, PolicyDocument=json.dumps(document))["Policy"]["Arn"]


def calls(sandbox):
    stats = sandbox.stats()
    return stats["calls"], stats["writes"]


def test_role_budget_cold_rerun_teardown(run_module, sandbox, aws):
    """What the execution_role role asks for: cold setup <= 3 calls, re-run <= 3 reads, teardown <= 4 calls."""
    role_args = {"description": "Execution role of Lambda function fn", "tags": MANAGED, "managed_policy_arns": []}
    sandbox.reset_stats()
    created = role(run_module, **role_args)
    assert created.get("failed") is not True, created
    assert created["changed"] is True and created["created"] is True
    assert calls(sandbox) == ({"iam:GetRole": 1, "iam:CreateRole": 1, "iam:PutRolePolicy": 1}, 2)

    sandbox.reset_stats()
    again = role(run_module, **role_args)
    assert again["changed"] is False, again
    assert calls(sandbox) == ({"iam:GetRole": 1, "iam:GetRolePolicy": 1, "iam:ListAttachedRolePolicies": 1}, 0)

    sandbox.reset_stats()
    gone = run_module("execution_role", role_name=ROLE, state="absent", policy_name=POLICY_NAME, managed_policy_arns=[])
    assert gone["changed"] is True and gone["deleted"] is True, gone
    assert calls(sandbox) == ({"iam:GetRole": 1, "iam:DeleteRolePolicy": 1, "iam:DeleteRole": 1}, 2)
    assert aws("iam").list_roles()["Roles"] == []


def test_create_defaults_check_mode_diff_and_result(run_module, sandbox, aws):
    sandbox.reset_stats()
    planned = role(run_module, check=True, diff=True)
    assert planned.get("failed") is not True, planned
    assert planned["changed"] is True and planned["created"] is True and planned["arn"] is None
    assert planned["diff"]["before"] == {}
    after = planned["diff"]["after"]
    assert after["inline_policies"] == {POLICY_NAME: POLICY}
    assert after["assume_role_policy_document"]["Statement"][0]["Principal"] == LAMBDA_TRUST
    assert after["tags"] == MANAGED  # the owner tag goes on every role the module creates
    assert sandbox.stats()["writes"] == 0 and aws("iam").list_roles()["Roles"] == []

    created = role(run_module, diff=True)
    assert created["changed"] is True and created["diff"]["after"] == after
    found = aws("iam").get_role(RoleName=ROLE)["Role"]
    assert (created["arn"], created["role_id"], created["role_name"]) == (found["Arn"], found["RoleId"], ROLE)
    assert created["tags"] == MANAGED and created["policy_name"] == POLICY_NAME
    assert created["policy_document"] == POLICY and created["managed_policy_arns"] is None
    state = read_role(aws)
    statement = state["trust"]["Statement"][0]
    assert statement["Principal"] == LAMBDA_TRUST and statement["Action"] == "sts:AssumeRole"
    assert state["inline"] == {POLICY_NAME: POLICY} and state["attached"] == [] and state["tags"] == MANAGED

    # Without managed_policy_arns the attachments are neither read nor touched.
    sandbox.reset_stats()
    again = role(run_module, check=True, diff=True)
    assert again["changed"] is False and again["diff"]["before"] == again["diff"]["after"]
    assert calls(sandbox) == ({"iam:GetRole": 1, "iam:GetRolePolicy": 1}, 0)


def test_every_option_updates_in_place_and_is_idempotent(run_module, sandbox, aws):
    boundary, other_boundary = local_policy(aws, "boundary-a"), local_policy(aws, "boundary-b")
    extra_a, extra_b = local_policy(aws, "extra-a"), local_policy(aws, "extra-b")
    services = ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]
    trust = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": services}}]}
    first = role(run_module, description="one", assume_role_policy_document=json.dumps(trust),
                 permissions_boundary=boundary, tags={"team": "data", "env": "dev"},
                 managed_policy_arns=[extra_a])
    assert first.get("failed") is not True, first
    state = read_role(aws)
    assert state["description"] == "one" and state["boundary"] == boundary
    assert state["tags"] == {"team": "data", "env": "dev", **MANAGED}
    assert state["trust"] == trust and state["attached"] == [extra_a]

    wanted = dict(description="two", permissions_boundary=other_boundary, tags={"team": "streams"},
                  managed_policy_arns=[extra_b])
    sandbox.reset_stats()
    planned = role(run_module, check=True, diff=True, **wanted)
    assert planned["changed"] is True and sandbox.stats()["writes"] == 0
    before, after = planned["diff"]["before"], planned["diff"]["after"]
    assert (before["description"], after["description"]) == ("one", "two")
    assert (before["permissions_boundary"], after["permissions_boundary"]) == (boundary, other_boundary)
    assert before["assume_role_policy_document"] == trust
    assert after["assume_role_policy_document"]["Statement"][0]["Principal"] == LAMBDA_TRUST
    # purge_tags drops team/env but never the owner tag the role carries
    assert after["tags"] == {"team": "streams", **MANAGED}
    assert (before["managed_policy_arns"], after["managed_policy_arns"]) == ([extra_a], [extra_b])
    assert read_role(aws) == state  # check mode wrote nothing

    updated = role(run_module, **wanted)
    assert updated["changed"] is True and updated["created"] is False
    state = read_role(aws)
    assert state["description"] == "two" and state["boundary"] == other_boundary
    assert state["trust"]["Statement"][0]["Principal"] == LAMBDA_TRUST
    assert state["tags"] == {"team": "streams", **MANAGED} and state["attached"] == [extra_b]
    assert updated["tags"] == state["tags"] and updated["managed_policy_arns"] == [extra_b]

    sandbox.reset_stats()
    assert role(run_module, **wanted)["changed"] is False
    assert sandbox.stats()["writes"] == 0

    # purge_tags=false adds without removing; "" removes the boundary; omitted boundary/description stay as they are
    kept = role(run_module, tags={"extra": "1"}, purge_tags=False, permissions_boundary="", managed_policy_arns=[])
    assert kept["changed"] is True
    state = read_role(aws)
    assert state["tags"] == {"team": "streams", "extra": "1", **MANAGED}
    assert state["boundary"] is None and state["description"] == "two" and state["attached"] == []
    sandbox.reset_stats()
    assert role(run_module, tags={"extra": "1"}, purge_tags=False, managed_policy_arns=[])["changed"] is False
    assert sandbox.stats()["writes"] == 0


def test_inline_policy_is_compared_by_meaning(run_module, sandbox, aws):
    role(run_module)
    reordered = {"Statement": [dict(reversed(list(s.items()))) for s in reversed(POLICY["Statement"])],
                 "Version": "2012-10-17"}
    reordered["Statement"][0]["Action"] = "dynamodb:ListStreams"  # a single value equals a one-element list
    sandbox.reset_stats()
    assert role(run_module, policy_document=json.dumps(reordered, indent=4))["changed"] is False
    assert sandbox.stats()["writes"] == 0

    # Drift (widened by hand) and a deleted policy are both put back.
    iam = aws("iam")
    wide = {"Version": "2012-10-17", "Statement": [dict(s, Resource="*") for s in POLICY["Statement"]]}
    iam.put_role_policy(RoleName=ROLE, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(wide))
    fixed = role(run_module, diff=True)
    assert fixed["changed"] is True
    assert fixed["diff"]["before"]["inline_policies"] == {POLICY_NAME: wide}
    assert read_role(aws)["inline"] == {POLICY_NAME: POLICY}
    iam.delete_role_policy(RoleName=ROLE, PolicyName=POLICY_NAME)
    planned = role(run_module, check=True, diff=True)
    assert planned["changed"] is True and planned["diff"]["before"]["inline_policies"] == {POLICY_NAME: None}
    assert read_role(aws)["inline"] == {}
    assert role(run_module)["changed"] is True and read_role(aws)["inline"] == {POLICY_NAME: POLICY}

    # Another inline policy on the role is left alone.
    iam.put_role_policy(RoleName=ROLE, PolicyName="someone-elses", PolicyDocument=json.dumps(wide))
    assert role(run_module)["changed"] is False
    assert set(read_role(aws)["inline"]) == {POLICY_NAME, "someone-elses"}


def test_walkthrough_managed_policies_attach_and_detach(run_module, aws):
    walkthrough = ["arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess",
                   "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"]
    try:
        for arn in walkthrough:
            aws("iam").get_policy(PolicyArn=arn)
    except aws("iam").exceptions.NoSuchEntityException:
        pytest.skip("the sandbox does not load AWS managed policies")
    created = role(run_module, managed_policy_arns=list(reversed(walkthrough)))
    assert created["changed"] is True and created["managed_policy_arns"] == walkthrough
    assert read_role(aws)["attached"] == walkthrough
    assert role(run_module, managed_policy_arns=walkthrough)["changed"] is False
    off = role(run_module, managed_policy_arns=[])
    assert off["changed"] is True and read_role(aws)["attached"] == []


def test_absent_only_with_the_owner_tag(run_module, sandbox, aws):
    iam = aws("iam")
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
                    Tags=[{"Key": "owner", "Value": "someone-else"}])
    sandbox.reset_stats()
    left = run_module("execution_role", role_name=ROLE, state="absent", policy_name=POLICY_NAME, diff=True)
    assert left.get("failed") is not True, left
    assert left["changed"] is False and left["deleted"] is False
    assert "streamops:managed-by=streamops.dynamodb_lambda" in left["skipped_reason"]
    assert left["diff"]["before"] == left["diff"]["after"]
    assert calls(sandbox) == ({"iam:GetRole": 1}, 0)
    assert iam.get_role(RoleName=ROLE)["Role"]["RoleName"] == ROLE

    # A different owner tag, or a wrong value, is not ownership either; an empty owner_tag is refused (there is no
    # switch that deletes what carries no ownership tag), the role's own tag as owner_tag deletes it.
    assert run_module("execution_role", role_name=ROLE, state="absent", owner_tag={"owner": "us"})["changed"] is False
    planned = run_module("execution_role", role_name=ROLE, state="absent", owner_tag={"owner": "someone-else"},
                         check=True, diff=True)
    assert planned["changed"] is True and planned["diff"]["after"] == {}
    assert planned["diff"]["before"]["tags"] == {"owner": "someone-else"}
    assert iam.get_role(RoleName=ROLE)["Role"]["RoleName"] == ROLE  # check mode deleted nothing
    refused = run_module("execution_role", role_name=ROLE, state="absent", owner_tag={})
    assert refused.get("failed") is True and refused["msg"].startswith("owner_tag:"), refused
    gone = run_module("execution_role", role_name=ROLE, state="absent", owner_tag={"owner": "someone-else"})
    assert gone["changed"] is True and iam.list_roles()["Roles"] == []

    # Nothing to delete: no change, one read.
    sandbox.reset_stats()
    missing = run_module("execution_role", role_name=ROLE, state="absent", policy_name=POLICY_NAME)
    assert missing["changed"] is False and missing["deleted"] is False and missing["arn"] is None
    assert calls(sandbox) == ({"iam:GetRole": 1}, 0)


def test_absent_removes_what_it_was_not_told_about_on_delete_conflict(run_module, sandbox, aws):
    iam = aws("iam")
    extra = local_policy(aws, "attached-by-hand")
    role(run_module, tags=MANAGED)
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=extra)
    iam.put_role_policy(RoleName=ROLE, PolicyName="added-by-hand", PolicyDocument=json.dumps(POLICY))
    iam.create_instance_profile(InstanceProfileName="profile-by-hand")
    iam.add_role_to_instance_profile(InstanceProfileName="profile-by-hand", RoleName=ROLE)
    sandbox.reset_stats()
    gone = run_module("execution_role", role_name=ROLE, state="absent", policy_name=POLICY_NAME)
    assert gone.get("failed") is not True, gone
    assert gone["changed"] is True and gone["deleted"] is True
    assert iam.list_roles()["Roles"] == []
    assert iam.get_policy(PolicyArn=extra)["Policy"]["AttachmentCount"] == 0  # detached, the policy itself kept
    assert iam.get_instance_profile(InstanceProfileName="profile-by-hand")["InstanceProfile"]["Roles"] == []
    used = sandbox.stats()["calls"]
    assert used.get("iam:DeleteRole") == 2  # refused (DeleteConflict), then done after emptying the role
    assert used.get("iam:ListRolePolicies") == 1 and used.get("iam:ListAttachedRolePolicies") == 1


def test_absent_detaches_the_named_managed_policies_without_listing(run_module, sandbox, aws):
    extra = local_policy(aws, "opt-in")
    role(run_module, managed_policy_arns=[extra])
    sandbox.reset_stats()
    gone = run_module("execution_role", role_name=ROLE, state="absent", policy_name=POLICY_NAME,
                      managed_policy_arns=[extra])
    assert calls(sandbox) == ({"iam:GetRole": 1, "iam:DeleteRolePolicy": 1, "iam:DetachRolePolicy": 1,
                               "iam:DeleteRole": 1}, 3)
    assert gone["changed"] is True and aws("iam").list_roles()["Roles"] == []


def test_throttled_calls_are_retried(run_module, sandbox, aws):
    sandbox.configure(throttle=0.3, seed=7)
    try:
        created = role(run_module, tags=MANAGED, managed_policy_arns=[])
        again = role(run_module, tags=MANAGED, managed_policy_arns=[])
        gone = run_module("execution_role", role_name=ROLE, state="absent", policy_name=POLICY_NAME)
    finally:
        sandbox.configure(throttle=0)
    assert created.get("failed") is not True and created["changed"] is True, created
    assert again.get("failed") is not True and again["changed"] is False, again
    assert gone.get("failed") is not True and gone["deleted"] is True, gone
    assert aws("iam").list_roles()["Roles"] == []


def test_bad_input_makes_no_call(run_module, sandbox):
    sandbox.reset_stats()
    bad = role(run_module, permissions_boundary="not-an-arn")
    assert bad["failed"] is True and "permissions_boundary" in bad["msg"]
    assert sandbox.stats()["total"] == 0
