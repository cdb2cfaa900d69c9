"""Shared helpers of the reliability tests (faults, interrupted runs, drift).

`resources(aws)` lists, through the AWS APIs, everything a pipeline can leave in an account: tables and their
tags, enabled streams, event source mappings (also those left on older streams), functions, IAM roles with their
inline and attached policies, customer managed policies, and log groups. The sandbox is reset before every test,
so after a teardown anything still listed is a leftover of the collection (or of the test itself, which the test
knows). `PlaybookRun` reads ansible-playbook's machine-readable output (ansible.posix.json) so tests can assert on
which tasks of which role changed. Fixture `rel` gives this module, fixture `h` gives helpers.py (the helpers
of the bad input, nothing lost, ownership, least privilege and secrets tests).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Iterable

import pytest

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "playbooks" / "setup.yml"
TEARDOWN = ROOT / "playbooks" / "teardown.yml"
VERIFY = ROOT / "playbooks" / "verify.yml"
CALLBACK_DIR = Path(__file__).resolve().parent / "callback_plugins"

FUNCTION = "Lambda_demo_DynamoDB_stream"
TABLE = "users_post"
ROLE = f"{FUNCTION}-role"
LOG_GROUP = f"/aws/lambda/{FUNCTION}"
POLICY = "streamops-stream-function"
OWNER_TAG = "streamops:managed-by"
OWNER = "streamops.dynamodb_lambda"
# The four resource steps of setup.yml, in order (stream_verify follows them).
STEPS = ["table_stream", "execution_role", "stream_function", "stream_trigger"]


@dataclasses.dataclass(frozen=True)
class Resource:
    kind: str  # table, stream, mapping, function, role, inline_policy, attached_policy, managed_policy, log_group
    name: str
    detail: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    items: list[Any] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        items.extend(page[key])
    return items


def _table_of(stream_arn: str) -> str:
    return stream_arn.split(":table/", 1)[-1].split("/stream/", 1)[0]


def resources(aws: Any, attempts: int = 1) -> list[Resource]:
    """Everything in the sandbox a pipeline could have created, with the details drift tests compare.

    *attempts* > 1 retries throttled reads (botocore's standard mode), for reading back while faults are on.
    """
    from botocore.config import Config

    config = Config(retries={"max_attempts": attempts, "mode": "standard"}, read_timeout=120)
    ddb, lam, iam, logs = (aws(service, config=config) for service in ("dynamodb", "lambda", "iam", "logs"))
    found: list[Resource] = []
    for name in _pages(ddb, "list_tables", "TableNames"):
        table = ddb.describe_table(TableName=name)["Table"]
        tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]}
        found.append(Resource("table", name, {"arn": table["TableArn"], "tags": tags}))
        spec = table.get("StreamSpecification") or {}
        if spec.get("StreamEnabled"):
            found.append(Resource("stream", name, {"view_type": spec["StreamViewType"],
                                                   "arn": table["LatestStreamArn"], "table_tags": tags}))
    for mapping in _pages(lam, "list_event_source_mappings", "EventSourceMappings"):
        function = mapping["FunctionArn"].split(":function:", 1)[-1].split(":", 1)[0]
        found.append(Resource("mapping", f"{_table_of(mapping['EventSourceArn'])} -> {function}",
                              {**mapping, "function": function}))
    for fn in _pages(lam, "list_functions", "Functions"):
        full = lam.get_function(FunctionName=fn["FunctionName"])
        found.append(Resource("function", fn["FunctionName"],
                              {"code_sha256": fn["CodeSha256"], "role": fn["Role"],
                               "environment": (fn.get("Environment") or {}).get("Variables", {}),
                               "tags": full.get("Tags", {})}))
    for role in _pages(iam, "list_roles", "Roles"):
        name = role["RoleName"]
        tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}
        found.append(Resource("role", name, {"arn": role["Arn"], "tags": tags}))
        for policy in _pages(iam, "list_role_policies", "PolicyNames", RoleName=name):
            document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
            if isinstance(document, str):
                document = json.loads(document)
            found.append(Resource("inline_policy", f"{name}/{policy}", {"document": document}))
        for policy in _pages(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name):
            found.append(Resource("attached_policy", f"{name} <- {policy['PolicyArn']}", {}))
    for policy in _pages(iam, "list_policies", "Policies", Scope="Local"):
        found.append(Resource("managed_policy", policy["PolicyName"], {"arn": policy["Arn"]}))
    for group in _pages(logs, "describe_log_groups", "logGroups"):
        found.append(Resource("log_group", group["logGroupName"],
                              {"retention": group.get("retentionInDays")}))
    return found


def resources_with_retries(aws: Any) -> list[Resource]:
    return resources(aws, attempts=20)


def names(found: Iterable[Resource]) -> list[str]:
    return sorted(str(r) for r in found)


def one(found: Iterable[Resource], kind: str, name: str | None = None) -> Resource:
    matches = [r for r in found if r.kind == kind and (name is None or r.name == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {names(matches)}"
    return matches[0]


def of_pipeline(found: Iterable[Resource], table: str, function: str) -> list[Resource]:
    """The resources of the pipeline table -> function (default role and log group names)."""
    role = f"{function}-role"
    wanted = {("table", table), ("stream", table), ("mapping", f"{table} -> {function}"), ("function", function),
              ("role", role), ("log_group", f"/aws/lambda/{function}")}
    return [r for r in found if (r.kind, r.name) in wanted
            or (r.kind in ("inline_policy", "attached_policy") and r.name.startswith(f"{role}/"))
            or (r.kind == "attached_policy" and r.name.startswith(f"{role} <- "))
            or (r.kind == "mapping" and r.name.endswith(f" -> {function}"))]


def pipeline_state(aws: Any, table: str = TABLE, function: str = FUNCTION) -> set[str]:
    """Which of the four steps have left their resources: the set of kinds present for this pipeline."""
    return {r.kind for r in of_pipeline(resources(aws), table, function)}


# What each step of setup.yml creates, by resource kind (inline_policy belongs to execution_role).
STEP_KINDS = {
    "table_stream": {"table", "stream"},
    "execution_role": {"role", "inline_policy"},
    "stream_function": {"function", "log_group"},
    "stream_trigger": {"mapping"},
}


# ----------------------------------------------------------------------------------------------------------------
# ansible-playbook output


def failure_text(proc: Any) -> str:
    return f"rc={proc.returncode}\n--- stdout (tail)\n{proc.stdout[-6000:]}\n--- stderr (tail)\n{proc.stderr[-3000:]}"


def assert_ok(proc: Any) -> None:
    assert proc.returncode == 0, failure_text(proc)


@dataclasses.dataclass
class TaskResult:
    role: str | None
    name: str
    host: str
    action: str
    result: dict[str, Any]

    @property
    def changed(self) -> bool:
        return bool(self.result.get("changed"))

    @property
    def failed(self) -> bool:
        return bool(self.result.get("failed"))


_ROLE_PREFIX = re.compile(r"^(?:[\w]+\.[\w]+\.)?(\w+) : (.*)$", re.S)


class PlaybookRun:
    """ansible.posix.json output of one run: every task result per host, with the role it belongs to."""

    def __init__(self, proc: Any):
        self.proc = proc
        try:
            self.data = json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"ansible-playbook did not print JSON ({exc})\n{failure_text(proc)}") from exc
        self.tasks: list[TaskResult] = []
        for play in self.data["plays"]:
            for task in play["tasks"]:
                match = _ROLE_PREFIX.match(task["task"]["name"])
                role, name = (match.group(1), match.group(2)) if match else (None, task["task"]["name"])
                for host, result in task["hosts"].items():
                    self.tasks.append(TaskResult(role, name, host, result.get("action", ""), result))
        self.stats = self.data.get("stats", {})

    def changed(self, host: str = "users_post") -> list[TaskResult]:
        return [t for t in self.tasks if t.host == host and t.changed]

    def changed_names(self, host: str = "users_post") -> list[str]:
        return [f"{t.role} : {t.name}" for t in self.changed(host)]

    def failures(self) -> list[str]:
        return [f"{t.host} {t.role} : {t.name}: {t.result.get('msg')}" for t in self.tasks if t.failed
                and not t.result.get("ignore_errors")]

    def assert_ok(self) -> None:
        assert self.proc.returncode == 0, "\n".join(self.failures()) + "\n" + failure_text(self.proc)


@pytest.fixture
def rel():
    """This module, so tests reach its helpers (conftest modules are not importable under --import-mode=importlib)."""
    return sys.modules[__name__]


@pytest.fixture(scope="session")
def h():
    """helpers.py, the sandbox-level helpers of the bad input, nothing lost, ownership, least privilege and secrets
    tests, loaded by path once (this folder is not a package, so under --import-mode=importlib nothing imports it)."""
    name = "streamops_reliability_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("helpers.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    return sys.modules[name]


@pytest.fixture
def run_json(run_playbook):
    """run_playbook with the ansible.posix.json stdout callback; returns a PlaybookRun."""

    def run(playbook: str | Path, extra_vars: dict[str, Any] | None = None, *args: str,
            env: dict[str, str] | None = None) -> PlaybookRun:
        proc = run_playbook(playbook, extra_vars, *args,
                            env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", **(env or {})})
        return PlaybookRun(proc)

    return run


@pytest.fixture
def abort_env(tmp_path):
    """Environment that makes ansible-playbook SIGKILL itself when role *before* starts (callback_plugins/)."""

    def env(before: str) -> tuple[dict[str, str], Path]:
        marker = tmp_path / f"aborted-before-{before}"
        enabled = ",".join(filter(None, [os.environ.get("ANSIBLE_CALLBACKS_ENABLED"), "abort_before_role"]))
        return ({"ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_DIR), "ANSIBLE_CALLBACKS_ENABLED": enabled,
                 "STREAMOPS_TEST_ABORT_BEFORE_ROLE": before, "STREAMOPS_TEST_ABORT_MARKER": str(marker)}, marker)

    return env
