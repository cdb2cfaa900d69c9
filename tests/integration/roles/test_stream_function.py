"""The stream_function role through ansible-playbook against the sandbox."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
import zipfile
from pathlib import Path

import pytest

PLAYBOOK = Path(__file__).parent / "playbooks" / "stream_function.yml"
OWNER = "streamops.dynamodb_lambda"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}


def play(run_playbook, extra_vars, *args, env=None):
    """Run the playbook with the json callback.

    Returns (stats for localhost, reported facts, failure messages, the stream_function module's result): the role
    does the function and its log group in one module call, whose result says what it did (operations)."""
    proc = run_playbook(PLAYBOOK, extra_vars, *args,
                        env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", **(env or {})})
    try:
        out = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON from ansible-playbook (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    facts, failures, module = None, [], None
    for p in out["plays"]:
        for task in p["tasks"]:
            result = task["hosts"].get("localhost", {})
            if result.get("failed") and not result.get("failed_when_result") is False:
                failures.append(result.get("msg", ""))
            if task["task"]["name"] == "Report the published facts":
                facts = result.get("msg")
            if "operations" in result:
                module = result
    stats = out["stats"].get("localhost", {})
    stats["duration"] = proc.duration
    return stats, facts, failures, module


@pytest.fixture
def cache(tmp_path):
    return {"XDG_CACHE_HOME": str(tmp_path / "cache")}


@pytest.fixture
def role_arn(aws):
    return aws("iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]


def function(aws, name="fn"):
    lam = aws("lambda")
    try:
        return lam.get_function(FunctionName=name)
    except lam.exceptions.ResourceNotFoundException:
        return None


def log_group(aws, name="/aws/lambda/fn"):
    logs = aws("logs")
    groups = [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name]
    if not groups:
        return None
    return {**groups[0], "tags": logs.list_tags_log_group(logGroupName=name)["tags"]}


def test_deploy_idempotent_update_and_absent(run_playbook, aws, role_arn, cache, tmp_path):
    ev = {"stream_function_name": "fn", "stream_function_role_arn": role_arn,
          "stream_function_environment": {"STREAMOPS_POISON_ATTRIBUTE": "poison"}}
    checked, facts, failures, module = play(run_playbook, ev, "--check", env=cache)
    # One task does both: the log group (first) and the function.
    assert checked["failures"] == 0 and checked["changed"] == 1, failures
    assert module["operations"] == ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "lambda:CreateFunction"]
    assert function(aws) is None and log_group(aws) is None
    assert facts["stream_function_arn"].endswith(":function:fn")

    first, facts, failures, module = play(run_playbook, ev, env=cache)
    assert first["failures"] == 0 and first["changed"] == 1, failures
    assert module["operations"] == ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "lambda:CreateFunction"]
    fn = function(aws)
    config = fn["Configuration"]
    assert facts["stream_function_arn"] == config["FunctionArn"]
    # The record log is on by default: the wrapper is the Handler and carries the handler in STREAMOPS_HANDLER.
    assert (config["Runtime"], config["Handler"], config["MemorySize"], config["Timeout"]) == \
        ("python3.12", "streamops_record_log.lambda_handler", 128, 30)
    assert config["Role"] == role_arn
    assert config["Environment"]["Variables"] == {"STREAMOPS_POISON_ATTRIBUTE": "poison",
                                                  "STREAMOPS_HANDLER": "handler.lambda_handler"}
    assert config["State"] == "Active"
    assert fn["Tags"] == {"streamops:managed-by": OWNER}
    package = tmp_path / "cache" / "streamops.dynamodb_lambda" / "fn.zip"
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(package.read_bytes()).digest()).decode()
    with zipfile.ZipFile(io.BytesIO(package.read_bytes())) as archive:
        assert archive.namelist() == ["handler.py", "streamops_record_log.py"]
    group = log_group(aws)
    assert group["retentionInDays"] == 7 and group["tags"] == {"streamops:managed-by": OWNER}

    second, facts2, _failures, module = play(run_playbook, ev, env=cache)
    assert module["operations"] == []
    assert second["changed"] == 0 and second["failures"] == 0, second
    assert facts2 == facts

    # A configuration change is applied in place; the code (same bytes) is not uploaded again.
    updated, _facts, failures, module = play(run_playbook, {**ev, "stream_function_memory": 256,
                                                            "stream_function_log_retention_days": 14}, env=cache)
    assert updated["failures"] == 0 and updated["changed"] == 1, failures
    assert module["operations"] == ["logs:PutRetentionPolicy", "lambda:UpdateFunctionConfiguration"]
    assert module["code_uploaded"] is False
    assert function(aws)["Configuration"]["MemorySize"] == 256
    assert function(aws)["Configuration"]["CodeSha256"] == config["CodeSha256"]
    assert log_group(aws)["retentionInDays"] == 14

    gone, facts, failures, module = play(run_playbook, {**ev, "stream_function_state": "absent"}, env=cache)
    assert gone["failures"] == 0 and gone["changed"] == 1, failures
    assert module["operations"] == ["lambda:DeleteFunction", "logs:DeleteLogGroup"]
    assert function(aws) is None and log_group(aws) is None
    assert facts["stream_function_arn"] is None
    again, _facts, failures, _module = play(run_playbook, {**ev, "stream_function_state": "absent"}, env=cache)
    assert again["failures"] == 0 and again["changed"] == 0, failures


def test_changed_source_uploads_new_code(run_playbook, aws, role_arn, cache, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "handler.py").write_text("def lambda_handler(event, context):\n    return 1\n")
    ev = {"stream_function_name": "fn", "stream_function_role_arn": role_arn, "stream_function_source": str(src)}
    first, _facts, failures, _module = play(run_playbook, ev, env=cache)
    assert first["failures"] == 0, failures
    sha = function(aws)["Configuration"]["CodeSha256"]
    (src / "handler.py").write_text("def lambda_handler(event, context):\n    return 2\n")
    second, _facts, failures, module = play(run_playbook, ev, env=cache)
    assert second["failures"] == 0 and second["changed"] == 1, failures
    assert module["operations"] == ["lambda:UpdateFunctionCode"]
    assert function(aws)["Configuration"]["CodeSha256"] != sha


def test_rides_out_iam_propagation(run_playbook, aws, sandbox, cache):
    """Keep the role 'just changed' until the role's first CreateFunction, so that call is always refused."""
    sandbox.configure(iam_propagation_delay=3)
    iam = aws("iam")
    arn = iam.create_role(RoleName="fresh-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    stop = threading.Event()

    def keep_changing_role() -> None:
        deadline = time.monotonic() + 300
        while not stop.is_set() and time.monotonic() < deadline:
            if sandbox.stats()["calls"].get("lambda:CreateFunction", 0) >= 1:
                return
            iam.put_role_policy(RoleName="fresh-role", PolicyName="touch", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:GetObject",
                                                         "Resource": f"arn:aws:s3:::touch-{time.monotonic_ns()}"}]}))
            stop.wait(0.5)

    toucher = threading.Thread(target=keep_changing_role, daemon=True)
    toucher.start()
    try:
        done, _facts, failures, _module = play(run_playbook, {"stream_function_name": "fn",
                                                              "stream_function_role_arn": arn}, env=cache)
    finally:
        stop.set()
        toucher.join(timeout=10)
    assert done["failures"] == 0 and done["changed"] == 1, failures
    assert function(aws)["Configuration"]["State"] == "Active"
    assert sandbox.stats()["calls"]["lambda:CreateFunction"] >= 2  # refused at least once, then created


