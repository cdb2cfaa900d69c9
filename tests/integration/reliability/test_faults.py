"""Issue 7.1: the setup + verify + teardown chain survives the sandbox's faults all at once, with no fixed sleeps.

Faults: 20 % of calls throttled, IAM roles unusable by Lambda for 8 s after each change, 3 s per event source
mapping state transition, and a LATEST mapping that starts polling 5 s after creation (records written before are
lost, so verify must probe again rather than wait longer). The seed makes a failing run replayable.

The second half scans roles/, playbooks/ and plugins/ for fixed sleeps: every wait in the collection must poll a
condition within a deadline, never just pass time.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterator

import yaml

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "playbooks" / "setup.yml"
TEARDOWN = ROOT / "playbooks" / "teardown.yml"

FAULTS = {"throttle": 0.2, "iam_propagation_delay": 8, "mapping_transition": 3, "poller_start_delay": 5, "seed": 7}


def test_setup_verify_and_teardown_pass_with_every_fault_on(sandbox, aws, run_playbook, rel, tmp_path):
    applied = sandbox.configure(**FAULTS)
    assert {k: applied[k] for k in FAULTS} == {k: float(v) if k != "seed" else v for k, v in FAULTS.items()}
    # The knobs must really bite, or this test proves nothing: calls made without retries get throttled.
    ddb = aws("dynamodb")
    throttled = 0
    for _attempt in range(40):
        try:
            ddb.list_tables()
        except ddb.exceptions.ClientError as exc:
            assert exc.response["Error"]["Code"] == "ThrottlingException", exc
            throttled += 1
    assert 2 <= throttled <= 20, f"{throttled}/40 calls throttled with throttle=0.2"

    setup = run_playbook(SETUP, {"streamops_verify_report_dir": str(tmp_path)}, timeout=900)
    rel.assert_ok(setup)
    report = json.loads((tmp_path / "users_post.json").read_text())
    assert report["passed"] is True, report
    assert {row["event"] for row in report["records"]} == {"INSERT", "MODIFY", "REMOVE"}

    # Read back with the faults still on: what setup reports must be what exists.
    found = rel.resources_with_retries(aws)
    table = rel.one(found, "stream", rel.TABLE)
    mapping = rel.one(found, "mapping", f"{rel.TABLE} -> {rel.FUNCTION}")
    assert table.detail["view_type"] == "NEW_AND_OLD_IMAGES"
    assert mapping.detail["EventSourceArn"] == table.detail["arn"]
    assert (mapping.detail["State"], mapping.detail["BatchSize"]) == ("Enabled", 100)

    teardown = run_playbook(TEARDOWN, timeout=900)
    rel.assert_ok(teardown)
    assert rel.names(rel.resources_with_retries(aws)) == []


# ----------------------------------------------------------------------------------------------------------------
# Fixed sleeps


SCANNED = ("roles", "playbooks", "plugins")
PAUSE = {"pause", "ansible.builtin.pause", "ansible.legacy.pause"}
WAIT_FOR = {"wait_for", "ansible.builtin.wait_for", "ansible.legacy.wait_for"}
SHELLS = {"command", "shell", "raw", "script", "ansible.builtin.command", "ansible.builtin.shell",
          "ansible.builtin.raw", "ansible.builtin.script", "ansible.legacy.command", "ansible.legacy.shell"}
# What wait_for can wait *for*; without any of these it just sleeps for `timeout` seconds.
WAIT_FOR_CONDITIONS = {"port", "path", "search_regex", "active_connection_states", "exclude_hosts"}
SHELL_SLEEP = re.compile(r"(?:^|[;&|(\s])sleep\s+[\d.$]")


class _AnsibleLoader(yaml.SafeLoader):
    """safe_load plus Ansible's !unsafe / !vault tags read as plain strings."""


_AnsibleLoader.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node)
                                     if isinstance(node, yaml.ScalarNode) else None)


