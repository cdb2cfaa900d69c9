"""stream_function against the sandbox: every option, check mode read back, diff, idempotence with zero writes,
ownership, IAM propagation retry, waits, and the API call budget of each state."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
import zipfile

import pytest

NAME = "sf-fn"
GROUP = f"/aws/lambda/{NAME}"
OWNER = {"streamops:managed-by": "streamops.dynamodb_lambda"}
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
HANDLER = "def lambda_handler(event, context):\n    return {'batchItemFailures': []}\n"


@pytest.fixture
def role_arn(aws):
    return aws("iam").create_role(RoleName="sf-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]


@pytest.fixture
def src(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (root / "handler.py").write_text(HANDLER)
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\0")
    (root / "notes.md").write_text("not shipped\n")
    return root


def deploy(run_module, src, role_arn, **args):
    params = {"function_name": NAME, "src": str(src), "handler": "handler.lambda_handler", "runtime": "python3.12",
              "role": role_arn, "exclude": ["*.md"], **args}
    return run_module("stream_function", **params)


def remove(run_module, **args):
    return run_module("stream_function", function_name=NAME, state="absent", **args)


def function(aws, name=NAME):
    lam = aws("lambda")
    try:
        return lam.get_function(FunctionName=name)
    except lam.exceptions.ResourceNotFoundException:
        return None


def log_group(aws, name=GROUP):
    logs = aws("logs")
    groups = [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name]
    if not groups:
        return None
    return {**groups[0], "tags": logs.list_tags_log_group(logGroupName=name)["tags"]}


def sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def calls(sandbox):
    stats = sandbox.stats()
    return {k: v for k, v in stats["calls"].items() if not k.startswith("iam:")}, stats


def writes(sandbox):
    return {k: v for k, v in sandbox.stats()["write_calls"].items() if not k.startswith("iam:")}


def test_stats_shape(sandbox):
    """The budget tests below read calls and writes per service:Operation."""
    stats = sandbox.stats()
    assert {"calls", "total", "writes", "write_calls"} <= set(stats), stats


def test_create_every_option_check_mode_diff_idempotent(run_module, aws, sandbox, src, role_arn, tmp_path):
    options = {"description": "stream handler", "memory_size": 256, "timeout": 30,
               "environment_variables": {"STREAMOPS_POISON_ATTRIBUTE": "poison", "LEVEL": 3},
               "tags": {"team": "data"}, "log_retention_days": 14, "package_path": str(tmp_path / "pkg" / "fn.zip"),
               "role_wait_timeout": 30, "wait_timeout": 60}

    sandbox.reset_stats()
    checked = deploy(run_module, src, role_arn, check=True, diff=True, **options)
    assert checked.get("failed") is not True, checked
    assert checked["changed"] is True
    assert checked["operations"] == ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "lambda:CreateFunction"]
    assert checked["function_arn"] is None and checked["state"] is None
    assert checked["diff"]["before"] == {"function": {}, "log_group": {}}
    after = checked["diff"]["after"]
    assert after["log_group"] == {"log_group_name": GROUP, "retention_days": 14, "tags": {"team": "data", **OWNER}}
    assert after["function"]["memory_size"] == 256
    assert after["function"]["environment_variables"] == {"STREAMOPS_POISON_ATTRIBUTE": "poison", "LEVEL": "3"}
    # Check mode wrote nothing (the package artifact aside) and only read.
    assert function(aws) is None and log_group(aws) is None
    assert writes(sandbox) == {}
    package = (tmp_path / "pkg" / "fn.zip").read_bytes()
    assert checked["code_sha256"] == sha(package) == checked["package"]["sha256"]
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert archive.namelist() == ["handler.py"]

    sandbox.reset_stats()
    created = deploy(run_module, src, role_arn, diff=True, **options)
    assert created.get("failed") is not True, created
    # Budget, cold: DescribeLogGroups, CreateLogGroup (tags included), PutRetentionPolicy, GetFunction (not
    # found), CreateFunction (tags included), GetFunctionConfiguration until Active.
    cold, stats = calls(sandbox)
    assert cold == {"logs:DescribeLogGroups": 1, "logs:CreateLogGroup": 1, "logs:PutRetentionPolicy": 1,
                    "lambda:GetFunction": 1, "lambda:CreateFunction": 1, "lambda:GetFunctionConfiguration": 1}, stats
    assert sum(cold.values()) <= 6
    assert created["changed"] is True and created["code_uploaded"] is True
    assert created["operations"] == checked["operations"]
    assert created["diff"] == checked["diff"]
    fn = function(aws)
    config = fn["Configuration"]
    assert created["function_arn"] == config["FunctionArn"] and created["function_arn"].endswith(f":function:{NAME}")
    assert (config["Runtime"], config["Handler"], config["Role"], config["Description"], config["MemorySize"],
            config["Timeout"]) == ("python3.12", "handler.lambda_handler", role_arn, "stream handler", 256, 30)
    assert config["Environment"]["Variables"] == {"STREAMOPS_POISON_ATTRIBUTE": "poison", "LEVEL": "3"}
    assert config["CodeSha256"] == created["code_sha256"] == sha(package)
    assert fn["Tags"] == {"team": "data", **OWNER}
    assert (created["state"], created["last_update_status"]) == ("Active", "Successful")
    group = log_group(aws)
    assert group["retentionInDays"] == 14 and group["tags"] == {"team": "data", **OWNER}
    assert created["log_group_arn"] == group["logGroupArn"]
    assert (created["log_retention_days"], created["log_group_tags"]) == (14, {"team": "data", **OWNER})

    # Idempotent: a check run and a real run report nothing and write nothing; three reads each.
    for check in (True, False):
        sandbox.reset_stats()
        again = deploy(run_module, src, role_arn, check=check, diff=True, **options)
        assert again.get("failed") is not True, again
        assert again["changed"] is False and again["operations"] == [], again
        assert again["diff"]["before"] == again["diff"]["after"]
        assert again["function_arn"] == created["function_arn"]
        rerun, stats = calls(sandbox)
        assert rerun == {"logs:DescribeLogGroups": 1, "logs:ListTagsForResource": 1, "lambda:GetFunction": 1}, stats
        assert writes(sandbox) == {}


def test_update_configuration_code_tags_retention_in_place(run_module, aws, sandbox, src, role_arn):
    assert deploy(run_module, src, role_arn, log_retention_days=7, tags={"a": "1", "b": "2"})["changed"]
    first = function(aws)["Configuration"]
    aws("iam").create_role(RoleName="sf-role-2", AssumeRolePolicyDocument=json.dumps(TRUST))
    other_role = role_arn.replace("sf-role", "sf-role-2")

    # Configuration only: the code is not uploaded again.
    sandbox.reset_stats()
    check = deploy(run_module, src, other_role, check=True, diff=True, memory_size=512, timeout=60,
                   description="new", environment_variables={"XY": "1"}, runtime="python3.11",
                   tags={"a": "1", "c": "3"}, log_retention_days=None)
    assert check["changed"] is True and writes(sandbox) == {}
    assert check["operations"] == ["logs:DeleteRetentionPolicy", "logs:TagResource", "logs:UntagResource",
                                   "lambda:UpdateFunctionConfiguration", "lambda:TagResource",
                                   "lambda:UntagResource"]
    before, after = check["diff"]["before"], check["diff"]["after"]
    assert (before["function"]["memory_size"], after["function"]["memory_size"]) == (128, 512)
    assert (before["log_group"]["retention_days"], after["log_group"]["retention_days"]) == (7, None)
    assert after["function"]["tags"] == {"a": "1", "c": "3", **OWNER}
    assert function(aws)["Configuration"]["MemorySize"] == 128

    updated = deploy(run_module, src, other_role, memory_size=512, timeout=60, description="new",
                     environment_variables={"XY": "1"}, runtime="python3.11", tags={"a": "1", "c": "3"},
                     log_retention_days=None)
    assert updated["changed"] is True and updated["code_uploaded"] is False, updated
    assert updated["operations"] == check["operations"]
    fn = function(aws)
    config = fn["Configuration"]
    assert (config["MemorySize"], config["Timeout"], config["Description"], config["Runtime"], config["Role"]) == \
        (512, 60, "new", "python3.11", other_role)
    assert config["Environment"]["Variables"] == {"XY": "1"}
    assert config["CodeSha256"] == first["CodeSha256"]
    assert config["LastUpdateStatus"] == "Successful"
    assert fn["Tags"] == {"a": "1", "c": "3", **OWNER}
    group = log_group(aws)
    assert "retentionInDays" not in group and group["tags"] == {"a": "1", "c": "3", **OWNER}

    # Code only: a changed source is uploaded, the configuration untouched; the environment can be emptied.
    (src / "handler.py").write_text(HANDLER + "# v2\n")
    sandbox.reset_stats()
    code = deploy(run_module, src, other_role, memory_size=512, timeout=60, description="new",
                  environment_variables={}, runtime="python3.11", tags={"a": "1", "c": "3"},
                  log_retention_days=None)
    assert code["operations"] == ["lambda:UpdateFunctionConfiguration", "lambda:UpdateFunctionCode"], code
    assert code["code_uploaded"] is True and code["environment_variables"] == {}
    config = function(aws)["Configuration"]
    assert config["CodeSha256"] == code["code_sha256"] != first["CodeSha256"]
    assert (config.get("Environment") or {}).get("Variables", {}) == {}
    assert writes(sandbox) == {"lambda:UpdateFunctionConfiguration": 1, "lambda:UpdateFunctionCode": 1}

    # tags omitted: other tags are left alone, the owner tag stays.
    sandbox.reset_stats()
    same = deploy(run_module, src, other_role, memory_size=512, timeout=60, description="new",
                  runtime="python3.11")
    assert same["changed"] is False and writes(sandbox) == {}, same
    assert same["tags"] == {"a": "1", "c": "3", **OWNER}


def test_busy_function_is_awaited_before_an_update(run_module, aws, sandbox, src, role_arn):
    deploy(run_module, src, role_arn)
    # A change made behind the module's back leaves LastUpdateStatus InProgress in the sandbox's answer.
    aws("lambda").update_function_configuration(FunctionName=NAME, Timeout=9)
    sandbox.reset_stats()
    fixed = deploy(run_module, src, role_arn, timeout=3, memory_size=256)
    assert fixed.get("failed") is not True, fixed
    assert fixed["operations"] == ["lambda:UpdateFunctionConfiguration"]
    assert (fixed["timeout"], fixed["memory_size"], fixed["last_update_status"]) == (3, 256, "Successful")


def test_rides_out_iam_propagation(run_module, aws, sandbox, src):
    """Keep the role 'just changed' until the first CreateFunction, so that call is always refused; the module
    retries only that error and then creates the function."""
    iam = aws("iam")
    sandbox.configure(iam_propagation_delay=3)
    arn = iam.create_role(RoleName="sf-fresh", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    stop = threading.Event()

    def keep_changing_role() -> None:
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            if sandbox.stats()["calls"].get("lambda:CreateFunction", 0) >= 1:
                return
            iam.put_role_policy(RoleName="sf-fresh", PolicyName="touch", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:GetObject",
                                                         "Resource": f"arn:aws:s3:::touch-{time.monotonic_ns()}"}]}))
            stop.wait(0.3)

    toucher = threading.Thread(target=keep_changing_role, daemon=True)
    toucher.start()
    try:
        created = deploy(run_module, src, arn, role_wait_timeout=60)
    finally:
        stop.set()
        toucher.join(timeout=10)
    assert created.get("failed") is not True, created
    assert sandbox.stats()["calls"]["lambda:CreateFunction"] >= 2
    assert function(aws)["Configuration"]["State"] == "Active"


def test_iam_propagation_gives_up_after_role_wait_timeout(run_module, aws, sandbox, src):
    iam = aws("iam")
    sandbox.configure(iam_propagation_delay=30)
    arn = iam.create_role(RoleName="sf-fresh", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    failed = deploy(run_module, src, arn, role_wait_timeout=1)
    assert failed["failed"] is True and "cannot be assumed by Lambda" in failed["msg"], failed
    assert function(aws) is None
    # The log group came first; a re-run finds it and does not create it again.
    assert log_group(aws) is not None


def test_absent_deletes_what_is_ours_within_budget_and_is_idempotent(run_module, aws, sandbox, src, role_arn):
    created = deploy(run_module, src, role_arn)
    sandbox.reset_stats()
    check = remove(run_module, check=True, diff=True)
    assert check["changed"] is True and writes(sandbox) == {}
    assert check["deleted"] == [f"function {NAME}", f"log group {GROUP}"] and check["not_owned"] == []
    assert check["diff"]["after"] == {} and set(check["diff"]["before"]) == {"function", "log_group"}
    assert function(aws) is not None and log_group(aws) is not None

    sandbox.reset_stats()
    gone = remove(run_module, diff=True)
    assert gone["changed"] is True and gone["operations"] == ["lambda:DeleteFunction", "logs:DeleteLogGroup"]
    teardown, stats = calls(sandbox)
    assert teardown == {"lambda:GetFunction": 1, "lambda:DeleteFunction": 1, "logs:ListTagsForResource": 1,
                        "logs:DeleteLogGroup": 1}, stats
    assert gone["function_arn"] is None and created["function_arn"]
    assert function(aws) is None and log_group(aws) is None

    sandbox.reset_stats()
    again = remove(run_module)
    assert again["changed"] is False and again["deleted"] == [] and again["not_owned"] == []
    assert writes(sandbox) == {}
    assert sum(calls(sandbox)[0].values()) <= 4


def test_absent_leaves_what_is_not_ours(run_module, aws, sandbox, src, role_arn, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", HANDLER)
    aws("lambda").create_function(FunctionName=NAME, Runtime="python3.12", Role=role_arn,
                                  Handler="handler.lambda_handler", Code={"ZipFile": buffer.getvalue()},
                                  Tags={"streamops:managed-by": "someone-else"})
    aws("logs").create_log_group(logGroupName=GROUP)
    aws("logs").create_log_group(logGroupName=GROUP + "-other", tags=OWNER)
    sandbox.reset_stats()
    kept = remove(run_module, diff=True)
    assert kept["changed"] is False and kept["deleted"] == [], kept
    assert kept["not_owned"] == [f"function {NAME} (no tag streamops:managed-by=streamops.dynamodb_lambda)",
                                 f"log group {GROUP} (no tag streamops:managed-by=streamops.dynamodb_lambda)"]
    assert writes(sandbox) == {}
    assert function(aws) is not None and log_group(aws) is not None
    assert log_group(aws, GROUP + "-other") is not None

    # A different owner tag: only what carries it goes.
    aws("logs").tag_resource(resourceArn=log_group(aws)["logGroupArn"], tags={"owner": "me"})
    mine = remove(run_module, owner_tag={"owner": "me"})
    assert mine["deleted"] == [f"log group {GROUP}"] and mine["not_owned"] == [
        f"function {NAME} (no tag owner=me)"], mine
    assert function(aws) is not None and log_group(aws) is None


def test_log_group_without_function_is_deleted_only_when_ours(run_module, aws, sandbox):
    aws("logs").create_log_group(logGroupName=GROUP, tags=OWNER)
    sandbox.reset_stats()
    gone = remove(run_module)
    assert sum(calls(sandbox)[0].values()) <= 4
    assert gone["deleted"] == [f"log group {GROUP}"] and log_group(aws) is None


def test_present_takes_over_an_existing_log_group(run_module, aws, sandbox, src, role_arn):
    """A log group Lambda created (no retention, no tags) gets both before the function is created."""
    aws("logs").create_log_group(logGroupName=GROUP)
    created = deploy(run_module, src, role_arn, log_retention_days=30)
    assert created["operations"][:2] == ["logs:PutRetentionPolicy", "logs:TagResource"], created
    group = log_group(aws)
    assert group["retentionInDays"] == 30 and group["tags"] == OWNER


@pytest.mark.parametrize("args, option", [
    ({"function_name": "bad name"}, "name"),
    ({"function_name": "x" * 65}, "name"),
    ({"role": "sf-role"}, "role"),
    ({"role": None}, "role"),
    ({"src": None}, "src"),
    ({"handler": None}, "handler"),
    ({"runtime": None}, "runtime"),
    ({"memory_size": 64}, "memory_size"),
    ({"timeout": 901}, "timeout"),
    ({"log_retention_days": 8}, "log_retention_days"),
    ({"environment_variables": {"AWS_REGION": "x"}}, "environment_variables"),
    ({"environment_variables": {"X": "1"}}, "environment_variables"),
    ({"tags": {"aws:x": "1"}}, "tags"),
    ({"owner_tag": {}}, "owner_tag"),
    ({"handler": "handler.missing"}, "handler"),
    ({"runtime": "nodejs20.x"}, "handler"),
    ({"src": "/nonexistent/src"}, "src"),
])
def test_bad_input_fails_naming_the_option_without_aws_calls(run_module, sandbox, src, args, option):
    sandbox.reset_stats()
    params = {"function_name": NAME, "src": str(src), "handler": "handler.lambda_handler", "runtime": "python3.12",
              "role": "arn:aws:iam::123456789012:role/sf-role", **args}
    failed = run_module("stream_function", **{k: v for k, v in params.items() if v is not None})
    assert failed["failed"] is True and failed["msg"].startswith(option + ":"), failed
    assert sandbox.stats()["total"] == 0