def test_absent_leaves_unmanaged_function_and_log_group(run_playbook, aws, role_arn, cache):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(e, c):\n    return 0\n")
    aws("lambda").create_function(FunctionName="fn", Runtime="python3.12", Role=role_arn,
                                  Handler="handler.lambda_handler", Code={"ZipFile": buffer.getvalue()})
    aws("logs").create_log_group(logGroupName="/aws/lambda/fn")
    aws("logs").create_log_group(logGroupName="/aws/lambda/fn-other", tags={"streamops:managed-by": OWNER})
    gone, _facts, failures, module = play(run_playbook, {"stream_function_name": "fn",
                                                         "stream_function_state": "absent"}, env=cache)
    assert gone["failures"] == 0 and gone["changed"] == 0, failures
    assert module["not_owned"] == [
        "function fn (no tag streamops:managed-by=streamops.dynamodb_lambda)",
        "log group /aws/lambda/fn (no tag streamops:managed-by=streamops.dynamodb_lambda)"], module
    assert function(aws) is not None and log_group(aws) is not None
    assert log_group(aws, "/aws/lambda/fn-other") is not None


@pytest.mark.parametrize("extra,variable", [
    ({"stream_function_source": "/nonexistent/handler"}, "stream_function_source"),
    ({"stream_function_handler": "handler.missing"}, "stream_function_handler"),
    ({"stream_function_runtime": "nodejs20.x"}, "stream_function_handler"),
    ({"stream_function_role_arn": "fn-role"}, "stream_function_role_arn"),
    ({"stream_function_memory": 64}, "stream_function_memory"),
    ({"stream_function_timeout": 0}, "stream_function_timeout"),
    ({"stream_function_role_arn": None}, "stream_function_role_arn"),
    ({"stream_function_name": "bad name"}, "stream_function_name"),
    ({"stream_function_environment": {"AWS_REGION": "x"}}, "stream_function_environment"),
    # Checked by the module (the argument spec has no rule for them): the message names the variable.
    ({"stream_function_layers": ["arn:aws:lambda:eu-west-1:123456789012:layer:libs:1"]}, "stream_function_layers[0]"),
    ({"stream_function_ephemeral_storage": 100}, "stream_function_ephemeral_storage"),
    ({"stream_function_reserved_concurrency": -1}, "stream_function_reserved_concurrency"),
    ({"stream_function_kms_key_arn": "alias/mine"}, "stream_function_kms_key_arn"),
    ({"stream_function_application_log_level": "DEBUG"}, "stream_function_application_log_level"),
    # A nested key keeps its path: the module's vpc_config.subnet_ids[0] is the role's stream_function_vpc...
    ({"stream_function_vpc": {"subnet_ids": ["subnet-x"], "security_group_ids": ["sg-0123456789abcdef0"]}},
     "stream_function_vpc.subnet_ids[0]"),
    ({"stream_function_vpc": {"subnet_ids": [], "security_group_ids": ["sg-0123456789abcdef0"]}},
     "stream_function_vpc.subnet_ids"),
])
def test_bad_input_fails_before_any_aws_change(run_playbook, aws, sandbox, role_arn, cache, extra, variable):
    sandbox.reset_stats()
    bad, _facts, failures, _module = play(run_playbook, {"stream_function_name": "fn",
                                                         "stream_function_role_arn": role_arn, **extra}, env=cache)
    assert bad["failures"] == 1 and failures and variable in failures[-1], failures
    # The module names the option at fault; the role reports it as the variable the user set.
    assert failures[-1].startswith(variable + ":"), failures
    assert sandbox.stats()["total"] == 0


