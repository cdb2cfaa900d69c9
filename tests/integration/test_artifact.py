"""The collection as users get it: build the tarball, check what it carries, install it into a fresh collections
path, and run the setup and teardown playbooks by FQCN from there against the sandbox.

The checkout's own collections/ link and ansible.cfg must play no part: the playbooks run with a config of their
own whose only collections path is the fresh install (amazon.aws and community.aws come from the ansible package),
and ansible-doc proves with the same environment which copy of the collection resolves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
FQCN = f"{GALAXY['namespace']}.{GALAXY['name']}"

# Development machinery that must never ship (galaxy.yml build_ignore). Prefixes of member paths.
FORBIDDEN = ("sandbox/", "bench/", "tools/", "build/", "collections/", ".venv/", ".cache/", ".ansible/", ".ci/",
             ".pytest_cache/", "tests/output/", "tests/integration/sandbox/", "tests/unit/sandbox/")
FORBIDDEN_PARTS = ("__pycache__", ".molecule")

# Function names from the walkthrough's default pipeline (docs/design.md).
FUNCTION = "Lambda_demo_DynamoDB_stream"
TABLE = "users_post"


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False, **kwargs)


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("artifact")
    proc = _run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(ROOT)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    built = sorted(out.glob(f"{GALAXY['namespace']}-{GALAXY['name']}-*.tar.gz"))
    assert len(built) == 1, f"expected one tarball, got {built}"
    assert built[0].name == f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
    return built[0]


@pytest.fixture(scope="module")
def members(tarball: Path) -> list[str]:
    with tarfile.open(tarball) as tar:
        return [m.name.removeprefix("./") for m in tar.getmembers()]


def test_tarball_carries_no_development_machinery(members: list[str]) -> None:
    leaked = sorted(m for m in members
                    if any((m + "/").startswith(p) for p in FORBIDDEN)
                    or any(part in FORBIDDEN_PARTS for part in m.split("/"))
                    or m.endswith((".pyc", ".tar.gz")))
    assert not leaked, f"build_ignore in galaxy.yml lets these through: {leaked}"


def test_tarball_carries_the_content(members: list[str]) -> None:
    expected = {"MANIFEST.json", "FILES.json", "meta/runtime.yml", "README.md", "CHANGELOG.md",
                "changelogs/changelog.yaml", "playbooks/setup.yml", "playbooks/teardown.yml"}
    expected |= {str(p.relative_to(ROOT)) for p in (ROOT / "plugins").rglob("*.py") if "__pycache__" not in p.parts}
    expected |= {str(p.relative_to(ROOT)) for p in (ROOT / "roles").rglob("*") if p.is_file()
                 and "__pycache__" not in p.parts}
    expected |= {str(p.relative_to(ROOT)) for p in (ROOT / "files" / "lambda").rglob("*") if p.is_file()
                 and "__pycache__" not in p.parts}
    missing = sorted(expected - set(members))
    assert not missing, f"the tarball lacks: {missing}"


@pytest.fixture(scope="module")
def installed(tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A fresh collections path with the tarball installed, and the environment that uses it and nothing else."""
    base = tmp_path_factory.mktemp("installed")
    collections = base / "collections"
    config = base / "ansible.cfg"
    config.write_text(f"[defaults]\ncollections_path = {collections}\nretry_files_enabled = false\n")
    fresh = {
        # Overrides what run_playbook sets (the checkout's ansible.cfg with its collections/ link).
        "ANSIBLE_CONFIG": str(config),
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        # ~/.ansible/collections must not resolve it either.
        "ANSIBLE_HOME": str(base / "ansible-home"),
    }
    # The install must not see the checkout either: `make` exports ANSIBLE_CONFIG=<checkout>/ansible.cfg, whose
    # collections/ link makes ansible-galaxy answer "already installed" and install nothing (exit 0).
    proc = _run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "--no-deps",
                 "-p", str(collections), str(tarball)], cwd=base, env={**os.environ, **fresh})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed_at = collections / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]
    assert (installed_at / "MANIFEST.json").is_file(), proc.stdout + proc.stderr
    return {**fresh, "_INSTALLED_AT": str(installed_at)}


def test_install_resolves_the_fresh_copy_only(installed: dict[str, str]) -> None:
    env = {**os.environ, **installed}
    # Same working directory as run_playbook (the checkout), so a stray ./collections lookup would show here.
    proc = _run([str(BIN / "ansible-doc"), "--json", f"{FQCN}.dynamodb_stream"], cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)[f"{FQCN}.dynamodb_stream"]["doc"]
    assert Path(doc["filename"]).resolve().is_relative_to(Path(installed["_INSTALLED_AT"]).resolve()), doc["filename"]
    proc = _run([str(BIN / "ansible-galaxy"), "collection", "list", FQCN, "--format", "json"], cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    paths = [p for p, found in json.loads(proc.stdout).items() if FQCN in found]
    assert paths == [str(Path(installed["_INSTALLED_AT"]).parents[1])], paths
    manifest = json.loads((Path(installed["_INSTALLED_AT"]) / "MANIFEST.json").read_text())
    assert manifest["collection_info"]["version"] == GALAXY["version"]


def test_setup_then_teardown_by_fqcn_from_the_installed_artifact(installed, run_playbook, aws) -> None:
    env = {k: v for k, v in installed.items() if not k.startswith("_")}

    setup = run_playbook(f"{FQCN}.setup", None, env=env)
    print(f"setup (with verify) from the installed artifact: {setup.duration:.1f}s")  # type: ignore[attr-defined]
    assert setup.returncode == 0, setup.stdout[-6000:] + setup.stderr[-3000:]
    lam = aws("lambda")
    function = lam.get_function(FunctionName=FUNCTION)["Configuration"]
    mappings = lam.list_event_source_mappings(FunctionName=FUNCTION)["EventSourceMappings"]
    assert len(mappings) == 1 and mappings[0]["State"] == "Enabled", mappings
    table = aws("dynamodb").describe_table(TableName=TABLE)["Table"]
    assert table["StreamSpecification"]["StreamEnabled"] is True
    assert mappings[0]["EventSourceArn"] == table["LatestStreamArn"]
    assert mappings[0]["FunctionArn"] == function["FunctionArn"]

    teardown = run_playbook(f"{FQCN}.teardown", None, env=env)
    print(f"teardown from the installed artifact: {teardown.duration:.1f}s")  # type: ignore[attr-defined]
    assert teardown.returncode == 0, teardown.stdout[-6000:] + teardown.stderr[-3000:]
    assert lam.list_event_source_mappings(FunctionName=FUNCTION)["EventSourceMappings"] == []
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert FUNCTION not in names
    # setup created the table (table_create defaults to true), so teardown removes it.
    assert TABLE not in aws("dynamodb").list_tables()["TableNames"]
    assert not [r for r in aws("iam").list_roles()["Roles"] if r["RoleName"] == f"{FUNCTION}-role"]
