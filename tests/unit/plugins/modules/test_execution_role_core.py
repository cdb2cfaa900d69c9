"""execution_role's core (ensure_present -> create / update, ensure_absent) against an IAM fake: NoSuchEntity for a
role not visible yet, DeleteConflict while policies are still attached."""

from __future__ import annotations

import json

import pytest

from aws_fakes import FakeIAM
from aws_fakes import FakeModule
from aws_fakes import client_error
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import iam
from ansible_collections.streamops.dynamodb_lambda.plugins.modules import execution_role as er

OWNER = {"streamops:managed-by": "streamops.dynamodb_lambda"}
POLICY = {"Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Action": ["dynamodb:GetRecords"], "Resource": "*"}]}
LOGS = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def params(**overrides):
    values = {option: spec.get("default") for option, spec in er.ARGUMENT_SPEC.items()}
    values.update(name="fn-role", policy_name="stream", policy_document=POLICY)
    values.update(overrides)
    return values


def present(client, check_mode=False, **overrides):
    p = params(**overrides)
    problems, parsed = er.validate(p)
    assert problems == []
    return er.ensure_present(FakeModule(check_mode=check_mode), client, p, parsed)


def absent(client, check_mode=False, **overrides):
    return er.ensure_absent(FakeModule(check_mode=check_mode), client, params(state="absent", **overrides))


def test_create_puts_the_trust_policy_tags_inline_policy_and_attachments(clock):
    client = FakeIAM()
    # Right after CreateRole other IAM calls may not see the role yet.
    client.fail("put_role_policy", client_error("NoSuchEntity", "The role with name fn-role cannot be found.",
                                                "PutRolePolicy"))

    result = present(client, managed_policy_arns=[LOGS, LOGS], tags={"team": "data"})

    assert result["changed"] is True and result["created"] is True
    assert result["arn"] == client.roles["fn-role"]["Arn"]
    role = client.roles["fn-role"]
    assert role["AssumeRolePolicyDocument"] == iam.LAMBDA_TRUST_POLICY
    assert {t["Key"]: t["Value"] for t in role["Tags"]} == dict(OWNER, team="data")
    assert role["_inline"] == {"stream": POLICY} and role["_attached"] == [LOGS]
    assert client.operations().count("put_role_policy") == 2
    assert result["managed_policy_arns"] == [LOGS]


def test_check_mode_create_writes_nothing(clock):
    client = FakeIAM()

    result = present(client, check_mode=True)

    assert result["changed"] is True and result["arn"] is None and client.writes() == []
    assert result["policy_document"] == POLICY


def test_an_up_to_date_role_is_not_changed(clock):
    client = FakeIAM()
    client.add_role("fn-role", iam.LAMBDA_TRUST_POLICY, tags=OWNER, inline={"stream": POLICY})

    result = present(client)

    assert result["changed"] is False and client.writes() == []


def test_update_converges_each_difference_with_its_own_call(clock):
    client = FakeIAM()
    old_policy = dict(POLICY, Statement=[dict(POLICY["Statement"][0], Action=["dynamodb:*"])])
    client.add_role("fn-role", {"Version": "2012-10-17", "Statement": []}, tags=dict(OWNER, stale="1"),
                    description="old", inline={"stream": old_policy}, attached=["arn:aws:iam::aws:policy/Old"])

    result = present(client, description="new", tags={"team": "data"}, managed_policy_arns=[LOGS])

    assert result["changed"] is True and result["created"] is False
    assert client.writes() == ["update_assume_role_policy", "update_role", "untag_role", "tag_role",
                               "put_role_policy", "detach_role_policy", "attach_role_policy"]
    role = client.roles["fn-role"]
    assert role["AssumeRolePolicyDocument"] == iam.LAMBDA_TRUST_POLICY and role["Description"] == "new"
    # The owner tag stays although tags: does not list it.
    assert {t["Key"]: t["Value"] for t in role["Tags"]} == dict(OWNER, team="data")
    assert role["_inline"]["stream"] == POLICY and role["_attached"] == [LOGS]
    assert result["tags"] == dict(OWNER, team="data")


def test_check_mode_update_predicts_without_writing(clock):
    client = FakeIAM()
    client.add_role("fn-role", iam.LAMBDA_TRUST_POLICY, tags=OWNER, inline={})

    result = present(client, check_mode=True)

    assert result["changed"] is True and client.writes() == []
    assert result["diff"]["before"]["inline_policies"] == {"stream": None}
    assert result["diff"]["after"]["inline_policies"] == {"stream": POLICY}