def test_call_budget_cold_rerun_teardown(run_playbook, aws, sandbox, role_arn, cache):
    """The role's AWS calls (IAM aside: the fixture's role): cold setup <= 6, re-run <= 3 reads and no write,
    teardown <= 4, second teardown no write."""
    def lambda_and_logs():
        stats = sandbox.stats()
        calls = {k: v for k, v in stats["calls"].items() if not k.startswith("iam:")}
        writes = {k: v for k, v in stats["write_calls"].items() if not k.startswith("iam:")}
        sandbox.reset_stats()
        return calls, writes

    ev = {"stream_function_name": "fn", "stream_function_role_arn": role_arn}
    sandbox.reset_stats()
    cold, _facts, failures, _module = play(run_playbook, ev, env=cache)
    assert cold["failures"] == 0, failures
    calls, writes = lambda_and_logs()
    assert calls == {"logs:DescribeLogGroups": 1, "logs:CreateLogGroup": 1, "logs:PutRetentionPolicy": 1,
                     "lambda:GetFunction": 1, "lambda:CreateFunction": 1, "lambda:GetFunctionConfiguration": 1}, calls
    assert sum(calls.values()) <= 6

    rerun, _facts, failures, _module = play(run_playbook, ev, env=cache)
    assert rerun["failures"] == 0 and rerun["changed"] == 0, failures
    calls, writes = lambda_and_logs()
    assert writes == {} and sum(calls.values()) <= 3, calls

    down, _facts, failures, _module = play(run_playbook, {**ev, "stream_function_state": "absent"}, env=cache)
    assert down["failures"] == 0 and down["changed"] == 1, failures
    calls, writes = lambda_and_logs()
    assert calls == {"lambda:GetFunction": 1, "lambda:DeleteFunction": 1, "logs:ListTagsForResource": 1,
                     "logs:DeleteLogGroup": 1}, calls

    again, _facts, failures, _module = play(run_playbook, {**ev, "stream_function_state": "absent"}, env=cache)
    assert again["failures"] == 0 and again["changed"] == 0, failures
    calls, writes = lambda_and_logs()
    assert writes == {} and sum(calls.values()) <= 4, calls