def _args(value: Any) -> dict[str, Any]:
    """Module arguments as a dict; free-form `k=v` strings are split."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        return dict(re.findall(r"(\w+)=(\S+)", value))
    return {}


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def yaml_fixed_sleeps(text: str, where: str) -> list[str]:
    found = []
    for task in _walk(yaml.load(text, Loader=_AnsibleLoader)):
        name = task.get("name", "(unnamed)")
        for module in PAUSE & task.keys():
            args = _args(task[module])
            if {"seconds", "minutes"} & args.keys():
                found.append(f"{where}: task {name!r}: {module} with {sorted({'seconds', 'minutes'} & args.keys())}")
        for module in WAIT_FOR & task.keys():
            args = _args(task[module])
            if not WAIT_FOR_CONDITIONS & args.keys():
                found.append(f"{where}: task {name!r}: {module} without port/path/search_regex sleeps for its timeout")
            if str(args.get("delay", 0)) not in ("0", "0.0"):
                found.append(f"{where}: task {name!r}: {module} delay={args['delay']} sleeps before it checks")
        for module in SHELLS & task.keys():
            value = task[module]
            text_args = value if isinstance(value, str) else json.dumps(value)
            if SHELL_SLEEP.search(text_args):
                found.append(f"{where}: task {name!r}: {module} runs sleep")
    return found


def _time_aliases(tree: ast.AST) -> tuple[set[str], set[str]]:
    """Names bound to the time module and to time.sleep by imports anywhere in the module."""
    modules, sleeps = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name == "time"}
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            sleeps |= {a.asname or a.name for a in node.names if a.name == "sleep"}
    return modules, sleeps


def _is_time_sleep(expr: ast.AST, modules: set[str]) -> bool:
    return (isinstance(expr, ast.Attribute) and expr.attr == "sleep" and isinstance(expr.value, ast.Name)
            and expr.value.id in modules)


_DEADLINE_WORDS = re.compile(r"deadline|remaining|monotonic|timeout|expired", re.I)


def python_fixed_sleeps(source: str, where: str) -> list[str]:
    """time.sleep calls that are not a polling helper's wait: inside a loop of a function that keeps a deadline."""
    tree = ast.parse(source)
    modules, module_sleeps = _time_aliases(tree)
    found = []

    def visit(node: ast.AST, func: ast.AST | None, sleeps: set[str], in_loop: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            defaults = dict(zip([a.arg for a in args.args][len(args.args) - len(args.defaults):], args.defaults))
            defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
            # A parameter that defaults to time.sleep is a sleep (injectable for tests); any other shadows it.
            params = {a.arg for a in args.args + args.kwonlyargs}
            local = (sleeps - params) | {p for p, d in defaults.items() if _is_time_sleep(d, modules)}
            for child in ast.iter_child_nodes(node):
                visit(child, node, local, False)
            return
        if isinstance(node, ast.Call):
            f = node.func
            if _is_time_sleep(f, modules) or (isinstance(f, ast.Name) and f.id in sleeps):
                polled = False
                if func is not None and in_loop:
                    body = ast.unparse(func)
                    polled = bool(_DEADLINE_WORDS.search(body)) and bool(
                        _DEADLINE_WORDS.search(ast.unparse(node.args[0]) if node.args else ""))
                if not polled:
                    owner = getattr(func, "name", "<module>") if func is not None else "<module>"
                    found.append(f"{where}:{node.lineno}: {ast.unparse(node)} in {owner} is not bounded by a "
                                 "deadline inside a polling loop")
        loop = in_loop or isinstance(node, (ast.While, ast.For, ast.AsyncFor))
        for child in ast.iter_child_nodes(node):
            visit(child, func, sleeps, loop)

    visit(tree, None, module_sleeps, False)
    return found


def scan(root: Path) -> list[str]:
    found = []
    for top in SCANNED:
        for directory, dirs, files in sorted(os.walk(root / top, followlinks=True)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for file in sorted(files):
                path = Path(directory, file)
                where = str(path.relative_to(root))
                if path.suffix in (".yml", ".yaml"):
                    found += yaml_fixed_sleeps(path.read_text(encoding="utf-8"), where)
                elif path.suffix == ".py":
                    found += python_fixed_sleeps(path.read_text(encoding="utf-8"), where)
    return found


def test_no_fixed_sleeps_in_roles_playbooks_or_plugins():
    scanned = [p for top in SCANNED for p in (ROOT / top).rglob("*") if p.suffix in (".yml", ".yaml", ".py")]
    assert len(scanned) > 20, "the scan found almost nothing to read; wrong root?"
    assert scan(ROOT) == []


BAD_YAML = """
- name: settle
  ansible.builtin.pause:
    seconds: 10
- name: legacy pause
  pause: minutes=1
- name: sleep as wait_for
  ansible.builtin.wait_for:
    timeout: 8
- name: wait_for with a head start
  ansible.builtin.wait_for:
    port: 80
    delay: 5
- block:
    - name: shell sleep
      ansible.builtin.shell: "aws iam create-role ... && sleep 10"
"""

GOOD_YAML = """
- name: poll until ready
  amazon.aws.lambda_info:
    name: f
  register: r
  until: r.functions[0].state == 'Active'
  retries: 30
  delay: 2
- name: wait for a port
  ansible.builtin.wait_for:
    port: 4566
    timeout: 60
- name: prompt without a duration is not a fixed sleep
  ansible.builtin.pause:
    prompt: continue?
- name: a word that only contains sleep
  ansible.builtin.command: echo nosleep 5
"""

BAD_PY = '''
import time
from time import sleep as nap

def create(client):
    client.create()
    time.sleep(10)

def settle(items):
    for item in items:
        nap(1)

def hidden(sleep=time.sleep):
    while True:
        sleep(2)
'''

GOOD_PY = '''
import time

def poll_until(fn, timeout, sleep=time.sleep, clock=time.monotonic):
    deadline = clock() + timeout
    delay = 0.2
    while True:
        if fn():
            return
        remaining = deadline - clock()
        if remaining <= 0:
            raise TimeoutError()
        sleep(min(delay, remaining))

def other(sleep):
    return sleep  # a parameter without the time.sleep default is not a sleep
'''


def test_the_sleep_scanner_finds_each_kind_of_fixed_sleep():
    yaml_found = yaml_fixed_sleeps(BAD_YAML, "bad.yml")
    assert [f.split(": ", 2)[1] for f in yaml_found] == [
        "task 'settle'", "task 'legacy pause'", "task 'sleep as wait_for'", "task 'wait_for with a head start'",
        "task 'shell sleep'"], yaml_found
    assert yaml_fixed_sleeps(GOOD_YAML, "good.yml") == []

    py_found = python_fixed_sleeps(BAD_PY, "bad.py")
    assert [f.split(" in ")[-1].split()[0] for f in py_found] == ["create", "settle", "hidden"], py_found
    assert python_fixed_sleeps(GOOD_PY, "good.py") == []


def test_the_sleep_scanner_reports_a_sleep_planted_in_a_copy_of_the_collection(tmp_path):
    for top in SCANNED:
        shutil.copytree(ROOT / top, tmp_path / top, ignore=shutil.ignore_patterns("__pycache__"))
    assert scan(tmp_path) == scan(ROOT)
    planted = tmp_path / "roles" / "execution_role" / "tasks" / "zz_planted.yml"
    planted.write_text("- name: wait for IAM\n  ansible.builtin.pause:\n    seconds: 10\n")
    (tmp_path / "plugins" / "module_utils" / "zz_planted.py").write_text(
        "import time\n\n\ndef after_create_role():\n    time.sleep(8)\n")
    assert sorted(set(scan(tmp_path)) - set(scan(ROOT))) == [
        "plugins/module_utils/zz_planted.py:5: time.sleep(8) in after_create_role is not bounded by a deadline "
        "inside a polling loop",
        "roles/execution_role/tasks/zz_planted.yml: task 'wait for IAM': ansible.builtin.pause with ['seconds']"]