def test_absent_deletes_an_owned_role_after_emptying_it(clock):
    client = FakeIAM()
    client.add_role("fn-role", iam.LAMBDA_TRUST_POLICY, tags=OWNER, inline={"stream": POLICY, "other": POLICY},
                    attached=[LOGS])

    result = absent(client)

    assert result["changed"] is True and result["deleted"] is True and "fn-role" not in client.roles
    ops = client.writes()
    # The named policy first; DeleteConflict for what was not named, then the rest is listed and removed.
    assert ops[0] == "delete_role_policy" and ops[1] == "delete_role" and ops[-1] == "delete_role"
    assert "detach_role_policy" in ops


def test_absent_leaves_a_role_it_does_not_own(clock):
    client = FakeIAM()
    client.add_role("fn-role", iam.LAMBDA_TRUST_POLICY, tags={"team": "x"})

    result = absent(client)

    assert result["changed"] is False and client.writes() == [] and "does not carry tag" in result["skipped_reason"]


def test_absent_in_check_mode_writes_nothing(clock):
    client = FakeIAM()
    client.add_role("fn-role", iam.LAMBDA_TRUST_POLICY, tags=OWNER)

    result = absent(client, check_mode=True)

    assert result["changed"] is True and client.writes() == [] and "fn-role" in client.roles


def test_absent_on_a_missing_role_is_no_change(clock):
    result = absent(FakeIAM())

    assert result["changed"] is False and result["arn"] is None


@pytest.mark.parametrize("document", [json.dumps(iam.LAMBDA_TRUST_POLICY),
                                      "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"])
def test_a_trust_policy_returned_as_text_is_decoded(clock, document):
    client = FakeIAM()
    client.add_role("fn-role", document, tags=OWNER, inline={"stream": POLICY})

    result = present(client)

    changed = json.loads(json.dumps(iam.decode_policy(document))) != iam.LAMBDA_TRUST_POLICY
    assert result["changed"] is changed
    assert client.writes() == (["update_assume_role_policy"] if changed else [])


# --- whole results ----------------------------------------------------------------------------------------------

def test_the_whole_result_of_a_creation(clock):
    client = FakeIAM()

    result = present(client, description="fn role", managed_policy_arns=[LOGS],
                     permissions_boundary="arn:aws:iam::123456789012:policy/boundary")

    diff = result.pop("diff")
    role = client.roles["fn-role"]
    assert result == {"changed": True, "created": True, "arn": role["Arn"], "role_id": role["RoleId"],
                      "role_name": "fn-role", "description": "fn role",
                      "assume_role_policy_document": iam.LAMBDA_TRUST_POLICY,
                      "permissions_boundary": "arn:aws:iam::123456789012:policy/boundary", "tags": OWNER,
                      "policy_name": "stream", "policy_document": POLICY, "managed_policy_arns": [LOGS]}
    assert diff == {"before": {}, "after": {
        "role_name": "fn-role", "description": "fn role", "assume_role_policy_document": iam.LAMBDA_TRUST_POLICY,
        "permissions_boundary": "arn:aws:iam::123456789012:policy/boundary", "tags": OWNER,
        "inline_policies": {"stream": POLICY}, "managed_policy_arns": [LOGS]}}
    [request] = [kw for op, kw in client.calls if op == "create_role"]
    assert request == {"RoleName": "fn-role", "AssumeRolePolicyDocument": json.dumps(iam.LAMBDA_TRUST_POLICY),
                       "Description": "fn role", "PermissionsBoundary": "arn:aws:iam::123456789012:policy/boundary",
                       "Tags": [{"Key": "streamops:managed-by", "Value": "streamops.dynamodb_lambda"}]}


def test_the_whole_result_of_an_update(clock):
    client = FakeIAM()
    role = client.add_role("fn-role", iam.LAMBDA_TRUST_POLICY, tags=OWNER, description="old",
                           inline={"stream": POLICY}, attached=[LOGS])
    role["PermissionsBoundary"] = {"PermissionsBoundaryArn": "arn:aws:iam::123456789012:policy/boundary"}

    result = present(client, description="new", permissions_boundary="", managed_policy_arns=[])

    diff = result.pop("diff")
    assert result == {"changed": True, "created": False, "arn": role["Arn"], "role_id": role["RoleId"],
                      "role_name": "fn-role", "description": "new",
                      "assume_role_policy_document": iam.LAMBDA_TRUST_POLICY, "permissions_boundary": None,
                      "tags": OWNER, "policy_name": "stream", "policy_document": POLICY, "managed_policy_arns": []}
    assert diff["before"] == {"role_name": "fn-role", "description": "old",
                              "assume_role_policy_document": iam.LAMBDA_TRUST_POLICY,
                              "permissions_boundary": "arn:aws:iam::123456789012:policy/boundary", "tags": OWNER,
                              "inline_policies": {"stream": POLICY}, "managed_policy_arns": [LOGS]}
    assert diff["after"] == dict(diff["before"], description="new", permissions_boundary=None,
                                 managed_policy_arns=[])
    assert [(op, kw) for op, kw in client.calls if op in client.writes()] == [
        ("update_role", {"RoleName": "fn-role", "Description": "new"}),
        ("delete_role_permissions_boundary", {"RoleName": "fn-role"}),
        ("detach_role_policy", {"RoleName": "fn-role", "PolicyArn": LOGS})]


