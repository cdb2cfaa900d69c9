"""execution_role: every bad input is rejected before any AWS call, naming the option; the documentation agrees
with the argument spec; policy documents are compared by meaning. No network: building an AWS client fails."""

from __future__ import annotations

import pytest

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import iam
from ansible_collections.streamops.dynamodb_lambda.plugins.modules import execution_role

POLICY = {"Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Action": ["dynamodb:ListStreams"], "Resource": "*"}]}
BASE = {"name": "fn-role", "policy_name": "streamops-stream-function", "policy_document": POLICY}
FRAGMENTS = ["amazon.aws.common.modules", "amazon.aws.region.modules", "amazon.aws.boto3"]


@pytest.mark.parametrize("args, option", [
    ({"name": "x" * 65}, "name"),
    ({"name": "bad name"}, "name"),
    ({"name": "role/with/slash"}, "name"),
    ({"state": "deleted"}, "state"),
    ({"description": "d" * 1001}, "description"),
    ({"assume_role_policy_document": "{not json"}, "assume_role_policy_document"),
    ({"assume_role_policy_document": "[1, 2]"}, "assume_role_policy_document"),
    ({"assume_role_policy_document": {"Version": "2012-10-17"}}, "assume_role_policy_document"),
    ({"assume_role_policy_document": {"Statement": [{"Sid": "x" * 3000}]}}, "assume_role_policy_document"),
    ({"permissions_boundary": "boundary"}, "permissions_boundary"),
    ({"permissions_boundary": "arn:aws:s3:::bucket"}, "permissions_boundary"),
    ({"permissions_boundary": "arn:aws:iam::123456789012:role/x"}, "permissions_boundary"),
    ({"policy_name": "bad name"}, "policy_name"),
    ({"policy_name": "p" * 129}, "policy_name"),
    ({"policy_document": "{not json"}, "policy_document"),
    ({"policy_document": {"Version": "2012-10-17", "Statement": []}}, "policy_document"),
    ({"policy_document": {"Statement": [{"Sid": "x" * 10300}]}}, "policy_document"),
    ({"policy_document": None}, "policy_document"),  # policy_name without a document, state=present
    ({"policy_name": None}, "policy_document"),  # a document without a name
    ({"managed_policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess", "ReadOnlyAccess"]}, "managed_policy_arns[1]"),
    ({"managed_policy_arns": ["arn:aws:sqs:us-east-1:123456789012:q"]}, "managed_policy_arns[0]"),
    ({"tags": {"aws:reserved": "x"}}, "tags"),
    ({"tags": {"k" * 129: "x"}}, "tags"),
    ({"tags": {"k": "v" * 257}}, "tags"),
    ({"owner_tag": {"aws:owner": "x"}}, "owner_tag"),
    ({"purge_tags": "maybe"}, "purge_tags"),
    ({"name": None}, "name"),
])
def test_bad_input_is_rejected_naming_the_option(offline_main, args, option):
    params = {k: v for k, v in dict(BASE, **args).items() if v is not None}
    result = offline_main(execution_role, **params)
    assert result["failed"] is True
    assert option in result["msg"], result["msg"]


def test_bad_input_is_rejected_for_absent_too(offline_main):
    result = offline_main(execution_role, name="bad name", state="absent", managed_policy_arns=["nope"])
    assert result["failed"] is True
    assert "name:" in result["msg"] and "managed_policy_arns[0]" in result["msg"], result["msg"]


def test_absent_needs_no_policy_document(offline_main):
    """Only the name of the inline policy is needed to delete it; the module gets as far as building a client."""
    with pytest.raises(AssertionError, match="built an AWS client"):
        offline_main(execution_role, name="fn-role", state="absent", policy_name="streamops-stream-function")


def test_every_problem_is_reported_at_once(offline_main):
    result = offline_main(execution_role, **dict(BASE, name="bad name", permissions_boundary="x", tags={"aws:x": "1"}))
    for option in ("name", "permissions_boundary", "tags"):
        assert option + ":" in result["msg"], result["msg"]


@pytest.mark.parametrize("a, b", [
    # statement order, key order, a single value versus a one-element list, action order
    ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
                                             {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "q"}]},
     {"Statement": [{"Resource": "q", "Action": "sqs:SendMessage", "Effect": "Allow"},
                    {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}], "Version": "2012-10-17"}),
    ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["a:B", "a:C"], "Resource": "*"}]},
     {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["a:C", "a:B"], "Resource": "*"}]}),
])
def test_policies_compare_by_meaning(a, b):
    assert not iam.policies_differ(a, b)
    assert not iam.policies_differ(b, a)


def test_policies_differ_when_a_resource_widens():
    narrow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "a:B", "Resource": "arn:x"}]}
    wide = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "a:B", "Resource": "*"}]}
    assert iam.policies_differ(narrow, wide)
    assert iam.policies_differ(None, narrow)
    assert not iam.policies_differ(None, None)


def test_url_encoded_documents_are_decoded():
    assert iam.decode_policy("%7B%22Version%22%3A%20%222012-10-17%22%7D") == {"Version": "2012-10-17"}
    assert iam.decode_policy({"Version": "2012-10-17"}) == {"Version": "2012-10-17"}


class FakeModule:
    check_mode = False
    _diff = False


class FreshRoleClient:
    """IAM right after CreateRole: the role is not visible to the next calls for *lag* attempts (NoSuchEntity)."""

    def __init__(self, lag):
        self.lag, self.calls = lag, []

    def _not_yet(self, operation):
        import botocore.exceptions

        self.calls.append(operation)
        if self.lag:
            self.lag -= 1
            error = {"Error": {"Code": "NoSuchEntity", "Message": "The role with name fn-role cannot be found."}}
            raise botocore.exceptions.ClientError(error, operation)

    def create_role(self, aws_retry=False, **kwargs):
        self.calls.append("CreateRole")
        assert kwargs["Tags"] == [{"Key": "streamops:managed-by", "Value": "streamops.dynamodb_lambda"}]
        return {"Role": {"Arn": "arn:aws:iam::123456789012:role/fn-role", "RoleId": "AROAEXAMPLE"}}

    def put_role_policy(self, **_kwargs):
        self._not_yet("PutRolePolicy")

    def attach_role_policy(self, **_kwargs):
        self._not_yet("AttachRolePolicy")


def test_calls_right_after_create_role_retry_no_such_entity(monkeypatch):
    """IAM is eventually consistent: NoSuchEntity right after CreateRole is retried with backoff, not slept out."""
    from ansible.module_utils import api

    slept = []
    monkeypatch.setattr(api.time, "sleep", slept.append)
    client = FreshRoleClient(lag=3)
    params = {"name": "fn-role", "description": None, "permissions_boundary": None, "tags": None,
              "owner_tag": {"streamops:managed-by": "streamops.dynamodb_lambda"}, "policy_name": "p",
              "managed_policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}
    parsed = {"trust": iam.LAMBDA_TRUST_POLICY, "policy": POLICY}
    result = execution_role.create(FakeModule(), client, params, parsed)
    assert result["arn"] == "arn:aws:iam::123456789012:role/fn-role" and result["created"] is True
    assert client.calls == ["CreateRole"] + ["PutRolePolicy"] * 4 + ["AttachRolePolicy"]
    assert len(slept) == 3
