"""Integration fixtures: one sandbox per test session, reset before every test.

`aws(service)` makes a boto3 client for the sandbox; `aws.lambda_role(name)` (also fixture `lambda_role`) gets or
creates an execution role that Lambda may assume and that may read DynamoDB streams and write its logs (the
sandbox evaluates execution roles' policies, as AWS does).
`run_module` runs a module of this collection in-process (fast, so every option can be exercised);
`run_playbook` runs ansible-playbook in a subprocess against the same sandbox (the real path users take).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / "collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing-session",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"Service": "lambda.amazonaws.com"}}]}
# What AWS's managed AWSLambdaDynamoDBExecutionRole grants: read any stream, write logs.
STREAM_READER_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Resource": "*",
     "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                "dynamodb:ListStreams"]},
    {"Effect": "Allow", "Resource": "*",
     "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]},
]}


def make_lambda_role(iam: Any, name: str) -> str:
    """ARN of role *name*, created (trusting Lambda, with STREAM_READER_POLICY inline) if it does not exist."""
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="stream-reader", PolicyDocument=json.dumps(STREAM_READER_POLICY))
    return arn


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sandbox:
    def __init__(self, url: str, process: subprocess.Popen[str]):
        self.url = url
        self.process = process

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def reset(self) -> None:
        self._call("POST", "/_sandbox/reset", {})
        self._call("POST", "/_sandbox/config", {"throttle": 0, "iam_propagation_delay": 0, "mapping_transition": 0,
                                                "poller_start_delay": 0, "seed": None})
        self._call("POST", "/_sandbox/config", {"stream_shards": 1, "shard_rollover_seconds": 0,
                                                "shard_rollover_records": 0, "iam_evaluation": True})

    def configure(self, **knobs: Any) -> dict[str, Any]:
        return self._call("POST", "/_sandbox/config", knobs)

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/stats")

    def reset_stats(self) -> None:
        self._call("POST", "/_sandbox/stats/reset", {})


@pytest.fixture(scope="session")
def sandbox_env() -> dict[str, str]:
    return dict(TEST_CREDENTIALS)


@pytest.fixture(scope="session")
def _sandbox_process(sandbox_env: dict[str, str]):
    for key, value in sandbox_env.items():
        os.environ[key] = value
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "ready" not in line:
        proc.kill()
        rest = proc.stdout.read()
        pytest.fail(f"sandbox did not start: {line}{rest}")
    # Drain the sandbox's output in the background so its pipe never fills.
    import threading

    # One sandbox per pytest-xdist worker, each with its own log.
    log_path = ROOT / "tests" / "output" / f"sandbox-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)

    def drain() -> None:
        with open(log_path, "w", encoding="utf-8") as log:
            log.write(line)
            for out in proc.stdout:  # type: ignore[union-attr]
                log.write(out)
                log.flush()

    threading.Thread(target=drain, daemon=True).start()
    sandbox = Sandbox(f"http://127.0.0.1:{port}", proc)
    os.environ["AWS_ENDPOINT_URL"] = sandbox.url
    os.environ["SANDBOX_ENDPOINT_URL"] = sandbox.url
    yield sandbox
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def sandbox(_sandbox_process: Sandbox) -> Sandbox:
    _sandbox_process.reset()
    return _sandbox_process


@pytest.fixture
def aws(sandbox: Sandbox):
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120)

    def client(service: str, **kwargs: Any):
        return boto3.client(service, endpoint_url=sandbox.url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=kwargs.pop("config", config), **kwargs)

    client.lambda_role = lambda name="stream-reader-role": make_lambda_role(client("iam"), name)  # type: ignore[attr-defined]
    return client


@pytest.fixture
def lambda_role(aws):
    """Factory: lambda_role(name="stream-reader-role") -> ARN of a Lambda execution role that may read streams."""
    return aws.lambda_role


class ModuleExit(Exception):
    pass


@pytest.fixture
def run_module(sandbox: Sandbox):
    """Run streamops.dynamodb_lambda.<name> in-process; return its result dict (with `failed` on failure)."""
    from ansible_collections.streamops.dynamodb_lambda.tests.compat import patch_module_args

    def run(name: str, *, check: bool = False, diff: bool = False, **args: Any) -> dict[str, Any]:
        module = importlib.import_module(f"ansible_collections.streamops.dynamodb_lambda.plugins.modules.{name}")
        params = {"endpoint_url": sandbox.url, "region": REGION, "access_key": "testing",
                  "secret_key": "testing", **args, "_ansible_check_mode": check, "_ansible_diff": diff}
        out = io.StringIO()
        with patch_module_args(params), contextlib.redirect_stdout(out):
            try:
                module.main()
            except SystemExit:
                pass
        text = out.getvalue().strip()
        try:
            return json.loads(text.splitlines()[-1] if text else "{}")
        except json.JSONDecodeError:
            return {"failed": True, "msg": f"module printed non-JSON output: {text[-2000:]}"}

    return run


@pytest.fixture
def run_playbook(sandbox: Sandbox):
    def run(playbook: str | Path, extra_vars: dict[str, Any] | None = None, *args: str,
            env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        ev = {"streamops_endpoint_url": sandbox.url, "streamops_region": REGION, **(extra_vars or {})}
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-e", json.dumps(ev), *args]
        full_env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
                    "ANSIBLE_NOCOLOR": "1", **TEST_CREDENTIALS, **(env or {})}
        started = time.monotonic()
        # Callers assert on returncode themselves, with stdout/stderr in the failure message.
        proc = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout,
                              check=False)
        proc.duration = time.monotonic() - started  # type: ignore[attr-defined]
        return proc

    return run
