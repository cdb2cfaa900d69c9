"""The checkout's ansible.cfg gives a run from the clone a parsed inventory: no "No inventory was parsed" or
"provided hosts list is empty" warning on every ansible-playbook, and localhost behaves as ansible's implicit one
(local connection, the controller's Python, so this collection's modules still run in the controller's workers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = sorted((ROOT / "playbooks").glob("*.yml"))


def _list_hosts(playbook: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "--list-hosts", str(playbook)]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_playbooks_from_the_checkout_parse_an_inventory(tmp_path):
    # From another directory too: ansible.cfg resolves its relative paths against its own location.
    for cwd in (ROOT, tmp_path):
        for playbook in PLAYBOOKS:
            proc = _list_hosts(playbook, cwd)
            assert proc.returncode == 0, proc.stderr
            output = proc.stdout + proc.stderr
            assert "No inventory was parsed" not in output, output
            assert "provided hosts list is empty" not in output, output


def test_the_inventory_is_localhost_as_the_implicit_one():
    inventory = yaml.safe_load((ROOT / "inventory.yml").read_text())
    assert inventory == {"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}
