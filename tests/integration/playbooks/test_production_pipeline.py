"""A production stream consumer end to end, through ansible-playbook against the sandbox: the Powertools example
(examples/powertools: its own handler with a requirements.txt, BatchProcessor and partial batch failures) with
arm64, a layer, X-Ray tracing, JSON logs, reserved concurrency and an alias.

- setup.yml passes with verify on, verify reading the record-log wrapper's lines (the handler prints nothing of
  its own for verify);
- a second run reports changed=0, runs no pip (pip's own log, PIP_LOG, counts its runs) and uploads nothing (the
  sandbox's call counts show no UpdateFunctionCode, UpdateFunctionConfiguration or PublishVersion);
- `--check --diff` after changing one setting shows exactly that setting, for each setting;
- teardown.yml removes the function, its versions, the alias, the log group, the role and the table.
"""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.streamops.dynamodb_lambda.tests.integration.playbooks.checks import ok, recap

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "playbooks" / "setup.yml"
TEARDOWN = ROOT / "playbooks" / "teardown.yml"
EXAMPLE = ROOT / "examples" / "powertools" / "pipeline.yml"
FUNCTION = "orders_powertools"
HOST = "orders"
# What a run that changes nothing must not call.
CODE_AND_VERSION_WRITES = ("lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
                           "lambda:PublishVersion", "lambda:CreateFunction", "lambda:UpdateAlias")


def pip_runs(log: Path) -> int:
    """pip writes this line first in every run that installs (PIP_LOG appends; pip --version writes nothing)."""
    return len(re.findall(r"^\S+ Using pip \S+ from ", log.read_text(), re.M)) if log.exists() else 0


def example_pipeline(layer: str) -> dict[str, Any]:
    """The example's pipeline, as a user would run it, with the test's layer added."""
    [pipeline] = yaml.safe_load(EXAMPLE.read_text())["streamops_pipelines"]
    return dict(pipeline, function_layers=[layer])


def publish_layer(lam: Any) -> str:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("python/orders_shared.py", "CURRENCY = 'EUR'\n")
    return lam.publish_layer_version(LayerName="orders-shared", Content={"ZipFile": zipped.getvalue()},
                                     CompatibleRuntimes=["python3.12"],
                                     CompatibleArchitectures=["arm64"])["LayerVersionArn"]


@pytest.fixture
def env(tmp_path):
    """A cache of its own (so the first run must run pip) and pip's log to count its runs."""
    return {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PIP_LOG": str(tmp_path / "pip.log")}


def stream_event(table_arn_like: str, reject_seq: str) -> dict[str, Any]:
    def rec(seq, new):
        return {"eventID": "e" + seq, "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1", "eventSourceARN": table_arn_like,
                "dynamodb": {"Keys": {"order_id": {"S": "o-" + seq}}, "NewImage": new, "SequenceNumber": seq,
                             "SizeBytes": 20, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
    return {"Records": [rec("100", {"order_id": {"S": "o-100"}}),
                        rec(reject_seq, {"order_id": {"S": "o-" + reject_seq}, "reject": {"BOOL": True}})]}


def test_production_pipeline_verifies_reruns_clean_and_tears_down(run_playbook, aws, sandbox, tmp_path, env):
    lam, logs = aws("lambda"), aws("logs")
    layer = publish_layer(lam)
    pipeline = example_pipeline(layer)
    extra = {"streamops_pipelines": [pipeline], "streamops_verify_report_dir": str(tmp_path)}
    pip_log = Path(env["PIP_LOG"])

    first = run_playbook(SETUP, extra, env=env)
    ok(first)
    report = json.loads((tmp_path / f"{HOST}.json").read_text())
    assert report["passed"] is True, report
    # Read from the wrapper's lines: the Powertools handler logs nothing verify could read.
    assert [(r["event"], r["source"]) for r in report["records"]] == [
        ("INSERT", "streamops_record"), ("MODIFY", "streamops_record"), ("REMOVE", "streamops_record")], report
    assert report["records"][1]["old_image"]["streamops_probe"] == "v1"
    assert pip_runs(pip_log) == 1  # the up-front handler check filled the cache stream_function then read

    conf = lam.get_function(FunctionName=FUNCTION)["Configuration"]
    assert conf["Handler"] == "streamops_record_log.lambda_handler"
    assert conf["Environment"]["Variables"] == {"STREAMOPS_HANDLER": "app.lambda_handler"}
    assert conf["Architectures"] == ["arm64"] and [x["Arn"] for x in conf["Layers"]] == [layer]
    assert conf["TracingConfig"] == {"Mode": "Active"} and conf["LoggingConfig"]["LogFormat"] == "JSON"
    assert lam.get_function_concurrency(FunctionName=FUNCTION)["ReservedConcurrentExecutions"] == 5
    alias = lam.get_alias(FunctionName=FUNCTION, Name="live")
    [mapping] = lam.list_event_source_mappings(FunctionName=FUNCTION + ":live")["EventSourceMappings"]
    assert mapping["FunctionArn"].endswith(":live") and mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]

    # Partial batch failures pass through the wrapper: the alias answers with Powertools' batchItemFailures.
    answer = lam.invoke(FunctionName=FUNCTION, Qualifier="live",
                        Payload=json.dumps(stream_event(mapping["EventSourceArn"], "200")).encode())
    assert "FunctionError" not in answer, answer["Payload"].read()
    assert json.loads(answer["Payload"].read()) == {"batchItemFailures": [{"itemIdentifier": "200"}]}

    sandbox.reset_stats()
    again = run_playbook(SETUP, extra, env=env)
    ok(again)
    assert recap(again)[HOST]["changed"] == 0, again.stdout[-4000:]
    assert pip_runs(pip_log) == 1, "the second run ran pip"
    calls = sandbox.stats()["calls"]
    assert not [op for op in CODE_AND_VERSION_WRITES if calls.get(op)], calls
    assert json.loads((tmp_path / f"{HOST}.json").read_text())["passed"] is True
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=FUNCTION)["Versions"]]
    assert versions == ["$LATEST", alias["FunctionVersion"]]

    down = run_playbook(TEARDOWN, {"streamops_pipelines": [pipeline]}, env=env)
    ok(down)
    assert lam.list_functions()["Functions"] == []
    # AWS answers ResourceNotFoundException for the versions of a deleted function; moto an empty list.
    try:
        assert lam.list_versions_by_function(FunctionName=FUNCTION)["Versions"] == []
    except lam.exceptions.ResourceNotFoundException:
        pass
    for call in (lambda: lam.get_alias(FunctionName=FUNCTION, Name="live"),
                 lambda: lam.get_function(FunctionName=f"{FUNCTION}:{alias['FunctionVersion']}")):
        with pytest.raises(lam.exceptions.ResourceNotFoundException):
            call()
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    assert logs.describe_log_groups()["logGroups"] == []
    assert aws("iam").list_roles()["Roles"] == []
    assert aws("dynamodb").list_tables()["TableNames"] == []
    assert lam.list_layer_versions(LayerName="orders-shared")["LayerVersions"]  # not the collection's: left alone


