"""Least privilege: the execution role's inline policy, read back from the sandbox after setup.yml.

Three pipelines in one setup (no on-failure destination, an SQS one, an SNS one). Each role's policy must pass
parliament with no findings, name exactly this pipeline's stream, log group and destination, and use `*` only
for actions that have no resource-level permissions (parliament's own copy of the Service Authorization
Reference says so; the execution_role README names dynamodb:ListStreams as the one exception). The walkthrough's
managed policies must not be attached by default.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

parliament = pytest.importorskip("parliament")

STAR_EXCEPTIONS = {"dynamodb:ListStreams"}  # roles/execution_role/README.md: no resource-level permissions
PIPELINES = {"plain": None, "sqs": "sqs", "sns": "sns"}


def _resource_types(action: str) -> list[str]:
    """Resource types IAM accepts for *action* (parliament's bundled Service Authorization Reference)."""
    service, name = action.split(":", 1)
    for svc in parliament.iam_definition:
        if svc["prefix"] == service:
            for privilege in svc["privileges"]:
                if privilege["privilege"].lower() == name.lower():
                    return [r["resource_type"].rstrip("*") for r in privilege["resource_types"] if r["resource_type"]]
            raise AssertionError(f"parliament does not know {action}")
    raise AssertionError(f"parliament does not know service {service}")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _findings(document: dict[str, Any]) -> list[tuple[str, Any]]:
    policy = parliament.analyze_policy_string(json.dumps(document), include_community_auditors=True)
    return [(f.issue, f.detail) for f in policy.findings]


def _without_label_colons(document: dict[str, Any]) -> dict[str, Any]:
    """The policy with the colons of DynamoDB stream labels replaced.

    A real stream ARN ends in a label like `2015-05-11T21:21:33.291` (DynamoDB developer guide), and parliament
    rejects any resource whose part after the account holds a colon the documented format lacks
    (parliament/__init__.py is_arn_strictly_valid), reporting RESOURCE_MISMATCH for the one ARN AWS itself
    hands out. Only the label changes here; everything else is analysed as generated.
    """
    text = json.dumps(document)
    text = re.sub(r"(:table/[^/\"]+/stream/)([^\"]+)", lambda m: m.group(1) + m.group(2).replace(":", "-"), text)
    return json.loads(text)


@pytest.fixture(scope="module")
def generated(_sandbox_process, h) -> dict[str, Any]:
    sandbox = _sandbox_process
    sandbox.reset()
    sqs, sns = h.client(sandbox.url, "sqs"), h.client(sandbox.url, "sns")
    queue_url = sqs.create_queue(QueueName="ri-lp-failures")["QueueUrl"]
    destinations = {
        "plain": None,
        "sqs": sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"],
        "sns": sns.create_topic(Name="ri-lp-failures")["TopicArn"],
    }
    pipelines = [{"name": f"ri-lp-{key}", "table_name": f"ri-lp-{key}-table", "function_name": f"ri-lp-{key}-fn",
                  "verify": False, "trigger": {"on_failure_destination": arn}}
                 for key, arn in destinations.items()]
    run = h.run_playbook(sandbox.url, h.SETUP, {"streamops_pipelines": pipelines})
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    snap = h.snapshot(sandbox.url)
    return {"snapshot": snap, "destinations": destinations}


@pytest.mark.parametrize("key", list(PIPELINES))
def test_policy_passes_parliament(generated: dict[str, Any], key: str) -> None:
    role = generated["snapshot"]["roles"][f"ri-lp-{key}-fn-role"]
    assert list(role["inline"]) == ["streamops-stream-function"]
    document = role["inline"]["streamops-stream-function"]
    assert _findings(_without_label_colons(document)) == []
    # Unmodified, parliament's only complaint is the colon in the stream label (see _without_label_colons).
    for issue, detail in _findings(document):
        assert issue == "RESOURCE_MISMATCH", (issue, detail)
        assert {d["required_format"] for d in detail} == {"arn:*:dynamodb:*:*:table/*/stream/*"}, detail


@pytest.mark.parametrize("key", list(PIPELINES))
def test_policy_names_exactly_this_pipelines_resources(h, generated: dict[str, Any], key: str) -> None:
    snap = generated["snapshot"]
    document = snap["roles"][f"ri-lp-{key}-fn-role"]["inline"]["streamops-stream-function"]
    stream_arn = snap["tables"][f"ri-lp-{key}-table"]["latest_stream_arn"]
    group = f"arn:aws:logs:{h.REGION}:{h.ACCOUNT_ID}:log-group:/aws/lambda/ri-lp-{key}-fn"
    destination = generated["destinations"][key]
    grants: dict[str, set[str]] = {}
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
        assert "Condition" not in statement
        for action in _as_list(statement["Action"]):
            assert "*" not in action, f"wildcard action {action}"
            grants.setdefault(action, set()).update(_as_list(statement["Resource"]))
    expected = {
        "dynamodb:DescribeStream": {stream_arn}, "dynamodb:GetRecords": {stream_arn},
        "dynamodb:GetShardIterator": {stream_arn}, "dynamodb:ListStreams": {"*"},
        "logs:CreateLogGroup": {group, group + ":*"}, "logs:CreateLogStream": {group + ":*"},
        "logs:PutLogEvents": {group + ":*"},
    }
    if key == "sqs":
        expected["sqs:SendMessage"] = {destination}
    if key == "sns":
        expected["sns:Publish"] = {destination}
    assert grants == expected


@pytest.mark.parametrize("key", list(PIPELINES))
def test_star_only_where_iam_has_no_resource_level_permission(generated: dict[str, Any], key: str) -> None:
    document = generated["snapshot"]["roles"][f"ri-lp-{key}-fn-role"]["inline"]["streamops-stream-function"]
    starred = {action for s in document["Statement"] if "*" in _as_list(s["Resource"])
               for action in _as_list(s["Action"])}
    assert starred <= STAR_EXCEPTIONS
    for action in starred:
        assert _resource_types(action) == [], f"{action} accepts a narrower resource: {_resource_types(action)}"
    # And the scoped actions really are scopable (otherwise IAM would ignore the ARN and the policy would lie).
    for action in {a for s in document["Statement"] for a in _as_list(s["Action"])} - starred:
        assert _resource_types(action), action


def test_managed_policies_are_not_attached_by_default(generated: dict[str, Any]) -> None:
    roles = generated["snapshot"]["roles"]
    for key in PIPELINES:
        role = roles[f"ri-lp-{key}-fn-role"]
        assert role["attached"] == [], role["attached"]
        assert role["trust"]["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                               "Action": "sts:AssumeRole"}]


def test_the_check_itself_catches_a_widened_policy() -> None:
    # The parliament and star checks must be able to fail: a GetRecords on "*" is what the walkthrough's
    # managed AmazonDynamoDBReadOnlyAccess effectively grants.
    widened = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["dynamodb:GetRecords"], "Resource": "*"}]}
    assert ("RESOURCE_STAR", ["dynamodb:GetRecords"]) in _findings(widened)
    assert _resource_types("dynamodb:GetRecords") == ["stream"]