def test_a_new_permissions_boundary_is_put(clock):
    client = FakeIAM()
    client.add_role("fn-role", iam.LAMBDA_TRUST_POLICY, tags=OWNER, inline={"stream": POLICY})

    result = present(client, permissions_boundary="arn:aws:iam::123456789012:policy/boundary")

    assert client.calls[-1] == ("put_role_permissions_boundary", {
        "RoleName": "fn-role", "PermissionsBoundary": "arn:aws:iam::123456789012:policy/boundary"})
    assert result["permissions_boundary"] == "arn:aws:iam::123456789012:policy/boundary"


def test_the_whole_result_of_a_deletion(clock):
    client = FakeIAM()
    role = client.add_role("fn-role", iam.LAMBDA_TRUST_POLICY, tags=OWNER, description="d",
                           inline={"stream": POLICY})

    result = absent(client)

    assert result == {"changed": True, "deleted": True, "skipped_reason": None, "arn": role["Arn"],
                      "role_id": role["RoleId"], "role_name": "fn-role", "policy_name": "stream", "tags": OWNER,
                      "diff": {"before": {"role_name": "fn-role", "description": "d",
                                          "assume_role_policy_document": iam.LAMBDA_TRUST_POLICY,
                                          "permissions_boundary": None, "tags": OWNER},
                               "after": {}}}
    assert client.writes() == ["delete_role_policy", "delete_role"]


def test_the_whole_result_of_a_role_left_alone(clock):
    client = FakeIAM()
    role = client.add_role("fn-role", iam.LAMBDA_TRUST_POLICY, tags={"team": "x"})

    result = absent(client)

    assert result == {"changed": False, "deleted": False, "arn": role["Arn"], "role_id": role["RoleId"],
                      "role_name": "fn-role", "policy_name": "stream", "tags": {"team": "x"},
                      "skipped_reason": "role fn-role does not carry tag "
                                        "streamops:managed-by=streamops.dynamodb_lambda: left alone",
                      "diff": {"before": {"role_name": "fn-role", "tags": {"team": "x"}},
                               "after": {"role_name": "fn-role", "tags": {"team": "x"}}}}


def test_an_unset_permissions_boundary_leaves_the_current_one(clock):
    client = FakeIAM()
    role = client.add_role("fn-role", iam.LAMBDA_TRUST_POLICY, tags=OWNER, inline={"stream": POLICY})
    role["PermissionsBoundary"] = {"PermissionsBoundaryArn": "arn:aws:iam::123456789012:policy/boundary"}

    result = present(client)

    assert result["changed"] is False and client.writes() == []
    assert result["permissions_boundary"] == "arn:aws:iam::123456789012:policy/boundary"


def test_an_empty_description_clears_the_current_one(clock):
    client = FakeIAM()
    client.add_role("fn-role", iam.LAMBDA_TRUST_POLICY, tags=OWNER, description="old", inline={"stream": POLICY})

    present(client, description="")

    assert client.calls[-1] == ("update_role", {"RoleName": "fn-role", "Description": ""})


def test_absent_on_a_missing_role_shows_an_empty_diff(clock):
    result = absent(FakeIAM())

    assert result == {"changed": False, "deleted": False, "skipped_reason": None, "arn": None, "role_id": None,
                      "role_name": "fn-role", "policy_name": "stream", "diff": {"before": {}, "after": {}}}


def test_absent_diff_shows_the_boundary_being_removed_with_the_role(clock):
    client = FakeIAM()
    role = client.add_role("fn-role", iam.LAMBDA_TRUST_POLICY, tags=OWNER)
    role["PermissionsBoundary"] = {"PermissionsBoundaryArn": "arn:aws:iam::123456789012:policy/boundary"}

    result = absent(client, policy_name=None)

    assert result["diff"]["before"]["permissions_boundary"] == "arn:aws:iam::123456789012:policy/boundary"


def test_absent_when_the_role_goes_away_while_being_emptied_still_succeeds(clock):
    client = FakeIAM()
    client.add_role("fn-role", iam.LAMBDA_TRUST_POLICY, tags=OWNER, inline={"other": POLICY})
    client.fail("delete_role", client_error("DeleteConflict", "Cannot delete entity, must delete policies first.",
                                            "DeleteRole"),
                client_error("NoSuchEntity", "The role with name fn-role cannot be found.", "DeleteRole"))

    result = absent(client, policy_name=None)

    assert result["deleted"] is True and client.operations().count("delete_role") == 2