def task_results(proc: Any, role: str) -> list[dict[str, Any]]:
    """The results of one role's tasks for the pipeline's host (ansible.posix.json output: "<role> : <task>")."""
    found = []
    for play in json.loads(proc.stdout)["plays"]:
        for task in play["tasks"]:
            prefix = task["task"]["name"].partition(" : ")[0]
            if prefix.rpartition(".")[2] == role and HOST in task["hosts"]:
                found.append(task["hosts"][HOST])
    return found


def changed_keys(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """The keys whose values differ; a mapping's keys as <key>.<inner key>, so a change names the one field."""
    found = set()
    for key in set(before) | set(after):
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            found |= {f"{key}.{inner}" for inner in changed_keys(old, new)}
        elif old != new:
            found.add(key)
    return found


# field -> (new value, the keys of stream_function's diff of the function that must differ, other roles whose
# tasks must report a change). Each starts from the example's pipeline as deployed.
SETTINGS = {
    "function_architecture": ("x86_64", {"architecture"}, set()),
    "function_layers": ([], {"layers"}, set()),
    "function_tracing": ("PassThrough", {"tracing_mode"}, {"execution_role"}),
    # Lambda's LoggingConfig carries levels only with JSON (INFO when not given): going to Text drops them too.
    "function_log_format": ("Text", {"logging_config.log_format", "logging_config.application_log_level",
                                     "logging_config.system_log_level"}, set()),
    "function_reserved_concurrency": (7, {"reserved_concurrency"}, set()),
    "function_memory": (256, {"memory_size"}, set()),
    # Another alias: the function stays as it is, the trigger moves to <function>:blue.
    "function_alias": ("blue", set(), {"stream_trigger"}),
    # The wrapper off: the Handler is the function's own again, its variable goes, and the code loses the file.
    "function_record_log": (False, {"handler", "environment_variables.STREAMOPS_HANDLER", "code_sha256"}, set()),
}


@pytest.mark.parametrize("field", sorted(SETTINGS))
def test_check_diff_after_changing_one_setting_shows_exactly_that_setting(run_playbook, aws, sandbox, env, field):
    layer = publish_layer(aws("lambda"))
    pipeline = example_pipeline(layer)
    ok(run_playbook(SETUP, {"streamops_pipelines": [pipeline], "streamops_verify": False}, env=env))
    value, function_keys, other_roles = SETTINGS[field]
    changed = copy.deepcopy(pipeline)
    changed[field] = value
    sandbox.reset_stats()
    check = run_playbook(SETUP, {"streamops_pipelines": [changed], "streamops_verify": False}, "--check", "--diff",
                         env=dict(env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"))
    assert check.returncode == 0, check.stdout[-4000:] + check.stderr[-2000:]
    assert sandbox.stats()["writes"] == 0, sandbox.stats()["write_calls"]
    [deployed] = [r for r in task_results(check, "stream_function") if r.get("diff")]
    assert deployed["changed"] is True
    diff = deployed["diff"]
    assert changed_keys(diff["before"]["function"], diff["after"]["function"]) == function_keys, diff
    assert diff["before"]["log_group"] == diff["after"]["log_group"]
    if field == "function_alias":
        assert diff["before"]["alias"] == {} and diff["after"]["alias"]["name"] == "blue", diff
    else:
        # A change to the function means a new version for the alias; nothing else about the alias changes.
        assert diff["before"]["alias"]["name"] == diff["after"]["alias"]["name"] == "live"
    changed_roles = {role for role in ("table_stream", "execution_role", "stream_trigger")
                     if any(r.get("changed") for r in task_results(check, role))}
    assert changed_roles == other_roles
