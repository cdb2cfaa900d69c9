"""Every module's documentation and every role's argument spec renders with ansible-doc.

The lists come from the tree (plugins/modules/*.py, roles/*/meta/argument_specs.yml), so a new module or role is
checked without touching this file. ansible-doc runs once per kind (JSON and text), against the checkout's
collections/ link; a name that does not render is missing from the JSON (ansible-doc only warns and exits 0),
so each name is checked on its own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = "streamops.dynamodb_lambda"
ANSIBLE_DOC = str(Path(sys.executable).parent / "ansible-doc")

MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if not p.name.startswith("_"))
ROLE_SPECS = sorted((ROOT / "roles").glob("*/meta/argument_specs.yml"))
ROLES = [p.parents[1].name for p in ROLE_SPECS]


def _ansible_doc(plugin_type: str, names: list[str], *, as_json: bool) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # Resolve the collection from this checkout only (collections/ansible_collections/streamops/dynamodb_lambda
        # links back to the repository root), whatever is installed in ~/.ansible.
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "collections"),
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        # ansible-doc pages the text output when stdout is a terminal.
        "PAGER": "cat",
    }
    cmd = [ANSIBLE_DOC, "-t", plugin_type, *(["--json"] if as_json else []), *(f"{COLLECTION}.{n}" for n in names)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False)


@lru_cache(maxsize=None)
def _json(plugin_type: str, names: tuple[str, ...]) -> tuple[dict, str]:
    proc = _ansible_doc(plugin_type, list(names), as_json=True)
    try:
        data = json.loads(proc.stdout or "{}")
    except json.JSONDecodeError:
        data = {}
    return data, proc.stderr


@lru_cache(maxsize=None)
def _text(plugin_type: str, names: tuple[str, ...]) -> tuple[str, str, int]:
    proc = _ansible_doc(plugin_type, list(names), as_json=False)
    return proc.stdout, proc.stderr, proc.returncode


def _json_for(plugin_type: str, names: list[str], name: str) -> tuple[dict, str]:
    """The batch answer, or this name alone when the batch failed (one broken doc fails a whole batch)."""
    data, stderr = _json(plugin_type, tuple(names))
    if f"{COLLECTION}.{name}" not in data:
        data, stderr = _json(plugin_type, (name,))
    return data, stderr


def _text_for(plugin_type: str, names: list[str], name: str) -> tuple[str, str, int]:
    stdout, stderr, rc = _text(plugin_type, tuple(names))
    if rc != 0:
        stdout, stderr, rc = _text(plugin_type, (name,))
    return stdout, stderr, rc


def _errors_about(stderr: str, name: str) -> list[str]:
    """The [ERROR]/[WARNING] blocks of ansible-doc's stderr that mention this plugin or role."""
    blocks = re.split(r"(?=^\[(?:ERROR|WARNING|DEPRECATION WARNING)\])", stderr, flags=re.M)
    fqcn = re.compile(rf"{re.escape(COLLECTION)}\.{re.escape(name)}\b|/{re.escape(name)}(?:\.py|/meta)")
    return [b.strip() for b in blocks if b.strip() and fqcn.search(b)]


def test_the_tree_has_modules_and_roles() -> None:
    # Guards the globs: an empty parametrisation would pass silently.
    assert MODULES, "no plugins/modules/*.py found"
    assert ROLES, "no roles/*/meta/argument_specs.yml found"


@pytest.mark.parametrize("module", MODULES)
def test_module_doc_renders_as_json(module: str) -> None:
    data, stderr = _json_for("module", MODULES, module)
    fqcn = f"{COLLECTION}.{module}"
    assert fqcn in data, f"ansible-doc could not render {fqcn}:\n" + "\n".join(_errors_about(stderr, module))
    assert not _errors_about(stderr, module)
    doc = data[fqcn]["doc"]
    assert doc.get("short_description"), f"{fqcn}: no short_description"
    assert doc.get("version_added"), f"{fqcn}: no version_added"
    assert data[fqcn].get("examples"), f"{fqcn}: no EXAMPLES"
    assert data[fqcn].get("return"), f"{fqcn}: no RETURN"


@pytest.mark.parametrize("module", MODULES)
def test_module_doc_renders_as_text(module: str) -> None:
    stdout, stderr, rc = _text_for("module", MODULES, module)
    fqcn = f"{COLLECTION}.{module}"
    assert re.search(rf"^> MODULE {re.escape(fqcn)}\b", stdout, flags=re.M), (
        f"ansible-doc printed no page for {fqcn} (rc={rc}):\n" + "\n".join(_errors_about(stderr, module)))
    assert not _errors_about(stderr, module)


@pytest.mark.parametrize("role", ROLES)
def test_role_argument_spec_renders(role: str) -> None:
    data, stderr = _json_for("role", ROLES, role)
    fqcn = f"{COLLECTION}.{role}"
    assert fqcn in data, f"ansible-doc -t role could not render {fqcn}:\n" + "\n".join(_errors_about(stderr, role))
    assert not _errors_about(stderr, role)
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    expected = set((spec or {}).get("argument_specs") or {})
    rendered = set(data[fqcn].get("entry_points") or {})
    assert expected, f"roles/{role}/meta/argument_specs.yml declares no entry point"
    assert rendered == expected, f"{fqcn}: entry points rendered {sorted(rendered)}, declared {sorted(expected)}"
    for name, entry in data[fqcn]["entry_points"].items():
        assert entry.get("short_description"), f"{fqcn} entry point {name}: no short_description"


@pytest.mark.parametrize("role", ROLES)
def test_role_argument_spec_renders_as_text(role: str) -> None:
    stdout, stderr, rc = _text_for("role", ROLES, role)
    fqcn = f"{COLLECTION}.{role}"
    assert re.search(rf"^> ROLE: \*?{re.escape(fqcn)}\*?", stdout, flags=re.M), (
        f"ansible-doc -t role printed no page for {fqcn} (rc={rc}):\n" + "\n".join(_errors_about(stderr, role)))
    assert not _errors_about(stderr, role)


def test_aws_modules_are_exactly_the_action_group() -> None:
    # module_defaults: group/streamops.dynamodb_lambda.aws must reach every module that calls AWS, and no other
    # (a module outside AWS would reject the group's endpoint/region options).
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    group = [e for e in runtime["action_groups"]["aws"] if isinstance(e, str)]
    metadata = [e["metadata"] for e in runtime["action_groups"]["aws"] if isinstance(e, dict)]
    assert metadata == [{"extend_group": ["amazon.aws.aws"]}]
    aws_modules = sorted(m for m in MODULES
                         if "AnsibleAWSModule" in (ROOT / "plugins" / "modules" / f"{m}.py").read_text())
    assert sorted(group) == aws_modules
    assert len(group) == len(set(group)), "duplicate entries in the action group"
