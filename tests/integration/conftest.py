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
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / "collections"
for path in (COLLECTIONS, ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# The one launcher and admin client of the sandbox (the benchmark and the demo use it too).
from sandbox.client import CREDENTIALS as TEST_CREDENTIALS, REGION, SandboxStartError  # noqa: E402
from sandbox.client import SandboxProcess as Sandbox  # noqa: E402
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


@pytest.fixture(scope="session")
def sandbox_env() -> dict[str, str]:
    return dict(TEST_CREDENTIALS)


@pytest.fixture(scope="session")
def _sandbox_process(sandbox_env: dict[str, str]):
    """One sandbox per pytest-xdist worker, each with its own log; every test's `sandbox` resets it."""
    for key, value in sandbox_env.items():
        os.environ[key] = value
    log_path = ROOT / "tests" / "output" / f"sandbox-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.log"
    try:
        sandbox = Sandbox(log_path=log_path, root=ROOT).start()
    except SandboxStartError as exc:
        pytest.fail(f"sandbox did not start: {exc}")
    os.environ["AWS_ENDPOINT_URL"] = sandbox.url
    os.environ["SANDBOX_ENDPOINT_URL"] = sandbox.url
    yield sandbox
    sandbox.stop()


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
