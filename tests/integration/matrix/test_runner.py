"""Setup and teardown as AWX/AAP run them: ansible-runner, a private data dir, the collection installed from its
built tarball, on whichever ansible-core runs the tests (the controller matrix runs this on 2.17, 2.18 and 2.19,
tox-ansible.ini).

On 2.19 the modules run in a fork of the controller; on 2.17/2.18 ansible-core has no module loader to fork with, so
every module runs the normal way and the run says so in exactly one warning. A second run on 2.19 takes that loader
away from the plugin (a sitecustomize, as a release that moved it would) to show the same fallback there, and a
third switches the fork off (STREAMOPS_IN_PROCESS=0), which is silent but said at -vvv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.release import __version__ as ANSIBLE_CORE

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
FQCN = f"{GALAXY['namespace']}.{GALAXY['name']}"
CORE = tuple(int(p) for p in ANSIBLE_CORE.split(".")[:2])
FUNCTION = "Lambda_demo_DynamoDB_stream"
TABLE = "users_post"
WARNING = "streamops.dynamodb_lambda: modules run as normal modules"

# Loaded by every Python the run starts (PYTHONPATH); in ansible-playbook only, after ansible-core has imported its
# own copy of the loader, it makes later imports of the loader fail.
BREAK_LOADER = """
import os, sys
if os.path.basename(sys.argv[0] if sys.argv else "") == "ansible-playbook":
    import ansible.executor.module_common  # noqa: F401  (imports the loader for ansible-core itself)
    sys.modules["ansible.module_utils._internal._ansiballz._loader"] = None
"""


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False, **kwargs)


@pytest.fixture(scope="module")
def collections_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built tarball, installed into a collections path of its own (the checkout's collections/ link unused)."""
    base = tmp_path_factory.mktemp("runner-artifact")
    collections = base / "collections"
    (base / "ansible.cfg").write_text("[defaults]\n")
    # Neither the checkout's ansible.cfg (its collections/ link would make the install answer "already installed")
    # nor ~/.ansible may take part.
    env = {**os.environ, "ANSIBLE_CONFIG": str(base / "ansible.cfg"), "ANSIBLE_HOME": str(base / "home"),
           "ANSIBLE_COLLECTIONS_PATH": str(collections)}
    proc = _run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(base), str(ROOT)], env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tarball,) = base.glob("*.tar.gz")
    proc = _run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "-p",
                 str(collections), str(tarball)], cwd=base, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    manifest = collections / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"] / "MANIFEST.json"
    assert manifest.is_file(), proc.stdout + proc.stderr
    return collections


def _runner(playbook: str, data_dir: Path, collections: Path, sandbox, extra_env: dict[str, str], verbosity: int = 0):
    import ansible_runner  # pylint: disable=import-outside-toplevel

    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "ansible.cfg"
    config.write_text(f"[defaults]\ncollections_path = {collections}\nretry_files_enabled = false\n")
    envvars = {
        "ANSIBLE_CONFIG": str(config),
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_HOME": str(data_dir / "home"),
        # ansible-playbook of this environment (tox puts its bin first; the runner finds the command on PATH).
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        **extra_env,
    }
    result = ansible_runner.run(private_data_dir=str(data_dir), playbook=f"{FQCN}.{playbook}", envvars=envvars,
                                extravars={"streamops_endpoint_url": sandbox.url, "streamops_region": "us-east-1"},
                                quiet=True, timeout=600, verbosity=verbosity)
    stdout = result.stdout.read()
    return result, stdout


# switched_off: STREAMOPS_IN_PROCESS=0, the user's own way to the normal execution (silent, said at -vvv).
CASES = ["as_installed"] + (["loader_taken_away", "switched_off"] if CORE >= (2, 19) else [])
SWITCHED_OFF = "runs as a normal module: STREAMOPS_IN_PROCESS=0"


@pytest.fixture(scope="module", params=CASES)
def setup_run(request, collections_path, _sandbox_process, tmp_path_factory):
    """setup.yml under ansible-runner once per case (the sandbox reset first); its result, output and env."""
    case = request.param
    tmp = tmp_path_factory.mktemp(f"runner-{case}")
    extra_env = {}
    if case == "loader_taken_away":
        site = tmp / "break-loader"
        site.mkdir()
        (site / "sitecustomize.py").write_text(BREAK_LOADER)
        extra_env["PYTHONPATH"] = str(site)
    if case == "switched_off":
        extra_env["STREAMOPS_IN_PROCESS"] = "0"
    _sandbox_process.reset()
    result, out = _runner("setup", tmp / "setup", collections_path, _sandbox_process, extra_env,
                          verbosity=3 if case == "switched_off" else 0)
    return {"case": case, "result": result, "out": out, "env": extra_env, "tmp": tmp,
            "fallback": case == "loader_taken_away" or CORE < (2, 19)}


def _ok_actions(result):
    """The modules of the task results the runner reported ok (its job events, what AWX stores)."""
    return {e["event_data"].get("resolved_action") for e in result.events if e.get("event") == "runner_on_ok"}


def test_modules_run_and_a_missing_fork_warns_once_per_run(setup_run):
    out = setup_run["out"]
    # One warning per run (per ansible-playbook), not one per task, when the fork is not available; none otherwise.
    warnings = [line for line in out.splitlines() if "WARNING" in line]
    assert out.count(WARNING) == (1 if setup_run["fallback"] else 0), json.dumps(warnings)
    assert (SWITCHED_OFF in out) == (setup_run["case"] == "switched_off")
    # meta/runtime.yml's requires_ansible covers every controller of the matrix.
    assert "does not support Ansible version" not in out, json.dumps(warnings)
    # This collection's modules ran, from the installed copy, whichever way (the first role's module and the
    # function's package check).
    actions = _ok_actions(setup_run["result"])
    assert {f"{FQCN}.dynamodb_stream", f"{FQCN}.lambda_package"} <= actions, (actions, out[-3000:])


def test_setup_and_teardown_under_ansible_runner_from_the_tarball(setup_run, collections_path, _sandbox_process):
    def aws(service):  # not the `aws` fixture: its sandbox fixture would reset what setup created
        import boto3  # pylint: disable=import-outside-toplevel

        return boto3.client(service, endpoint_url=_sandbox_process.url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    setup, setup_out = setup_run["result"], setup_run["out"]
    assert (setup.status, setup.rc) == ("successful", 0), setup_out[-6000:]
    lam = aws("lambda")
    function = lam.get_function(FunctionName=FUNCTION)["Configuration"]
    mappings = lam.list_event_source_mappings(FunctionName=FUNCTION)["EventSourceMappings"]
    assert len(mappings) == 1 and mappings[0]["State"] == "Enabled", mappings
    assert mappings[0]["FunctionArn"] == function["FunctionArn"]
    table = aws("dynamodb").describe_table(TableName=TABLE)["Table"]
    assert mappings[0]["EventSourceArn"] == table["LatestStreamArn"]
    assert {f"{FQCN}.stream_trigger", f"{FQCN}.stream_function", f"{FQCN}.execution_role"} <= _ok_actions(setup)

    teardown, teardown_out = _runner("teardown", setup_run["tmp"] / "teardown", collections_path, _sandbox_process,
                                     setup_run["env"])
    assert (teardown.status, teardown.rc) == ("successful", 0), teardown_out[-6000:]
    assert teardown_out.count(WARNING) == (1 if setup_run["fallback"] else 0)
    assert lam.list_event_source_mappings(FunctionName=FUNCTION)["EventSourceMappings"] == []
    assert FUNCTION not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert TABLE not in aws("dynamodb").list_tables()["TableNames"]