def test_function_settings_through_role_variables(run_playbook, aws, sandbox, role_arn, cache):
    """Every setting variable reaches the function; a re-run writes nothing; back to the defaults removes them."""
    lam = aws("lambda")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("python/shared.py", "X = 1\n")
    layer = lam.publish_layer_version(LayerName="fn-layer", Content={"ZipFile": zipped.getvalue()},
                                      CompatibleArchitectures=["arm64"])["LayerVersionArn"]
    key = aws("kms").create_key()["KeyMetadata"]["Arn"]
    settings = {"stream_function_architecture": "arm64", "stream_function_layers": [layer],
                "stream_function_tracing": "Active", "stream_function_log_format": "JSON",
                "stream_function_application_log_level": "WARN", "stream_function_system_log_level": "WARN",
                "stream_function_reserved_concurrency": 2, "stream_function_ephemeral_storage": 2048,
                "stream_function_kms_key_arn": key}
    base = {"stream_function_name": "fn", "stream_function_role_arn": role_arn}
    first, _facts, failures, module = play(run_playbook, {**base, **settings}, env=cache)
    assert first["failures"] == 0, failures
    found = lam.get_function(FunctionName="fn")
    conf = found["Configuration"]
    assert conf["Architectures"] == ["arm64"] and [x["Arn"] for x in conf["Layers"]] == [layer]
    assert conf["TracingConfig"] == {"Mode": "Active"} and conf["EphemeralStorage"] == {"Size": 2048}
    assert conf["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "WARN", "SystemLogLevel": "WARN",
                                     "LogGroup": "/aws/lambda/fn"}
    assert conf["KMSKeyArn"] == key
    assert lam.get_function_concurrency(FunctionName="fn")["ReservedConcurrentExecutions"] == 2

    sandbox.reset_stats()
    again, _facts, failures, module = play(run_playbook, {**base, **settings}, env=cache)
    assert again["failures"] == 0 and again["changed"] == 0, (failures, module)
    assert sandbox.stats()["writes"] == 0

    back, _facts, failures, module = play(run_playbook, base, env=cache)
    assert back["failures"] == 0 and back["changed"] == 1, failures
    conf = lam.get_function(FunctionName="fn")["Configuration"]
    assert conf["Architectures"] == ["x86_64"] and not conf.get("Layers") and "KMSKeyArn" not in conf
    assert conf["TracingConfig"] == {"Mode": "PassThrough"} and conf["LoggingConfig"]["LogFormat"] == "Text"
    assert lam.get_function_concurrency(FunctionName="fn").get("ReservedConcurrentExecutions") is None
